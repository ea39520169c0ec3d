"""What the portal needs from the mailbox store, as structural types.

The portal depends on this contract and the store's plain value types, not on the store's
internals, so the web layer can be read (and tested) on its own. `mailbox_store.MailboxStore`
satisfies it. Every method is synchronous and may touch the database, so routes call them
through `starlette.concurrency.run_in_threadpool`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from mailbox_store.chain import ChainLink
from mailbox_store.records import (
    AccountSettings,
    AttachmentView,
    CaseView,
    CitizenProfile,
    EventView,
    ExportedMessage,
    InboxEntry,
    LoginAccount,
    MessageView,
    NewAccount,
    NewAttachment,
    ServiceMessage,
    ThreadEntry,
)


class PortalStore(Protocol):
    def citizen_profile(self, citizen_id: str) -> CitizenProfile | None: ...

    def inbox(
        self, citizen_id: str, *, offset: int = 0, limit: int = 20
    ) -> Sequence[InboxEntry]: ...

    def read_message(self, citizen_id: str, message_id: str) -> MessageView | None: ...

    def thread(self, citizen_id: str, thread_id: str) -> Sequence[ThreadEntry]: ...

    def unreachable_email(self, citizen_id: str) -> bool: ...

    # -- cases and deletion (mailbox_store._lifecycle) --

    def cases(self, citizen_id: str) -> Sequence[CaseView]: ...

    def deleted_messages(self, citizen_id: str) -> Sequence[InboxEntry]: ...

    def delete_message(self, citizen_id: str, message_id: str) -> bool | None: ...

    def restore_message(self, citizen_id: str, message_id: str) -> bool: ...

    def read_attachment(
        self, citizen_id: str, message_id: str, attachment_id: str
    ) -> AttachmentView | None: ...

    def create_session(self, citizen_id: str, *, lifetime: timedelta, method: str) -> str: ...

    def session_citizen(self, token: str, *, idle_timeout: timedelta) -> str | None: ...

    def end_session(self, token: str) -> None: ...

    # -- the citizen's own account (mailbox_store._account) --

    # -- first login and the terms of use (mailbox_store._onboarding) --

    def login_account(self, hetu: str) -> LoginAccount | None: ...

    def open_account(self, account: NewAccount, welcome: ServiceMessage) -> str: ...

    def accept_terms(self, citizen_id: str, version: int) -> bool: ...

    def account_settings(self, citizen_id: str) -> AccountSettings | None: ...

    def update_account_settings(
        self, citizen_id: str, wanted: AccountSettings
    ) -> tuple[str, ...]: ...

    def change_account_status(self, citizen_id: str, status: str) -> bool: ...

    def session_is_fresh(self, token: str, *, within: timedelta) -> bool: ...

    def export_message_ids(self, citizen_id: str) -> list[str]: ...

    def exported_message(self, citizen_id: str, message_id: str) -> ExportedMessage | None: ...

    def record_export(self, citizen_id: str, message_count: int) -> None: ...

    def event_page(
        self,
        citizen_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Sequence[EventView]: ...

    def deliver_event_export(
        self, citizen_id: str, build: Callable[[Sequence[ChainLink], datetime], ServiceMessage]
    ) -> str: ...


class ReplyPort(Protocol):
    """Answering messages and starting new ones (gateway.reply_desk.ReplyDesk); synchronous,
    like the store."""

    def offer(self, citizen_id: str, message_id: str) -> Any | None: ...

    def send(
        self, citizen_id: str, message_id: str, text: str, attachments: Sequence[NewAttachment]
    ) -> str: ...

    def new_message_offers(self) -> Sequence[Any]: ...

    def new_message_offer(self, organisation_id: str) -> Any | None: ...

    def start(
        self,
        citizen_id: str,
        organisation_id: str,
        topic: str,
        text: str,
        attachments: Sequence[NewAttachment],
    ) -> str: ...


class ReceiptPort(Protocol):
    """Verifiable delivery (gateway.receipts.ReceiptDesk); synchronous, like the store."""

    def acknowledge(self, citizen_id: str, message_id: str, method: str) -> bool: ...
