"""Setting up OpenID Connect login: `[auth.oidc]` is validated with errors naming file, key and
value; `init` makes the portal's two keys (0600, never overwritten); `serve` refuses oidc mode
without its table, keys or secret, and otherwise builds the relying party from the settings."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway import material
from gateway.cli import main as cli_main
from gateway.config import ConfigError, load_config
from gateway.serve import relying_party

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"

[portal]
public_url = "https://asiointi.example"

[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
"""

OIDC = """
[auth]
mode = "oidc"

[auth.oidc]
issuer = "https://tunnistus.example.fi"
client_id = "asiointitili"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_defaults_suit_a_finnish_broker(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL + OIDC))
    oidc = config.oidc
    assert oidc is not None
    assert oidc.issuer == "https://tunnistus.example.fi"
    assert oidc.client_auth == "private_key_jwt" and oidc.client_secret_file is None
    assert oidc.scopes == ("openid",)
    assert oidc.acr_values == ("http://ftn.ficora.fi/2017/loa2",)
    assert (oidc.hetu_claim, oidc.name_claim) == ("urn:oid:1.2.246.21", "name")
    assert oidc.userinfo and oidc.request_object and oidc.signing_alg == "RS256"
    keys = tmp_path / "var" / "keys"
    assert config.oidc_keys.signing == keys / "oidc-signing-key.pem"
    assert config.oidc_keys.encryption == keys / "oidc-encryption-key.pem"


def test_every_setting_is_read(tmp_path: Path) -> None:
    text = MINIMAL + OIDC + """
client_auth = "client_secret_post"
client_secret_file = "secrets/oidc"
scopes = ["openid", "profile"]
acr_values = ["http://ftn.ficora.fi/2017/loa3"]
hetu_claim = "personal_identity_code"
name_claim = "full_name"
userinfo = false
request_object = false
signing_alg = "PS256"
http_timeout = 5
signing_key_file = "k/sign.pem"
encryption_key_file = "k/enc.pem"
"""
    config = load_config(_write(tmp_path, text))
    oidc = config.oidc
    assert oidc is not None
    assert oidc.client_auth == "client_secret_post"
    assert oidc.client_secret_file == tmp_path / "secrets" / "oidc"
    assert oidc.scopes == ("openid", "profile")
    assert oidc.acr_values == ("http://ftn.ficora.fi/2017/loa3",)
    assert (oidc.hetu_claim, oidc.name_claim) == ("personal_identity_code", "full_name")
    assert not oidc.userinfo and not oidc.request_object
    assert (oidc.signing_alg, oidc.http_timeout) == ("PS256", 5)
    assert config.oidc_keys.signing == tmp_path / "k" / "sign.pem"
    assert config.oidc_keys.encryption == tmp_path / "k" / "enc.pem"


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (lambda t: re.sub(r"issuer = .*\n", "", t), "issuer", "is required"),
        (lambda t: t.replace("https://tunnistus", "http://tunnistus"), "issuer", "'http://tunnistus"),
        (lambda t: t.replace(".fi\"", '.fi?x=1"'), "issuer", "no query"),
        (lambda t: t.replace('"asiointitili"', '" "'), "client_id", "must not be empty"),
        (lambda t: t + 'client_auth = "none"\n', "client_auth", "'none'"),
        (lambda t: t + 'client_auth = "client_secret_basic"\n', "client_secret_file", "required"),
        (lambda t: t + 'client_secret_file = "s"\n', "client_secret_file", "'s' is unused"),
        (lambda t: t + 'scopes = ["profile"]\n', "scopes", "must include 'openid'"),
        (lambda t: t + "acr_values = []\n", "acr_values", "at least one level"),
        (lambda t: t + 'hetu_claim = ""\n', "hetu_claim", "must not be empty"),
        (lambda t: t + 'signing_alg = "HS256"\n', "signing_alg", "'HS256'"),
        (lambda t: t + "http_timeout = 0\n", "http_timeout", "must be positive"),
        (lambda t: t + "userinfo = 1\n", "userinfo", "must be a bool"),
        (lambda t: t + 'clientid = "x"\n', "clientid", "not a known setting"),
    ],
)
def test_errors_name_file_key_and_value(
    tmp_path: Path, edit: Callable[[str], str], key: str, words: str
) -> None:
    path = _write(tmp_path, edit(MINIMAL + OIDC))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert (error.value.file, error.value.key) == (str(path), f"auth.oidc.{key}")
    assert words in error.value.reason


def test_plain_http_is_allowed_only_to_a_loopback_broker(tmp_path: Path) -> None:
    text = (MINIMAL + OIDC).replace("https://tunnistus.example.fi", "http://127.0.0.1:9000")
    assert load_config(_write(tmp_path, text)).oidc is not None


def test_the_sample_configuration_documents_a_working_oidc_table(tmp_path: Path) -> None:
    sample = (REPO / "gateway.toml").read_text(encoding="utf-8")
    assert "\n#[auth.oidc]\n" in sample
    # Uncommented as the sample says: the lines with no space after "#".
    text = re.sub(r"(?m)^#(?=[\[a-z])", "", sample).replace('mode = "test"', 'mode = "oidc"')
    config = load_config(_write(tmp_path, text))
    assert config.auth_mode == "oidc" and config.oidc is not None
    assert config.oidc.issuer == "https://tunnistus.example.fi"
    assert config.oidc_keys.signing == tmp_path / "var" / "keys" / "oidc-signing-key.pem"


def test_serve_refuses_oidc_mode_without_its_table(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL))
    assert config.auth_mode == "oidc" and config.oidc is None
    with pytest.raises(ConfigError) as error:
        relying_party(config)
    assert error.value.key == "auth.oidc" and "required" in error.value.reason


def test_serve_refuses_missing_keys_and_a_missing_or_empty_secret(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL + OIDC))
    with pytest.raises(ConfigError) as error:
        relying_party(config)
    assert error.value.key == "auth.oidc.signing_key_file"
    assert "run `asiointitili init` first" in error.value.reason

    text = MINIMAL + OIDC + 'client_auth = "client_secret_basic"\nclient_secret_file = "s"\n'
    config = load_config(_write(tmp_path, text))
    for content in (None, b"\n"):
        if content is not None:
            (tmp_path / "s").write_bytes(content)
        with pytest.raises(ConfigError) as error:
            material.oidc_client_secret(config)
        assert error.value.key == "auth.oidc.client_secret_file"
    (tmp_path / "s").write_bytes(b"top secret\n")
    assert material.oidc_client_secret(config) == "top secret"


def test_init_makes_the_keys_once_and_serve_builds_the_relying_party(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + OIDC)
    assert cli_main(["--config", str(path), "init"]) == 0
    config = load_config(path)
    files = (config.oidc_keys.signing, config.oidc_keys.encryption)
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert b"PRIVATE KEY" in file.read_bytes()
    before = [file.read_bytes() for file in files]
    assert cli_main(["--config", str(path), "init"]) == 0  # idempotent: nothing replaced
    assert [file.read_bytes() for file in files] == before

    party = relying_party(config)
    assert party.settings.redirect_uri == "https://asiointi.example/login/callback"
    assert party.settings.client_secret is None
    jwks = party.keys.public_jwks()
    assert [(k["kty"], k["use"]) for k in jwks["keys"]] == [("RSA", "sig"), ("RSA", "enc")]
    assert all(len(k["n"]) >= 512 for k in jwks["keys"])  # 3072-bit moduli
    assert jwks["keys"][0]["kid"] != jwks["keys"][1]["kid"]

    files[1].write_bytes(b"not a key")
    with pytest.raises(ConfigError) as error:
        relying_party(config)
    assert error.value.key == "auth.oidc.encryption_key_file"
    assert "not a usable key file" in error.value.reason
