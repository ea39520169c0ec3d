"""Mailbox store: sealed, durable storage of citizens' mail, events, sessions and outbound queue.

SQLAlchemy 2 Core on SQLite (default, WAL + synchronous=FULL) or PostgreSQL (psycopg 3), with
Alembic migrations run programmatically by `MailboxStore.migrate()`.
"""

from __future__ import annotations

from ._account import SERVICE_ORGANISATION
from .errors import (
    CitizenExists,
    CitizenNotActive,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from .records import (
    AccountSettings,
    AttachmentInfo,
    AttachmentView,
    CaseView,
    CitizenProfile,
    ComposedReply,
    Delivery,
    EventView,
    ExportedMessage,
    InboxEntry,
    LoginAccount,
    MessageView,
    NewAccount,
    NewAttachment,
    NewReply,
    OutgoingMail,
    QueueEntry,
    QueueItem,
    ReplyContext,
    SenderIdentity,
    ServiceMessage,
    StoredDelivery,
    ThreadEntry,
    ThreadOwner,
)
from .store import MailboxStore

__all__ = [
    "SERVICE_ORGANISATION",
    "AccountSettings",
    "AttachmentInfo",
    "AttachmentView",
    "CaseView",
    "CitizenExists",
    "CitizenNotActive",
    "CitizenProfile",
    "ComposedReply",
    "Delivery",
    "EventView",
    "ExportedMessage",
    "InboxEntry",
    "LoginAccount",
    "MailboxStore",
    "MessageView",
    "NewAccount",
    "NewAttachment",
    "NewReply",
    "SenderIdentity",
    "OutgoingMail",
    "QueueEntry",
    "QueueItem",
    "ReplyContext",
    "ServiceMessage",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "StoredDelivery",
    "ThreadEntry",
    "ThreadOwner",
]
