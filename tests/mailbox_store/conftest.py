"""Fixtures: a migrated MailboxStore on SQLite (a file) and on PostgreSQL (a throw-away schema).

PostgreSQL is at 127.0.0.1:5432 (trust auth, database `test`, user `postgres`). When it is
unreachable the PostgreSQL cases are skipped, except in CI (env CI=true), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from mailbox_store import MailboxStore

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TABLES = ("attachments", "messages", "events", "outbound_queue", "sessions", "citizens")


@dataclass
class Clock:
    """A controllable clock, passed to the store through its `clock` seam."""

    now: datetime = field(default_factory=lambda: datetime(2025, 3, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(scope="session")
def keys() -> MasterKeyRing:
    return MasterKeyRing.from_text(MasterKeyRing.generate_file_text())


@pytest.fixture(scope="session")
def index() -> BlindIndex:
    return BlindIndex.from_text(BlindIndex.generate_file_text())


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable, and CI requires it")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    schema = f"mailbox_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mailbox.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailbox.db'}"
        return
    url: str = request.getfixturevalue("pg_url")
    yield url
    # The schema lives for the whole session; empty it so every test starts clean.
    engine = create_engine(url)
    with engine.begin() as connection:
        if connection.execute(text("SELECT to_regclass('citizens')")).scalar() is not None:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
    engine.dispose()


@pytest.fixture
def store(
    store_url: str, keys: MasterKeyRing, index: BlindIndex, clock: Clock
) -> Iterator[MailboxStore]:
    mailbox = MailboxStore(store_url, keys, index, clock=clock)
    mailbox.migrate()
    yield mailbox
    mailbox.close()
