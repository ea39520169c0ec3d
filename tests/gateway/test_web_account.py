"""The citizen's own account in the portal: settings, passivation, closing after a fresh login,
the archive of messages, and the event log with its export; over the real store on SQLite."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sqlite3
import subprocess
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from test_web import ALICE, BOB, ORGS, SECRET, Clock, csrf_token, deliver, logged_in

from crypto.blind_index import BlindIndex
from crypto.hetu import parse_hetu
from crypto.sealing import MasterKeyRing
from crypto.smime_out import detached_signature
from gateway.web import create_app
from gateway.web.archive import safe_name
from gateway.web.contact import normalise_email, normalise_mobile
from gateway.web.event_log import describe_event
from mailbox_store import AccountSettings, MailboxStore, NewAttachment
from mailbox_store.chain import ChainLink, link_hash, verify_chain

ORIGINAL = b"Subject: original"  # how test_web.deliver's stored originals begin


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mailbox.db"


@pytest.fixture
def store(db_path: Path, clock: Clock) -> Iterator[MailboxStore]:
    mailbox = MailboxStore(
        f"sqlite:///{db_path}",
        MasterKeyRing.from_text(MasterKeyRing.generate_file_text()),
        BlindIndex(os.urandom(32)),
        clock=clock,
    )
    mailbox.migrate()
    yield mailbox
    mailbox.close()


@pytest.fixture
def citizens(store: MailboxStore) -> dict[str, str]:
    return {
        ALICE: store.add_citizen(ALICE, "Alice Aaltonen", "alice@example.fi", "fi"),
        BOB: store.add_citizen(BOB, "Bob Blomqvist", None, "sv"),
    }


@pytest.fixture
def signing_identity(tmp_path: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asiointi.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / "gateway.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, pem


ClientFactory = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def clients(
    store: MailboxStore, signing_identity: tuple[x509.Certificate, rsa.RSAPrivateKey, Path]
) -> AsyncIterator[ClientFactory]:
    cert, key, _ = signing_identity
    app = create_app(
        store,
        secret_key=SECRET,
        auth_mode="test",
        organisations=ORGS,
        secure_cookies=False,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
        chain_signer=partial(detached_signature, certificate=cert, key=key),
    )
    opened: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://portal.test"
        )
        opened.append(client)
        return client

    yield factory
    for client in opened:
        await client.aclose()


@pytest.fixture
async def alice(clients: ClientFactory, citizens: dict[str, str]) -> httpx.AsyncClient:
    return await logged_in(clients(), ALICE)


async def token_of(client: httpx.AsyncClient) -> str:
    return csrf_token((await client.get("/account")).text)


def kinds(store: MailboxStore, citizen_id: str) -> list[str]:
    return [event.kind for event in store.events(citizen_id)]


# --- login ----------------------------------------------------------------------------------------


async def test_login_is_an_event_with_the_identification_method(
    alice: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    [login] = [e for e in store.events(citizens[ALICE]) if e.kind == "login"]
    assert login.detail == {"method": "test"}


async def test_pages_of_the_account_need_a_login(
    clients: ClientFactory, citizens: dict[str, str]
) -> None:
    client = clients()
    for path in ("/account", "/account/passivate", "/account/reactivate", "/account/close",
                 "/events"):
        response = await client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/login"), path


async def test_login_returns_only_to_known_pages(
    clients: ClientFactory, citizens: dict[str, str]
) -> None:
    client = clients()
    page = await client.get("/login", params={"next": "https://evil.example/"})
    assert 'name="next"' not in page.text
    answer = await client.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "hetu": ALICE, "next": "//evil.example/"},
    )
    assert answer.headers["location"] == "/"


# --- settings -------------------------------------------------------------------------------------


async def test_settings_page_shows_the_stored_choices_and_that_sms_is_not_sent_yet(
    alice: httpx.AsyncClient,
) -> None:
    page = await alice.get("/account")
    assert page.status_code == 200
    assert 'value="alice@example.fi"' in page.text
    assert '<label for="phone">Matkapuhelinnumero</label>' in page.text
    assert "Tekstiviesti-ilmoituksia ei vielä lähetetä" in page.text
    assert re.search(r'id="notify_email"[^>]* checked', page.text)
    assert not re.search(r'id="notify_sms"[^>]* checked', page.text)
    assert '<option value="fi" lang="fi" selected>' in page.text


async def test_settings_are_saved_normalised_sealed_and_logged(
    alice: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str], db_path: Path
) -> None:
    form = {
        "csrf_token": await token_of(alice),
        "email": " alice.new@example.fi ",
        "phone": "040 123 4567",
        "notify_email": "1",
        "notify_sms": "1",
        "lang": "sv",
    }
    answer = await alice.post("/account/settings", data=form)
    assert (answer.status_code, answer.headers["location"]) == (303, "/account?done=saved")
    assert store.account_settings(citizens[ALICE]) == AccountSettings(
        "alice.new@example.fi", "+358401234567", True, True, "sv"
    )
    [changed] = [e for e in store.events(citizens[ALICE]) if e.kind == "account.settings"]
    assert changed.detail == {"fields": ["email", "phone", "notify_sms", "lang"]}
    page = await alice.get("/account?done=saved")
    assert '<html lang="sv">' in page.text and "Inställningarna har sparats." in page.text
    # Contact details are sealed at rest like the email always was; events name fields only.
    raw = db_path.read_bytes() + db_path.with_name("mailbox.db-wal").read_bytes()
    assert b"401234567" not in raw and b"alice.new" not in raw
    # Saving the same again changes nothing and logs nothing.
    form["csrf_token"] = await token_of(alice)
    await alice.post("/account/settings", data=form)
    assert kinds(store, citizens[ALICE]).count("account.settings") == 1


async def test_wrong_settings_are_refused_with_errors_tied_to_their_fields(
    alice: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    before = store.account_settings(citizens[ALICE])
    form = {
        "csrf_token": await token_of(alice),
        "email": "not an address",
        "phone": "",
        "notify_sms": "1",
        "lang": "de",
    }
    page = await alice.post("/account/settings", data=form)
    assert page.status_code == 422
    for field in ("email", "notify_sms", "lang"):
        control = re.search(rf'<(input|select) id="{field}"[^>]*>', page.text)
        assert control is not None, field
        assert f"{field}-error" in control.group(0) and 'aria-invalid="true"' in control.group(0)
        assert f'id="{field}-error"' in page.text and f'href="#{field}"' in page.text
    assert "Anna matkapuhelinnumero" in page.text
    assert 'value="not an address"' in page.text  # what was typed is kept for correcting
    assert store.account_settings(citizens[ALICE]) == before
    assert "account.settings" not in kinds(store, citizens[ALICE])


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("040 123 4567", "+358401234567"),
        ("+358 40 1234567", "+358401234567"),
        ("00358-50-123 4567", "+358501234567"),
        ("0457 1234567", "+3584571234567"),
        ("", None),
    ],
)
def test_finnish_mobile_numbers_are_stored_in_international_form(
    typed: str, stored: str | None
) -> None:
    assert normalise_mobile(typed) == stored


@pytest.mark.parametrize(
    "typed", ["09 123 4567", "+46 70 123 4567", "040 12", "040 123 4567 8901", "abc", "+358"]
)
def test_other_numbers_are_not_finnish_mobiles(typed: str) -> None:
    with pytest.raises(ValueError):
        normalise_mobile(typed)


@pytest.mark.parametrize("typed", ["a@b", "a b@example.fi", "@example.fi", "a@@example.fi"])
def test_what_cannot_be_an_email_address_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        normalise_email(typed)


# --- passivation, reactivation, closing -----------------------------------------------------------


async def test_passivation_says_what_follows_and_reactivation_undoes_it(
    alice: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    message_id = deliver(store, citizens[ALICE])
    confirm = await alice.get("/account/passivate")
    assert "lähettävät sinulle uudet viestit paperisina" in confirm.text
    assert "ettei sinulla ole käytössä olevaa asiointitiliä" in confirm.text
    assert store.active_citizen_id(ALICE) == citizens[ALICE]  # looking changes nothing

    answer = await alice.post("/account/passivate", data={"csrf_token": csrf_token(confirm.text)})
    assert answer.headers["location"] == "/account?done=passivated"
    # Mail for Alice is now refused (the SMTP look-up), but she may still read and come back.
    assert store.active_citizen_id(ALICE) is None
    inbox = await alice.get("/")
    assert "uudet viestit tulevat sinulle paperisina" in inbox.text
    assert (await alice.get(f"/messages/{message_id}")).status_code == 200
    assert (await alice.get("/account/passivate")).headers["location"] == "/account"

    confirm = await alice.get("/account/reactivate")
    assert "voivat taas lähettää viestit" in confirm.text
    await alice.post("/account/reactivate", data={"csrf_token": csrf_token(confirm.text)})
    assert store.active_citizen_id(ALICE) == citizens[ALICE]
    statuses = [e.detail for e in store.events(citizens[ALICE]) if e.kind == "citizen.status"]
    assert statuses == [
        {"status": "passive", "by": "citizen"},
        {"status": "active", "by": "citizen"},
    ]


async def test_closing_needs_a_fresh_login_then_ends_every_session(
    alice: httpx.AsyncClient,
    clients: ClientFactory,
    store: MailboxStore,
    clock: Clock,
    citizens: dict[str, str],
) -> None:
    other_device = await logged_in(clients(), ALICE)
    token = await token_of(alice)
    clock.now += timedelta(minutes=6)
    for answer in (
        await alice.get("/account/close"),
        await alice.post("/account/close", data={"csrf_token": token}),
    ):
        assert answer.headers["location"] == "/login?next=/account/close"
    assert store.active_citizen_id(ALICE) == citizens[ALICE]

    form = await alice.get("/login?next=/account/close")
    assert "Tunnistaudu uudelleen, jotta voit sulkea" in form.text
    again = await alice.post(
        "/login",
        data={"csrf_token": csrf_token(form.text), "hetu": ALICE, "next": "/account/close"},
    )
    assert again.headers["location"] == "/account/close"
    confirm = await alice.get("/account/close")
    assert "Organisaatiot lähettävät sinulle viestit jatkossa paperisina." in confirm.text
    assert "ettei sinulla ole asiointitiliä" in confirm.text
    assert 'action="/account/export"' in confirm.text  # the archive is offered first

    closed = await alice.post("/account/close", data={"csrf_token": csrf_token(confirm.text)})
    assert closed.status_code == 200 and "Asiointitili on suljettu" in closed.text
    assert "asiointi-session" not in alice.cookies
    assert store.citizen_id(ALICE) == citizens[ALICE] and store.active_citizen_id(ALICE) is None
    assert (await other_device.get("/")).status_code == 303  # every session ended
    assert store.table_counts()["sessions"] == 0
    refused = await logged_in_or_refused(clients())
    assert refused.status_code == 403 and "ei ole käytössä olevaa asiointitiliä" in refused.text
    assert kinds(store, citizens[ALICE])[-1] == "citizen.status"


async def logged_in_or_refused(client: httpx.AsyncClient) -> httpx.Response:
    form = await client.get("/login")
    return await client.post("/login", data={"csrf_token": csrf_token(form.text), "hetu": ALICE})


# --- the archive ----------------------------------------------------------------------------------


async def test_the_archive_holds_every_message_as_the_citizen_sees_it(
    alice: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str]
) -> None:
    pdf = os.urandom(50_000)
    first = deliver(
        store,
        citizens[ALICE],
        subject="Päätös: rakennuslupa/2024",
        text="Hei Alice,\nohessa päätös.",
        attachments=(
            NewAttachment("päätös.pdf", "application/pdf", pdf),
            NewAttachment("päätös.pdf", "application/pdf", b"toinen"),
            NewAttachment("../../etc/passwd", "text/plain", b"nimi"),
        ),
    )
    deliver(store, citizens[ALICE], subject="Toinen", organisation_id="vantaa",
            received_at=datetime(2024, 3, 2, 8, 0, tzinfo=UTC))
    deliver(store, citizens[BOB], subject="Bobin viesti")
    answer = await alice.post("/account/export", data={"csrf_token": await token_of(alice)})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in answer.headers["content-security-policy"]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None
    names = archive.namelist()
    folder = "0001 2024-03-01 Päätös_ rakennuslupa_2024"
    assert names == [
        f"{folder}/message.txt",
        f"{folder}/päätös.pdf",
        f"{folder}/päätös (2).pdf",
        f"{folder}/_.._etc_passwd",  # no separators, no leading dot
        "0002 2024-03-02 Toinen/message.txt",
    ]
    assert archive.read(f"{folder}/päätös.pdf") == pdf
    text = archive.read(f"{folder}/message.txt").decode()
    assert "Aihe: Päätös: rakennuslupa/2024" in text
    assert "Lähettäjä: Espoon kaupunki" in text and "Saapunut: 1.3.2024 klo 10.00" in text
    assert "Avattu: ei avattu" in text and text.endswith("Hei Alice,\nohessa päätös.\n")
    assert "Vantaan kaupunki" in archive.read("0002 2024-03-02 Toinen/message.txt").decode()
    everything = b"".join(archive.read(name) for name in names)
    assert ORIGINAL not in everything and b"Bobin" not in everything
    # Exporting is logged, and opens nothing.
    [exported] = [e for e in store.events(citizens[ALICE]) if e.kind == "messages.exported"]
    assert exported.detail == {"messages": 2}
    assert store.read_message(citizens[ALICE], first) is not None
    assert kinds(store, citizens[ALICE]).count("message.opened") == 1


async def test_an_unacknowledged_verifiable_message_goes_in_as_its_notice_only(
    alice: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str], clock: Clock
) -> None:
    from mailbox_store import Delivery

    store.store_delivery(
        Delivery(
            organisation_id="espoo",
            message_id="<verifiable@espoo.fi>",
            sender_address="kirjaamo@espoo.fi",
            subject="Todisteellinen päätös",
            text="Salainen sisältö",
            html=None,
            attachments=(NewAttachment("salainen.pdf", "application/pdf", b"%PDF salainen"),),
            original_mime=b"Subject: x\r\n\r\nx\r\n",
            citizen_ids=(citizens[ALICE],),
            received_at=clock.now,
            acknowledge_by=clock.now + timedelta(days=7),
        )
    )
    answer = await alice.post("/account/export", data={"csrf_token": await token_of(alice)})
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    [name] = archive.namelist()
    text = archive.read(name).decode()
    assert "Todisteellinen päätös" in text and "Salainen" not in text
    assert "sisältö avautuu, kun kuittaat" in text


def test_archive_names_cannot_escape_or_break_the_archive() -> None:
    assert safe_name("../../x\x00y\u202e:z", fallback="f") == "_.._xy_z"
    assert safe_name(" ... ", fallback="liite") == "liite"
    assert len(safe_name("a" * 500, fallback="f")) == 80


# --- the event log --------------------------------------------------------------------------------


async def test_the_log_reads_newest_first_in_the_citizens_language_with_pages_and_dates(
    clients: ClientFactory, store: MailboxStore, citizens: dict[str, str], clock: Clock
) -> None:
    start = clock.now
    for n in range(60):
        clock.now = start + timedelta(days=n, minutes=1)
        deliver(store, citizens[ALICE], subject=f"Viesti {n}")
    clock.now = start + timedelta(days=60)
    alice = await logged_in(clients(), ALICE)
    first = await alice.get("/events")
    sentences = re.findall(r"<td>([^<]*)</td>", first.text)
    assert sentences[:2] == [
        "Kirjauduit sisään (testitunnistautuminen).",
        "Viesti saapui: Espoon kaupunki.",
    ]
    assert len(sentences) == 50 and 'href="/events?page=2"' in first.text
    second = await alice.get("/events?page=2")
    tail = re.findall(r"<td>([^<]*)</td>", second.text)
    assert len(tail) == 12 and tail[-1] == "Asiointitili avattiin."
    assert 'href="/events?page=1"' in second.text and "page=3" not in second.text

    # 2024-06-03..2024-06-04 in Finnish time: the deliveries of days 2 and 3 only.
    ranged = await alice.get("/events", params={"since": "2024-06-03", "until": "2024-06-04"})
    assert re.findall(r"<td>([^<]*)</td>", ranged.text) == ["Viesti saapui: Espoon kaupunki."] * 2
    wrong = await alice.get("/events", params={"since": "2024-06-05", "until": "2024-06-01"})
    assert wrong.status_code == 422
    assert re.search(r'<input id="until"[^>]*aria-invalid="true"', wrong.text)
    assert "Loppupäivä on ennen alkupäivää." in wrong.text
    assert (await alice.get("/events", params={"since": "3.6.2024"})).status_code == 422


def test_every_kind_reads_as_a_sentence_and_unknown_kinds_generically() -> None:
    def name(organisation_id: str) -> str:
        return ORGS.get(organisation_id, organisation_id)

    assert describe_event("en", "citizen.status", {"status": "passive"}, name) == (
        "The eAccount was taken out of use."
    )
    assert describe_event("sv", "account.settings", {"fields": ["phone", "lang"]}, name) == (
        "Du ändrade inställningar: mobilnummer, språk."
    )
    assert describe_event("fi", "notification.held", {"by": "operator"}, name) == (
        "Tapahtuma: notification.held"
    )


async def test_the_log_export_arrives_in_the_mailbox_carrying_the_signed_chain(
    alice: httpx.AsyncClient,
    store: MailboxStore,
    citizens: dict[str, str],
    signing_identity: tuple[x509.Certificate, rsa.RSAPrivateKey, Path],
    tmp_path: Path,
) -> None:
    deliver(store, citizens[ALICE])
    events_page = await alice.get("/events")
    answer = await alice.post("/events/export", data={"csrf_token": csrf_token(events_page.text)})
    location = answer.headers["location"]
    page = await alice.get(location)
    assert "<h1>Tapahtumaloki</h1>" in page.text and "Asiointitili" in page.text
    links = re.findall(r'href="(/messages/[^"]+/attachments/[^"]+)"', page.text)
    csv_file, json_file = [await alice.get(link) for link in links]
    document = json.loads(json_file.content)
    links_ = [
        ChainLink(
            id=e["id"], citizen_id=document["citizen_id"], seq=e["seq"], kind=e["kind"],
            at=datetime.fromisoformat(e["at"]), detail=e["detail"], prev_hash=e["prev_hash"],
            hash=e["hash"],
        )
        for e in document["events"]
    ]
    assert verify_chain(links_)
    assert [link.kind for link in links_] == ["citizen.created", "login", "message.received"]
    assert document["head"]["hash"] == links_[-1].hash
    stored = store.events(citizens[ALICE])
    assert [e.hash for e in stored[:3]] == [link.hash for link in links_]
    assert stored[3].kind == "events.exported"
    assert stored[3].detail["hash"] == links_[-1].hash
    csv_text = csv_file.content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("seq,at,event,kind,detail")
    assert "Viesti saapui: Espoon kaupunki." in csv_text

    # The gateway's signature over the head verifies with openssl against its certificate.
    _, _, cert_pem = signing_identity
    (tmp_path / "statement").write_text(document["head"]["statement"])
    (tmp_path / "signature").write_bytes(base64.b64decode(document["head"]["signature"]))
    signer = tmp_path / "signer.pem"
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", tmp_path / "signature",
         "-content", tmp_path / "statement", "-binary", "-noverify", "-signer", signer,
         "-out", os.devnull],
        capture_output=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert signer.read_bytes() == cert_pem.read_bytes()
    assert f"hash: {links_[-1].hash}" in document["head"]["statement"]


async def test_an_earlier_export_reveals_a_rewritten_history(
    alice: httpx.AsyncClient, store: MailboxStore, citizens: dict[str, str], db_path: Path
) -> None:
    async def export() -> dict[str, object]:
        answer = await alice.post("/events/export", data={"csrf_token": await token_of(alice)})
        page = await alice.get(answer.headers["location"])
        [json_link] = re.findall(r'href="(/messages/[^"]+/attachments/[^"]+)"', page.text)[1:]
        document: dict[str, object] = json.loads((await alice.get(json_link)).content)
        return document

    earlier = await export()
    # Someone with the database rewrites the login's detail and recomputes every later hash,
    # so the stored chain verifies on its own.
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE events SET detail = '{\"method\":\"forged\"}' WHERE kind = 'login'")
        rows = db.execute(
            "SELECT id, citizen_id, seq, kind, at, detail FROM events WHERE citizen_id = ? "
            "ORDER BY seq", (citizens[ALICE],)
        ).fetchall()
        prev = "0" * 64
        for event_id, citizen_id, seq, kind, at, detail in rows:
            moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
            new = link_hash(prev, id=event_id, citizen_id=citizen_id, seq=seq, kind=kind,
                            at=moment, detail=detail)
            db.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?",
                       (prev, new, event_id))
            prev = new
    assert store.verify_events(citizens[ALICE])  # the rewrite is consistent in itself
    later = await export()
    head = earlier["head"]
    assert isinstance(head, dict)
    later_events = later["events"]
    assert isinstance(later_events, list)
    same_place = next(e for e in later_events if e["seq"] == head["seq"])
    assert same_place["hash"] != head["hash"]


# --- other citizens and forged posts --------------------------------------------------------------


async def test_nothing_of_another_citizen_is_reachable(
    alice: httpx.AsyncClient, clients: ClientFactory, store: MailboxStore, citizens: dict[str, str]
) -> None:
    deliver(store, citizens[BOB], subject="Bobin päätös", organisation_id="vantaa")
    bob = await logged_in(clients(), BOB)
    bob_events = await bob.get("/events")
    answer = await bob.post("/events/export", data={"csrf_token": csrf_token(bob_events.text)})
    bobs_log = answer.headers["location"]
    bob_files = re.findall(r'href="(/messages/[^"]+/attachments/[^"]+)"',
                           (await bob.get(bobs_log)).text)
    assert len(bob_files) == 2
    for path in (bobs_log, *bob_files):
        assert (await alice.get(path)).status_code == 404, path
    alice_log = (await alice.get("/events")).text
    assert "Vantaan" not in alice_log and "Ett meddelande" not in alice_log
    archive = await alice.post("/account/export", data={"csrf_token": await token_of(alice)})
    assert zipfile.ZipFile(io.BytesIO(archive.content)).namelist() == []
    assert store.active_citizen_id(BOB) == citizens[BOB]


@pytest.mark.parametrize(
    "path",
    [
        "/account/settings",
        "/account/passivate",
        "/account/reactivate",
        "/account/close",
        "/account/export",
        "/events/export",
    ],
)
async def test_every_post_needs_the_sessions_csrf_token(
    alice: httpx.AsyncClient, clients: ClientFactory, store: MailboxStore, path: str,
    citizens: dict[str, str],
) -> None:
    other = await logged_in(clients(), BOB)
    before = store.table_counts()
    for form in ({}, {"csrf_token": "0" * 64}, {"csrf_token": await token_of(other)}):
        answer = await alice.post(path, data={**form, "lang": "en", "email": ""})
        assert answer.status_code == 403, (path, form)
    assert store.table_counts() == before
    assert store.account_settings(citizens[ALICE]) == AccountSettings(
        "alice@example.fi", None, True, False, "fi"
    )
