"""Plain, immutable values passed into and out of the mailbox store.

These are the store's whole vocabulary towards its callers: no SQLAlchemy rows leak out, and
everything here is already opened (plaintext), so treat instances as secret: content fields
are left out of the reprs so that a stray log line or traceback does not leak them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Verification",
    "ThreadOwner",
    "ThreadEntry",
    "ReplyContext",
    "NewReply",
    "SenderIdentity",
    "ComposedReply",
    "AccountSettings",
    "AttachmentInfo",
    "AttachmentView",
    "CaseView",
    "CitizenProfile",
    "Delivery",
    "EventView",
    "ExportedMessage",
    "InboxEntry",
    "MessageView",
    "NewAttachment",
    "OutgoingMail",
    "QueueItem",
    "ServiceMessage",
    "StoredDelivery",
]


@dataclass(frozen=True)
class NewAttachment:
    filename: str = field(repr=False)
    content_type: str
    data: bytes = field(repr=False)
    # (start, end) of the file's strict base64 body in the delivery's original_mime: then
    # the original stands in for a decoded copy (see mailbox_store.spans).
    source: tuple[int, int] | None = None


@dataclass(frozen=True)
class Delivery:
    """One accepted message for one or more citizens, written in a single transaction."""

    organisation_id: str
    message_id: str  # the clerk's Message-ID; with organisation and citizen, the dedup key
    sender_address: str = field(repr=False)
    subject: str = field(repr=False)
    text: str = field(repr=False)
    html: str | None = field(repr=False)
    attachments: tuple[NewAttachment, ...]
    original_mime: bytes = field(repr=False)  # the signed original, kept as evidence
    citizen_ids: tuple[str, ...]
    received_at: datetime
    signer_certificate: bytes | None = field(default=None, repr=False)  # DER, replies go to it
    no_reply: bool = False  # the clerk forbade replies to this message
    # Citizens for whom this message continues an existing thread (a clerk's answer to a
    # reply), by thread id; everyone else gets a new thread.
    threads: Mapping[str, str] = field(default_factory=dict)
    # Verifiable delivery: the message opens only once the citizen acknowledges receipt, and
    # past this deadline unacknowledged the sender is told to serve it on paper.
    acknowledge_by: datetime | None = None
    # From the clerk's case tags: "message", "request" (for more information) or "status";
    # the case it belongs to and the status it reports, sealed at rest.
    kind: str = "message"
    case_reference: str | None = field(default=None, repr=False)
    case_status: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StoredDelivery:
    message_ids: tuple[str, ...]  # new message rows, in the order of Delivery.citizen_ids
    duplicate_citizen_ids: tuple[str, ...]  # citizens who already had this message


@dataclass(frozen=True)
class InboxEntry:
    id: str
    subject: str = field(repr=False)
    organisation_id: str
    received_at: datetime
    opened: bool
    kind: str = "message"
    case_reference: str | None = field(default=None, repr=False)
    case_status: str | None = field(default=None, repr=False)
    deleted_at: datetime | None = None  # in the Deleted view since then
    direction: str = "in"  # "out": a new message the citizen started


@dataclass(frozen=True)
class CaseView:
    """One case of the citizen: its messages newest first, and the latest status reported."""

    reference: str = field(repr=False)
    organisation_id: str
    status: str | None = field(repr=False)
    messages: tuple[InboxEntry, ...]


@dataclass(frozen=True)
class AttachmentInfo:
    id: str
    filename: str = field(repr=False)
    content_type: str
    size: int


@dataclass(frozen=True)
class Verification:
    """A message's verifiable-delivery state (required False: an ordinary message)."""

    required: bool = False
    acknowledge_by: datetime | None = None
    acknowledged_at: datetime | None = None
    expired_at: datetime | None = None  # the deadline passed; the sender was told

    @property
    def awaiting(self) -> bool:
        """Closed until the citizen acknowledges receipt."""
        return self.required and self.acknowledged_at is None


@dataclass(frozen=True)
class MessageView:
    id: str
    subject: str = field(repr=False)
    text: str = field(repr=False)
    html: str | None = field(repr=False)
    organisation_id: str
    sender_address: str = field(repr=False)
    received_at: datetime
    opened_at: datetime | None
    attachments: tuple[AttachmentInfo, ...]
    thread_id: str
    direction: str  # "in" (from an organisation) or "out" (the citizen's own)
    no_reply: bool  # the clerk forbade replies to it
    verification: Verification = Verification()
    kind: str = "message"  # "request": the clerk asks for more information
    case_reference: str | None = field(default=None, repr=False)
    case_status: str | None = field(default=None, repr=False)
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class AttachmentView:
    filename: str = field(repr=False)
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class CitizenProfile:
    id: str
    name: str = field(repr=False)
    email: str | None = field(repr=False)
    lang: str
    status: str
    notify_email: bool = True  # the citizen wants notices of new mail by email


@dataclass(frozen=True)
class OutgoingMail:
    """A composed mail waiting in the queue (sealed there): envelope recipients and the bytes
    (CRLF, complete, not yet DKIM-signed: that happens when it is sent)."""

    recipients: tuple[str, ...] = field(repr=False)
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class QueueItem:
    id: str
    kind: str
    citizen_id: str | None
    attempts: int  # delivery attempts begun, this one included
    due_at: datetime  # end of this claim's lease
    # The composed mail for rows that carry one (replies, receipts); None for notifications,
    # which are rendered from the citizen's current profile when sent.
    payload: OutgoingMail | None = field(default=None, repr=False)


@dataclass(frozen=True)
class QueueEntry:
    """What an operator sees of a queued mail: never content, only a masked recipient."""

    id: str
    kind: str
    state: str
    attempts: int
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    last_error: str | None
    recipient: str | None  # masked, e.g. "m***@example.fi"


@dataclass(frozen=True)
class EventView:
    kind: str
    at: datetime
    detail: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class ReplyContext:
    """Everything answering one received message needs (opened: treat as secret)."""

    message_id: str  # the received message's row id
    citizen_id: str
    organisation_id: str
    thread_id: str
    subject: str = field(repr=False)
    received_at: datetime
    sender_address: str = field(repr=False)  # the clerk who sent it
    clerk_message_id: str | None = field(repr=False)  # without angle brackets
    signer_certificate: bytes | None = field(repr=False)  # DER
    no_reply: bool
    references: tuple[str, ...] = field(repr=False)  # the thread's Message-IDs, oldest first
    citizen_name: str = field(repr=False)
    hetu: str = field(repr=False)
    lang: str


@dataclass(frozen=True)
class SenderIdentity:
    """Who a citizen is, for the details block of what they send (opened: treat as secret)."""

    name: str = field(repr=False)
    hetu: str = field(repr=False)
    lang: str


@dataclass(frozen=True)
class NewReply:
    """A citizen's reply, or a new message they start, before it is stored and queued."""

    citizen_id: str
    # None for a new message: it starts a thread of its own (thread id = its row id).
    thread_id: str | None
    organisation_id: str
    in_reply_to: str | None  # row id of the message answered; None for a new message
    subject: str = field(repr=False)
    text: str = field(repr=False)
    attachments: tuple[NewAttachment, ...] = ()


@dataclass(frozen=True)
class ComposedReply:
    """The outgoing mail made for a reply, and the Message-ID it carries (with brackets)."""

    message_id: str
    mail: OutgoingMail


@dataclass(frozen=True)
class ThreadEntry:
    id: str
    direction: str  # "in" or "out"
    subject: str = field(repr=False)
    at: datetime
    delivery: str | None  # the queue state of a sent message; None for received ones


@dataclass(frozen=True)
class ThreadOwner:
    """Whom a sent reply belongs to: what a reply token is checked against."""

    message_row_id: str
    citizen_id: str
    thread_id: str
    organisation_id: str
    active: bool


@dataclass(frozen=True)
class AccountSettings:
    """What the citizen chooses on the settings page (contact details are sealed at rest)."""

    email: str | None = field(repr=False)
    phone: str | None = field(repr=False)  # E.164, +358...
    notify_email: bool
    notify_sms: bool
    lang: str


@dataclass(frozen=True)
class ExportedMessage:
    """One message as the citizen sees it, for their archive; never the stored original."""

    id: str
    subject: str = field(repr=False)
    text: str = field(repr=False)
    organisation_id: str
    received_at: datetime
    opened_at: datetime | None
    direction: str
    attachments: tuple[AttachmentView, ...] = field(repr=False)
    # A verifiable message not yet acknowledged: only its notice, as in the portal.
    withheld: bool = False


@dataclass(frozen=True)
class ServiceMessage:
    """A message from the service itself into the citizen's mailbox (an event log export)."""

    subject: str = field(repr=False)
    text: str = field(repr=False)
    attachments: tuple[NewAttachment, ...] = field(repr=False)
    original: bytes = field(repr=False)  # kept as the message's record, like a clerk's original


@dataclass(frozen=True)
class LoginAccount:
    """What a login needs to know of the account behind an identified HETU."""

    id: str
    status: str
    terms_version: int | None  # the terms of use last accepted; None: never


@dataclass(frozen=True)
class NewAccount:
    """An account the citizen opens at first login, having accepted the terms of use."""

    hetu: str = field(repr=False)
    name: str = field(repr=False)
    settings: AccountSettings
    terms_version: int
    method: str  # how the citizen identified: the broker's acr, or "test"
