"""Mailbox store: sealed, durable storage of citizens' mail, events, sessions and outbound queue.

SQLAlchemy 2 Core on SQLite (default, WAL + synchronous=FULL) or PostgreSQL (psycopg 3), with
Alembic migrations run programmatically by `MailboxStore.migrate()`.
"""

from __future__ import annotations

from .errors import (
    CitizenExists,
    CitizenNotActive,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from .records import (
    AttachmentInfo,
    AttachmentView,
    CitizenProfile,
    Delivery,
    EventView,
    InboxEntry,
    MessageView,
    NewAttachment,
    QueueEntry,
    OutgoingMail,
    QueueItem,
    StoredDelivery,
)
from .store import MailboxStore

__all__ = [
    "AttachmentInfo",
    "AttachmentView",
    "CitizenExists",
    "CitizenNotActive",
    "CitizenProfile",
    "Delivery",
    "EventView",
    "InboxEntry",
    "MailboxStore",
    "MessageView",
    "NewAttachment",
    "QueueEntry",
    "OutgoingMail",
    "QueueItem",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "StoredDelivery",
]
