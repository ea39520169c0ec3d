"""MailboxStore: the synchronous repository that seals, stores and reads citizens' mail.

Callers on the event loop run these methods in a thread; one Engine (thread-safe pool) serves
all threads, and each public method is one transaction. The operations live in small mixins
over `StoreCore` (see `_core.py` for the sealing and associated-data scheme).
"""

from __future__ import annotations

import contextlib
import json

from sqlalchemy import Table, func, select

from ._account import AccountOps
from ._bounces import BounceOps
from ._citizens import CitizenOps
from ._conversations import ConversationOps
from ._deliveries import DeliveryOps
from ._lifecycle import LifecycleOps
from ._onboarding import OnboardingOps
from ._queue import QueueOps
from ._queue_admin import QueueAdminOps
from ._reading import ReadingOps
from ._receipts import ReceiptOps
from ._sessions import SessionOps
from .chain import ChainLink, verify_chain
from .engine import translate_errors
from .errors import StoreError
from .migrate import upgrade_to_head
from .records import EventView
from .schema import attachments, citizens, events, messages, outbound_queue, sessions

__all__ = ["MailboxStore"]

_ALL_TABLES: tuple[Table, ...] = (
    citizens,
    messages,
    attachments,
    events,
    outbound_queue,
    sessions,
)


class MailboxStore(
    OnboardingOps,  # first: it builds on CitizenOps and AccountOps
    CitizenOps,
    DeliveryOps,
    LifecycleOps,
    ReadingOps,
    ConversationOps,
    ReceiptOps,
    SessionOps,
    QueueOps,
    QueueAdminOps,
    BounceOps,
    AccountOps,
):
    """Sealed storage of citizens, messages, events, sessions and the outbound queue."""

    # -- schema -----------------------------------------------------------------------------

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (idempotent, safe on concurrent start)."""
        with translate_errors("migrate"):
            upgrade_to_head(self._engine)

    def close(self) -> None:
        # Best effort: what stays in the WAL is just as durable, and is copied on next open.
        with contextlib.suppress(StoreError):
            self.checkpoint()
        self._engine.dispose()

    def checkpoint(self) -> None:
        """Copy committed WAL pages into the SQLite database file (no-op on PostgreSQL).

        PASSIVE: it never waits for or blocks writers; what it cannot copy now, a later call
        will. Needed regularly when the store was made with background_checkpoints=True.
        """
        if self._engine.dialect.name != "sqlite":
            return
        with translate_errors("checkpoint"):
            # On the driver connection itself: SQLAlchemy would wrap it in a transaction, and a
            # checkpoint inside one cannot pass the snapshot that transaction holds.
            raw = self._engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
            finally:
                raw.close()

    # -- event log --------------------------------------------------------------------------

    def _chain(self, citizen_id: str) -> list[ChainLink]:
        with self._read("events") as connection:
            rows = connection.execute(
                select(events).where(events.c.citizen_id == citizen_id).order_by(events.c.seq)
            ).all()
        return [ChainLink(**row._mapping) for row in rows]

    def event_chain(self, citizen_id: str) -> list[ChainLink]:
        """The citizen's stored event links, in sequence order, exactly as hashed."""
        return self._chain(citizen_id)

    def events(self, citizen_id: str) -> list[EventView]:
        return [
            EventView(kind=link.kind, at=link.at, detail=json.loads(link.detail), hash=link.hash)
            for link in self._chain(citizen_id)
        ]

    def verify_events(self, citizen_id: str) -> bool:
        """True when the citizen's stored event log is an unbroken hash chain."""
        return verify_chain(self._chain(citizen_id))

    # -- tests and operations ---------------------------------------------------------------

    def table_counts(self) -> dict[str, int]:
        with self._read("table_counts") as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in _ALL_TABLES
            }
