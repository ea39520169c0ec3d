"""Header values for attachment downloads: Content-Disposition and a checked Content-Type.

File names and content types come from clerks' mail, so they are untrusted: a name may carry
path separators, control characters or quotes, and a type may be malformed. Both are reduced
here to values that cannot break or extend the HTTP header they go into.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

FALLBACK_FILENAME = "attachment"
FALLBACK_CONTENT_TYPE = "application/octet-stream"

# RFC 6838 type/subtype names, optionally followed by simple parameters such as a charset.
_NAME = r"[A-Za-z0-9!#$&^_.+-]+"
_PARAMETER = rf"\s*;\s*{_NAME}=(\"[ -~]*\"|{_NAME})"
_CONTENT_TYPE = re.compile(rf"{_NAME}/{_NAME}({_PARAMETER})*")
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._ ()+-]+")
# RFC 8187 attr-char minus the letters and digits that quote() keeps anyway.
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"


def _base_name(filename: str) -> str:
    # Keep only the last path component and drop control characters.
    name = re.split(r"[\\/]", filename)[-1]
    return "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()


def content_disposition(filename: str) -> str:
    """Return `attachment` with an ASCII fallback name and the RFC 6266 UTF-8 `filename*`."""
    name = _base_name(filename) or FALLBACK_FILENAME
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name).strip(" ._") or FALLBACK_FILENAME
    encoded = quote(name, safe=_ATTR_CHAR_SAFE)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


def safe_content_type(content_type: str) -> str:
    """Return the stored content type if well formed, else application/octet-stream."""
    value = content_type.strip()
    return value if _CONTENT_TYPE.fullmatch(value) else FALLBACK_CONTENT_TYPE
