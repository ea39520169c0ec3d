"""Account settings (a sealed mobile number, notification choices, accepted terms of use) and
the portal's message features (kinds, cases and their status, deletion, unread reminders).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("citizens") as batch:
        batch.add_column(sa.Column("phone_sealed", sa.LargeBinary(), nullable=True))
        # Existing accounts keep what they had: notices by email, none by SMS.
        batch.add_column(
            sa.Column("notify_email", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("notify_sms", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("terms_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("terms_accepted_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="message")
        )
        batch.add_column(sa.Column("case_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("case_index", sa.String(64), nullable=True))
        batch.add_column(sa.Column("status_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_messages_citizen_id_case_index", ["citizen_id", "case_index"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_citizen_id_case_index")
        for column in (
            "reminded_at", "deleted_at", "status_sealed", "case_index", "case_sealed", "kind"
        ):
            batch.drop_column(column)
    with op.batch_alter_table("citizens") as batch:
        for column in (
            "terms_accepted_at", "terms_version", "notify_sms", "notify_email", "phone_sealed"
        ):
            batch.drop_column(column)
