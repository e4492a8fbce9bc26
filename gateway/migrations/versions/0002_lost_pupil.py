"""Lost-pupil store: stored CTF files, the pupil index, its blocking keys, disposals.

Revision ID: 0002_lost_pupil
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from lost_pupil.db import UTCDateTime

revision = "0002_lost_pupil"
down_revision = "0001"
branch_labels = ("lost_pupil",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lp_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=True),
        sa.Column("uploader", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("source_laestab", sa.String(length=7), nullable=False),
        sa.Column("dest_code", sa.String(length=7), nullable=False),
        sa.Column("dest_kind", sa.String(length=12), nullable=False),
        sa.Column("ctf_version", sa.String(length=10), nullable=False),
        sa.Column("document_qualifier", sa.String(length=10), nullable=True),
        sa.Column("pupil_count", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(length=200), nullable=True),
        sa.Column("disposed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lp_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_lp_files_sha256")),
    )
    op.create_index(op.f("ix_lp_files_expires_at"), "lp_files", ["expires_at"])
    op.create_index(op.f("ix_lp_files_source_laestab"), "lp_files", ["source_laestab"])
    op.create_table(
        "lp_pupils",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("upn", sa.String(length=13), nullable=True),
        sa.Column("upn_valid", sa.Boolean(), nullable=False),
        sa.Column("surname", sa.String(length=100), nullable=True),
        sa.Column("forename", sa.String(length=100), nullable=True),
        sa.Column("surname_norm", sa.String(length=100), nullable=False),
        sa.Column("forename_norm", sa.String(length=100), nullable=False),
        sa.Column("middle_names", sa.String(length=200), nullable=True),
        sa.Column("other_names", sa.JSON(), nullable=False),
        sa.Column("former_upns", sa.JSON(), nullable=False),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        sa.Column("source_laestab", sa.String(length=7), nullable=False),
        sa.Column("leaving_date", sa.Date(), nullable=True),
        sa.Column("removal_grounds", sa.String(length=40), nullable=True),
        sa.Column("dest_kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("claimed_school", sa.String(length=7), nullable=True),
        sa.Column("claimed_from", sa.Date(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["lp_files.id"],
            name=op.f("fk_lp_pupils_file_id_lp_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lp_pupils")),
    )
    op.create_index(op.f("ix_lp_pupils_dob"), "lp_pupils", ["dob"])
    op.create_index(op.f("ix_lp_pupils_file_id"), "lp_pupils", ["file_id"])
    op.create_index(op.f("ix_lp_pupils_postcode"), "lp_pupils", ["postcode"])
    op.create_index(op.f("ix_lp_pupils_status"), "lp_pupils", ["status"])
    op.create_table(
        "lp_pupil_keys",
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["lp_pupils.id"],
            name=op.f("fk_lp_pupil_keys_pupil_id_lp_pupils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "key", "pupil_id", name=op.f("pk_lp_pupil_keys")),
    )
    op.create_index("ix_lp_pupil_keys_pupil_id", "lp_pupil_keys", ["pupil_id"])
    op.create_table(
        "lp_disposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pupils", sa.Integer(), nullable=False),
        sa.Column("disposed_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lp_disposals")),
    )
    op.create_table(
        "lp_school_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("laestab", sa.String(length=7), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lp_school_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_lp_school_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_lp_school_tokens_laestab"), "lp_school_tokens", ["laestab"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lp_school_tokens_laestab"), table_name="lp_school_tokens")
    op.drop_table("lp_school_tokens")
    op.drop_table("lp_disposals")
    op.drop_index("ix_lp_pupil_keys_pupil_id", table_name="lp_pupil_keys")
    op.drop_table("lp_pupil_keys")
    for name in ("status", "postcode", "file_id", "dob"):
        op.drop_index(op.f(f"ix_lp_pupils_{name}"), table_name="lp_pupils")
    op.drop_table("lp_pupils")
    op.drop_index(op.f("ix_lp_files_source_laestab"), table_name="lp_files")
    op.drop_index(op.f("ix_lp_files_expires_at"), table_name="lp_files")
    op.drop_table("lp_files")
