"""What the portal needs from the mailbox store, as structural types.

The portal depends on this contract and the store's plain value types, not on the store's
internals, so the web layer can be read (and tested) on its own. `mailbox_store.MailboxStore`
satisfies it. Every method is synchronous and may touch the database, so routes call them
through `starlette.concurrency.run_in_threadpool`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from mailbox_store.records import (
    AttachmentView,
    CitizenProfile,
    InboxEntry,
    MessageView,
    NewAttachment,
    ThreadEntry,
)


class PortalStore(Protocol):
    def active_citizen_id(self, hetu: str) -> str | None: ...

    def citizen_profile(self, citizen_id: str) -> CitizenProfile | None: ...

    def inbox(
        self, citizen_id: str, *, offset: int = 0, limit: int = 20
    ) -> Sequence[InboxEntry]: ...

    def read_message(self, citizen_id: str, message_id: str) -> MessageView | None: ...

    def thread(self, citizen_id: str, thread_id: str) -> Sequence[ThreadEntry]: ...

    def unreachable_email(self, citizen_id: str) -> bool: ...

    def read_attachment(
        self, citizen_id: str, message_id: str, attachment_id: str
    ) -> AttachmentView | None: ...

    def create_session(self, citizen_id: str, *, lifetime: timedelta) -> str: ...

    def session_citizen(self, token: str, *, idle_timeout: timedelta) -> str | None: ...

    def end_session(self, token: str) -> None: ...


class ReplyPort(Protocol):
    """Answering messages (gateway.reply_desk.ReplyDesk); synchronous, like the store."""

    def offer(self, citizen_id: str, message_id: str) -> Any | None: ...

    def send(
        self, citizen_id: str, message_id: str, text: str, attachments: Sequence[NewAttachment]
    ) -> str: ...
