"""Verifiable delivery: acknowledging receipt, and deadlines that pass unacknowledged.

A verifiable message stays closed (see ReadingOps) until the citizen acknowledges it. The
acknowledgement, its event (time, how the citizen identified, the SHA-256 of the stored
original) and the signed receipt queued to the sender are one transaction; so are the expiry
of the deadline, its event and the notice queued to the sender.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ._conversations import queued_mail_row
from ._core import StoreCore, new_id
from .records import OutgoingMail
from .schema import messages, outbound_queue

__all__ = ["ReceiptOps"]


class ReceiptOps(StoreCore):
    def original_digest(self, citizen_id: str, message_id: str) -> str | None:
        """SHA-256 (hex) of the message's stored original, as the receipt states it."""
        with self._read("original_digest") as connection:
            sealed = connection.execute(
                select(messages.c.original_sealed).where(
                    messages.c.id == message_id, messages.c.citizen_id == citizen_id
                )
            ).scalar_one_or_none()
        if sealed is None:
            return None
        original = self._open(
            self._data_key(citizen_id), sealed, "messages", message_id, "original"
        )
        return hashlib.sha256(original).hexdigest()

    def acknowledge(
        self,
        citizen_id: str,
        message_id: str,
        *,
        method: str,
        digest: str,
        at: datetime,
        receipt: OutgoingMail,
    ) -> datetime | None:
        """Record the acknowledgement made `at` and queue `receipt`, unless it was already
        acknowledged (then nothing is queued twice). Returns the acknowledgement time, or None
        when the message is not this citizen's verifiable message."""
        dek = self._data_key(citizen_id)
        queue_id = new_id()
        with self._write("acknowledge") as connection:
            self._lock_citizens(connection, [citizen_id])
            row = self._verifiable(connection, citizen_id, message_id)
            if row is None:
                return None
            if row.acknowledged_at is not None:
                acknowledged: datetime = row.acknowledged_at
                return acknowledged
            connection.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(acknowledged_at=at, opened_at=row.opened_at or at)
            )
            connection.execute(
                insert(outbound_queue),
                [queued_mail_row(queue_id, "receipt", citizen_id, dek, receipt, at)],
            )
            detail = {
                "message_id": message_id,
                "organisation_id": row.organisation_id,
                "method": method,
                "sha256": digest,
                "queue_id": queue_id,
            }
            self._append_events(connection, [(citizen_id, "message.acknowledged", detail)], at)
        return at

    def overdue_acknowledgements(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """(citizen id, message id) of verifiable messages past their deadline, not yet told."""
        with self._read("overdue_acknowledgements") as connection:
            rows = connection.execute(
                select(messages.c.citizen_id, messages.c.id)
                .where(
                    messages.c.acknowledge_by <= now,
                    messages.c.acknowledged_at.is_(None),
                    messages.c.acknowledgement_expired_at.is_(None),
                )
                .order_by(messages.c.acknowledge_by)
                .limit(limit)
            ).all()
        return [(row.citizen_id, row.id) for row in rows]

    def expire_acknowledgement(
        self,
        citizen_id: str,
        message_id: str,
        *,
        at: datetime,
        notice: Callable[[], OutgoingMail],
    ) -> bool:
        """Mark the deadline passed and queue `notice()` to the sender, once. False when the
        citizen acknowledged meanwhile, or it was already done."""
        mail = notice()  # composed (signed, encrypted) before the lock is taken
        dek = self._data_key(citizen_id)
        queue_id = new_id()
        with self._write("expire_acknowledgement") as connection:
            self._lock_citizens(connection, [citizen_id])
            row = self._verifiable(connection, citizen_id, message_id)
            if (
                row is None
                or row.acknowledged_at is not None
                or row.acknowledgement_expired_at is not None
            ):
                return False
            connection.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(acknowledgement_expired_at=at)
            )
            connection.execute(
                insert(outbound_queue),
                [queued_mail_row(queue_id, "receipt_expired", citizen_id, dek, mail, at)],
            )
            detail = {
                "message_id": message_id,
                "organisation_id": row.organisation_id,
                "queue_id": queue_id,
            }
            self._append_events(
                connection, [(citizen_id, "message.acknowledgement_expired", detail)], at
            )
        return True

    @staticmethod
    def _verifiable(connection: Connection, citizen_id: str, message_id: str) -> Any:
        return connection.execute(
            select(
                messages.c.organisation_id,
                messages.c.opened_at,
                messages.c.acknowledged_at,
                messages.c.acknowledgement_expired_at,
            ).where(
                messages.c.id == message_id,
                messages.c.citizen_id == citizen_id,
                messages.c.verifiable.is_(True),
            )
        ).one_or_none()
