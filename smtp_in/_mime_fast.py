"""Byte-level MIME splitting: the fast path of :func:`smtp_in.extract.extract`.

The email package's feedparser walks every line in Python, and its default policy builds a
header object for every header it is asked about; on the SMTP DATA hot path that costs
milliseconds a message.  This module reads plainly well-formed MIME at byte level instead: it
finds the header/body separator and the multipart delimiter lines (RFC 2046 s5.1.1) with
``bytes.find``, parses only the headers extract looks at, and decodes base64 with pybase64.

It reads a message exactly as the feedparser (with ``policy.default``) would, or declines:
:func:`split` and :func:`header_fields` return None for anything whose reading they cannot
show to be the same, and extract then uses the email package.  The parts are messages with
the compat32 policy (which hands header values back as stored) holding, for each Content-*
field, the very string ``policy.default`` presents for it; so the Message methods extract
calls (get_content_type, get_param, get_filename, ...) answer the same on both paths.

What declines: no or an empty boundary, a missing start or close delimiter, two delimiter
lines in a row, message/* and multipart/digest parts, uuencode, nesting or part counts past
extract's limits, a header block that is not plain ``name: value`` lines (or is over 64 KiB),
and a line break other than the entity's own (CRLF or LF) anywhere a stray one could move a
line boundary: in header blocks, and inside multiparts everywhere except in a base64 body
that decodes strictly (such a body holds no ``-``, so it cannot hide a delimiter line).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from email import policy
from email.message import EmailMessage

from mailbox_store.spans import strict_base64

__all__ = ["FastPart", "header_fields", "split"]

_DEFAULT = policy.default
_MIME_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
# The top-level headers extract reads through raw_items(), kept exactly as the feedparser
# stores them (folded, 8-bit bytes as surrogates).
_TOP_HEADERS = frozenset({"subject", "from", "message-id", "in-reply-to", "references"})
_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_MAX_HEADER_BLOCK = 64 * 1024
_TOLERANT_CHARSETS = frozenset(
    {"ascii", "us-ascii", "utf-8", "utf8", "iso-8859-1", "latin-1", "iso-8859-15", "cp1252",
     "windows-1252"}
)

# The feedparser's header line (its headerRE) minus the forms it treats specially: a unix
# "From " line and a line with an empty field name.
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+(?=:)")
_CTE = re.compile(r"[A-Za-z0-9-]+")
# Parameter values the default policy's parser gives back unchanged: a token without the
# characters that start RFC 2231 syntax, or a quoted string without escapes.  Anything else
# (comments, RFC 2231, encoded words, 8-bit bytes) is parsed by the policy itself.
_ATTRIBUTE = r"[!#$&+\-.^_`{|}~0-9A-Za-z]+"
_VALUE = r"[!#$%&+\-.^_`{|}~0-9A-Za-z]+"
_MIME_TYPE_CHARS = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
_PARAMETER = re.compile(rf";[ \t]*({_ATTRIBUTE})=(?:({_VALUE})|\"([ !#-\[\]-~]*)\")[ \t]*")
_END = re.compile(r";?[ \t]*")
_LEADS = {
    "content-type": re.compile(rf"[ \t]*{_MIME_TYPE_CHARS}/{_MIME_TYPE_CHARS}[ \t]*"),
    "content-disposition": re.compile(rf"[ \t]*{_MIME_TYPE_CHARS}[ \t]*"),
}


class _Decline(Exception):
    """The input is not plainly well-formed: only the email package may read it."""


class FastPart(EmailMessage):
    """One entity of the split message: Content-* headers as policy.default shows them and,
    for a leaf, the body with its transfer encoding undone (what get_payload(decode=True)
    returns on the slow path)."""

    def __init__(self) -> None:
        super().__init__(policy.compat32)
        self.data = b""
        # Where a strict base64 body lies in the split bytes: the stored original can then
        # stand in for a second, decoded copy of the file (see mailbox_store.spans).
        self.span: tuple[int, int] | None = None


def split(content: bytes, max_depth: int, max_parts: int) -> FastPart | None:
    """The entity as a tree of FastParts, or None when the email package must read it."""
    newline = content.find(b"\n")
    if newline < 0:
        return None
    eol = b"\r\n" if newline > 0 and content[newline - 1] == 0x0D else b"\n"
    try:
        return _Splitter(content, eol, max_depth, max_parts).entity(0, len(content), 0, ())
    except _Decline:
        return None


def header_fields(block: bytes) -> FastPart | None:
    """A header-only entity for a header block (as parsed with headersonly=True), or None."""
    newline = block.find(b"\n")
    eol = b"\r\n" if newline > 0 and block[newline - 1] == 0x0D else b"\n"
    if block.startswith(eol):
        end = 0
    else:
        end = block.find(eol + eol)
        if end < 0:  # no blank line: every line is a header line
            end = len(block) - len(eol) if block.endswith(eol) else len(block)
    part = FastPart()
    if end and not _plain(block, 0, end, eol):
        return None
    try:
        fields = _fields(block[:end], eol) if end else []
    except _Decline:
        return None
    for name, value in fields:
        if name.lower() in _TOP_HEADERS:
            part.set_raw(name, value)
    return part


class _Splitter:
    """Splits one entity; every method raises _Decline rather than guess."""

    def __init__(self, source: bytes, eol: bytes, max_depth: int, max_parts: int) -> None:
        self.source = source
        self.eol = eol
        self.max_depth = max_depth
        self.max_parts = max_parts
        self.parts = 0

    def entity(self, start: int, end: int, depth: int, boundaries: tuple[bytes, ...]) -> FastPart:
        # Past the limits extract's walk refuses the message; let the slow path say so.
        self.parts += 1
        if self.parts > self.max_parts or depth > self.max_depth:
            raise _Decline
        part = FastPart()
        body = self._headers(part, start, end, top=depth == 0)
        maintype = part.get_content_maintype()
        if maintype == "message":
            raise _Decline  # enclosed messages: their encodings and fragments need `email`
        if maintype == "multipart":
            self._multipart(part, body, end, depth, boundaries)
        else:
            self._leaf(part, body, end, nested=bool(boundaries))
        return part

    def _headers(self, part: FastPart, start: int, end: int, top: bool) -> int:
        """Store the wanted header fields; return where the body starts."""
        source, eol = self.source, self.eol
        if source.startswith(eol, start, end):
            return start + len(eol)
        separator = source.find(eol + eol, start, min(end, start + _MAX_HEADER_BLOCK))
        if separator < 0 or not _plain(source, start, separator, eol):
            raise _Decline
        for name, value in _fields(source[start:separator], eol):
            key = name.lower()
            if key in _MIME_HEADERS:
                part.set_raw(name, _mime_value(key, value))
            elif top and key in _TOP_HEADERS:
                part.set_raw(name, value)
        return separator + 2 * len(eol)

    def _multipart(
        self, part: FastPart, start: int, end: int, depth: int, boundaries: tuple[bytes, ...]
    ) -> None:
        boundary = part.get_boundary()
        if not boundary or not boundary.isascii() or part.get_content_subtype() == "digest":
            raise _Decline  # the feedparser's recovery (or digest's default type) applies
        dash = b"--" + boundary.encode("ascii")
        line, after, close = self._delimiter(dash, start, end)
        if close:
            raise _Decline
        self._check_plain(start, line)  # the preamble must hide no delimiter line
        while True:
            line, next_after, close = self._delimiter(dash, after, end)
            if line == after:
                raise _Decline  # the feedparser folds repeated delimiter lines into one
            part.attach(self.entity(after, line, depth + 1, (*boundaries, dash)))
            after = next_after
            if close:
                break
        if boundaries:
            self._check_plain(after, end)  # the epilogue, read until an enclosing delimiter

    def _delimiter(self, dash: bytes, start: int, end: int) -> tuple[int, int, bool]:
        """The next delimiter line at or after line start `start`: where it starts, where
        the line after it starts, and whether it is the close delimiter."""
        source, eol = self.source, self.eol
        at = start if source.startswith(dash, start, end) else self._next(dash, start, end)
        while True:
            rest_start = at + len(dash)
            line_end = source.find(eol, rest_start, end)
            after = end if line_end < 0 else line_end + len(eol)
            rest = source[rest_start : end if line_end < 0 else line_end]
            # The feedparser's boundaryendRE: optional "--", then only blanks on the line.
            if rest[:2] == b"--" and not rest[2:].strip(b" \t"):
                return at, after, True
            if not rest.strip(b" \t"):
                return at, after, False
            at = self._next(dash, at + 1, end)

    def _next(self, dash: bytes, start: int, end: int) -> int:
        found = self.source.find(self.eol + dash, start, end)
        if found < 0:
            raise _Decline  # no (further) delimiter: no start or no close delimiter
        return found + len(self.eol)

    def _leaf(self, part: FastPart, start: int, end: int, nested: bool) -> None:
        source, eol = self.source, self.eol
        if nested and source.endswith(eol, start, end):
            end -= len(eol)  # RFC 2046: the line break before a delimiter belongs to it
        cte = str(part.get("content-transfer-encoding", "")).lower()
        if cte in _UUENCODE:
            raise _Decline
        if cte == "base64":
            part.data, strict = _base64(source, start, end)
            if strict:
                part.span = (start, end)
                return  # nothing but base64 and line breaks: no delimiter, no 8-bit byte
            raw = source[start:end]
        else:
            raw = source[start:end]
            part.data = quopri.decodestring(raw) if cte == "quoted-printable" else raw
        if nested:
            self._check_plain(start, end)
        if not raw.isascii():
            _check_charset(part, raw)

    def _check_plain(self, start: int, end: int) -> None:
        if not _plain(self.source, start, end, self.eol):
            raise _Decline


def _check_charset(part: FastPart, raw: bytes) -> None:
    """Decline where the slow path fails on an 8-bit body: extract's walk calls get_payload()
    on every part, which decodes such a body in its declared charset and lets every error but
    LookupError out (a NUL in the name, an RFC 2231 tuple, a codec that refuses the bytes)."""
    charset = part.get_param("charset", "ascii")
    if not isinstance(charset, str):
        raise _Decline
    if charset.lower() in _TOLERANT_CHARSETS:
        return  # these decode anything with errors="replace": spare a copy of a big body
    try:
        raw.decode(charset, "replace")
    except LookupError:
        pass
    except Exception as exc:  # noqa: BLE001 - whatever it is, the slow path raises it too
        raise _Decline from exc


def _plain(data: bytes, start: int, end: int, eol: bytes) -> bool:
    """Whether data[start:end] has no line break but `eol` (the feedparser breaks at any)."""
    if eol == b"\n":
        return data.find(b"\r", start, end) < 0
    crlf = data.count(b"\r\n", start, end)
    return data.count(b"\r", start, end) == crlf == data.count(b"\n", start, end)


def _fields(block: bytes, eol: bytes) -> list[tuple[str, str]]:
    """(name, value) as the feedparser stores them, for a block of header lines."""
    fields: list[tuple[bytes, list[bytes]]] = []
    for line in block.split(eol):
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise _Decline  # a continuation line first is a defect the parser drops
            fields[-1][1].append(line)
            continue
        match = _FIELD.match(line)
        if match is None:
            raise _Decline  # the feedparser would start the body at this line
        fields.append((match.group(), [line[match.end() + 1 :].lstrip(b" \t")]))
    # policy.default's header_source_parse: value stripped of leading blanks, folding kept.
    return [
        (name.decode("ascii"), eol.join(lines).decode("ascii", "surrogateescape"))
        for name, lines in fields
    ]


def _mime_value(name: str, raw: str) -> str:
    """The string policy.default's header object for a Content-* field equals."""
    value = raw.replace("\r", "").replace("\n", "")  # how policy.default unfolds
    if name == "content-transfer-encoding":
        if _CTE.fullmatch(value):
            return value
    elif "=?" not in value:
        simple = _simple_parameterized(_LEADS[name], value)
        if simple is not None:
            return simple
    try:
        return str(_DEFAULT.header_fetch_parse(name, raw))
    except Exception as exc:  # noqa: BLE001 - the slow path meets the same error, or none
        raise _Decline from exc


def _simple_parameterized(lead_pattern: re.Pattern[str], value: str) -> str | None:
    """policy.default's rendering of a plain type-and-parameters value: the type as written,
    then each parameter as name="value" (a bare name when empty), joined by "; "."""
    lead = lead_pattern.match(value)
    if lead is None:
        return None
    pos = lead.end()
    rendered: list[str] = []
    seen: set[str] = set()
    while (param := _PARAMETER.match(value, pos)) is not None:
        name, token, quoted = param.groups()
        if name.lower() in seen:
            return None  # duplicates follow the policy's own recovery rules
        seen.add(name.lower())
        text = token if token is not None else quoted
        rendered.append(f'{name}="{text}"' if text else name)
        pos = param.end()
    if not _END.fullmatch(value, pos):
        return None
    if not rendered:
        # A lone trailing ";" stays; the blanks after it do not.
        return value[:pos] + ";" if ";" in value[pos:] else value
    return value[: lead.end()] + "; " + "; ".join(rendered)


def _base64(source: bytes, start: int, end: int) -> tuple[bytes, bool]:
    """get_payload(decode=True) of the base64 body source[start:end], and whether it decoded
    strictly (then the body held nothing but the base64 alphabet, padding and line breaks)."""
    # = b"".join(body.splitlines()); the slice is freed at once, so that at most two copies
    # of a big attachment are alive at a time.
    joined = source[start:end].translate(None, b"\r\n")
    try:
        return strict_base64(joined), True
    except (binascii.Error, ValueError):
        return _decode_b(joined), False


def _decode_b(encoded: bytes) -> bytes:
    """email._encoded_words.decode_b, which get_payload uses, without its defect list."""
    pad_err = len(encoded) % 4
    missing_padding = b"==="[: 4 - pad_err] if pad_err else b""
    try:
        return base64.b64decode(encoded + missing_padding, validate=True)
    except binascii.Error:
        try:
            return base64.b64decode(encoded, validate=False)
        except binascii.Error:
            try:
                return base64.b64decode(encoded + b"==", validate=False)
            except binascii.Error:
                return encoded
