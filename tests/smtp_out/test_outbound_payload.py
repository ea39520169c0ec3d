"""Rows that carry a composed mail (replies, receipts) are sent as they are, DKIM-signed, to
their own recipients with the row's return path; rows that should carry one and do not fail.

The rows come from a stand-in queue, so any kind and payload can be tried, including rows the
store would never make; the SMTP side is real (aiosmtpd on loopback). The bench queues real
sealed reply rows (bench.outbound)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dkim
import pytest
from gatewaytest.dkim_check import txt_record
from outbound_support import (
    DKIM_DNS_NAME,
    FakeQueue,
    StoreKeys,
    dkim_key_pem,
    dkim_signer,
    make_worker,
)
from smtp_sink import SinkHandler, StartSink

from mailbox_store import OutgoingMail, QueueItem
from smtp_out.transport import RelayTransport

ROW = "0123456789abcdef0123456789abcdef"
REPLY = (
    b"From: Maija Meikalainen <noreply@asiointitili.example.fi>\r\n"
    b"To: kirjaamo@city.example\r\n"
    b"Subject: Re: Paatos\r\n"
    b"Message-ID: <reply-1@asiointitili.example.fi>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Kiitos, salainen vastaus.\r\n"
)


def row(kind: str, payload: OutgoingMail | None, citizen_id: str | None = "c1") -> QueueItem:
    return QueueItem(
        id=ROW,
        kind=kind,
        citizen_id=citizen_id,
        attempts=1,
        due_at=datetime.now(UTC) + timedelta(minutes=5),
        payload=payload,
    )


def dkimpy_verifies(message: bytes) -> bool:
    record = txt_record(dkim_key_pem()).encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return record if name.decode().rstrip(".") == DKIM_DNS_NAME else b""

    return bool(dkim.verify(message, dnsfunc=lookup))


@pytest.mark.parametrize("kind", ["reply", "receipt", "notification"])
async def test_a_composed_mail_goes_as_it_is_signed_with_its_own_return_path(
    start_sink: StartSink, kind: str
) -> None:
    keys = StoreKeys.generate()
    recipients = ("kirjaamo@city.example", "arkisto@city.example")
    queue = FakeQueue([row(kind, OutgoingMail(recipients=recipients, data=REPLY))])
    handler = SinkHandler()
    sink = start_sink(handler)
    transport = RelayTransport("127.0.0.1", sink.port, starttls="none")
    worker = make_worker(queue, transport, keys, dkim=dkim_signer())

    assert await worker.run_once() == 1

    [received] = handler.received
    assert received.recipients == list(recipients)
    assert keys.queue_id_of(received.envelope_from) == ROW
    # Byte for byte as queued, after the one field prepended.
    assert received.data.endswith(REPLY)
    signature = received.data[: -len(REPLY)]
    assert signature.startswith(b"DKIM-Signature: ") and signature.endswith(b"\r\n")
    assert b"\r\n" not in signature[:-2].replace(b"\r\n ", b"").replace(b"\r\n\t", b"")
    assert dkimpy_verifies(received.data)
    assert (queue.sent, queue.failed) == ([ROW], [])


@pytest.mark.parametrize("kind", ["reply", "receipt"])
async def test_another_kind_without_a_mail_fails_for_good(
    start_sink: StartSink, kind: str
) -> None:
    handler = SinkHandler()
    sink = start_sink(handler)
    queue = FakeQueue([row(kind, None)])
    worker = make_worker(
        queue, RelayTransport("127.0.0.1", sink.port, starttls="none"), StoreKeys.generate()
    )

    assert await worker.run_once() == 1
    assert handler.received == []
    [(failed_id, error, retry_at)] = queue.failed
    assert (failed_id, retry_at) == (ROW, None)
    assert kind in error


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (OutgoingMail(recipients=(), data=REPLY), "no recipients"),
        (
            OutgoingMail(recipients=("kirjaamo@city.example",), data=REPLY.split(b"\r\n", 1)[1]),
            "cannot be DKIM-signed (DkimError)",
        ),
        (
            # Not a header block at all: dkimpy fails with an IndexError of its own.
            OutgoingMail(recipients=("kirjaamo@city.example",), data=REPLY.split(b"To:", 1)[1]),
            "cannot be DKIM-signed",
        ),
    ],
    ids=["no-recipients", "no-from-field", "malformed"],
)
async def test_a_mail_that_can_never_go_fails_for_good_without_leaking_it(
    start_sink: StartSink,
    caplog: pytest.LogCaptureFixture,
    payload: OutgoingMail,
    error: str,
) -> None:
    handler = SinkHandler()
    sink = start_sink(handler)
    queue = FakeQueue([row("reply", payload)])
    worker = make_worker(
        queue,
        RelayTransport("127.0.0.1", sink.port, starttls="none"),
        StoreKeys.generate(),
        dkim=dkim_signer(),
    )

    with caplog.at_level(logging.DEBUG, logger="smtp_out"):
        assert await worker.run_once() == 1

    assert handler.received == []
    [(failed_id, text, retry_at)] = queue.failed
    assert (failed_id, retry_at) == (ROW, None)
    assert error in text
    for secret in ("kirjaamo", "salainen", "@"):
        assert secret not in text.lower()
        assert secret not in caplog.text.lower()
