"""Two gateways' outbound workers (two MailboxStore instances, so two engines and connection
pools) on one PostgreSQL database deliver 200 queued notifications exactly once each: claims
take rows with FOR UPDATE SKIP LOCKED and hold them for a lease.

Counted at the receiving end: the loopback sink's messages, by Message-ID. Skips without
PostgreSQL at 127.0.0.1:5432, except in CI, where that fails (gatewaytest.postgres)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from email import message_from_bytes, policy

from gatewaytest.hetus import make_hetu
from gatewaytest.postgres import temporary_schema
from outbound_support import StoreKeys, deliver, eventually, make_worker
from smtp_sink import SinkHandler, StartSink

from smtp_out.transport import RelayTransport, Transport

COUNT = 200


class Tally:
    """Wraps a transport to count what one worker handed over."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self.sent = 0

    async def send(self, data: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        await self._inner.send(data, envelope_from=envelope_from, recipients=recipients)
        self.sent += 1


async def test_two_workers_on_one_database_deliver_each_notification_once(
    start_sink: StartSink,
) -> None:
    handler = SinkHandler()
    sink = start_sink(handler)
    keys = StoreKeys.generate()
    with temporary_schema("outbound") as url:
        stores = [keys.open(url), keys.open(url)]
        try:
            citizens = [
                stores[0].add_citizen(
                    make_hetu("040404", "-", 100 + n), f"K{n}", f"k{n}@example.org", "fi"
                )
                for n in range(COUNT)
            ]
            deliver(stores[0], citizens, now=datetime.now(UTC))
            tallies = [
                Tally(RelayTransport("127.0.0.1", sink.port, starttls="none")) for _ in stores
            ]
            # Small batches, so the two keep coming back to the queue while the other works.
            workers = [
                make_worker(store, tally, keys, poll_interval=0.05, batch=5)
                for store, tally in zip(stores, tallies, strict=True)
            ]
            stop = asyncio.Event()
            running = [asyncio.create_task(worker.run(stop)) for worker in workers]
            try:
                await eventually(
                    lambda: len(stores[1].queue_entries(states=("sent",))) == COUNT, timeout=120
                )
                await asyncio.sleep(0.3)  # time for a duplicate, were one coming
            finally:
                stop.set()
                await asyncio.gather(*running)
            leftover = stores[1].queue_entries(states=("queued", "sending", "failed"))
        finally:
            for store in stores:
                store.close()

    ids = Counter(
        message_from_bytes(received.data, policy=policy.default)["Message-ID"]
        for received in handler.received
    )
    assert len(handler.received) == COUNT
    assert len(ids) == COUNT and set(ids.values()) == {1}
    assert sorted(r.recipients[0] for r in handler.received) == sorted(
        f"k{n}@example.org" for n in range(COUNT)
    )
    assert leftover == []
    assert all(tally.sent > 0 for tally in tallies), [tally.sent for tally in tallies]
