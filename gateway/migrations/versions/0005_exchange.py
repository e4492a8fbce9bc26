"""Secure exchange: partners, messages, disclosures, quarantine, proposals, monitoring.

Revision ID: 0005_exchange
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0005_exchange"
down_revision = "0001"
branch_labels = ("exchange",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("la_code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_partners")),
        sa.UniqueConstraint("la_code", name=op.f("uq_exchange_partners_la_code")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_exchange_partners_fingerprint")),
    )
    op.create_table(
        "exchange_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("partner_la", sa.String(length=3), nullable=False),
        sa.Column("doc_type", sa.String(length=20), nullable=False),
        sa.Column("in_reply_to", sa.String(length=36), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("wire", sa.LargeBinary(), nullable=False),
        sa.Column("wire_sha256", sa.String(length=64), nullable=False),
        sa.Column("receipt_wire", sa.LargeBinary(), nullable=True),
        sa.Column("receipt_message_id", sa.String(length=36), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_messages_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_messages")),
        sa.UniqueConstraint(
            "direction", "partner_la", "message_id", name="uq_exchange_messages_key"
        ),
    )
    op.create_index(op.f("ix_exchange_messages_partner_la"), "exchange_messages", ["partner_la"])
    op.create_index(op.f("ix_exchange_messages_in_reply_to"), "exchange_messages", ["in_reply_to"])
    op.create_index(op.f("ix_exchange_messages_case_id"), "exchange_messages", ["case_id"])
    op.create_index(op.f("ix_exchange_messages_status"), "exchange_messages", ["status"])
    op.create_index(
        "ix_exchange_messages_due",
        "exchange_messages",
        ["direction", "status", "next_attempt_at"],
    )
    op.create_table(
        "exchange_disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_la", sa.String(length=3), nullable=False),
        sa.Column("recipient", sa.String(length=500), nullable=False),
        sa.Column("lawful_basis", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("data_items", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_disclosures_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_disclosures")),
    )
    op.create_index(op.f("ix_exchange_disclosures_case_id"), "exchange_disclosures", ["case_id"])
    op.create_table(
        "exchange_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_quarantine")),
    )
    op.create_index(op.f("ix_exchange_quarantine_sha256"), "exchange_quarantine", ["sha256"])
    op.create_table(
        "exchange_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_proposals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["exchange_messages.id"],
            name=op.f("fk_exchange_proposals_message_id_exchange_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_proposals")),
    )
    op.create_index(op.f("ix_exchange_proposals_case_id"), "exchange_proposals", ["case_id"])
    op.create_index(op.f("ix_exchange_proposals_message_id"), "exchange_proposals", ["message_id"])
    op.create_index(op.f("ix_exchange_proposals_status"), "exchange_proposals", ["status"])
    op.create_table(
        "exchange_monitoring",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("partner_la", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_confirmation_at", UTCDateTime(), nullable=True),
        sa.Column("next_check_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_monitoring_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_monitoring")),
        sa.UniqueConstraint("case_id", name=op.f("uq_exchange_monitoring_case_id")),
    )
    op.create_index(op.f("ix_exchange_monitoring_status"), "exchange_monitoring", ["status"])


def downgrade() -> None:
    op.drop_table("exchange_monitoring")
    op.drop_table("exchange_proposals")
    op.drop_table("exchange_quarantine")
    op.drop_table("exchange_disclosures")
    op.drop_table("exchange_messages")
    op.drop_table("exchange_partners")
