"""Conversations: threads, the citizen's own (outgoing) messages, sealed queue payloads, bounces;
attachments kept as spans of the stored original.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OLD_STATES = "state IN ('queued', 'sending', 'sent', 'failed', 'held')"
_DATA_OR_SOURCE = "(data_sealed IS NULL) = (source_start IS NOT NULL AND source_end IS NOT NULL)"
_NEW_STATES = "state IN ('queued', 'sending', 'sent', 'failed', 'held', 'bounced')"


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("thread_id", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("direction", sa.String(3), nullable=False, server_default="in")
        )
        batch.add_column(
            sa.Column("no_reply", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("message_id_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("signer_cert_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("verifiable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("acknowledge_by", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("acknowledgement_expired_at", sa.DateTime(), nullable=True))
    # Every message received so far starts its own thread.
    op.execute("UPDATE messages SET thread_id = id")
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("thread_id", existing_type=sa.String(32), nullable=False)
        batch.create_check_constraint("ck_messages_direction", "direction IN ('in', 'out')")
        batch.create_index("ix_messages_citizen_id_thread_id", ["citizen_id", "thread_id"])
        batch.create_index("ix_messages_acknowledge_by", ["acknowledge_by"])

    with op.batch_alter_table("attachments") as batch:
        batch.alter_column("data_sealed", existing_type=sa.LargeBinary(), nullable=True)
        batch.add_column(sa.Column("source_start", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("source_end", sa.Integer(), nullable=True))
        batch.create_check_constraint("ck_attachments_data_or_source", _DATA_OR_SOURCE)

    with op.batch_alter_table("outbound_queue") as batch:
        batch.add_column(sa.Column("message_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("payload_sealed", sa.LargeBinary(), nullable=True))
        batch.create_foreign_key(
            "fk_outbound_queue_message_id_messages", "messages", ["message_id"], ["id"]
        )
        batch.drop_constraint("ck_outbound_queue_state", type_="check")
        batch.create_check_constraint("ck_outbound_queue_state", _NEW_STATES)
        batch.create_index("ix_outbound_queue_message_id", ["message_id"])


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_constraint("ck_attachments_data_or_source", type_="check")
        batch.drop_column("source_end")
        batch.drop_column("source_start")
        batch.alter_column("data_sealed", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("outbound_queue") as batch:
        batch.drop_index("ix_outbound_queue_message_id")
        batch.drop_constraint("ck_outbound_queue_state", type_="check")
        batch.create_check_constraint("ck_outbound_queue_state", _OLD_STATES)
        batch.drop_constraint("fk_outbound_queue_message_id_messages", type_="foreignkey")
        batch.drop_column("payload_sealed")
        batch.drop_column("message_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_citizen_id_thread_id")
        batch.drop_index("ix_messages_acknowledge_by")
        batch.drop_constraint("ck_messages_direction", type_="check")
        for column in (
            "acknowledgement_expired_at",
            "acknowledge_by",
            "acknowledged_at",
            "verifiable",
            "signer_cert_sealed",
            "message_id_sealed",
            "no_reply",
            "direction",
            "thread_id",
        ):
            batch.drop_column(column)
