"""Users: server-side console sessions, sign-in attempts for throttling, sealed TOTP secrets.

The per-account lockout columns go: throttling now works from signin_attempts, by client
address and by (name, address), so nobody can lock a real user out from elsewhere.
TOTP secrets still in clear are sealed by `cme init` (a migration cannot see keys/).

Revision ID: 0010_sessions
Revises: 0006_users
"""

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision = "0010_sessions"
down_revision = "0006_users"
branch_labels = ("sessions",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )
        batch.drop_column("failed_attempts")
        batch.drop_column("locked_until")
    op.create_table(
        "signin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_attempts")),
    )
    op.create_index("ix_signin_attempts_at", "signin_attempts", ["at"])
    op.create_index("ix_signin_attempts_client_at", "signin_attempts", ["client", "at"])
    op.create_index(
        "ix_signin_attempts_username_client_at", "signin_attempts", ["username", "client", "at"]
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_console_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_sessions_token_hash")),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index("ix_signin_attempts_username_client_at", table_name="signin_attempts")
    op.drop_index("ix_signin_attempts_client_at", table_name="signin_attempts")
    op.drop_index("ix_signin_attempts_at", table_name="signin_attempts")
    op.drop_table("signin_attempts")
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", UTCDateTime(), nullable=True))
        # Sealed secrets do not fit the old column: PostgreSQL refuses rather than cut them.
        batch.alter_column(
            "totp_secret", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
