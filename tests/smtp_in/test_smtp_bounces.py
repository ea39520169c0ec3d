"""Bounces over real loopback SMTP: delivery status notifications for the gateway's own mail come
back with the null sender to per-mail return paths (smtp_out.verp), from any peer, and are
recorded against the queue row; everything else sent that way is refused with its own reply.

The notifications here were really stored by the gateway (a clerk's message over SMTP) and then
marked sent, as the outbound worker does; the DSNs are real MTAs' (dsn_samples/, the corpus).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from gatewaytest.corpus import MIME
from gatewaytest.env import CLERK, DOMAIN, SUBMISSION, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import RecordingSMTP, connect, decision, lines_without_enhanced_code

from crypto.hetu import parse_hetu
from gateway import material
from gateway.web import create_app
from gateway.web.i18n import CATALOGUE
from smtp_in import replies
from smtp_out.verp import return_path

HETU = make_hetu("131052", "-", 308)  # has an account, and gets the notifications
HETU_OTHER = make_hetu("010203", "Y", 123)  # has an account, never bounced
HETU_NO_ACCOUNT = make_hetu("131052", "-", 309)
BAD_CHECKSUM = HETU[:-1] + ("X" if HETU[-1] != "X" else "Y")
OUTSIDER = "127.0.0.2"  # no organisation's network
SAMPLES = Path(__file__).parent / "dsn_samples"
NOTICE_FI = CATALOGUE["fi"]["email_unreachable"]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, InProcessGateway]]:
    env = make_env(tmp_path_factory.mktemp("bounces"))
    env.add_citizen(HETU, email="maija@example.fi")
    env.add_citizen(HETU_OTHER, email="olli@example.fi")
    gateway = InProcessGateway(env).start()
    yield env, gateway
    gateway.stop()


def said(answer: tuple[int, bytes]) -> str:
    code, text = answer
    return f"{code} {text.decode()}"


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def sent_notification(gw: tuple[GatewayEnv, InProcessGateway]) -> str:
    """A clerk's message is stored for HETU; its notification is sent. Returns the queue row."""
    env, gateway = gw
    with connect(gateway.port) as clerk:
        assert said(clerk.mail(CLERK)) == str(replies.SENDER_OK)
        assert said(clerk.rcpt(f"{HETU}@{DOMAIN}")) == str(replies.RECIPIENT_OK)
        assert said(clerk.data(decision(env, f"{HETU}@{DOMAIN}"))) == str(replies.ACCEPTED)
    later = datetime.now(UTC) + timedelta(days=1)
    [item] = gateway.store.claim_due(now=later, limit=10)
    gateway.store.mark_sent(item.id)
    return item.id


def bounce_address(env: GatewayEnv, queue_id: str) -> str:
    """The return path the outbound worker gives that row's mail (the same key as serve)."""
    mac = partial(material.blind_index(env.config), purpose="bounce")
    return return_path(queue_id, mac=mac, domain=DOMAIN)


def readdressed(dsn: bytes, address: str) -> bytes:
    """A real DSN, as if its mail had gone out with `address` as return path."""
    return re.sub(rb"(?m)^To: [^\r\n]*", b"To: <" + address.encode() + b">", crlf(dsn), count=1)


def send_bounce(port: int, address: str, dsn: bytes, *, source: str = OUTSIDER) -> str:
    with connect(port, source=source) as mta:
        assert said(mta.mail("")) == str(replies.SENDER_OK)
        assert said(mta.rcpt(address)) == str(replies.RECIPIENT_OK)
        answer = said(mta.data(readdressed(dsn, address)))
        assert lines_without_enhanced_code(mta.replies) == []
    return answer


async def inbox_page(gw: tuple[GatewayEnv, InProcessGateway], hetu: str) -> str:
    """The citizen's inbox as the portal serves it (test identification), over the same store."""
    app = create_app(
        gw[1].store,
        secret_key=b"k" * 32,
        auth_mode="test",
        organisations={"demokunta": "Demokunta"},
        secure_cookies=False,
        hetu_parser=partial(parse_hetu, allow_temporary=True),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        login = await client.post("/login", data={"csrf_token": token.group(1), "hetu": hetu})
        assert login.status_code == 303
        inbox = await client.get("/")
        assert inbox.status_code == 200
        return inbox.text


async def test_dsn_from_an_unregistered_peer_is_recorded_and_the_citizen_told(
    gw: tuple[GatewayEnv, InProcessGateway], caplog: pytest.LogCaptureFixture
) -> None:
    env, gateway = gw
    store = gateway.store
    citizen = store.active_citizen_id(HETU)
    assert citizen is not None
    row = sent_notification(gw)
    assert NOTICE_FI not in await inbox_page(gw, HETU)
    before = store.table_counts()
    caplog.set_level(logging.DEBUG)
    address = bounce_address(env, row)

    answer = send_bounce(gateway.port, address, (SAMPLES / "postfix-user-unknown.eml").read_bytes())

    assert answer == str(replies.BOUNCE_RECORDED)
    entry = store.queue_entry(row)
    assert entry is not None and (entry.state, entry.last_error) == ("bounced", "bounced 5.1.1")
    event = store.events(citizen)[-1]
    assert event.kind == "notification.bounced"
    assert event.detail == {"queue_id": row, "status": "5.1.1"}
    # Recorded, never delivered: no message, no notification, one event more.
    assert store.table_counts() == {**before, "events": before["events"] + 1}
    assert NOTICE_FI in await inbox_page(gw, HETU)
    assert NOTICE_FI not in await inbox_page(gw, HETU_OTHER)
    # The logs name the row and the code; never the address, its MAC or what the DSN said.
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert row in logged and "5.1.1" in logged
    local = address.split("@")[0]
    for secret in (address, local.rsplit(".", 1)[1], "someone@gmail.com", "gsmtp", HETU):
        assert secret not in logged


def test_office365_ndr_from_the_corpus_is_recorded(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, gateway = gw
    row = sent_notification(gw)
    ndr = (MIME / "flanker" / "bounce-office365.eml").read_bytes()
    assert send_bounce(gateway.port, bounce_address(env, row), ndr) == str(replies.BOUNCE_RECORDED)
    entry = gateway.store.queue_entry(row)
    assert entry is not None and (entry.state, entry.last_error) == ("bounced", "bounced 5.1.10")


def test_a_delay_warning_is_only_an_event(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, gateway = gw
    row = sent_notification(gw)
    warning = (SAMPLES / "sendmail-delay-warning.eml").read_bytes()
    assert send_bounce(gateway.port, bounce_address(env, row), warning) == str(
        replies.BOUNCE_RECORDED
    )
    entry = gateway.store.queue_entry(row)
    assert entry is not None and (entry.state, entry.last_error) == ("sent", None)
    citizen = gateway.store.active_citizen_id(HETU)
    assert citizen is not None
    assert gateway.store.events(citizen)[-1].kind == "notification.delayed"
    assert not gateway.store.unreachable_email(citizen)


def test_an_organisations_own_mta_may_bounce_too(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, gateway = gw
    row = sent_notification(gw)
    dsn = (SAMPLES / "aol-mailbox-full.eml").read_bytes()
    answer = send_bounce(gateway.port, bounce_address(env, row), dsn, source="127.0.0.1")
    assert answer == str(replies.BOUNCE_RECORDED)
    entry = gateway.store.queue_entry(row)
    assert entry is not None and entry.last_error == "bounced 5.2.2"


def test_a_dsn_for_a_deleted_row_is_accepted_and_dropped(
    gw: tuple[GatewayEnv, InProcessGateway], caplog: pytest.LogCaptureFixture
) -> None:
    env, gateway = gw
    row = sent_notification(gw)
    assert gateway.store.delete_queue_entries([row]) == 1
    before = gateway.store.table_counts()
    caplog.set_level(logging.INFO)
    dsn = (SAMPLES / "postfix-user-unknown.eml").read_bytes()
    assert send_bounce(gateway.port, bounce_address(env, row), dsn) == str(replies.BOUNCE_RECORDED)
    assert gateway.store.table_counts() == before
    assert any(row in r.getMessage() and "no such row" in r.getMessage() for r in caplog.records)


# --- refusals --------------------------------------------------------------------------------


@pytest.fixture
def outsider(gw: tuple[GatewayEnv, InProcessGateway]) -> Iterator[RecordingSMTP]:
    with connect(gw[1].port, source=OUTSIDER) as mta:
        yield mta
        assert lines_without_enhanced_code(mta.replies) == []


def forged(address: str) -> str:
    """The same row id with another MAC."""
    local, domain = address.split("@")
    row, mac = local.rsplit(".", 1)
    return f"{row}.{'0' if mac[0] != '0' else '1'}{mac[1:]}@{domain}"


def test_forged_mac_is_refused(
    gw: tuple[GatewayEnv, InProcessGateway], outsider: RecordingSMTP
) -> None:
    env, gateway = gw
    row = sent_notification(gw)
    before = gateway.store.table_counts()
    assert said(outsider.mail("")) == str(replies.SENDER_OK)
    assert said(outsider.rcpt(forged(bounce_address(env, row)))) == str(
        replies.UNKNOWN_BOUNCE_ADDRESS
    )
    assert gateway.store.table_counts() == before
    entry = gateway.store.queue_entry(row)
    assert entry is not None and entry.state == "sent"


@pytest.mark.parametrize(
    "local",
    [f"bounce+{'ab' * 16}.{'0' * 20}", f"bounce+{'ab' * 16}", "bounce+x.y", "bounce+"],
    ids=["unknown-row", "no-mac", "not-a-row-id", "empty"],
)
def test_a_bounce_address_the_gateway_never_issued_is_refused(
    outsider: RecordingSMTP, local: str
) -> None:
    assert said(outsider.mail("")) == str(replies.SENDER_OK)
    assert said(outsider.rcpt(f"{local}@{DOMAIN}")) == str(replies.UNKNOWN_BOUNCE_ADDRESS)


def test_a_bounce_address_with_a_sender_is_refused(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, gateway = gw
    row = sent_notification(gw)
    with connect(gateway.port) as clerk:  # a registered organisation, so MAIL is accepted
        assert said(clerk.mail(CLERK)) == str(replies.SENDER_OK)
        assert said(clerk.rcpt(bounce_address(env, row))) == str(
            replies.BOUNCE_NEEDS_NULL_SENDER
        )


def test_null_sender_to_citizen_addresses_is_refused_alike(outsider: RecordingSMTP) -> None:
    """Whether an account exists, the code is invalid, or it is the submission address: one
    answer, so a null sender cannot probe citizens either."""
    assert said(outsider.mail("")) == str(replies.SENDER_OK)
    answers = {
        said(outsider.rcpt(address))
        for address in (f"{HETU}@{DOMAIN}", f"{HETU_NO_ACCOUNT}@{DOMAIN}",
                        f"{BAD_CHECKSUM}@{DOMAIN}", SUBMISSION, f"postmaster@{DOMAIN}")
    }
    assert answers == {str(replies.NULL_SENDER_BOUNCES_ONLY)}
    assert said(outsider.rcpt(f"bounce+{'ab' * 16}.{'0' * 20}@example.org")) == str(
        replies.RELAY_DENIED
    )


def test_an_unregistered_peer_still_cannot_probe_with_a_sender(outsider: RecordingSMTP) -> None:
    assert said(outsider.mail("someone@example.org")) == str(replies.UNKNOWN_PEER)
    answers = {said(outsider.rcpt(f"{h}@{DOMAIN}")) for h in (HETU, HETU_NO_ACCOUNT)}
    assert answers == {str(replies.NEED_MAIL)}


@pytest.mark.parametrize(
    ("content", "reply"),
    [
        (b"From: x@example.org\r\nSubject: hello\r\n\r\nNot a report.\r\n", replies.NOT_A_DSN),
        (
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
            b"Final-Recipient: rfc822; a@example.org\r\n\r\n--B--\r\n",
            replies.MALFORMED_DSN,
        ),
    ],
    ids=["not-a-dsn", "no-action"],
)
def test_content_that_is_not_a_readable_dsn_is_refused(
    gw: tuple[GatewayEnv, InProcessGateway], outsider: RecordingSMTP, content: bytes,
    reply: replies.Reply,
) -> None:
    env, gateway = gw
    row = sent_notification(gw)
    before = gateway.store.table_counts()
    assert said(outsider.mail("")) == str(replies.SENDER_OK)
    assert said(outsider.rcpt(bounce_address(env, row))) == str(replies.RECIPIENT_OK)
    assert said(outsider.data(content)) == str(reply)
    assert gateway.store.table_counts() == before
    entry = gateway.store.queue_entry(row)
    assert entry is not None and entry.state == "sent"


def test_one_bounce_address_per_transaction(
    gw: tuple[GatewayEnv, InProcessGateway], outsider: RecordingSMTP
) -> None:
    env, _ = gw
    first, second = sent_notification(gw), sent_notification(gw)
    assert said(outsider.mail("")) == str(replies.SENDER_OK)
    assert said(outsider.rcpt(bounce_address(env, first))) == str(replies.RECIPIENT_OK)
    assert said(outsider.rcpt(bounce_address(env, second))) == str(replies.ONE_BOUNCE_ADDRESS)
