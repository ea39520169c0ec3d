"""The outbound queue under failure: a relay that refuses for now, one that refuses for good,
and one that is down across a gateway restart. Real store (SQLite), real SMTP on loopback;
only the clock is controlled, so back-off never means sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from gatewaytest.clock import Clock
from gatewaytest.hetus import make_hetu
from outbound_support import (
    CountingSink,
    StoreKeys,
    deliver,
    eventually,
    make_worker,
    queue_events,
)
from smtp_sink import StartSink, free_port

from mailbox_store import MailboxStore
from smtp_out.transport import RelayTransport
from smtp_out.worker import FIRST_RETRY_DELAY


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys() -> StoreKeys:
    return StoreKeys.generate()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mailbox.db'}"


@pytest.fixture
def store(keys: StoreKeys, url: str, clock: Clock) -> Iterator[MailboxStore]:
    mailbox = keys.open(url, clock)
    yield mailbox
    mailbox.close()


def one_notification(store: MailboxStore, clock: Clock) -> tuple[str, str]:
    """A citizen with an address and one queued notification: (citizen id, queue row id)."""
    citizen = store.add_citizen(make_hetu("010101", "-", 123), "Maija", "maija@example.org", "fi")
    deliver(store, [citizen], now=clock.now)
    [entry] = store.queue_entries()
    return citizen, entry.id


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply"),
    [("450 4.2.1 mailbox busy", None), (None, "451 4.3.0 try again later")],
    ids=["rcpt-450", "data-451"],
)
async def test_a_temporary_refusal_is_retried_and_delivered_exactly_once(
    store: MailboxStore,
    keys: StoreKeys,
    clock: Clock,
    start_sink: StartSink,
    rcpt_reply: str | None,
    data_reply: str | None,
) -> None:
    citizen, row = one_notification(store, clock)
    handler = CountingSink(rcpt_reply=rcpt_reply, data_reply=data_reply)
    sink = start_sink(handler)
    worker = make_worker(
        store, RelayTransport("127.0.0.1", sink.port, starttls="none"), keys, clock=clock
    )

    assert await worker.run_once() == 1
    refused = store.queue_entry(row)
    assert refused is not None
    assert (refused.state, refused.attempts) == ("queued", 1)
    assert refused.due_at == clock.now + FIRST_RETRY_DELAY
    status = (rcpt_reply or data_reply or "")[:9]  # e.g. "450 4.2.1": no free text
    assert refused.last_error is not None and refused.last_error.endswith(status)

    handler.rcpt_reply = handler.data_reply = None  # the relay is well again
    clock.advance(FIRST_RETRY_DELAY)
    assert await worker.run_once() == 1
    clock.advance(timedelta(days=6))
    assert await worker.run_once() == 0

    [received] = handler.received
    assert received.recipients == ["maija@example.org"]
    assert keys.queue_id_of(received.envelope_from) == row
    assert handler.attempts == 2
    done = store.queue_entry(row)
    assert done is not None
    assert (done.state, done.attempts) == ("sent", 2)
    assert queue_events(store, citizen) == [("notification.deferred", 1), ("notification.sent", 2)]


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply"),
    [("550 5.1.1 no such user", None), (None, "554 5.7.1 rejected")],
    ids=["rcpt-550", "data-554"],
)
async def test_a_permanent_refusal_ends_the_row_as_failed(
    store: MailboxStore,
    keys: StoreKeys,
    clock: Clock,
    start_sink: StartSink,
    rcpt_reply: str | None,
    data_reply: str | None,
) -> None:
    citizen, row = one_notification(store, clock)
    handler = CountingSink(rcpt_reply=rcpt_reply, data_reply=data_reply)
    sink = start_sink(handler)
    worker = make_worker(
        store, RelayTransport("127.0.0.1", sink.port, starttls="none"), keys, clock=clock
    )

    assert await worker.run_once() == 1
    clock.advance(timedelta(days=30))
    assert await worker.run_once() == 0

    assert handler.attempts == 1
    assert handler.received == []
    failed = store.queue_entry(row)
    assert failed is not None
    assert (failed.state, failed.attempts) == ("failed", 1)
    status = (rcpt_reply or data_reply or "")[:9]
    assert failed.last_error is not None and failed.last_error.endswith(status)
    assert "@" not in failed.last_error
    assert queue_events(store, citizen) == [("notification.failed", 1)]


async def test_a_down_relay_loses_nothing_across_a_gateway_restart(
    keys: StoreKeys, url: str, clock: Clock
) -> None:
    relay_port = free_port()  # nothing listens there yet: the relay is down
    store = keys.open(url, clock)
    addresses = [f"kansalainen{n}@example.org" for n in range(3)]
    citizens = [
        store.add_citizen(make_hetu("020202", "-", 200 + n), f"K{n}", address, "fi")
        for n, address in enumerate(addresses)
    ]
    deliver(store, citizens, now=clock.now)
    rows = {entry.id for entry in store.queue_entries()}
    assert len(rows) == 3

    def relay() -> RelayTransport:
        return RelayTransport("127.0.0.1", relay_port, starttls="none", timeout=5)

    def all_deferred() -> bool:
        entries = store.queue_entries()
        return all(e.state == "queued" and e.attempts == 1 for e in entries)

    # The first gateway run: every attempt fails, and with the clock standing still nothing
    # comes due again however often the worker polls.
    worker = make_worker(store, relay(), keys, clock=clock, poll_interval=0.01)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await eventually(all_deferred)
    await asyncio.sleep(0.1)
    stop.set()
    await running
    assert all_deferred()
    store.close()

    # The gateway starts again with a new store and worker, and the relay comes up.
    handler = CountingSink()
    sink = Controller(handler, hostname="127.0.0.1", port=relay_port)
    sink.start()
    store = keys.open(url, clock)
    try:
        clock.advance(FIRST_RETRY_DELAY)
        worker = make_worker(store, relay(), keys, clock=clock, poll_interval=0.01)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await eventually(lambda: all(e.state == "sent" for e in store.queue_entries()))
        await asyncio.sleep(0.1)  # time for a duplicate, were one coming
        stop.set()
        await running

        assert sorted(r.recipients[0] for r in handler.received) == addresses
        assert {keys.queue_id_of(r.envelope_from) for r in handler.received} == rows
        assert handler.attempts == 3
        for citizen in citizens:
            assert queue_events(store, citizen) == [
                ("notification.deferred", 1),
                ("notification.sent", 2),
            ]
    finally:
        sink.stop()
        store.close()
