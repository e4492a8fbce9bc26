"""One disclosure register: every kind of disclosure (not only exchange messages), the
lawful basis as a code from a fixed list, and who approved it.

Revision ID: 0014_disclosures
Revises: 0013_casework
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_disclosures"
down_revision = "0013_casework"
branch_labels = ("disclosures",)
depends_on = ("0005_exchange",)


def upgrade() -> None:
    with op.batch_alter_table("exchange_disclosures") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(30), nullable=False, server_default="exchange")
        )
        batch.add_column(sa.Column("basis", sa.String(30), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(100), nullable=True))
        batch.alter_column("message_id", existing_type=sa.String(36), nullable=True)
        batch.alter_column("recipient_la", existing_type=sa.String(3), nullable=True)
        batch.create_index(op.f("ix_exchange_disclosures_at"), ["at"])
    with op.batch_alter_table("exchange_disclosures") as batch:
        batch.alter_column("kind", server_default=None)
    op.execute(
        "UPDATE exchange_disclosures SET basis = 'public_task', approved_by = actor "
        "WHERE basis IS NULL"
    )


def downgrade() -> None:
    op.execute("DELETE FROM exchange_disclosures WHERE message_id IS NULL OR recipient_la IS NULL")
    with op.batch_alter_table("exchange_disclosures") as batch:
        batch.drop_index(op.f("ix_exchange_disclosures_at"))
        batch.alter_column("recipient_la", existing_type=sa.String(3), nullable=False)
        batch.alter_column("message_id", existing_type=sa.String(36), nullable=False)
        batch.drop_column("approved_by")
        batch.drop_column("basis")
        batch.drop_column("kind")
