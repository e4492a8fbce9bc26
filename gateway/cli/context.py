"""What every command needs: the settings, the engine and who is acting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from gateway.cli.acting import actor as actor  # who is acting: gateway/cli/acting.py
from gateway.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

# SQLAlchemy, the models and the data home are imported by the first command that opens
# the database, never by importing this module: the file-only commands import it too.


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


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))
