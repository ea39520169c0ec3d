"""MailboxStore: the synchronous repository that seals, stores and reads citizens' mail.

Callers on the event loop run these methods in a thread; one Engine (thread-safe pool) serves
all threads, and each public method is one transaction. The operations live in small mixins
over `StoreCore` (see `_core.py` for the sealing and associated-data scheme).
"""

from __future__ import annotations

import json

from sqlalchemy import Table, func, select

from ._citizens import CitizenOps
from ._deliveries import DeliveryOps
from ._queue import QueueOps
from ._reading import ReadingOps
from ._sessions import SessionOps
from .chain import ChainLink, verify_chain
from .engine import translate_errors
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


class MailboxStore(CitizenOps, DeliveryOps, ReadingOps, SessionOps, QueueOps):
    """Sealed storage of citizens, messages, events, sessions and the outbound queue."""

    # -- schema -----------------------------------------------------------------------------

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (idempotent, safe on concurrent start)."""
        with translate_errors("migrate"):
            upgrade_to_head(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    # -- event log --------------------------------------------------------------------------

    def _chain(self, citizen_id: str) -> list[ChainLink]:
        with self._read("events") as connection:
            rows = connection.execute(
                select(events).where(events.c.citizen_id == citizen_id).order_by(events.c.seq)
            ).all()
        return [ChainLink(**row._mapping) for row in rows]

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
