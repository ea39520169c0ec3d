"""Verifiable delivery: a message tagged [todisteellinen] stays a notice until the citizen
acknowledges it; the sender then gets a receipt their own openssl opens and verifies; past
the deadline unacknowledged, the sender gets a notice to serve it on paper."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from gatewaytest.clerk import openssl
from gatewaytest.env import DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.portal import asgi_login, csrf_token
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import decision, send
from sqlalchemy import select

from crypto.hetu import parse_hetu
from gateway import material
from gateway.receipts import RECEIPT_FORMAT, ReceiptDesk
from gateway.serve import gateway_signer
from gateway.web import create_app
from mailbox_store.schema import attachments

HETU = make_hetu("131052", "-", 308)
SECRET_TEXT = "Sisältö MERKKI77aa"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[GatewayEnv, InProcessGateway, ReceiptDesk, Clock]]:
    env = make_env(tmp_path)
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    clock = Clock()
    desk = ReceiptDesk(
        gateway.store,
        env.config.organisations,
        gateway_signer(env.config),
        material.organisation_certificates(env.config),
        env.config.domain,
        clock=clock,
    )
    yield env, gateway, desk, clock
    gateway.stop()


def _send_verifiable(env: GatewayEnv, gateway: InProcessGateway, message_id: str) -> str:
    answer = send(
        gateway.port,
        decision(
            env,
            f"{HETU}@{DOMAIN}",
            subject="[todisteellinen] Päätös",
            body=SECRET_TEXT + "\n",
            message_id=message_id,
            attachments=(("paatos.pdf", "application/pdf", b"%PDF-1.4 salainen"),),
        ),
        [f"{HETU}@{DOMAIN}"],
    )
    assert answer.code == 250, answer
    citizen = gateway.store.citizen_id(HETU)
    assert citizen is not None
    return citizen


async def _client(gateway: InProcessGateway, desk: ReceiptDesk) -> httpx.AsyncClient:
    app = create_app(
        gateway.store,
        secret_key=b"s" * 32,
        auth_mode="test",
        organisations={"demokunta": "Demokunta"},
        secure_cookies=False,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
        receipts=desk,
    )
    return await asgi_login(app, HETU)


def _receipts(gateway: InProcessGateway, clock: Clock) -> list[bytes]:
    due = gateway.store.claim_due(now=clock.now + timedelta(seconds=1), limit=50)
    return [item.payload.data for item in due if item.kind.startswith("receipt") and item.payload]


def _opened_by_clerk(env: GatewayEnv, mail: bytes, tmp_path: Path) -> email.message.Message:
    (tmp_path / "receipt.eml").write_bytes(mail)
    decrypted = openssl("cms", "-decrypt", "-in", tmp_path / "receipt.eml",
                        "-recip", env.clerk_cert, "-inkey", env.clerk_key)
    (tmp_path / "signed.eml").write_bytes(decrypted)
    inner = openssl("cms", "-verify", "-in", tmp_path / "signed.eml",
                    "-CAfile", env.gateway_cert)
    return email.message_from_bytes(inner, policy=email.policy.default)


def _record(inner: email.message.Message) -> dict[str, object]:
    [part] = [p for p in inner.walk() if p.get_filename() == "receipt.json"]
    record: dict[str, object] = json.loads(part.get_content())
    return record


async def test_content_opens_only_on_acknowledgement_and_the_sender_gets_a_receipt(
    world: tuple[GatewayEnv, InProcessGateway, ReceiptDesk, Clock], tmp_path: Path
) -> None:
    env, gateway, desk, clock = world
    citizen = _send_verifiable(env, gateway, "<verifiable-1@demokunta.test>")
    store = gateway.store
    [entry] = store.inbox(citizen)
    assert entry.subject == "Päätös"  # the tag is gone
    closed = store.read_message(citizen, entry.id)
    assert closed is not None and closed.verification.awaiting
    assert closed.text == "" and closed.attachments == () and closed.opened_at is None
    with store._engine.connect() as connection:  # noqa: SLF001 - the file's real id
        [file_id] = connection.execute(select(attachments.c.id)).scalars()
    assert store.read_attachment(citizen, entry.id, file_id) is None
    _receipts(gateway, clock)  # the notification, sent elsewhere

    client = await _client(gateway, desk)
    try:
        page = await client.get(f"/messages/{entry.id}")
        assert "Todisteellinen tiedoksianto" in page.text and SECRET_TEXT not in page.text
        forged = await client.post(f"/messages/{entry.id}/acknowledge", data={})
        assert forged.status_code == 403
        token = csrf_token(page.text)
        acknowledged = await client.post(
            f"/messages/{entry.id}/acknowledge", data={"csrf_token": token}
        )
        assert acknowledged.status_code == 303
        opened = await client.get(f"/messages/{entry.id}")
        assert SECRET_TEXT in opened.text and "Kuittasit viestin" in opened.text
        again = await client.post(f"/messages/{entry.id}/acknowledge", data={"csrf_token": token})
        assert again.status_code == 303
    finally:
        await client.aclose()

    [receipt] = _receipts(gateway, clock)  # one receipt, however often acknowledged
    assert b"Maija" not in receipt.split(b"\r\n\r\n")[0] and HETU.encode() not in receipt
    record = _record(_opened_by_clerk(env, receipt, tmp_path))
    [event] = [e for e in store.events(citizen) if e.kind == "message.acknowledged"]
    assert record["format"] == RECEIPT_FORMAT and record["event"] == "acknowledged"
    assert record["message_id"] == "<verifiable-1@demokunta.test>"
    assert record["recipient_hetu"] == HETU and record["identification"] == "test"
    assert record["original_sha256"] == event.detail["sha256"]
    assert record["original_sha256"] == store.original_digest(citizen, entry.id)
    assert store.read_attachment(citizen, entry.id, file_id) is not None


def test_an_unacknowledged_message_past_its_deadline_is_reported_to_the_sender(
    world: tuple[GatewayEnv, InProcessGateway, ReceiptDesk, Clock], tmp_path: Path
) -> None:
    env, gateway, desk, clock = world
    citizen = _send_verifiable(env, gateway, "<verifiable-2@demokunta.test>")
    _receipts(gateway, clock)
    assert desk.expire_overdue() == 0  # not yet
    clock.now += timedelta(days=7, minutes=1)
    assert desk.expire_overdue() == 1
    assert desk.expire_overdue() == 0  # told once
    [notice] = _receipts(gateway, clock)
    record = _record(_opened_by_clerk(env, notice, tmp_path))
    assert record["event"] == "expired" and record["message_id"] == "<verifiable-2@demokunta.test>"
    [entry] = gateway.store.inbox(citizen)
    view = gateway.store.read_message(citizen, entry.id)
    assert view is not None and view.verification.awaiting and view.verification.expired_at
    assert any(e.kind == "message.acknowledgement_expired" for e in gateway.store.events(citizen))
