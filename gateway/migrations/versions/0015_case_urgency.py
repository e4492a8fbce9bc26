"""A case's urgency rank (its most urgent referral), indexed with status and officer, so
lists put safeguarding and urgent cases first without working it out per request.

Revision ID: 0015_case_urgency
Revises: 0014_disclosures
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_case_urgency"
down_revision = "0014_disclosures"
branch_labels = ("case_urgency",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("urgency_rank", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("urgency_rank", server_default=None)
    op.execute(
        "UPDATE cases SET urgency_rank = COALESCE((SELECT MAX(CASE referrals.urgency "
        "WHEN 'safeguarding' THEN 2 WHEN 'urgent' THEN 1 ELSE 0 END) FROM referrals "
        "WHERE referrals.case_id = cases.id), 0)"
    )
    op.create_index("ix_cases_status_urgency", "cases", ["status", "urgency_rank", "id"])
    op.create_index("ix_cases_allocated_urgency", "cases", ["allocated_to", "urgency_rank", "id"])
    op.create_index("ix_cases_open_figures", "cases", ["status", "allocated_to", "urgency_rank"])
    op.create_index("ix_tasks_status_due_kind", "tasks", ["status", "due", "kind"])
    op.create_index("ix_referrals_triage_urgency", "referrals", ["triage_status", "urgency"])


def downgrade() -> None:
    op.drop_index("ix_referrals_triage_urgency", table_name="referrals")
    op.drop_index("ix_tasks_status_due_kind", table_name="tasks")
    op.drop_index("ix_cases_open_figures", table_name="cases")
    op.drop_index("ix_cases_allocated_urgency", table_name="cases")
    op.drop_index("ix_cases_status_urgency", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("urgency_rank")
