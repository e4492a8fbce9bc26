"""Casework: the allocated officer, the steps recorded on a case, onward referrals and
letters to print for referrers with no email address.

Revision ID: 0013_casework
Revises: 0012_triage
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0013_casework"
down_revision = "0012_triage"
branch_labels = ("casework",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("allocated_to", sa.String(100), nullable=True))
        batch.create_index(op.f("ix_cases_allocated_to"), ["allocated_to"])
    # Urgent and safeguarding first: the lists find them by index.
    op.create_index(op.f("ix_referrals_urgency"), "referrals", ["urgency"])
    op.create_index(op.f("ix_timeline_entries_unread"), "timeline_entries", ["unread"])
    op.create_table(
        "case_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_steps_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_steps")),
    )
    op.create_index(op.f("ix_case_steps_case_id"), "case_steps", ["case_id"])
    op.create_table(
        "onward_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("lawful_basis", sa.String(200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("sent_by", sa.String(100), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_onward_referrals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_onward_referrals_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onward_referrals")),
    )
    op.create_index(op.f("ix_onward_referrals_case_id"), "onward_referrals", ["case_id"])
    op.create_table(
        "printed_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(100), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_printed_letters_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_printed_letters_referral_id_referrals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printed_letters")),
    )
    op.create_index(op.f("ix_printed_letters_case_id"), "printed_letters", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_printed_letters_case_id"), table_name="printed_letters")
    op.drop_table("printed_letters")
    op.drop_index(op.f("ix_onward_referrals_case_id"), table_name="onward_referrals")
    op.drop_table("onward_referrals")
    op.drop_index(op.f("ix_case_steps_case_id"), table_name="case_steps")
    op.drop_table("case_steps")
    op.drop_index(op.f("ix_timeline_entries_unread"), table_name="timeline_entries")
    op.drop_index(op.f("ix_referrals_urgency"), table_name="referrals")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index(op.f("ix_cases_allocated_to"))
        batch.drop_column("allocated_to")
