"""The outbound queue: leased claims (SKIP LOCKED on PostgreSQL), outcomes as events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ._conversations import decode_mail
from ._core import StoreCore
from .errors import StoreCorrupt
from .records import OutgoingMail, QueueItem
from .schema import outbound_queue

__all__ = ["QueueOps"]

_MAX_ERROR_LENGTH = 1000


class QueueOps(StoreCore):
    """Outbound queue operations of MailboxStore."""

    def claim_due(self, *, now: datetime, limit: int) -> list[QueueItem]:
        """Claim up to `limit` due rows for sending, each for one lease.

        A claimed row is in state "sending" with `due_at` at the end of its lease; a worker that
        dies leaves it there, and once the lease is over the row is claimable again.
        """
        lease_end = now + self._lease
        with self._write("claim_due") as connection:
            rows = connection.execute(
                select(
                    outbound_queue.c.id,
                    outbound_queue.c.kind,
                    outbound_queue.c.citizen_id,
                    outbound_queue.c.attempts,
                    outbound_queue.c.payload_sealed,
                )
                .where(
                    outbound_queue.c.state.in_(("queued", "sending")),
                    outbound_queue.c.due_at <= now,
                )
                .order_by(outbound_queue.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                connection.execute(
                    update(outbound_queue)
                    .where(outbound_queue.c.id.in_([row.id for row in rows]))
                    .values(
                        state="sending",
                        due_at=lease_end,
                        attempts=outbound_queue.c.attempts + 1,
                        updated_at=now,
                    )
                )
        return [
            QueueItem(
                id=row.id,
                kind=row.kind,
                citizen_id=row.citizen_id,
                attempts=row.attempts + 1,
                due_at=lease_end,
                payload=self._payload(row.id, row.citizen_id, row.payload_sealed),
            )
            for row in rows
        ]

    def _payload(
        self, queue_id: str, citizen_id: str | None, sealed: bytes | None
    ) -> OutgoingMail | None:
        if sealed is None:
            return None
        if citizen_id is None:
            raise StoreCorrupt("a queued mail with a payload belongs to no citizen")
        dek = self._data_key(citizen_id)
        return decode_mail(self._open(dek, sealed, "outbound_queue", queue_id, "payload"))

    def mark_sent(self, *item_ids: str) -> None:
        """Record rows as delivered, all in one transaction (a claim's worth at a time)."""
        self._finish(item_ids, state="sent", error=None, due_at=None, outcome="sent")

    def mark_failed(self, item_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt; retry at `retry_at`, or never when it is None.

        `error` is stored in the clear for the operator: pass a summary without addresses or
        content (e.g. the SMTP reply code and enhanced status).
        """
        if retry_at is None:
            self._finish((item_id,), state="failed", error=error, due_at=None, outcome="failed")
        else:
            self._finish(
                (item_id,), state="queued", error=error, due_at=retry_at, outcome="deferred"
            )

    def _finish(
        self,
        item_ids: Sequence[str],
        *,
        state: str,
        error: str | None,
        due_at: datetime | None,
        outcome: str,
    ) -> None:
        if not item_ids:
            return
        now = self._now()
        values: dict[str, Any] = {
            "state": state,
            "last_error": None if error is None else error[:_MAX_ERROR_LENGTH],
            "updated_at": now,
        }
        if due_at is not None:
            values["due_at"] = due_at
        with self._write(f"mark_{outcome}") as connection:
            rows = connection.execute(
                select(
                    outbound_queue.c.id,
                    outbound_queue.c.kind,
                    outbound_queue.c.citizen_id,
                    outbound_queue.c.attempts,
                ).where(outbound_queue.c.id.in_(item_ids))
            ).all()
            if len(rows) != len(set(item_ids)):
                raise KeyError("no such queue item")
            citizens = [row.citizen_id for row in rows if row.citizen_id is not None]
            if citizens:
                self._lock_citizens(connection, citizens)
            connection.execute(
                update(outbound_queue).where(outbound_queue.c.id.in_(item_ids)).values(**values)
            )
            self._append_events(
                connection,
                [
                    (
                        row.citizen_id,
                        f"{row.kind}.{outcome}",
                        {"queue_id": row.id, "attempts": row.attempts},
                    )
                    for row in rows
                    if row.citizen_id is not None
                ],
                now,
            )
