"""Table definitions (SQLAlchemy Core) shared by the store and by the Alembic migrations.

Every `*_sealed` column holds a `crypto.sealing.seal` blob under the owning citizen's data key,
with associated data `<table>/<row id>/<column>`. Row ids are uuid4 hex strings made in Python,
so the associated data is known before the insert. Plain columns hold only what the store must
filter or order by and what is not personal: blind indexes, organisation ids, times, states.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "CITIZEN_STATUSES",
    "DIRECTIONS",
    "QUEUE_STATES",
    "UTCDateTime",
    "attachments",
    "citizens",
    "events",
    "messages",
    "metadata",
    "outbound_queue",
    "sessions",
]

CITIZEN_STATUSES = ("active", "passive", "closed")
QUEUE_STATES = ("queued", "sending", "sent", "failed", "held", "bounced")
DIRECTIONS = ("in", "out")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike.

    Stored as a naive UTC timestamp because SQLite keeps no zone; naive input is refused so
    that a local time can never be stored by mistake.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the mailbox store needs timezone-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


citizens = Table(
    "citizens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hetu_index", String(64), nullable=False, unique=True),
    Column("hetu_sealed", LargeBinary, nullable=False),
    Column("name_sealed", LargeBinary, nullable=False),
    Column("email_sealed", LargeBinary, nullable=True),
    Column("phone_sealed", LargeBinary, nullable=True),  # a Finnish mobile number, +358...
    # How the citizen wants to hear of new mail (SMS is recorded, not yet sent).
    Column("notify_email", Boolean, nullable=False, server_default=true()),
    Column("notify_sms", Boolean, nullable=False, server_default=false()),
    # The version of the terms of use the citizen last accepted (None: never; first login).
    Column("terms_version", Integer, nullable=True),
    Column("terms_accepted_at", UTCDateTime, nullable=True),
    Column("lang", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("data_key_wrapped", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'passive', 'closed')", name="status"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("citizen_id", String(32), ForeignKey("citizens.id"), nullable=False),
    Column("organisation_id", String(200), nullable=False),
    Column("dedup_index", String(64), nullable=False, unique=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("subject_sealed", LargeBinary, nullable=False),
    Column("text_sealed", LargeBinary, nullable=False),
    Column("html_sealed", LargeBinary, nullable=True),
    Column("sender_sealed", LargeBinary, nullable=False),
    Column("original_sealed", LargeBinary, nullable=False),
    Column("opened_at", UTCDateTime, nullable=True),
    # A thread is named by its first message's id; a message starting one has thread_id = id.
    Column("thread_id", String(32), nullable=False),
    # "in": from an organisation; "out": the citizen's own reply or new message.
    Column("direction", String(3), nullable=False, server_default="in"),
    # The clerk forbade replies to this message (the organisation's subject tag).
    Column("no_reply", Boolean, nullable=False, server_default=false()),
    # The Message-ID it travelled under (the clerk's, or our reply token), for threading.
    Column("message_id_sealed", LargeBinary, nullable=True),
    # The clerk's verified signing certificate (DER): replies are encrypted to it.
    Column("signer_cert_sealed", LargeBinary, nullable=True),
    # Verifiable delivery: the content stays closed until the citizen acknowledges receipt;
    # past its deadline unacknowledged, the sender is told to serve it on paper.
    Column("verifiable", Boolean, nullable=False, server_default=false()),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledge_by", UTCDateTime, nullable=True),
    Column("acknowledgement_expired_at", UTCDateTime, nullable=True),
    # What the clerk's subject tags made of it: "message", "request" (for more information),
    # "status" (a case status update) or "decision"; the case reference and status, sealed,
    # with a keyed index of (organisation, case) so a citizen's case groups without opening.
    Column("kind", String(16), nullable=False, server_default="message"),
    Column("case_sealed", LargeBinary, nullable=True),
    Column("case_index", String(64), nullable=True),
    Column("status_sealed", LargeBinary, nullable=True),
    # Deleted by the citizen (kept in the Deleted view until purged), and unread-reminder sent.
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("reminded_at", UTCDateTime, nullable=True),
    CheckConstraint("direction IN ('in', 'out')", name="direction"),
    Index(None, "citizen_id", "received_at"),
    Index(None, "citizen_id", "thread_id"),
    Index(None, "acknowledge_by"),
    Index(None, "citizen_id", "case_index"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("message_id", String(32), ForeignKey("messages.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("filename_sealed", LargeBinary, nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    # The file, sealed; or None when it is the base64 body at source_start:source_end of the
    # message's sealed original (see mailbox_store.spans).
    Column("data_sealed", LargeBinary, nullable=True),
    Column("source_start", Integer, nullable=True),
    Column("source_end", Integer, nullable=True),
    CheckConstraint(
        "(data_sealed IS NULL) = (source_start IS NOT NULL AND source_end IS NOT NULL)",
        name="data_or_source",
    ),
    UniqueConstraint("message_id", "position"),
)

# `seq` numbers each citizen's events from 1; it orders the hash chain and its unique
# constraint makes two concurrent appends at the same place fail instead of forking the chain.
events = Table(
    "events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("citizen_id", String(32), ForeignKey("citizens.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("citizen_id", "seq"),
)

outbound_queue = Table(
    "outbound_queue",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("citizen_id", String(32), ForeignKey("citizens.id"), nullable=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("state", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The citizen's message this row delivers (a reply); None for notifications.
    Column("message_id", String(32), ForeignKey("messages.id"), nullable=True),
    # The composed mail (envelope and bytes), sealed under the citizen's data key.
    Column("payload_sealed", LargeBinary, nullable=True),
    CheckConstraint(
        "state IN ('queued', 'sending', 'sent', 'failed', 'held', 'bounced')", name="state"
    ),
    Index(None, "state", "due_at"),
    Index(None, "message_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 hex of the token, never the token
    Column("citizen_id", String(32), ForeignKey("citizens.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "citizen_id"),
)
