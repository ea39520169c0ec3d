"""The gateway's OpenPGP keyring: made by init (private, idempotent), shown by `keys show pgp`,
and the organisations' OpenPGP settings validated with file, key and value named."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from gatewaytest.env import SUBMISSION, GatewayEnv, make_env
from gatewaytest.openpgp import Gpg, require_gpg

from crypto import pgp_keys
from gateway import material
from gateway.cli import main as cli_main
from gateway.config import ConfigError, load_config


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayEnv]:
    require_gpg()
    env = make_env(tmp_path_factory.mktemp("pgpinit"))
    yield env
    pgp_keys.stop_agent(env.config.keys.gnupg_home)  # listing secret keys starts one


def test_init_makes_a_private_keyring_with_one_key_for_the_submission_address(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = env.config.keys.gnupg_home
    assert home == env.data_dir / "keys" / "gnupg"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    (key,) = pgp_keys.secret_fingerprints(home)
    assert env.cli("init") == 0
    assert pgp_keys.secret_fingerprints(home) == (key,)
    capsys.readouterr()
    assert env.cli("keys", "show", "pgp") == 0
    shown = capsys.readouterr().out
    assert shown.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert "PRIVATE" not in shown
    listing = Gpg(tmp_path / "reader").run("--show-keys", "--with-colons",
                                           stdin=shown.encode()).decode()
    assert f"fpr:::::::::{key}:" in listing
    assert f"<{SUBMISSION}>" in listing
    assert ":ed25519:" in listing and ":cv25519:" in listing


def test_a_configured_keyring_that_already_holds_a_key_is_kept(tmp_path: Path) -> None:
    require_gpg()
    home = Gpg(tmp_path / "own")
    fingerprint = home.new_key("Oma <viesti@asiointi.test>")
    home.stop()
    env = make_env(tmp_path / "gw", keys_toml=f'gnupg_home = "{home.home}"')
    assert env.config.keys.gnupg_home == home.home
    assert pgp_keys.secret_fingerprints(home.home) == (fingerprint,)
    home.stop()


def test_init_refuses_a_keyring_path_too_long_for_gpg_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_gpg()
    config = tmp_path / "gateway.toml"
    home = tmp_path / ("x" * 120)
    config.write_text(MINIMAL + f'\n[keys]\ngnupg_home = "{home}"\n')
    assert cli_main(["--config", str(config), "init"]) == 2
    error = capsys.readouterr().err
    assert "keys.gnupg_home" in error and "too long" in error


MINIMAL = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"
data_dir = "var"
"""

ORG = """
[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
reply_address = "kirjaamo@kunta.example"
"""

FINGERPRINT = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"


def _load(tmp_path: Path, org_lines: str) -> object:
    (tmp_path / "kunta.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    path = tmp_path / "gateway.toml"
    path.write_text(MINIMAL + ORG + org_lines, encoding="utf-8")
    return load_config(path)


def test_openpgp_organisation_settings_are_read(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        'pgp_keys = ["kunta.asc"]\n'
        'pgp_fingerprints = ["eb85 bb5f a33a 75e1 5e94  4e63 f231 550c 4f47 e38e"]\n'
        f'pgp_reply_key = "{FINGERPRINT}"\n',
    )
    org = config.organisations[0]  # type: ignore[attr-defined]
    assert org.pgp.key_files == (tmp_path / "kunta.asc",)
    assert org.pgp.fingerprints == (FINGERPRINT,)
    assert org.pgp.reply_key == FINGERPRINT
    assert org.trust_anchors == ()  # an OpenPGP organisation needs no S/MIME anchors


@pytest.mark.parametrize(
    ("lines", "key", "words"),
    [
        ('pgp_keys = ["kunta.asc"]\npgp_fingerprints = ["F231550C4F47E38E"]\n',
         "organisations[0].pgp_fingerprints", "'F231550C4F47E38E': must be a full fingerprint"),
        ('pgp_keys = ["puuttuu.asc"]\n', "organisations[0].pgp_keys", "'puuttuu.asc'"),
        (f'pgp_keys = ["kunta.asc"]\npgp_reply_key = "{FINGERPRINT[:-1]}"\n',
         "organisations[0].pgp_reply_key", "40 hexadecimal digits"),
        (f'pgp_fingerprints = ["{FINGERPRINT}"]\n', "organisations[0].pgp_keys",
         "must name the files"),
        ("", "organisations[0].trust_anchors", "is required"),
    ],
)
def test_bad_openpgp_settings_name_file_key_and_value(
    tmp_path: Path, lines: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, lines)
    assert caught.value.key == key
    assert words in caught.value.reason
    assert caught.value.file == str(tmp_path / "gateway.toml")


def test_an_organisation_key_file_holding_a_secret_key_is_refused(tmp_path: Path) -> None:
    require_gpg()
    clerk = Gpg(tmp_path / "clerk")
    fingerprint = clerk.new_key("Virkailija <virkailija@demokunta.test>")
    secret = tmp_path / "secret.asc"
    secret.write_bytes(clerk.export_secret(fingerprint))
    clerk.stop()
    env = make_env(tmp_path / "gw",
                   org_toml=f'pgp_keys = ["{secret}"]\npgp_fingerprints = ["{fingerprint}"]')
    home = env.config.keys.gnupg_home
    try:
        with pytest.raises(ConfigError) as caught:
            material.pgp_context(env.config)
        assert caught.value.key == "organisations[0].pgp_keys"
        assert "secret key" in caught.value.reason
        assert fingerprint not in pgp_keys.secret_fingerprints(home)
    finally:
        pgp_keys.stop_agent(home)
