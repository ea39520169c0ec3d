"""The SMTP phases: the same client and messages against a bare sink, then the gateway.

1. sink, flat out: `python -m aiosmtpd -n -c aiosmtpd.handlers.Sink` (reference for this machine);
2. gateway (`asiointitili serve`, outbound held), flat out: its capacity;
3. gateway at 50% of the rate measured in 2, open loop: the latency a half-loaded gateway gives.

Every phase starts with unmeasured warm-up messages. Message-IDs never repeat (the gateway
would answer a resend without storing it again); all messages have the same size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gatewaytest.env import GatewayEnv
from gatewaytest.servers import ServeProcess

from bench.client import Result, run_load
from bench.messages import Clerk
from bench.procs import Sink

Batch = Callable[[str, int], list[bytes]]
HALF_LOAD_SECONDS = 60.0  # the half-load phase is shortened to this (but keeps 100 messages)


@dataclass(frozen=True)
class Load:
    messages: int
    warmup: int
    concurrency: int
    half_messages: int


@dataclass(frozen=True)
class Phases:
    sink: Result
    full: Result
    half: Result
    half_rate: float
    counts: dict[str, int]  # the store's tables afterwards: every 250 must be a stored message

    @property
    def accepted(self) -> int:
        return sum(r.sent for r in (self.full, self.half))


def _phase(port: int, clerk: Clerk, make: Batch, name: str, load: Load, count: int,
           rate: float | None = None) -> Result:
    if load.warmup:
        warm = asyncio.run(run_load(port, clerk.sender, clerk.recipient,
                                    make(f"{name}w", load.warmup),
                                    concurrency=load.concurrency))
        if warm.failures:
            raise RuntimeError(f"{name} warm-up refused: {warm.failures[0]}")
    return asyncio.run(run_load(port, clerk.sender, clerk.recipient, make(f"{name}m", count),
                                concurrency=load.concurrency, rate=rate))


def run(env: GatewayEnv, clerk: Clerk, make: Batch, load: Load, logs: Path,
        say: Callable[[str], None]) -> Phases:
    say(f"sink: {load.warmup} warm-up + {load.messages} messages, "
        f"{load.concurrency} connections")
    with Sink(logs / "sink.log") as sink:
        sink_result = _phase(sink.port, clerk, make, "s", load, load.messages)
    serve = ServeProcess(env, logs / "serve.log").start()
    try:
        say(f"gateway flat out: {load.warmup} warm-up + {load.messages} messages")
        port = env.config.smtp.listen_port
        full = _phase(port, clerk, make, "f", load, load.messages)
        half_rate = full.rate / 2
        count = min(load.half_messages, max(100, int(half_rate * HALF_LOAD_SECONDS)))
        say(f"gateway at 50% ({half_rate:.1f} msg/s): {count} messages, "
            f"about {count / half_rate:.0f} s")
        half = _phase(port, clerk, make, "h", Load(load.messages, 0, load.concurrency, 0),
                      count, rate=half_rate)
    finally:
        serve.stop()
    store = env.open_store()
    try:
        counts = store.table_counts()
    finally:
        store.close()
    return Phases(sink_result, full, half, half_rate, counts)
