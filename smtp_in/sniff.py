"""An attachment's real content type, from its bytes (the `filetype` library's signatures)."""

from __future__ import annotations

import filetype

# Bytes without a known signature: text if they read as text, else opaque.
_TEXT_PROBE = 8192
_TEXT_CONTROLS = b"\t\n\f\r\x1b"
_PRINTABLE = bytes(range(32, 256))


def real_type(data: bytes, declared: str) -> str:
    """The sniffed type; without a signature, text keeps a declared text/* or message/* type
    (else "text/plain"), and anything else is "application/octet-stream"."""
    guess = filetype.guess_mime(data[:_TEXT_PROBE]) if data else None
    if guess:
        return str(guess)
    # Text in any 8-bit charset (UTF-8, ISO-8859-1) has no control bytes but these.
    if data[:_TEXT_PROBE].translate(None, _TEXT_CONTROLS).translate(None, _PRINTABLE):
        return "application/octet-stream"
    declared = declared.lower()
    return declared if declared.startswith(("text/", "message/")) else "text/plain"
