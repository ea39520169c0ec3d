"""The outbound worker: takes due rows from the persistent queue and delivers them.

The rows of one claim are delivered side by side, each on its own. A row that carries a
composed mail (`item.payload`: replies, receipts) is sent as it is to its own recipients; a
notification without one is rendered from the citizen's current profile, which decides whether
and where to notify. Every mail is DKIM-signed just before it goes (a signature made at
enqueue time would age in the queue and tie it to the key of that day), and every mail gets its
own envelope sender, a VERP return path naming the row (smtp_out.verp), so a bounce says which
row it is about.

Failures are retried with exponential backoff (1 min, 2, 4, ... at most 6 h between
attempts); a permanent refusal, or five days' worth of retrying, ends the row as failed for
the operator to see.

Delivery is at least once: if marking a row fails after a successful send, the row's lease
runs out and the mail goes again. A duplicate "you have a new message" is harmless; a lost
one is not.

Log lines name queue row ids and error classes only, never addresses or content.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import ParamSpec, Protocol, TypeVar

from crypto.dkim import DkimSigner
from mailbox_store.records import CitizenProfile, QueueItem
from smtp_out.notification import notification_bytes
from smtp_out.transport import (
    PermanentDeliveryError,
    TransientDeliveryError,
    Transport,
)

logger = logging.getLogger(__name__)

FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(days=5)
# The default executor's threads also run the SMTP listener's commits. However many mails of
# a batch are in flight, at most this many of those threads work for the queue at a time, so
# a burst of outgoing mail cannot line up ahead of the listener (and its 250s).
_THREADS = 2

P = ParamSpec("P")
R = TypeVar("R")


class OutboundQueue(Protocol):
    """The part of the mailbox store the worker uses (synchronous; called in a thread)."""

    def claim_due(self, *, now: datetime, limit: int) -> list[QueueItem]: ...

    def mark_sent(self, *item_ids: str) -> None: ...

    def mark_failed(self, item_id: str, error: str, retry_at: datetime | None) -> None: ...

    def citizen_profile(self, citizen_id: str) -> CitizenProfile | None: ...


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th attempt (counting from 1) failed."""
    # The exponent is capped so a huge attempt count cannot overflow timedelta.
    return min(FIRST_RETRY_DELAY * (1 << min(max(attempts - 1, 0), 16)), MAX_RETRY_DELAY)


def gives_up(attempts: int, lifetime: timedelta = GIVE_UP_AFTER) -> bool:
    """Whether a row that has failed `attempts` times has been retried for long enough."""
    waited = sum((retry_delay(n) for n in range(1, attempts + 1)), timedelta())
    return waited >= lifetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OutboundWorker:
    """Delivers queued mail through a `Transport`, DKIM-signed, each with its own return path.

    `dkim` None sends unsigned (only for tests and tools that have no key); `return_path`
    maps a queue row id to the envelope sender for that row (see smtp_out.verp).
    """

    def __init__(
        self,
        store: OutboundQueue,
        transport: Transport,
        *,
        from_address: str,
        login_url: str,
        message_id_domain: str,
        dkim: DkimSigner | None,
        return_path: Callable[[str], str],
        poll_interval: float = 1.0,
        batch: int = 20,
        retry_lifetime: timedelta = GIVE_UP_AFTER,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if poll_interval <= 0 or batch < 1:
            raise ValueError("poll_interval must be positive and batch at least 1")
        # The header From of notifications; it may carry a display name, but needs an address.
        if "@" not in parseaddr(from_address)[1]:
            raise ValueError("from_address must contain an e-mail address")
        self._store = store
        self._transport = transport
        self._from_address = from_address
        self._dkim = dkim
        self._return_path = return_path
        self._login_url = login_url
        self._message_id_domain = message_id_domain
        self._poll_interval = poll_interval
        self._batch = batch
        self._retry_lifetime = retry_lifetime
        self._clock = clock
        self._wake = asyncio.Event()
        self._threads = asyncio.Semaphore(_THREADS)

    def wake(self) -> None:
        """Ask `run` to look at the queue now (call from the event loop's thread)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, polling every `poll_interval` seconds or when woken."""
        while not stop.is_set():
            # Cleared before the claim, so a wake() arriving while we work is not lost.
            self._wake.clear()
            try:
                handled = await self.run_once()
            except Exception as exc:
                # The store being down must not end the worker; try again after a pause.
                logger.error("outbound queue claim failed (%s)", type(exc).__name__)
                handled = 0
            if handled < self._batch:
                await self._pause(stop)

    async def run_once(self) -> int:
        """Claim due rows, deliver them side by side, and return how many rows were handled.

        Each row has its own SMTP conversation, so one slow relay answer does not hold up the
        rest of the batch (nor eat into their leases); `batch` bounds the mails in flight.
        """
        items = await self._in_thread(self._store.claim_due, now=self._clock(), limit=self._batch)
        outcomes = await asyncio.gather(*(self._handle(item) for item in items))
        # One transaction records every delivery of the claim: a commit per mail would compete
        # with the listener's commits for SQLite's single writer.
        sent = [item.id for item, done in zip(items, outcomes, strict=True) if done]
        if sent:
            await self._record(self._store.mark_sent, *sent)
        return len(items)

    async def _in_thread(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run blocking `fn` (store, signing) in the default executor, `_THREADS` at a time."""
        async with self._threads:
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def _pause(self, stop: asyncio.Event) -> None:
        waiters = {
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        }
        try:
            await asyncio.wait(
                waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _handle(self, item: QueueItem) -> bool:
        """Deliver one row; True when it is done (the caller records that), False when its
        failure was recorded or it was left alone. Never raises (except cancellation)."""
        if self._clock() >= item.due_at:
            # The claim's lease ran out while earlier rows were slow; another worker may hold
            # the row by now, so leave it to whoever claims it next rather than send twice.
            logger.info(
                "queue row %s: lease expired before sending, left for the next claim", item.id
            )
            return False
        try:
            await self._deliver(item)
        except PermanentDeliveryError as exc:
            logger.warning("queue row %s failed permanently: %s", item.id, exc)
            await self._record_failure(item, str(exc), permanent=True)
        except TransientDeliveryError as exc:
            logger.info("queue row %s will be retried: %s", item.id, exc)
            await self._record_failure(item, str(exc), permanent=False)
        except Exception as exc:
            # Unknown territory: the exception text may quote content or addresses, so only
            # its class is logged, and the row is retried like any transient failure.
            logger.error("queue row %s: unexpected %s", item.id, type(exc).__name__)
            await self._record_failure(
                item, f"internal error ({type(exc).__name__})", permanent=False
            )
        else:
            return True
        return False

    async def _deliver(self, item: QueueItem) -> None:
        if item.payload is not None:
            # A composed mail (reply, receipt) goes as it is, whatever the row's kind.
            recipients, data = item.payload.recipients, item.payload.data
            if not recipients:
                raise PermanentDeliveryError("queued mail has no recipients")
        elif item.kind == "notification":
            rendered = await self._notification(item)
            if rendered is None:
                return
            recipients, data = rendered
        else:
            # Any other kind must bring its mail along; without one there is nothing to send.
            raise PermanentDeliveryError(f"queue item of kind {item.kind!r} without a mail")
        await self._transport.send(
            await self._signed(data),
            envelope_from=self._return_path(item.id),
            recipients=recipients,
        )

    async def _notification(self, item: QueueItem) -> tuple[tuple[str, ...], bytes] | None:
        """The citizen's notification (recipients, bytes), or None when nobody is to be told."""
        if item.citizen_id is None:
            raise PermanentDeliveryError("notification without a citizen")
        profile = await self._in_thread(self._store.citizen_profile, item.citizen_id)
        if profile is None:
            raise PermanentDeliveryError("citizen not found")
        if profile.email is None or not profile.notify_email or profile.status != "active":
            # Nobody to tell, a citizen who chose no email notices, or an account that must
            # not receive mail: nothing is owed.
            logger.info("queue row %s: citizen not notifiable, nothing sent", item.id)
            return None
        data = notification_bytes(
            lang=profile.lang,
            to_address=profile.email,
            from_address=self._from_address,
            login_url=self._login_url,
            message_id_domain=self._message_id_domain,
            now=self._clock(),
        )
        return (profile.email,), data

    async def _signed(self, data: bytes) -> bytes:
        """`data` with its DKIM-Signature header field in front (unchanged without a signer)."""
        if self._dkim is None:
            return data
        try:
            # In a thread: canonicalising a large mail would otherwise stall the event loop,
            # which the SMTP listener and the portal share.
            signature = await self._in_thread(self._dkim.sign, data)
        except Exception as exc:
            # Signing is a pure function of the bytes: what fails now (no From field, or a
            # header dkimpy trips over with something other than DkimError) fails every time.
            # The text may quote the message, so only the class is kept.
            raise PermanentDeliveryError(
                f"the mail cannot be DKIM-signed ({type(exc).__name__})"
            ) from None
        return signature + data

    async def _record_failure(self, item: QueueItem, error: str, *, permanent: bool) -> None:
        retry_at: datetime | None = None
        if not permanent and not gives_up(item.attempts, self._retry_lifetime):
            retry_at = self._clock() + retry_delay(item.attempts)
        elif not permanent:
            logger.warning("queue row %s: giving up after %d attempts", item.id, item.attempts)
        await self._record(self._store.mark_failed, item.id, error, retry_at)

    async def _record(self, mark: Callable[..., None], *args: object) -> None:
        try:
            await self._in_thread(mark, *args)
        except Exception as exc:
            # The claim's lease runs out and the row comes back: at least once, never lost.
            logger.error(
                "queue row %s: recording the outcome failed (%s)", args[0], type(exc).__name__
            )
