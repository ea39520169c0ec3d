"""Replies obey the organisation's policy and the clerk's wish on the server, whatever a request
says; reply tokens bind an answer to one citizen, thread and organisation, and run out."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.portal import asgi_login, csrf_token
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import decision, send

from crypto.hetu import parse_hetu
from crypto.reply_tokens import ThreadRef
from gateway import material
from gateway.reply_desk import GatewaySigner, ReplyDesk, ReplyRefused
from gateway.web import create_app
from mailbox_store import Delivery, MailboxStore, NewAttachment
from policies.model import Organisation
from smtp_in import replies
from smtp_in.answers import answered_thread
from smtp_in.pipeline import Reject

HETU = make_hetu("131052", "-", 308)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    return make_env(tmp_path_factory.mktemp("reply-policy"))


@pytest.fixture
def store(env: GatewayEnv, tmp_path: Path) -> Iterator[MailboxStore]:
    store = MailboxStore(
        f"sqlite:///{tmp_path / 'mailbox.db'}",
        material.master_keys(env.config),
        material.blind_index(env.config),
    )
    store.migrate()
    yield store
    store.close()


def _desk(env: GatewayEnv, store: MailboxStore, **policy: object) -> ReplyDesk:
    org: Organisation = env.config.organisations[0]
    replies_allowed = bool(policy.pop("replies_allowed", True))
    org = dataclasses.replace(
        org,
        replies_allowed=replies_allowed,
        replies=dataclasses.replace(org.replies, **policy),  # type: ignore[arg-type]
    )
    key = material.decryption_keys(env.config)[0]
    return ReplyDesk(
        store,
        [org],
        material.reply_tokens(env.config),
        GatewaySigner(env.config.submission_address, key.certificate, key.private_key),
        {},
    )


def _deliver(
    env: GatewayEnv, store: MailboxStore, citizen_id: str, *, no_reply: bool = False
) -> str:
    clerk = x509.load_pem_x509_certificate(env.clerk_cert.read_bytes())
    stored = store.store_delivery(
        Delivery(
            organisation_id=env.config.organisations[0].id,
            message_id=f"decision-{datetime.now(UTC).timestamp()}@demokunta.test",
            sender_address=CLERK,
            subject="Päätös",
            text="Hei.",
            html=None,
            attachments=(),
            original_mime=b"x",
            citizen_ids=(citizen_id,),
            received_at=datetime.now(UTC),
            signer_certificate=clerk.public_bytes(Encoding.DER),
            no_reply=no_reply,
        )
    )
    return stored.message_ids[0]


def _queued(store: MailboxStore) -> int:
    return store.table_counts()["outbound_queue"]


async def _portal(
    env: GatewayEnv, store: MailboxStore, desk: ReplyDesk
) -> httpx.AsyncClient:
    app = create_app(
        store,
        secret_key=b"k" * 32,
        auth_mode="test",
        organisations={"demokunta": "Demokunta"},
        secure_cookies=False,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
        replies=desk,
    )
    return await asgi_login(app, HETU)


async def _post_reply(
    client: httpx.AsyncClient, message_id: str, files: list[tuple[str, bytes]] = ()  # type: ignore[assignment]
) -> httpx.Response:
    page = await client.get(f"/messages/{message_id}")
    token = csrf_token(page.text)
    return await client.post(
        f"/messages/{message_id}/reply",
        data={"csrf_token": token, "text": "Vastaus"},
        files=[("files", (name, data, "application/pdf")) for name, data in files],
    )


@pytest.mark.parametrize("case", ["organisation", "clerk"])
async def test_forbidden_replies_cannot_be_sent_by_crafting_a_request(
    env: GatewayEnv, store: MailboxStore, case: str
) -> None:
    citizen = store.add_citizen(HETU, "Maija", "m@example.fi", "fi")
    message = _deliver(env, store, citizen, no_reply=case == "clerk")
    desk = _desk(env, store, replies_allowed=case != "organisation")
    client = await _portal(env, store, desk)
    try:
        page = await client.get(f"/messages/{message}")
        assert "/reply" not in page.text  # no form
        if case == "clerk":
            assert "ettei tähän viestiin vastata" in page.text
        before = _queued(store)
        crafted = await client.post(
            f"/messages/{message}/reply",
            data={"csrf_token": csrf_token(page.text), "text": "Vastaan silti"},
        )
        assert crafted.status_code == 403
    finally:
        await client.aclose()
    assert _queued(store) == before
    with pytest.raises(ReplyRefused):
        desk.send(citizen, message, "suoraan", [])
    assert _queued(store) == before


async def test_attachment_limits_are_enforced_with_a_clear_answer(
    env: GatewayEnv, store: MailboxStore
) -> None:
    citizen = store.add_citizen(HETU, "Maija", "m@example.fi", "fi")
    message = _deliver(env, store, citizen)
    desk = _desk(env, store, max_attachments=1, max_attachment_bytes=1000)
    client = await _portal(env, store, desk)
    try:
        before = _queued(store)
        too_big = await _post_reply(client, message, [("a.pdf", b"x" * 1001)])
        assert too_big.status_code == 422 and "Liite on liian suuri" in too_big.text
        too_many = await _post_reply(client, message, [("a.pdf", b"a"), ("b.pdf", b"b")])
        assert too_many.status_code == 422 and "Liitteitä on liikaa" in too_many.text
        assert _queued(store) == before
        fine = await _post_reply(client, message, [("a.pdf", b"a" * 1000)])
        assert fine.status_code == 303
    finally:
        await client.aclose()
    assert _queued(store) == before + 1
    [entry] = [e for e in store.thread(citizen, store.read_message(citizen, message).thread_id)
               if e.direction == "out"]
    assert entry.delivery == "queued"


def test_reply_tokens_bind_organisation_and_expire(env: GatewayEnv, store: MailboxStore) -> None:
    citizen = store.add_citizen(HETU, "Maija", "m@example.fi", "fi")
    message = _deliver(env, store, citizen)
    desk = _desk(env, store)
    row = desk.send(citizen, message, "Vastaus", [NewAttachment("a.txt", "text/plain", b"a")])
    tokens = material.reply_tokens(env.config)
    thread = store.read_message(citizen, message).thread_id
    now = datetime.now(UTC)
    ref = ThreadRef(row, citizen, thread, "demokunta")

    def answer(message_id: str, organisation: str = "demokunta") -> tuple[str, str] | None:
        return answered_thread(store, tokens, organisation, (message_id.strip("<>"),), now)

    good = tokens.message_id(ref, now + timedelta(days=1))
    assert answer(good) == (citizen, thread)
    assert answer("someone@else.example") is None  # not ours: HETU lines decide
    cases = {
        "other organisation": (good, "toinenkunta", replies.REPLY_REFERENCE_OTHER_ORGANISATION),
        "expired": (tokens.message_id(ref, now - timedelta(hours=2)), "demokunta",
                    replies.REPLY_REFERENCE_EXPIRED),
        "moved to another thread": (
            tokens.message_id(dataclasses.replace(ref, thread_id="f" * 32), now + timedelta(1)),
            "demokunta", replies.REPLY_REFERENCE_FORGED),
        "tampered": (_flip(good, 20), "demokunta", replies.REPLY_REFERENCE_FORGED),
    }
    for name, (message_id, organisation, expected) in cases.items():
        with pytest.raises(Reject) as refused:
            answer(message_id, organisation)
        assert refused.value.reply is expected, name


def _flip(message_id: str, at: int) -> str:
    """The Message-ID with one token character changed."""
    return message_id[:at] + ("a" if message_id[at] != "a" else "b") + message_id[at + 1 :]


async def test_a_reply_that_cannot_be_delivered_says_so_in_the_thread(
    env: GatewayEnv, store: MailboxStore
) -> None:
    citizen = store.add_citizen(HETU, "Maija", "m@example.fi", "fi")
    message = _deliver(env, store, citizen)
    desk = _desk(env, store)
    client = await _portal(env, store, desk)
    try:
        assert (await _post_reply(client, message)).status_code == 303
        [item] = [i for i in store.claim_due(now=datetime.now(UTC), limit=10) if i.kind == "reply"]
        assert item.payload is not None and item.payload.recipients == (CLERK,)
        store.mark_failed(item.id, "relay refused the recipients: 550 5.1.1", None)
        page = await client.get(f"/messages/{message}")
        assert "Sinun vastauksesi" in page.text and "ei voitu toimittaa" in page.text
    finally:
        await client.aclose()
    assert any(e.kind == "reply.failed" for e in store.events(citizen))


def test_the_clerks_no_reply_tag_is_honoured_and_hidden(env: GatewayEnv) -> None:
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    try:
        answer = send(
            gateway.port,
            decision(env, f"{HETU}@{DOMAIN}", subject="Tiedote [EI VASTAUSTA] kaikille"),
            [f"{HETU}@{DOMAIN}"],
        )
        assert answer.code == 250, answer
        citizen = gateway.store.citizen_id(HETU)
        assert citizen is not None
        [entry] = gateway.store.inbox(citizen)
        view = gateway.store.read_message(citizen, entry.id)
        assert view is not None and view.no_reply and view.subject == "Tiedote kaikille"
    finally:
        gateway.stop()
