"""Foundation: children, referrals, cases, tasks, timeline, audit log, jobs, outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)
    op.create_table(
        "children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forenames", sa.String(length=200), nullable=False),
        sa.Column("surname", sa.String(length=200), nullable=False),
        sa.Column("middle_names", sa.String(length=200), nullable=True),
        sa.Column("other_names", sa.JSON(), nullable=False),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("upn", sa.String(length=13), nullable=True),
        sa.Column("former_upns", sa.JSON(), nullable=False),
        sa.Column("year_group", sa.String(length=3), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("interpreter_needed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_children")),
    )
    op.create_index("ix_children_surname_dob", "children", ["surname", "dob"], unique=False)
    op.create_index(op.f("ix_children_upn"), "children", ["upn"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_run_at", "jobs", ["status", "run_at"], unique=False)
    op.create_index("uq_jobs_kind_key", "jobs", ["kind", "key"], unique=True)
    op.create_table(
        "carers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("relationship_to_child", sa.String(length=50), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("parental_responsibility", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_carers_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carers")),
    )
    op.create_index(op.f("ix_carers_child_id"), "carers", ["child_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=60), nullable=True),
        sa.Column("outcome_detail", sa.JSON(), nullable=True),
        sa.Column("escalations", sa.JSON(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("signed_off_by", sa.String(length=100), nullable=True),
        sa.Column("enquiries_complete_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_cases_child_id_children")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_child_id"), "cases", ["child_id"], unique=False)
    op.create_index(op.f("ix_cases_status"), "cases", ["status"], unique=False)
    op.create_table(
        "child_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("line1", sa.String(length=200), nullable=True),
        sa.Column("line2", sa.String(length=200), nullable=True),
        sa.Column("town", sa.String(length=100), nullable=True),
        sa.Column("postcode", sa.String(length=10), nullable=True),
        sa.Column("from_date", sa.Date(), nullable=True),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_child_addresses_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_addresses")),
    )
    op.create_index(
        op.f("ix_child_addresses_child_id"), "child_addresses", ["child_id"], unique=False
    )
    op.create_index(
        op.f("ix_child_addresses_postcode"), "child_addresses", ["postcode"], unique=False
    )
    op.create_table(
        "siblings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("school", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_siblings_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_siblings")),
    )
    op.create_index(op.f("ix_siblings_child_id"), "siblings", ["child_id"], unique=False)
    op.create_table(
        "enquiry_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=60), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_enquiry_log_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enquiry_log")),
    )
    op.create_index(op.f("ix_enquiry_log_case_id"), "enquiry_log", ["case_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("to_addrs", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_outbox_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index(op.f("ix_outbox_case_id"), "outbox", ["case_id"], unique=False)
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("referrer_name", sa.String(length=200), nullable=True),
        sa.Column("referrer_role", sa.String(length=200), nullable=True),
        sa.Column("referrer_organisation", sa.String(length=200), nullable=True),
        sa.Column("referrer_email", sa.String(length=254), nullable=True),
        sa.Column("referrer_phone", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("urgency", sa.String(length=20), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=True),
        sa.Column("date_last_attended", sa.Date(), nullable=True),
        sa.Column("date_last_seen", sa.Date(), nullable=True),
        sa.Column("actions_taken", sa.JSON(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=True),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("raw_ref", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_referrals_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    op.create_index(op.f("ix_referrals_case_id"), "referrals", ["case_id"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_tasks_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_case_id"), "tasks", ["case_id"], unique=False)
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due"], unique=False)
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_timeline_entries_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_entries")),
    )
    op.create_index(
        op.f("ix_timeline_entries_case_id"), "timeline_entries", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_timeline_entries_case_id"), table_name="timeline_entries")
    op.drop_table("timeline_entries")
    op.drop_index("ix_tasks_status_due", table_name="tasks")
    op.drop_index(op.f("ix_tasks_case_id"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_referrals_case_id"), table_name="referrals")
    op.drop_table("referrals")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_index(op.f("ix_outbox_case_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_enquiry_log_case_id"), table_name="enquiry_log")
    op.drop_table("enquiry_log")
    op.drop_index(op.f("ix_siblings_child_id"), table_name="siblings")
    op.drop_table("siblings")
    op.drop_index(op.f("ix_child_addresses_postcode"), table_name="child_addresses")
    op.drop_index(op.f("ix_child_addresses_child_id"), table_name="child_addresses")
    op.drop_table("child_addresses")
    op.drop_index(op.f("ix_cases_status"), table_name="cases")
    op.drop_index(op.f("ix_cases_child_id"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_carers_child_id"), table_name="carers")
    op.drop_table("carers")
    op.drop_index("uq_jobs_kind_key", table_name="jobs")
    op.drop_index("ix_jobs_status_run_at", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index(op.f("ix_children_upn"), table_name="children")
    op.drop_index("ix_children_surname_dob", table_name="children")
    op.drop_table("children")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_table("audit_log")
