"""Lost-pupil index: drop the index on lp_pupils.status. Nothing looks pupils up by
status alone (search filters the rows it has found by id; expiry goes by file_id), and
every pupil stored paid for one more index entry.

Revision ID: 0018_lp_status_index
Revises: 0002_lost_pupil
"""

from alembic import op

revision = "0018_lp_status_index"
down_revision = "0002_lost_pupil"
branch_labels = ("lp_status_index",)
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_lp_pupils_status", table_name="lp_pupils")


def downgrade() -> None:
    op.create_index("ix_lp_pupils_status", "lp_pupils", ["status"])
