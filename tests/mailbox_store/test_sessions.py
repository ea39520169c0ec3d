"""Sessions: only a hash of the token is stored; they end on logout, idle time and lifetime."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import create_engine, text

from mailbox_store import MailboxStore

IDLE = timedelta(minutes=15)


def test_session_round_trip_and_logout(store: MailboxStore, store_url: str) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    token = store.create_session(citizen, lifetime=timedelta(hours=8), method="test")
    assert len(token) >= 43
    assert store.session_citizen(token, idle_timeout=IDLE) == citizen
    assert store.session_citizen(token + "x", idle_timeout=IDLE) is None

    engine = create_engine(store_url)
    with engine.connect() as connection:
        ids = connection.execute(text("SELECT id FROM sessions")).scalars().all()
    engine.dispose()
    assert ids == [hashlib.sha256(token.encode()).hexdigest()]  # never the token itself

    store.end_session(token)
    assert store.session_citizen(token, idle_timeout=IDLE) is None
    store.end_session(token)  # ending twice is harmless


def test_session_expires_when_idle_but_activity_keeps_it(store: MailboxStore, clock) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    token = store.create_session(citizen, lifetime=timedelta(hours=8), method="test")
    for _ in range(4):  # an hour of activity, each step within the idle timeout
        clock.advance(timedelta(minutes=14))
        assert store.session_citizen(token, idle_timeout=IDLE) == citizen
    clock.advance(IDLE + timedelta(seconds=1))
    assert store.session_citizen(token, idle_timeout=IDLE) is None
    assert store.table_counts()["sessions"] == 0  # the dead session was removed


def test_session_expires_at_end_of_lifetime(store: MailboxStore, clock) -> None:
    citizen = store.add_citizen("010101-123N", "A", None, "fi")
    token = store.create_session(citizen, lifetime=timedelta(minutes=30), method="test")
    for _ in range(2):
        clock.advance(timedelta(minutes=10))
        assert store.session_citizen(token, idle_timeout=IDLE) == citizen
    clock.advance(timedelta(minutes=10))  # 30 minutes: the lifetime is over, however active
    assert store.session_citizen(token, idle_timeout=IDLE) is None
