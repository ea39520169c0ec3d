"""First login by OpenID Connect: a citizen the broker identifies, without an account, accepts
the terms and gets an account in the name the broker gave; a closed account stays refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
from gatewaytest.oidc_provider import HETU_CLAIM, LOA2, LOA3, Client, LoopbackServer, Person
from gatewaytest.oidc_provider import Provider as Broker
from test_oidc_login import (  # noqa: F401  (fixtures)
    CLIENT_ID,
    SECRET,
    broker,
    gateway_keys,
    provider_keys,
    store,
)

from crypto.hetu import parse_hetu
from crypto.oidc_keys import OidcKeys
from gateway.web import create_app
from gateway.web.oidc import OidcSettings, RelyingParty
from mailbox_store import MailboxStore

NEW = "131052-308T"
CLOSED = "121212A899H"


@pytest.fixture
def portal(store: MailboxStore, broker: Broker, gateway_keys: OidcKeys) -> Iterator[str]:  # noqa: F811
    server = LoopbackServer()
    broker.register(
        Client(
            CLIENT_ID,
            f"{server.url}/login/callback",
            f"{server.url}/.well-known/jwks.json",
            secret=None,
            require_request_object=True,
        )
    )
    relying_party = RelyingParty(
        OidcSettings(
            issuer=broker.issuer,
            client_id=CLIENT_ID,
            redirect_uri=f"{server.url}/login/callback",
            scopes=("openid", "profile"),
            acr_values=(LOA2,),
            hetu_claim=HETU_CLAIM,
            name_claim="name",
            client_secret=None,
        ),
        gateway_keys,
    )
    app = create_app(
        store,
        secret_key=SECRET,
        auth_mode="oidc",
        organisations={},
        secure_cookies=False,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
        oidc=relying_party,
        terms_version=1,
    )
    server.start(app)
    yield server.url
    server.stop()


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        yield client


def test_the_broker_identified_citizen_opens_an_account_in_the_brokers_name(
    broker: Broker,  # noqa: F811
    portal: str,
    browser: httpx.Client,
    store: MailboxStore,  # noqa: F811
) -> None:
    broker.person = Person(NEW, name="Olli Oidc")
    page = browser.get(f"{portal}/login/start", params={"lang": "en"})
    assert str(page.url) == f"{portal}/welcome"
    assert "Terms of use" in page.text and 'id="name"' not in page.text  # the broker named them
    assert NEW not in str(page.url) and all(NEW not in url for url in map(str, page.history))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    inbox = browser.post(
        f"{portal}/welcome",
        data={"csrf_token": token.group(1), "accept": "1", "lang": "en", "email": ""},
    )
    assert str(inbox.url) == f"{portal}/" and "Olli Oidc" in inbox.text
    assert "Welcome to the eAccount" in inbox.text
    account = store.login_account(parse_hetu(NEW))
    assert account is not None and account.terms_version == 1
    events = {event.kind: event.detail for event in store.events(account.id)}
    assert events["account.created"]["method"] == LOA3
    assert events["terms.accepted"] == {"version": 1}
    assert events["login"] == {"method": LOA3}


def test_a_closed_account_is_refused_without_terms(
    broker: Broker,  # noqa: F811
    portal: str,
    browser: httpx.Client,
    store: MailboxStore,  # noqa: F811
) -> None:
    store.set_citizen_status(store.add_citizen(CLOSED, "Kaija Suljettu", None, "fi"), "closed")
    broker.person = Person(CLOSED)
    response = browser.get(f"{portal}/login/start", params={"lang": "fi"})
    assert response.status_code == 403
    assert "ei ole käytössä olevaa asiointitiliä" in response.text
    assert str(response.url).startswith(f"{portal}/login/callback")
    assert "asiointi-terms" not in browser.cookies and "asiointi-session" not in browser.cookies
