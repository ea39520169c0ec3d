"""The outbound worker sends each queued notification once and retries or gives up correctly.

Runs against the real MailboxStore (SQLite in tmp_path), a real outbox directory and a real
SMTP sink on loopback; only the clock is controlled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from gatewaytest.clock import Clock
from smtp_sink import SinkHandler, StartSink

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from mailbox_store import AccountSettings, Delivery, MailboxStore
from smtp_out.notification import SUBJECTS
from smtp_out.transport import OutboxDirTransport, RelayTransport, Transport
from smtp_out.verp import parse_return_path, return_path
from smtp_out.worker import GIVE_UP_AFTER, OutboundWorker, retry_delay

FROM = "Asiointitili <noreply@asiointitili.example.fi>"
LOGIN_URL = "https://asiointitili.example.fi/login"
BOUNCE_INDEX = BlindIndex.from_text(BlindIndex.generate_file_text())


def bounce_mac(value: str) -> str:
    return BOUNCE_INDEX(value, "bounce")




@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[MailboxStore]:
    keys = MasterKeyRing.from_text(MasterKeyRing.generate_file_text())
    index = BlindIndex.from_text(BlindIndex.generate_file_text())
    mailbox = MailboxStore(f"sqlite:///{tmp_path / 'mailbox.db'}", keys, index, clock=clock)
    mailbox.migrate()
    yield mailbox
    mailbox.close()


def deliver(store: MailboxStore, *citizen_ids: str, clock: Clock) -> None:
    """Store one clerk's message for the citizens, which queues their notifications."""
    store.store_delivery(
        Delivery(
            organisation_id="city",
            message_id="<decision-1@city.example>",
            sender_address="clerk@city.example",
            subject="Päätös rakennusluvasta",
            text="Salainen sisältö",
            html=None,
            attachments=(),
            original_mime=b"MIME-Version: 1.0\r\n\r\noriginal",
            citizen_ids=citizen_ids,
            received_at=clock.now,
        )
    )


def make_worker(
    store: MailboxStore, transport: Transport, clock: Clock, **options: object
) -> OutboundWorker:
    return OutboundWorker(
        store,
        transport,
        from_address=FROM,
        login_url=LOGIN_URL,
        message_id_domain="asiointitili.example.fi",
        dkim=None,
        return_path=lambda queue_id: return_path(
            queue_id, mac=bounce_mac, domain="asiointitili.example.fi"
        ),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def outbox_messages(outbox: Path) -> list[EmailMessage]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(parsed)
    return found


def queue_events(store: MailboxStore, citizen_id: str) -> list[tuple[str, int]]:
    return [
        (event.kind, event.detail["attempts"])
        for event in store.events(citizen_id)
        if event.kind.startswith("notification.")
    ]


async def test_queued_notification_is_sent_once(
    store: MailboxStore, clock: Clock, tmp_path: Path
) -> None:
    citizen = store.add_citizen("010101-123N", "Maija Meikäläinen", "maija@example.org", "sv")
    deliver(store, citizen, clock=clock)
    worker = make_worker(store, OutboxDirTransport(tmp_path / "outbox"), clock)

    assert await worker.run_once() == 1
    clock.advance(timedelta(days=1))
    assert await worker.run_once() == 0

    [message] = outbox_messages(tmp_path / "outbox")
    assert message["To"] == "maija@example.org"
    assert message["Subject"] == SUBJECTS["sv"]
    whole = message.as_string()
    for secret in ("Maija", "010101-123N", "Päätös", "Salainen", "clerk@", "city"):
        assert secret not in whole
    assert queue_events(store, citizen) == [("notification.sent", 1)]


async def test_transient_failures_back_off_and_then_succeed(
    store: MailboxStore, clock: Clock, start_sink: StartSink
) -> None:
    citizen = store.add_citizen("010101-123N", "Maija", "maija@example.org", "fi")
    deliver(store, citizen, clock=clock)
    handler = SinkHandler(data_reply="451 4.3.0 try later")
    sink = start_sink(handler)
    worker = make_worker(store, RelayTransport("127.0.0.1", sink.port, starttls="none"), clock)

    assert await worker.run_once() == 1  # attempt 1 fails: next try in 1 min
    clock.advance(timedelta(seconds=59))
    assert await worker.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await worker.run_once() == 1  # attempt 2 fails: next try in 2 min
    clock.advance(timedelta(seconds=119))
    assert await worker.run_once() == 0
    handler.data_reply = None
    clock.advance(timedelta(seconds=1))
    assert await worker.run_once() == 1  # attempt 3 succeeds

    assert len(handler.received) == 1
    assert handler.received[0].recipients == ["maija@example.org"]
    # The envelope sender is the row's own return path, the same on every attempt.
    local, _, domain = handler.received[0].envelope_from.partition("@")
    assert domain == "asiointitili.example.fi"
    assert parse_return_path(local, mac=bounce_mac) is not None
    assert queue_events(store, citizen) == [
        ("notification.deferred", 1),
        ("notification.deferred", 2),
        ("notification.sent", 3),
    ]


async def test_permanent_refusal_is_recorded_and_not_retried(
    store: MailboxStore, clock: Clock, start_sink: StartSink
) -> None:
    citizen = store.add_citizen("010101-123N", "Maija", "maija@example.org", "fi")
    deliver(store, citizen, clock=clock)
    sink = start_sink(SinkHandler(rcpt_reply="550 5.1.1 no such user"))
    worker = make_worker(store, RelayTransport("127.0.0.1", sink.port, starttls="none"), clock)

    assert await worker.run_once() == 1
    clock.advance(timedelta(days=30))
    assert await worker.run_once() == 0
    assert queue_events(store, citizen) == [("notification.failed", 1)]


@pytest.mark.parametrize("lifetime", [GIVE_UP_AFTER, timedelta(hours=2)])
async def test_gives_up_after_the_configured_lifetime_of_retrying(
    store: MailboxStore, clock: Clock, start_sink: StartSink, lifetime: timedelta
) -> None:
    citizen = store.add_citizen("010101-123N", "Maija", "maija@example.org", "fi")
    deliver(store, citizen, clock=clock)
    sink = start_sink(SinkHandler(rcpt_reply="421 4.4.5 busy"))
    worker = make_worker(
        store,
        RelayTransport("127.0.0.1", sink.port, starttls="none"),
        clock,
        retry_lifetime=lifetime,  # type: ignore[arg-type]
    )

    while await worker.run_once():
        clock.advance(timedelta(hours=6))  # the longest back-off: every retry is due again
    events = queue_events(store, citizen)
    assert events[-1][0] == "notification.failed"
    assert {kind for kind, _ in events[:-1]} == {"notification.deferred"}
    assert [attempts for _, attempts in events] == list(range(1, len(events) + 1))
    # Attempts go on until the back-off between them adds up to the lifetime, then stop.
    waits = [retry_delay(n) for n in range(1, len(events))]
    assert sum(waits, timedelta()) < lifetime <= sum(waits, timedelta()) + retry_delay(len(events))


@pytest.mark.parametrize("status", ["passive", "closed", "email notices off", None])
async def test_citizens_without_address_or_inactive_get_nothing(
    store: MailboxStore, clock: Clock, tmp_path: Path, status: str | None
) -> None:
    email = None if status is None else "maija@example.org"
    citizen = store.add_citizen("010101-123N", "Maija", email, "fi")
    deliver(store, citizen, clock=clock)
    if status == "email notices off":
        store.update_account_settings(citizen, AccountSettings(email, None, False, False, "fi"))
    elif status is not None:
        store.set_citizen_status(citizen, status)
    worker = make_worker(store, OutboxDirTransport(tmp_path / "outbox"), clock)

    assert await worker.run_once() == 1
    assert outbox_messages(tmp_path / "outbox") == []
    assert queue_events(store, citizen) == [("notification.sent", 1)]


class ExplodingFor:
    """Delivers to the outbox but crashes, quoting secrets, for one recipient."""

    def __init__(self, victim: str, outbox: Path) -> None:
        self._victim = victim
        self._outbox = OutboxDirTransport(outbox)

    async def send(self, data: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        if self._victim in recipients:
            raise RuntimeError(f"cannot deliver to {self._victim}")
        await self._outbox.send(data, envelope_from=envelope_from, recipients=recipients)


async def test_an_unexpected_error_is_retried_without_logging_secrets(
    store: MailboxStore, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unlucky = store.add_citizen("010101-123N", "Maija", "unlucky@example.org", "fi")
    lucky = store.add_citizen("020202-222C", "Matti", "lucky@example.org", "en")
    deliver(store, unlucky, lucky, clock=clock)
    worker = make_worker(store, ExplodingFor("unlucky@example.org", tmp_path / "out"), clock)

    with caplog.at_level(logging.DEBUG, logger="smtp_out"):
        assert await worker.run_once() == 2

    assert [m["To"] for m in outbox_messages(tmp_path / "out")] == ["lucky@example.org"]
    assert queue_events(store, lucky) == [("notification.sent", 1)]
    assert queue_events(store, unlucky) == [("notification.deferred", 1)]
    assert "RuntimeError" in caplog.text
    assert "@" not in caplog.text and "unlucky" not in caplog.text
    clock.advance(timedelta(minutes=1))
    assert await worker.run_once() == 1  # due again after the first back-off


async def test_an_expired_lease_is_left_for_the_next_claim(
    store: MailboxStore, clock: Clock, tmp_path: Path
) -> None:
    citizen = store.add_citizen("010101-123N", "Maija", "maija@example.org", "fi")
    deliver(store, citizen, clock=clock)
    claimed_at = clock.now

    def slow_clock() -> datetime:
        # The first call stamps the claim; by the time the row is handled the lease is over.
        now = clock.now
        clock.advance(timedelta(minutes=10))
        return now

    worker = make_worker(store, OutboxDirTransport(tmp_path / "outbox"), slow_clock)
    assert await worker.run_once() == 1
    assert outbox_messages(tmp_path / "outbox") == []
    assert queue_events(store, citizen) == []
    [again] = store.claim_due(now=claimed_at + timedelta(minutes=10), limit=5)
    assert again.attempts == 2


async def test_wake_sends_at_once_and_stop_ends_the_loop(
    store: MailboxStore, clock: Clock, tmp_path: Path
) -> None:
    citizen = store.add_citizen("010101-123N", "Maija", "maija@example.org", "fi")
    outbox = tmp_path / "outbox"
    # A poll interval far longer than the test: only wake() can explain a prompt send.
    worker = make_worker(store, OutboxDirTransport(outbox), clock, poll_interval=3600)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.2)  # the first, empty poll is over; the loop now sleeps

    await asyncio.to_thread(deliver, store, citizen, clock=clock)
    worker.wake()
    async with asyncio.timeout(5):
        while not outbox_messages(outbox):
            await asyncio.sleep(0.02)
        stop.set()
        await running
    assert len(outbox_messages(outbox)) == 1


async def test_a_broken_store_does_not_end_the_loop(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    keys = MasterKeyRing.from_text(MasterKeyRing.generate_file_text())
    index = BlindIndex.from_text(BlindIndex.generate_file_text())
    # Never migrated: every claim fails inside the store.
    broken = MailboxStore(f"sqlite:///{tmp_path / 'empty.db'}", keys, index, clock=clock)
    worker = make_worker(broken, OutboxDirTransport(tmp_path / "outbox"), clock, poll_interval=0.01)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="smtp_out"):
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.2)
        stop.set()
        async with asyncio.timeout(5):
            await running
    broken.close()
    assert caplog.text.count("outbound queue claim failed") >= 2
