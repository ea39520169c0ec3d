"""Initial mailbox store schema: citizens, messages, attachments, events, queue, sessions.

Revision ID: 0001
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("hetu_index", sa.String(64), nullable=False),
        sa.Column("hetu_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("email_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("data_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'passive', 'closed')", name="ck_citizens_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_citizens"),
        sa.UniqueConstraint("hetu_index", name="uq_citizens_hetu_index"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("citizen_id", sa.String(32), nullable=False),
        sa.Column("organisation_id", sa.String(200), nullable=False),
        sa.Column("dedup_index", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("subject_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("html_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("sender_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("original_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name="fk_messages_citizen_id_citizens"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("dedup_index", name="uq_messages_dedup_index"),
    )
    op.create_index(
        "ix_messages_citizen_id_received_at", "messages", ["citizen_id", "received_at"]
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_attachments_message_id_messages"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.UniqueConstraint("message_id", "position", name="uq_attachments_message_id_position"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("citizen_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name="fk_events_citizen_id_citizens"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("citizen_id", "seq", name="uq_events_citizen_id_seq"),
    )
    op.create_table(
        "outbound_queue",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("citizen_id", sa.String(32), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'sent', 'failed', 'held')",
            name="ck_outbound_queue_state",
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name="fk_outbound_queue_citizen_id_citizens"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_queue"),
    )
    op.create_index("ix_outbound_queue_state_due_at", "outbound_queue", ["state", "due_at"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("citizen_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name="fk_sessions_citizen_id_citizens"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_citizen_id", "sessions", ["citizen_id"])


def downgrade() -> None:
    op.drop_index("ix_sessions_citizen_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_outbound_queue_state_due_at", table_name="outbound_queue")
    op.drop_table("outbound_queue")
    op.drop_table("events")
    op.drop_table("attachments")
    op.drop_index("ix_messages_citizen_id_received_at", table_name="messages")
    op.drop_table("messages")
    op.drop_table("citizens")
