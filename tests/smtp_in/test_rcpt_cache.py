"""RCPT remembers active accounts briefly; an account passivated meanwhile still gets nothing."""

from __future__ import annotations

from pathlib import Path

from gatewaytest.env import DOMAIN, make_env
from gatewaytest.hetus import make_hetu
from gatewaytest.servers import InProcessGateway
from gatewaytest.smtp_fixtures import assert_refused, decision, send

HETU = make_hetu("131052", "-", 308)


def test_passivated_between_two_messages_is_refused_at_data(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    citizen = env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    try:
        rcpt = f"{HETU}@{DOMAIN}"
        assert send(gateway.port, decision(env, rcpt), [rcpt]).code == 250
        assert gateway.handler.citizens.cached(HETU) == citizen  # the next RCPT asks no one
        gateway.store.set_citizen_status(citizen, "passive")
        before = gateway.store.table_counts()
        answer = send(gateway.port, decision(env, rcpt), [rcpt])  # RCPT still says 250
        assert_refused(answer, 550, "5.1.1", gateway.store, before)
        assert "paper" in answer.text
    finally:
        gateway.stop()


def test_unknown_and_inactive_citizens_are_never_remembered(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    passive = env.add_citizen(HETU)
    gateway = InProcessGateway(env).start()
    try:
        gateway.store.set_citizen_status(passive, "passive")
        assert gateway.handler.citizens.look_up(HETU) is None
        assert gateway.handler.citizens.cached(HETU) is None
        gateway.store.set_citizen_status(passive, "active")
        assert gateway.handler.citizens.look_up(HETU) == passive
    finally:
        gateway.stop()
