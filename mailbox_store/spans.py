"""Attachments kept as spans of the stored original instead of a second, decoded copy.

A clerk's file usually travels as a strict base64 body inside the signed entity that the store
keeps anyway as evidence. Writing the decoded file as well would double what every delivery
writes (and fsyncs) for the largest part of the mail. So when extraction found such a body, the
attachment row records where it lies in the original, and reading decodes it from there with
the very function extraction used, which gives back the same bytes.
"""

from __future__ import annotations

import pybase64

__all__ = ["strict_base64", "decode_span"]


def strict_base64(joined: bytes) -> bytes:
    """Decode base64 with its line breaks removed; ValueError/binascii.Error if not strict.

    A body cut short of its padding is padded first, as the email package does.
    """
    missing = len(joined) % 4
    padded = joined + b"==="[: 4 - missing] if missing else joined
    # pybase64's strict mode accepts a subset of what base64.b64decode(validate=True) does,
    # with the same result.
    return pybase64.b64decode(padded, validate=True)


def decode_span(original: bytes, start: int, end: int) -> bytes:
    """The file whose strict base64 body is original[start:end]."""
    return strict_base64(original[start:end].translate(None, b"\r\n"))
