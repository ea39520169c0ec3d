"""A citizen starts a new message to an organisation that accepts them: only on its listed
topics, within its reply limits, to its registry, signed by the gateway and encrypted to the
organisation; it starts a thread of its own, where the clerk's answer lands."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from gatewaytest.clerk import encrypt, inner_message, openssl, sign
from gatewaytest.env import CLERK, SUBMISSION, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.portal import asgi_login, csrf_token
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import send

from crypto.hetu import parse_hetu
from gateway import material
from gateway.config import ConfigError, load_config
from gateway.reply_desk import GatewaySigner, ReplyDesk, ReplyRefused
from gateway.web import create_app
from mailbox_store import MailboxStore, NewAttachment, QueueItem
from policies.model import Organisation

HETU = make_hetu("131052", "-", 308)
TOPICS = ("Rakennusvalvonta", "Varhaiskasvatus")
TEXT = "Haluaisin tietää rakennuslupani tilanteen. MERKKI7a8b"
REGISTRY = "kirjaamo@demokunta.test"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    return make_env(tmp_path_factory.mktemp("new-messages"))


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


def _organisations(env: GatewayEnv) -> list[Organisation]:
    """The demo organisation accepting new messages, and one that does not."""
    org = env.config.organisations[0]
    accepting = dataclasses.replace(
        org,
        reply_address=REGISTRY,
        new_messages=True,
        topics=TOPICS,
        replies=dataclasses.replace(org.replies, max_attachments=1, max_attachment_bytes=1000),
    )
    other = dataclasses.replace(
        org, id="toinenkunta", name="Toinen kunta", new_messages=False, topics=TOPICS
    )
    return [accepting, other]


def _desk(env: GatewayEnv, store: MailboxStore) -> ReplyDesk:
    key = material.decryption_keys(env.config)[0]
    # The clerk's certificate stands in for the organisation's own: its key opens the mail.
    organisation_cert = x509.load_pem_x509_certificate(env.clerk_cert.read_bytes())
    return ReplyDesk(
        store,
        _organisations(env),
        material.reply_tokens(env.config),
        GatewaySigner(env.config.submission_address, key.certificate, key.private_key),
        {"demokunta": organisation_cert, "toinenkunta": organisation_cert},
    )


async def _portal(store: MailboxStore, desk: ReplyDesk) -> httpx.AsyncClient:
    app = create_app(
        store,
        secret_key=b"k" * 32,
        auth_mode="test",
        organisations={"demokunta": "Demokunta", "toinenkunta": "Toinen kunta"},
        secure_cookies=False,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
        replies=desk,
    )
    client: httpx.AsyncClient = await asgi_login(app, HETU)
    return client


def _queued(store: MailboxStore) -> list[QueueItem]:
    return [i for i in store.claim_due(now=datetime.now(UTC), limit=10) if i.kind == "reply"]


async def test_the_citizen_picks_an_organisation_and_topic_and_the_message_is_queued(
    env: GatewayEnv, store: MailboxStore, tmp_path: Path
) -> None:
    citizen = store.add_citizen(HETU, "Maija Meikäläinen", "m@example.fi", "fi")
    client = await _portal(store, _desk(env, store))
    try:
        listing = await client.get("/compose")
        assert listing.status_code == 200
        assert 'href="/compose/demokunta"' in listing.text
        assert "toinenkunta" not in listing.text  # it accepts no new messages
        form = await client.get("/compose/demokunta")
        assert all(f'<option value="{topic}">' in form.text for topic in TOPICS)
        answer = await client.post(
            "/compose/demokunta",
            data={"csrf_token": csrf_token(form.text), "topic": TOPICS[0], "text": TEXT},
            files=[("files", ("selvitys.pdf", b"%PDF-1.4 x", "application/pdf"))],
        )
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        assert location.endswith("?sent=new")
        row_id = location.split("/")[2].partition("?")[0]
        page = await client.get(location)
        assert "Sinun viestisi" in page.text and "Vastaus tulee tähän keskusteluun" in page.text
        inbox = (await client.get("/")).text  # it heads its thread in the mailbox
        assert f'href="/messages/{row_id}">{TOPICS[0]}</a>' in inbox
        assert "Sinun viestisi → Demokunta" in inbox
    finally:
        await client.aclose()

    # A thread of its own, direction "out", subject the topic; an event says it was sent.
    message = store.read_message(citizen, row_id)
    assert message is not None
    assert (message.direction, message.thread_id, message.subject) == ("out", row_id, TOPICS[0])
    assert [e.kind for e in store.events(citizen)][-1] == "message.sent"
    assert store.verify_events(citizen)

    # To the registry; opened with the organisation's key, verified against the gateway's cert.
    [item] = _queued(store)
    assert item.payload is not None and item.payload.recipients == (REGISTRY,)
    raw = item.payload.data
    outer_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for secret in (HETU, "Meik", "MERKKI", TOPICS[0]):
        assert secret not in outer_block
    outer = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Viesti Asiointitililtä" in str(outer["Subject"]) and outer["In-Reply-To"] is None
    (tmp_path / "new.eml").write_bytes(raw)
    decrypted = openssl("cms", "-decrypt", "-in", tmp_path / "new.eml",
                        "-recip", env.clerk_cert, "-inkey", env.clerk_key)
    (tmp_path / "signed.eml").write_bytes(decrypted)
    inner = openssl("cms", "-verify", "-in", tmp_path / "signed.eml",
                    "-CAfile", env.gateway_cert)
    protected = email.message_from_bytes(inner, policy=email.policy.default)
    assert str(protected["Subject"]) == TOPICS[0]
    texts = [p.get_content() for p in protected.walk() if p.get_content_type() == "text/plain"]
    body = next(t for t in texts if TEXT in t)
    assert HETU in body and "Vastaus viestiin" not in body  # it answers nothing
    assert [p.get_filename() for p in protected.walk() if p.get_filename()] == ["selvitys.pdf"]


@pytest.mark.parametrize(
    ("path", "fields", "status", "reason"),
    [
        ("/compose/toinenkunta", {"topic": TOPICS[0]}, 404, None),
        ("/compose/nosuchorg", {"topic": TOPICS[0]}, 404, None),
        ("/compose/demokunta", {"topic": "Verotus"}, 422, "Valitse aihe luettelosta."),
        ("/compose/demokunta", {"topic": TOPICS[0], "text": " "}, 422, "Kirjoita vastaus"),
    ],
)
async def test_crafted_posts_are_refused_on_the_server(
    env: GatewayEnv,
    store: MailboxStore,
    path: str,
    fields: dict[str, str],
    status: int,
    reason: str | None,
) -> None:
    store.add_citizen(HETU, "Maija", "m@example.fi", "fi")
    client = await _portal(store, _desk(env, store))
    try:
        token = csrf_token((await client.get("/compose/demokunta")).text)
        answer = await client.post(path, data={"csrf_token": token, "text": TEXT, **fields})
        assert answer.status_code == status
        if reason:
            assert reason in answer.text
    finally:
        await client.aclose()
    assert _queued(store) == []


async def test_limits_and_csrf_are_checked(env: GatewayEnv, store: MailboxStore) -> None:
    store.add_citizen(HETU, "Maija", "m@example.fi", "fi")
    client = await _portal(store, _desk(env, store))
    try:
        token = csrf_token((await client.get("/compose/demokunta")).text)
        fields = {"topic": TOPICS[1], "text": TEXT}
        no_token = await client.post("/compose/demokunta", data=fields)
        assert no_token.status_code == 403
        too_large = await client.post(
            "/compose/demokunta",
            data={"csrf_token": token, **fields},
            files=[("files", ("iso.pdf", b"x" * 1001, "application/pdf"))],
        )
        assert too_large.status_code == 422 and "Liite on liian suuri." in too_large.text
    finally:
        await client.aclose()
    assert _queued(store) == []


def test_the_desk_refuses_without_the_portal(env: GatewayEnv, store: MailboxStore) -> None:
    citizen = store.add_citizen(HETU, "Maija", "m@example.fi", "fi")
    desk = _desk(env, store)
    assert [offer.organisation_id for offer in desk.new_message_offers()] == ["demokunta"]
    for organisation, topic, reason in (
        ("toinenkunta", TOPICS[0], "new_message_not_allowed"),
        ("demokunta", "Verotus", "new_message_bad_topic"),
    ):
        with pytest.raises(ReplyRefused) as refused:
            desk.start(citizen, organisation, topic, TEXT, [])
        assert refused.value.reason == reason
    with pytest.raises(ReplyRefused):
        desk.start(citizen, "demokunta", TOPICS[0], TEXT, [NewAttachment("a", "b/c", b"1")] * 2)


def test_the_clerks_answer_to_the_token_lands_in_the_new_thread(env: GatewayEnv) -> None:
    citizen = env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    try:
        store = gateway.store
        row_id = _desk(env, store).start(citizen, "demokunta", TOPICS[0], TEXT, [])
        [item] = _queued(store)
        assert item.payload is not None
        our_id = str(email.message_from_bytes(item.payload.data)["Message-ID"])
        entity = inner_message("Re: Rakennusvalvonta", "Lupa on käsittelyssä. MERKKI9c0d")
        encrypted = encrypt(sign(entity, env.clerk_cert, env.clerk_key), env.gateway_cert)
        head = (
            f"From: {CLERK}\r\nTo: {SUBMISSION}\r\nSubject: Re: Viesti\r\n"
            f"Message-ID: <answer.{row_id}@demokunta.test>\r\n"
            f"In-Reply-To: {our_id}\r\nReferences: {our_id}\r\n"
        )
        answer = send(gateway.port, head.encode() + encrypted, [SUBMISSION])
        assert answer.code == 250, answer
        thread = store.thread(citizen, row_id)
        assert [entry.direction for entry in thread] == ["out", "in"]
        answered = store.read_message(citizen, thread[1].id)
        assert answered is not None and "MERKKI9c0d" in answered.text
    finally:
        gateway.stop()


MINIMAL = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"

[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
"""


def test_configuration(env: GatewayEnv, tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        MINIMAL + f'certificate = "{env.clerk_cert}"\nnew_messages = true\n'
        'topics = ["Rakennusvalvonta", "Varhaiskasvatus"]\n'
    )
    [org] = load_config(path).organisations
    assert org.new_messages and org.topics == TOPICS
    for extra, key in (
        ('new_messages = true\ntopics = ["Rakennusvalvonta"]\n', "organisations[0].new_messages"),
        (f'certificate = "{env.clerk_cert}"\nnew_messages = true\n', "organisations[0].topics"),
        ('topics = ["A", "A"]\n', "organisations[0].topics"),
    ):
        path.write_text(MINIMAL + extra)
        with pytest.raises(ConfigError) as error:
            load_config(path)
        assert key in str(error.value)
        if key.endswith("new_messages"):
            assert re.search(r"certificate .*pgp_reply_key", str(error.value))
