"""Retention and the encrypted raw store: legal holds on cases, disposal records, each raw
message's wrapped data key, the master key versions, the shredded records' places, and
indexes on the columns that point at what disposal deletes.

Revision ID: 0017_retention
Revises: 0016_audit_actor_index
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0017_retention"
down_revision = "0016_audit_actor_index"
branch_labels = ("retention",)
depends_on = ("0003_matching", "0005_exchange", "0009_exchange_quarantine_bounded")

_INDEXED = [
    ("cases", "merged_into_id"),
    ("printed_letters", "referral_id"),
    ("onward_referrals", "outbox_id"),
    ("exchange_quarantine", "raw_ref"),
    ("match_candidates", "target_ref"),
    ("match_decisions", "target_ref"),
]


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("hold_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("legal_hold", server_default=None)
    # Every message stored so far is a plaintext record; new ones are sealed.
    with op.batch_alter_table("raw_messages") as batch:
        batch.add_column(
            sa.Column("encrypted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("raw_messages") as batch:
        batch.alter_column("encrypted", server_default=None)
    op.create_table(
        "raw_message_keys",
        sa.Column("raw_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_messages.id"],
            name=op.f("fk_raw_message_keys_raw_id_raw_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("raw_id", name=op.f("pk_raw_message_keys")),
    )
    op.create_index("ix_raw_message_keys_version", "raw_message_keys", ["version", "raw_id"])
    op.create_table(
        "raw_master_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_raw_master_keys")),
    )
    op.create_table(
        "raw_shredded",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(120), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_shredded")),
    )
    op.create_index("ix_raw_shredded_segment_offset", "raw_shredded", ["segment", "offset"])
    op.create_table(
        "retention_disposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(30), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_disposals")),
    )
    op.create_index(op.f("ix_retention_disposals_at"), "retention_disposals", ["at"])
    op.create_index(
        "ix_retention_disposals_subject", "retention_disposals", ["subject", "subject_id"]
    )
    # Disposal deletes rows that these columns point at, and finds what names a case: the
    # foreign key checks and lookups read an index, not the whole table, per row.
    for table, column in _INDEXED:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in _INDEXED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.drop_index("ix_retention_disposals_subject", table_name="retention_disposals")
    op.drop_index(op.f("ix_retention_disposals_at"), table_name="retention_disposals")
    op.drop_table("retention_disposals")
    op.drop_index("ix_raw_shredded_segment_offset", table_name="raw_shredded")
    op.drop_table("raw_shredded")
    op.drop_table("raw_master_keys")
    op.drop_index("ix_raw_message_keys_version", table_name="raw_message_keys")
    op.drop_table("raw_message_keys")
    with op.batch_alter_table("raw_messages") as batch:
        batch.drop_column("encrypted")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("hold_reason")
        batch.drop_column("legal_hold")
