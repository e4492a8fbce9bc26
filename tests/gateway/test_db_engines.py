"""Both engines migrate and hold data; the models match the migrations head."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from gateway.db import alembic_config, make_engine, migrate
from gateway.models import all_metadata


def test_models_match_migrations_head(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, all_metadata())
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_migration_goes_down_and_up(db_url: str) -> None:
    eng = make_engine(db_url)
    cfg = alembic_config(eng)
    command.downgrade(cfg, "base")
    assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
    migrate(eng)
    assert "cases" in inspect(eng).get_table_names()
    eng.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    eng.dispose()
