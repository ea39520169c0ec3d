"""The operator's view of the outbound queue, in the manner of postqueue/postsuper.

Listing shows no content and only masked recipient addresses; every change an operator makes to
a citizen's mail is recorded in that citizen's event log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from ._core import StoreCore
from .records import QueueEntry
from .schema import outbound_queue

__all__ = ["QueueAdminOps", "mask_address"]

_ACTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    # action: (states it applies to, state afterwards, what the event log calls it)
    "hold": (("queued", "sending"), "held", "held"),
    "release": (("held",), "queued", "released"),
    "retry": (("queued", "failed"), "queued", "retried"),
}


def mask_address(address: str | None) -> str | None:
    """Enough for an operator to tell addresses apart, too little to learn one."""
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


class QueueAdminOps(StoreCore):
    """Queue listing and maintenance for `asiointitili queue`."""

    def queue_entries(self, *, states: Sequence[str] = ()) -> list[QueueEntry]:
        query = select(outbound_queue).order_by(outbound_queue.c.due_at)
        if states:
            query = query.where(outbound_queue.c.state.in_(tuple(states)))
        with self._read("queue_entries") as connection:
            rows = connection.execute(query).all()
        # One profile look-up per citizen, however many of their mails are queued.
        recipients = {c: self._masked_email(c) for c in {r.citizen_id for r in rows} if c}
        return [self._entry(row, recipients.get(row.citizen_id)) for row in rows]

    def queue_entry(self, entry_id: str) -> QueueEntry | None:
        with self._read("queue_entry") as connection:
            row = connection.execute(
                select(outbound_queue).where(outbound_queue.c.id == entry_id)
            ).one_or_none()
        if row is None:
            return None
        return self._entry(row, row.citizen_id and self._masked_email(row.citizen_id))

    def _masked_email(self, citizen_id: str) -> str | None:
        profile = self.citizen_profile(citizen_id)  # type: ignore[attr-defined]
        return mask_address(profile.email if profile else None)

    @staticmethod
    def _entry(row: Any, recipient: str | None) -> QueueEntry:
        return QueueEntry(
            id=row.id,
            kind=row.kind,
            state=row.state,
            attempts=row.attempts,
            due_at=row.due_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_error=row.last_error,
            recipient=recipient,
        )

    def change_queue_entries(self, action: str, entry_ids: Sequence[str] | None) -> int:
        """hold, release or retry the given entries (None: every entry the action applies to).

        Returns how many changed. Retry and release make the entries due now.
        """
        applies_to, new_state, event = _ACTIONS[action]
        now = self._now()
        values: dict[str, Any] = {"state": new_state, "updated_at": now}
        if action != "hold":
            values["due_at"] = now
        with self._write(f"queue_{action}") as connection:
            rows = self._select(connection, entry_ids, applies_to)
            if rows:
                connection.execute(
                    update(outbound_queue)
                    .where(outbound_queue.c.id.in_([row.id for row in rows]))
                    .values(**values)
                )
                self._record(connection, rows, event, now)
        return len(rows)

    def delete_queue_entries(self, entry_ids: Sequence[str]) -> int:
        """Remove entries that are not being sent right now; returns how many."""
        now = self._now()
        with self._write("queue_delete") as connection:
            rows = self._select(connection, entry_ids, ("queued", "held", "failed", "sent"))
            if rows:
                connection.execute(
                    delete(outbound_queue).where(outbound_queue.c.id.in_([r.id for r in rows]))
                )
                self._record(connection, rows, "deleted", now)
        return len(rows)

    def _select(
        self, connection: Connection, entry_ids: Sequence[str] | None, states: Sequence[str]
    ) -> list[Any]:
        query = select(
            outbound_queue.c.id, outbound_queue.c.kind, outbound_queue.c.citizen_id
        ).where(outbound_queue.c.state.in_(tuple(states)))
        if entry_ids is not None:
            query = query.where(outbound_queue.c.id.in_(tuple(entry_ids)))
        return list(connection.execute(query.with_for_update()).all())

    def _record(self, connection: Connection, rows: Sequence[Any], action: str, now: Any) -> None:
        citizens = [row.citizen_id for row in rows if row.citizen_id is not None]
        if citizens:
            self._lock_citizens(connection, citizens)
            self._append_events(
                connection,
                [
                    (row.citizen_id, f"{row.kind}.{action}", {"queue_id": row.id, "by": "operator"})
                    for row in rows
                    if row.citizen_id is not None
                ],
                now,
            )
