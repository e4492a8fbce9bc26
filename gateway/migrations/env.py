"""Alembic environment: runs on the engine handed over by gateway.db.migrate."""

from __future__ import annotations

from alembic import context

from gateway.db import make_engine
from gateway.models import all_metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # run from the alembic command line
    from gateway.settings import database_url, load_settings

    engine = make_engine(database_url(load_settings()))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=all_metadata(),
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
