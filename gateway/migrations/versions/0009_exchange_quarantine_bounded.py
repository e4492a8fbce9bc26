"""Exchange quarantine: a bounded record for what no pinned partner signed.

New columns: size, prefix (the first bytes), peer, signer_la, raw_ref; raw becomes
optional (kept only for a message a pinned partner signed). Existing rows keep their
bytes and get their size and prefix from them.

Revision ID: 0009_exchange_quarantine_bounded
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_exchange_quarantine_bounded"
down_revision = "0001"
branch_labels = ("exchange_quarantine_bounded",)
depends_on = ("0005_exchange",)

PREFIX_BYTES = 256


def upgrade() -> None:
    with op.batch_alter_table("exchange_quarantine") as batch:
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prefix", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("peer", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("signer_la", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("raw_ref", sa.String(length=100), nullable=True))
        batch.alter_column("raw", existing_type=sa.LargeBinary(), nullable=True)
    # length() and substr() count bytes for a BLOB (SQLite) and a bytea (PostgreSQL).
    op.execute(
        "UPDATE exchange_quarantine "
        f"SET size = length(raw), prefix = substr(raw, 1, {PREFIX_BYTES})"
    )
    with op.batch_alter_table("exchange_quarantine") as batch:
        batch.alter_column("size", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prefix", existing_type=sa.LargeBinary(), nullable=False)


def downgrade() -> None:
    # A bounded record keeps its first bytes as its raw: the row survives, shortened.
    op.execute("UPDATE exchange_quarantine SET raw = prefix WHERE raw IS NULL")
    with op.batch_alter_table("exchange_quarantine") as batch:
        batch.alter_column("raw", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("raw_ref")
        batch.drop_column("signer_la")
        batch.drop_column("peer")
        batch.drop_column("prefix")
        batch.drop_column("size")
