"""A clerk writes, the citizen replies in the portal, the clerk's client opens the reply, and the
clerk's answer lands back in the same thread: through a real `asiointitili serve`, a real
loopback SMTP relay, and the real `openssl` and Mail::DKIM on the clerk's side.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from gatewaytest.clerk import crlf, openssl
from gatewaytest.dkim_check import mail_dkim, txt_record
from gatewaytest.env import CLERK, DOMAIN, SUBMISSION, GatewayEnv, free_port, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.portal import login, message_ids
from gatewaytest.servers import ServeProcess
from gatewaytest.smtp_fixtures import decision, send

from gateway.config import load_config

pytestmark = pytest.mark.e2e

HETU = make_hetu("131052", "-", 308)
NAME = "Maija Meikäläinen"
SUBJECT = "Päätös MERKKI0a1b"
REPLY_TEXT = "Kiitos päätöksestä. Liitteenä lisäselvitys. MERKKI2c3d"
ATTACHMENT = b"%PDF-1.4\n" + bytes(range(256)) * 30 + b"\n%%EOF\n"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class _Sink:
    """A relay on loopback that keeps what it is given."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)  # type: ignore[attr-defined]
        )
        return "250 2.0.0 OK"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayEnv, _Sink]]:
    sink = _Sink()
    relay = Controller(sink, hostname="127.0.0.1", port=free_port())
    relay.start()
    env = make_env(tmp_path_factory.mktemp("reply"))
    # Outgoing mail goes through the loopback relay instead of the development outbox.
    text = env.config_path.read_text().replace(
        'mode = "outbox"',
        f'mode = "relay"\nrelay_host = "127.0.0.1"\nrelay_port = {relay.port}\n'
        'relay_starttls = "none"',
    )
    env.config_path.write_text(text)
    env = GatewayEnv(env.root, env.config_path, load_config(env.config_path))
    env.add_citizen(HETU, name=NAME, email="maija@example.fi")
    process = ServeProcess(env, env.root / "serve.log").start()
    yield env, sink
    process.stop()
    relay.stop()


def _portal(env: GatewayEnv) -> str:
    return f"http://127.0.0.1:{env.config.portal.listen_port}"


def _wait_for(sink: _Sink, predicate: object, timeout: float = 20) -> tuple[str, list[str], bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in sink.received:
            if predicate(item):  # type: ignore[operator]
                return item
        time.sleep(0.1)
    raise AssertionError("the relay received no such mail")


def _clerk_answer(env: GatewayEnv, in_reply_to: str, references: str, body: str) -> bytes:
    """The clerk presses Reply: the answer cites our Message-ID, names no HETU."""
    inner = EmailMessage()
    inner["Subject"] = "Re: Vastaus Asiointitililtä"
    inner.set_content(body)
    entity = crlf(inner.as_bytes(policy=inner.policy.clone(linesep="\r\n")))
    tmp = env.root / "answer"
    tmp.mkdir(exist_ok=True)
    (tmp / "in.eml").write_bytes(entity)
    signed = crlf(openssl("cms", "-sign", "-signer", env.clerk_cert, "-inkey", env.clerk_key,
                          "-md", "sha256", "-in", tmp / "in.eml", "-binary"))
    (tmp / "signed.eml").write_bytes(signed)
    encrypted = crlf(openssl("cms", "-encrypt", "-aes256", "-recip", env.gateway_cert,
                             "-in", tmp / "signed.eml", "-binary"))
    head = (f"From: {CLERK}\r\nTo: {SUBMISSION}\r\nSubject: Re: Vastaus\r\n"
            f"Message-ID: <answer.{time.time_ns()}@demokunta.test>\r\n"
            f"In-Reply-To: {in_reply_to}\r\nReferences: {references}\r\n")
    return head.encode() + encrypted


def test_reply_round_trip(world: tuple[GatewayEnv, _Sink], tmp_path: Path) -> None:
    env, sink = world
    # 1. The clerk's decision reaches the citizen.
    answer = send(
        env.config.smtp.listen_port,
        decision(env, f"{HETU}@{DOMAIN}", subject=SUBJECT, body="Hyvä vastaanottaja.\n",
                 message_id="<decision-1@demokunta.test>"),
        [f"{HETU}@{DOMAIN}"],
    )
    assert answer.code == 250, answer
    citizen = login(_portal(env), HETU)
    try:
        _reply_and_follow(env, sink, citizen, tmp_path)
    finally:
        citizen.close()


def _reply_and_follow(env: GatewayEnv, sink: _Sink, citizen: httpx.Client, tmp_path: Path) -> None:
    [message_id] = message_ids(citizen)
    page = citizen.get(f"/messages/{message_id}")
    assert 'action="/messages/' in page.text and "/reply" in page.text  # the form is offered

    # 2. The citizen replies with an attachment.
    token = _CSRF.findall(page.text)[-1]
    sent = citizen.post(
        f"/messages/{message_id}/reply",
        data={"csrf_token": token, "text": REPLY_TEXT},
        files={"files": ("selvitys.pdf", ATTACHMENT, "application/pdf")},
    )
    assert sent.status_code == 303, sent.text
    envelope_from, rcpts, raw = _wait_for(sink, lambda item: item[1] == [CLERK])
    assert envelope_from.startswith("bounce+")

    # 3. Nothing personal in the clear headers.
    outer_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for secret in (HETU, "Meikäläinen", "Meik", "MERKKI", "selvitys", "Päätös"):
        assert secret not in outer_block
    outer = email.message_from_bytes(raw, policy=email.policy.default)
    assert outer["From"].addresses[0].addr_spec == SUBMISSION
    assert outer["In-Reply-To"] == "<decision-1@demokunta.test>"
    our_message_id = str(outer["Message-ID"])

    # 4. The clerk's own tools open it: decrypt with the clerk's key, verify against our cert.
    (tmp_path / "reply.eml").write_bytes(raw)
    decrypted = openssl("cms", "-decrypt", "-in", tmp_path / "reply.eml",
                        "-recip", env.clerk_cert, "-inkey", env.clerk_key)
    (tmp_path / "signed.eml").write_bytes(decrypted)
    signer_pem = tmp_path / "signer.pem"
    inner = openssl("cms", "-verify", "-in", tmp_path / "signed.eml", "-CAfile", env.gateway_cert,
                    "-signer", signer_pem)
    signer_text = openssl("x509", "-in", signer_pem, "-noout", "-ext", "subjectAltName").decode()
    assert f"email:{SUBMISSION}" in signer_text
    protected = email.message_from_bytes(inner, policy=email.policy.default)
    assert str(protected["Subject"]) == f"Re: {SUBJECT}"
    texts = [p.get_content() for p in protected.walk() if p.get_content_type() == "text/plain"]
    assert any(REPLY_TEXT in t and HETU in t for t in texts)
    [attachment] = [p for p in protected.walk() if p.get_filename() == "selvitys.pdf"]
    assert attachment.get_content() == ATTACHMENT

    # 5. DKIM verifies with an independent verifier and the key from init.
    verify = mail_dkim()
    record = txt_record(env.config.keys.dkim_key_file.read_bytes())
    dns_name = f"{env.config.keys.dkim_selector}._domainkey.{env.config.domain}"
    assert verify(raw, dns_name, record).strip().endswith("overall: pass")

    # 6. The clerk presses Reply; the answer lands in the same thread, with no HETU given.
    references = f"<decision-1@demokunta.test> {our_message_id}"
    answer = send(
        env.config.smtp.listen_port,
        _clerk_answer(env, our_message_id, references, "Kiitos, käsittelyssä. MERKKI4e5f"),
        [SUBMISSION],
    )
    assert answer.code == 250, answer
    ids = message_ids(citizen)
    assert len(ids) == 2  # the decision and the clerk's answer; our reply is in the thread
    latest = citizen.get(f"/messages/{ids[0]}").text
    assert "MERKKI4e5f" in latest and message_id in latest  # threaded with the decision


def test_forged_and_expired_tokens_are_refused(world: tuple[GatewayEnv, _Sink]) -> None:
    env, _ = world
    forged = "<r." + "a" * 58 + f"@{DOMAIN}>"
    answer = send(env.config.smtp.listen_port,
                  _clerk_answer(env, forged, forged, "Väärennetty viittaus."), [SUBMISSION])
    assert (answer.code, answer.status) == (550, "5.7.1")
    assert "did not issue" in answer.text
