"""The Alembic migrations produce exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from mailbox_store import MailboxStore
from mailbox_store.schema import metadata


def test_migrated_schema_matches_the_models(store: MailboxStore, store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == "0003"
    finally:
        engine.dispose()
