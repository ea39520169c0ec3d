"""A message's life after delivery: its case, deletion by the citizen, purging, reminders.

Deleting moves a message to the citizen's Deleted view; `purge_deleted` removes it for good
(attachments and row; the events that name it stay, so the log keeps its history). A verifiable
message the citizen has not acknowledged cannot be deleted: it is evidence still owed. A
message left unread brings one reminder notification (`remind_unread`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ._conversations import queue_row
from ._core import new_id
from ._reading import ReadingOps
from .records import CaseView, InboxEntry
from .schema import attachments, citizens, messages, outbound_queue

__all__ = ["LifecycleOps"]

_ENTRY_COLUMNS = (
    messages.c.id,
    messages.c.subject_sealed,
    messages.c.organisation_id,
    messages.c.received_at,
    messages.c.opened_at,
    messages.c.kind,
    messages.c.case_sealed,
    messages.c.status_sealed,
    messages.c.deleted_at,
)


class LifecycleOps(ReadingOps):
    """Cases, deletion, purging and unread reminders of MailboxStore (over the read path,
    whose inbox lines the case and Deleted views share)."""

    def cases(self, citizen_id: str) -> list[CaseView]:
        """The citizen's cases, the one with the newest message first; deleted ones left out."""
        with self._read("cases") as connection:
            rows = connection.execute(
                select(*_ENTRY_COLUMNS, messages.c.case_index)
                .where(
                    messages.c.citizen_id == citizen_id,
                    messages.c.direction == "in",
                    messages.c.case_index.is_not(None),
                    messages.c.deleted_at.is_(None),
                )
                .order_by(messages.c.received_at.desc(), messages.c.id.desc())
            ).all()
        if not rows:
            return []
        dek = self._data_key(citizen_id)
        grouped: dict[str, list[InboxEntry]] = defaultdict(list)
        for row in rows:  # newest first, so each group is too, and dicts keep first-seen order
            grouped[row.case_index].append(self._inbox_entry(dek, row))
        cases = []
        for entries in grouped.values():
            cases.append(
                CaseView(
                    # A case index is only ever written with its sealed reference.
                    reference=entries[0].case_reference or "",
                    organisation_id=entries[0].organisation_id,
                    status=next((e.case_status for e in entries if e.case_status), None),
                    messages=tuple(entries),
                )
            )
        return cases

    def deleted_messages(self, citizen_id: str) -> list[InboxEntry]:
        """The Deleted view: most recently deleted first."""
        with self._read("deleted_messages") as connection:
            rows = connection.execute(
                select(*_ENTRY_COLUMNS)
                .where(messages.c.citizen_id == citizen_id, messages.c.deleted_at.is_not(None))
                .order_by(messages.c.deleted_at.desc(), messages.c.id.desc())
            ).all()
        if not rows:
            return []
        dek = self._data_key(citizen_id)
        return [self._inbox_entry(dek, row) for row in rows]

    def delete_message(self, citizen_id: str, message_id: str) -> bool | None:
        """Move a received message to the Deleted view. None when it is not this citizen's;
        False when it is a verifiable message not yet acknowledged (it cannot be deleted)."""
        now = self._now()
        with self._write("delete_message") as connection:
            self._lock_citizens(connection, [citizen_id])
            row = self._own_received(connection, citizen_id, message_id)
            if row is None:
                return None
            if row.verifiable and row.acknowledged_at is None:
                return False
            if row.deleted_at is None:
                connection.execute(
                    update(messages).where(messages.c.id == message_id).values(deleted_at=now)
                )
                detail = {"message_id": message_id, "organisation_id": row.organisation_id}
                self._append_events(connection, [(citizen_id, "message.deleted", detail)], now)
        return True

    def restore_message(self, citizen_id: str, message_id: str) -> bool:
        """Take a message back from the Deleted view; False when there is no such message."""
        now = self._now()
        with self._write("restore_message") as connection:
            self._lock_citizens(connection, [citizen_id])
            row = self._own_received(connection, citizen_id, message_id)
            if row is None:
                return False
            if row.deleted_at is not None:
                connection.execute(
                    update(messages).where(messages.c.id == message_id).values(deleted_at=None)
                )
                detail = {"message_id": message_id, "organisation_id": row.organisation_id}
                self._append_events(connection, [(citizen_id, "message.restored", detail)], now)
        return True

    @staticmethod
    def _own_received(connection: Connection, citizen_id: str, message_id: str) -> Any:
        return connection.execute(
            select(
                messages.c.organisation_id,
                messages.c.verifiable,
                messages.c.acknowledged_at,
                messages.c.deleted_at,
            ).where(
                messages.c.id == message_id,
                messages.c.citizen_id == citizen_id,
                messages.c.direction == "in",
            )
        ).one_or_none()

    def purge_deleted(
        self, now: datetime, *, retention: timedelta = timedelta(days=30), limit: int = 100
    ) -> int:
        """Remove for good up to `limit` messages deleted at least `retention` before `now`:
        their attachments and rows, unlinking queue rows. Returns how many were purged."""
        due = messages.c.deleted_at <= now - retention
        with self._write("purge_deleted") as connection:
            found = connection.execute(
                select(messages.c.citizen_id)
                .where(due)
                .order_by(messages.c.deleted_at)
                .limit(limit)
            ).scalars()
            self._lock_citizens(connection, found)
            # Read again under the citizens' locks: a restore may have come first.
            rows = connection.execute(
                select(messages.c.id, messages.c.citizen_id, messages.c.organisation_id)
                .where(due)
                .order_by(messages.c.deleted_at)
                .limit(limit)
            ).all()
            if not rows:
                return 0
            ids = [row.id for row in rows]
            connection.execute(delete(attachments).where(attachments.c.message_id.in_(ids)))
            connection.execute(
                update(outbound_queue)
                .where(outbound_queue.c.message_id.in_(ids))
                .values(message_id=None)
            )
            connection.execute(delete(messages).where(messages.c.id.in_(ids)))
            self._append_events(
                connection,
                [
                    (
                        row.citizen_id,
                        "message.purged",
                        {"message_id": row.id, "organisation_id": row.organisation_id},
                    )
                    for row in rows
                ],
                now,
            )
        return len(rows)

    def remind_unread(
        self, now: datetime, *, after: timedelta = timedelta(days=7), limit: int = 100
    ) -> int:
        """Claim up to `limit` received messages unread for `after`, never reminded of, not
        deleted, of active citizens; queue one notification per citizen. Returns how many
        messages were claimed; each is reminded of only once."""
        due = (
            select(messages.c.id, messages.c.citizen_id, messages.c.organisation_id)
            .join(citizens, citizens.c.id == messages.c.citizen_id)
            .where(
                messages.c.direction == "in",
                messages.c.opened_at.is_(None),
                messages.c.reminded_at.is_(None),
                messages.c.deleted_at.is_(None),
                messages.c.received_at <= now - after,
                citizens.c.status == "active",
            )
            .order_by(messages.c.received_at)
            .limit(limit)
        )
        with self._write("remind_unread") as connection:
            found = [row.citizen_id for row in connection.execute(due)]
            self._lock_citizens(connection, found)
            rows = connection.execute(due).all()  # again, under the citizens' locks
            if not rows:
                return 0
            connection.execute(
                update(messages)
                .where(messages.c.id.in_([row.id for row in rows]))
                .values(reminded_at=now)
            )
            queued = {citizen_id: new_id() for citizen_id in {row.citizen_id for row in rows}}
            connection.execute(
                insert(outbound_queue),
                [queue_row(queue_id, "notification", c, now) for c, queue_id in queued.items()],
            )
            self._append_events(
                connection,
                [
                    (
                        row.citizen_id,
                        "message.reminded",
                        {
                            "message_id": row.id,
                            "organisation_id": row.organisation_id,
                            "queue_id": queued[row.citizen_id],
                        },
                    )
                    for row in rows
                ],
                now,
            )
        return len(rows)
