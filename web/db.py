"""One database session per request, closed (and rolled back if uncommitted) at the end."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.settings import Settings


def engine() -> Engine:
    eng: Engine = current_app.extensions["cme.engine"]
    return eng


def settings() -> Settings:
    s: Settings = current_app.extensions["cme.settings"]
    return s


def db() -> Session:
    """The request's session; views commit it themselves once their change is complete."""
    if "db" not in g:
        g.db = Session(engine(), expire_on_commit=False)
    session: Session = g.db
    return session


def close_db(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()
