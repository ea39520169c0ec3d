"""Turn a clerk's decrypted, verified MIME entity into what the citizen will see.

The ingest pipeline calls :func:`extract` after unwrapping and verification, in a process
pool, so it is a pure function of two byte strings: no I/O, no logging, picklable results.
It finds the subject (protected inner headers win), the sender's address, the plain-text and
sanitised HTML bodies, the attachments (Outlook TNEF unpacked) and the HETU lines at the top
of the text, which name the recipients and are removed from what the citizen reads.

Every failure, whatever its cause, leaves as :class:`ExtractError`; its detail never quotes
content.  Design choices worth knowing:

* ``message/partial`` anywhere is refused: reassembling fragments would let a sender smuggle
  content past the checks made on each fragment.
* Oversized headers are truncated, not refused: the subject is cut to 998 characters (the
  RFC 5322 line limit) after decoding, and only a bounded prefix of any header is decoded, so
  a 200 KB Subject costs milliseconds and still delivers the decision it carries.
* Nesting deeper than :data:`MAX_DEPTH` or more than :data:`MAX_PARTS` parts is refused as
  too complex; no traversal here recurses without that bound.
* Well-formed mail is split at byte level by :mod:`smtp_in._mime_fast` (the feedparser and
  the default policy's header objects cost milliseconds on the SMTP DATA hot path); anything
  else, and anything that surprises the fast path, is parsed by the email package.  Both
  feed the same walk, so they differ only in how the entity is split, and the fast path
  declines wherever it cannot show that its split is the feedparser's.
"""

from __future__ import annotations

import base64
import binascii
import enum
import quopri
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html import escape
from html.parser import HTMLParser
from io import BytesIO

import nh3

from smtp_in._mime_fast import FastPart, header_fields, split
from smtp_in.tnef import TnefError, unpack_tnef

__all__ = [
    "MAX_DEPTH",
    "MAX_PARTS",
    "Attachment",
    "ExtractError",
    "ExtractFailure",
    "ExtractedMessage",
    "extract",
]

MAX_DEPTH = 20
MAX_PARTS = 500
MAX_SUBJECT = 998
MAX_FILENAME = 200
# Only this much of a raw header is decoded; the email package's header parser is slow on
# the huge folded headers hostile or broken mailers produce.
_MAX_RAW_HEADER = 16 * 1024

_POLICY = policy.default
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
_HETU_LINE = re.compile(
    r"\s*(?:henkil[öo]tunnus|personbeteckning)\s*:\s*([0-9a-z+\-]{1,32})\s*", re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ExtractFailure(enum.Enum):
    """Why a message could not be turned into mailbox content."""

    PARTIAL = "partial"
    MALFORMED = "malformed"
    TOO_COMPLEX = "too_complex"


class ExtractError(Exception):
    """Extraction failed; ``detail`` explains it without quoting any content."""

    def __init__(self, failure: ExtractFailure, detail: str = "") -> None:
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail

    def __reduce__(self) -> tuple[type[ExtractError], tuple[ExtractFailure, str]]:
        # The process pool pickles exceptions; the default would lose the failure kind.
        return (type(self), (self.failure, self.detail))


@dataclass(frozen=True)
class Attachment:
    """One file for the citizen to download."""

    filename: str
    content_type: str
    data: bytes
    # Where `data` lies as a strict base64 body in the extracted entity, when it does.
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class ExtractedMessage:
    """The citizen-visible content of one clerk's message."""

    subject: str
    from_address: str
    message_id: str | None
    # Message-IDs this message answers: In-Reply-To first, then References newest first.
    references: tuple[str, ...]
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    hetus: tuple[str, ...]


def extract(content: bytes, outer_headers: bytes) -> ExtractedMessage:
    """Extract the message from the innermost MIME entity and the outer header block."""
    try:
        fast = _extract_fast(content, outer_headers)
    except Exception:  # noqa: BLE001 - the fast path only saves time; `email` has the last word
        fast = None
    if fast is not None:
        return fast
    try:
        return _extract_slow(content, outer_headers)
    except ExtractError:
        raise
    except RecursionError as exc:
        raise ExtractError(ExtractFailure.TOO_COMPLEX, "structure too deep to parse") from exc
    except Exception as exc:  # the email package can fail in many ways on hostile input
        raise ExtractError(ExtractFailure.MALFORMED, f"unparseable ({type(exc).__name__})") from exc


def _extract_fast(content: bytes, outer_headers: bytes) -> ExtractedMessage | None:
    """The same result as _extract_slow, from a byte-level split; None when that declines."""
    inner = split(content, MAX_DEPTH, MAX_PARTS)
    if inner is None:
        return None
    outer = header_fields(outer_headers)
    if outer is None:
        return None
    # The line separator only matters for enclosed messages, which the split declines.
    return _assemble(inner, outer, "\r\n")


def _extract_slow(content: bytes, outer_headers: bytes) -> ExtractedMessage:
    parser = BytesParser(policy=_POLICY)
    inner = parser.parsebytes(content)
    outer = parser.parsebytes(outer_headers, headersonly=True)
    # Enclosed messages are re-serialised with the line ending the clerk's mail used.
    return _assemble(inner, outer, "\r\n" if b"\r\n" in content else "\n")


def _assemble(inner: Message, outer: Message, linesep: str) -> ExtractedMessage:
    """What the citizen sees, from the parsed entity and outer headers (either path's)."""
    body = _Body()
    _Walker(body, linesep).walk(inner, depth=0)

    text, html = body.text, body.html
    if text is None and html is None:
        text, html = body.tnef_text, body.tnef_html
    if html is not None:
        html = _sanitise_html(html)
    if text is None:
        text = _html_to_text(html) if html is not None else ""
    if body.extra_text:
        text = "\n\n".join([text, *body.extra_text]) if text else "\n\n".join(body.extra_text)
    hetus, text = _take_hetu_lines(text.replace("\r\n", "\n"))
    if html is not None:
        html = _remove_hetu_lines_html(html)

    subject = _header_text(inner, "subject")
    if subject is None:
        subject = _header_text(outer, "subject")
    from_address = _from_address(inner)
    if from_address is None:
        from_address = _from_address(outer)
    message_id = _message_id(outer) or _message_id(inner)
    return ExtractedMessage(
        subject=_one_line(subject or "")[:MAX_SUBJECT],
        from_address=from_address or "",
        message_id=message_id,
        # Protected (inner) header fields win, as for the subject (RFC 9788).
        references=_references(inner) or _references(outer),
        text=text,
        html=html,
        attachments=tuple(body.attachments),
        hetus=hetus,
    )


# --- MIME traversal --------------------------------------------------------------------


@dataclass
class _Body:
    """What the walk has found so far, in document order."""

    text: str | None = None
    html: str | None = None
    extra_text: list[str] = field(default_factory=list)
    tnef_text: str | None = None
    tnef_html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    parts: int = 0

    def attach(
        self,
        filename: str | None,
        content_type: str,
        data: bytes,
        suffix: str = "",
        span: tuple[int, int] | None = None,
    ) -> None:
        fallback = f"liite-{len(self.attachments) + 1}{suffix}"
        self.attachments.append(
            Attachment(_safe_filename(filename, fallback), content_type, data, span)
        )


class _Walker:
    """Depth- and count-bounded walk that sorts leaves into body and attachments."""

    def __init__(self, body: _Body, linesep: str) -> None:
        self.body = body
        self.linesep = linesep

    def _count(self, depth: int) -> None:
        self.body.parts += 1
        if self.body.parts > MAX_PARTS:
            raise ExtractError(ExtractFailure.TOO_COMPLEX, f"more than {MAX_PARTS} MIME parts")
        if depth > MAX_DEPTH:
            raise ExtractError(ExtractFailure.TOO_COMPLEX, f"MIME nesting deeper than {MAX_DEPTH}")

    def walk(self, part: Message, depth: int, in_alternative: bool = False) -> None:
        self._count(depth)
        ctype = part.get_content_type()
        if ctype == "message/partial":
            raise ExtractError(ExtractFailure.PARTIAL, "message/partial is not accepted")
        payload = part.get_payload()
        children = _children(payload)
        if ctype in ("message/rfc822", "message/global"):
            self._enclosed(part, children, depth)
        elif part.is_multipart() and isinstance(payload, list):
            self._walk_multipart(part, children, depth)
        else:
            self._leaf(part, ctype, in_alternative)

    def _enclosed(self, part: Message, children: list[EmailMessage], depth: int) -> None:
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if cte in ("base64", "quoted-printable"):
            # An encoded enclosed message breaks RFC 2046 s5.2.1 and `email` parses the encoded
            # text as if it were the message; decode it so that what it encloses is scanned too.
            encoded = (
                _as_received(children[0], "\n") if children
                else str(part.get_payload()).encode("ascii", "replace")
            )
            data = _decode_transfer(encoded, cte)
            self.scan(BytesParser(policy=_POLICY).parsebytes(data), depth + 1)
        elif children:
            self.scan(children[0], depth + 1)
            data = _as_received(children[0], self.linesep)
        else:
            data = _decoded_payload(part)
        self.body.attach(part.get_filename(), "message/rfc822", data, ".eml")

    def scan(self, part: Message, depth: int) -> None:
        """Check an enclosed message for fragments and size without extracting it."""
        self._count(depth)
        if part.get_content_type() == "message/partial":
            raise ExtractError(ExtractFailure.PARTIAL, "enclosed message/partial is not accepted")
        for child in _children(part.get_payload()):
            self.scan(child, depth + 1)

    def _walk_multipart(self, part: Message, children: list[EmailMessage], depth: int) -> None:
        subtype = part.get_content_subtype()
        if subtype == "signed" and children:
            # The gateway verified the signature already; only the signed content is mail.
            self.walk(children[0], depth + 1)
            for child in children[1:]:
                if child.get_content_type() not in _SIGNATURE_TYPES:
                    self.walk(child, depth + 1)
            return
        for child in children:
            self.walk(child, depth + 1, in_alternative=subtype == "alternative")

    def _leaf(self, part: Message, ctype: str, in_alternative: bool) -> None:
        if ctype == "text/rfc822-headers":
            return  # a legacy display of protected headers, not a file the clerk attached
        data = _decoded_payload(part)
        filename = part.get_filename()
        if ctype in _TNEF_TYPES or (filename or "").lower() == "winmail.dat":
            self._tnef(filename, ctype, data)
            return
        disposition = part.get_content_disposition()
        is_body_text = ctype in ("text/plain", "text/html") or part.get_content_maintype() == (
            "multipart"  # declared multipart without usable boundaries: show what is there
        )
        if disposition == "attachment" or filename is not None or not is_body_text:
            self.body.attach(filename, ctype, data, span=getattr(part, "span", None))
            return
        text = _decode_text(data, part.get_content_charset())
        if ctype == "text/html":
            if self.body.html is None:
                self.body.html = text
            elif not in_alternative:
                self.body.attach(None, ctype, data)
            return
        if _legacy_display(part):
            text = _strip_legacy_display(text)
        if self.body.text is None:
            self.body.text = text
        elif not in_alternative:
            self.body.extra_text.append(text)

    def _tnef(self, filename: str | None, ctype: str, data: bytes) -> None:
        try:
            unpacked = unpack_tnef(data)
        except TnefError:
            unpacked = None
        if unpacked is None or not (unpacked.files or unpacked.body or unpacked.html):
            # Nothing usable came out: keep the original rather than lose what it carries.
            self.body.attach(filename or "winmail.dat", ctype, data)
            return
        for file in unpacked.files:
            self.body.attach(file.name, file.content_type, file.data)
        if self.body.tnef_text is None and self.body.tnef_html is None:
            self.body.tnef_text, self.body.tnef_html = unpacked.body, unpacked.html


def _children(payload: object) -> list[EmailMessage]:
    """The sub-parts of a multipart or message/* payload; none for a leaf."""
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, EmailMessage)]


def _decode_transfer(encoded: bytes, cte: str) -> bytes:
    if cte == "quoted-printable":
        return quopri.decodestring(encoded)
    try:
        return base64.b64decode(b"".join(encoded.split()), validate=False)
    except binascii.Error:
        raise ExtractError(ExtractFailure.MALFORMED, "an enclosed message is not base64") from None


def _decoded_payload(part: Message) -> bytes:
    if isinstance(part, FastPart):
        return part.data  # decoded while splitting, exactly as get_payload(decode=True) does
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _as_received(enclosed: EmailMessage, linesep: str) -> bytes:
    """The enclosed message's bytes, headers left as folded by its sender."""
    out = BytesIO()
    keep = _POLICY.clone(refold_source="none", max_line_length=0, linesep=linesep)
    BytesGenerator(out, mangle_from_=False, policy=keep).flatten(enclosed)
    return out.getvalue()


def _legacy_display(part: Message) -> bool:
    return str(part.get_param("hp-legacy-display", "")).strip() == "1"


def _strip_legacy_display(text: str) -> str:
    """RFC 9788 s4.5.3: drop the legacy display block, up to and including its blank line."""
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            return "\n".join(lines[index + 1 :])
    return text


# --- text decoding ---------------------------------------------------------------------


def _decode_text(data: bytes, charset: str | None) -> str:
    """Decode a body robustly: declared charset, else UTF-8, else Latin-1; never raise."""
    if charset and charset not in ("us-ascii", "ascii"):
        try:
            # bytes.decode refuses bytes-to-bytes codecs (zlib, base64) with LookupError.
            return _printable(data.decode(charset, errors="replace"))
        except (LookupError, ValueError):
            pass
    try:
        return _printable(data.decode("utf-8"))
    except UnicodeDecodeError:
        return _printable(data.decode("latin-1"))


def _printable(text: str) -> str:
    return _CONTROL.sub("", text)


def _unsurrogate(text: str) -> str:
    """Headers may carry raw 8-bit bytes as surrogates; turn them into real characters."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", errors="surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


# --- headers ---------------------------------------------------------------------------


def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name:
            if len(value) <= _MAX_RAW_HEADER:
                return str(value)
            # Cut at folding whitespace so that no encoded-word is split in half.
            head = value[:_MAX_RAW_HEADER]
            cut = max(head.rfind(" "), head.rfind("\t"))
            return head[:cut] if cut > 0 else head
    return None


def _parsed_header(msg: Message, name: str) -> object | None:
    raw = _raw_header(msg, name)
    if raw is None:
        return None
    try:
        header: object = _POLICY.header_fetch_parse(name, raw)
        return header
    except (HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        return None  # an unreadable header is treated as absent, like a mail client would


def _header_text(msg: Message, name: str) -> str | None:
    header = _parsed_header(msg, name)
    return None if header is None else _unsurrogate(str(header))


def _from_address(msg: Message) -> str | None:
    header = _parsed_header(msg, "from")
    addresses = getattr(header, "addresses", ()) if header is not None else ()
    for address in addresses:
        spec = _unsurrogate(address.addr_spec)
        local, at, domain = spec.rpartition("@")
        return f"{local}@{domain.lower()}" if at else spec
    return None


def _message_id(msg: Message) -> str | None:
    raw = _raw_header(msg, "message-id")
    if raw is None:
        return None
    value = _one_line(_unsurrogate(raw)).strip("<> ")
    return value[:MAX_SUBJECT] or None


_MSG_ID = re.compile(r"<([^<>\s]{1,250})>")
MAX_REFERENCES = 50


def _references(msg: Message) -> tuple[str, ...]:
    found: list[str] = []
    for name, newest_first in (("in-reply-to", False), ("references", True)):
        raw = _raw_header(msg, name)
        if raw is None:
            continue
        ids = _MSG_ID.findall(_unsurrogate(raw))
        found.extend(reversed(ids) if newest_first else ids)
    return tuple(dict.fromkeys(found))[:MAX_REFERENCES]


# --- file names ------------------------------------------------------------------------


def _safe_filename(name: str | None, fallback: str) -> str:
    """A display name with no path, no control or bidi-override characters, <= 200 chars."""
    if not name:
        return fallback
    name = unicodedata.normalize("NFC", _unsurrogate(name))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.strip().lstrip(".").strip()
    if not name:
        return fallback
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        keep = f".{ext}" if dot and stem and len(ext) <= 16 else ""
        name = name[: MAX_FILENAME - len(keep)] + keep
    return name


# --- HETU lines ------------------------------------------------------------------------


def _hetu_of_line(line: str) -> str | None:
    match = _HETU_LINE.fullmatch(unicodedata.normalize("NFC", line))
    return match.group(1).upper() if match else None


def _take_hetu_lines(text: str) -> tuple[tuple[str, ...], str]:
    """Collect the HETU lines at the top of the text and remove them with one blank line."""
    lines = text.split("\n")
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    hetus: list[str] = []
    while index < len(lines):
        hetu = _hetu_of_line(lines[index])
        if hetu is None:
            break
        hetus.append(hetu)
        index += 1
    if not hetus:
        return (), text
    if index < len(lines) and not lines[index].strip():
        index += 1
    return tuple(hetus), "\n".join(lines[index:])


# --- HTML ------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "ul",
    }
)
_HIDDEN_TAGS = frozenset({"head", "script", "style", "title", "template"})


def _sanitise_html(html: str) -> str:
    return nh3.clean(html, clean_content_tags={"script", "style", "title", "template"})


class _HtmlLines(HTMLParser):
    """Tokenise sanitised HTML into lines (split at block tags) of tags and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[list[tuple[str, str]]] = [[]]

    def _boundary(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.lines.append([])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._boundary(tag)
        self.lines[-1].append(("tag", self.get_starttag_text() or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._boundary(tag)
        self.lines[-1].append(("tag", f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        self.lines[-1].append(("text", data))


def _remove_hetu_lines_html(html: str) -> str:
    """Remove the text of every line that is only a HETU label and code; keep all tags."""
    parser = _HtmlLines()
    parser.feed(html)
    parser.close()
    out: list[str] = []
    for line in parser.lines:
        drop = _hetu_of_line("".join(value for kind, value in line if kind == "text"))
        for kind, value in line:
            if kind == "tag":
                out.append(value)
            elif drop is None:
                out.append(escape(value, quote=False))
    return "".join(out)


class _HtmlToText(HTMLParser):
    """A small HTML-to-text converter for HTML-only mail: block tags become line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS and tag not in ("br", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            # HTML collapses white space; the line structure comes from the block tags.
            self.parts.append(re.sub(r"\s+", " ", data))


def _html_to_text(html: str) -> str:
    """Plain text of an HTML body, one line per block, at most one blank line in a row."""
    converter = _HtmlToText()
    converter.feed(html)
    converter.close()
    lines = [line.strip() for line in "".join(converter.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n") + "\n" if text.strip() else ""
