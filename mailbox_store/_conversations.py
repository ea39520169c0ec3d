"""Threads: answering a received message, the citizen's sent replies, and reply tokens' rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from crypto.sealing import field_aad, seal

from ._core import StoreCore, new_id
from .errors import CitizenNotActive
from .records import (
    ComposedReply,
    NewReply,
    OutgoingMail,
    ReplyContext,
    SenderIdentity,
    ThreadEntry,
    ThreadOwner,
)
from .schema import attachments, citizens, messages, outbound_queue

__all__ = ["ConversationOps"]


class ConversationOps(StoreCore):
    """Reply-related operations of MailboxStore."""

    def reply_context(self, citizen_id: str, message_id: str) -> ReplyContext | None:
        """What answering this received message needs, if it is this citizen's."""
        with self._read("reply_context") as connection:
            row = connection.execute(
                select(messages).where(
                    messages.c.id == message_id,
                    messages.c.citizen_id == citizen_id,
                    messages.c.direction == "in",
                )
            ).one_or_none()
            if row is None:
                return None
            thread = connection.execute(
                select(messages.c.id, messages.c.message_id_sealed)
                .where(messages.c.citizen_id == citizen_id, messages.c.thread_id == row.thread_id)
                .order_by(messages.c.received_at, messages.c.id)
            ).all()
        person = self.sender_identity(citizen_id)
        if person is None:
            return None
        dek = self._data_key(citizen_id)

        def opened(table: str, row_id: str, field: str, blob: bytes | None) -> bytes | None:
            return None if blob is None else self._open(dek, blob, table, row_id, field)

        clerk_id = opened("messages", row.id, "message_id", row.message_id_sealed)
        return ReplyContext(
            message_id=row.id,
            citizen_id=citizen_id,
            organisation_id=row.organisation_id,
            thread_id=row.thread_id,
            subject=self._open_text(dek, row.subject_sealed, "messages", row.id, "subject"),
            received_at=row.received_at,
            sender_address=self._open_text(dek, row.sender_sealed, "messages", row.id, "sender"),
            clerk_message_id=None if clerk_id is None else clerk_id.decode("utf-8"),
            signer_certificate=opened("messages", row.id, "signer_cert", row.signer_cert_sealed),
            no_reply=row.no_reply,
            references=tuple(
                ref.decode("utf-8")
                for entry in thread
                if (ref := opened("messages", entry.id, "message_id", entry.message_id_sealed))
            ),
            citizen_name=person.name,
            hetu=person.hetu,
            lang=person.lang,
        )

    def sender_identity(self, citizen_id: str) -> SenderIdentity | None:
        """The citizen's name, HETU and language, for what they send to an organisation."""
        with self._read("sender_identity") as connection:
            person = connection.execute(
                select(citizens.c.hetu_sealed, citizens.c.name_sealed, citizens.c.lang).where(
                    citizens.c.id == citizen_id
                )
            ).one_or_none()
        if person is None:
            return None
        dek = self._data_key(citizen_id)
        return SenderIdentity(
            name=self._open_text(dek, person.name_sealed, "citizens", citizen_id, "name"),
            hetu=self._open_text(dek, person.hetu_sealed, "citizens", citizen_id, "hetu"),
            lang=person.lang,
        )

    def store_reply(self, reply: NewReply, compose: Callable[[str], ComposedReply]) -> str:
        """Store the citizen's reply in its thread (a new message in a thread of its own) and
        queue it, in one transaction.

        `compose(row_id)` makes the outgoing mail (it needs the new row's id for the reply
        token); it runs before the transaction, so signing and encryption hold no lock.
        Returns the new message row id.
        """
        row_id = new_id()
        composed = compose(row_id)
        dek = self._data_key(reply.citizen_id)
        now = self._now()
        queue_id = new_id()

        def sealed(table: str, owner: str, field: str, value: bytes) -> bytes:
            return seal(dek, value, field_aad(table, owner, field))

        message_row: dict[str, Any] = {
            "id": row_id,
            "citizen_id": reply.citizen_id,
            "organisation_id": reply.organisation_id,
            # Nobody resends a citizen's reply, but the column is unique and not null.
            "dedup_index": self._index(row_id, "dedup-out"),
            "received_at": now,
            "subject_sealed": sealed("messages", row_id, "subject", reply.subject.encode()),
            "text_sealed": sealed("messages", row_id, "text", reply.text.encode()),
            "html_sealed": None,
            # For a sent message the counterpart is the recipient list.
            "sender_sealed": sealed(
                "messages", row_id, "sender", ", ".join(composed.mail.recipients).encode()
            ),
            # Exactly what left (encrypted to the organisation): the record of what was sent.
            "original_sealed": sealed("messages", row_id, "original", composed.mail.data),
            "opened_at": now,
            "thread_id": reply.thread_id or row_id,
            "direction": "out",
            "no_reply": False,
            "message_id_sealed": sealed(
                "messages", row_id, "message_id", composed.message_id.strip("<>").encode()
            ),
            "signer_cert_sealed": None,
        }
        attachment_rows = self._attachment_rows(dek, row_id, reply.attachments)
        queue_row = queued_mail_row(
            queue_id, "reply", reply.citizen_id, dek, composed.mail, now, message_id=row_id
        )
        with self._write("store_reply") as connection:
            self._check_active(connection, reply.citizen_id)
            connection.execute(insert(messages), [message_row])
            if attachment_rows:
                connection.execute(insert(attachments), attachment_rows)
            connection.execute(insert(outbound_queue), [queue_row])
            detail = {
                "message_id": row_id,
                "in_reply_to": reply.in_reply_to,
                "organisation_id": reply.organisation_id,
                "queue_id": queue_id,
            }
            kind = "message.replied" if reply.in_reply_to else "message.sent"
            self._append_events(connection, [(reply.citizen_id, kind, detail)], now)
        return row_id

    def _check_active(self, connection: Connection, citizen_id: str) -> None:
        if self._lock_citizens(connection, [citizen_id]).get(citizen_id) != "active":
            raise CitizenNotActive("the account is not active")

    def thread(self, citizen_id: str, thread_id: str) -> list[ThreadEntry]:
        """The thread's messages, oldest first, with the delivery state of sent ones."""
        with self._read("thread") as connection:
            rows = connection.execute(
                select(
                    messages.c.id,
                    messages.c.direction,
                    messages.c.subject_sealed,
                    messages.c.received_at,
                    outbound_queue.c.state,
                )
                .outerjoin(outbound_queue, outbound_queue.c.message_id == messages.c.id)
                .where(messages.c.citizen_id == citizen_id, messages.c.thread_id == thread_id)
                .order_by(messages.c.received_at, messages.c.id)
            ).all()
        if not rows:
            return []
        dek = self._data_key(citizen_id)
        return [
            ThreadEntry(
                id=row.id,
                direction=row.direction,
                subject=self._open_text(dek, row.subject_sealed, "messages", row.id, "subject"),
                at=row.received_at,
                delivery=row.state,
            )
            for row in rows
        ]

    def thread_owner(self, message_row_id: str) -> ThreadOwner | None:
        """Whose reply a row is, for checking a reply token; None unless it is a sent reply."""
        with self._read("thread_owner") as connection:
            row = connection.execute(
                select(
                    messages.c.citizen_id,
                    messages.c.thread_id,
                    messages.c.organisation_id,
                    citizens.c.status,
                )
                .join(citizens, citizens.c.id == messages.c.citizen_id)
                .where(messages.c.id == message_row_id, messages.c.direction == "out")
            ).one_or_none()
        if row is None:
            return None
        return ThreadOwner(
            message_row_id=message_row_id,
            citizen_id=row.citizen_id,
            thread_id=row.thread_id,
            organisation_id=row.organisation_id,
            active=row.status == "active",
        )


def queued_mail_row(
    queue_id: str,
    kind: str,
    citizen_id: str,
    dek: bytes,
    mail: OutgoingMail,
    now: datetime,
    *,
    message_id: str | None = None,
) -> dict[str, Any]:
    """An outbound_queue row carrying a composed mail, sealed under the citizen's data key."""
    return {
        **queue_row(queue_id, kind, citizen_id, now),
        "message_id": message_id,
        "payload_sealed": seal(
            dek, encode_mail(mail), field_aad("outbound_queue", queue_id, "payload")
        ),
    }


def queue_row(queue_id: str, kind: str, citizen_id: str, now: datetime) -> dict[str, Any]:
    """A new outbound_queue row, due now (a notification; mails add their payload)."""
    return {
        "id": queue_id,
        "kind": kind,
        "citizen_id": citizen_id,
        "due_at": now,
        "attempts": 0,
        "last_error": None,
        "state": "queued",
        "created_at": now,
        "updated_at": now,
        "message_id": None,
        "payload_sealed": None,
    }


def encode_mail(mail: OutgoingMail) -> bytes:
    """Envelope recipients and bytes in one blob: a line of recipients, then the mail."""
    if any(c in r for r in mail.recipients for c in "\t\r\n"):
        raise ValueError("an envelope recipient holds a control character")
    return "\t".join(mail.recipients).encode("utf-8") + b"\n" + mail.data


def decode_mail(blob: bytes) -> OutgoingMail:
    head, _, data = blob.partition(b"\n")
    return OutgoingMail(recipients=tuple(head.decode("utf-8").split("\t")), data=data)
