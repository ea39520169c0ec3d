"""Fixtures: a migrated MailboxStore on SQLite (a file) and on PostgreSQL (a throw-away schema).

PostgreSQL is at 127.0.0.1:5432 (trust auth, database `test`, user `postgres`). When it is
unreachable the PostgreSQL cases are skipped, except in CI (env CI=true), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gatewaytest.clock import Clock
from gatewaytest.postgres import temporary_schema
from sqlalchemy import create_engine, text

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from mailbox_store import MailboxStore

TABLES = ("attachments", "messages", "events", "outbound_queue", "sessions", "citizens")




@pytest.fixture(scope="session")
def keys() -> MasterKeyRing:
    return MasterKeyRing.from_text(MasterKeyRing.generate_file_text())


@pytest.fixture(scope="session")
def index() -> BlindIndex:
    return BlindIndex.from_text(BlindIndex.generate_file_text())


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with temporary_schema("mailbox_test") as url:
        yield url


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
