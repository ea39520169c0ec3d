"""Compose a citizen's reply to an organisation: header-protected, signed and encrypted.

The message travels over ordinary e-mail, so everything personal lives inside the encryption.
The inner entity (RFC 9788 header protection, `hp="cipher"`) carries the real header fields,
with the citizen's name in From and the real Subject, plus `HP-Outer` fields recording what
the outside says. Its parts are a legacy display part (RFC 9788 section 4.5: clients without
header protection, Outlook among them, still show the real Subject and From), the citizen's
text followed by a "message details" block as the original eAccount service wrote it (name,
identity code, the message being answered), and the attachments. That entity is signed with
the gateway's key and encrypted to the organisation's certificates; outside remain only a
neutral From and Subject and the addressing and threading fields. DKIM is added at sending.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import MIMEPart
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from crypto.pgp_out import sign_and_encrypt
from crypto.smime_out import encrypt, sign_detached
from smtp_out.notification import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, template_environment

__all__ = [
    "NEW_MESSAGE_SUBJECTS",
    "SUBJECTS",
    "OutgoingReply",
    "ReplyAttachment",
    "compose_pgp_reply",
    "compose_reply",
]

NEUTRAL_NAME = "Asiointitili"
# Appended to the citizen's name in the protected From, so the clerk sees who wrote and how.
CITIZEN_NAME_SUFFIX = " (Asiointitili)"
SUBJECTS = {
    "fi": "Vastaus Asiointitililtä",
    "sv": "Svar från e-tjänstkontot",
    "en": "Reply from the eAccount",
}
# The neutral outer Subject of a new message a citizen starts.
NEW_MESSAGE_SUBJECTS = {
    "fi": "Viesti Asiointitililtä",
    "sv": "Meddelande från e-tjänstkontot",
    "en": "Message from the eAccount",
}
# As the portal writes dates (gateway.web.i18n), in Finnish local time.
_DATETIME_FORMATS = {
    "fi": "{d}.{m}.{y} klo {H}.{M}",
    "sv": "{d}.{m}.{y} kl. {H}.{M}",
    "en": "{d}.{m}.{y} {H}:{M}",
}
_LOCAL_ZONE = ZoneInfo("Europe/Helsinki")

# policy.SMTP: CRLF line ends, RFC 2047 header encoding, RFC 2231 parameters, 78-column folds.
_POLICY = policy.SMTP
_MAX_LINE = 78
# A msg-id as RFC 5322 has it (printable ASCII in angle brackets), without a comment or space.
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
# RFC 2045 allows only 7bit/8bit/binary for these, and attachments travel as base64.
_COMPOSITE_TYPES = ("multipart", "message")

_Field = tuple[str, str]


@dataclass(frozen=True)
class ReplyAttachment:
    """One file the citizen attached."""

    filename: str = field(repr=False)
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class OutgoingReply:
    """Everything the reply to an organisation is made of.

    `from_address` and `reply_to` are the gateway's submission address (the address in the
    gateway's certificate); `message_id` is a complete `<...>` msg-id; `date` is aware.
    `in_reply_to` and `references` values that are not ASCII msg-ids are left out.
    """

    from_address: str
    to_addresses: tuple[str, ...]
    reply_to: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime
    subject: str = field(repr=False)
    text: str = field(repr=False)
    attachments: tuple[ReplyAttachment, ...] = field(repr=False)
    citizen_name: str = field(repr=False)
    hetu: str = field(repr=False)
    # The message answered; None for a new message the citizen starts.
    original_subject: str | None = field(repr=False)
    original_received_at: datetime | None
    original_message_id: str | None
    lang: str
    # The neutral Subject outside the encryption; by default "Reply from the eAccount" in `lang`.
    outer_subject: str | None = None


def _one_line(text: str) -> str:
    """Portal input as a header-safe single line: every run of whitespace becomes one space."""
    return " ".join(text.split())


def _msg_id(value: str) -> str:
    if not _MSG_ID.fullmatch(value):
        raise ValueError("the reply's message_id is not a <...> msg-id")
    return value


def _threading_ids(reply: OutgoingReply) -> tuple[list[str], list[str]]:
    """(In-Reply-To, References) without the values that are not ASCII <...> msg-ids.

    They come from other systems' mail and only serve threading: an odd one is left out
    rather than failing the citizen's reply (or reaching a header unchecked).
    """
    in_reply_to = [] if reply.in_reply_to is None else [reply.in_reply_to]
    return (
        [value for value in in_reply_to if _MSG_ID.fullmatch(value)],
        [value for value in reply.references if _MSG_ID.fullmatch(value)],
    )


def _fold_ascii(name: str, value: str) -> bytes:
    """`name: value` folded at spaces only, so that unfolding gives back `value` exactly.

    The `email` folder would turn a long unbreakable token (an Outlook msg-id in References)
    into an encoded-word, which breaks threading.
    """
    lines = [f"{name}:"]
    for number, word in enumerate(value.split(" ")):
        # The first word stays on the name's line, however long it is.
        if number and len(lines[-1]) + 1 + len(word) > _MAX_LINE:
            lines.append("")
        lines[-1] += f" {word}"
    return "\r\n".join(lines).encode("ascii") + b"\r\n"


def _field_bytes(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header value contains a line break")
    if value.isascii():
        return _fold_ascii(name, value)
    # Non-ASCII (names, subjects) needs RFC 2047 encoded-words, which the email package makes.
    folded = _POLICY.header_factory(name, value).fold(policy=_POLICY)
    return str(folded).encode("ascii")


def _header_block(fields: Sequence[_Field]) -> bytes:
    return b"".join(_field_bytes(name, value) for name, value in fields)


def _lang(reply: OutgoingReply) -> str:
    return reply.lang if reply.lang in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def _check_reply(reply: OutgoingReply) -> None:
    if reply.date.tzinfo is None:
        raise ValueError("the reply's date must be timezone-aware")
    if not reply.to_addresses:
        raise ValueError("the reply needs at least one To address")


def _addressing_fields(reply: OutgoingReply) -> list[_Field]:
    """The fields that read the same inside and outside the encryption."""
    fields = [
        ("To", ", ".join(reply.to_addresses)),
        ("Reply-To", reply.reply_to),
        ("Date", format_datetime(reply.date)),
        ("Message-ID", _msg_id(reply.message_id)),
    ]
    in_reply_to, references = _threading_ids(reply)
    fields += [("In-Reply-To", value) for value in in_reply_to]
    if references:
        fields.append(("References", " ".join(references)))
    return fields


def _outer_fields(reply: OutgoingReply) -> list[_Field]:
    neutral_from = str(Address(display_name=NEUTRAL_NAME, addr_spec=reply.from_address))
    return [
        ("From", neutral_from),
        ("Subject", reply.outer_subject or SUBJECTS[_lang(reply)]),
        *_addressing_fields(reply),
    ]


def _citizen_display_name(reply: OutgoingReply) -> str:
    return _one_line(reply.citizen_name) + CITIZEN_NAME_SUFFIX


def _citizen_from(reply: OutgoingReply) -> str:
    return str(Address(display_name=_citizen_display_name(reply), addr_spec=reply.from_address))


def _protected_fields(reply: OutgoingReply, outer: Sequence[_Field]) -> list[_Field]:
    real = [
        ("From", _citizen_from(reply)),
        ("Subject", _one_line(reply.subject)),
        *_addressing_fields(reply),
    ]
    # RFC 9788 section 2.2: what each outer field said, so a reader sees what was hidden.
    return real + [("HP-Outer", f"{name}: {value}") for name, value in outer]


def _leaf_bytes(part: MIMEPart) -> bytes:
    return part.as_bytes(policy=_POLICY)


def _text_leaf(text: str) -> MIMEPart:
    part = MIMEPart(policy=_POLICY)
    # Quoted-printable keeps the signed entity 7-bit whatever the citizen wrote.
    part.set_content(
        text, subtype="plain", charset="utf-8", cte="quoted-printable", disposition="inline"
    )
    return part


def _legacy_display_part(reply: OutgoingReply) -> bytes:
    # The block ends in a blank line: an RFC 9788 reader drops it up to there (s4.5.3).
    sender = f"{_citizen_display_name(reply)} <{reply.from_address}>"  # as a reader shows it
    lines = f"Subject: {_one_line(reply.subject)}\nFrom: {sender}\n\n"
    part = _text_leaf(lines)
    part.set_param("hp-legacy-display", "1")
    return _leaf_bytes(part)


def _received(reply: OutgoingReply) -> str | None:
    moment = reply.original_received_at
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the store writes UTC; SQLite returns it naive
    local = moment.astimezone(_LOCAL_ZONE)
    return _DATETIME_FORMATS[_lang(reply)].format(
        d=local.day, m=local.month, y=local.year, H=f"{local.hour:02d}", M=f"{local.minute:02d}"
    )


def _details(reply: OutgoingReply) -> str:
    template = template_environment().get_template(f"reply_details.{_lang(reply)}.txt")
    return template.render(
        citizen_name=_one_line(reply.citizen_name),
        hetu=_one_line(reply.hetu),
        original_subject=_one_line(reply.original_subject or ""),
        received=_received(reply),
        original_message_id=reply.original_message_id and _one_line(reply.original_message_id),
    )


def _body_part(reply: OutgoingReply) -> bytes:
    return _leaf_bytes(_text_leaf(f"{reply.text.rstrip()}\n\n{_details(reply)}"))


def _attachment_part(attachment: ReplyAttachment) -> bytes:
    content_type = attachment.content_type.strip().lower()
    maintype, _, subtype = content_type.partition("/")
    if not _MIME_TYPE.fullmatch(content_type) or maintype in _COMPOSITE_TYPES:
        maintype, subtype = "application", "octet-stream"
    filename = _one_line(attachment.filename)
    part = MIMEPart(policy=_POLICY)
    # Non-ASCII names become RFC 2231 parameters (filename*=utf-8''...).
    part.set_content(
        attachment.data,
        maintype=maintype,
        subtype=subtype,
        cte="base64",
        disposition="attachment",
        filename=filename,
    )
    part.set_param("name", filename)  # the Content-Type name older clients look for
    return _leaf_bytes(part)


def _protected_entity(reply: OutgoingReply, outer: Sequence[_Field]) -> bytes:
    parts = [
        _legacy_display_part(reply),
        _body_part(reply),
        *(_attachment_part(attachment) for attachment in reply.attachments),
    ]
    # Random and chosen after the parts exist, so no part can contain its delimiter.
    boundary = f"=_hp_{secrets.token_hex(16)}".encode("ascii")
    content_type = (
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'";\r\n hp="cipher"\r\n'
    )
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return b"".join(
        (
            _header_block(_protected_fields(reply, outer)),
            content_type,
            b"\r\n",
            body,
            b"--" + boundary + b"--\r\n",
        )
    )


def compose_reply(
    reply: OutgoingReply,
    *,
    signer_certificate: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    recipient_certificates: Sequence[x509.Certificate],
    aes_gcm: bool,
    signer_chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """The finished RFC 5322 message (CRLF line ends, no DKIM signature yet).

    Signed by the gateway (`signer_chain` are intermediates to include), then encrypted to
    every certificate in `recipient_certificates` (AES-256-GCM when `aes_gcm`, else CBC).
    """
    _check_reply(reply)
    outer = _outer_fields(reply)
    signed = sign_detached(
        _protected_entity(reply, outer), signer_certificate, signer_key, signer_chain
    )
    encrypted = encrypt(signed, recipient_certificates, aes_gcm=aes_gcm)
    return _header_block([*outer, ("MIME-Version", "1.0")]) + encrypted


def compose_pgp_reply(
    reply: OutgoingReply, *, gnupg_home: Path, signer: str, recipients: Sequence[str]
) -> bytes:
    """The same message for an OpenPGP organisation: the protected entity signed with the
    gateway's OpenPGP key and encrypted to `recipients` (fingerprints) as PGP/MIME."""
    _check_reply(reply)
    outer = _outer_fields(reply)
    encrypted = sign_and_encrypt(
        _protected_entity(reply, outer), gnupg_home, signer=signer, recipients=recipients
    )
    return _header_block([*outer, ("MIME-Version", "1.0")]) + encrypted
