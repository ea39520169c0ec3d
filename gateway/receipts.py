"""Verifiable delivery: the citizen's acknowledgement and the sender's signed receipt.

When the citizen acknowledges a verifiable message, the sender gets a receipt: which message,
received when, acknowledged when and how the citizen identified, and the SHA-256 of the stored
original, as text and as a machine-readable JSON part, signed by the gateway and encrypted like
a reply. If the deadline passes unacknowledged, the sender gets the same kind of notice, so
they serve the decision on paper.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial

from cryptography import x509

from gateway.reply_desk import GatewaySigner, organisation_addressing
from mailbox_store import MailboxStore, OutgoingMail, ReplyContext
from policies.model import Organisation
from smtp_out.notification import template_environment
from smtp_out.reply import OutgoingReply, ReplyAttachment

__all__ = ["ReceiptDesk"]

OUTER_SUBJECT = "Vastaanottokuittaus / Mottagningskvitto / Delivery receipt"
_SUBJECT_PREFIX = {
    "acknowledged": "Vastaanottokuittaus: ",
    "expired": "Tiedoksianto vanhentui: ",
}
RECEIPT_FORMAT = "asiointitili-receipt/1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReceiptDesk:
    def __init__(
        self,
        store: MailboxStore,
        organisations: Sequence[Organisation],
        signer: GatewaySigner,
        organisation_certificates: Mapping[str, x509.Certificate],
        domain: str,
        clock: Callable[[], datetime] = _utc_now,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._organisations = {org.id: org for org in organisations}
        self._signer = signer
        self._org_certificates = dict(organisation_certificates)
        self._domain = domain
        self._clock = clock
        self._on_queued = on_queued

    def acknowledge(self, citizen_id: str, message_id: str, method: str) -> bool:
        """Acknowledge receipt (once) and queue the receipt; False if nothing to acknowledge."""
        context = self._store.reply_context(citizen_id, message_id)
        digest = self._store.original_digest(citizen_id, message_id)
        if context is None or digest is None:
            return False
        at = self._clock()
        receipt = self._compose("acknowledged", context, digest, at=at, method=method)
        done = self._store.acknowledge(
            citizen_id, message_id, method=method, digest=digest, at=at, receipt=receipt
        )
        if done is not None:
            self._on_queued()
        return done is not None

    def expire_overdue(self) -> int:
        """Tell the senders of verifiable messages whose deadline passed; returns how many."""
        now = self._clock()
        told = 0
        for citizen_id, message_id in self._store.overdue_acknowledgements(now):
            context = self._store.reply_context(citizen_id, message_id)
            digest = self._store.original_digest(citizen_id, message_id)
            if context is None or digest is None:
                continue
            notice = partial(self._compose, "expired", context, digest, at=now, method="")
            if self._store.expire_acknowledgement(citizen_id, message_id, at=now, notice=notice):
                told += 1
        if told:
            self._on_queued()
        return told

    def _compose(
        self, event: str, context: ReplyContext, digest: str, *, at: datetime, method: str
    ) -> OutgoingMail:
        organisation = self._organisations[context.organisation_id]
        addressing = organisation_addressing(
            context, organisation, self._org_certificates.get(organisation.id)
        )
        clerk_id = context.clerk_message_id
        original_id = f"<{clerk_id}>" if clerk_id and not clerk_id.startswith("sha256:") else None
        record = {
            "format": RECEIPT_FORMAT,
            "event": event,
            "organisation": context.organisation_id,
            "message_id": original_id,
            "subject": context.subject,
            "recipient_hetu": context.hetu,
            "received_at": context.received_at.isoformat(),
            "acknowledged_at": at.isoformat() if event == "acknowledged" else None,
            "expired_at": at.isoformat() if event == "expired" else None,
            "identification": method or None,
            "original_sha256": digest,
        }
        text = template_environment().get_template(f"receipt.{event}.txt").render(record)
        outgoing = OutgoingReply(
            from_address=self._signer.address,
            to_addresses=addressing.addresses,
            reply_to=self._signer.address,
            message_id=f"<receipt.{secrets.token_hex(16)}@{self._domain}>",
            in_reply_to=original_id,
            references=(original_id,) if original_id else (),
            date=at,
            subject=_SUBJECT_PREFIX[event] + context.subject,
            text=text,
            attachments=(
                ReplyAttachment(
                    "receipt.json",
                    "application/json",
                    json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"),
                ),
            ),
            citizen_name=context.citizen_name,
            hetu=context.hetu,
            original_subject=context.subject,
            original_received_at=context.received_at,
            original_message_id=original_id,
            lang="fi",
            outer_subject=OUTER_SUBJECT,
        )
        return self._signer.seal(outgoing, addressing)
