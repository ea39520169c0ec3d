"""Account settings: a sealed mobile number and the citizen's notification choices.

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


def downgrade() -> None:
    with op.batch_alter_table("citizens") as batch:
        for column in ("notify_sms", "notify_email", "phone_sealed"):
            batch.drop_column(column)
