"""Storing a delivery: seal every recipient's copy, then write all of it in one transaction."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from crypto.sealing import field_aad, seal

from ._conversations import queue_row
from ._core import StoreCore, new_id
from .errors import CitizenNotActive
from .records import Delivery, StoredDelivery
from .schema import attachments, messages, outbound_queue

__all__ = ["DeliveryOps"]

_SEEN = select(messages.c.dedup_index).where(
    messages.c.dedup_index.in_(bindparam("keys", expanding=True))
)


@dataclass(frozen=True, slots=True)
class _PlannedRows:
    """The sealed rows of one recipient's copy of a delivery, made before the transaction."""

    message: dict[str, Any]
    attachments: list[dict[str, Any]]
    queue: dict[str, Any]


@dataclass(slots=True)
class _Ticket:
    """One caller's delivery waiting for a group commit, and what became of it."""

    delivery: Delivery
    recipients: tuple[str, ...]
    planned: dict[str, _PlannedRows]
    done: bool = False
    result: StoredDelivery | None = None
    error: Exception | None = None


class DeliveryOps(StoreCore):
    """The delivery write path of MailboxStore, with group commit.

    Every delivery is committed before `store_delivery` returns, but concurrent callers share
    commits: whoever takes the commit lock writes everything queued so far in one transaction,
    so one fsync serves many messages (what a durable database's group commit does).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: list[_Ticket] = []
        self._queue_guard = threading.Lock()
        self._commit_lock = threading.Lock()

    def store_delivery(self, delivery: Delivery) -> StoredDelivery:
        """Store one message for all its recipients in one transaction (all or nothing).

        A recipient who already has this (organisation, Message-ID) is skipped and reported
        in `duplicate_citizen_ids`; every new message gets a "message.received" event and a
        queued notification in the same transaction.
        """
        recipients = tuple(dict.fromkeys(delivery.citizen_ids))  # drop repeats, keep order
        deks = self._data_keys(recipients)
        if len(deks) != len(recipients):
            raise CitizenNotActive("a recipient of the delivery has no account")
        # Sealing runs here, in the caller's thread, outside every lock.
        now = self._now()
        ticket = _Ticket(
            delivery,
            recipients,
            {
                citizen_id: self._seal_delivery(delivery, citizen_id, deks[citizen_id], now)
                for citizen_id in recipients
            },
        )
        with self._queue_guard:
            self._queued.append(ticket)
        with self._commit_lock:
            if not ticket.done:
                with self._queue_guard:
                    batch, self._queued = self._queued, []
                self._commit(batch)
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

    def _commit(self, batch: list[_Ticket]) -> None:
        try:
            with self._write("store_delivery") as connection:
                self._write_batch(connection, batch)
        except Exception as exc:  # nothing of the batch was committed: every caller hears so
            for ticket in batch:
                if ticket.error is None:
                    ticket.result, ticket.error = None, exc
        finally:
            for ticket in batch:
                ticket.done = True

    def _write_batch(self, connection: Connection, batch: list[_Ticket]) -> None:
        now = self._now()
        statuses = self._lock_citizens(connection, (c for t in batch for c in t.recipients))
        keys = [p.message["dedup_index"] for t in batch for p in t.planned.values()]
        seen = set(connection.execute(_SEEN, {"keys": keys}).scalars())
        fresh: list[_PlannedRows] = []
        received: list[tuple[str, str, Mapping[str, Any]]] = []
        for ticket in batch:
            if any(statuses.get(c) != "active" for c in ticket.recipients):
                ticket.error = CitizenNotActive("a recipient of the delivery is not active")
                continue
            new = [
                c for c in ticket.recipients if ticket.planned[c].message["dedup_index"] not in seen
            ]
            for citizen_id in new:
                plan = ticket.planned[citizen_id]
                seen.add(plan.message["dedup_index"])  # a resend queued in the same batch
                fresh.append(plan)
                received.append(
                    (
                        citizen_id,
                        "message.received",
                        {
                            "message_id": plan.message["id"],
                            "organisation_id": ticket.delivery.organisation_id,
                        },
                    )
                )
            ticket.result = StoredDelivery(
                message_ids=tuple(ticket.planned[c].message["id"] for c in new),
                duplicate_citizen_ids=tuple(c for c in ticket.recipients if c not in new),
            )
        if not fresh:
            return
        connection.execute(insert(messages), [plan.message for plan in fresh])
        attachment_rows = [row for plan in fresh for row in plan.attachments]
        if attachment_rows:
            connection.execute(insert(attachments), attachment_rows)
        connection.execute(insert(outbound_queue), [plan.queue for plan in fresh])
        self._append_events(connection, received, now)

    def _seal_delivery(
        self, delivery: Delivery, citizen_id: str, dek: bytes, now: datetime
    ) -> _PlannedRows:
        message_id = new_id()

        def sealed(table: str, row_id: str, field: str, value: bytes) -> bytes:
            return seal(dek, value, field_aad(table, row_id, field))

        dedup_key = json.dumps(
            [delivery.organisation_id, delivery.message_id, citizen_id], ensure_ascii=True
        )
        message = {
            "id": message_id,
            "citizen_id": citizen_id,
            "organisation_id": delivery.organisation_id,
            "dedup_index": self._index(dedup_key, "dedup"),
            "received_at": delivery.received_at,
            "subject_sealed": sealed(
                "messages", message_id, "subject", delivery.subject.encode("utf-8")
            ),
            "text_sealed": sealed("messages", message_id, "text", delivery.text.encode("utf-8")),
            "html_sealed": None
            if delivery.html is None
            else sealed("messages", message_id, "html", delivery.html.encode("utf-8")),
            "sender_sealed": sealed(
                "messages", message_id, "sender", delivery.sender_address.encode("utf-8")
            ),
            "original_sealed": sealed("messages", message_id, "original", delivery.original_mime),
            "opened_at": None,
            "thread_id": delivery.threads.get(citizen_id, message_id),
            "direction": "in",
            "no_reply": delivery.no_reply,
            "verifiable": delivery.acknowledge_by is not None,
            "acknowledge_by": delivery.acknowledge_by,
            "message_id_sealed": sealed(
                "messages", message_id, "message_id", delivery.message_id.encode("utf-8")
            ),
            "signer_cert_sealed": None
            if delivery.signer_certificate is None
            else sealed("messages", message_id, "signer_cert", delivery.signer_certificate),
            "kind": delivery.kind,
            "case_sealed": None
            if delivery.case_reference is None
            else sealed("messages", message_id, "case", delivery.case_reference.encode("utf-8")),
            # The same case of the same organisation groups under one index, without opening.
            "case_index": None
            if delivery.case_reference is None
            else self._index(
                json.dumps([delivery.organisation_id, delivery.case_reference], ensure_ascii=True),
                "case",
            ),
            "status_sealed": None
            if delivery.case_status is None
            else sealed("messages", message_id, "status", delivery.case_status.encode("utf-8")),
        }
        attachment_rows = self._attachment_rows(dek, message_id, delivery.attachments)
        notification = queue_row(new_id(), "notification", citizen_id, now)
        return _PlannedRows(message, attachment_rows, notification)
