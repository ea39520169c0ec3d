"""Other people's malformed and odd MIME over real SMTP: clear answers, never a temporary failure.

Each corpus file is sent as it is (not S/MIME: a clear 5xx) and as the signed content of a valid
clerk message (250 or a clear 5xx), once as it is and once without its own From header so that
the clerk's From applies and the content reaches MIME extraction. The listener keeps serving.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from gatewaytest.clerk import crlf
from gatewaytest.corpus import MIME
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import Answer, assert_refused, decision, send, wrap_entity

from mailbox_store import MessageView
from smtp_in.extract import extract

FILES = sorted(p for p in MIME.rglob("*") if p.is_file())
HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
_FROM = re.compile(rb"^(from|sender)\s*:", re.IGNORECASE)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, InProcessGateway]]:
    env = make_env(tmp_path_factory.mktemp("malformed"))
    env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    yield env, gateway
    gateway.stop()


def without_from(raw: bytes) -> bytes:
    """The entity with its From/Sender header fields (and their continuation lines) removed."""
    data = crlf(raw)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return data
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(_FROM.match(line))
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + sep + body


def citizen_id(gateway: InProcessGateway) -> str:
    found = gateway.store.active_citizen_id(HETU)
    assert found is not None
    return found


def assert_clear(answer: Answer, gateway: InProcessGateway, before: dict[str, int]) -> None:
    assert answer.code != 451 and not answer.status.startswith("4."), answer
    if answer.code == 250:
        assert answer.status == "2.0.0"
        assert gateway.store.table_counts()["messages"] == before["messages"] + 1
    else:
        assert answer.code == 550 and re.fullmatch(r"5\.\d\.\d", answer.status), answer
        assert gateway.store.table_counts() == before


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(MIME)) for p in FILES])
def test_corpus_file_as_it_is_is_refused_clearly(
    gw: tuple[GatewayEnv, InProcessGateway], path: Path,
) -> None:
    _, gateway = gw
    before = gateway.store.table_counts()
    answer = send(gateway.port, path.read_bytes(), [RCPT])
    assert_refused(answer, 550, "5.7.1", gateway.store, before)


@pytest.mark.parametrize("strip_from", [False, True], ids=["own-from", "clerk-from"])
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(MIME)) for p in FILES])
def test_corpus_file_signed_and_encrypted_gets_a_clear_answer(
    gw: tuple[GatewayEnv, InProcessGateway], path: Path, strip_from: bool,
) -> None:
    env, gateway = gw
    raw = path.read_bytes()
    entity = without_from(raw) if strip_from else raw
    before = gateway.store.table_counts()
    answer = send(gateway.port, wrap_entity(env, entity, RCPT), [RCPT])
    assert_clear(answer, gateway, before)
    if strip_from and "partial" in path.name:
        assert (answer.code, answer.status) == (550, "5.6.1")


@pytest.mark.parametrize("name", ["partial-rfc2046.0.eml", "partial-rfc2046.1.eml"])
def test_message_partial_fragments_are_refused(
    gw: tuple[GatewayEnv, InProcessGateway], name: str,
) -> None:
    env, gateway = gw
    fragment = without_from((MIME / "mimekit" / name).read_bytes())
    before = gateway.store.table_counts()
    answer = send(gateway.port, wrap_entity(env, fragment, RCPT), [RCPT])
    assert_refused(answer, 550, "5.6.1", gateway.store, before)
    assert "partial" in answer.text
    # A fragment enclosed as an attached message (7bit, as RFC 2046 requires) is no way around.
    answer = send(gateway.port, wrap_entity(env, enclosing(fragment), RCPT), [RCPT])
    assert_refused(answer, 550, "5.6.1", gateway.store, before)
    assert "partial" in answer.text


def enclosing(fragment: bytes, cte: str = "7bit") -> bytes:
    body = fragment if cte == "7bit" else base64.encodebytes(fragment)
    return crlf(
        b'Subject: Liite\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n\n'
        b"--b1\nContent-Type: text/plain\n\nOhessa.\n--b1\nContent-Type: message/rfc822\n"
        b"Content-Transfer-Encoding: " + cte.encode() + b"\n"
        b'Content-Disposition: attachment; filename="osa.eml"\n\n' + body + b"\n--b1--\n"
    )


def test_message_partial_in_base64_message_rfc822_is_refused(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, gateway = gw
    fragment = without_from((MIME / "mimekit" / "partial-rfc2046.0.eml").read_bytes())
    before = gateway.store.table_counts()
    answer = send(gateway.port, wrap_entity(env, enclosing(fragment, "base64"), RCPT), [RCPT])
    assert_refused(answer, 550, "5.6.1", gateway.store, before)


def test_tnef_message_is_stored_as_extract_gives_it(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, gateway = gw
    entity = without_from((MIME / "mimekit" / "tnef-ukr.eml").read_bytes())
    message = wrap_entity(env, entity, RCPT)
    expected = extract(entity, message.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
    assert expected.attachments or expected.text  # the comparison below says something
    citizen = citizen_id(gateway)
    view = deliver_and_read(gateway, citizen, message)
    assert (view.subject, view.text, view.html) == (expected.subject, expected.text,
                                                    expected.html)
    assert view.sender_address == CLERK
    stored = []
    for info in view.attachments:
        file = gateway.store.read_attachment(citizen, view.id, info.id)
        assert file is not None
        stored.append((file.filename, file.content_type, file.data))
    assert stored == [(a.filename, a.content_type, a.data) for a in expected.attachments]


def test_winmail_dat_attachment_is_unpacked(gw: tuple[GatewayEnv, InProcessGateway]) -> None:
    env, gateway = gw
    tnef = (MIME / "mimekit" / "tnef-two-files.tnef").read_bytes()
    message = decision(env, RCPT, subject="Outlookista", body="Liitteet ohessa.\n",
                       attachments=(("winmail.dat", "application/ms-tnef", tnef),))
    citizen = citizen_id(gateway)
    view = deliver_and_read(gateway, citizen, message)
    assert "Liitteet ohessa." in view.text
    names = [a.filename for a in view.attachments]
    assert names == ["AUTHORS", "README"]
    for info in view.attachments:
        file = gateway.store.read_attachment(citizen, view.id, info.id)
        assert file is not None and file.data and file.data != tnef


def test_listener_still_serves_after_all_of_the_above(
    gw: tuple[GatewayEnv, InProcessGateway],
) -> None:
    env, gateway = gw
    before = gateway.store.table_counts()
    answer = send(gateway.port, decision(env, RCPT, subject="Lopuksi"), [RCPT])
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    assert gateway.store.table_counts()["messages"] == before["messages"] + 1


def deliver_and_read(gateway: InProcessGateway, citizen: str, message: bytes) -> MessageView:
    """Send `message` (it must be accepted) and return the one new message the citizen has."""
    known = {e.id for e in gateway.store.inbox(citizen, limit=500)}
    answer = send(gateway.port, message, [RCPT])
    assert (answer.code, answer.status) == (250, "2.0.0"), answer
    new = [e for e in gateway.store.inbox(citizen, limit=500) if e.id not in known]
    assert len(new) == 1
    view = gateway.store.read_message(citizen, new[0].id)
    assert view is not None
    return view
