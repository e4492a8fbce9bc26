"""Triage: referrals awaiting a decision (no case yet), stored match candidates, new facts
for a case, readable replies on the timeline.

Revision ID: 0012_triage
Revises: 0004_intake
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0012_triage"
down_revision = "0004_intake"
branch_labels = ("triage",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(
            sa.Column("triage_status", sa.String(20), nullable=False, server_default="opened")
        )
        batch.add_column(sa.Column("triage_reason", sa.String(40), nullable=True))
        batch.add_column(sa.Column("triage_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("triaged_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("triaged_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("raw_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("details", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_foreign_key(
            op.f("fk_referrals_raw_id_raw_messages"), "raw_messages", ["raw_id"], ["id"]
        )
        batch.create_index(op.f("ix_referrals_triage_status"), ["triage_status"])
        batch.create_index(op.f("ix_referrals_raw_id"), ["raw_id"])
    with op.batch_alter_table("referrals") as batch:
        batch.alter_column("triage_status", server_default=None)
        batch.alter_column("details", server_default=None)
        batch.alter_column("anonymous", server_default=None)

    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("last_school", sa.String(200), nullable=True))
        batch.add_column(sa.Column("on_roll", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_cases_merged_into_id_cases"), "cases", ["merged_into_id"], ["id"]
        )

    with op.batch_alter_table("timeline_entries") as batch:
        batch.add_column(sa.Column("detail", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("unread", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("read_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("read_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("timeline_entries") as batch:
        batch.alter_column("unread", server_default=None)

    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("resolution", sa.Text(), nullable=True))

    op.create_table(
        "match_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_ref", sa.String(60), nullable=False),
        sa.Column("target_ref", sa.String(60), nullable=False),
        sa.Column("target_kind", sa.String(20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_candidates")),
        sa.UniqueConstraint("query_ref", "target_ref", name="uq_match_candidates_pair"),
    )
    op.create_index(
        "ix_match_candidates_state_probability", "match_candidates", ["state", "probability"]
    )

    op.create_table(
        "case_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("current", sa.JSON(), nullable=True),
        sa.Column("source_ref", sa.String(100), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_facts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_facts")),
    )
    op.create_index(op.f("ix_case_facts_case_id"), "case_facts", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_facts_case_id"), table_name="case_facts")
    op.drop_table("case_facts")
    op.drop_index("ix_match_candidates_state_probability", table_name="match_candidates")
    op.drop_table("match_candidates")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("resolution")
    with op.batch_alter_table("timeline_entries") as batch:
        for col in ("read_at", "read_by", "unread", "detail"):
            batch.drop_column(col)
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("fk_cases_merged_into_id_cases"), type_="foreignkey")
        for col in ("merged_into_id", "on_roll", "last_school"):
            batch.drop_column(col)
    op.execute("DELETE FROM referrals WHERE case_id IS NULL")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index(op.f("ix_referrals_raw_id"))
        batch.drop_index(op.f("ix_referrals_triage_status"))
        batch.drop_constraint(op.f("fk_referrals_raw_id_raw_messages"), type_="foreignkey")
        for col in (
            "anonymous", "details", "raw_id", "triaged_at", "triaged_by", "triage_note",
            "triage_reason", "triage_status",
        ):  # fmt: skip
            batch.drop_column(col)
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
