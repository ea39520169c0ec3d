"""Alembic environment for the mailbox store: online only, on a connection we are given.

`mailbox_store.migrate.upgrade_to_head` passes its connection in `config.attributes`; there is
no alembic.ini and no logging set-up here (importing must not reconfigure the application).
"""

from __future__ import annotations

from alembic import context

from mailbox_store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through mailbox_store.migrate.upgrade_to_head")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
