"""Lost-pupil index: lp_pupil_keys rebuilt WITHOUT ROWID on SQLite. Its primary key
(kind, key, pupil_id) is every column it has, so a rowid table kept each key twice: once
in the table's rowid B-tree and again in the primary key's index. Clustered on the
primary key, each key stored is one B-tree insert fewer and the table half the size;
searches read the same index they did. PostgreSQL has no rowid table: unchanged there.

Revision ID: 0019_lp_keys_without_rowid
Revises: 0018_lp_status_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_lp_keys_without_rowid"
down_revision = "0018_lp_status_index"
branch_labels = ("lp_keys_without_rowid",)
depends_on = None

_TABLE = "lp_pupil_keys"
_INDEX = "ix_lp_pupil_keys_pupil_id"


def _rebuild(*, with_rowid: bool) -> None:
    """Copy the keys into a new table of the other kind, in key order, and swap it in."""
    if op.get_bind().dialect.name != "sqlite":
        return
    new = f"{_TABLE}_new"
    op.create_table(
        new,
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["lp_pupils.id"],
            name="fk_lp_pupil_keys_pupil_id_lp_pupils",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "key", "pupil_id", name="pk_lp_pupil_keys"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(
        f"INSERT INTO {new} (kind, key, pupil_id) "
        f"SELECT kind, key, pupil_id FROM {_TABLE} ORDER BY kind, key, pupil_id"
    )
    op.drop_index(_INDEX, table_name=_TABLE)
    op.drop_table(_TABLE)
    op.rename_table(new, _TABLE)
    op.create_index(_INDEX, _TABLE, ["pupil_id"])


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
