"""The load client: C concurrent SMTP connections (aiosmtplib), each sending in sequence.

Per message: MAIL, RCPT, DATA on the same connection; the latency is the DATA command to its
final reply (the 354 round trip, the transfer and the server's work up to the 250). Plain SMTP,
no STARTTLS (the sink offers none; the gateway does, but does not require it). With a rate,
message i may start at t0 + i/rate and no earlier (open loop, evenly spaced); a late one starts
at once. Waiting for a slot or a free connection is not part of the latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiosmtplib

HELO = "kunta-mx.test"


@dataclass
class Result:
    """What one phase measured: per-message DATA->250 latencies (s), wall time, refusals."""

    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0


async def _connect(port: int, timeout: float) -> aiosmtplib.SMTP:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False,
                           local_hostname=HELO, timeout=timeout)
    await smtp.connect()
    await smtp.ehlo()
    return smtp


async def _send_all(
    smtp: aiosmtplib.SMTP, sender: str, recipient: str,
    queue: asyncio.Queue[tuple[float, bytes]], result: Result,
) -> None:
    try:
        while True:
            try:
                due, message = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await smtp.mail(sender)
            await smtp.rcpt(recipient)
            start = time.perf_counter()
            try:
                await smtp.data(message)
            except aiosmtplib.SMTPResponseException as exc:
                result.failures.append(f"{exc.code} {exc.message}"[:160])
                await smtp.rset()
                continue
            result.latencies.append(time.perf_counter() - start)
    finally:
        try:
            await smtp.quit()
        except aiosmtplib.SMTPException:
            smtp.close()


async def run_load(
    port: int, sender: str, recipient: str, messages: Sequence[bytes], *,
    concurrency: int, rate: float | None = None, timeout: float = 120.0,
) -> Result:
    """Send every message; `rate` (messages/s) spaces their starts, None sends flat out.
    Connections are opened first, so the wall time counts only the sending."""
    conns = await asyncio.gather(
        *(_connect(port, timeout) for _ in range(min(concurrency, len(messages))))
    )
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    began = time.perf_counter()
    for i, message in enumerate(messages):
        queue.put_nowait((began + i / rate if rate else 0.0, message))
    result = Result()
    await asyncio.gather(*(_send_all(smtp, sender, recipient, queue, result) for smtp in conns))
    result.elapsed = time.perf_counter() - began
    return result
