"""`asiointitili policy test`: the live evaluation of a mail (the real handler and stages, with
a message made by the real openssl), its trace and answer printed, and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gatewaytest.clerk import inner_message
from gatewaytest.dated_certs import dated_ca
from gatewaytest.env import CLERK, DOMAIN, GatewayEnv, make_env
from gatewaytest.smtp_fixtures import decision, wrap_entity

from gateway.cli import main as cli_main
from smtp_in import replies

HETU = "131052-308T"
TO = f"{HETU}@{DOMAIN}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    env = make_env(tmp_path_factory.mktemp("policy-test"))
    env.add_citizen(HETU)
    return env


@pytest.fixture
def counts(env: GatewayEnv) -> Iterator[None]:
    """Every test here must leave the store's tables as they were."""
    store = env.open_store()
    try:
        before = store.table_counts()
        yield
        assert store.table_counts() == before
    finally:
        store.close()


def _policy_test(
    config: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[str]]:
    code = cli_main(["--config", str(config), "policy", "test", *args])
    return code, capsys.readouterr().out.splitlines()


def test_a_valid_message_would_be_accepted(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str], counts: None
) -> None:
    eml = tmp_path / "decision.eml"
    eml.write_bytes(decision(env, TO))
    code, lines = _policy_test(
        env.config_path, capsys, "--peer", "127.0.0.1", "--from", CLERK, "--to", TO,
        "--message", str(eml),
    )
    assert code == 0, lines
    assert lines == [
        f"MAIL FROM:<{CLERK}> from 127.0.0.1",
        "  networks: peer 127.0.0.1 is in 127.0.0.1/32 of organisation demokunta",
        f"  -> {replies.SENDER_OK}",
        f"RCPT TO:<{TO}>",
        f"  -> {replies.RECIPIENT_OK}",
        lines[5],  # DATA: <size> bytes
        "  stage parse: passed",
        "  stage unwrap: passed",
        "  sender domain: From domain demokunta.test belongs to organisation demokunta",
        "  signer: the signer's certificate names the From address",
        "  stage verify: passed",
        "  stage extract: passed",
        "  stage policy: passed",
        "  recipients: 1 citizen(s)",
        f"decision: accepted: {replies.ACCEPTED} (policy test: nothing was stored)",
    ]
    assert lines[5].startswith("DATA: ") and lines[5].endswith(" bytes")


def test_an_unknown_peer_is_refused_at_mail(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str], counts: None
) -> None:
    code, lines = _policy_test(
        env.config_path, capsys, "--peer", "10.1.2.3", "--from", CLERK, "--to", TO
    )
    assert code == 1
    assert lines == [
        f"MAIL FROM:<{CLERK}> from 10.1.2.3",
        "  networks: peer 10.1.2.3 is in no organisation's networks",
        f"  -> {replies.UNKNOWN_PEER}",
        f"decision: refused at MAIL; the sender gets: {replies.UNKNOWN_PEER}",
    ]


def test_a_signer_who_is_not_the_sender_is_refused_at_data(
    env: GatewayEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str], counts: None
) -> None:
    eml = tmp_path / "mismatch.eml"
    # Signed by the demo clerk, but From names a colleague.
    eml.write_bytes(
        wrap_entity(env, inner_message("Paatos", "Hei.\n"), TO, sender="toinen@demokunta.test")
    )
    code, lines = _policy_test(
        env.config_path, capsys, "--peer", "127.0.0.1", "--from", CLERK, "--to", TO,
        "--message", str(eml),
    )
    assert code == 1
    assert lines[-5:] == [
        "  stage unwrap: passed",
        "  sender domain: From domain demokunta.test belongs to organisation demokunta",
        "  signer: the signer's certificate does not name the From address",
        "  stage verify: refused",
        f"decision: refused at DATA; the sender gets: {replies.SIGNER_MISMATCH}",
    ]


def test_a_citizen_without_an_account_is_refused_at_rcpt(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str], counts: None
) -> None:
    to = f"010101A123N@{DOMAIN}"
    code, lines = _policy_test(
        env.config_path, capsys, "--peer", "127.0.0.1", "--from", CLERK, "--to", to
    )
    assert code == 1
    assert lines[-2:] == [
        f"  -> {replies.NO_ACCOUNT}",
        f"decision: refused at RCPT; the sender gets: {replies.NO_ACCOUNT}",
    ]


def test_an_organisation_whose_trust_anchor_expired_is_refused_with_that_reason(
    env: GatewayEnv,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    counts: None,
) -> None:
    now = datetime.now(UTC)
    expired = dated_ca(tmp_path / "old", "Vanha CA", now - timedelta(days=400), now - timedelta(1))
    config = tmp_path / "expired.toml"
    config.write_text(
        env.config_path.read_text().replace(
            f'trust_anchors = ["{env.data_dir}/demo/ca.pem"]', f'trust_anchors = ["{expired}"]'
        )
    )
    eml = tmp_path / "decision.eml"
    eml.write_bytes(decision(env, TO))
    code, lines = _policy_test(
        config, capsys, "--peer", "127.0.0.1", "--from", CLERK, "--to", TO, "--message", str(eml)
    )
    assert code == 1
    assert lines[-4:] == [
        "  stage parse: passed",
        "  trust anchors: every trust anchor of organisation demokunta has expired",
        "  stage unwrap: refused",
        f"decision: refused at DATA; the sender gets: {replies.ORGANISATION_CA_EXPIRED}",
    ]
    # Loading the keys, as serve does at start, says so loudly.
    assert any(
        r.levelname == "ERROR" and "organisation demokunta is DISABLED for S/MIME" in r.getMessage()
        for r in caplog.records
    )


def test_a_peer_that_is_no_address_is_a_usage_error(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(
        ["--config", str(env.config_path), "policy", "test", "--peer", "kunta-mx",
         "--from", CLERK, "--to", TO]
    )
    assert code == 2
    assert "--peer: 'kunta-mx' is not an IP address" in capsys.readouterr().err
