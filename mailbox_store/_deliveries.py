"""Storing a delivery: seal every recipient's copy, then write all of it in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select

from crypto.sealing import field_aad, seal

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


class DeliveryOps(StoreCore):
    """The delivery write path of MailboxStore."""

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

        now = self._now()
        planned = {
            citizen_id: self._seal_delivery(delivery, citizen_id, deks[citizen_id], now)
            for citizen_id in recipients
        }
        with self._write("store_delivery") as connection:
            statuses = self._lock_citizens(connection, recipients)
            if any(statuses.get(citizen_id) != "active" for citizen_id in recipients):
                raise CitizenNotActive("a recipient of the delivery is not active")
            dedup = [plan.message["dedup_index"] for plan in planned.values()]
            seen = set(connection.execute(_SEEN, {"keys": dedup}).scalars())
            fresh = [c for c in recipients if planned[c].message["dedup_index"] not in seen]
            duplicates = tuple(c for c in recipients if c not in fresh)
            if fresh:
                connection.execute(insert(messages), [planned[c].message for c in fresh])
                attachment_rows = [row for c in fresh for row in planned[c].attachments]
                if attachment_rows:
                    connection.execute(insert(attachments), attachment_rows)
                connection.execute(insert(outbound_queue), [planned[c].queue for c in fresh])
                self._append_events(
                    connection,
                    [
                        (
                            c,
                            "message.received",
                            {
                                "message_id": planned[c].message["id"],
                                "organisation_id": delivery.organisation_id,
                            },
                        )
                        for c in fresh
                    ],
                    now,
                )
        return StoredDelivery(
            message_ids=tuple(planned[c].message["id"] for c in fresh),
            duplicate_citizen_ids=duplicates,
        )

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
        }
        attachment_rows = []
        for position, attachment in enumerate(delivery.attachments):
            attachment_id = new_id()
            attachment_rows.append(
                {
                    "id": attachment_id,
                    "message_id": message_id,
                    "position": position,
                    "filename_sealed": sealed(
                        "attachments", attachment_id, "filename", attachment.filename.encode()
                    ),
                    "content_type": attachment.content_type,
                    "size": len(attachment.data),
                    "data_sealed": sealed("attachments", attachment_id, "data", attachment.data),
                }
            )
        queue = {
            "id": new_id(),
            "kind": "notification",
            "citizen_id": citizen_id,
            "due_at": now,
            "attempts": 0,
            "last_error": None,
            "state": "queued",
            "created_at": now,
            "updated_at": now,
        }
        return _PlannedRows(message, attachment_rows, queue)
