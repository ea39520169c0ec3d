"""`asiointitili queue`: list, show, hold, release, retry and delete outgoing mail, showing no
content and only masked addresses; every change lands in the citizen's event log."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from gatewaytest.env import GatewayEnv, make_env
from gatewaytest.hetus import make_hetu

from mailbox_store import Delivery, QueueEntry

HETU = make_hetu("131052", "-", 308)


def _run(env: GatewayEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(env.config_path), "queue", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def _entries(env: GatewayEnv) -> list[QueueEntry]:
    store = env.open_store()
    try:
        return store.queue_entries()
    finally:
        store.close()


def test_queue_commands(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    citizen = env.add_citizen(HETU, email="maija.meikalainen@example.fi")
    store = env.open_store()
    try:
        store.store_delivery(Delivery(
            organisation_id="demokunta", message_id="<q1@x>", sender_address="v@demokunta.test",
            subject="Salainen aihe", text="Salainen sisältö", html=None, attachments=(),
            original_mime=b"x", citizen_ids=(citizen,), received_at=datetime.now(UTC),
        ))
    finally:
        store.close()
    (entry,) = _entries(env)

    listed = _run(env, "list")
    assert listed.returncode == 0, listed.stderr
    assert entry.id in listed.stdout and "m***@example.fi" in listed.stdout
    for secret in ("maija.meikalainen", HETU, "Salainen"):
        assert secret not in listed.stdout + listed.stderr
    assert "1 in the queue" in listed.stdout

    assert _run(env, "hold", entry.id).returncode == 0
    assert [e.state for e in _entries(env)] == ["held"]
    assert entry.id in _run(env, "list", "--state", "held").stdout
    assert _run(env, "retry", entry.id).returncode == 2  # held mail is released, not retried
    assert _run(env, "release", entry.id).returncode == 0
    assert [e.state for e in _entries(env)] == ["queued"]
    retried = _run(env, "retry", "--all")
    assert retried.returncode == 0 and "retry: 1 changed" in retried.stdout

    shown = _run(env, "show", entry.id)
    assert shown.returncode == 0 and "notification" in shown.stdout
    missing = _run(env, "show", "0" * 32)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr

    assert _run(env, "delete", entry.id).returncode == 0
    assert _entries(env) == []
    store = env.open_store()
    try:
        kinds = [e.kind for e in store.events(citizen)]
        assert store.verify_events(citizen)
    finally:
        store.close()
    for kind in ("notification.held", "notification.released", "notification.retried",
                 "notification.deleted"):
        assert kind in kinds
