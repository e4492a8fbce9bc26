"""Audit log: each entry's hash scheme, so the chain can be keyed (HMAC) from here on.

Entries already written keep "sha256" (the unkeyed chain) and verify as before.

Revision ID: 0011_audit_hmac
Revises: 0007_audit_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_audit_hmac"
down_revision = "0007_audit_index"
branch_labels = ("audit_hmac",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column("scheme", sa.String(length=12), nullable=False, server_default="sha256")
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("scheme")
