"""The citizen portal, over the real mailbox store on SQLite: only a logged-in citizen sees their
own mail, sessions really end, forms refuse forged posts, and no HETU leaves in a URL or cookie."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from crypto.blind_index import BlindIndex
from crypto.hetu import parse_hetu
from crypto.sealing import MasterKeyRing
from gateway.web import create_app
from mailbox_store import Delivery, MailboxStore, NewAttachment

ALICE = "010190-123M"
BOB = "150585-456B"
PASSIVE = "020202A123C"
CLOSED = "030303A1233"
UNKNOWN = "311299A1236"
ORGS = {"espoo": "Espoon kaupunki", "vantaa": "Vantaan kaupunki"}
SECRET = b"w" * 32
BANNER = "Testitunnistautuminen — vain kehityskäyttöön / "
BANNER_EN = "Test identification — development only"
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


# --- the real store, on SQLite in tmp_path --------------------------------------------------------


class Clock:
    """The store's clock seam, so idle timeouts can be tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[MailboxStore]:
    mailbox = MailboxStore(
        f"sqlite:///{tmp_path / 'mailbox.db'}",
        MasterKeyRing.from_text(MasterKeyRing.generate_file_text()),
        BlindIndex(os.urandom(32)),
        clock=clock,
    )
    mailbox.migrate()
    yield mailbox
    mailbox.close()


@pytest.fixture
def citizens(store: MailboxStore) -> dict[str, str]:
    """HETU -> citizen id: Alice (fi), Bob (sv), a passivated and a closed account."""
    ids = {
        ALICE: store.add_citizen(ALICE, "Alice Aaltonen", "alice@example.fi", "fi"),
        BOB: store.add_citizen(BOB, "Bob Blomqvist", None, "sv"),
        PASSIVE: store.add_citizen(PASSIVE, "Pekka Passiivinen", None, "fi"),
        CLOSED: store.add_citizen(CLOSED, "Kaisa Suljettu", None, "fi"),
    }
    store.set_citizen_status(ids[PASSIVE], "passive")
    store.set_citizen_status(ids[CLOSED], "closed")
    return ids


def deliver(
    store: MailboxStore,
    citizen_id: str,
    *,
    subject: str = "Päätös",
    text: str = "Hei,\nliitteenä päätös.",
    html: str | None = None,
    organisation_id: str = "espoo",
    received_at: datetime = T0,
    attachments: tuple[NewAttachment, ...] = (),
) -> str:
    stored = store.store_delivery(
        Delivery(
            organisation_id=organisation_id,
            message_id=f"<{os.urandom(8).hex()}@espoo.fi>",
            sender_address="kirjaamo@espoo.fi",
            subject=subject,
            text=text,
            html=html,
            attachments=attachments,
            original_mime=b"Subject: original\r\n\r\nbody\r\n",
            citizen_ids=(citizen_id,),
            received_at=received_at,
        )
    )
    return stored.message_ids[0]


# --- the portal and a browser-like client ---------------------------------------------------------


def make_app(store: MailboxStore, *, auth_mode: str = "test", secure: bool = False) -> Starlette:
    return create_app(
        store,
        secret_key=SECRET,
        auth_mode=auth_mode,
        organisations=ORGS,
        secure_cookies=secure,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
    )


class Traffic:
    """Every request URL and every response header a client saw, to look for leaks."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.headers: list[tuple[str, str]] = []

    async def on_request(self, request: httpx.Request) -> None:
        self.urls.append(str(request.url))

    async def on_response(self, response: httpx.Response) -> None:
        self.headers.extend(response.headers.multi_items())


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def clients(store: MailboxStore, traffic: Traffic) -> AsyncIterator[ClientFactory]:
    opened: list[httpx.AsyncClient] = []

    def factory(
        *, auth_mode: str = "test", secure: bool = False, raise_errors: bool = True
    ) -> httpx.AsyncClient:
        app = make_app(store, auth_mode=auth_mode, secure=secure)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors),
            base_url="https://portal.test" if secure else "http://portal.test",
            follow_redirects=False,
            event_hooks={"request": [traffic.on_request], "response": [traffic.on_response]},
        )
        opened.append(client)
        return client

    yield factory
    for client in opened:
        await client.aclose()


@pytest.fixture
def client(clients: ClientFactory) -> httpx.AsyncClient:
    return clients()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def login(client: httpx.AsyncClient, hetu: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post("/login", data={"csrf_token": csrf_token(form.text), "hetu": hetu})


async def logged_in(client: httpx.AsyncClient, hetu: str) -> httpx.AsyncClient:
    response = await login(client, hetu)
    assert response.status_code == 303 and response.headers["location"] == "/"
    return client


def session_cookie(client: httpx.AsyncClient) -> str:
    return client.cookies["asiointi-session"]


def unread_subjects(html: str) -> list[str]:
    return re.findall(r'<tr class="unread">.*?<a href="/messages/[^"]+">([^<]*)</a>', html, re.S)


def listed_subjects(html: str) -> list[str]:
    return re.findall(r'<a href="/messages/[^"]+">([^<]*)</a>', html)


# --- login ----------------------------------------------------------------------------------------


async def test_pages_need_a_login(client: httpx.AsyncClient, citizens: dict[str, str]) -> None:
    for path in ("/", "/messages/x", "/messages/x/attachments/y"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


async def test_test_identification_page_has_banner_label_and_language(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    assert BANNER in page.text and BANNER_EN in page.text
    assert '<html lang="fi">' in page.text
    assert '<label for="hetu">Henkilötunnus</label>' in page.text
    assert 'href="#main"' in page.text and 'id="main"' in page.text


async def test_login_with_active_account_opens_the_inbox(
    client: httpx.AsyncClient, citizens: dict[str, str]
) -> None:
    response = await login(client, ALICE.lower())  # the parser normalises case
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(v for k, v in response.headers.multi_items() if "asiointi-session=" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    inbox = await client.get("/")
    assert inbox.status_code == 200
    assert "Alice Aaltonen" in inbox.text


async def test_secure_cookies_use_host_prefix_and_secure_flag(
    clients: ClientFactory, citizens: dict[str, str]
) -> None:
    client = clients(secure=True)
    form = await client.get("/login")
    assert "__Host-asiointi-login-csrf=" in form.headers["set-cookie"]
    response = await client.post(
        "/login", data={"csrf_token": csrf_token(form.text), "hetu": ALICE}
    )
    cookie = next(v for k, v in response.headers.multi_items() if "__Host-asiointi-session=" in v)
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert (await client.get("/")).status_code == 200


@pytest.mark.parametrize(
    ("hetu", "message", "status"),
    [
        ("010190-123X", "Henkilötunnus ei ole kelvollinen", 400),
        ("not a hetu", "Henkilötunnus ei ole kelvollinen", 400),
        (UNKNOWN, "ei ole käytössä olevaa asiointitiliä", 403),
        (CLOSED, "ei ole käytössä olevaa asiointitiliä", 403),
    ],
)
async def test_invalid_or_unknown_hetu_shows_the_form_again(
    client: httpx.AsyncClient, citizens: dict[str, str], hetu: str, message: str, status: int
) -> None:
    response = await login(client, hetu)
    assert response.status_code == status
    assert message in response.text
    assert '<form method="post" action="/login">' in response.text
    assert hetu not in response.text
    assert "asiointi-session" not in client.cookies
    assert (await client.get("/")).status_code == 303


async def test_login_is_post_only(client: httpx.AsyncClient, citizens: dict[str, str]) -> None:
    response = await client.get("/login", params={"hetu": ALICE})
    assert "asiointi-session" not in client.cookies
    assert response.status_code == 200 and ALICE not in response.text


async def test_login_rotates_the_session(
    client: httpx.AsyncClient, clients: ClientFactory, citizens: dict[str, str]
) -> None:
    await logged_in(client, ALICE)
    first = session_cookie(client)
    await logged_in(client, ALICE)
    second = session_cookie(client)
    assert first != second
    replay = clients()
    replay.cookies.set("asiointi-session", first)
    assert (await replay.get("/")).status_code == 303
    assert (await client.get("/")).status_code == 200


async def test_no_test_identification_outside_test_mode(
    clients: ClientFactory, citizens: dict[str, str]
) -> None:
    client = clients(auth_mode="oidc")
    assert (await client.get("/login")).status_code == 404
    response = await client.post("/login", data={"hetu": ALICE, "csrf_token": "x"})
    assert response.status_code == 404
    assert "asiointi-session" not in client.cookies
    assert (await client.get("/")).status_code == 303


# --- CSRF and logout ------------------------------------------------------------------------------


async def test_login_without_a_valid_csrf_token_is_refused(
    client: httpx.AsyncClient, clients: ClientFactory, citizens: dict[str, str]
) -> None:
    assert (await client.post("/login", data={"hetu": ALICE})).status_code == 403
    form = await client.get("/login")
    token = csrf_token(form.text)
    forged = await client.post("/login", data={"hetu": ALICE, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    # The right token without the cookie it belongs to (another browser) is refused too.
    other = clients()
    response = await other.post("/login", data={"hetu": ALICE, "csrf_token": token})
    assert response.status_code == 403
    assert "asiointi-session" not in client.cookies and "asiointi-session" not in other.cookies


async def test_an_oversized_login_form_is_refused_unread(
    client: httpx.AsyncClient, citizens: dict[str, str]
) -> None:
    token = csrf_token((await client.get("/login")).text)
    data = {"csrf_token": token, "hetu": ALICE, "padding": "x" * 10_000}
    assert (await client.post("/login", data=data)).status_code == 413
    assert "asiointi-session" not in client.cookies


async def test_logout_needs_the_session_csrf_token(
    client: httpx.AsyncClient, citizens: dict[str, str]
) -> None:
    await logged_in(client, ALICE)
    login_page = await client.get("/login")
    for forged in ({}, {"csrf_token": "0" * 64}, {"csrf_token": csrf_token(login_page.text)}):
        assert (await client.post("/logout", data=forged)).status_code == 403
    assert (await client.get("/")).status_code == 200


async def test_logout_ends_the_session_in_the_database(
    client: httpx.AsyncClient, clients: ClientFactory, citizens: dict[str, str]
) -> None:
    await logged_in(client, ALICE)
    old_cookie = session_cookie(client)
    inbox = await client.get("/")
    response = await client.post("/logout", data={"csrf_token": csrf_token(inbox.text)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "asiointi-session" not in client.cookies
    # A copy of the old cookie (another tab, a thief) no longer opens anything.
    replay = clients()
    replay.cookies.set("asiointi-session", old_cookie)
    assert (await replay.get("/")).status_code == 303


async def test_an_idle_session_expires(
    client: httpx.AsyncClient, clock: Clock, citizens: dict[str, str]
) -> None:
    await logged_in(client, ALICE)
    clock.now += timedelta(minutes=29)
    assert (await client.get("/")).status_code == 200  # activity restarts the idle timer
    clock.now += timedelta(minutes=29)
    assert (await client.get("/")).status_code == 200
    clock.now += timedelta(minutes=31)
    assert (await client.get("/")).status_code == 303


async def test_a_closed_account_loses_its_session(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    await logged_in(client, ALICE)
    store.set_citizen_status(citizens[ALICE], "closed")
    assert (await client.get("/")).status_code == 303


async def test_a_passive_account_may_log_in_to_read_and_reactivate(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    await logged_in(client, PASSIVE)
    inbox = await client.get("/")
    assert inbox.status_code == 200
    assert "uudet viestit tulevat sinulle paperisina" in inbox.text
    assert 'href="/account/reactivate"' in inbox.text


async def test_a_tampered_session_cookie_is_ignored(
    client: httpx.AsyncClient, citizens: dict[str, str]
) -> None:
    await logged_in(client, ALICE)
    value = session_cookie(client)
    client.cookies.set("asiointi-session", value.split(".")[0] + ".forged")
    assert (await client.get("/")).status_code == 303


# --- inbox, message, attachments ------------------------------------------------------------------


async def test_inbox_is_newest_first_paged_with_unread_marks(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    for n in range(22):
        at = T0 + timedelta(hours=n)
        deliver(store, citizens[ALICE], subject=f"Viesti {n:02d}", received_at=at)
    await logged_in(client, ALICE)
    first = await client.get("/")
    assert listed_subjects(first.text) == [f"Viesti {n:02d}" for n in range(21, 1, -1)]
    assert unread_subjects(first.text) == listed_subjects(first.text)
    assert first.text.count('<span class="visually-hidden">lukematon: </span>') == 20
    assert "Espoon kaupunki" in first.text
    assert "1.3.2024 klo 12.00" in first.text  # Viesti 02: 10:00 UTC, 12:00 in Helsinki
    assert 'href="/?page=2"' in first.text
    second = await client.get("/", params={"page": "2"})
    assert listed_subjects(second.text) == ["Viesti 01", "Viesti 00"]
    assert 'href="/?page=1"' in second.text and 'href="/?page=3"' not in second.text
    # A nonsensical page number shows the first page rather than failing.
    assert listed_subjects((await client.get("/?page=abc")).text) == listed_subjects(first.text)


async def test_viewing_a_message_marks_it_opened(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    opened = deliver(store, citizens[ALICE], subject="Luettava", received_at=T0)
    deliver(store, citizens[ALICE], subject="Lukematta", received_at=T0 + timedelta(minutes=1))
    await logged_in(client, ALICE)
    assert unread_subjects((await client.get("/")).text) == ["Lukematta", "Luettava"]
    page = await client.get(f"/messages/{opened}")
    assert page.status_code == 200
    assert "<h1>Luettava</h1>" in page.text
    assert unread_subjects((await client.get("/")).text) == ["Lukematta"]


async def test_message_view_escapes_text_and_sandboxes_html(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    message_id = deliver(
        store,
        citizens[ALICE],
        subject="<script>alert(1)</script>",
        text="Rivi 1\nRivi 2 <b>ei lihavoitu</b>",
        html='<p>Hei "sinä"</p><img src=x onerror=alert(2)>',
        organisation_id="vantaa",
    )
    await logged_in(client, ALICE)
    page = (await client.get(f"/messages/{message_id}")).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "Rivi 1\nRivi 2 &lt;b&gt;ei lihavoitu&lt;/b&gt;" in page
    assert "Vantaan kaupunki" in page
    iframe = re.search(r"<iframe[^>]*>", page)
    assert iframe is not None
    assert " sandbox " in iframe.group(0)
    assert 'srcdoc="&lt;p&gt;Hei &#34;sinä&#34;&lt;/p&gt;&lt;img src=x onerror=alert(2)&gt;"' in (
        iframe.group(0)
    )


async def test_message_without_html_has_no_iframe(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    message_id = deliver(store, citizens[ALICE])
    await logged_in(client, ALICE)
    assert "<iframe" not in (await client.get(f"/messages/{message_id}")).text


async def test_attachment_download_is_byte_identical(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    data = os.urandom(200_000)
    message_id = deliver(
        store,
        citizens[ALICE],
        attachments=(
            NewAttachment("Päätös 2024.pdf", "application/pdf", data),
            NewAttachment("muistio.txt", "text/plain", b"rivi\r\n"),
        ),
    )
    await logged_in(client, ALICE)
    page = (await client.get(f"/messages/{message_id}")).text
    links = re.findall(r'href="(/messages/[^"]+/attachments/[^"]+)"', page)
    assert len(links) == 2 and "Päätös 2024.pdf" in page
    pdf = await client.get(links[0])
    assert pdf.status_code == 200
    assert pdf.content == data
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-disposition"] == (
        "attachment; filename=\"Paatos 2024.pdf\"; "
        "filename*=UTF-8''P%C3%A4%C3%A4t%C3%B6s%202024.pdf"
    )
    text = await client.get(links[1])
    assert text.content == b"rivi\r\n"
    assert text.headers["content-type"] == "text/plain"  # as stored, no charset added
    assert "sandbox" in text.headers["content-security-policy"]


async def test_another_citizens_message_and_attachment_are_not_found(
    clients: ClientFactory, store: MailboxStore, citizens: dict[str, str]
) -> None:
    bobs = deliver(
        store, citizens[BOB], attachments=(NewAttachment("b.txt", "text/plain", b"bob"),)
    )
    alices = deliver(
        store, citizens[ALICE], attachments=(NewAttachment("a.txt", "text/plain", b"alice"),)
    )
    bobs_unread = deliver(store, citizens[BOB], subject="Bobin lukematon")
    bob = await logged_in(clients(), BOB)
    bob_attachment = re.findall(
        r'href="/messages/[^"]+/attachments/([^"]+)"', (await bob.get(f"/messages/{bobs}")).text
    )[0]
    alice = await logged_in(clients(), ALICE)
    alice_attachment = re.findall(
        r'href="/messages/[^"]+/attachments/([^"]+)"',
        (await alice.get(f"/messages/{alices}")).text,
    )[0]
    for path in (
        f"/messages/{bobs}",
        f"/messages/{bobs_unread}",
        f"/messages/{bobs}/attachments/{bob_attachment}",
        f"/messages/{alices}/attachments/{bob_attachment}",
        f"/messages/{bobs}/attachments/{alice_attachment}",
        "/messages/does-not-exist",
    ):
        response = await alice.get(path)
        assert response.status_code == 404, path
        assert "bob" not in response.text
    # Alice's looking did not mark Bob's message opened.
    assert unread_subjects((await bob.get("/")).text) == ["Bobin lukematon"]


# --- language, headers, leaks ---------------------------------------------------------------------


async def test_ui_follows_the_citizens_language(
    client: httpx.AsyncClient, citizens: dict[str, str]
) -> None:
    await logged_in(client, BOB)
    inbox = await client.get("/")
    assert '<html lang="sv">' in inbox.text and "Inkorg" in inbox.text
    missing = await client.get("/messages/nothing")
    assert missing.status_code == 404 and "Sidan hittades inte." in missing.text


async def test_security_headers_on_every_response(
    client: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    message_id = deliver(store, citizens[ALICE], html="<p>x</p>")
    responses = [await client.get("/"), await client.get("/login"), await client.get("/nowhere")]
    await logged_in(client, ALICE)
    responses += [await client.get("/"), await client.get(f"/messages/{message_id}")]
    responses.append(await client.post("/logout", data={}))
    for response in responses:
        headers = response.headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
    css = await client.get("/static/portal.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_a_store_failure_gives_a_plain_500_page_with_security_headers(
    clients: ClientFactory, tmp_path: Path, citizens: dict[str, str]
) -> None:
    client = clients(raise_errors=False)
    await logged_in(client, ALICE)
    # A real failure inside the store: its sessions table disappears under it.
    with sqlite3.connect(tmp_path / "mailbox.db") as db:
        db.execute("DROP TABLE sessions")
    response = await client.get("/")
    assert response.status_code == 500
    assert "Pyyntöä ei voitu käsitellä." in response.text
    assert "sessions" not in response.text and "Traceback" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_no_hetu_in_any_url_redirect_or_cookie(
    clients: ClientFactory, store: MailboxStore, traffic: Traffic, citizens: dict[str, str]
) -> None:
    message_id = deliver(
        store, citizens[ALICE], attachments=(NewAttachment("a.txt", "text/plain", b"a"),)
    )
    for client in (clients(), clients(secure=True)):
        await login(client, UNKNOWN)
        await login(client, "010190-123X")
        await logged_in(client, ALICE)
        page = await client.get(f"/messages/{message_id}")
        for link in re.findall(r'href="(/messages/[^"]+)"', page.text):
            await client.get(link)
        await client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert traffic.urls and traffic.headers
    compact = {h.replace("-", "").replace("+", "").upper() for h in (ALICE, UNKNOWN, "010190-123X")}
    for text in traffic.urls + [f"{name}: {value}" for name, value in traffic.headers]:
        flat = text.replace("-", "").replace("+", "").upper()
        assert not any(hetu in flat for hetu in compact), text
