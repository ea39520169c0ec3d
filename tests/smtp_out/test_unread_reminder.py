"""A message left unread brings the citizen one reminder, sent as the ordinary notification."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

from gatewaytest.clock import Clock
from outbound_support import StoreKeys, deliver, make_worker

from smtp_out.notification import SUBJECTS
from smtp_out.transport import OutboxDirTransport

WEEK = timedelta(days=7)


async def test_an_unread_message_is_reminded_of_once_by_the_normal_notification(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = StoreKeys.generate().open(f"sqlite:///{tmp_path / 'mailbox.db'}", clock=clock)
    outbox = tmp_path / "outbox"
    worker = make_worker(store, OutboxDirTransport(outbox), StoreKeys.generate(), clock=clock)
    try:
        citizen = store.add_citizen("131052-308T", "Maija", "maija@example.fi", "fi")
        deliver(store, [citizen], now=clock.now)
        await worker.run_once()  # the notification of its arrival
        assert len(list(outbox.iterdir())) == 1

        clock.advance(WEEK + timedelta(minutes=1))
        assert store.remind_unread(clock.now, after=WEEK) == 1
        await worker.run_once()
        sent = sorted(outbox.iterdir())
        assert len(sent) == 2
        reminder = email.message_from_bytes(sent[-1].read_bytes(), policy=email.policy.default)
        assert reminder["Subject"] == SUBJECTS["fi"] and reminder["To"] == "maija@example.fi"
        body = reminder.get_body(("plain",))
        assert body is not None and "Päätös" not in body.get_content()  # says nothing of it

        clock.advance(WEEK)
        assert store.remind_unread(clock.now, after=WEEK) == 0
        await worker.run_once()
        assert len(list(outbox.iterdir())) == 2
        kinds = [event.kind for event in store.events(citizen)]
        assert kinds.count("message.reminded") == 1
        assert kinds.count("notification.sent") == 2
    finally:
        store.close()
