"""Matching: imported school rolls and EHE register entries, officers' match decisions.

Revision ID: 0003_matching
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0003_matching"
down_revision = "0001"
branch_labels = ("matching",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(length=4), nullable=False),
        sa.Column("batch_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=False),
        sa.Column("upn", sa.String(length=13), nullable=True),
        sa.Column("former_upns", sa.JSON(), nullable=False),
        sa.Column("surname", sa.String(length=100), nullable=False),
        sa.Column("forename", sa.String(length=100), nullable=False),
        sa.Column("middle_names", sa.String(length=200), nullable=True),
        sa.Column("former_surnames", sa.JSON(), nullable=False),
        sa.Column("preferred_forename", sa.String(length=100), nullable=True),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("year_group", sa.String(length=3), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("town", sa.String(length=100), nullable=True),
        sa.Column("postcode", sa.String(length=10), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("school_laestab", sa.String(length=7), nullable=True),
        sa.Column("from_date", sa.Date(), nullable=True),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entries")),
    )
    for col in ("register", "batch_sha256", "upn", "dob", "postcode"):
        op.create_index(op.f(f"ix_register_entries_{col}"), "register_entries", [col])
    op.create_index("ix_register_entries_surname_dob", "register_entries", ["surname", "dob"])
    op.create_table(
        "match_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_ref", sa.String(length=60), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_ref", sa.String(length=60), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_decisions")),
        sa.UniqueConstraint(
            "query_ref", "target_kind", "target_ref", name="uq_match_decisions_pair"
        ),
    )
    op.create_index(op.f("ix_match_decisions_query_ref"), "match_decisions", ["query_ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_match_decisions_query_ref"), table_name="match_decisions")
    op.drop_table("match_decisions")
    op.drop_index("ix_register_entries_surname_dob", table_name="register_entries")
    for col in ("register", "batch_sha256", "upn", "dob", "postcode"):
        op.drop_index(op.f(f"ix_register_entries_{col}"), table_name="register_entries")
    op.drop_table("register_entries")
