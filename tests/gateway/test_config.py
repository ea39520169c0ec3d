"""gateway.toml is validated completely at start; errors name the file, the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
[gateway]
domains = ["asiointi.example"]
submission_address = "viesti@asiointi.example"

[[organisations]]
id = "kunta"
name = "Kunta"
sender_domains = ["kunta.example"]
networks = ["192.0.2.0/24"]
trust_anchors = ["ca.pem"]
reply_address = "kirjaamo@kunta.example"
"""


def test_the_sample_configuration_loads(tmp_path: Path) -> None:
    config = load_config(REPO / "gateway.toml")
    assert config.environment == "development"
    assert config.auth_mode == "test"
    assert config.submission_address == "viesti@asiointi.localhost"
    assert config.organisations[0].demo
    assert config.data_dir == REPO / "var"


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL))
    assert config.environment == "production"
    assert config.auth_mode == "oidc"
    assert config.database_url == f"sqlite:///{tmp_path / 'var' / 'gateway.sqlite3'}"
    assert config.organisations[0].trust_anchors == (tmp_path / "ca.pem",)
    assert config.keys.smime[0].certificate == tmp_path / "var" / "keys" / "smime-cert.pem"
    assert not config.organisations[0].replies_allowed


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (lambda t: t + "\n[smtp]\nlisten_port = true\n", "smtp.listen_port", "must be a int"),
        (lambda t: t + "\n[smtp]\nlisten_port = 70000\n", "smtp.listen_port", "70000"),
        (lambda t: t + "\n[smtp]\nlisten_prot = 25\n", "smtp.listen_prot", "not a known setting"),
        (
            lambda t: t.replace('"192.0.2.0/24"', '"192.0.2.1/24"'),
            "organisations[0].networks",
            "192.0.2.1/24",
        ),
        (
            lambda t: t.replace('"kirjaamo@kunta.example"', '"kirjaamo"'),
            "organisations[0].reply_address",
            "not an e-mail address",
        ),
        (
            lambda t: t.replace(
                'submission_address = "viesti@asiointi.example"',
                'submission_address = "viesti@other.example"',
            ),
            "gateway.submission_address",
            "not in gateway.domains",
        ),
        (
            lambda t: t.replace('domains = ["asiointi.example"]\n', ""),
            "gateway.domains",
            "is required",
        ),
        (lambda t: t + '\n[auth]\nmode = "password"\n', "auth.mode", "'password'"),
        (
            lambda t: t + '\n[keys]\nsmime = [{certificate = "x.pem"}]\n',
            "keys.smime[0].key",
            "required",
        ),
        (
            lambda t: t.replace('id = "kunta"', 'id = "kunta"\nid2 = 1'),
            "organisations[0].id2",
            "not a known setting",
        ),
    ],
)
def test_errors_name_file_key_and_value(tmp_path: Path, edit, key: str, words: str) -> None:
    path = _write(tmp_path, edit(MINIMAL))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.file == str(path)
    assert error.value.key == key
    assert words in error.value.reason


def test_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[gateway\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_development_configuration_is_refused_off_loopback(tmp_path: Path, host: str) -> None:
    text = (
        (REPO / "gateway.toml")
        .read_text()
        .replace(
            'listen_host = "127.0.0.1"\nlisten_port = 2525',
            f'listen_host = "{host}"\nlisten_port = 2525',
        )
    )
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, text))
    assert error.value.key == "smtp.listen_host"
    assert "development" in error.value.reason


def test_test_identification_alone_makes_a_configuration_local_only(tmp_path: Path) -> None:
    text = MINIMAL + '\n[auth]\nmode = "test"\n[portal]\nlisten_host = "0.0.0.0"\n'
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, text))
    assert error.value.key == "portal.listen_host"


def test_production_configuration_may_listen_anywhere(tmp_path: Path) -> None:
    text = MINIMAL + '\n[smtp]\nlisten_host = "0.0.0.0"\n'
    assert load_config(_write(tmp_path, text)).smtp.listen_host == "0.0.0.0"


def test_configuration_objects_are_immutable(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL))
    with pytest.raises(AttributeError):
        config.smtp.listen_port = 1  # type: ignore[misc]
