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
from typing import Protocol

import pybase64

from crypto._cms_types import SmimeError, SmimeFailure

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_PKCS7_MIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_PKCS7_SIGNATURE = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
# A line ending in LF without CR before it; searching for it is one pass and about twice as fast
# as comparing `count(b"\n")` with `count(b"\r\n")` on typical mail.
_BARE_LF = re.compile(rb"\n(?<!\r\n)")

# The header fast path accepts only what compat32 reads unambiguously; anything else (folding
# inside a value, comments, RFC 2231 names, backslashes, non-ASCII, bare CR, lines the parser
# would take as the start of the body) goes to the `email` parser, so both always agree.
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_WSP = r"[ \t\r\n]*"
_WORD = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"  # an RFC 2045 token
# Unquoted parameter values as clients write them (protocol=application/pkcs7-signature,
# boundary=----=_Part_1), which compat32 returns as they are.
_LOOSE_WORD = r"[!#$%&'*+\-./0-9:=?@A-Z\[\]^_`a-z{|}~,]+"
_PARAMETER = re.compile(
    rf"{_WSP};{_WSP}([!#$&'+\-.0-9A-Z^_`a-z{{|}}~]+){_WSP}={_WSP}"
    rf"({_LOOSE_WORD}|\"[^\"\\<>;\r\n]*\"){_WSP}"
)
_CONTENT_TYPE = re.compile(rf"{_WSP}({_WORD}/{_WORD}){_WSP}")
_PARAMETER_END = re.compile(rf"{_WSP}(?:;{_WSP})?")


class _Headers(Protocol):
    """The part of a compat32 `email.message.Message` that the S/MIME layers read."""

    def get_content_type(self) -> str: ...

    def get_param(self, param: str) -> object: ...

    def get_boundary(self) -> str | None: ...

    def get(self, name: str, failobj: str) -> object: ...


@dataclass(frozen=True)
class _SimpleHeaders:
    """Content-Type and Content-Transfer-Encoding as compat32 would return them."""

    content_type: str
    parameters: dict[str, str]  # lower-cased name -> unquoted value, first occurrence wins
    transfer_encoding: str | None  # the raw header value, None when absent

    def get_content_type(self) -> str:
        return self.content_type

    def get_param(self, param: str) -> object:
        return self.parameters.get(param.lower())

    def get_boundary(self) -> str | None:
        boundary = self.parameters.get("boundary")
        return None if boundary is None else boundary.rstrip()

    def get(self, name: str, failobj: str) -> object:
        if name.lower() != "content-transfer-encoding":
            raise KeyError(name)  # only the header above is kept
        return failobj if self.transfer_encoding is None else self.transfer_encoding


@dataclass(frozen=True)
class _ParsedHeaders:
    """The `email` parser's view, for header blocks the fast path leaves to it."""

    message: Message

    def get_content_type(self) -> str:
        return self.message.get_content_type()

    def get_param(self, param: str) -> object:
        return self.message.get_param(param)

    def get_boundary(self) -> str | None:
        return self.message.get_boundary()

    def get(self, name: str, failobj: str) -> object:
        return self.message.get(name, failobj)


def _field_values(header_block: bytes) -> tuple[str | None, str | None] | None:
    """Raw compat32 values of Content-Type and Content-Transfer-Encoding (first of each).

    None when the block holds anything the fast path does not handle exactly like the parser.
    """
    if header_block.count(b"\r") != header_block.count(b"\r\n"):
        return None  # the parser also ends lines at a bare CR
    wanted: dict[bytes, list[bytes]] = {}
    current: list[bytes] | None = None
    lines = header_block.split(b"\n") if header_block else []
    for number, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            if number == 0:
                return None  # a first line that is a continuation
            if current is not None:
                current.append(line)
            continue
        name = _FIELD_NAME.match(line)
        if name is None:
            return None  # the parser would end the headers here (or see a From_ line)
        key = line[: name.end() - 1].lower()
        current = None
        if key in (b"content-type", b"content-transfer-encoding") and key not in wanted:
            current = wanted[key] = [line[name.end() :]]
    values: list[str | None] = []
    for key in (b"content-type", b"content-transfer-encoding"):
        value_lines = wanted.get(key)
        if value_lines is None:
            values.append(None)
            continue
        # compat32: value after the colon without leading blanks, continuation lines with
        # their line breaks, trailing line breaks removed.
        raw = b"\n".join(value_lines).lstrip(b" \t").rstrip(b"\r\n")
        if not raw.isascii():
            return None  # compat32 would hand out a Header object
        values.append(raw.decode("ascii"))
    return values[0], values[1]


def _simple_headers(header_block: bytes) -> _SimpleHeaders | None:
    fields = _field_values(header_block)
    if fields is None:
        return None
    content_type, transfer_encoding = fields
    if content_type is None:
        return _SimpleHeaders("text/plain", {}, transfer_encoding)
    match = _CONTENT_TYPE.match(content_type)
    if match is None:
        return None
    parameters: dict[str, str] = {}
    position = match.end()
    while parameter := _PARAMETER.match(content_type, position):
        value = parameter.group(2)
        parameters.setdefault(parameter.group(1).lower(), value.strip('"'))
        position = parameter.end()
    end = _PARAMETER_END.match(content_type, position)
    if end is None or end.end() != len(content_type):
        return None
    return _SimpleHeaders(match.group(1).lower(), parameters, transfer_encoding)


@dataclass(frozen=True)
class Entity:
    """A MIME entity: its parsed headers and where its raw (still encoded) body starts.

    The body is not sliced out: on a large message every copy costs, and most users only
    search or decode it in place.
    """

    headers: _Headers
    data: bytes
    body_start: int

    @property
    def body(self) -> bytes:
        return self.data[self.body_start :]

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

    Mail that arrived over SMTP already is, so search first (no copy) and rewrite only when
    some line ends in a bare LF: two replaces cost milliseconds on a large message.
    """
    if _BARE_LF.search(data) is None:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def split_entity(data: bytes) -> Entity:
    """Split an entity at its first blank line and parse only the header block."""
    if data.startswith((b"\r\n", b"\n")):
        header_block, body_start = b"", 2 if data.startswith(b"\r\n") else 1
    else:
        match = _HEADER_END.search(data)
        if match is None:
            header_block, body_start = data, len(data)
        else:
            header_block, body_start = data[: match.start()], match.end()
    headers: _Headers | None = _simple_headers(header_block)
    if headers is None:
        # compat32 parses only what is asked for; policy.default's header registry costs
        # ~1 ms a message here, and these headers (Content-Type and its parameters) need none.
        message = BytesHeaderParser(policy=compat32).parsebytes(header_block + b"\r\n\r\n")
        headers = _ParsedHeaders(message)
    return Entity(headers, data, body_start)


def decode_body(entity: Entity) -> bytes:
    """Undo the content-transfer-encoding of a CMS body (base64, or binary as-is)."""
    encoding = str(entity.headers.get("content-transfer-encoding", "")).strip().lower()
    if encoding in ("", "binary", "8bit", "7bit"):
        return entity.body
    if encoding != "base64":
        raise SmimeError(SmimeFailure.MALFORMED, "unsupported transfer encoding for CMS")
    # Non-validating decoding skips line breaks in C (4x faster than removing them first).
    # Stray characters it skips cannot smuggle anything in: what decodes must still parse as
    # CMS and then decrypt and verify. The view spares a copy of the whole body.
    try:
        return pybase64.b64decode(memoryview(entity.data)[entity.body_start :], validate=False)
    except (binascii.Error, ValueError) as exc:
        raise SmimeError(SmimeFailure.MALFORMED, "invalid base64 in CMS body") from exc


@dataclass(frozen=True)
class Delimiter:
    part_end: int  # where the preceding part ends (the line break before the delimiter)
    next_start: int  # first byte after the delimiter line
    closing: bool


def delimiters(data: bytes, start: int, boundary: bytes, limit: int) -> list[Delimiter]:
    """The boundary delimiter lines of a multipart, up to the closing one or `limit` of them.

    The multipart body is `data[start:]`; positions returned are indexes into `data`. A part
    lies between one delimiter's `next_start` and the next one's `part_end`.
    """
    marker = b"--" + boundary
    found: list[Delimiter] = []
    position = start
    while len(found) < limit:
        if position == start and data.startswith(marker, start):
            line_start = start
        else:
            hit = data.find(b"\n" + marker, position)
            if hit < 0:
                break
            line_start = hit + 1
        after = line_start + len(marker)
        line_end = data.find(b"\n", after)
        line_end = len(data) if line_end < 0 else line_end
        rest = data[after:line_end].rstrip(b" \t\r")
        position = after
        closing = rest == b"--"
        if rest and not closing:
            continue  # a longer line that merely starts with the boundary text
        if line_start == start:
            part_end = start
        else:
            part_end = line_start - 1
            if part_end > start and data[part_end - 1] == 0x0D:  # CR
                part_end -= 1
        found.append(Delimiter(part_end, min(line_end + 1, len(data)), closing))
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
    data = entity.data
    found = delimiters(data, entity.body_start, boundary_bytes, limit=3)
    if len(found) != 3 or found[0].closing or found[1].closing or not found[2].closing:
        raise SmimeError(SmimeFailure.MALFORMED, "multipart/signed must have exactly two parts")
    opening, separator, closing = found
    signed = data[opening.next_start : separator.part_end]
    signature = split_entity(data[separator.next_start : closing.part_end])
    if signature.content_type not in _PKCS7_SIGNATURE:
        raise SmimeError(SmimeFailure.MALFORMED, "second part is not a pkcs7-signature")
    return canonical_crlf(signed), signature
