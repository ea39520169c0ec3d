"""Database failures become StoreFull or StoreUnavailable, and their texts name no secrets."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy.exc import OperationalError

from crypto.blind_index import BlindIndex
from crypto.sealing import MasterKeyRing
from mailbox_store import MailboxStore, StoreFull, StoreUnavailable
from mailbox_store.engine import translate_errors


def test_real_sqlite_full_database_is_store_full(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "tiny.db")
    connection.execute("CREATE TABLE t (v BLOB)")
    connection.execute("PRAGMA max_page_count = 3")
    with pytest.raises(StoreFull), translate_errors("test"):
        connection.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
    connection.close()


def test_postgresql_disk_full_and_enospc_are_store_full() -> None:
    wrapped = OperationalError("INSERT ...", {}, psycopg.errors.DiskFull("no space"))
    with pytest.raises(StoreFull), translate_errors("test"):
        raise wrapped
    with pytest.raises(StoreFull), translate_errors("test"):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_other_failures_are_unavailable_without_details(
    tmp_path: Path, keys: MasterKeyRing, index: BlindIndex
) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "db").mkdir()
    store = MailboxStore(f"sqlite:///{tmp_path / 'db'}", keys, index)
    with pytest.raises(StoreUnavailable) as info:
        store.add_citizen("010101-123N", "SECRET-NAME", None, "fi")
    message = str(info.value)
    assert "010101" not in message and "SECRET" not in message
    assert not isinstance(info.value, StoreFull)
    store.close()


def test_in_memory_sqlite_is_refused(keys: MasterKeyRing, index: BlindIndex) -> None:
    with pytest.raises(ValueError):
        MailboxStore("sqlite://", keys, index)
