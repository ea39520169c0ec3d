"""Login by OpenID Connect, end to end: a browser (httpx, following redirects) goes from the real
portal to a real OpenID provider and back, both served by uvicorn on loopback. The provider
checks the portal's signed request object, PKCE and private_key_jwt client assertions against the
JWKS the portal publishes; the portal checks everything the provider sends, refusing with a page
in the citizen's language, and never puts a secret in a URL or a log line."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from gatewaytest.oidc_provider import (
    HETU_CLAIM,
    LOA2,
    LOA3,
    Client,
    LoopbackServer,
    Person,
    Provider,
)
from joserfc.jwk import RSAKey

from crypto.blind_index import BlindIndex
from crypto.hetu import parse_hetu
from crypto.oidc_keys import OidcKeys, private_key
from crypto.sealing import MasterKeyRing
from gateway.web import create_app
from gateway.web.oidc import LoginAttempt, OidcSettings, RelyingParty
from gateway.web.tokens import PortalTokens
from mailbox_store import MailboxStore

ALICE = "010190-123M"
PASSIVE = "020202A123C"
CLOSED = "121212A899H"
UNKNOWN = "311299A1236"
SECRET = b"o" * 32
CLIENT_ID = "asiointitili-portal"
CLIENT_SECRET = "s3cret-for-other-providers"

FI_FAILED = "Tunnistautumisen tietoja ei voitu varmistaa"
FI_WEAK = "ei ole riittävän vahva"
FI_NO_HETU = "ei välittänyt kelvollista henkilötunnusta"
FI_NO_ACCOUNT = "ei ole käytössä olevaa asiointitiliä"
FI_ATTEMPT = "Kirjautuminen vanheni tai se aloitettiin toisessa selainikkunassa"
FI_CANCELLED = "Tunnistautuminen keskeytyi"
FI_UNAVAILABLE = "Tunnistuspalveluun ei juuri nyt saada yhteyttä"


def _key_pem(bits: int) -> bytes:
    return RSAKey.generate_key(bits).as_pem(private=True)


@pytest.fixture(scope="module")
def gateway_keys() -> OidcKeys:
    return OidcKeys(private_key(_key_pem(3072), "sig"), private_key(_key_pem(3072), "enc"))


@pytest.fixture(scope="module")
def provider_keys() -> tuple[RSAKey, RSAKey]:
    keys = RSAKey.generate_key(2048), RSAKey.generate_key(2048)
    for key in keys:
        key.ensure_kid()
    return keys


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MailboxStore]:
    mailbox = MailboxStore(
        f"sqlite:///{tmp_path / 'mailbox.db'}",
        MasterKeyRing.from_text(MasterKeyRing.generate_file_text()),
        BlindIndex(os.urandom(32)),
    )
    mailbox.migrate()
    yield mailbox
    mailbox.close()


@pytest.fixture
def citizens(store: MailboxStore) -> dict[str, str]:
    ids = {
        ALICE: store.add_citizen(ALICE, "Alice Aaltonen", "alice@example.fi", "fi"),
        PASSIVE: store.add_citizen(PASSIVE, "Pekka Passiivinen", None, "fi"),
        CLOSED: store.add_citizen(CLOSED, "Kaija Suljettu", None, "fi"),
    }
    store.set_citizen_status(ids[PASSIVE], "passive")
    store.set_citizen_status(ids[CLOSED], "closed")
    return ids


@pytest.fixture
def broker(provider_keys: tuple[RSAKey, RSAKey]) -> Iterator[Provider]:
    # "localhost", not 127.0.0.1: the browser keeps the two sites' cookies apart.
    server = LoopbackServer("localhost")
    provider = Provider(server.url, *provider_keys)
    server.start(provider.app)
    yield provider
    server.stop()


PortalFactory = Callable[..., str]


@pytest.fixture
def portals(
    store: MailboxStore, broker: Provider, gateway_keys: OidcKeys
) -> Iterator[PortalFactory]:
    """Start a portal in oidc mode, registered at the broker; returns its base URL."""
    servers: list[LoopbackServer] = []

    def start(*, issuer: str | None = None, **settings: object) -> str:
        server = LoopbackServer()
        servers.append(server)
        client_auth = settings.get("client_auth", "private_key_jwt")
        broker.register(
            Client(
                CLIENT_ID,
                f"{server.url}/login/callback",
                f"{server.url}/.well-known/jwks.json",
                secret=CLIENT_SECRET if client_auth != "private_key_jwt" else None,
                require_request_object=bool(settings.get("request_object", True)),
            )
        )
        defaults: dict[str, object] = {
            "scopes": ("openid", "profile"),
            "acr_values": (LOA2,),
            "hetu_claim": HETU_CLAIM,
            "name_claim": "name",
            "client_secret": CLIENT_SECRET if client_auth != "private_key_jwt" else None,
        }
        relying_party = RelyingParty(
            OidcSettings(
                issuer=issuer or broker.issuer,
                client_id=CLIENT_ID,
                redirect_uri=f"{server.url}/login/callback",
                **(defaults | settings),  # type: ignore[arg-type]
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
        )
        server.start(app)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def portal(portals: PortalFactory) -> str:
    return portals()


class Browser(httpx.Client):
    """A browser: follows redirects across the two sites and remembers every URL it visited."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        super().__init__(
            follow_redirects=True,
            timeout=30,
            event_hooks={"request": [lambda request: self.urls.append(str(request.url))]},
        )


@pytest.fixture
def browser() -> Iterator[Browser]:
    with Browser() as client:
        yield client


def log_in(browser: Browser, portal: str, lang: str = "fi") -> httpx.Response:
    return browser.get(f"{portal}/login/start", params={"lang": lang})


def logged_in(browser: Browser, portal: str) -> bool:
    response = browser.get(f"{portal}/", follow_redirects=False)
    return response.status_code == 200


def assert_refused(response: httpx.Response, browser: Browser, portal: str, text: str) -> None:
    assert text in response.text
    assert str(response.url).startswith(f"{portal}/login/callback")
    assert "Traceback" not in response.text
    assert 'href="/login/start?lang=fi"' in response.text  # a way to try again
    assert "asiointi-session" not in browser.cookies
    assert "asiointi-oidc-attempt" not in browser.cookies  # the attempt is used up
    assert not logged_in(browser, portal)


# --- success ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("citizens")
def test_strong_identification_opens_the_inbox(
    broker: Provider, portal: str, browser: Browser, store: MailboxStore
) -> None:
    broker.person = Person(ALICE)
    inbox = log_in(browser, portal)
    assert inbox.status_code == 200 and str(inbox.url) == f"{portal}/"
    assert "Alice Aaltonen" in inbox.text
    assert [r.status_code for r in inbox.history] == [303, 302, 303]

    # The authorization request: a signed request object holding state, nonce, PKCE (S256),
    # acr_values and the language; outside it only what OpenID Connect Core 6.1 requires.
    authorize = urlsplit(str(inbox.history[1].url))
    assert sorted(parse_qs(authorize.query)) == ["client_id", "request", "response_type", "scope"]
    (request_object,) = broker.records.request_objects
    assert request_object["code_challenge_method"] == "S256"
    assert len(request_object["code_challenge"]) == 43
    assert request_object["acr_values"] == LOA2
    assert request_object["ui_locales"] == "fi"
    assert request_object["redirect_uri"] == f"{portal}/login/callback"
    assert request_object["scope"] == "openid profile"
    assert request_object["state"] and request_object["nonce"]

    # The token request: private_key_jwt signed with the published signing key, and the verifier.
    (assertion,) = broker.records.client_assertions
    jwks = browser.get(f"{portal}/.well-known/jwks.json").json()
    signing_kid = next(k["kid"] for k in jwks["keys"] if k["use"] == "sig")
    assert assertion["header"]["kid"] == signing_kid
    assert assertion["claims"]["aud"] == broker.token_endpoint
    (token_request,) = broker.records.token_requests
    assert token_request["code_verifier"] and "client_secret" not in token_request

    # One session, made as test identification makes it, remembering how the citizen identified.
    opened = PortalTokens(SECRET).open_session(browser.cookies["asiointi-session"])
    assert opened is not None and opened.identified_by == LOA3
    assert "asiointi-oidc-attempt" not in browser.cookies
    citizen_id = store.active_citizen_id(ALICE)
    assert citizen_id is not None
    assert any(event.detail.get("method") == LOA3 for event in store.events(citizen_id))


@pytest.mark.usefixtures("citizens")
@pytest.mark.parametrize(
    ("encrypt_id_token", "userinfo", "hetu_in_userinfo_only"),
    [
        (True, "json", False),
        (True, "encrypted", True),
        (False, "signed", True),
        (False, "encrypted", True),
    ],
)
def test_encrypted_id_token_and_userinfo_are_opened_with_the_portal_key(
    broker: Provider,
    portal: str,
    browser: Browser,
    encrypt_id_token: bool,
    userinfo: str,
    hetu_in_userinfo_only: bool,
) -> None:
    broker.person = Person(ALICE)
    broker.behaviour.encrypt_id_token = encrypt_id_token
    broker.behaviour.userinfo = userinfo  # type: ignore[assignment]
    broker.behaviour.hetu_in_userinfo_only = hetu_in_userinfo_only
    inbox = log_in(browser, portal)
    assert inbox.status_code == 200 and "Alice Aaltonen" in inbox.text


@pytest.mark.usefixtures("citizens")
@pytest.mark.parametrize("client_auth", ["client_secret_basic", "client_secret_post"])
def test_a_client_secret_and_no_request_object_work_for_other_providers(
    broker: Provider, portals: PortalFactory, browser: Browser, client_auth: str
) -> None:
    broker.person = Person(ALICE)
    portal = portals(client_auth=client_auth, request_object=False)
    inbox = log_in(browser, portal)
    assert inbox.status_code == 200 and "Alice Aaltonen" in inbox.text
    assert broker.records.request_objects == [] and broker.records.client_assertions == []
    (authorization,) = broker.records.authorizations
    assert authorization["code_challenge_method"] == "S256"


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("citizens")
@pytest.mark.parametrize(
    ("switch", "value", "text", "status"),
    [
        ("sign_with_wrong_key", True, FI_FAILED, 403),
        ("audience", "another-client", FI_FAILED, 403),
        ("issuer", "https://evil.example", FI_FAILED, 403),
        ("expired", True, FI_FAILED, 403),
        ("acr", "http://ftn.ficora.fi/2017/loa1", FI_WEAK, 403),
        ("acr", "https://example.fi/password", FI_WEAK, 403),
        ("omit_hetu", True, FI_NO_HETU, 403),
        ("error", "access_denied", FI_CANCELLED, 403),
        ("error", "server_error", FI_FAILED, 403),
    ],
)
def test_a_token_that_fails_any_check_is_refused_with_a_clear_page(
    broker: Provider,
    portal: str,
    browser: Browser,
    switch: str,
    value: object,
    text: str,
    status: int,
) -> None:
    broker.person = Person(ALICE)
    setattr(broker.behaviour, switch, value)
    response = log_in(browser, portal)
    assert response.status_code == status
    assert_refused(response, browser, portal, text)


@pytest.mark.usefixtures("citizens")
@pytest.mark.parametrize(
    ("hetu", "text"),
    [("010190-123X", FI_NO_HETU), ("not a hetu", FI_NO_HETU), (UNKNOWN, FI_NO_ACCOUNT),
     (CLOSED, FI_NO_ACCOUNT)],
)
def test_an_invalid_hetu_or_no_open_account_is_refused(
    broker: Provider, portal: str, browser: Browser, hetu: str, text: str
) -> None:
    broker.person = Person(hetu)
    response = log_in(browser, portal)
    assert response.status_code == 403
    assert_refused(response, browser, portal, text)
    assert hetu not in response.text


@pytest.mark.usefixtures("citizens")
def test_a_refusal_speaks_the_language_the_citizen_chose(
    broker: Provider, portal: str, browser: Browser
) -> None:
    broker.person = Person(ALICE)
    broker.behaviour.acr = "http://ftn.ficora.fi/2017/loa1"
    response = log_in(browser, portal, lang="sv")
    assert '<html lang="sv">' in response.text
    assert "Identifieringssättet du valde är inte tillräckligt starkt" in response.text
    assert broker.records.request_objects[0]["ui_locales"] == "sv"


@pytest.mark.usefixtures("citizens")
def test_a_stronger_level_than_asked_for_is_accepted(
    broker: Provider, portals: PortalFactory, browser: Browser
) -> None:
    broker.person = Person(ALICE)
    broker.behaviour.acr = LOA2
    strict = portals(acr_values=(LOA3,))
    assert FI_WEAK in log_in(browser, strict).text
    broker.behaviour.acr = LOA3
    assert "Alice Aaltonen" in log_in(browser, portals(acr_values=(LOA2,))).text


def _authorization_redirect(browser: Browser, portal: str, **params: str) -> str:
    """Start a login and stop at the broker's redirect back; return the callback URL."""
    to_broker = browser.get(f"{portal}/login/start", params=params, follow_redirects=False)
    back = browser.get(to_broker.headers["location"], follow_redirects=False)
    assert back.status_code == 302
    return back.headers["location"]


@pytest.mark.usefixtures("citizens")
def test_a_passive_account_logs_in_as_with_test_identification(
    broker: Provider, portal: str, browser: Browser
) -> None:
    broker.person = Person(PASSIVE)
    assert log_in(browser, portal).status_code == 200
    assert "asiointi-session" in browser.cookies


@pytest.mark.usefixtures("citizens")
def test_re_identification_asks_the_broker_for_a_fresh_login_and_returns(
    broker: Provider, portal: str, browser: Browser
) -> None:
    broker.person = Person(ALICE)
    page = browser.get(f"{portal}/login", params={"next": "/account/close"})
    assert 'href="/login/start?lang=fi&amp;next=/account/close"' in page.text
    callback = _authorization_redirect(browser, portal, next="/account/close")
    assert broker.records.request_objects[0]["prompt"] == "login"
    back = browser.get(callback, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/account/close"
    # Anywhere else is not followed: an ordinary login goes to the inbox, without prompt.
    callback = _authorization_redirect(browser, portal, next="https://evil.example/")
    assert "prompt" not in broker.records.request_objects[1]
    assert browser.get(callback, follow_redirects=False).headers["location"] == "/"


def _with(url: str, **params: str) -> str:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()} | params
    return str(httpx.URL(url.split("?")[0], params=query))


@pytest.mark.usefixtures("citizens")
def test_a_state_that_does_not_match_is_refused(
    broker: Provider, portal: str, browser: Browser
) -> None:
    broker.person = Person(ALICE)
    callback = _authorization_redirect(browser, portal)
    response = browser.get(_with(callback, state="forged-state"))
    assert response.status_code == 400
    assert_refused(response, browser, portal, FI_ATTEMPT)
    assert broker.records.token_requests == []  # the code was never even redeemed


@pytest.mark.usefixtures("citizens")
def test_a_callback_in_a_browser_that_started_no_login_is_refused(
    broker: Provider, portal: str, browser: Browser
) -> None:
    broker.person = Person(ALICE)
    callback = _authorization_redirect(browser, portal)
    with Browser() as victim:  # login CSRF: the attacker's callback in someone else's browser
        response = victim.get(callback)
        assert response.status_code == 400
        assert_refused(response, victim, portal, FI_ATTEMPT)
    assert broker.records.token_requests == []


@pytest.mark.usefixtures("citizens")
def test_a_replayed_callback_is_refused(broker: Provider, portal: str, browser: Browser) -> None:
    broker.person = Person(ALICE)
    callback = _authorization_redirect(browser, portal)
    attempt_cookie = browser.cookies["asiointi-oidc-attempt"]
    assert browser.get(callback).status_code == 200  # logged in
    # Replayed as it was, even with a copy of the old attempt cookie: the code is spent.
    with Browser() as thief:
        thief.cookies.set("asiointi-oidc-attempt", attempt_cookie, domain="127.0.0.1")
        response = thief.get(callback)
        assert response.status_code == 403
        assert_refused(response, thief, portal, FI_FAILED)


@pytest.mark.usefixtures("citizens")
def test_an_id_token_with_a_replayed_nonce_is_refused(
    broker: Provider, portal: str, browser: Browser
) -> None:
    broker.person = Person(ALICE)
    assert log_in(browser, portal).status_code == 200
    old_nonce = broker.records.request_objects[0]["nonce"]
    browser.cookies.clear()
    broker.behaviour.nonce = old_nonce  # an earlier ID token, replayed into a new login
    response = log_in(browser, portal)
    assert broker.records.request_objects[1]["nonce"] != old_nonce
    assert response.status_code == 403
    assert_refused(response, browser, portal, FI_FAILED)


@pytest.mark.usefixtures("citizens")
def test_a_code_issued_without_pkce_is_refused(
    broker: Provider, portal: str, browser: Browser
) -> None:
    """A code the broker issued to a request without PKCE (not the portal's: it always sends
    S256), injected into a real login: the portal's verifier does not fit it."""
    broker.person = Person(ALICE)
    callback = _authorization_redirect(browser, portal)
    nonce = broker.records.request_objects[0]["nonce"]
    injected = broker.issue_code(CLIENT_ID, nonce=nonce, code_challenge=None)
    response = browser.get(_with(callback, code=injected))
    assert response.status_code == 403
    assert_refused(response, browser, portal, FI_FAILED)
    assert broker.records.token_requests[0]["code_verifier"]  # the portal did send its verifier


@pytest.mark.usefixtures("citizens")
def test_a_code_from_another_browsers_login_is_refused_by_pkce(
    broker: Provider, portal: str, browser: Browser
) -> None:
    broker.person = Person(ALICE)
    with Browser() as attacker:
        stolen = parse_qs(urlsplit(_authorization_redirect(attacker, portal)).query)["code"][0]
    callback = _authorization_redirect(browser, portal)
    response = browser.get(_with(callback, code=stolen))
    assert response.status_code == 403
    assert_refused(response, browser, portal, FI_FAILED)


@pytest.mark.usefixtures("citizens")
def test_an_unreachable_broker_gives_a_page_not_a_traceback(
    portals: PortalFactory, browser: Browser
) -> None:
    closed = LoopbackServer()
    closed.stop()  # bound and released: nothing listens there
    portal = portals(issuer=closed.url)
    response = log_in(browser, portal)
    assert response.status_code == 502
    assert FI_UNAVAILABLE in response.text and "Traceback" not in response.text
    assert "asiointi-oidc-attempt" not in browser.cookies


def test_the_attempt_cookie_lapses_and_refuses_tampering() -> None:
    tokens = PortalTokens(SECRET)
    attempt = LoginAttempt.new("sv", "/")
    sealed = tokens.seal_login_attempt(attempt.fields())
    opened = tokens.open_login_attempt(sealed, max_age=600)
    assert opened is not None and LoginAttempt.from_fields(opened) == attempt
    assert tokens.open_login_attempt(sealed, max_age=-1) is None  # older than allowed
    assert tokens.open_login_attempt(sealed[:-2] + "AA", max_age=600) is None
    assert PortalTokens(b"t" * 32).open_login_attempt(sealed, max_age=600) is None
    # Another purpose's value is no attempt, and an attempt is no session.
    assert tokens.open_login_attempt(tokens.seal_session("t", "test"), max_age=600) is None
    assert tokens.open_session(sealed) is None


# --- the pages, the JWKS, and what never leaks ------------------------------------------------


def test_the_login_page_offers_strong_identification_only(portal: str, browser: Browser) -> None:
    page = browser.get(f"{portal}/login")
    assert page.status_code == 200 and '<html lang="fi">' in page.text
    assert 'href="/login/start?lang=fi"' in page.text
    assert "Testitunnistautuminen" not in page.text and 'name="hetu"' not in page.text
    assert 'href="/login?lang=sv"' in page.text and 'href="/login?lang=en"' in page.text
    english = browser.get(f"{portal}/login", params={"lang": "en"})
    assert '<html lang="en">' in english.text and 'href="/login/start?lang=en"' in english.text
    # The test identification form is not there to post to.
    forged = browser.post(f"{portal}/login", data={"hetu": ALICE, "csrf_token": "x"})
    assert forged.status_code == 405 and "asiointi-session" not in browser.cookies


def test_the_portal_publishes_its_public_keys(
    portal: str, browser: Browser, gateway_keys: OidcKeys
) -> None:
    response = browser.get(f"{portal}/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    keys = response.json()["keys"]
    assert [(k["kty"], k["use"]) for k in keys] == [("RSA", "sig"), ("RSA", "enc")]
    assert [k["kid"] for k in keys] == [
        gateway_keys.signing.thumbprint(),
        gateway_keys.encryption.thumbprint(),
    ]
    assert all(not {"d", "p", "q", "dp", "dq", "qi"} & set(k) for k in keys)


@pytest.mark.usefixtures("citizens")
def test_no_secret_in_portal_urls_or_logs(
    broker: Provider, portal: str, browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker.person = Person(ALICE)
    log_in(browser, portal)
    broker.behaviour.encrypt_id_token = True
    broker.behaviour.acr = "http://ftn.ficora.fi/2017/loa1"
    log_in(browser, portal)
    broker.behaviour.acr = LOA3
    broker.person = Person(UNKNOWN)
    log_in(browser, portal)
    codes = [r["code"] for r in broker.records.token_requests]
    secrets = [ALICE, UNKNOWN, *codes, *broker.access_tokens]
    secrets += [r["code_verifier"] for r in broker.records.token_requests]
    secrets += [r["nonce"] for r in broker.records.request_objects]
    assert len(codes) == 3 and "refused" in caplog.text
    for record in caplog.records:
        message = record.getMessage()
        # httpx also logs the test browser's own navigation, which carries the code, as any
        # browser's history does; everything else, the portal's back-channel calls included,
        # must be clean.
        if record.name.startswith(("httpx", "httpcore")) and (
            "/login/callback?" in message or "/authorize?" in message
        ):
            continue
        assert not any(secret in message for secret in secrets), message
    flat = {s.replace("-", "").upper() for s in (ALICE, UNKNOWN)}
    portal_urls = [url for url in browser.urls if url.startswith(portal)]
    for url in portal_urls:
        assert not any(hetu in url.replace("-", "").upper() for hetu in flat), url
    # The callback is the one portal URL with a code in it, and it is answered with a redirect
    # or a page that links nowhere outside (Referrer-Policy: no-referrer besides).
    assert re.findall(r"[?&]code=", " ".join(portal_urls)) == ["?code="] * 3
