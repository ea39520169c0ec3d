"""`python -m bench.outbound`: how fast the outbound queue delivers, DKIM-signed, and how late.

Everything runs on 127.0.0.1 in a throw-away data directory and stops by itself. Mail goes to a
bare aiosmtpd sink in its own process (bench.recording_sink) that notes when each message
arrived, so every latency below ends at the sink, not at our own bookkeeping.

1. transport alone: one rendered notification sent N times in a row through RelayTransport (no
   store, no DKIM): what one SMTP connection per mail costs on this machine.
2. notifications, flat out: N notifications queued in the real MailboxStore (SQLite, opened and
   checkpointed as `serve` does), then one OutboundWorker (RelayTransport, DKIM, VERP) drains
   them: deliveries/s, and latency from the release of the queue to each arrival.
3. replies, flat out: N composed ~12 KB mails queued as citizens' replies (store_reply: sealed
   payload rows), drained the same way.
4. notifications at 50% of 2's rate, open loop: each queued as a clerk's message queues it (a
   delivery commit), the worker woken as the SMTP listener wakes it: enqueue -> arrival.
5. whole path: signed-then-encrypted clerk messages (10 KB body) over 8 connections through a
   real `asiointitili serve` whose outbound worker sends each notification, DKIM-signed, to the
   sink; notifications arriving per second, as a ratio to the bare sink's rate for the same
   client and messages in this run (bench.throughput's reference). Target >= 0.25x.

DKIM share: CPU time inside DkimSigner.sign over the phase's wall time (one core's worth).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gatewaytest.env import GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import ServeProcess

from bench.client import run_load
from bench.environment import HETU
from bench.messages import Clerk, batch, entity
from bench.outbound_sink import RecordingSink
from bench.procs import Sink
from bench.report import percentile, verdict
from crypto.dkim import DkimSigner
from gateway import material
from gateway.config import load_config
from mailbox_store import (
    ComposedReply,
    Delivery,
    MailboxStore,
    NewReply,
    OutgoingMail,
)
from smtp_out.notification import render_notification
from smtp_out.transport import RelayTransport, message_bytes
from smtp_out.verp import return_path
from smtp_out.worker import OutboundWorker

REPLY_SIZE = 12 * 1024
BODY = 10 * 1024
WHOLE_PATH_TARGET = 0.25


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Phase:
    """One phase's deliveries: latencies (s), wall time, and DKIM CPU time spent in it."""

    name: str
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    signing: float = 0.0
    duplicates: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


class TimedSigner(DkimSigner):
    """DkimSigner that adds up the CPU time spent signing.

    CPU time of the signing thread, not wall time: the worker signs several mails at once in
    threads, and time spent waiting for the GIL is not signing."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self.seconds = 0.0

    def sign(self, message: bytes) -> bytes:
        start = time.thread_time()
        try:
            return super().sign(message)
        finally:
            with self._lock:
                self.seconds += time.thread_time() - start


@dataclass
class Rig:
    """The store, the worker and the sink of phases 1-4, wired as `serve` wires them."""

    env: GatewayEnv
    store: MailboxStore
    sink: RecordingSink
    signer: TimedSigner
    worker: OutboundWorker
    citizens: list[str]

    def transport(self) -> RelayTransport:
        return relay(self.env, self.sink)


def relay(env: GatewayEnv, sink: RecordingSink) -> RelayTransport:
    """The transport `serve` makes for relay mode, pointed at the sink (no STARTTLS there)."""
    return RelayTransport("127.0.0.1", sink.port, starttls="none",
                          local_hostname=env.config.smtp.hostname)


def _citizen_hetu(i: int) -> str:
    # 800 ordinary individual numbers (100-899) per birth date, dates 01-28 January 1985.
    return make_hetu(f"{1 + i // 800:02d}0185", "-", 100 + i % 800)


def build_rig(root: Path, sink: RecordingSink, citizens: int) -> Rig:
    with contextlib.redirect_stdout(io.StringIO()):
        env = make_env(root)
    config = env.config
    index = material.blind_index(config)
    store = MailboxStore(
        config.database_url, material.master_keys(config), index, background_checkpoints=True
    )
    signer = TimedSigner(
        domain=config.domain,
        selector=config.keys.dkim_selector,
        private_key_pem=config.keys.dkim_key_file.read_bytes(),
    )
    worker = OutboundWorker(
        store,
        relay(env, sink),
        from_address=config.outbound.from_address,
        login_url=config.portal.public_url + "/",
        message_id_domain=config.domain,
        dkim=signer,
        return_path=lambda queue_id: return_path(
            queue_id, mac=lambda v: index(v, "bounce"), domain=config.domain
        ),
    )
    ids = [
        store.add_citizen(_citizen_hetu(i), f"Kansalainen {i}", _address(i), "fi")
        for i in range(citizens)
    ]
    return Rig(env, store, sink, signer, worker, ids)


def _address(i: int) -> str:
    return f"kansalainen{i}@example.fi"


def _delivery(rig: Rig, citizen_ids: Sequence[str], serial: str) -> Delivery:
    return Delivery(
        organisation_id=rig.env.config.organisations[0].id,
        message_id=f"<bench.{serial}@demokunta.test>",
        sender_address="virkailija@demokunta.test",
        subject="Päätös",
        text="Päätös koskee hakemustanne.\n",
        html=None,
        attachments=(),
        original_mime=b"MIME-Version: 1.0\r\n\r\nbench\r\n",
        citizen_ids=tuple(citizen_ids),
        received_at=datetime.now(UTC),
    )


def reply_mail(domain: str, serial: int) -> bytes:
    """A composed reply of about REPLY_SIZE bytes (CRLF), as the reply desk would queue it."""
    head = (
        f"From: viesti@{domain}\r\nTo: kirjaamo+{serial}@demokunta.test\r\n"
        f"Subject: Re: Päätös\r\nDate: Mon, 13 May 2024 10:00:00 +0300\r\n"
        f"Message-ID: <reply.{serial}@{domain}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    line = b"MIIBkzCCATmgAwIBAgIUb2VuY3J5cHRlZCByZXBseSBzdGFuZGluZyBpbiBmb3IgYSBjaXRp\r\n"
    return head + line * ((REPLY_SIZE - len(head)) // len(line))


async def _checkpoints(store: MailboxStore, stop: asyncio.Event) -> None:
    """What serve's background task does: copy the WAL into the database every second."""
    while not stop.is_set():
        await asyncio.to_thread(store.checkpoint)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def _latencies(sink: RecordingSink, since: dict[str, float], phase: Phase) -> float:
    """Fill `phase.latencies` (arrival - `since[recipient]`); returns the last arrival."""
    seen: set[str] = set()
    last = 0.0
    for arrival in sink.arrivals():
        if arrival.recipient in seen:
            phase.duplicates += 1
            continue
        seen.add(arrival.recipient)
        phase.latencies.append(arrival.at - since[arrival.recipient])
        last = max(last, arrival.at)
    return last


async def transport_alone(rig: Rig, count: int) -> Phase:
    phase = Phase("RelayTransport alone, no store/DKIM")
    config = rig.env.config
    data = message_bytes(render_notification(
        lang="fi", to_address=_address(0), from_address=config.outbound.from_address,
        login_url=config.portal.public_url + "/", message_id_domain=config.domain,
    ))  # fmt: skip
    transport = rig.transport()
    rig.sink.clear()
    began = time.monotonic()
    for _ in range(count):
        start = time.monotonic()
        await transport.send(data, envelope_from=config.outbound.from_address,
                             recipients=[_address(0)])
        phase.latencies.append(time.monotonic() - start)
    phase.elapsed = time.monotonic() - began
    return phase


async def drain(rig: Rig, phase: Phase, recipients: Sequence[str]) -> Phase:
    """Run the worker over what is queued until every recipient's mail has arrived."""
    rig.sink.clear()
    signed_before = rig.signer.seconds
    stop = asyncio.Event()
    began = time.monotonic()
    running = [asyncio.create_task(rig.worker.run(stop)),
               asyncio.create_task(_checkpoints(rig.store, stop))]
    try:
        await _until(lambda: rig.sink.count() >= len(recipients), 600, phase.name)
    finally:
        stop.set()
        await asyncio.gather(*running)
    last = _latencies(rig.sink, dict.fromkeys(recipients, began), phase)
    phase.elapsed = last - began
    phase.signing = rig.signer.seconds - signed_before
    return phase


async def notifications_flat_out(rig: Rig, count: int) -> tuple[Phase, tuple[str, ...]]:
    """Phase 2; also returns the stored messages' ids (the replies of phase 3 answer them)."""
    stored = rig.store.store_delivery(_delivery(rig, rig.citizens[:count], "flat"))
    phase = await drain(rig, Phase("notifications, flat out"),
                        [_address(i) for i in range(count)])
    return phase, stored.message_ids


async def replies_flat_out(rig: Rig, answered: Sequence[str]) -> Phase:
    """Phase 3: one reply per message of phase 2, all queued before the worker starts."""
    domain = rig.env.config.domain
    count = len(answered)
    for i, (citizen, message) in enumerate(zip(rig.citizens, answered, strict=False)):
        composed = ComposedReply(
            f"<reply.{i}@{domain}>",
            OutgoingMail(recipients=(f"kirjaamo+{i}@demokunta.test",),
                         data=reply_mail(domain, i)),
        )
        rig.store.store_reply(
            NewReply(citizen_id=citizen, thread_id=message,
                     organisation_id=rig.env.config.organisations[0].id, in_reply_to=message,
                     subject="Re: Päätös", text="Kiitos.\n"),
            _already(composed),
        )
    phase = Phase(f"replies (~{REPLY_SIZE // 1024} KB), flat out")
    return await drain(rig, phase, [f"kirjaamo+{i}@demokunta.test" for i in range(count)])


def _already(composed: ComposedReply) -> Callable[[str], ComposedReply]:
    """store_reply's compose step, for a reply composed beforehand (no reply token needed)."""
    return lambda _row_id: composed


async def notifications_at(rig: Rig, count: int, rate: float) -> Phase:
    """Open loop: notification i is queued at t0 + i/rate, the worker woken each time."""
    phase = Phase(f"notifications at 50% ({rate:.1f}/s)")
    rig.sink.clear()
    signed_before = rig.signer.seconds
    queued: dict[str, float] = {}
    stop = asyncio.Event()
    running = [asyncio.create_task(rig.worker.run(stop)),
               asyncio.create_task(_checkpoints(rig.store, stop))]
    began = time.monotonic()
    try:
        for i in range(count):
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            citizen = rig.citizens[i]
            await asyncio.to_thread(rig.store.store_delivery,
                                    _delivery(rig, [citizen], f"half.{i}"))
            queued[_address(i)] = time.monotonic()
            rig.worker.wake()
        await _until(lambda: rig.sink.count() >= count, 120, phase.name)
    finally:
        stop.set()
        await asyncio.gather(*running)
    phase.elapsed = _latencies(rig.sink, queued, phase) - began
    phase.signing = rig.signer.seconds - signed_before
    return phase


@dataclass(frozen=True)
class WholePath:
    sink_rate: float  # the load client against a bare sink
    ingest_rate: float  # the same client against serve: 250s per second
    delivered: Phase  # notifications arriving at the outbound sink, from the first send


def _relay_env(root: Path, port: int) -> GatewayEnv:
    with contextlib.redirect_stdout(io.StringIO()):
        env = make_env(root)
    text = env.config_path.read_text()
    if 'mode = "outbox"' not in text:
        raise RuntimeError(f"{env.config_path}: no [outbound] mode to switch to relay")
    env.config_path.write_text(text.replace(
        'mode = "outbox"',
        f'mode = "relay"\nrelay_host = "127.0.0.1"\nrelay_port = {port}\nrelay_starttls = "none"',
        1,
    ))  # fmt: skip
    env = GatewayEnv(env.root, env.config_path, load_config(env.config_path))
    env.add_citizen(HETU, email="kansalainen@example.fi")
    return env


def whole_path(root: Path, count: int, warmup: int, concurrency: int) -> WholePath:
    with RecordingSink(root, "whole-path-sink") as outbound_sink:
        env = _relay_env(root / "serve", outbound_sink.port)
        clerk = Clerk.from_env(env, HETU)
        small = entity(clerk, BODY)
        say(f"whole path, bare sink: {warmup} warm-up + {count} messages, "
            f"{concurrency} connections")
        with Sink(root / "bare-sink.log") as bare:
            asyncio.run(run_load(bare.port, clerk.sender, clerk.recipient,
                                 batch(clerk, small, "sw", warmup), concurrency=concurrency))
            reference = asyncio.run(run_load(bare.port, clerk.sender, clerk.recipient,
                                             batch(clerk, small, "sm", count),
                                             concurrency=concurrency))
        serve = ServeProcess(env, root / "serve-whole-path.log").start()
        try:
            say(f"whole path, serve -> outbound sink: {warmup} warm-up + {count} messages")
            asyncio.run(run_load(env.config.smtp.listen_port, clerk.sender, clerk.recipient,
                                 batch(clerk, small, "gw", warmup), concurrency=concurrency))
            asyncio.run(_until(lambda: outbound_sink.count() >= warmup, 120, "warm-up mail"))
            outbound_sink.clear()
            messages = batch(clerk, small, "gm", count)
            began = time.monotonic()
            ingest = asyncio.run(run_load(env.config.smtp.listen_port, clerk.sender,
                                          clerk.recipient, messages, concurrency=concurrency))
            asyncio.run(_until(lambda: outbound_sink.count() >= ingest.sent, 300,
                               "the notifications"))
        finally:
            serve.stop()
        delivered = Phase("whole path: notifications at the sink")
        arrivals = outbound_sink.arrivals()
        delivered.latencies = [a.at - began for a in arrivals]  # since the load began
        delivered.elapsed = max(a.at for a in arrivals) - began
        delivered.duplicates = len(arrivals) - ingest.sent
    return WholePath(reference.rate, ingest.rate, delivered)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def table(phases: Sequence[Phase]) -> str:
    head = (f"{'phase':<38} {'sent':>5} {'msg/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'max ms':>8} {'DKIM':>6}")
    lines = [head, "-" * len(head)]
    for p in phases:
        lat = p.latencies
        share = f"{p.signing / p.elapsed:6.1%}" if p.elapsed and p.signing else f"{'-':>6}"
        lines.append(
            f"{p.name:<38} {len(lat):>5} {p.rate:>7.1f} {ms(percentile(lat, 50))} "
            f"{ms(percentile(lat, 95))} {ms(percentile(lat, 99))} "
            f"{ms(max(lat) if lat else float('nan'))} {share}"
        )
    lines.append(
        "(msg/s: mail arrived at the sink / wall time of the phase. Latency: transport alone:\n"
        " one send; flat out: queue released -> arrival at the sink (a burst of N queued at\n"
        " once); 50%: enqueue committed -> arrival. DKIM: CPU time in DkimSigner.sign / wall\n"
        " time. Whole path: from the first clerk message sent to each notification's arrival.)"
    )
    return "\n".join(lines)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.outbound",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500,
                        help="notifications and replies per flat-out phase (500)")
    parser.add_argument("--half-messages", type=int, default=500,
                        help="notifications at 50%% load, shortened to ~30 s (500)")
    parser.add_argument("--whole-messages", type=int, default=300,
                        help="clerk messages through serve in the whole-path phase (300)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured, first (30)")
    parser.add_argument("--concurrency", type=int, default=8, help="SMTP connections (8)")
    parser.add_argument("--skip-whole-path", action="store_true", help="no phase 5")
    return parser.parse_args(argv)


async def queue_phases(args: argparse.Namespace, root: Path) -> list[Phase]:
    with RecordingSink(root, "outbound-sink") as sink:
        say(f"store with {args.messages} citizens (SQLite, as serve opens it)")
        rig = build_rig(root / "rig", sink, args.messages)
        try:
            say(f"transport alone: {args.messages} sends")
            alone = await transport_alone(rig, args.messages)
            say(f"notifications, flat out: {args.messages}")
            flat, received = await notifications_flat_out(rig, args.messages)
            say(f"replies, flat out: {args.messages}")
            replies = await replies_flat_out(rig, received)
            rate = flat.rate / 2
            count = min(args.half_messages, args.messages, max(100, int(rate * 30)))
            say(f"notifications at 50% ({rate:.1f}/s): {count}, about {count / rate:.0f} s")
            half = await notifications_at(rig, count, rate)
        finally:
            rig.store.close()
    return [alone, flat, replies, half]


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    load1, load5, load15 = os.getloadavg()
    say(f"{os.cpu_count()} CPUs, load average {load1:.2f} {load5:.2f} {load15:.2f}")
    with tempfile.TemporaryDirectory(prefix="asiointitili-bench-outbound-") as tmp:
        root = Path(tmp)
        try:
            phases = asyncio.run(queue_phases(args, root))
            whole = None if args.skip_whole_path else whole_path(
                root, args.whole_messages, args.warmup, args.concurrency)
        except BaseException:
            for log in sorted(root.glob("*.log")):
                tail = log.read_text(errors="replace")[-3000:]
                print(f"--- {log.name} (end) ---\n{tail}", file=sys.stderr)
            raise
    print()
    print(table(phases + ([whole.delivered] if whole else [])))
    print()
    flat, replies = phases[1], phases[2]
    print(f"info outbound, flat out: {flat.rate:.1f} notifications/s = "
          f"{flat.rate / phases[0].rate:.2f}x the transport alone; DKIM signing "
          f"{flat.signing / flat.elapsed:.1%} of the wall time "
          f"({flat.signing / len(flat.latencies) * 1000:.2f} ms CPU per notification, "
          f"{replies.signing / len(replies.latencies) * 1000:.2f} ms per reply)")
    if whole is not None:
        ratio = whole.delivered.rate / whole.sink_rate if whole.sink_rate else 0.0
        per_mail = flat.signing / len(flat.latencies)
        print(f"{verdict(ratio >= WHOLE_PATH_TARGET)} whole path: notifications delivered / "
              f"bare sink = {ratio:.2f}x ({whole.delivered.rate:.1f} / {whole.sink_rate:.1f} "
              f"msg/s; target >= {WHOLE_PATH_TARGET}x); the clerks' 250s came at "
              f"{whole.ingest_rate:.1f} msg/s meanwhile; DKIM signing ~"
              f"{per_mail * whole.delivered.rate:.1%} of one core (phase 2's cost per mail)")
    duplicates = sum(p.duplicates for p in phases) + (whole.delivered.duplicates if whole else 0)
    print(f"check: {duplicates} duplicate deliveries (expected 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
