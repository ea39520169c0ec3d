"""The asiointitili command: init is idempotent and private, keys show, citizen add, demo-send."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from gatewaytest.env import DOMAIN, SUBMISSION, GatewayEnv, make_env
from gatewaytest.servers import InProcessGateway


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    return make_env(tmp_path_factory.mktemp("cli"))


def _run(env: GatewayEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(env.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_init_creates_private_key_files_and_is_idempotent(env: GatewayEnv) -> None:
    keys = env.data_dir / "keys"
    for name in (
        "smime-key.pem",
        "master.key",
        "blind-index.key",
        "dkim-key.pem",
        "session.key",
        "smtp-tls-key.pem",
    ):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((env.data_dir / "demo" / "clerk-key.pem").stat().st_mode) == 0o600
    before = {p: p.read_bytes() for p in keys.iterdir() if p.is_file()}
    again = _run(env, "init")
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout
    assert {p: p.read_bytes() for p in keys.iterdir() if p.is_file()} == before


def test_keys_show_smime_prints_the_certificate_clerks_encrypt_to(env: GatewayEnv) -> None:
    shown = _run(env, "keys", "show", "smime")
    assert shown.returncode == 0
    cert = x509.load_pem_x509_certificate(shown.stdout.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [SUBMISSION]
    assert san.get_values_for_type(x509.DNSName) == [DOMAIN]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku


def test_keys_show_dkim_prints_a_dns_record(env: GatewayEnv) -> None:
    shown = _run(env, "keys", "show", "dkim")
    assert shown.returncode == 0
    assert shown.stdout.startswith(f'asiointi1._domainkey.{DOMAIN}. IN TXT "v=DKIM1; k=rsa; p=')


def test_citizen_add_refuses_a_bad_hetu_without_a_traceback(env: GatewayEnv) -> None:
    added = _run(env, "citizen", "add", "--hetu", "131052-308U", "--name", "X")
    assert added.returncode == 2
    assert "--hetu" in added.stderr and "check character" in added.stderr
    assert "Traceback" not in added.stderr and "131052-308U" not in added.stderr


def test_citizen_add_twice_is_a_clear_error(env: GatewayEnv) -> None:
    first = _run(env, "citizen", "add", "--hetu", "150250-911K", "--name", "A", "--email", "a@x.fi")
    assert first.returncode == 0, first.stderr
    assert "150250-****" in first.stdout and "150250-911K" not in first.stdout
    second = _run(env, "citizen", "add", "--hetu", "150250-911K", "--name", "A")
    assert second.returncode == 2 and "exists already" in second.stderr


def test_configuration_error_exits_2_naming_file_and_key(tmp_path: Path, env: GatewayEnv) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(env.config_path.read_text().replace("max_message_size =", "max_mesage_size ="))
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(bad), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{bad}: smtp.max_mesage_size: is not a known setting" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_without_init_names_the_missing_key_file(tmp_path: Path, env: GatewayEnv) -> None:
    fresh = tmp_path / "fresh.toml"
    fresh.write_text(env.config_path.read_text().replace(str(env.data_dir), str(tmp_path / "var")))
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(fresh), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "keys.master_key_file" in done.stderr and "asiointitili init" in done.stderr


def test_demo_send_delivers_and_prints_the_answer(env: GatewayEnv, tmp_path: Path) -> None:
    env.add_citizen("131052-308T")
    attachment = tmp_path / "liite.txt"
    attachment.write_bytes(b"liite\n")
    gateway = InProcessGateway(env).start()
    try:
        sent = _run(env, "demo-send", "--to", "131052-308T", "--attach", str(attachment))
        refused = _run(env, "demo-send", "--to", "010101A123N")
    finally:
        gateway.stop()
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("250 2.0.0")
    assert refused.returncode == 1
    assert refused.stdout.startswith("550 5.1.1") and "paper" in refused.stdout
