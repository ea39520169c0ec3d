"""A clerk's openssl-made S/MIME message reaches the citizen through a real `asiointitili serve`.

Both ways of naming the citizen are exercised; the citizen reads exactly what was sent in the
portal, the notification says nothing about the message, and nothing readable is left on disk.
"""

from __future__ import annotations

import base64
import html
import quopri
import smtplib
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from gatewaytest.env import CLERK, DOMAIN, SUBMISSION, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.portal import attachment_links, login, message_ids
from gatewaytest.servers import ServeProcess
from gatewaytest.smtp_fixtures import decision

pytestmark = pytest.mark.e2e

HETU_A = make_hetu("131052", "-", 308)
HETU_B = make_hetu("240399", "A", 917)  # a temporary code: allowed by the development config
HETU_C = make_hetu("010203", "Y", 123)  # a 2023 century sign

SUBJECT = "Päätös rakennusluvasta – MERKKIOTSIKKO7f3a"
BODY = "Hyvä vastaanottaja,\n\nohessa päätös. Åäö € MERKKIRUNKO19cd\n"
ATTACHMENT = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 40 + b"MERKKILIITE55e0\n%%EOF\n"
MARKERS = ["MERKKIOTSIKKO7f3a", "MERKKIRUNKO19cd", "MERKKILIITE55e0", HETU_A, HETU_B, HETU_C]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, ServeProcess]]:
    env = make_env(tmp_path_factory.mktemp("e2e"))
    env.add_citizen(HETU_A, email="a@example.fi", lang="fi")
    env.add_citizen(HETU_B, email="b@example.fi", lang="sv")
    env.add_citizen(HETU_C, email="c@example.fi", lang="en")
    process = ServeProcess(env, env.root / "serve.log").start()
    yield env, process
    process.stop()


def _send(env: GatewayEnv, rcpt: str, message: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", env.config.smtp.listen_port, timeout=60) as client:
        client.ehlo("kunta-mx.test")
        client.starttls()
        client.ehlo("kunta-mx.test")
        assert client.mail(CLERK)[0] == 250
        assert client.rcpt(rcpt)[0] == 250
        return client.data(message)


def _wait_for_outbox(env: GatewayEnv, count: int) -> list[Path]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        files = sorted(env.config.outbound.outbox_dir.glob("*.eml"))
        if len(files) >= count:
            return files
        time.sleep(0.1)
    raise AssertionError(f"expected {count} notifications in the outbox")


def _read_in_portal(env: GatewayEnv, hetu: str) -> tuple[str, list[bytes]]:
    client = login(env.config.portal.public_url, hetu)
    try:
        ids = message_ids(client)
        assert len(ids) == 1
        page = client.get(f"/messages/{ids[0]}")
        page.raise_for_status()
        files = [client.get(link).content for link in attachment_links(page.text)]
    finally:
        client.close()
    return page.text, files


def test_message_to_hetu_address_reaches_the_citizen(
    served: tuple[GatewayEnv, ServeProcess],
) -> None:
    env, _ = served
    message = decision(
        env,
        f"{HETU_A}@{DOMAIN}",
        subject=SUBJECT,
        body=BODY,
        attachments=(("päätös.pdf", "application/pdf", ATTACHMENT),),
    )
    code, text = _send(env, f"{HETU_A.lower()}@{DOMAIN.upper()}", message)
    assert (code, text[:5]) == (250, b"2.0.0")

    notification = message_from_bytes(
        _wait_for_outbox(env, 1)[0].read_bytes(), policy=policy.default
    )
    assert notification["To"] == "a@example.fi"
    assert env.config.portal.public_url in notification.get_body(("plain",)).get_content()

    page, files = _read_in_portal(env, HETU_A)
    assert html.escape(SUBJECT) in page
    for line in BODY.strip().splitlines():
        assert html.escape(line) in page
    assert files == [ATTACHMENT]


def test_submission_address_names_citizens_in_the_body(
    served: tuple[GatewayEnv, ServeProcess],
) -> None:
    env, _ = served
    message = decision(
        env,
        SUBMISSION,
        subject="Kuulutus MERKKIOTSIKKO7f3a",
        body="Yhteinen tiedote. MERKKIRUNKO19cd\n",
        hetu_lines=(HETU_B, HETU_C),
        html="<p>Henkilötunnus: "
        + HETU_B
        + "</p><p>Henkilötunnus: "
        + HETU_C
        + "</p><p>Yhteinen tiedote. MERKKIRUNKO19cd</p>",
    )
    code, _ = _send(env, SUBMISSION, message)
    assert code == 250
    _wait_for_outbox(env, 3)
    for hetu in (HETU_B, HETU_C):
        page, files = _read_in_portal(env, hetu)
        assert "Yhteinen tiedote. MERKKIRUNKO19cd" in page
        assert HETU_B not in page and HETU_C not in page  # recipients never see each other
        assert files == []


def _encodings(marker: str) -> set[bytes]:
    forms = {
        marker.encode("utf-8"),
        marker.encode("utf-16-le"),
        marker.encode("utf-16-be"),
        marker.encode("latin-1", "replace"),
        quopri.encodestring(marker.encode())[:-1],
    }
    raw = marker.encode()
    for shift in range(3):  # base64 of a substring depends on its offset modulo 3
        encoded = base64.b64encode(b"\0" * shift + raw)
        forms.add(encoded[4 if shift else 0 : -4])
    return {form for form in forms if len(form) >= 8}


def test_nothing_readable_at_rest_or_in_logs(served: tuple[GatewayEnv, ServeProcess]) -> None:
    env, _ = served
    files = [p for p in env.data_dir.rglob("*") if p.is_file()] + [env.root / "serve.log"]
    assert any(p.name.endswith(".sqlite3") for p in files)
    for path in files:
        data = path.read_bytes()
        for marker in MARKERS:
            for form in _encodings(marker):
                assert form not in data, f"{marker} found in {path.name}"
