"""Shared pieces of the outbound worker tests: store keys that survive a restart, the worker
wired as `serve` wires it (VERP return paths under the blind index's "bounce" key, optional
DKIM), a stand-in queue for rows that carry a composed mail, and a counting SMTP sink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from smtp_sink import SinkHandler

from crypto.blind_index import BlindIndex
from crypto.dkim import DkimSigner
from crypto.sealing import MasterKeyRing
from mailbox_store import CitizenProfile, Delivery, MailboxStore, QueueItem
from smtp_out.transport import Transport
from smtp_out.verp import parse_return_path, return_path
from smtp_out.worker import OutboundWorker

DOMAIN = "asiointitili.example.fi"
FROM = f"Asiointitili <noreply@{DOMAIN}>"
LOGIN_URL = f"https://{DOMAIN}/login"
SELECTOR = "asiointi1"
DKIM_DNS_NAME = f"{SELECTOR}._domainkey.{DOMAIN}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoreKeys:
    """A store's master and index keys, kept so the same database can be opened again."""

    keys: MasterKeyRing
    index: BlindIndex

    @classmethod
    def generate(cls) -> StoreKeys:
        return cls(
            MasterKeyRing.from_text(MasterKeyRing.generate_file_text()),
            BlindIndex.from_text(BlindIndex.generate_file_text()),
        )

    def open(self, url: str, clock: Callable[[], datetime] = _utc_now) -> MailboxStore:
        store = MailboxStore(url, self.keys, self.index, clock=clock)
        store.migrate()
        return store

    def bounce_mac(self, value: str) -> str:
        return self.index(value, "bounce")

    def return_path(self, queue_id: str) -> str:
        return return_path(queue_id, mac=self.bounce_mac, domain=DOMAIN)

    def queue_id_of(self, envelope_from: str) -> str | None:
        """The row a received mail's envelope sender names, None if it is no return path of ours."""
        local, _, domain = envelope_from.rpartition("@")
        if domain != DOMAIN:
            return None
        return parse_return_path(local, mac=self.bounce_mac)


def make_worker(
    store: Any,
    transport: Transport,
    keys: StoreKeys,
    *,
    dkim: DkimSigner | None = None,
    clock: Callable[[], datetime] = _utc_now,
    **options: float,
) -> OutboundWorker:
    return OutboundWorker(
        store,
        transport,
        from_address=FROM,
        login_url=LOGIN_URL,
        message_id_domain=DOMAIN,
        dkim=dkim,
        return_path=keys.return_path,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def deliver(store: MailboxStore, citizen_ids: list[str], *, now: datetime) -> None:
    """Store one clerk's message for the citizens, which queues a notification for each."""
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
            citizen_ids=tuple(citizen_ids),
            received_at=now,
        )
    )


def queue_events(store: MailboxStore, citizen_id: str) -> list[tuple[str, int]]:
    return [
        (event.kind, event.detail["attempts"])
        for event in store.events(citizen_id)
        if event.kind.startswith("notification.")
    ]


async def eventually(check: Callable[[], bool], *, timeout: float = 20.0) -> None:
    """Wait until `check()` holds (it runs in a thread: it may use the store)."""
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(check):
            await asyncio.sleep(0.02)


@lru_cache(maxsize=1)
def dkim_key_pem() -> bytes:
    """One RSA-2048 key for the whole session (making one takes a while)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def dkim_signer() -> DkimSigner:
    return DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=dkim_key_pem())


@dataclass
class FakeQueue:
    """Hands out the given rows once and records the outcomes: rows with any payload or kind,
    whatever the store would make. Notifications must not be looked up: it knows no citizens."""

    items: list[QueueItem]
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, datetime | None]] = field(default_factory=list)

    def claim_due(self, *, now: datetime, limit: int) -> list[QueueItem]:
        claimed, self.items = self.items[:limit], self.items[limit:]
        return claimed

    def mark_sent(self, *item_ids: str) -> None:
        self.sent.extend(item_ids)

    def mark_failed(self, item_id: str, error: str, retry_at: datetime | None) -> None:
        self.failed.append((item_id, error, retry_at))

    def citizen_profile(self, citizen_id: str) -> CitizenProfile | None:
        raise AssertionError("a row with a payload needs no citizen profile")


@dataclass
class CountingSink(SinkHandler):
    """A sink that also counts MAIL commands: every delivery attempt, refused or not."""

    attempts: int = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        self.attempts += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"
