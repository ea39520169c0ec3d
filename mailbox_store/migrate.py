"""Programmatic Alembic: upgrade the schema to head without an alembic.ini.

The migration scripts live in `mailbox_store/migrations` (shipped as package data). The
connection is handed to `migrations/env.py` through `Config.attributes`, so migrations run on
the store's own engine, inside one transaction, and under a lock that lets several gateway
processes start at once against one PostgreSQL database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from .engine import WRITE

__all__ = ["alembic_config", "upgrade_to_head"]

_SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant naming "the mailbox store schema" among PostgreSQL advisory locks.
_PG_MIGRATION_LOCK = 0x41534954


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    return config


def upgrade_to_head(engine: Engine) -> None:
    config = alembic_config()
    with engine.connect().execution_options(**WRITE) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
