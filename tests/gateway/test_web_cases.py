"""The portal's cases, requests for more information, and deleting messages: grouped cases
with their latest status, the reply form first on a request, the Deleted view until the purge,
and every new route closed to other citizens (404) and to posts without a CSRF token (403)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from gatewaytest.clock import Clock
from gatewaytest.env import CLERK, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.portal import asgi_login, csrf_token

from crypto.hetu import parse_hetu
from gateway import material
from gateway.reply_desk import GatewaySigner, ReplyDesk
from gateway.web import create_app
from mailbox_store import Delivery, MailboxStore

OWNER = make_hetu("131052", "-", 308)
OTHER = make_hetu("010190", "-", 123)
RETENTION = timedelta(days=30)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    return make_env(tmp_path_factory.mktemp("web-cases"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(env: GatewayEnv, tmp_path: Path, clock: Clock) -> Iterator[MailboxStore]:
    store = MailboxStore(
        f"sqlite:///{tmp_path / 'mailbox.db'}",
        material.master_keys(env.config),
        material.blind_index(env.config),
        clock=clock,
    )
    store.migrate()
    yield store
    store.close()


class Mail:
    """Delivers messages from Demokunta's clerk to one citizen, one second apart."""

    def __init__(self, env: GatewayEnv, store: MailboxStore, clock: Clock, citizen: str) -> None:
        self._store, self._clock, self._citizen = store, clock, citizen
        clerk = x509.load_pem_x509_certificate(env.clerk_cert.read_bytes())
        self._certificate = clerk.public_bytes(Encoding.DER)
        self._count = 0

    def __call__(self, subject: str, **fields: object) -> str:
        self._count += 1
        self._clock.advance(timedelta(seconds=1))
        delivery = Delivery(
            organisation_id="demokunta",
            message_id=f"<case-web-{self._count}@demokunta.test>",
            sender_address=CLERK,
            subject=subject,
            text=f"Viestin teksti {self._count}.",
            html=None,
            attachments=(),
            original_mime=b"x",
            citizen_ids=(self._citizen,),
            received_at=self._clock.now,
            signer_certificate=self._certificate,
        )
        [row] = self._store.store_delivery(dataclasses.replace(delivery, **fields)).message_ids  # type: ignore[arg-type]
        return row


def _app(env: GatewayEnv, store: MailboxStore) -> object:
    key = material.decryption_keys(env.config)[0]
    desk = ReplyDesk(
        store,
        env.config.organisations,
        material.reply_tokens(env.config),
        GatewaySigner(env.config.submission_address, key.certificate, key.private_key),
        {},
    )
    return create_app(
        store,
        secret_key=b"c" * 32,
        auth_mode="test",
        organisations={"demokunta": "Demokunta"},
        secure_cookies=False,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
        replies=desk,
        deleted_retention=RETENTION,
    )


@pytest.fixture
def owner(env: GatewayEnv, store: MailboxStore, clock: Clock) -> tuple[str, Mail]:
    citizen = store.add_citizen(OWNER, "Maija", "m@example.fi", "fi")
    return citizen, Mail(env, store, clock, citizen)


async def _post(client: httpx.AsyncClient, path: str, token: str | None) -> httpx.Response:
    return await client.post(path, data={} if token is None else {"csrf_token": token})


async def test_cases_group_their_messages_with_the_latest_status(
    env: GatewayEnv, store: MailboxStore, owner: tuple[str, Mail]
) -> None:
    _, mail = owner
    request = mail("Täydennyspyyntö", kind="request", case_reference="HEL-1")
    mail("Toinen asia", case_reference="ESP-2", case_status="Vireillä", kind="status")
    status = mail("Tilatieto", kind="status", case_reference="HEL-1", case_status="Ratkaistu")
    mail("Tavallinen viesti")
    client = await asgi_login(_app(env, store), OWNER)
    try:
        cases = (await client.get("/cases")).text
        inbox = (await client.get("/")).text
        page = (await client.get(f"/messages/{status}")).text
    finally:
        await client.aclose()
    # Newest case first, each once, with its latest status and its messages newest first.
    assert cases.index("Asia: HEL-1") < cases.index("Asia: ESP-2")
    assert cases.count("Asia: HEL-1") == 1
    hel = cases[cases.index("Asia: HEL-1") : cases.index("Asia: ESP-2")]
    assert "Ratkaistu" in hel and "Vireillä" not in hel
    assert hel.index(f"/messages/{status}") < hel.index(f"/messages/{request}")
    assert "Tavallinen viesti" not in cases
    assert "Lisätietopyyntö" in inbox and "Asia: HEL-1" in inbox
    assert "<dt>Asia</dt>" in page and "HEL-1" in page
    assert "<dt>Tila</dt>" in page and "Ratkaistu" in page


async def test_a_request_for_more_information_puts_the_reply_form_first(
    env: GatewayEnv, store: MailboxStore, owner: tuple[str, Mail]
) -> None:
    _, mail = owner
    request = mail("Täydennyspyyntö", kind="request", case_reference="HEL-1")
    ordinary = mail("Päätös")
    client = await asgi_login(_app(env, store), OWNER)
    try:
        asked = (await client.get(f"/messages/{request}")).text
        told = (await client.get(f"/messages/{ordinary}")).text
    finally:
        await client.aclose()
    assert "pyytää sinulta lisätietoja" in asked
    assert asked.index('id="reply-heading"') < asked.index('class="message-text"')
    assert asked.count('id="reply-heading"') == 1
    assert "pyytää sinulta lisätietoja" not in told
    assert told.index('class="message-text"') < told.index('id="reply-heading"')


async def test_a_deleted_message_waits_in_the_deleted_view_until_it_is_purged(
    env: GatewayEnv, store: MailboxStore, owner: tuple[str, Mail], clock: Clock
) -> None:
    citizen, mail = owner
    message = mail("Poistettava")
    app = _app(env, store)
    client = await asgi_login(app, OWNER)
    try:
        page = await client.get(f"/messages/{message}")
        token = csrf_token(page.text)
        assert f"/messages/{message}/delete" in page.text
        assert (await _post(client, f"/messages/{message}/delete", None)).status_code == 403
        assert "Poistettava" in (await client.get("/")).text

        deleted = await _post(client, f"/messages/{message}/delete", token)
        assert deleted.status_code == 303 and deleted.headers["location"] == "/?deleted=1"
        inbox = (await client.get("/?deleted=1")).text
        assert "Poistettava" not in inbox and "siirrettiin poistettuihin" in inbox
        view = (await client.get("/deleted")).text
        assert "Poistettava" in view and "30 päivää" in view
        assert (await _post(client, f"/messages/{message}/restore", None)).status_code == 403
        restored = await _post(client, f"/messages/{message}/restore", token)
        assert restored.status_code == 303
        assert "Poistettava" in (await client.get("/")).text
        assert (await _post(client, f"/messages/{message}/delete", token)).status_code == 303
        shown = (await client.get(f"/messages/{message}")).text
        assert "Poistit tämän viestin" in shown and "/restore" in shown
    finally:
        await client.aclose()

    clock.advance(RETENTION - timedelta(minutes=1))
    assert store.purge_deleted(clock.now, retention=RETENTION) == 0
    clock.advance(timedelta(minutes=2))
    assert store.purge_deleted(clock.now, retention=RETENTION) == 1
    client = await asgi_login(app, OWNER)  # the old session has long expired
    try:
        assert (await client.get(f"/messages/{message}")).status_code == 404
        assert "Poistettava" not in (await client.get("/deleted")).text
    finally:
        await client.aclose()
    kinds = [event.kind for event in store.events(citizen)]
    assert kinds.count("message.deleted") == 2
    assert "message.restored" in kinds and "message.purged" in kinds


async def test_an_unacknowledged_verifiable_message_cannot_be_deleted(
    env: GatewayEnv, store: MailboxStore, owner: tuple[str, Mail], clock: Clock
) -> None:
    citizen, mail = owner
    message = mail("Todisteellinen", acknowledge_by=clock.now + timedelta(days=7))
    client = await asgi_login(_app(env, store), OWNER)
    try:
        page = await client.get(f"/messages/{message}")
        assert f"/messages/{message}/delete" not in page.text
        refused = await _post(client, f"/messages/{message}/delete", csrf_token(page.text))
        assert refused.status_code == 409
    finally:
        await client.aclose()
    assert [entry.id for entry in store.inbox(citizen)] == [message]
    assert "message.deleted" not in [event.kind for event in store.events(citizen)]


async def test_another_citizens_message_is_not_found_on_any_new_route(
    env: GatewayEnv, store: MailboxStore, owner: tuple[str, Mail]
) -> None:
    citizen, mail = owner
    message = mail("Vain Maijalle", case_reference="HEL-9")
    store.delete_message(citizen, mail("Poistettu Maijalta"))
    store.add_citizen(OTHER, "Matti", "t@example.fi", "fi")
    client = await asgi_login(_app(env, store), OTHER)
    try:
        token = csrf_token((await client.get("/")).text)
        for path in (f"/messages/{message}/delete", f"/messages/{message}/restore"):
            assert (await _post(client, path, token)).status_code == 404
            assert (await _post(client, path, None)).status_code == 403
        assert (await client.get(f"/messages/{message}")).status_code == 404
        assert "HEL-9" not in (await client.get("/cases")).text
        assert "Poistettu Maijalta" not in (await client.get("/deleted")).text
    finally:
        await client.aclose()
    assert [entry.id for entry in store.inbox(citizen)] == [message]
