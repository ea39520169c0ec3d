"""The citizen's own account: settings, passivation and closing, the archive, the event log.

Every change here is an event in the citizen's hash chain, appended in the transaction that
makes the change. Contact details are sealed like the rest of the account; events name which
settings changed, never their values, because the events table is not sealed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from crypto.sealing import field_aad, seal

from ._core import StoreCore, new_id, token_id
from .chain import ChainLink
from .errors import CitizenNotActive
from .records import AccountSettings, AttachmentView, EventView, ExportedMessage, ServiceMessage
from .schema import attachments, citizens, events, messages, sessions

__all__ = ["SERVICE_ORGANISATION", "AccountOps"]

# The organisation id of messages the service itself puts into a mailbox.
SERVICE_ORGANISATION = "asiointitili"

# Who may move an account where: a closed account is closed for good here.
_TRANSITIONS = {
    "passive": ("active",),
    "active": ("passive",),
    "closed": ("active", "passive"),
}
_PORTAL_STATUSES = ("active", "passive")
_SETTINGS_FIELDS = ("email", "phone", "notify_email", "notify_sms", "lang")


class AccountOps(StoreCore):
    """Account self-service operations of MailboxStore."""

    # -- settings ---------------------------------------------------------------------------

    def account_settings(self, citizen_id: str) -> AccountSettings | None:
        with self._read("account_settings") as connection:
            row = connection.execute(
                select(citizens).where(citizens.c.id == citizen_id)
            ).one_or_none()
        if row is None:
            return None
        return self._settings_of(row)

    def update_account_settings(self, citizen_id: str, wanted: AccountSettings) -> tuple[str, ...]:
        """Store the settings; returns the names of the fields that changed (maybe none)."""
        dek = self._data_key(citizen_id)
        now = self._now()

        def sealed(field: str, value: str | None) -> bytes | None:
            if value is None:
                return None
            return seal(dek, value.encode("utf-8"), field_aad("citizens", citizen_id, field))

        with self._write("update_account_settings") as connection:
            if self._lock_citizens(connection, [citizen_id]).get(citizen_id) is None:
                raise CitizenNotActive("no such citizen")
            row = connection.execute(select(citizens).where(citizens.c.id == citizen_id)).one()
            current = self._settings_of(row)
            changed = tuple(
                name
                for name in _SETTINGS_FIELDS
                if getattr(current, name) != getattr(wanted, name)
            )
            if not changed:
                return ()
            connection.execute(
                update(citizens)
                .where(citizens.c.id == citizen_id)
                .values(
                    email_sealed=sealed("email", wanted.email),
                    phone_sealed=sealed("phone", wanted.phone),
                    notify_email=wanted.notify_email,
                    notify_sms=wanted.notify_sms,
                    lang=wanted.lang,
                )
            )
            detail = {"fields": list(changed)}
            self._append_events(connection, [(citizen_id, "account.settings", detail)], now)
        return changed

    def _settings_of(self, row: Any) -> AccountSettings:
        dek = self._unwrap(row.id, row.data_key_wrapped)

        def opened(field: str, blob: bytes | None) -> str | None:
            return None if blob is None else self._open_text(dek, blob, "citizens", row.id, field)

        return AccountSettings(
            email=opened("email", row.email_sealed),
            phone=opened("phone", row.phone_sealed),
            notify_email=row.notify_email,
            notify_sms=row.notify_sms,
            lang=row.lang,
        )

    # -- status -----------------------------------------------------------------------------

    def change_account_status(self, citizen_id: str, status: str) -> bool:
        """The citizen passivates, reactivates or closes their account.

        False when the account is not in a state that allows it. Closing also ends every
        session of the account, in the same transaction.
        """
        allowed_from = _TRANSITIONS.get(status)
        if allowed_from is None:
            raise ValueError("unknown account status")
        now = self._now()
        with self._write("change_account_status") as connection:
            if self._lock_citizens(connection, [citizen_id]).get(citizen_id) not in allowed_from:
                return False
            connection.execute(
                update(citizens).where(citizens.c.id == citizen_id).values(status=status)
            )
            if status == "closed":
                connection.execute(delete(sessions).where(sessions.c.citizen_id == citizen_id))
            detail = {"status": status, "by": "citizen"}
            self._append_events(connection, [(citizen_id, "citizen.status", detail)], now)
        return True

    def session_is_fresh(self, token: str, *, within: timedelta) -> bool:
        """Whether the session began (the citizen identified) no longer than `within` ago."""
        with self._read("session_is_fresh") as connection:
            created = connection.execute(
                select(sessions.c.created_at).where(sessions.c.id == token_id(token))
            ).scalar_one_or_none()
        return created is not None and self._now() - created <= within

    # -- the archive of messages ------------------------------------------------------------

    def export_message_ids(self, citizen_id: str) -> list[str]:
        """Every message of the citizen (received and sent), oldest first."""
        with self._read("export_message_ids") as connection:
            return list(
                connection.execute(
                    select(messages.c.id)
                    .where(messages.c.citizen_id == citizen_id)
                    .order_by(messages.c.received_at, messages.c.id)
                ).scalars()
            )

    def exported_message(self, citizen_id: str, message_id: str) -> ExportedMessage | None:
        """One message for the archive, opened without marking it read."""
        with self._read("exported_message") as connection:
            row = connection.execute(
                select(
                    messages.c.id,
                    messages.c.subject_sealed,
                    messages.c.text_sealed,
                    messages.c.organisation_id,
                    messages.c.received_at,
                    messages.c.opened_at,
                    messages.c.direction,
                    messages.c.verifiable,
                    messages.c.acknowledged_at,
                ).where(messages.c.id == message_id, messages.c.citizen_id == citizen_id)
            ).one_or_none()
            if row is None:
                return None
            file_ids = list(
                connection.execute(
                    select(attachments.c.id)
                    .where(attachments.c.message_id == message_id)
                    .order_by(attachments.c.position)
                ).scalars()
            )
        dek = self._data_key(citizen_id)
        withheld = bool(row.verifiable) and row.acknowledged_at is None
        text = ""
        files: list[AttachmentView] = []
        if not withheld:
            text = self._open_text(dek, row.text_sealed, "messages", row.id, "text")
            for file_id in file_ids:
                # ReadingOps' download path, so spans of the original decode as they do there.
                view = self.read_attachment(citizen_id, message_id, file_id)  # type: ignore[attr-defined]
                if view is not None:
                    files.append(view)
        return ExportedMessage(
            id=row.id,
            subject=self._open_text(dek, row.subject_sealed, "messages", row.id, "subject"),
            text=text,
            organisation_id=row.organisation_id,
            received_at=row.received_at,
            opened_at=row.opened_at,
            direction=row.direction,
            attachments=tuple(files),
            withheld=withheld,
        )

    def record_export(self, citizen_id: str, message_count: int) -> None:
        """Log that the citizen took their messages out as an archive."""
        now = self._now()
        with self._write("record_export") as connection:
            self._lock_citizens(connection, [citizen_id])
            detail = {"messages": message_count}
            self._append_events(connection, [(citizen_id, "messages.exported", detail)], now)

    # -- the event log ----------------------------------------------------------------------

    def event_page(
        self,
        citizen_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[EventView]:
        """The citizen's events newest first, `since` <= at < `until` where given."""
        query = select(events.c.kind, events.c.at, events.c.detail, events.c.hash).where(
            events.c.citizen_id == citizen_id
        )
        if since is not None:
            query = query.where(events.c.at >= since)
        if until is not None:
            query = query.where(events.c.at < until)
        with self._read("event_page") as connection:
            rows = connection.execute(
                query.order_by(events.c.seq.desc()).offset(offset).limit(limit)
            ).all()
        return [
            EventView(kind=row.kind, at=row.at, detail=json.loads(row.detail), hash=row.hash)
            for row in rows
        ]

    def deliver_event_export(
        self,
        citizen_id: str,
        build: Callable[[Sequence[ChainLink], datetime], ServiceMessage],
    ) -> str:
        """Put the citizen's event log, made by `build(chain, now)`, into their mailbox.

        The chain is read under the citizen's lock, so the export ends exactly at the head
        that the "events.exported" event then follows. Returns the new message's id.
        """
        dek = self._data_key(citizen_id)
        row_id = new_id()
        with self._write("deliver_event_export") as connection:
            if self._lock_citizens(connection, [citizen_id]).get(citizen_id) not in (
                _PORTAL_STATUSES
            ):
                raise CitizenNotActive("the account is closed")
            now = self._now()
            chain = self._chain_in(connection, citizen_id)
            message = build(chain, now)
            self._insert_service_message(connection, dek, citizen_id, row_id, message, now)
            head = chain[-1]
            detail = {"message_id": row_id, "seq": head.seq, "hash": head.hash}
            self._append_events(connection, [(citizen_id, "events.exported", detail)], now)
        return row_id

    @staticmethod
    def _chain_in(connection: Connection, citizen_id: str) -> list[ChainLink]:
        rows = connection.execute(
            select(events).where(events.c.citizen_id == citizen_id).order_by(events.c.seq)
        ).all()
        return [ChainLink(**row._mapping) for row in rows]

    def _insert_service_message(
        self,
        connection: Connection,
        dek: bytes,
        citizen_id: str,
        row_id: str,
        message: ServiceMessage,
        now: datetime,
    ) -> None:
        def sealed(field: str, value: bytes) -> bytes:
            return seal(dek, value, field_aad("messages", row_id, field))

        connection.execute(
            insert(messages),
            [
                {
                    "id": row_id,
                    "citizen_id": citizen_id,
                    "organisation_id": SERVICE_ORGANISATION,
                    # Never delivered twice, but the column is unique and not null.
                    "dedup_index": self._index(row_id, "dedup-service"),
                    "received_at": now,
                    "subject_sealed": sealed("subject", message.subject.encode("utf-8")),
                    "text_sealed": sealed("text", message.text.encode("utf-8")),
                    "html_sealed": None,
                    "sender_sealed": sealed("sender", SERVICE_ORGANISATION.encode("ascii")),
                    "original_sealed": sealed("original", message.original),
                    "opened_at": None,
                    "thread_id": row_id,
                    "direction": "in",
                    "no_reply": False,
                    "message_id_sealed": None,
                    "signer_cert_sealed": None,
                }
            ],
        )
        files = self._attachment_rows(dek, row_id, message.attachments)
        if files:
            connection.execute(insert(attachments), files)
