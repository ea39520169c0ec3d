"""[outbound] relay login settings, and what `serve` refuses to start with: errors name the
file, the key and the value, and the relay password never reaches an error text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from gateway.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"

[outbound]
mode = "relay"
relay_host = "127.0.0.1"
{outbound}

[keys]
dkim_key_file = "dkim.pem"

[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
"""

LOGIN = 'relay_username = "asiointi"\nrelay_password_file = "secrets/relay.pw"'


def _write(tmp_path: Path, outbound: str) -> Path:
    """The configuration, and the mailbox keys `serve` reads before the outbound settings."""
    keys = tmp_path / "var" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "master.key").write_text(MasterKeyRing.generate_file_text())
    (keys / "blind-index.key").write_text(BlindIndex.generate_file_text())
    path = tmp_path / "gateway.toml"
    path.write_text(MINIMAL.format(outbound=outbound), encoding="utf-8")
    return path


def _serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_login_by_default() -> None:
    outbound = load_config(REPO / "gateway.toml").outbound
    assert (outbound.relay_username, outbound.relay_password_file) == (None, None)


def test_login_settings_resolve_the_password_file_next_to_the_configuration(
    tmp_path: Path,
) -> None:
    outbound = load_config(_write(tmp_path, LOGIN)).outbound
    assert outbound.relay_username == "asiointi"
    assert outbound.relay_password_file == tmp_path / "secrets" / "relay.pw"
    assert outbound.relay_starttls == "required"


@pytest.mark.parametrize(
    ("outbound", "key", "words"),
    [
        ('relay_username = "asiointi"', "outbound.relay_password_file", "relay_username"),
        ('relay_password_file = "relay.pw"', "outbound.relay_username", "relay_password_file"),
        (
            LOGIN + '\nrelay_starttls = "opportunistic"',
            "outbound.relay_starttls",
            "'opportunistic'",
        ),
        (LOGIN + '\nrelay_starttls = "none"', "outbound.relay_starttls", "'none'"),
        ("relay_username = 1", "outbound.relay_username", "must be a str"),
    ],
)
def test_incomplete_or_clear_text_login_is_refused(
    tmp_path: Path, outbound: str, key: str, words: str
) -> None:
    path = _write(tmp_path, outbound)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert (error.value.file, error.value.key) == (str(path), key)
    assert words in error.value.reason


def test_serve_refuses_an_unreadable_password_file(tmp_path: Path) -> None:
    done = _serve(_write(tmp_path, LOGIN))
    assert done.returncode == 2
    assert str(tmp_path / "gateway.toml") in done.stderr
    assert "outbound.relay_password_file" in done.stderr
    assert str(tmp_path / "secrets" / "relay.pw") in done.stderr


def test_serve_refuses_an_empty_password_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "relay.pw").write_text("\n")
    done = _serve(_write(tmp_path, LOGIN))
    assert done.returncode == 2
    assert "outbound.relay_password_file" in done.stderr and "is empty" in done.stderr


def test_serve_refuses_a_missing_or_weak_dkim_key(tmp_path: Path) -> None:
    config = _write(tmp_path, "")
    missing = _serve(config)
    assert missing.returncode == 2
    assert "keys.dkim_key_file" in missing.stderr and str(tmp_path / "dkim.pem") in missing.stderr

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "dkim.pem").write_bytes(
        weak.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    refused = _serve(config)
    assert refused.returncode == 2
    assert "keys.dkim_key_file" in refused.stderr and "1024 bits" in refused.stderr
