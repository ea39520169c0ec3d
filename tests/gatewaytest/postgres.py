"""A throw-away PostgreSQL schema on the machine's server (127.0.0.1:5432, trust auth, db `test`).

Skips when the server is unreachable, except in CI (CI=true), where a missing part fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def temporary_schema(prefix: str) -> Iterator[str]:
    """Yield a SQLAlchemy URL whose search_path is a new, empty schema; drop it afterwards."""
    admin = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable, and CI requires it")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
