"""Intake: raw messages, the quarantine and the IMAP cursors.

Revision ID: 0004_intake
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0004_intake"
down_revision = "0001"
branch_labels = ("intake",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("segment", sa.String(length=120), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("envelope_from", sa.String(length=320), nullable=True),
        sa.Column("envelope_to", sa.JSON(), nullable=False),
        sa.Column("peer", sa.String(length=200), nullable=True),
        sa.Column("source_ref", sa.String(length=300), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=True),
        sa.Column("message_id_repeat", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("dispatched_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_raw_messages_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_messages")),
        sa.UniqueConstraint("sha256", name=op.f("uq_raw_messages_sha256")),
    )
    op.create_index(op.f("ix_raw_messages_case_id"), "raw_messages", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_raw_messages_message_id"), "raw_messages", ["message_id"], unique=False
    )
    op.create_index(
        "ix_raw_messages_segment_offset", "raw_messages", ["segment", "offset"], unique=False
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["raw_id"], ["raw_messages.id"], name=op.f("fk_quarantine_raw_id_raw_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_raw_id"), "quarantine", ["raw_id"], unique=False)
    op.create_index("ix_quarantine_status", "quarantine", ["status"], unique=False)
    op.create_table(
        "imap_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=300), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imap_cursors")),
        sa.UniqueConstraint("account", "folder", name=op.f("uq_imap_cursors_account")),
    )


def downgrade() -> None:
    op.drop_table("imap_cursors")
    op.drop_index("ix_quarantine_status", table_name="quarantine")
    op.drop_index(op.f("ix_quarantine_raw_id"), table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("ix_raw_messages_segment_offset", table_name="raw_messages")
    op.drop_index(op.f("ix_raw_messages_message_id"), table_name="raw_messages")
    op.drop_index(op.f("ix_raw_messages_case_id"), table_name="raw_messages")
    op.drop_table("raw_messages")
