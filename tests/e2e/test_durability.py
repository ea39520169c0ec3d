"""250 means stored for good: kill -9 the real `serve` mid-stream, resend what was not
acknowledged, and every message is stored exactly once.
"""

from __future__ import annotations

import smtplib
import threading
import time
from email.utils import make_msgid
from pathlib import Path

import pytest
from gatewaytest.env import CLERK, DOMAIN, ORG_DOMAIN, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import ServeProcess
from gatewaytest.smtp_fixtures import decision

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
COUNT = 40
KILL_AFTER = 15


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (the crypto pool workers of `serve`), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    """The pids still alive after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _running(pid)]
    return alive


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def deliver(port: int, message: bytes) -> bool:
    """True only when the server answered DATA with 250."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo("kunta-mx.test")
            if client.mail(CLERK)[0] != 250 or client.rcpt(RCPT)[0] != 250:
                return False
            return client.data(message)[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def test_kill_9_loses_no_acknowledged_message_and_duplicates_none(tmp_path_factory:
                                                                   pytest.TempPathFactory) -> None:
    env = make_env(tmp_path_factory.mktemp("durability"))
    env.add_citizen(HETU)
    messages = [decision(env, RCPT, subject=f"Viesti {i}",
                         message_id=make_msgid(idstring=f"m{i}", domain=ORG_DOMAIN))
                for i in range(COUNT)]
    port = env.config.smtp.listen_port
    acked: list[int] = []
    lock = threading.Lock()

    def stream() -> None:
        for i, message in enumerate(messages):
            if deliver(port, message):
                with lock:
                    acked.append(i)

    server = ServeProcess(env, env.root / "serve.log").start()
    client = threading.Thread(target=stream, daemon=True)
    client.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= KILL_AFTER:
                    break
            time.sleep(0.005)
        else:
            raise AssertionError("the server did not acknowledge enough messages")
        assert server.process is not None
        workers = descendants(server.process.pid)
        server.kill()
        # The stage workers hold the gateway's keys: they must end with it, by themselves.
        assert wait_gone(workers) == []
        client.join(timeout=120)
        assert not client.is_alive()
        with lock:
            seen = sorted(acked)
        assert KILL_AFTER <= len(seen) < COUNT, "the kill came too late to test anything"

        # Every acknowledged message survived the kill.
        store = env.open_store()
        try:
            citizen = store.active_citizen_id(HETU)
            assert citizen is not None
            stored = {e.subject for e in store.inbox(citizen, limit=COUNT + 10)}
            assert {f"Viesti {i}" for i in seen} <= stored
        finally:
            store.close()

        server = ServeProcess(env, env.root / "serve2.log").start()
        for i in range(COUNT):
            if i not in seen:
                assert deliver(port, messages[i]), f"message {i} refused after the restart"
    finally:
        server.stop()

    store = env.open_store()
    try:
        assert store.table_counts()["messages"] == COUNT
        citizen = store.active_citizen_id(HETU)
        assert citizen is not None
        subjects = [e.subject for e in store.inbox(citizen, limit=COUNT + 10)]
        assert sorted(subjects) == sorted(f"Viesti {i}" for i in range(COUNT))
    finally:
        store.close()
