"""The settings, the engine and a unit of work, opened by the first command that needs them.

SQLAlchemy, the models and the data home are imported on first use, never by importing this
module: `cme --help` and the file-only commands import it too. gateway/cli/context.py gives
commands these with `actor()`; gateway/cli/acting.py checks the acting user through them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gateway.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session


def settings() -> Settings:
    return load_settings()


def engine(s: Settings | None = None) -> Engine:
    from gateway.home import open_engine

    return open_engine(s or settings())


@contextmanager
def unit_of_work(s: Settings | None = None) -> Iterator[tuple[Settings, Session]]:
    from gateway.db import session_scope

    s = s or settings()
    with session_scope(engine(s)) as session:
        yield s, session
