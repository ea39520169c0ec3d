"""gateway.toml keys for how organisations' mail servers authenticate, and `hash-password`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import trustme

from crypto.passwords import hash_password, verify_password
from gateway.cli import main
from gateway.config import ConfigError, load_config

HASH = hash_password(b"salasana")

BASE = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"

[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
"""


def _load(tmp_path: Path, org_lines: str, extra: str = "") -> object:
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "client-ca.pem"))
    path = tmp_path / "gateway.toml"
    path.write_text(BASE + org_lines + extra, encoding="utf-8")
    return load_config(path)


def test_the_keys_load(tmp_path: Path) -> None:
    fingerprint = ":".join(["ab"] * 32)  # as `openssl x509 -fingerprint -sha256` prints it
    config = _load(
        tmp_path,
        f"""tls_client_ca = "client-ca.pem"
tls_client_fingerprints = ["{fingerprint}"]
smtp_auth = [{{username = "kunta-mx", password_hash = "{HASH}"}}]
require_tls = true
""",
    )
    (org,) = config.organisations  # type: ignore[attr-defined]
    auth = org.server_auth
    assert org.networks == ()  # a certificate or a login identifies it without any network
    assert auth.tls_client_ca == tmp_path / "client-ca.pem"
    assert auth.tls_client_fingerprints == ("AB" * 32,)
    assert [(login.username, login.password_hash) for login in auth.logins] == [("kunta-mx", HASH)]
    assert auth.require_tls


SECOND = """
[[organisations]]
id = "toinen"
name = "Toinen"
sender_domains = ["toinen.example"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@toinen.example"
"""


@pytest.mark.parametrize(
    ("org_lines", "extra", "key", "words"),
    [
        ("", "", "organisations[0].networks", "needs networks, shared_networks"),
        ('smtp_auth = [{username = "mx", password_hash = "salasana"}]\n', "",
         "organisations[0].smtp_auth[0].password_hash", "is not a password hash"),
        ('smtp_auth = [{username = "mx", password = "salasana"}]\n', "",
         "organisations[0].smtp_auth[0].password_hash", "is required"),
        ('smtp_auth = ["mx"]\n', "", "organisations[0].smtp_auth[0]", "must be a table"),
        (f'smtp_auth = [{{username = "mx", password_hash = "{HASH}"}}]\n',
         SECOND + f'smtp_auth = [{{username = "mx", password_hash = "{HASH}"}}]\n',
         "organisations[1].smtp_auth[0].username", "'mx' is declared twice"),
        ('networks = ["192.0.2.0/24"]\ntls_client_fingerprints = ["' + "AB" * 32 + '"]\n', "",
         "organisations[0].tls_client_ca", "is required with tls_client_fingerprints"),
        ('tls_client_ca = "client-ca.pem"\ntls_client_fingerprints = ["AB:CD"]\n', "",
         "organisations[0].tls_client_fingerprints", "64 hexadecimal digits"),
        ('tls_client_ca = "missing.pem"\n', "", "organisations[0].tls_client_ca",
         "is not a readable file"),
        ('tls_client_ca = "gateway.toml"\n', "", "organisations[0].tls_client_ca",
         "holds no PEM certificate"),
        ('networks = ["192.0.2.0/24"]\nrequire_tls = "yes"\n', "",
         "organisations[0].require_tls", "must be a bool"),
    ],
    ids=["no-way-to-authenticate", "plain-password", "password-key", "not-a-table",
         "duplicate-user", "pin-without-ca", "short-fingerprint", "missing-ca", "not-a-ca",
         "require-tls-type"],
)
def test_errors_name_the_key(
    tmp_path: Path, org_lines: str, extra: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, org_lines, extra)
    assert caught.value.key == key
    assert words in caught.value.reason


def test_hash_password_reads_stdin_and_prints_a_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("pitka salasana\n"))
    assert main(["--config", "/nonexistent.toml", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password(b"pitka salasana", printed)
    assert "pitka" not in printed


def test_hash_password_refuses_an_empty_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["hash-password"]) == 2
    assert "empty" in capsys.readouterr().err
