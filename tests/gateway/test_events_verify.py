"""`asiointitili events verify`: an operator checks a citizen's stored event chain and an
exported log against it, with a real store, the real export and the gateway's real key."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from gatewaytest.env import GatewayEnv, make_env
from gatewaytest.hetus import make_hetu

from crypto.smime_out import detached_signature
from gateway.serve import chain_signer
from gateway.web.event_log import export_message
from mailbox_store import ServiceMessage
from mailbox_store.chain import ChainLink, link_hash


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GatewayEnv:
    return make_env(tmp_path_factory.mktemp("events-verify"))


_numbers = iter(range(300, 400))


def _citizen(env: GatewayEnv, events: int = 3) -> tuple[str, str]:
    """A new citizen (HETU, id) with `events` events in the chain."""
    hetu = make_hetu("131052", "-", next(_numbers))
    citizen_id = env.add_citizen(hetu)
    store = env.open_store()
    try:
        for count in range(events - 1):
            store.record_export(citizen_id, count)
    finally:
        store.close()
    return hetu, citizen_id


def _export(
    env: GatewayEnv, citizen_id: str, path: Path, signer: object = None
) -> dict[str, object]:
    """Export the log as the portal does, into the mailbox; keep its JSON in `path`."""
    made: list[ServiceMessage] = []

    def build(chain: Sequence[ChainLink], now: datetime) -> ServiceMessage:
        message = export_message(
            "fi",
            citizen_id,
            chain,
            now,
            organisation_name=str,
            format_datetime=str,
            signer=signer or chain_signer(env.config),  # type: ignore[arg-type]
        )
        made.append(message)
        return message

    store = env.open_store()
    try:
        store.deliver_event_export(citizen_id, build)
    finally:
        store.close()
    path.write_bytes(made[0].original)
    document: dict[str, object] = json.loads(made[0].original)
    return document


def _verify(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str], hetu: str, *extra: str
) -> tuple[int, str]:
    code = env.cli("events", "verify", "--hetu", hetu, *extra)
    return code, capsys.readouterr().out


def _database(env: GatewayEnv) -> sqlite3.Connection:
    return sqlite3.connect(env.config.database_url.removeprefix("sqlite:///"))


def test_an_intact_chain_is_reported_ok(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hetu, _ = _citizen(env)
    code, out = _verify(env, capsys, hetu)
    assert code == 0, out
    assert "stored chain: 3 events" in out and "result: OK" in out
    assert hetu not in out and hetu[:7] + "****" in out  # masked


def test_a_tampered_event_row_is_detected(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    hetu, citizen_id = _citizen(env)
    with _database(env) as db:
        db.execute(
            "UPDATE events SET detail = ? WHERE citizen_id = ? AND seq = 2",
            ('{"messages":99}', citizen_id),
        )
    code, out = _verify(env, capsys, hetu)
    assert code == 1
    assert "BROKEN at seq 2" in out and "result: FAILED" in out


def test_an_export_is_verified_against_the_stored_chain(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hetu, citizen_id = _citizen(env)
    _export(env, citizen_id, tmp_path / "log.json")
    code, out = _verify(env, capsys, hetu, "--export", str(tmp_path / "log.json"))
    assert code == 0, out
    assert "export chain: 3 events" in out
    assert "export signature: OK" in out
    assert "export matches the stored chain: OK, 1 later events" in out  # events.exported


def test_a_history_rewritten_after_the_export_is_detected(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hetu, citizen_id = _citizen(env, events=4)
    _export(env, citizen_id, tmp_path / "log.json")
    # Someone with database access changes event 2 and re-hashes everything after it.
    with _database(env) as db:
        rows = db.execute(
            "SELECT id, seq, kind, at, detail FROM events WHERE citizen_id = ? ORDER BY seq",
            (citizen_id,),
        ).fetchall()
        prev = db.execute(
            "SELECT hash FROM events WHERE citizen_id = ? AND seq = 1", (citizen_id,)
        ).fetchone()[0]
        for event_id, seq, kind, at, detail in rows[1:]:
            if seq == 2:
                detail = '{"messages":42}'
            moment = datetime.fromisoformat(at)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            new = link_hash(prev, id=event_id, citizen_id=citizen_id, seq=seq, kind=kind,
                            at=moment, detail=detail)
            db.execute(
                "UPDATE events SET detail = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (detail, prev, new, event_id),
            )
            prev = new
    alone, out = _verify(env, capsys, hetu)
    assert alone == 0, out  # the rewritten chain holds together on its own
    code, out = _verify(env, capsys, hetu, "--export", str(tmp_path / "log.json"))
    assert code == 1
    assert "REWRITTEN HISTORY" in out and "at seq 2" in out


def _stranger_signer() -> object:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not the gateway")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return partial(detached_signature, certificate=cert, key=key)


def test_a_forged_export_signature_is_detected(
    env: GatewayEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hetu, citizen_id = _citizen(env)
    path = tmp_path / "log.json"
    # Signed by someone else's key.
    _export(env, citizen_id, path, signer=_stranger_signer())
    code, out = _verify(env, capsys, hetu, "--export", str(path))
    assert code == 1 and "export signature: INVALID" in out

    # The gateway's signature, but over a statement altered to name another head.
    document = _export(env, citizen_id, path)
    head = document["head"]
    assert isinstance(head, dict)
    head["statement"] = head["statement"].replace("seq: 4", "seq: 3")
    path.write_text(json.dumps(document))
    code, out = _verify(env, capsys, hetu, "--export", str(path))
    assert code == 1 and "does not name this head" in out

    # A garbled signature.
    document = _export(env, citizen_id, path)
    head = document["head"]
    assert isinstance(head, dict)
    raw = bytearray(base64.b64decode(head["signature"]))
    raw[-10] ^= 0xFF
    head["signature"] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(document))
    code, out = _verify(env, capsys, hetu, "--export", str(path))
    assert code == 1 and "export signature: INVALID" in out
