"""The organisation keys for who may sign and what its mail may contain: defaults, parsed
values, and each broken value reported by `policy check` with its file, key and reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatewaytest.clerk import openssl
from gatewaytest.env import GatewayEnv, make_env

from crypto.passwords import hash_password
from gateway.cli import main as cli_main
from gateway.config import ConfigError, load_config
from gateway.policy_check import check_policy
from policies.model import ContentPolicy, SignerPolicy

PIN = "AB:" * 31 + "AB"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    return make_env(tmp_path_factory.mktemp("signer-content-config"))


@pytest.fixture(scope="module")
def crl(env: GatewayEnv) -> Path:
    """An empty DER CRL of the demo CA, by `openssl ca -gencrl`."""
    directory = env.root / "crl"
    directory.mkdir()
    (directory / "index.txt").write_text("")
    (directory / "crlnumber").write_text("01\n")
    config = directory / "ca.cnf"
    config.write_text(
        f"[ca]\ndefault_ca = d\n[d]\ndatabase = {directory}/index.txt\n"
        f"crlnumber = {directory}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n"
    )
    demo = env.data_dir / "demo"
    pem = directory / "demo.pem.crl"
    openssl(
        "ca",
        "-batch",
        "-gencrl",
        "-config",
        config,
        "-cert",
        demo / "ca.pem",
        "-keyfile",
        demo / "ca-key.pem",
        "-out",
        pem,
    )
    der: Path = directory / "demo.crl"
    openssl("crl", "-in", pem, "-outform", "DER", "-out", der)
    return der


def _with(env: GatewayEnv, tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(env.config_path.read_text().replace("demo = true\n", f"demo = true\n{lines}"))
    return path


def test_defaults_keep_todays_behaviour(env: GatewayEnv) -> None:
    org = env.config.organisations[0]
    assert org.signers == SignerPolicy()
    assert org.signers.signature_required and org.signers.encryption_required
    assert org.content == ContentPolicy()


def test_every_key_is_read(env: GatewayEnv, crl: Path, tmp_path: Path) -> None:
    path = _with(
        env,
        tmp_path,
        f'crl_files = ["{crl}", "{crl.with_name("demo.pem.crl")}"]\n'
        f'signer_fingerprints = ["{PIN}"]\n'
        'sender_addresses = ["*@Kirjaamo.demokunta.test", "paatos-*@demokunta.test"]\n'
        "max_message_size = 100000\nmax_attachments = 0\n"
        'allowed_attachment_types = ["application/pdf", "Image/*"]\nkeep_html = false\n',
    )
    org = load_config(path).organisations[0]
    assert org.signers.crl_files == (crl, crl.with_name("demo.pem.crl"))
    assert org.signers.fingerprints == ("AB" * 32,)
    assert org.signers.sender_addresses == ("*@kirjaamo.demokunta.test", "paatos-*@demokunta.test")
    assert org.content == ContentPolicy(100000, 0, ("application/pdf", "image/*"), False)


def test_relaxing_is_allowed_over_tls_with_smtp_auth(env: GatewayEnv, tmp_path: Path) -> None:
    path = _with(
        env,
        tmp_path,
        "require_tls = true\nsignature_required = false\nencryption_required = false\n"
        f'smtp_auth = [{{username = "kunta-mx", password_hash = "{hash_password(b"x")}"}}]\n',
    )
    signers = load_config(path).organisations[0].signers
    assert not signers.signature_required and not signers.encryption_required


BROKEN: list[tuple[str, Callable[[Path], str], str, str]] = [
    (
        "crl-missing",
        lambda crl: 'crl_files = ["/nonexistent.crl"]\n',
        "crl_files",
        "/nonexistent.crl is not a readable file",
    ),
    (
        "crl-not-a-crl",
        lambda crl: f'crl_files = ["{crl.parent / "ca.cnf"}"]\n',
        "crl_files",
        "ca.cnf",
    ),
    (
        "pattern-without-at",
        lambda crl: 'sender_addresses = ["kirjaamo.demokunta.test"]\n',
        "sender_addresses",
        "must be an address pattern like '*@kirjaamo.kunta.fi'",
    ),
    (
        "pattern-unbalanced",
        lambda crl: 'sender_addresses = ["[a-z@demokunta.test"]\n',
        "sender_addresses",
        "has an unbalanced [ ]",
    ),
    (
        "signer-fingerprint-short",
        lambda crl: 'signer_fingerprints = ["AB:CD"]\n',
        "signer_fingerprints",
        "must be a SHA-256 fingerprint of 64 hexadecimal digits",
    ),
    (
        "size-above-global",
        lambda crl: "max_message_size = 999999999\n",
        "max_message_size",
        "must be positive and at most [smtp] max_message_size",
    ),
    (
        "negative-attachments",
        lambda crl: "max_attachments = -2\n",
        "max_attachments",
        "must not be negative",
    ),
    (
        "bad-content-type",
        lambda crl: 'allowed_attachment_types = ["pdf"]\n',
        "allowed_attachment_types",
        "must be a content type like 'application/pdf'",
    ),
    (
        "unsigned-without-tls",
        lambda crl: "signature_required = false\n",
        "signature_required",
        "may be false only with require_tls = true and tls_client_fingerprints or smtp_auth",
    ),
    (
        "unencrypted-over-network-only",
        lambda crl: "require_tls = true\nencryption_required = false\n",
        "encryption_required",
        "may be false only with require_tls = true",
    ),
]


@pytest.mark.parametrize(
    ("lines", "key", "reason"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_policy_check_names_each_broken_key(
    env: GatewayEnv,
    crl: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    lines: Callable[[Path], str],
    key: str,
    reason: str,
) -> None:
    path = _with(env, tmp_path, lines(crl))
    with pytest.raises(ConfigError):
        load_config(path)
    code = cli_main(["policy", "check", "--config", str(path)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    errors = [line for line in out if line.startswith("error:")]
    assert len(errors) == 1, out
    assert errors[0].startswith(f"error: {path}: organisations[0].{key}: "), errors
    assert reason in errors[0]


def test_policy_check_passes_a_fresh_crl_of_the_anchor(
    env: GatewayEnv, crl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _with(env, tmp_path, f'crl_files = ["{crl}"]\n')
    assert cli_main(["policy", "check", "--config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: 0 error(s), 0 warning(s)"


def test_policy_check_warns_of_a_crl_no_anchor_signed_and_a_stale_one(
    env: GatewayEnv, tmp_path: Path
) -> None:
    """A CRL by another CA of the same name revokes nobody; one past its next update is stale."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.txt").write_text("")
    config = other / "ca.cnf"
    config.write_text(
        f"[ca]\ndefault_ca = d\n[d]\ndatabase = {other}/index.txt\ndefault_md = sha256\n"
    )
    subject = (
        openssl(
            "x509",
            "-in",
            env.data_dir / "demo" / "ca.pem",
            "-noout",
            "-subject",
            "-nameopt",
            "compat",
        )
        .decode()
        .removeprefix("subject=")
        .strip()
    )
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        other / "key.pem",
        "-out",
        other / "ca.pem",
        "-days",
        "2",
        "-subj",
        subject,
    )
    crl = other / "stale.crl"
    openssl(
        "ca",
        "-batch",
        "-gencrl",
        "-config",
        config,
        "-cert",
        other / "ca.pem",
        "-keyfile",
        other / "key.pem",
        "-crlsec",
        "1",
        "-out",
        crl,
    )
    path = _with(env, tmp_path, f'crl_files = ["{crl}"]\n')
    problems = check_policy(path, now=datetime.now(UTC) + timedelta(hours=1))
    assert [(p.severity, p.key) for p in problems] == [
        ("warning", "organisations[0].crl_files")
    ] * 2, problems
    assert "is not signed by any of organisation demokunta's trust anchors" in problems[0].reason
    assert "publish a fresh CRL" in problems[1].reason
