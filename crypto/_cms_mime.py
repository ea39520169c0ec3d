"""Byte-level MIME handling for S/MIME layers: just enough to find and extract the CMS blobs.

Messages can be 25 MB, so the `email` package only ever sees a header block; bodies are sliced
and base64-decoded here directly. For multipart/signed the signed bytes must be exactly the
bytes the sender signed, so the first part is cut out at the boundary lines and only its line
endings are canonicalised (RFC 8551 section 3.1.1); it is never re-serialised.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from functools import cached_property

import pybase64

from crypto._cms_types import SmimeError, SmimeFailure

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_PKCS7_MIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_PKCS7_SIGNATURE = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})


@dataclass(frozen=True)
class Entity:
    """A MIME entity split into its parsed headers and its raw (still encoded) body."""

    headers: Message
    body: bytes

    @cached_property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    @property
    def is_cms(self) -> bool:
        return self.content_type in _PKCS7_MIME

    @property
    def is_smime_multipart_signed(self) -> bool:
        if self.content_type != "multipart/signed":
            return False
        protocol = self.headers.get_param("protocol")
        # A multipart/signed for another protocol (PGP/MIME) is not ours to verify.
        return isinstance(protocol, str) and protocol.strip().lower() in _PKCS7_SIGNATURE


def canonical_crlf(data: bytes) -> bytes:
    """Return `data` with every line ending as CRLF.

    Mail that arrived over SMTP already is, so count first (no copy) and rewrite only when
    some line ends in a bare LF: two replaces cost milliseconds on a large message.
    """
    if data.count(b"\n") == data.count(b"\r\n"):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def split_entity(data: bytes) -> Entity:
    """Split an entity at its first blank line and parse only the header block."""
    if data.startswith((b"\r\n", b"\n")):
        header_block, body = b"", data[2 if data.startswith(b"\r\n") else 1 :]
    else:
        match = _HEADER_END.search(data)
        if match is None:
            header_block, body = data, b""
        else:
            header_block, body = data[: match.start()], data[match.end() :]
    # compat32 parses only what is asked for; policy.default's header registry costs ~1 ms a
    # message here, and these headers (Content-Type and its parameters) need none of it.
    headers = BytesHeaderParser(policy=compat32).parsebytes(header_block + b"\r\n\r\n")
    return Entity(headers, body)


def decode_body(entity: Entity) -> bytes:
    """Undo the content-transfer-encoding of a CMS body (base64, or binary as-is)."""
    encoding = str(entity.headers.get("content-transfer-encoding", "")).strip().lower()
    if encoding in ("", "binary", "8bit", "7bit"):
        return entity.body
    if encoding != "base64":
        raise SmimeError(SmimeFailure.MALFORMED, "unsupported transfer encoding for CMS")
    # Non-validating decoding skips line breaks in C (4x faster than removing them first).
    # Stray characters it skips cannot smuggle anything in: what decodes must still parse as
    # CMS and then decrypt and verify.
    try:
        return pybase64.b64decode(entity.body, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise SmimeError(SmimeFailure.MALFORMED, "invalid base64 in CMS body") from exc


@dataclass(frozen=True)
class _Delimiter:
    part_end: int  # where the preceding part ends (the line break before the delimiter)
    next_start: int  # first byte after the delimiter line
    closing: bool


def _delimiters(body: bytes, boundary: bytes) -> list[_Delimiter]:
    """Find the first three boundary delimiter lines (open, separator, close) of a multipart."""
    marker = b"--" + boundary
    found: list[_Delimiter] = []
    position = 0
    while len(found) < 3:
        if position == 0 and body.startswith(marker):
            line_start = 0
        else:
            hit = body.find(b"\n" + marker, position)
            if hit < 0:
                break
            line_start = hit + 1
        after = line_start + len(marker)
        line_end = body.find(b"\n", after)
        line_end = len(body) if line_end < 0 else line_end
        rest = body[after:line_end].rstrip(b" \t\r")
        position = after
        closing = rest == b"--"
        if rest and not closing:
            continue  # a longer line that merely starts with the boundary text
        if line_start == 0:
            part_end = 0
        else:
            part_end = line_start - 1
            if part_end > 0 and body[part_end - 1 : part_end] == b"\r":
                part_end -= 1
        found.append(_Delimiter(part_end, min(line_end + 1, len(body)), closing))
        if closing:
            break
    return found


def split_multipart_signed(entity: Entity) -> tuple[bytes, Entity]:
    """Return (exact signed bytes with CRLF endings, the signature entity)."""
    boundary = entity.headers.get_boundary()
    if not boundary:
        raise SmimeError(SmimeFailure.MALFORMED, "multipart/signed without boundary")
    try:
        boundary_bytes = boundary.encode("ascii")
    except UnicodeEncodeError as exc:
        raise SmimeError(SmimeFailure.MALFORMED, "non-ASCII multipart boundary") from exc
    delimiters = _delimiters(entity.body, boundary_bytes)
    if (
        len(delimiters) != 3
        or delimiters[0].closing
        or delimiters[1].closing
        or not delimiters[2].closing
    ):
        raise SmimeError(SmimeFailure.MALFORMED, "multipart/signed must have exactly two parts")
    opening, separator, closing = delimiters
    signed = entity.body[opening.next_start : separator.part_end]
    signature = split_entity(entity.body[separator.next_start : closing.part_end])
    if signature.content_type not in _PKCS7_SIGNATURE:
        raise SmimeError(SmimeFailure.MALFORMED, "second part is not a pkcs7-signature")
    return canonical_crlf(signed), signature
