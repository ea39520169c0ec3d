"""The citizen's side: inbox pages, opening a message (recorded once), attachments."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_, select, update

from ._core import StoreCore
from .errors import StoreCorrupt
from .records import AttachmentInfo, AttachmentView, InboxEntry, MessageView, Verification
from .schema import attachments, messages
from .spans import decode_span

__all__ = ["ReadingOps"]


class ReadingOps(StoreCore):
    """The citizen's read path of MailboxStore."""

    def inbox(self, citizen_id: str, *, offset: int = 0, limit: int = 20) -> list[InboxEntry]:
        """Newest first; subjects opened, bodies untouched."""
        with self._read("inbox") as connection:
            rows = connection.execute(
                select(
                    messages.c.id,
                    messages.c.subject_sealed,
                    messages.c.organisation_id,
                    messages.c.received_at,
                    messages.c.opened_at,
                    messages.c.kind,
                    messages.c.case_sealed,
                    messages.c.status_sealed,
                    messages.c.direction,
                )
                # The citizen's own replies are shown in their threads, not as inbox entries,
                # but a new message they started heads its thread; deleted messages are in the
                # Deleted view.
                .where(
                    messages.c.citizen_id == citizen_id,
                    or_(messages.c.direction == "in", messages.c.id == messages.c.thread_id),
                    messages.c.deleted_at.is_(None),
                )
                .order_by(messages.c.received_at.desc(), messages.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        if not rows:
            return []
        dek = self._data_key(citizen_id)
        return [self._inbox_entry(dek, row) for row in rows]

    def _inbox_entry(self, dek: bytes, row: Any) -> InboxEntry:
        """An inbox line from a row with the inbox columns (deleted_at where selected)."""
        return InboxEntry(
            id=row.id,
            subject=self._open_text(dek, row.subject_sealed, "messages", row.id, "subject"),
            organisation_id=row.organisation_id,
            received_at=row.received_at,
            opened=row.opened_at is not None,
            kind=row.kind,
            case_reference=self._open_optional(dek, row.case_sealed, row.id, "case"),
            case_status=self._open_optional(dek, row.status_sealed, row.id, "status"),
            deleted_at=getattr(row, "deleted_at", None),
            direction=getattr(row, "direction", "in"),
        )

    def _open_optional(self, dek: bytes, blob: bytes | None, row_id: str, field: str) -> str | None:
        return None if blob is None else self._open_text(dek, blob, "messages", row_id, field)

    def read_message(self, citizen_id: str, message_id: str) -> MessageView | None:
        """The whole message if it is this citizen's; the first read records "message.opened"."""
        with self._read("read_message") as connection:
            row = connection.execute(
                select(messages).where(
                    messages.c.id == message_id, messages.c.citizen_id == citizen_id
                )
            ).one_or_none()
            if row is None:
                return None
            files = connection.execute(
                select(
                    attachments.c.id,
                    attachments.c.filename_sealed,
                    attachments.c.content_type,
                    attachments.c.size,
                )
                .where(attachments.c.message_id == message_id)
                .order_by(attachments.c.position)
            ).all()
        dek = self._data_key(citizen_id)

        def text(field: str) -> str:
            return self._open_text(dek, getattr(row, f"{field}_sealed"), "messages", row.id, field)

        tags: dict[str, Any] = {
            "kind": row.kind,
            "case_reference": self._open_optional(dek, row.case_sealed, row.id, "case"),
            "case_status": self._open_optional(dek, row.status_sealed, row.id, "status"),
            "deleted_at": row.deleted_at,
        }
        verification = Verification(
            required=row.verifiable,
            acknowledge_by=row.acknowledge_by,
            acknowledged_at=row.acknowledged_at,
            expired_at=row.acknowledgement_expired_at,
        )
        if verification.awaiting:
            # Verifiable and not yet acknowledged: only a notice (sender, subject, deadline)
            # until the citizen acknowledges receipt; opening it is the acknowledgement.
            return MessageView(
                id=row.id,
                subject=text("subject"),
                text="",
                html=None,
                organisation_id=row.organisation_id,
                sender_address="",
                received_at=row.received_at,
                opened_at=None,
                thread_id=row.thread_id,
                direction=row.direction,
                no_reply=row.no_reply,
                attachments=(),
                verification=verification,
                **tags,
            )
        # Everything is opened before the message counts as read: a message that fails to
        # open must not be logged as delivered to the citizen.
        view = MessageView(
            id=row.id,
            subject=text("subject"),
            text=text("text"),
            html=None if row.html_sealed is None else text("html"),
            organisation_id=row.organisation_id,
            sender_address=text("sender"),
            received_at=row.received_at,
            opened_at=row.opened_at,
            thread_id=row.thread_id,
            direction=row.direction,
            no_reply=row.no_reply,
            attachments=tuple(
                AttachmentInfo(
                    id=f.id,
                    filename=self._open_text(
                        dek, f.filename_sealed, "attachments", f.id, "filename"
                    ),
                    content_type=f.content_type,
                    size=f.size,
                )
                for f in files
            ),
            verification=verification,
            **tags,
        )
        if view.opened_at is not None:
            return view
        return replace(view, opened_at=self._mark_opened(citizen_id, message_id, view))

    def _mark_opened(self, citizen_id: str, message_id: str, view: MessageView) -> datetime:
        now = self._now()
        with self._write("read_message") as connection:
            self._lock_citizens(connection, [citizen_id])
            changed = connection.execute(
                update(messages)
                .where(messages.c.id == message_id, messages.c.opened_at.is_(None))
                .values(opened_at=now)
            ).rowcount
            if changed == 0:
                # Another request opened it first; report the time it recorded.
                opened: datetime = connection.execute(
                    select(messages.c.opened_at).where(messages.c.id == message_id)
                ).scalar_one()
                return opened
            detail = {"message_id": message_id, "organisation_id": view.organisation_id}
            self._append_events(connection, [(citizen_id, "message.opened", detail)], now)
        return now

    def read_attachment(
        self, citizen_id: str, message_id: str, attachment_id: str
    ) -> AttachmentView | None:
        with self._read("read_attachment") as connection:
            row = connection.execute(
                select(
                    attachments.c.filename_sealed,
                    attachments.c.content_type,
                    attachments.c.size,
                    attachments.c.data_sealed,
                    attachments.c.source_start,
                    attachments.c.source_end,
                    # The original is fetched only when the file is a span of it.
                    case(
                        (attachments.c.data_sealed.is_(None), messages.c.original_sealed),
                        else_=None,
                    ).label("original_sealed"),
                )
                .join(messages, messages.c.id == attachments.c.message_id)
                .where(
                    attachments.c.id == attachment_id,
                    attachments.c.message_id == message_id,
                    messages.c.citizen_id == citizen_id,
                    # A verifiable message's files stay closed until it is acknowledged.
                    or_(messages.c.verifiable.is_(False), messages.c.acknowledged_at.is_not(None)),
                )
            ).one_or_none()
        if row is None:
            return None
        dek = self._data_key(citizen_id)
        if row.data_sealed is not None:
            data = self._open(dek, row.data_sealed, "attachments", attachment_id, "data")
        else:
            original = self._open(dek, row.original_sealed, "messages", message_id, "original")
            try:
                data = decode_span(original, row.source_start, row.source_end)
            except ValueError as exc:  # binascii.Error included
                raise StoreCorrupt("an attachment's span of the original does not decode") from exc
        if len(data) != row.size:
            raise StoreCorrupt("an attachment's span of the original has the wrong size")
        return AttachmentView(
            filename=self._open_text(
                dek, row.filename_sealed, "attachments", attachment_id, "filename"
            ),
            content_type=row.content_type,
            data=data,
        )
