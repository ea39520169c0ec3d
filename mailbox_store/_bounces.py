"""Delivery status notifications for outbound mail, and whether a citizen's address works.

A DSN arrives at the per-mail return path of one queue row (smtp_out.verp). A permanent failure
ends the row in state "bounced"; every report becomes an event in the citizen's log. Only the
RFC 3463 status code is kept: diagnostic texts echo addresses.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import select, update

from ._core import StoreCore
from .schema import events, outbound_queue

__all__ = ["BounceOps"]

# DSN action (RFC 3464 section 2.3.3) -> what the citizen's event log calls it.
_EVENTS = {
    "failed": "bounced",
    "delayed": "delayed",
    "delivered": "delivered",
    "relayed": "relayed",
    "expanded": "expanded",
}
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}", re.ASCII)


class BounceOps(StoreCore):
    """Bounce recording of MailboxStore."""

    def record_bounce(self, queue_id: str, *, action: str, status: str) -> bool:
        """Record what a DSN reports about queue row `queue_id`; False when there is no such row.

        `action` "failed" marks the row bounced, with last_error "bounced <status>"; the other
        actions only add an event. `status` must be a bare RFC 3463 code, so that nothing the
        remote wrote (addresses) can end up in the row or the event log.
        """
        event = _EVENTS.get(action)
        if event is None:
            raise ValueError("unknown DSN action")
        if not _STATUS.fullmatch(status):
            raise ValueError("a DSN status must be an RFC 3463 code")
        now = self._now()
        with self._write("record_bounce") as connection:
            row = connection.execute(
                select(outbound_queue.c.kind, outbound_queue.c.citizen_id).where(
                    outbound_queue.c.id == queue_id
                )
            ).one_or_none()
            if row is None:
                return False
            # Citizen first, then the queue row: the lock order of the queue worker's outcomes.
            if row.citizen_id is not None:
                self._lock_citizens(connection, [row.citizen_id])
            if action == "failed":
                connection.execute(
                    update(outbound_queue)
                    .where(outbound_queue.c.id == queue_id)
                    .values(state="bounced", last_error=f"bounced {status}", updated_at=now)
                )
            if row.citizen_id is not None:
                detail = {"queue_id": queue_id, "status": status}
                self._append_events(
                    connection, [(row.citizen_id, f"{row.kind}.{event}", detail)], now
                )
        return True

    def unreachable_email(self, citizen_id: str) -> bool:
        """Whether the citizen's most recently sent notification bounced.

        True from that bounce until a later notification is sent; the portal then asks the
        citizen to check their address. Read from the event log, in the order things happened:
        its (citizen, seq) index finds the last send without scanning the queue.
        """
        with self._read("unreachable_email") as connection:
            last_sent = connection.execute(
                select(events.c.detail)
                .where(events.c.citizen_id == citizen_id, events.c.kind == "notification.sent")
                .order_by(events.c.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
            if last_sent is None:
                return False
            state = connection.execute(
                select(outbound_queue.c.state).where(
                    outbound_queue.c.id == json.loads(last_sent)["queue_id"]
                )
            ).scalar_one_or_none()
        return state == "bounced"
