"""Whether this instance can do its work: the database answers a trivial query."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    database: bool

    @property
    def ok(self) -> bool:
        return self.database

    def as_dict(self) -> dict[str, str]:
        """What `/healthz` says: nothing about the data, only whether it can be reached."""
        if self.ok:
            return {"status": "ok", "database": "ok"}
        return {"status": "unavailable", "database": "unreachable"}


def check(engine: Engine) -> Health:
    """Run `SELECT 1` on a pooled connection; a database that cannot be reached is unhealthy.

    The DBAPI connection is used as it is, outside any SQLAlchemy transaction: on SQLite
    every transaction begins IMMEDIATE (gateway.db), and a health check must neither take
    the write lock nor wait for one."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            conn.close()
    except (SQLAlchemyError, dbapi_error) as exc:
        # The type only: a driver's message can name hosts and users.
        log.warning(
            "health check: the database does not answer", extra={"error": type(exc).__name__}
        )
        return Health(database=False)
    return Health(database=True)
