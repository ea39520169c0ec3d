"""Byte-level MIME for OpenPGP mail: where the encrypted data, the signed bytes and the armour are.

- PGP/MIME (RFC 3156): multipart/encrypted (control part "Version: 1", then the data) and
  multipart/signed, whose first part is cut out exactly, never re-serialised;
- the same encrypted parts after Microsoft Exchange turned them into multipart/mixed (an empty
  text part may come first): repaired by reading them as multipart/encrypted;
- inline PGP: a text body that is one ASCII-armoured block, and `.pgp`/`.gpg`/`.asc` files in a
  flat multipart/mixed. `rebuild` puts what gpg returned back into a MIME entity.
"""

from __future__ import annotations

import binascii
import mimetypes
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import MIMEPart
from email.parser import BytesHeaderParser
from typing import Literal

import pybase64

from crypto._cms_mime import Entity, canonical_crlf, delimiters, split_entity
from crypto._pgp_status import PgpError, PgpFailure

_MAX_PARTS = 500
_FILE_SUFFIXES = (".pgp", ".gpg", ".asc")
_ARMOUR = re.compile(rb"^-----BEGIN PGP (MESSAGE|SIGNED MESSAGE)-----[ \t\r]*$", re.MULTILINE)
_ARMOUR_END = {
    b"MESSAGE": re.compile(rb"^-----END PGP MESSAGE-----", re.MULTILINE),
    # Only at the start of a line: inside signed text such a line is dash-escaped ("- -----").
    b"SIGNED MESSAGE": re.compile(rb"^-----END PGP SIGNATURE-----", re.MULTILINE),
}
# Mail clients turn the blank line after an armour header into a non-breaking space (Thunderbird
# repairs it too); only whitespace lines inside the base64 armour are touched.
_BLANKISH = re.compile(rb"^(?:[ \t\r]|\xc2\xa0|\xa0)+$", re.MULTILINE)
_CONTENT_FIELDS = re.compile(rb"(?i)(content-[a-z0-9-]*|mime-version)[ \t]*:")
_CHARSET = re.compile(r"[A-Za-z0-9!#$%&'+\-^_`{}~.]{1,40}")

PartKind = Literal["text", "file", "ignored", "unprotected"]


def malformed(detail: str) -> PgpError:
    return PgpError(PgpFailure.MALFORMED, detail)


def _protocol(entity: Entity) -> str:
    value = entity.headers.get_param("protocol")
    return value.strip().lower() if isinstance(value, str) else ""


def _header_block(entity: Entity) -> bytes:
    return entity.data[: entity.body_start]


def decoded_body(entity: Entity) -> bytes:
    """The body with its content-transfer-encoding undone."""
    encoding = str(entity.headers.get("content-transfer-encoding", "")).strip().lower()
    if encoding in ("", "7bit", "8bit", "binary"):
        return entity.body
    try:
        if encoding == "base64":
            return pybase64.b64decode(memoryview(entity.data)[entity.body_start :], validate=False)
        if encoding == "quoted-printable":
            return binascii.a2b_qp(entity.body)
    except (binascii.Error, ValueError):
        raise malformed("undecodable transfer encoding") from None
    raise malformed("unknown transfer encoding")


def parts(entity: Entity) -> list[Entity]:
    """The body parts of a multipart entity, each exactly as it stood between its delimiters."""
    boundary = entity.headers.get_boundary()
    if not boundary or not boundary.isascii():
        raise malformed("multipart without a usable boundary")
    data = entity.data
    found = delimiters(data, entity.body_start, boundary.encode("ascii"), limit=_MAX_PARTS + 1)
    if len(found) > _MAX_PARTS:
        raise malformed("too many parts")
    if not found or not found[-1].closing:
        raise malformed("multipart without its closing delimiter")
    return [
        split_entity(data[opening.next_start : max(opening.next_start, following.part_end)])
        for opening, following in zip(found, found[1:], strict=False)
    ]


def encrypted_payload(entity: Entity) -> bytes | None:
    """The OpenPGP data of a PGP/MIME encrypted entity (or its Exchange-mangled form)."""
    if entity.content_type == "multipart/encrypted":
        if _protocol(entity) != "application/pgp-encrypted":
            return None
        payload = _control_and_data(parts(entity))
        if payload is None:
            raise malformed("multipart/encrypted is not control part and data")
        return payload
    if entity.content_type == "multipart/mixed" and b"application/pgp-encrypted" in entity.body:
        found = parts(entity)
        if found and found[0].content_type == "text/plain" and not _visible(decoded_body(found[0])):
            found = found[1:]
        return _control_and_data(found)
    return None


def _control_and_data(found: Sequence[Entity]) -> bytes | None:
    if len(found) != 2 or found[0].content_type != "application/pgp-encrypted":
        return None
    if found[1].content_type != "application/octet-stream":
        return None
    if b"Version: 1" not in decoded_body(found[0]):
        return None
    return decoded_body(found[1])


def signed_parts(entity: Entity) -> tuple[bytes, bytes] | None:
    """(the signed bytes, CRLF-canonical; the armoured signature) of a PGP/MIME signed entity."""
    if entity.content_type != "multipart/signed":
        return None
    if _protocol(entity) != "application/pgp-signature":
        return None
    found = parts(entity)
    if len(found) != 2 or found[1].content_type != "application/pgp-signature":
        raise malformed("multipart/signed is not content and signature")
    return canonical_crlf(found[0].data), decoded_body(found[1])


@dataclass(frozen=True)
class InlinePart:
    """One part of an inline-PGP message and what gpg is to read of it."""

    kind: PartKind
    data: bytes = b""  # OpenPGP data (armour or binary)
    filename: str = ""  # a file's name without its .pgp/.gpg/.asc
    # A text's Content-Type field, rebuilt from its type and charset only: nothing else of the
    # part's (unprotected) header is kept.
    text_type: bytes = b""


def inline_parts(entity: Entity) -> list[InlinePart] | None:
    """The parts of an inline-PGP message (a text body, or a flat multipart/mixed), or None
    when nothing in it is OpenPGP."""
    if entity.content_type.startswith("text/"):
        leaf = _leaf(entity)
        return [leaf] if leaf.kind == "text" else None
    if entity.content_type != "multipart/mixed":
        return None
    leaves = [_leaf(part) for part in parts(entity)]
    return leaves if any(leaf.kind in ("text", "file") for leaf in leaves) else None


def _leaf(part: Entity) -> InlinePart:
    ctype = part.content_type
    if ctype == "application/pgp-keys":
        return InlinePart("ignored")  # a key the client attached: nothing for the citizen
    if ctype.startswith("multipart/"):
        return InlinePart("unprotected")
    body = decoded_body(part)
    filename = _filename(_header_block(part))
    if filename is not None and filename.lower().endswith(_FILE_SUFFIXES):
        armoured = b"-----BEGIN PGP MESSAGE-----" in body
        if filename.lower().endswith(".asc") and not armoured:
            return InlinePart("unprotected")  # a detached signature or a key, not a file
        return InlinePart("file", _armour(body) or body, filename[:-4])
    if ctype.startswith("text/") and filename is None:
        block = _armour(body)
        if block is not None:
            return InlinePart("text", block, text_type=_text_type(part))
        return InlinePart("unprotected" if _visible(body) else "ignored")
    return InlinePart("unprotected")


def _armour(body: bytes) -> bytes | None:
    """The one armoured block of a text, or None when there is none or text stands around it."""
    begin = _ARMOUR.search(body)
    if begin is None:
        return None
    end_match = _ARMOUR_END[begin.group(1)].search(body, begin.end())
    if end_match is None:
        return None
    end = end_match.end()
    if _visible(body[: begin.start()]) or _visible(body[end:]):
        return None  # text outside the armour is neither encrypted nor signed
    block = body[begin.start() : end]
    if begin.group(1) == b"MESSAGE":
        block = _BLANKISH.sub(b"", block)
    return canonical_crlf(block) + b"\r\n"


def _text_type(part: Entity) -> bytes:
    subtype = "html" if part.content_type == "text/html" else "plain"
    charset = part.headers.get_param("charset")
    charset = charset.strip() if isinstance(charset, str) else ""
    if not _CHARSET.fullmatch(charset):
        charset = "utf-8"  # what gpg-encrypting clients write when they declare nothing
    return f'Content-Type: text/{subtype}; charset="{charset}"\r\n'.encode()


def _visible(text: bytes) -> bool:
    return bool(text.replace(b"\xc2\xa0", b"").replace(b"\xa0", b"").strip())


def _filename(header_block: bytes) -> str | None:
    headers = BytesHeaderParser(policy=policy.default).parsebytes(header_block + b"\r\n")
    name = headers.get_filename()
    return str(name) if name else None


def rebuild(entity: Entity, found: Sequence[InlinePart], plaintexts: Sequence[bytes]) -> bytes:
    """The inline message with each OpenPGP part replaced by what it decrypted to.

    `plaintexts` go with the text and file parts of `found`, in order; ignored parts are left
    out. A text keeps its type and charset; a file gets its name back. The message's own header
    fields stay, but for its Content-* fields, which described the parts as they were.
    """
    built = []
    texts = iter(plaintexts)
    for part in found:
        if part.kind == "text":
            built.append(
                part.text_type
                + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
                + canonical_crlf(next(texts))
            )
        elif part.kind == "file":
            built.append(_file_entity(part.filename, next(texts)))
    kept = b"".join(f for f in _fields(_header_block(entity)) if not _CONTENT_FIELDS.match(f))
    if entity.content_type.startswith("text/"):
        return kept + built[0]
    boundary = f"=_asiointitili_{secrets.token_hex(16)}".encode()
    head = kept + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n'
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in built)
    return head + b"\r\n" + body + b"--" + boundary + b"--\r\n"


def _file_entity(filename: str, data: bytes) -> bytes:
    maintype, _, subtype = (
        mimetypes.guess_type(filename)[0] or "application/octet-stream"
    ).partition("/")
    part = MIMEPart(policy=policy.SMTP)
    part.set_content(
        data, maintype=maintype, subtype=subtype, disposition="attachment", filename=filename
    )
    return part.as_bytes()


def _fields(header_block: bytes) -> list[bytes]:
    """Header fields with their continuation lines, each ending in CRLF."""
    fields: list[bytes] = []
    for line in canonical_crlf(header_block).split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields
