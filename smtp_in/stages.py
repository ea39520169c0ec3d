"""The ingest stages, and the one tuple that lists them in order (`ingest_pipeline`).

parse -> unwrap -> verify -> extract run in a process-pool worker with the gateway's keys loaded
once per process (`install_material`); policy and store run in a thread of the serving process
because they use the database.
"""

from __future__ import annotations

import dataclasses
import email.policy
import email.utils
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.parser import BytesHeaderParser
from functools import partial
from typing import ParamSpec, TypeVar

from cryptography import x509

from crypto.hetu import InvalidHetu, mask_hetu, parse_hetu
from crypto.pgp import PgpContext, PgpError, PgpFailure, is_smime_shaped, open_pgp_message
from crypto.reply_tokens import ReplyTokens
from crypto.revocation import revoked_by
from crypto.smime import DecryptionKey, SmimeError, SmimeFailure, open_message
from mailbox_store import (
    CitizenNotActive,
    Delivery,
    MailboxStore,
    NewAttachment,
    StoreFull,
    StoreUnavailable,
)
from policies.connection import choose_signer_organisation
from policies.content import check_attachments, check_size
from policies.evaluate import check_signer
from policies.model import CasePolicy, Decision, Organisation
from policies.signers import check_signer_identity
from smtp_in import replies
from smtp_in.answers import answered_thread
from smtp_in.extract import ExtractError, ExtractFailure, extract
from smtp_in.pipeline import Inbound, Reject, Stage, TempFail
from smtp_in.sniff import real_type

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class CryptoMaterial:
    """The gateway's decryption keys and each organisation's trust anchors, for one process."""

    keys: tuple[DecryptionKey, ...]
    anchors: Mapping[str, tuple[x509.Certificate, ...]]
    organisations: Mapping[str, Organisation]
    pgp: PgpContext | None = None  # None when no organisation uses OpenPGP


_material: CryptoMaterial | None = None


def install_material(
    keys: Sequence[DecryptionKey],
    anchors_pem: Mapping[str, bytes],
    organisations: Sequence[Organisation],
    pgp: PgpContext | None = None,
) -> None:
    """Process-pool initializer (and the inline set-up): keep the keys for this process."""
    global _material
    _material = CryptoMaterial(
        tuple(keys),
        {org: tuple(x509.load_pem_x509_certificates(pem)) for org, pem in anchors_pem.items()},
        {org.id: org for org in organisations},
        pgp,
    )


def _crypto_material() -> CryptoMaterial:
    if _material is None:
        raise RuntimeError("install_material() was not called in this process")
    return _material


# compat32: only From is needed here, and the default policy's header registry costs ~0.3 ms.
_HEADER_PARSER = BytesHeaderParser(policy=email.policy.compat32)


def _header_block(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end >= 0:
            return raw[: end + len(separator)]
    return raw


def parse(message: Inbound) -> None:
    """Keep the outer header block; the body stays bytes until the unwrap stage decodes it."""
    message.header_block = _header_block(message.raw)


_SMIME_REPLIES = {
    SmimeFailure.NOT_SMIME: replies.NOT_ENCRYPTED,
    SmimeFailure.NOT_ENCRYPTED: replies.NOT_ENCRYPTED,
    SmimeFailure.NOT_FOR_GATEWAY: replies.NOT_FOR_GATEWAY,
    SmimeFailure.DECRYPT_FAILED: replies.DECRYPT_FAILED,
    SmimeFailure.UNSIGNED: replies.UNSIGNED,
    SmimeFailure.BAD_SIGNATURE: replies.BAD_SIGNATURE,
    SmimeFailure.CONTENT_MISMATCH: replies.CONTENT_MISMATCH,
    SmimeFailure.WEAK_ALGORITHM: replies.WEAK_ALGORITHM,
    SmimeFailure.FUTURE_SIGNING_TIME: replies.FUTURE_SIGNING_TIME,
    SmimeFailure.UNTRUSTED_SIGNER: replies.UNTRUSTED_SIGNER,
    SmimeFailure.SIGNER_EXPIRED: replies.SIGNER_EXPIRED,
    SmimeFailure.NOT_FOR_EMAIL: replies.NOT_FOR_EMAIL,
    SmimeFailure.MALFORMED: replies.MALFORMED_SMIME,
}


_PGP_REPLIES = {
    PgpFailure.NOT_PGP: replies.PGP_NOT_ENCRYPTED,
    PgpFailure.NOT_ENCRYPTED: replies.PGP_NOT_ENCRYPTED,
    PgpFailure.NOT_FOR_GATEWAY: replies.PGP_NOT_FOR_GATEWAY,
    PgpFailure.DECRYPT_FAILED: replies.DECRYPT_FAILED,
    PgpFailure.UNSIGNED: replies.UNSIGNED,
    PgpFailure.BAD_SIGNATURE: replies.BAD_SIGNATURE,
    PgpFailure.WEAK_ALGORITHM: replies.WEAK_ALGORITHM,
    PgpFailure.UNKNOWN_SIGNER: replies.PGP_UNKNOWN_SIGNER,
    PgpFailure.SIGNER_REVOKED: replies.PGP_SIGNER_REVOKED,
    PgpFailure.SIGNER_EXPIRED: replies.PGP_SIGNER_EXPIRED,
    PgpFailure.MALFORMED: replies.MALFORMED_PGP,
}
_DISABLED_REPLIES = {
    "missing": replies.ORGANISATION_KEY_MISSING,
    "expired": replies.ORGANISATION_KEY_EXPIRED,
    "revoked": replies.ORGANISATION_KEY_REVOKED,
}


def unwrap(message: Inbound) -> None:
    """Decrypt with the gateway's keys and verify every signature and its chain.

    An organisation with OpenPGP keys goes the OpenPGP way, unless the message is S/MIME.
    On a shared network the signature decides which candidate organisation sends.
    """
    if message.organisation_id:
        _open_as(message, message.organisation_id)
    else:
        _open_for_candidates(message)


def _open_for_candidates(message: Inbound) -> None:
    """Try the candidates whose sender domains hold From, in turn, until one's trust anchors
    verify the signer (usually the first: domains are rarely shared)."""
    material = _crypto_material()
    candidates = [material.organisations[org_id] for org_id in message.candidates]
    decision = choose_signer_organisation(_from_address(message.header_block), candidates)
    message.trace.extend(decision.trace)
    if not decision.allowed:
        raise Reject(replies.SENDER_DOMAIN)
    last = decision.candidates[-1]
    for org in decision.candidates:
        try:
            _open_as(message, org.id)
        except Reject as refusal:
            if org is last or refusal.reply is not replies.UNTRUSTED_SIGNER:
                raise
            message.trace.append(f"shared network: the signer does not chain to {org.id}'s anchors")
            continue
        message.trace.append(f"shared network: the signature names organisation {org.id}")
        if org.server_auth.require_tls and not message.tls:
            message.trace.append(f"require_tls: organisation {org.id} sends only over STARTTLS")
            raise Reject(replies.TLS_REQUIRED)
        message.organisation_id = org.id
        return


def _open_as(message: Inbound, organisation_id: str) -> None:
    material = _crypto_material()
    pgp = material.pgp
    organisation = material.organisations[organisation_id]
    # Before decrypting: the organisation's own limit is below the one the listener enforces.
    _decided(message, check_size(organisation, len(message.raw)), replies.ORGANISATION_TOO_BIG)
    if pgp is not None and organisation_id in pgp.disabled:
        raise Reject(_DISABLED_REPLIES[pgp.disabled[organisation_id]])
    if pgp is not None and organisation.pgp.key_files and not is_smime_shaped(message.raw):
        try:
            message.opened = open_pgp_message(message.raw, pgp)
        except PgpError as exc:
            raise Reject(_PGP_REPLIES[exc.failure]) from None
    else:
        anchors = material.anchors.get(organisation_id, ())
        if anchors and all(message.received_at > a.not_valid_after_utc for a in anchors):
            # The organisation is disabled, not the gateway; the clerk learns why.
            message.trace.append(
                f"trust anchors: every trust anchor of organisation {organisation.id} has expired"
            )
            raise Reject(replies.ORGANISATION_CA_EXPIRED)
        try:
            message.opened = open_message(
                message.raw, material.keys, anchors, now=message.received_at
            )
        except SmimeError as exc:
            raise Reject(_SMIME_REPLIES[exc.failure]) from None
    message.evidence = _evidence(message.header_block, message.opened.evidence, message.raw)


_ENCRYPTION_FIELDS = re.compile(rb"(?i)(content-[a-z0-9-]*|mime-version)[ \t]*:")


def _evidence(header_block: bytes, signed: bytes, raw: bytes) -> bytes:
    """The original as kept for the organisation and auditors: the clerk's signed entity.

    For sign-then-encrypt that is the decrypted signed entity under the outer header fields
    (From, To, Date...), less the fields that described the encryption layer, so that it reads
    as the message the clerk sent and its signature checks with public certificates alone.
    """
    if signed is raw:  # encrypt-then-sign: the message as received is the signed entity
        return raw
    kept = [f for f in _header_fields(header_block) if not _ENCRYPTION_FIELDS.match(f)]
    return b"".join(kept) + signed


def _header_fields(header_block: bytes) -> list[bytes]:
    """Header fields with their continuation lines, each ending in its line break."""
    fields: list[bytes] = []
    for line in header_block.splitlines(keepends=True):
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _from_address(header_block: bytes) -> str:
    try:
        headers = _HEADER_PARSER.parsebytes(header_block)
        value = headers.get("From")
        _, address = email.utils.parseaddr(str(value) if value is not None else "")
    except Exception:  # noqa: BLE001 - any malformed From is simply "no usable From"
        return ""
    return address


def verify(message: Inbound) -> None:
    """The outermost signer is the sender: it must name From, in the organisation's domains.

    A protected From inside the encryption (RFC 9788) wins over the outer one.
    """
    assert message.opened is not None
    inner_from = _from_address(_header_block(message.opened.content))
    sender = inner_from or _from_address(message.header_block)
    signer = message.opened.signers[0]
    organisation = _crypto_material().organisations[message.organisation_id]
    pgp_keys = tuple(s.pgp_fingerprint for s in message.opened.signers if s.pgp_fingerprint)
    decision = check_signer(organisation, sender, signer.email_addresses, pgp_keys)
    message.trace.extend(decision.trace)
    if not decision.allowed:
        raise Reject(_signer_reply(decision.reason, openpgp=bool(pgp_keys)))
    fingerprint = revoked_in = None
    if signer.certificate_der:
        fingerprint = hashlib.sha256(signer.certificate_der).hexdigest().upper()
    if signer.certificate_der and organisation.signers.crl_files:
        certificate = x509.load_der_x509_certificate(signer.certificate_der)
        anchors = _crypto_material().anchors.get(organisation.id, ())
        crl = revoked_by(certificate, organisation.signers.crl_files, anchors)
        revoked_in = crl.name if crl is not None else None
    decision = check_signer_identity(organisation, sender, fingerprint, revoked_in)
    _decided(message, decision, _IDENTITY_REPLIES.get(decision.reason, replies.SENDER_ADDRESS))


_IDENTITY_REPLIES = {
    "signer_not_pinned": replies.SIGNER_NOT_PINNED,
    "signer_revoked": replies.SIGNER_REVOKED,
}


def _decided(message: Inbound, decision: Decision, refusal: replies.Reply) -> None:
    """Record the decision's trace; refuse with `refusal` unless it allows."""
    message.trace.extend(decision.trace)
    if not decision.allowed:
        raise Reject(refusal)


def _signer_reply(reason: str, *, openpgp: bool) -> replies.Reply:
    if reason == "sender_domain":
        return replies.SENDER_DOMAIN
    if reason == "signer_not_allowed":
        return replies.PGP_UNKNOWN_SIGNER
    return replies.PGP_USER_ID_MISMATCH if openpgp else replies.SIGNER_MISMATCH


_EXTRACT_REPLIES = {
    ExtractFailure.PARTIAL: replies.PARTIAL,
    ExtractFailure.MALFORMED: replies.MALFORMED_MIME,
    ExtractFailure.TOO_COMPLEX: replies.TOO_COMPLEX,
}


def extract_content(message: Inbound) -> None:
    """Subject, bodies, attachments (TNEF unpacked) and the HETU lines of the clerk's message."""
    assert message.opened is not None
    try:
        extracted = extract(message.opened.content, message.header_block)
    except ExtractError as exc:
        raise Reject(_EXTRACT_REPLIES[exc.failure]) from None
    organisation = _crypto_material().organisations[message.organisation_id]
    subject, message.no_reply = _without_tag(extracted.subject, organisation.replies.no_reply_tag)
    subject, tagged = _without_tag(subject, organisation.delivery.verifiable_tag)
    if tagged or organisation.delivery.verifiable_by_default:
        days = organisation.delivery.acknowledge_days
        message.acknowledge_by = message.received_at + timedelta(days=days)
    subject = _case_tags(message, subject, organisation.cases)
    # Sniffing costs a little per file: only where types are restricted.
    sniff = bool(organisation.content.allowed_attachment_types)
    types = [
        real_type(a.data, a.content_type) if sniff else a.content_type
        for a in extracted.attachments
    ]
    decision = check_attachments(organisation, types)
    refusal = (
        replies.TOO_MANY_ATTACHMENTS
        if decision.reason == "too_many_attachments"
        else replies.attachment_type_refused(decision.attachment)
    )
    _decided(message, decision, refusal)
    html = extracted.html
    if html is not None and not organisation.content.keep_html:
        message.trace.append(f"keep_html: organisation {organisation.id} shows the text body only")
        html = None
    message.extracted = dataclasses.replace(extracted, subject=subject, html=html)
    if any(a.span for a in extracted.attachments):
        message.content_offset = _offset_in(message.evidence, message.opened.content)
    if extracted.message_id is None:
        # Without a Message-ID, a resent copy is recognised by its exact bytes.
        message.fallback_id = "sha256:" + hashlib.sha256(message.raw).hexdigest()


def _offset_in(haystack: bytes, needle: bytes) -> int:
    """Where `needle` lies verbatim in `haystack`, or -1: a prefix search, then one compare
    (a search for the whole needle would cost milliseconds on a large message)."""
    prefix = needle[:4096]
    at = haystack.find(prefix)
    while at >= 0 and not haystack.startswith(needle, at):
        at = haystack.find(prefix, at + 1)
    return at


def _without_tag(subject: str, tag: str) -> tuple[str, bool]:
    """The subject without the organisation's no-reply tag (any case), and whether it had it."""
    at = subject.lower().find(tag.lower())
    if at < 0:
        return subject, False
    return " ".join((subject[:at] + subject[at + len(tag) :]).split()), True


# Longer values are cut: a reference or status is a short label, not a text.
_MAX_CASE_VALUE = 200


def _case_tags(message: Inbound, subject: str, policy: CasePolicy) -> str:
    """Record the case tags on `message`; returns the subject without them."""
    subject, request = _without_tag(subject, policy.request_tag)
    subject, message.case_reference = _without_valued_tag(subject, policy.case_label)
    subject, message.case_status = _without_valued_tag(subject, policy.status_label)
    if request:
        message.kind = "request"
    elif message.case_status:
        message.kind = "status"
    return subject


def _without_valued_tag(subject: str, label: str) -> tuple[str, str]:
    """The subject without the first `[label: VALUE]` (any case), and VALUE ("" if none)."""
    tag = r"\[\s*" + re.escape(label) + r"\s*:\s*([^\[\]]*?)\s*\]"
    found = re.search(tag, subject, re.IGNORECASE)
    if found is None or not found.group(1):
        return subject, ""
    rest = subject[: found.start()] + subject[found.end() :]
    return " ".join(rest.split()), found.group(1)[:_MAX_CASE_VALUE]


@dataclass(frozen=True)
class StoreSettings:
    allow_temporary_hetus: bool
    reply_tokens: ReplyTokens


def resolve_recipients(store: MailboxStore, settings: StoreSettings, message: Inbound) -> None:
    """Citizens named at RCPT, plus, for the submission address, the citizen whose conversation
    a clerk's answer continues (by reply token) or else those named in HETU lines.

    A message to the submission address is delivered to all its named citizens or to none, so
    the clerk can resend to the others and post the paper copy.
    """
    assert message.extracted is not None
    ids = [r.citizen_id for r in message.recipients if r.citizen_id is not None]
    deferred = [r.hetu for r in message.recipients if r.hetu]
    if deferred:
        ids.extend(_deferred_recipients(store, deferred))
    if any(r.citizen_id is None and not r.hetu for r in message.recipients):
        answered = _storage(
            answered_thread,
            store,
            settings.reply_tokens,
            message.organisation_id,
            message.extracted.references,
            message.received_at,
        )
        if answered is not None:
            # HETU lines in an answer are not instructions: the clerk may quote our details.
            citizen_id, thread_id = answered
            message.threads = {citizen_id: thread_id}
            ids.append(citizen_id)
        else:
            ids.extend(_body_recipients(store, settings, message.extracted.hetus))
    message.citizen_ids = tuple(dict.fromkeys(ids))  # one copy per citizen, order kept


def _deferred_recipients(store: MailboxStore, hetus: list[str]) -> list[str]:
    """RCPT addresses from a shared network, looked up now that the signer is known: all of
    them deliverable, or the message is refused listing the masked codes without an account."""
    ids: list[str] = []
    without_account: list[str] = []
    for hetu in hetus:
        citizen = _storage(store.active_citizen_id, hetu)
        if citizen is None:
            without_account.append(mask_hetu(hetu))
        else:
            ids.append(citizen)
    if without_account:
        raise Reject(replies.body_recipients_refused([], without_account))
    return ids


def _body_recipients(
    store: MailboxStore, settings: StoreSettings, lines: tuple[str, ...]
) -> list[str]:
    if not lines:
        raise Reject(replies.NO_RECIPIENTS_IN_BODY)
    ids: list[str] = []
    invalid: list[str] = []
    without_account: list[str] = []
    for text in lines:
        try:
            hetu = parse_hetu(text, allow_temporary=settings.allow_temporary_hetus)
        except InvalidHetu:
            invalid.append(mask_hetu(text))
            continue
        citizen = _storage(store.active_citizen_id, hetu)
        if citizen is None:
            without_account.append(mask_hetu(hetu))
        else:
            ids.append(citizen)
    if invalid or without_account:
        raise Reject(replies.body_recipients_refused(invalid, without_account))
    return ids


def store_message(store: MailboxStore, message: Inbound) -> None:
    """Commit every recipient's copy, its events and notifications in one transaction."""
    extracted = message.extracted
    assert extracted is not None
    message_id = extracted.message_id or message.fallback_id
    delivery = Delivery(
        organisation_id=message.organisation_id,
        message_id=message_id,
        sender_address=extracted.from_address,
        subject=extracted.subject,
        text=extracted.text,
        html=extracted.html,
        attachments=tuple(
            NewAttachment(a.filename, a.content_type, a.data, _source(message, a.span))
            for a in extracted.attachments
        ),
        original_mime=message.evidence,
        citizen_ids=message.citizen_ids,
        received_at=message.received_at,
        # An OpenPGP signer has no certificate (b""): nothing to keep for S/MIME replies.
        signer_certificate=(message.opened.signers[0].certificate_der or None)
        if message.opened
        else None,
        no_reply=message.no_reply,
        threads=message.threads,
        acknowledge_by=message.acknowledge_by,
        kind=message.kind,
        case_reference=message.case_reference or None,
        case_status=message.case_status or None,
    )
    stored = _storage(store.store_delivery, delivery)
    message.duplicate = not stored.message_ids


def _source(message: Inbound, span: tuple[int, int] | None) -> tuple[int, int] | None:
    """The attachment's base64 body as a span of the stored original, when it is one."""
    if span is None or message.content_offset < 0:
        return None
    return (message.content_offset + span[0], message.content_offset + span[1])


def _storage(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a store call, turning storage trouble into temporary failures the sender retries."""
    try:
        return call(*args, **kwargs)
    except CitizenNotActive:
        # Passivated or closed between RCPT and DATA: the same answer RCPT would now give.
        raise Reject(replies.NO_ACCOUNT) from None
    except StoreFull:
        raise TempFail(replies.STORAGE_FULL) from None
    except StoreUnavailable:
        raise TempFail(replies.TEMPORARY_FAILURE) from None


def ingest_pipeline(store: MailboxStore, settings: StoreSettings) -> tuple[Stage, ...]:
    """The stages every inbound message passes, in order."""
    return (
        Stage("parse", parse, in_pool=True),
        Stage("unwrap", unwrap, in_pool=True),
        Stage("verify", verify, in_pool=True),
        Stage("extract", extract_content, in_pool=True),
        Stage("policy", partial(resolve_recipients, store, settings), in_pool=False),
        Stage("store", partial(store_message, store), in_pool=False),
    )
