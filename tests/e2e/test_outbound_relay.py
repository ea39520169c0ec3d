"""A real `asiointitili serve` in relay mode: the notification for an accepted clerk message
goes to the relay over verified STARTTLS with the configured login, DKIM-signed with the
gateway's key (checked by Perl's Mail::DKIM against the record `keys show dkim` publishes),
and with the queue row's VERP return path as envelope sender.

The relay is an aiosmtpd server on loopback with a certificate from a test CA, which the serve
process trusts through SSL_CERT_FILE (OpenSSL's default trust store lookup)."""

from __future__ import annotations

import ssl
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from gatewaytest.dkim_check import mail_dkim, txt_record
from gatewaytest.env import DOMAIN, GatewayEnv, free_port, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import ServeProcess
from gatewaytest.smtp_fixtures import decision, send

from gateway import material
from gateway.config import load_config
from smtp_out.verp import parse_return_path

pytestmark = pytest.mark.e2e

HETU = make_hetu("150675", "-", 412)
PASSWORD = "relay secret with spaces "


class Relay:
    """Accepts mail after STARTTLS and a login, and keeps what it got."""

    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bytes]] = []
        self.received: list[tuple[str, list[str], bytes, bool]] = []
        self.ehlo_names: set[str] = set()

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.ehlo_names.add(session.host_name)
        self.received.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                session.ssl is not None,
            )
        )
        return "250 2.0.0 OK"


def relay_env(root: Path, relay_port: int) -> GatewayEnv:
    env = make_env(root)
    password_file = root / "relay.pw"
    password_file.write_text(PASSWORD + "\n")
    text = env.config_path.read_text()
    assert 'mode = "outbox"' in text
    env.config_path.write_text(
        text.replace(
            'mode = "outbox"',
            'mode = "relay"\n'
            'relay_host = "127.0.0.1"\n'
            f"relay_port = {relay_port}\n"
            'relay_starttls = "required"\n'
            'relay_username = "asiointi"\n'
            f'relay_password_file = "{password_file}"',
            1,
        )
    )
    return GatewayEnv(env.root, env.config_path, load_config(env.config_path))


def test_notification_goes_through_the_relay_signed_and_with_its_return_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verify = mail_dkim()
    ca = trustme.CA()
    ca_file = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # inherited by the serve process
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)

    relay = Relay()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=relay.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        env = relay_env(tmp_path, controller.port)
        env.add_citizen(HETU, email="kansalainen@example.fi", lang="fi")
        server = ServeProcess(env, tmp_path / "serve.log").start()
        try:
            rcpt = f"{HETU}@{DOMAIN}"
            answer = send(env.config.smtp.listen_port, decision(env, rcpt), [rcpt])
            assert answer.code == 250, answer
            deadline = time.monotonic() + 30
            while not relay.received and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            server.stop()
    finally:
        controller.stop()

    assert relay.logins == [(b"asiointi", PASSWORD.encode())]
    assert relay.ehlo_names == {env.config.smtp.hostname}
    [(envelope_from, recipients, data, over_tls)] = relay.received
    assert over_tls
    assert recipients == ["kansalainen@example.fi"]
    notification = message_from_bytes(data, policy=policy.default)
    assert notification["From"] == f"noreply@{DOMAIN}"

    key_pem = env.config.keys.dkim_key_file.read_bytes()
    dns_name = f"{env.config.keys.dkim_selector}._domainkey.{DOMAIN}"
    assert verify(data, dns_name, txt_record(key_pem)).splitlines()[-1] == "overall: pass"

    index = material.blind_index(env.config)
    local, _, domain = envelope_from.rpartition("@")
    assert domain == DOMAIN
    queue_id = parse_return_path(local, mac=lambda v: index(v, "bounce"))
    store = env.open_store()
    try:
        entry = store.queue_entry(queue_id or "")
    finally:
        store.close()
    assert entry is not None and entry.state == "sent"
