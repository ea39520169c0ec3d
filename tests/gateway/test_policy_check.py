"""`asiointitili policy check`: every problem of a file with its file, key and reason, expiry
warnings for certificates made by the real openssl, and the exit code (0 or 1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatewaytest.clerk import openssl
from gatewaytest.dated_certs import dated_ca
from gatewaytest.env import GatewayEnv, make_env
from gatewaytest.openpgp import Gpg, require_gpg

from gateway.cli import main as cli_main
from gateway.policy_check import check_policy

SECOND = """
[[organisations]]
id = "toinen"
name = "Toinen kunta"
sender_domains = ["toinen.test"]
networks = [{networks}]
trust_anchors = ["{anchor}"]
reply_address = "{reply}"
{more}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    return make_env(tmp_path_factory.mktemp("policy-check"))


def _second(
    env: GatewayEnv,
    *,
    networks: str = '"10.9.0.0/16"',
    anchor: Path | str | None = None,
    reply: str = "kirjaamo@toinen.test",
    more: str = "",
) -> str:
    anchor = anchor or env.data_dir / "demo" / "ca.pem"
    return SECOND.format(networks=networks, anchor=anchor, reply=reply, more=more)


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    code = cli_main(["policy", "check", "--config", str(path)])
    return code, capsys.readouterr().out.splitlines()


def test_a_sound_configuration_passes(env: GatewayEnv, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["--config", str(env.config_path), "policy", "check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.strip() == f"{env.config_path}: 0 error(s), 0 warning(s)"


BROKEN: list[tuple[str, Callable[[GatewayEnv, str], str], str, str]] = [
    (
        "unknown-key",
        lambda env, t: t.replace("max_message_size =", "max_mesage_size ="),
        "smtp.max_mesage_size",
        "is not a known setting",
    ),
    (
        "wrong-type",
        lambda env, t: t.replace("crypto_workers = 2", 'crypto_workers = "two"'),
        "smtp.crypto_workers",
        "must be a int, not 'two'",
    ),
    (
        "network-with-host-bits",
        lambda env, t: t.replace('"127.0.0.1/32"', '"127.0.0.1/8"'),
        "organisations[0].networks",
        "'127.0.0.1/8': 127.0.0.1/8 has host bits set",
    ),
    (
        "reply-address-not-an-address",
        lambda env, t: t + _second(env, reply="kirjaamo"),
        "organisations[1].reply_address",
        "is not an e-mail address: 'kirjaamo'",
    ),
    (
        "overlapping-networks",
        lambda env, t: t + _second(env, networks='"127.0.0.0/24"'),
        "organisations[1].networks",
        "127.0.0.0/24 overlaps 127.0.0.1/32 of organisation demokunta (organisations[0]): "
        "list it in shared_networks of both organisations, or remove it",
    ),
    (
        "shared-on-one-side-only",
        lambda env, t: t.replace(
            'networks = ["127.0.0.1/32"]',
            'networks = ["127.0.0.1/32"]\nshared_networks = ["10.20.0.0/16"]',
        )
        + _second(env, networks='"10.20.1.0/24"'),
        "organisations[1].networks",
        "10.20.1.0/24 overlaps 10.20.0.0/16 of organisation demokunta",
    ),
    (
        "unreadable-trust-anchor",
        lambda env, t: t + _second(env, anchor="/nonexistent/ca.pem"),
        "organisations[1].trust_anchors",
        "/nonexistent/ca.pem cannot be read: No such file or directory",
    ),
    (
        "trust-anchor-not-a-certificate",
        lambda env, t: t + _second(env, anchor=env.config_path),
        "organisations[1].trust_anchors",
        "holds no PEM certificate",
    ),
    (
        "unreadable-organisation-certificate",
        lambda env, t: t.replace("demo = true", 'demo = true\ncertificate = "/nonexistent.pem"'),
        "organisations[0].certificate",
        "cannot read /nonexistent.pem",
    ),
    (
        "unreadable-openpgp-key-file",
        lambda env, t: t.replace("demo = true", 'demo = true\npgp_keys = ["/nonexistent.asc"]'),
        "organisations[0].pgp_keys",
        "/nonexistent.asc is not a readable file",
    ),
    (
        "unreadable-master-key",
        lambda env, t: t.replace("[keys]\n", '[keys]\nmaster_key_file = "/nonexistent.key"\n'),
        "keys.master_key_file",
        "cannot read /nonexistent.key",
    ),
    (
        "unreadable-gateway-certificate",
        lambda env, t: t.replace(
            "smime = []",
            'smime = [{certificate = "/nonexistent.pem", key = "/nonexistent-key.pem"}]',
        ),
        "keys.smime[0].certificate",
        "cannot read /nonexistent.pem",
    ),
    (
        "oidc-without-its-table",
        lambda env, t: t.replace('mode = "test"', 'mode = "oidc"'),
        "auth.oidc",
        'is required with auth.mode = "oidc"',
    ),
]


@pytest.mark.parametrize(
    ("edit", "key", "reason"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_each_broken_file_gets_its_own_message(
    env: GatewayEnv,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[GatewayEnv, str], str],
    key: str,
    reason: str,
) -> None:
    text = env.config_path.read_text()
    edited = edit(env, text)
    assert edited != text
    code, lines = _run(capsys, tmp_path, edited)
    assert code == 1
    path = tmp_path / "gateway.toml"
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, lines
    assert errors[0].startswith(f"error: {path}: {key}: ")
    assert reason in errors[0]
    assert lines[-1] == f"{path}: 1 error(s), 0 warning(s)"


def test_every_problem_is_printed_not_only_the_first(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = env.config_path.read_text()
    for _, edit, _, _ in BROKEN[:5] + BROKEN[6:7] + BROKEN[10:11]:
        text = edit(env, text)
    # Three organisations "toinen" were added: each is reported by its place in the file, and
    # an unusable value is set aside so that the rest of its organisation is still checked.
    code, lines = _run(capsys, tmp_path, text)
    assert code == 1
    keys = [line.split(": ")[2] for line in lines if line.startswith("error:")]
    assert keys == [
        "smtp.crypto_workers",
        "smtp.max_mesage_size",
        "organisations[0].networks",
        "organisations[1].reply_address",
        "organisations[2].id",
        "organisations[3].id",
        "organisations[3].networks",
        "organisations[3].trust_anchors",
        "keys.master_key_file",
    ], lines


def test_networks_marked_shared_on_both_sides_may_overlap(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = env.config_path.read_text().replace(
        'networks = ["127.0.0.1/32"]',
        'networks = ["127.0.0.1/32"]\nshared_networks = ["10.20.0.0/16"]',
    ) + _second(env, networks="", more='shared_networks = ["10.20.0.0/16"]')
    code, lines = _run(capsys, tmp_path, text)
    assert code == 0, lines


def _short_lived_ca(directory: Path, days: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / "ca.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory / "key.pem",
            "-out", cert, "-days", str(days), "-subj", "/CN=Lyhyt CA",
            "-addext", "basicConstraints=critical,CA:TRUE")
    return cert


def test_an_organisation_certificate_expiring_soon_is_a_warning(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anchor = _short_lived_ca(tmp_path / "short", days=10)
    code, lines = _run(capsys, tmp_path, env.config_path.read_text() + _second(env, anchor=anchor))
    assert code == 0
    (warning,) = [line for line in lines if line.startswith("warning:")]
    assert f"organisations[1].trust_anchors: {anchor}: certificate CN=Lyhyt CA expires" in warning
    assert "(in 9 days)" in warning or "(in 10 days)" in warning


def test_an_expired_trust_anchor_disables_its_organisation_loudly_but_is_not_fatal(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=400), now - timedelta(days=3)
    anchor = dated_ca(tmp_path / "old", "Vanha CA", start, end)
    code, lines = _run(capsys, tmp_path, env.config_path.read_text() + _second(env, anchor=anchor))
    assert code == 0, lines
    warnings = [line for line in lines if line.startswith("warning:")]
    assert any("certificate CN=Vanha CA expired on" in w for w in warnings), lines
    assert any(
        "organisations[1].trust_anchors: organisation toinen is DISABLED: every trust anchor "
        "has expired, so its S/MIME mail is refused" in w
        for w in warnings
    ), lines


def test_the_gateways_own_certificate_is_fatal_when_expired(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "gw"
    directory.mkdir()
    cert, key = directory / "cert.pem", directory / "key.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "5", "-subj", "/CN=asiointi.test",
            "-addext", "subjectAltName=email:viesti@asiointi.test",
            "-addext", "extendedKeyUsage=emailProtection")
    text = env.config_path.read_text().replace(
        "smime = []", f'smime = [{{certificate = "{cert}", key = "{key}"}}]'
    )
    code, lines = _run(capsys, tmp_path, text)
    assert code == 0, lines
    (warning,) = [line for line in lines if line.startswith("warning:")]
    assert "keys.smime[0].certificate" in warning and "expires on" in warning

    # Ten days on, the same file: expired, and that stops the gateway.
    later = check_policy(tmp_path / "gateway.toml", now=datetime.now(UTC) + timedelta(days=10))
    errors = [p for p in later if p.severity == "error"]
    assert [p.key for p in errors] == ["keys.smime[0].certificate"]
    assert "expired on" in errors[0].reason


def test_a_file_that_is_not_toml_is_one_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _run(capsys, tmp_path, "[gateway\n")
    assert code == 1
    assert lines[0].startswith(f"error: {tmp_path / 'gateway.toml'}: (syntax): ")


@pytest.mark.parametrize(
    ("expire", "faked_time", "words"),
    [
        ("10d", None, "expires on"),
        ("1d", "20200101T000000", "organisation demokunta is DISABLED: its OpenPGP key"),
    ],
    ids=["expiring-soon", "expired"],
)
def test_organisation_openpgp_keys_expiring_or_expired_are_warnings(
    env: GatewayEnv,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    expire: str,
    faked_time: str | None,
    words: str,
) -> None:
    require_gpg()
    clerk = Gpg(tmp_path / "g")
    try:
        fingerprint = clerk.new_key("Virkailija <virkailija@demokunta.test>", expire=expire,
                                    faked_time=faked_time)
        key_file = tmp_path / "kunta.asc"
        key_file.write_bytes(clerk.export(fingerprint))
    finally:
        clerk.stop()
    keys = f'pgp_keys = ["{key_file}"]\npgp_fingerprints = ["{fingerprint}"]'
    text = env.config_path.read_text().replace("demo = true", f"demo = true\n{keys}")
    code, lines = _run(capsys, tmp_path, text)
    assert code == 0, lines
    (warning,) = [line for line in lines if line.startswith("warning:")]
    assert "organisations[0].pgp_keys: " in warning and fingerprint in warning
    assert words in warning


def test_a_client_certificate_ca_expiring_soon_is_a_warning(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = _short_lived_ca(tmp_path / "client", days=10)
    text = env.config_path.read_text().replace(
        "demo = true", f'demo = true\ntls_client_ca = "{ca}"'
    )
    code, lines = _run(capsys, tmp_path, text)
    assert code == 0, lines
    (warning,) = [line for line in lines if line.startswith("warning:")]
    assert f"organisations[0].tls_client_ca: {ca}: certificate CN=Lyhyt CA expires on" in warning
