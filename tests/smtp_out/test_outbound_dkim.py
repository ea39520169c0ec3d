"""What leaves the gateway is DKIM-signed so that an independent verifier (Perl's Mail::DKIM)
accepts it, and its envelope sender is a VERP return path naming the queue row.

A queued notification goes from the real store through the worker and RelayTransport to an
aiosmtpd sink on loopback; the sink's bytes are what gets verified."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatewaytest.clock import Clock
from gatewaytest.dkim_check import MailDkim, mail_dkim, txt_record
from gatewaytest.hetus import make_hetu
from outbound_support import (
    DKIM_DNS_NAME,
    DOMAIN,
    FakeQueue,
    StoreKeys,
    deliver,
    dkim_key_pem,
    dkim_signer,
    make_worker,
)
from smtp_sink import SinkHandler, StartSink

from mailbox_store import MailboxStore, OutgoingMail, QueueItem
from smtp_out.transport import RelayTransport
from smtp_out.verp import BOUNCE_PREFIX


@pytest.fixture(scope="module")
def verifier() -> MailDkim:
    return mail_dkim()


@pytest.fixture
def keys() -> StoreKeys:
    return StoreKeys.generate()


@pytest.fixture
def store(tmp_path: Path, keys: StoreKeys) -> Iterator[MailboxStore]:
    mailbox = keys.open(f"sqlite:///{tmp_path / 'mailbox.db'}", Clock())
    yield mailbox
    mailbox.close()


def verdict(verifier: MailDkim, message: bytes) -> str:
    return verifier(message, DKIM_DNS_NAME, txt_record(dkim_key_pem())).splitlines()[-1]


async def test_a_notification_verifies_with_mail_dkim_and_names_its_row(
    store: MailboxStore, keys: StoreKeys, start_sink: StartSink, verifier: MailDkim
) -> None:
    citizen = store.add_citizen(make_hetu("030303", "-", 303), "Maija", "maija@example.org", "sv")
    deliver(store, [citizen], now=Clock().now)
    [entry] = store.queue_entries()
    handler = SinkHandler()
    sink = start_sink(handler)
    worker = make_worker(
        store,
        RelayTransport("127.0.0.1", sink.port, starttls="none"),
        keys,
        dkim=dkim_signer(),
        clock=Clock(),
    )

    assert await worker.run_once() == 1

    [received] = handler.received
    assert verdict(verifier, received.data) == "overall: pass"
    local, _, domain = received.envelope_from.rpartition("@")
    assert local.startswith(BOUNCE_PREFIX) and domain == DOMAIN
    assert keys.queue_id_of(received.envelope_from) == entry.id
    # Altered in transit, it must fail: the verifier is really checking.
    tampered = received.data.replace(b"To: maija@example.org", b"To: mallory@example.org")
    assert tampered != received.data
    assert verdict(verifier, tampered) != "overall: pass"


async def test_a_composed_12_kb_reply_verifies_with_mail_dkim(
    start_sink: StartSink, keys: StoreKeys, verifier: MailDkim
) -> None:
    line = "Vastaus päätökseen, rivi joka toistuu.  \r\n".encode()
    reply = (
        b"From: noreply@asiointitili.example.fi\r\n"
        b"To: kirjaamo@city.example\r\n"
        b"Subject: Re: Paatos\r\n"
        b"Message-ID: <reply-2@asiointitili.example.fi>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n" + line * (12 * 1024 // len(line))
    )
    item = QueueItem(
        id="fedcba9876543210fedcba9876543210",
        kind="reply",
        citizen_id="c1",
        attempts=1,
        due_at=datetime.now(UTC) + timedelta(minutes=5),
        payload=OutgoingMail(recipients=("kirjaamo@city.example",), data=reply),
    )
    handler = SinkHandler()
    sink = start_sink(handler)
    worker = make_worker(
        FakeQueue([item]),
        RelayTransport("127.0.0.1", sink.port, starttls="none"),
        keys,
        dkim=dkim_signer(),
    )

    assert await worker.run_once() == 1
    [received] = handler.received
    assert verdict(verifier, received.data) == "overall: pass"
    assert keys.queue_id_of(received.envelope_from) == item.id
