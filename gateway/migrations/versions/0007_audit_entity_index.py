"""Audit log: index by entity, for "who viewed this record".

Revision ID: 0007_audit_index
Revises: 0001
"""

from alembic import op

revision = "0007_audit_index"
down_revision = "0001"
branch_labels = ("audit_index",)
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
