"""Audit log: index by actor, for "which records did this user open" (`cme audit user`,
/audit/user/<name>): the newest page of one user's entries is an index range.

Revision ID: 0016_audit_actor_index
Revises: 0015_case_urgency
"""

from alembic import op

revision = "0016_audit_actor_index"
down_revision = "0015_case_urgency"
branch_labels = ("audit_actor_index",)
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
