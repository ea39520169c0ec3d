"""Unpack Outlook's TNEF (``winmail.dat``) into plain files and an optional body.

tnefparse does the decoding; this module is the boundary around it.  It converts every
tnefparse failure into :class:`TnefError`, and before handing bytes to tnefparse it walks the
stream's structure once to refuse inputs that would make tnefparse loop for billions of
iterations (its MAPI decoder trusts 32-bit element counts) or copy the stream quadratically
(it slices the remaining data once per object).  The walk mirrors tnefparse's own reading
order, so it refuses nothing that tnefparse would decode sensibly.

Pure and picklable: no I/O, no logging of ours.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tnefparse.tnef import TNEF

__all__ = ["TnefContent", "TnefError", "TnefFile", "unpack_tnef"]

_SIGNATURE = 0x223E9F78
_LVL_ATTACHMENT = 0x02
_ATT_MAPI_PROPS = 0x9003
_ATT_RECIP_TABLE = 0x9004
_ATT_ATTACHMENT = 0x9005
_MAPI_ATTACH_DATA_OBJ = 0x3701
_MAPI_ATTACH_MIME_TAG = 0x370E
_IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MULTI_VALUE = 0x1000
_GUID_EXISTS = 0x8000
_FIXED_SIZES = {
    0x0002: 2, 0x000B: 2,                                  # short, boolean
    0x0003: 4, 0x0004: 4, 0x000A: 4,                       # int, float, error
    0x0005: 8, 0x0006: 8, 0x0007: 8, 0x0014: 8, 0x0040: 8,  # 8-byte scalars
    0x0048: 16,                                            # CLSID
}
_VARIABLE_TYPES = {0x0000, 0x000D, 0x001E, 0x001F, 0x0102}

# Real Outlook streams have a handful of objects per attachment; these bounds leave room
# for a few hundred attachments while keeping tnefparse's slicing cost far below a second.
_MAX_OBJECTS = 4000
_MAX_SLICED_BYTES = 512 * 1024 * 1024
_MAX_EMBED_DEPTH = 4

_u16 = struct.Struct("<H").unpack_from
_u32 = struct.Struct("<I").unpack_from


class TnefError(Exception):
    """The stream is not TNEF tnefparse can decode safely.  The text never quotes content."""


@dataclass(frozen=True)
class TnefFile:
    """One file carried inside the TNEF stream, with its name as Outlook recorded it."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class TnefContent:
    """What the stream carries: its files and, if any, the message body Outlook put in it."""

    files: tuple[TnefFile, ...]
    body: str | None
    html: str | None


def unpack_tnef(data: bytes) -> TnefContent:
    """Decode a TNEF stream; raise :class:`TnefError` if it is not safely decodable."""
    try:
        _check_stream(data, depth=0)
        # Checksums add nothing here: the whole message was signature-verified upstream.
        tnef = TNEF(data, do_checksum=False)
        files = tuple(
            TnefFile(
                name=_text(attachment.long_filename()),
                content_type=_mime_tag(attachment.mapi_attrs),
                data=bytes(attachment.data),
            )
            for attachment in tnef.attachments
            if attachment.data
        )
        return TnefContent(files=files, body=_body(tnef.body), html=_body(tnef.htmlbody))
    except TnefError:
        raise
    except Exception as exc:  # tnefparse raises anything from struct.error to LookupError
        raise TnefError(f"undecodable TNEF ({type(exc).__name__})") from exc


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00")
    return str(value).strip("\x00")


def _body(value: object) -> str | None:
    if not value:
        return None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8").strip("\x00")
        except UnicodeDecodeError:
            return value.decode("cp1252", errors="replace").strip("\x00")
    return str(value).strip("\x00")


def _mime_tag(attrs: list[object]) -> str:
    for attr in attrs:
        if getattr(attr, "name", None) == _MAPI_ATTACH_MIME_TAG:
            tag = _text(getattr(attr, "data", "")).strip().lower()
            if "/" in tag and len(tag) < 128:
                return tag
    return "application/octet-stream"


def _check_stream(data: bytes, depth: int) -> None:
    """Walk the objects the way ``TNEF.__init__`` does and bound the work it would do."""
    if depth > _MAX_EMBED_DEPTH:
        raise TnefError("TNEF messages embedded too deeply")
    if len(data) < 6 or _u32(data, 0)[0] != _SIGNATURE:
        raise TnefError("not a TNEF stream")
    offset, objects, sliced = 6, 0, 0
    while offset + 12 < len(data):
        objects += 1
        sliced += len(data) - offset
        if objects > _MAX_OBJECTS or sliced > _MAX_SLICED_BYTES:
            raise TnefError("TNEF stream has too many objects")
        level = data[offset]
        name = _u16(data, offset + 1)[0]
        length = min(len(data) - offset, _u32(data, offset + 5)[0] + 11)
        body = data[offset + 9 : offset + length - 2]
        offset += length
        if level == _LVL_ATTACHMENT:
            if name == _ATT_ATTACHMENT:
                _check_mapi(body, 0, depth)
        elif name == _ATT_MAPI_PROPS:
            _check_mapi(body, 0, depth)
        elif name == _ATT_RECIP_TABLE and len(body) >= 4:
            rows = _u32(body, 0)[0]
            _check_count(rows, len(body), 4)
            row_offset = 4
            for _ in range(rows):
                if row_offset + 4 > len(body):
                    break  # tnefparse fails here, which the boundary reports
                row_offset = _check_mapi(body, row_offset, depth)


def _check_count(count: int, remaining: int, min_size: int) -> None:
    """Refuse an element count that the bytes left could not possibly hold."""
    if count > remaining // min_size + 1:
        raise TnefError("TNEF element count exceeds its data")


def _check_mapi(data: bytes, offset: int, depth: int) -> int:
    """Mirror ``tnefparse.mapi.decode_mapi``; return where it would stop reading."""
    try:
        count = _u32(data, offset)[0]
        offset += 4
        _check_count(count, len(data) - offset, 4)
        for _ in range(count):
            if offset >= len(data):
                break
            attr_type, attr_name = _u16(data, offset)[0], _u16(data, offset + 2)[0]
            offset += 4
            if attr_name >= _GUID_EXISTS:
                offset += 16
                kind = _u32(data, offset)[0]
                offset += 4
                if kind == 0:
                    offset += 4
                else:
                    offset += 4 + _padded(_u32(data, offset)[0])
            values, multi = 1, False
            if attr_type & _MULTI_VALUE:
                attr_type ^= _MULTI_VALUE
                values = _u32(data, offset)[0]
                offset += 4
                _check_count(values, len(data) - offset, 2)
                # decode_mapi reads a zero count as one value that carries its own count.
                values, multi = max(values, 1), values > 0
            for _ in range(values):
                offset = _check_property(data, offset, attr_type, attr_name, multi, depth)
            if values % 2 and attr_type in (0x0002, 0x000B):
                offset += 2
    except struct.error:
        pass  # decode_mapi stops at the same point and keeps what it has
    return offset


def _check_property(
    data: bytes, offset: int, attr_type: int, attr_name: int, multi: bool, depth: int
) -> int:
    """Mirror ``tnefparse.mapi.parse_property``; recurse into embedded messages."""
    if attr_type in _FIXED_SIZES:
        return offset + _FIXED_SIZES[attr_type]
    if attr_type not in _VARIABLE_TYPES:
        raise struct.error("unknown MAPI type")  # decode_mapi gives up here too
    items = 1
    if not multi:
        items = _u32(data, offset)[0]
        offset += 4
        _check_count(items, len(data) - offset, 4)
    parts = []
    for _ in range(items):
        size = _padded(_u32(data, offset)[0])
        offset += 4
        parts.append(data[offset : offset + size])
        offset += size
    if attr_name == _MAPI_ATTACH_DATA_OBJ:
        # tnefparse joins the items with trailing NULs stripped and parses that as TNEF.
        joined = b"".join(part.rstrip(b"\x00") for part in parts)
        if joined.startswith(_IMESSAGE_SIG):
            _check_stream(joined[len(_IMESSAGE_SIG) :], depth + 1)
    return offset


def _padded(size: int) -> int:
    return size + (-size % 4)
