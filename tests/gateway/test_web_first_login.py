"""First login opens the account: the terms of use (versioned), contact details and notice
choices, a welcome message from the service, all as events; a new version of the terms is
accepted again before anything else is reachable. Organisation names in the citizen's language
and the connected services page. Over the real portal and store (SQLite in tmp_path)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from test_web import ALICE, SECRET, Clock, csrf_token, deliver

from crypto.blind_index import BlindIndex
from crypto.hetu import parse_hetu
from crypto.sealing import MasterKeyRing
from gateway.config import load_config
from gateway.web import create_app
from gateway.web.organisations import OrganisationProfile, organisation_profiles
from gateway.web.tokens import PortalTokens
from mailbox_store import SERVICE_ORGANISATION, MailboxStore

NEW = "131052-308T"  # no account until the terms are accepted
CLOSED = "030303A1233"
TERMS = "asiointi-terms"
SESSION = "asiointi-session"
ORGANISATIONS = {
    "espoo": OrganisationProfile(
        {"fi": "Espoon kaupunki", "sv": "Esbo stad", "en": "City of Espoo"},
        ("Rakennusvalvonta", "Varhaiskasvatus"),
    ),
    "vantaa": OrganisationProfile({"fi": "Vantaan kaupunki", "sv": "", "en": ""}),
}
# Pages that must wait until the terms are accepted.
MAILBOX_PAGES = ("/", "/account", "/events", "/services")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MailboxStore]:
    mailbox = MailboxStore(
        f"sqlite:///{tmp_path / 'mailbox.db'}",
        MasterKeyRing.from_text(MasterKeyRing.generate_file_text()),
        BlindIndex(os.urandom(32)),
        clock=Clock(),
    )
    mailbox.migrate()
    yield mailbox
    mailbox.close()


ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def clients(store: MailboxStore) -> AsyncIterator[ClientFactory]:
    """A browser on a portal with the given terms version (one store behind every portal)."""
    opened: list[httpx.AsyncClient] = []

    def factory(terms_version: int = 1) -> httpx.AsyncClient:
        app = create_app(
            store,
            secret_key=SECRET,
            auth_mode="test",
            organisations=ORGANISATIONS,
            secure_cookies=False,
            hetu_parser=partial(parse_hetu, allow_temporary=True),
            terms_version=terms_version,
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://portal.test"
        )
        opened.append(client)
        return client

    yield factory
    for client in opened:
        await client.aclose()


async def identify(client: httpx.AsyncClient, hetu: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post("/login", data={"csrf_token": csrf_token(form.text), "hetu": hetu})


async def terms_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/welcome")
    assert page.status_code == 200
    return csrf_token(page.text)


def kinds(store: MailboxStore, citizen_id: str) -> list[str]:
    return [event.kind for event in store.events(citizen_id)]


async def assert_nothing_reachable(client: httpx.AsyncClient) -> None:
    for path in MAILBOX_PAGES:
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path


# --- first login --------------------------------------------------------------------------------


async def test_first_login_opens_the_account_with_a_welcome_message(
    clients: ClientFactory, store: MailboxStore
) -> None:
    client = clients()
    identified = await identify(client, NEW)
    assert identified.status_code == 303 and identified.headers["location"] == "/welcome"
    # The identification waits encrypted: no HETU in the cookie or the address, no session.
    assert NEW not in client.cookies[TERMS] and NEW not in identified.headers["location"]
    assert SESSION not in client.cookies
    await assert_nothing_reachable(client)

    page = await client.get("/welcome")
    assert "Käyttöehdot" in page.text and "Käyttöehtojen versio 1" in page.text
    assert 'id="name"' in page.text and 'id="phone"' in page.text
    assert 'id="sms-note"' in page.text  # SMS notices are chosen, not yet sent: it says so
    accepted = await client.post(
        "/welcome",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Maija Meikäläinen",
            "email": "maija@example.fi",
            "phone": "040 123 4567",
            "notify_email": "1",
            "notify_sms": "1",
            "lang": "sv",
            "accept": "1",
        },
    )
    assert accepted.status_code == 303 and accepted.headers["location"] == "/"
    assert TERMS not in client.cookies and SESSION in client.cookies

    inbox = await client.get("/")
    assert inbox.status_code == 200 and "Maija Meikäläinen" in inbox.text
    assert "Välkommen som användare av e-tjänstekontot" in inbox.text
    assert "e-Tjänstekonto" in inbox.text  # the sender: the service itself, in Swedish

    account = store.login_account(parse_hetu(NEW))
    assert account is not None and account.status == "active" and account.terms_version == 1
    settings = store.account_settings(account.id)
    assert settings is not None
    assert (settings.email, settings.phone) == ("maija@example.fi", "+358401234567")
    assert settings.notify_email and settings.notify_sms and settings.lang == "sv"
    assert kinds(store, account.id) == [
        "account.created",
        "terms.accepted",
        "message.received",
        "login",
    ]
    events = {event.kind: event.detail for event in store.events(account.id)}
    assert events["terms.accepted"] == {"version": 1}
    assert events["account.created"] == {"by": "citizen", "method": "test"}
    assert events["message.received"]["organisation_id"] == SERVICE_ORGANISATION
    assert store.verify_events(account.id)
    (welcome,) = store.inbox(account.id)
    assert welcome.organisation_id == SERVICE_ORGANISATION
    log = await client.get("/events")
    assert "Du godkände användarvillkoren (version 1)." in log.text
    assert "Du öppnade e-tjänstekontot." in log.text


async def test_wrong_details_are_shown_at_their_fields_and_open_nothing(
    clients: ClientFactory, store: MailboxStore
) -> None:
    client = clients()
    await identify(client, NEW)
    answer = await client.post(
        "/welcome",
        data={
            "csrf_token": await terms_token(client),
            "name": "",
            "email": "not an address",
            "phone": "12345",
            "notify_sms": "1",
            "lang": "fi",
        },
    )
    assert answer.status_code == 422
    for field in ("name", "email", "phone", "accept"):
        assert f'id="{field}-error"' in answer.text
        assert f'href="#{field}"' in answer.text  # the summary leads to the field
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in answer.text
    assert 'value="not an address"' in answer.text  # refilled, to correct
    assert store.login_account(parse_hetu(NEW)) is None
    assert store.table_counts()["citizens"] == 0


async def test_declining_leaves_no_account(clients: ClientFactory, store: MailboxStore) -> None:
    client = clients()
    await identify(client, NEW)
    declined = await client.post("/welcome/decline", data={"csrf_token": await terms_token(client)})
    assert declined.status_code == 200
    assert "asiointitiliä ei avattu" in declined.text and 'href="/login"' in declined.text
    assert TERMS not in client.cookies and SESSION not in client.cookies
    assert store.table_counts()["citizens"] == 0 and store.table_counts()["events"] == 0
    # The identification is gone: the terms cannot be accepted afterwards.
    again = await client.get("/welcome")
    assert again.status_code == 303 and again.headers["location"] == "/login"
    await assert_nothing_reachable(client)


async def test_posts_without_the_terms_token_are_refused(
    clients: ClientFactory, store: MailboxStore
) -> None:
    client = clients()
    await identify(client, NEW)
    other = clients()
    await identify(other, NEW)
    others_token = await terms_token(other)
    for data in ({}, {"csrf_token": "x" * 64}, {"csrf_token": others_token}):
        for path in ("/welcome", "/welcome/decline"):
            answer = await client.post(path, data={**data, "accept": "1", "name": "Mallory"})
            assert answer.status_code == 403, (path, data)
    assert store.table_counts()["citizens"] == 0
    # Without an identification waiting (or with a forged one) there is nothing to accept.
    stranger = clients()
    stranger.cookies.set(TERMS, client.cookies[TERMS][:-4] + "AAAA", domain="portal.test")
    answer = await stranger.post("/welcome", data={"csrf_token": others_token, "accept": "1"})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


async def test_a_closed_account_stays_refused(clients: ClientFactory, store: MailboxStore) -> None:
    citizen_id = store.add_citizen(parse_hetu(CLOSED), "Kaija Suljettu", None, "fi")
    store.set_citizen_status(citizen_id, "closed")
    client = clients()
    answer = await identify(client, CLOSED)
    assert answer.status_code == 403 and "ei ole käytössä olevaa asiointitiliä" in answer.text
    assert TERMS not in client.cookies and SESSION not in client.cookies
    assert store.table_counts()["citizens"] == 1


# --- a new version of the terms -------------------------------------------------------------------


async def accept(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/welcome", data={"csrf_token": await terms_token(client), "accept": "1"}
    )


async def test_a_new_terms_version_is_asked_again_before_anything_else(
    clients: ClientFactory, store: MailboxStore
) -> None:
    citizen_id = store.add_citizen(ALICE, "Alice Aaltonen", "alice@example.fi", "fi")
    deliver(store, citizen_id)
    # An account the operator made has accepted no terms yet: asked at the first login.
    first = clients(terms_version=1)
    assert (await identify(first, ALICE)).headers["location"] == "/welcome"
    page = await first.get("/welcome")
    assert "Käyttöehdot ovat muuttuneet" in page.text and 'id="email"' not in page.text
    refused = await first.post("/welcome", data={"csrf_token": csrf_token(page.text)})
    assert refused.status_code == 422 and 'id="accept-error"' in refused.text
    assert (await accept(first)).headers["location"] == "/"
    assert (await first.get("/")).status_code == 200
    # The same version again: straight to the inbox.
    again = clients(terms_version=1)
    assert (await identify(again, ALICE)).headers["location"] == "/"

    # Version 2: identification leads to the terms, and nothing else opens until accepted.
    newer = clients(terms_version=2)
    assert (await identify(newer, ALICE)).headers["location"] == "/welcome"
    await assert_nothing_reachable(newer)
    assert "Käyttöehtojen versio 2" in (await newer.get("/welcome")).text
    assert (await accept(newer)).headers["location"] == "/"
    assert (await newer.get("/")).status_code == 200
    versions = [e.detail["version"] for e in store.events(citizen_id) if e.kind == "terms.accepted"]
    assert versions == [1, 2]
    account = store.login_account(ALICE)
    assert account is not None and account.terms_version == 2
    assert store.verify_events(citizen_id)


async def test_logging_out_from_the_terms_ends_the_earlier_session(
    clients: ClientFactory, store: MailboxStore
) -> None:
    citizen_id = store.add_citizen(ALICE, "Alice Aaltonen", None, "fi")
    client = clients(terms_version=1)
    await identify(client, ALICE)
    await accept(client)
    old_session = client.cookies[SESSION]
    # Identifying again under newer terms ends the session this browser had.
    newer = clients(terms_version=2)
    newer.cookies.set(SESSION, old_session, domain="portal.test")
    await identify(newer, ALICE)
    assert SESSION not in newer.cookies
    await assert_nothing_reachable(newer)
    newer.cookies.set(SESSION, old_session, domain="portal.test")
    assert (await newer.get("/")).status_code == 303  # ended in the store, not just forgotten
    newer.cookies.delete(SESSION, domain="portal.test")
    declined = await newer.post(
        "/welcome/decline", data={"csrf_token": await terms_token(newer)}
    )
    assert "Viestisi säilyvät asiointitilillä" in declined.text
    assert TERMS not in newer.cookies
    account = store.login_account(ALICE)
    assert account is not None and account.terms_version == 1  # unchanged
    assert kinds(store, citizen_id).count("terms.accepted") == 1


def test_the_waiting_identification_lapses_and_refuses_tampering() -> None:
    tokens = PortalTokens(SECRET)
    sealed = tokens.seal_pending_login({"hetu": NEW})
    assert NEW not in sealed
    assert tokens.open_pending_login(sealed, max_age=60) == {"hetu": NEW}
    assert tokens.open_pending_login(sealed, max_age=-1) is None  # lapsed
    assert PortalTokens(b"z" * 32).open_pending_login(sealed, max_age=60) is None
    assert tokens.open_pending_login(sealed[:-2] + "AA", max_age=60) is None
    assert tokens.open_pending_login("not base64 at all!", max_age=60) is None


# --- organisations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "espoo", "vantaa"),
    [
        ("fi", "Espoon kaupunki", "Vantaan kaupunki"),
        ("sv", "Esbo stad", "Vantaan kaupunki"),  # no Swedish name given: the Finnish one
        ("en", "City of Espoo", "Vantaan kaupunki"),
    ],
)
async def test_organisation_names_are_in_the_citizens_language(
    clients: ClientFactory, store: MailboxStore, lang: str, espoo: str, vantaa: str
) -> None:
    citizen_id = store.add_citizen(ALICE, "Alice Aaltonen", None, lang)
    message_id = deliver(store, citizen_id, organisation_id="espoo")
    deliver(store, citizen_id, organisation_id="vantaa", subject="Tiedote")
    client = clients()
    await identify(client, ALICE)
    await accept(client)
    inbox = (await client.get("/")).text
    assert f"<td>{espoo}</td>" in inbox and f"<td>{vantaa}</td>" in inbox
    assert espoo in (await client.get(f"/messages/{message_id}")).text

    services = await client.get("/services")
    assert services.status_code == 200
    assert f"<h2>{espoo}</h2>" in services.text and f"<h2>{vantaa}</h2>" in services.text
    assert "<li>Rakennusvalvonta</li>" in services.text
    assert 'href="/services"' in services.text  # in the main menu
    site_title = {"fi": "Asiointitili", "sv": "e-Tjänstekonto", "en": "eAccount"}[lang]
    assert f"<h2>{site_title}</h2>" not in services.text  # the service itself is not listed


async def test_the_services_page_needs_a_login(clients: ClientFactory) -> None:
    response = await clients().get("/services")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_organisation_names_and_services_come_from_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"

[portal]
terms_version = 3

[[organisations]]
id = "kunta"
name = "Kunta"
name_sv = "Kommun"
services = ["Rakennusvalvonta", "Kirjasto"]
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
""",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.portal.terms_version == 3
    profile = organisation_profiles(config.organisations)["kunta"]
    assert [profile.name(lang) for lang in ("fi", "sv", "en")] == ["Kunta", "Kommun", "Kunta"]
    assert profile.services == ("Rakennusvalvonta", "Kirjasto")
