"""The citizen's replies and new messages: whether they may be sent, and sending them.

Every rule is checked here, on the server, whatever the portal showed: the organisation allows
replies, the clerk did not forbid them for this message, the attachments fit the policy. The
reply is composed (signed by the gateway, encrypted to the clerk and the organisation), stored
in the citizen's thread and queued in one transaction; the outbound worker sends it. A new
message (to an organisation that accepts them, on one of its topics) goes the same way to its
registry and starts a thread of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from crypto.reply_tokens import ReplyTokens, ThreadRef
from mailbox_store import (
    ComposedReply,
    MailboxStore,
    NewAttachment,
    NewReply,
    OutgoingMail,
    ReplyContext,
    SenderIdentity,
)
from policies.model import Organisation, ReplyPolicy
from smtp_out.reply import (
    NEW_MESSAGE_SUBJECTS,
    OutgoingReply,
    ReplyAttachment,
    compose_pgp_reply,
    compose_reply,
)

__all__ = ["MAX_REPLY_TEXT", "NewMessageOffer", "ReplyDesk", "ReplyOffer", "ReplyRefused"]

MAX_REPLY_TEXT = 20_000  # characters: a letter, not a document (documents go as attachments)
_ANSWER_PREFIX = re.compile(r"^\s*(re|vs|sv|aw)\s*:", re.IGNORECASE)


class ReplyRefused(Exception):
    """The reply breaks a rule; `reason` is a portal text key the citizen reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReplyOffer:
    """What the reply form may accept for one message."""

    max_attachments: int
    max_attachment_bytes: int


@dataclass(frozen=True)
class NewMessageOffer:
    """An organisation that accepts new messages: its topics and attachment limits."""

    organisation_id: str
    topics: tuple[str, ...]
    max_attachments: int
    max_attachment_bytes: int


@dataclass(frozen=True)
class Addressing:
    """Where a mail to an organisation goes, and whom it is encrypted to: S/MIME
    certificates, or OpenPGP fingerprints for an organisation that uses OpenPGP."""

    addresses: tuple[str, ...]
    certificates: tuple[x509.Certificate, ...]
    aes_gcm: bool
    pgp_recipients: tuple[str, ...] = ()


def organisation_addressing(
    context: ReplyContext,
    organisation: Organisation,
    organisation_certificate: x509.Certificate | None,
) -> Addressing:
    """The clerk who wrote and/or the registry, as the organisation's policy says; encrypted
    to the clerk's certificate from the original signature and to the organisation's own."""
    addresses: list[str] = []
    if organisation.replies.recipients in ("sender", "both"):
        addresses.append(context.sender_address)
    if organisation.replies.recipients in ("registry", "both"):
        addresses.append(organisation.reply_address)
    unique = tuple(dict.fromkeys(addresses))
    if context.signer_certificate is None:
        # The clerk signed with OpenPGP (or we hold no certificate): answer in OpenPGP.
        if not organisation.pgp.reply_key:
            raise ReplyRefused("reply_not_allowed")  # nothing to encrypt to
        return Addressing(unique, (), False, pgp_recipients=(organisation.pgp.reply_key,))
    certificates: list[x509.Certificate] = []
    if organisation.replies.recipients in ("sender", "both"):
        certificates.append(x509.load_der_x509_certificate(context.signer_certificate))
    if organisation_certificate is not None:
        certificates.append(organisation_certificate)
    return Addressing(unique, tuple(certificates), organisation.replies.aes_gcm)


def registry_addressing(
    organisation: Organisation, organisation_certificate: x509.Certificate | None
) -> Addressing:
    """A new message: to the registry, encrypted to the organisation's certificate (S/MIME)
    or else its OpenPGP reply key; no clerk is known yet."""
    addresses = (organisation.reply_address,)
    if organisation_certificate is not None:
        return Addressing(addresses, (organisation_certificate,), organisation.replies.aes_gcm)
    if organisation.pgp.reply_key:
        return Addressing(addresses, (), False, pgp_recipients=(organisation.pgp.reply_key,))
    raise ReplyRefused("new_message_not_allowed")  # nothing to encrypt to


@dataclass(frozen=True)
class GatewaySigner:
    """The gateway's S/MIME identity: its certificate names `address`."""

    address: str
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    # The gateway's OpenPGP keyring and signing key, for organisations that use OpenPGP.
    gnupg_home: Path | None = None
    pgp_fingerprint: str | None = None

    def seal(self, outgoing: OutgoingReply, addressing: Addressing) -> OutgoingMail:
        """Compose, sign and encrypt a mail to an organisation."""
        if addressing.pgp_recipients:
            if self.gnupg_home is None or self.pgp_fingerprint is None:
                raise ReplyRefused("reply_not_allowed")  # the gateway has no OpenPGP key
            data = compose_pgp_reply(
                outgoing,
                gnupg_home=self.gnupg_home,
                signer=self.pgp_fingerprint,
                recipients=addressing.pgp_recipients,
            )
            return OutgoingMail(recipients=addressing.addresses, data=data)
        data = compose_reply(
            outgoing,
            signer_certificate=self.certificate,
            signer_key=self.key,
            recipient_certificates=addressing.certificates,
            aes_gcm=addressing.aes_gcm,
        )
        return OutgoingMail(recipients=addressing.addresses, data=data)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReplyDesk:
    def __init__(
        self,
        store: MailboxStore,
        organisations: Sequence[Organisation],
        tokens: ReplyTokens,
        signer: GatewaySigner,
        organisation_certificates: Mapping[str, x509.Certificate],
        clock: Callable[[], datetime] = _utc_now,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._on_queued = on_queued
        self._organisations = {org.id: org for org in organisations}
        self._tokens = tokens
        self._signer = signer
        self._org_certificates = dict(organisation_certificates)
        self._clock = clock

    def offer(self, citizen_id: str, message_id: str) -> ReplyOffer | None:
        """The reply form's limits, or None when this message may not be answered."""
        context = self._store.reply_context(citizen_id, message_id)
        if context is None or self._refusal(context) is not None:
            return None
        policy = self._organisations[context.organisation_id].replies
        return ReplyOffer(policy.max_attachments, policy.max_attachment_bytes)

    def send(
        self,
        citizen_id: str,
        message_id: str,
        text: str,
        attachments: Sequence[NewAttachment],
    ) -> str:
        """Store and queue the reply; returns its message row id. Raises ReplyRefused."""
        context = self._store.reply_context(citizen_id, message_id)
        if context is None:
            raise ReplyRefused("reply_not_found")
        refusal = self._refusal(context)
        if refusal is not None:
            raise ReplyRefused(refusal)
        organisation = self._organisations[context.organisation_id]
        _check_content(organisation.replies, text, attachments)
        addressing = organisation_addressing(
            context, organisation, self._org_certificates.get(organisation.id)
        )
        reply = NewReply(
            citizen_id=citizen_id,
            thread_id=context.thread_id,
            organisation_id=context.organisation_id,
            in_reply_to=context.message_id,
            subject=_answer_subject(context.subject),
            text=text,
            attachments=tuple(attachments),
        )

        person = SenderIdentity(context.citizen_name, context.hetu, context.lang)

        def compose(row_id: str) -> ComposedReply:
            return self._compose(row_id, organisation, reply, addressing, person, context)

        row_id = self._store.store_reply(reply, compose)
        self._on_queued()
        return row_id

    def new_message_offers(self) -> list[NewMessageOffer]:
        """The organisations a citizen may start a new message to."""
        return [
            offer
            for organisation_id in self._organisations
            if (offer := self.new_message_offer(organisation_id)) is not None
        ]

    def new_message_offer(self, organisation_id: str) -> NewMessageOffer | None:
        """What a new message to the organisation may be, or None when it accepts none."""
        organisation = self._organisations.get(organisation_id)
        if organisation is None or not organisation.new_messages or not organisation.topics:
            return None
        if organisation.id not in self._org_certificates and not organisation.pgp.reply_key:
            return None  # nothing to encrypt to (the configuration refuses this too)
        policy = organisation.replies
        return NewMessageOffer(
            organisation.id,
            organisation.topics,
            policy.max_attachments,
            policy.max_attachment_bytes,
        )

    def start(
        self,
        citizen_id: str,
        organisation_id: str,
        topic: str,
        text: str,
        attachments: Sequence[NewAttachment],
    ) -> str:
        """Store and queue a new message on `topic` (its subject), in a thread of its own;
        returns its message row id. Raises ReplyRefused."""
        offer = self.new_message_offer(organisation_id)
        if offer is None:
            raise ReplyRefused("new_message_not_allowed")
        if topic not in offer.topics:
            raise ReplyRefused("new_message_bad_topic")
        organisation = self._organisations[organisation_id]
        _check_content(organisation.replies, text, attachments)
        person = self._store.sender_identity(citizen_id)
        if person is None:
            raise ReplyRefused("reply_not_found")
        addressing = registry_addressing(organisation, self._org_certificates.get(organisation.id))
        message = NewReply(
            citizen_id=citizen_id,
            thread_id=None,
            organisation_id=organisation_id,
            in_reply_to=None,
            subject=topic,
            text=text,
            attachments=tuple(attachments),
        )

        def compose(row_id: str) -> ComposedReply:
            return self._compose(row_id, organisation, message, addressing, person, None)

        row_id = self._store.store_reply(message, compose)
        self._on_queued()
        return row_id

    def _refusal(self, context: ReplyContext) -> str | None:
        organisation = self._organisations.get(context.organisation_id)
        if organisation is None or not organisation.replies_allowed:
            return "reply_not_allowed"
        if context.no_reply:
            return "reply_forbidden_by_sender"
        if context.signer_certificate is None and not organisation.pgp.reply_key:
            return "reply_not_allowed"  # nothing to encrypt to
        return None

    def _compose(
        self,
        row_id: str,
        organisation: Organisation,
        reply: NewReply,
        addressing: Addressing,
        person: SenderIdentity,
        context: ReplyContext | None,  # None: a new message, answering nothing
    ) -> ComposedReply:
        now = self._clock()
        # A new message starts its own thread, named by its own row id.
        thread_id = reply.thread_id or row_id
        ref = ThreadRef(row_id, reply.citizen_id, thread_id, reply.organisation_id)
        message_id = self._tokens.message_id(
            ref, now + timedelta(days=organisation.replies.thread_days)
        )
        lang = person.lang if person.lang in ("fi", "sv", "en") else "fi"
        references: tuple[str, ...] = ()
        in_reply_to = None
        if context is not None:
            # Our own fallback ids ("sha256:...") were never Message-IDs on the wire.
            references = tuple(f"<{r}>" for r in context.references if not r.startswith("sha256:"))
            clerk_id = context.clerk_message_id
            if clerk_id and not clerk_id.startswith("sha256:"):
                in_reply_to = f"<{clerk_id}>"
        outgoing = OutgoingReply(
            from_address=self._signer.address,
            to_addresses=addressing.addresses,
            reply_to=self._signer.address,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references,
            date=now,
            subject=reply.subject,
            text=reply.text,
            attachments=tuple(
                ReplyAttachment(a.filename, a.content_type, a.data) for a in reply.attachments
            ),
            citizen_name=person.name,
            hetu=person.hetu,
            original_subject=None if context is None else context.subject,
            original_received_at=None if context is None else context.received_at,
            original_message_id=in_reply_to,
            lang=lang,
            outer_subject=NEW_MESSAGE_SUBJECTS[lang] if context is None else None,
        )
        return ComposedReply(message_id, self._signer.seal(outgoing, addressing))


def _check_content(policy: ReplyPolicy, text: str, attachments: Sequence[NewAttachment]) -> None:
    if not text.strip() and not attachments:
        raise ReplyRefused("reply_empty")
    if len(text) > MAX_REPLY_TEXT:
        raise ReplyRefused("reply_text_too_long")
    if len(attachments) > policy.max_attachments:
        raise ReplyRefused("reply_too_many_attachments")
    if any(len(a.data) > policy.max_attachment_bytes for a in attachments):
        raise ReplyRefused("reply_attachment_too_large")


def _answer_subject(subject: str) -> str:
    return subject if _ANSWER_PREFIX.match(subject) else f"Re: {subject}"
