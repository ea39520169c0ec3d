"""Reload under load: clients stream mail to a real `serve` while the policy is reloaded twice,
first with a broken file (refused, the old policy stays), then with one that removes a network.
Every message answered 250 is stored exactly once, connections in progress finish under the
policy they started with, and new connections follow the new one."""

from __future__ import annotations

import os
import queue
import signal
import smtplib
import threading
import time
from email.utils import make_msgid
from pathlib import Path

import pytest
from gatewaytest.env import CLERK, DOMAIN, ORG_DOMAIN, GatewayEnv, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import ServeProcess
from gatewaytest.smtp_fixtures import connect, decision

from gateway.config import load_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HETU = make_hetu("131052", "-", 308)
RCPT = f"{HETU}@{DOMAIN}"
COUNT = 48
KEEP_BACK = 12  # messages left for after the second reload, so it happens under load
ONE_NETWORK = 'networks = ["127.0.0.1/32"]'
TWO_NETWORKS = 'networks = ["127.0.0.1/32", "127.0.0.2/32"]'
BROKEN = 'networks = ["127.0.0.1/32", "127.0.0.300/32"]'


def children(pid: int) -> set[int]:
    """The direct child processes of `pid` (serve's crypto workers), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def wait_for_log(path: Path, text: str, after: int, timeout: float = 60.0) -> str:
    """The log written since offset `after`, once it contains `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        written = path.read_bytes()[after:].decode("utf-8", "replace")
        if text in written:
            return written
        time.sleep(0.05)
    raise AssertionError(f"serve never logged {text!r}")


class Streamer(threading.Thread):
    """Sends messages from `source`, three per connection, until the queue is empty; the last
    `hold` wait until `finish` is set. A refused MAIL ends the stream."""

    def __init__(
        self, port: int, source: str, todo: queue.Queue[int], messages: list[bytes],
        finish: threading.Event, hold: int = 0,
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.source, self.todo, self.messages = port, source, todo, messages
        self.finish, self.hold = finish, hold
        self.accepted: list[int] = []
        self.refused_at_mail: list[str] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while True:
            while self.todo.qsize() <= self.hold and not self.finish.is_set():
                time.sleep(0.02)
            if self.todo.empty():
                return
            try:
                with connect(self.port, source=self.source) as client:
                    for _ in range(3):
                        if not self._one(client):
                            return
            except (OSError, smtplib.SMTPException) as exc:
                self.errors.append(repr(exc))
                return

    def _one(self, client: smtplib.SMTP) -> bool:
        code, text = client.mail(CLERK)
        if code != 250:
            self.refused_at_mail.append(f"{code} {text.decode()}")
            return False
        try:
            n = self.todo.get_nowait()
        except queue.Empty:
            client.rset()
            return False
        rcpt = client.rcpt(RCPT)
        answer = client.data(self.messages[n]) if rcpt[0] == 250 else rcpt
        if answer[0] != 250:
            self.todo.put(n)
            self.errors.append(f"message {n}: {answer[0]} {answer[1].decode()}")
            return False
        self.accepted.append(n)
        time.sleep(0.1)  # a steady stream rather than a burst that ends before the reloads
        return True


def write_policy(env: GatewayEnv, networks: str) -> None:
    text = env.config_path.read_text()
    for line in (ONE_NETWORK, TWO_NETWORKS, BROKEN):
        text = text.replace(line, networks)
    env.config_path.write_text(text)


def test_reload_under_load_loses_nothing_and_applies_to_new_connections(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = make_env(tmp_path_factory.mktemp("reload"))
    write_policy(env, TWO_NETWORKS)
    env = GatewayEnv(env.root, env.config_path, load_config(env.config_path))
    env.add_citizen(HETU)
    messages = [
        decision(env, RCPT, subject=f"Viesti {n}",
                 message_id=make_msgid(idstring=f"reload{n}", domain=ORG_DOMAIN))
        for n in range(COUNT)
    ]
    port = env.config.smtp.listen_port
    log_path = env.root / "serve.log"
    todo: queue.Queue[int] = queue.Queue()
    for n in range(COUNT):
        todo.put(n)
    finish = threading.Event()
    local = Streamer(port, "127.0.0.1", todo, messages, finish, hold=KEEP_BACK)
    second = Streamer(port, "127.0.0.2", todo, messages, finish, hold=KEEP_BACK)

    server = ServeProcess(env, log_path).start()
    assert server.process is not None
    pid = server.process.pid
    try:
        assert int((env.data_dir / "serve.pid").read_text()) == pid
        local.start()
        second.start()
        while len(local.accepted) + len(second.accepted) < 6:
            assert local.is_alive() or second.is_alive(), local.errors + second.errors
            time.sleep(0.02)

        # 1. A broken file: `reload` refuses to signal, and a SIGHUP is refused by serve.
        write_policy(env, BROKEN)
        assert env.cli("reload") == 2
        offset = log_path.stat().st_size
        os.kill(pid, signal.SIGHUP)
        refused = wait_for_log(log_path, "the policy in force stays", offset)
        assert "organisations[0].networks" in refused and "127.0.0.300/32" in refused
        with connect(port, source="127.0.0.2") as client:  # the old policy still holds
            assert client.mail(CLERK)[0] == 250
        assert second.is_alive() and not second.refused_at_mail

        # 2. A good file without 127.0.0.2, by `asiointitili reload`, with a connection
        # from that network open across it.
        held = connect(port, source="127.0.0.2")
        workers = children(pid)
        accepted_before = len(local.accepted)
        write_policy(env, ONE_NETWORK)
        offset = log_path.stat().st_size
        assert env.cli("reload") == 0
        wait_for_log(log_path, "policy reloaded", offset)
        with held:  # started under the old policy: finishes under it
            n = todo.get(timeout=5)
            assert held.mail(CLERK)[0] == 250 and held.rcpt(RCPT)[0] == 250
            assert held.data(messages[n])[0] == 250
            local.accepted.append(n)
        with connect(port, source="127.0.0.2") as client:  # new connections: the new policy
            code, text = client.mail(CLERK)
            assert (code, text.split()[0]) == (550, b"5.7.1")
        # The crypto workers were replaced (the old ones end once idle).
        deadline = time.monotonic() + 30
        while children(pid) & workers and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not children(pid) & workers and children(pid)
        finish.set()
        local.join(timeout=120)
        second.join(timeout=120)
        assert not local.is_alive() and not second.is_alive()
    finally:
        finish.set()
        server.stop()

    # Without a running serve nothing is signalled, not even the pid a killed one left.
    assert not (env.data_dir / "serve.pid").exists()
    assert env.cli("reload") == 2
    (env.data_dir / "serve.pid").write_text("1\n")
    assert env.cli("reload") == 2

    assert local.errors == [] and second.errors == []
    assert len(local.accepted) > accepted_before + 1, "nothing was sent after the reload"
    # The removed network's stream can only have ended at a fresh connection's MAIL.
    assert all(answer.startswith("550 5.7.1") for answer in second.refused_at_mail)
    accepted = sorted(local.accepted + second.accepted)
    assert accepted == list(range(COUNT))  # everything was sent in the end, by someone
    store = env.open_store()
    try:
        citizen = store.active_citizen_id(HETU)
        assert citizen is not None
        subjects = sorted(entry.subject for entry in store.inbox(citizen, limit=COUNT + 10))
        assert subjects == sorted(f"Viesti {n}" for n in accepted)
        assert store.table_counts()["messages"] == COUNT
    finally:
        store.close()
