"""Abuse limits: rate-limit counters and spent one-time form tokens.

Revision ID: 0008_rate_limits
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0008_rate_limits"
down_revision = "0001"
branch_labels = ("rate_limits",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_index(op.f("ix_rate_limits_expires_at"), "rate_limits", ["expires_at"])
    op.create_table(
        "form_tokens_used",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=30), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_form_tokens_used")),
    )
    op.create_index(op.f("ix_form_tokens_used_expires_at"), "form_tokens_used", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_form_tokens_used_expires_at"), table_name="form_tokens_used")
    op.drop_table("form_tokens_used")
    op.drop_index(op.f("ix_rate_limits_expires_at"), table_name="rate_limits")
    op.drop_table("rate_limits")
