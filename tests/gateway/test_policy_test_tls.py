"""`asiointitili policy test --tls-cert / --auth`: the connection as after STARTTLS, the client
certificate (made by `openssl`) through the listener's STARTTLS hook and the password through its
AUTH check, with the connection decision's trace printed.

Peers: 10.1.2.3 is nobody's network, 10.9.9.9 tiukkakunta's (require_tls).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatewaytest.client_certs import client_ca, client_cert, sha256_fingerprint
from gatewaytest.dated_certs import dated_ca
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env

from crypto.passwords import hash_password
from gateway.cli import main as cli_main
from smtp_in import replies

HETU = "131052-308T"
TO = f"{HETU}@{DOMAIN}"
NOBODY, STRICT = "10.1.2.3", "10.9.9.9"
USER, PASSWORD = "demokunta-mx", "oikea hevonen patteri niitti"
STRICT_USER, STRICT_PASSWORD = "tiukkakunta-mx", "toinen salasana"
STARTTLS_LINE = "STARTTLS: assumed (--tls-cert and --auth need it)"


@dataclass(frozen=True)
class World:
    env: GatewayEnv
    own: Path  # demokunta's mail server
    neighbour: Path  # naapurikunta's
    pinned: Path  # pinnikunta's, pinned
    unpinned: Path  # issued by pinnikunta's CA, not pinned


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    certs = tmp_path_factory.mktemp("client-certs")
    ca_own, ca_neighbour, ca_pin = (
        client_ca(certs / n, n) for n in ("demokunta", "naapurikunta", "pinnikunta")
    )
    own = client_cert(certs / "demokunta", ca_own, "mx.demokunta.test").cert
    neighbour = client_cert(certs / "naapurikunta", ca_neighbour, "mx.naapurikunta.test").cert
    pinned = client_cert(certs / "pinnikunta", ca_pin, "mx1.pinnikunta.test").cert
    unpinned = client_cert(certs / "pinnikunta", ca_pin, "mx2.pinnikunta.test").cert
    root = tmp_path_factory.mktemp("policy-test-tls")
    anchor = f"{root}/var/demo/ca.pem"  # init makes it; any readable anchor will do here
    strict_hash = hash_password(STRICT_PASSWORD.encode())
    env = make_env(
        root,
        org_toml=f"""
tls_client_ca = "{ca_own[0]}"
smtp_auth = [{{username = "{USER}", password_hash = "{hash_password(PASSWORD.encode())}"}}]
""",
        extra_toml=f"""
[[organisations]]
id = "naapurikunta"
name = "Naapurikunta"
sender_domains = ["naapurikunta.test"]
trust_anchors = ["{anchor}"]
reply_address = "kirjaamo@naapurikunta.test"
tls_client_ca = "{ca_neighbour[0]}"

[[organisations]]
id = "pinnikunta"
name = "Pinnikunta"
sender_domains = ["pinnikunta.test"]
trust_anchors = ["{anchor}"]
reply_address = "kirjaamo@pinnikunta.test"
tls_client_ca = "{ca_pin[0]}"
tls_client_fingerprints = ["{sha256_fingerprint(pinned)}"]

[[organisations]]
id = "tiukkakunta"
name = "Tiukkakunta"
sender_domains = ["tiukkakunta.test"]
networks = ["{STRICT}/32"]
trust_anchors = ["{anchor}"]
reply_address = "kirjaamo@tiukkakunta.test"
require_tls = true
smtp_auth = [{{username = "{STRICT_USER}", password_hash = "{strict_hash}"}}]
""",
    )
    env.add_citizen(HETU)
    return World(env, own, neighbour, pinned, unpinned)


def _policy_test(
    world: World,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    sender: str = CLERK,
    peer: str = NOBODY,
) -> tuple[int, list[str]]:
    code = cli_main(
        ["--config", str(world.env.config_path), "policy", "test", "--peer", peer,
         "--from", sender, "--to", TO, *args]
    )
    return code, capsys.readouterr().out.splitlines()


def _fingerprint(cert: Path) -> str:
    return sha256_fingerprint(cert).replace(":", "")


def test_a_certificate_of_the_organisation_authenticates_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _policy_test(world, capsys, "--tls-cert", str(world.own))
    fingerprint = _fingerprint(world.own)
    assert code == 0, lines
    assert lines == [
        f"{STARTTLS_LINE}, client certificate {fingerprint}",
        f"MAIL FROM:<{CLERK}> from {NOBODY}",
        f"  client certificate: {fingerprint} is issued by the tls_client_ca of demokunta",
        "  client certificate: authenticates organisation demokunta (issuer)",
        f"  -> {replies.SENDER_OK}",
        f"RCPT TO:<{TO}>",
        f"  -> {replies.RECIPIENT_OK}",
        lines[7],  # DATA: not evaluated
        f"decision: accepted: {replies.RECIPIENT_OK} (policy test: nothing was stored)",
    ]


def test_another_organisations_certificate_does_not_authenticate_this_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Accepted at MAIL, but for naapurikunta: a demokunta clerk's mail is then refused at DATA
    # (its signature is not one naapurikunta's anchors vouch for), as the live listener does.
    code, lines = _policy_test(world, capsys, "--tls-cert", str(world.neighbour))
    fingerprint = _fingerprint(world.neighbour)
    assert lines[2:4] == [
        f"  client certificate: {fingerprint} is issued by the tls_client_ca of naapurikunta",
        "  client certificate: authenticates organisation naapurikunta (issuer)",
    ]
    assert not any("organisation demokunta" in line for line in lines)
    assert code == 0  # without --message only MAIL and RCPT are evaluated


def test_a_pin_mismatch_is_refused_and_the_pinned_certificate_passes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    sender = "virkailija@pinnikunta.test"
    code, lines = _policy_test(world, capsys, "--tls-cert", str(world.unpinned), sender=sender)
    fingerprint = _fingerprint(world.unpinned)
    assert code == 1
    assert lines[-3:] == [
        f"  client certificate: {fingerprint} is not in tls_client_fingerprints of pinnikunta",
        f"  -> {replies.CLIENT_CERT_NOT_PINNED}",
        f"decision: refused at MAIL; the sender gets: {replies.CLIENT_CERT_NOT_PINNED}",
    ]
    code, lines = _policy_test(world, capsys, "--tls-cert", str(world.pinned), sender=sender)
    assert code == 0, lines
    assert "  client certificate: authenticates organisation pinnikunta (pinned fingerprint)" in (
        lines
    )


def test_the_right_password_authenticates(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, lines = _policy_test(world, capsys, "--auth", USER)
    assert code == 0, lines
    assert lines[:6] == [
        f"{STARTTLS_LINE}, no client certificate",
        f"AUTH as {USER}",
        f"  SMTP AUTH: user {USER} authenticates organisation demokunta",
        f"  -> {replies.AUTH_OK}",
        f"MAIL FROM:<{CLERK}> from {NOBODY}",
        f"  SMTP AUTH: user {USER} authenticates organisation demokunta",
    ]
    assert PASSWORD not in "\n".join(lines)


def test_a_wrong_password_is_refused_at_auth(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("vaara\n"))
    code, lines = _policy_test(world, capsys, "--auth", USER)
    assert code == 1
    assert lines == [
        f"{STARTTLS_LINE}, no client certificate",
        f"AUTH as {USER}",
        "  SMTP AUTH: credentials invalid",
        f"  -> {replies.AUTH_FAILED}",
        f"decision: refused at AUTH; the sender gets: {replies.AUTH_FAILED}",
    ]
    assert "vaara" not in "\n".join(lines)


def test_require_tls_without_tls_cert_or_auth_is_refused(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = "virkailija@tiukkakunta.test"
    code, lines = _policy_test(world, capsys, sender=sender, peer=STRICT)
    assert code == 1
    assert lines == [
        f"MAIL FROM:<{sender}> from {STRICT}",
        f"  networks: peer {STRICT} is in {STRICT}/32 of organisation tiukkakunta",
        "  require_tls: organisation tiukkakunta sends only over STARTTLS",
        f"  -> {replies.TLS_REQUIRED}",
        f"decision: refused at MAIL; the sender gets: {replies.TLS_REQUIRED}",
    ]
    # After STARTTLS (here with AUTH) the same peer may send.
    monkeypatch.setattr("sys.stdin", io.StringIO(STRICT_PASSWORD + "\n"))
    code, lines = _policy_test(world, capsys, "--auth", STRICT_USER, sender=sender, peer=STRICT)
    assert code == 0, lines


def test_an_empty_password_or_unreadable_certificate_is_a_usage_error(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    def errors(*args: str) -> str:
        command = ["--config", str(world.env.config_path), "policy", "test", "--peer", NOBODY,
                   "--from", CLERK, "--to", TO, *args]
        assert cli_main(command) == 2
        return capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert "--auth: the password (read from stdin) is empty" in errors("--auth", USER)
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    assert f"--tls-cert: {not_pem} holds no PEM certificate" in errors("--tls-cert", str(not_pem))


def test_an_expired_certificate_fails_the_handshake(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    expired = dated_ca(tmp_path, "mx.vanha.test", now - timedelta(days=400), now - timedelta(1))
    code, lines = _policy_test(world, capsys, "--tls-cert", str(expired))
    assert code == 1
    assert lines[1:] == [
        "  the client certificate has expired",
        "decision: refused at STARTTLS; the sender gets: a failed TLS handshake "
        "(the client certificate has expired)",
    ]
