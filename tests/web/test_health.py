"""`/healthz`: 200 when the database answers, 503 when it does not; public, sessionless."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from gateway.db import make_engine
from gateway.models.audit import AuditEntry
from gateway.models.users import ConsoleSession
from tests.web.conftest import WebClient, WebEnv
from web.app import create_app
from web.server import close_app

COOKIE = "cme_session"


def _audit_count(web: WebEnv) -> int:
    with web.session() as s:
        return int(s.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def _sessions(web: WebEnv) -> list[tuple[object, ...]]:
    with web.session() as s:
        rows = s.execute(select(ConsoleSession.last_seen_at, ConsoleSession.ended_at))
        return [tuple(r) for r in rows]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable(web: WebEnv, tmp_path: Path) -> Iterator[Engine]:
    """A real engine of the same kind that cannot reach its database: PostgreSQL on a port
    nothing listens on; SQLite at a path that is a directory (unreadable even as root)."""
    if web.engine.dialect.name == "postgresql":
        url = f"postgresql+psycopg://cme@127.0.0.1:{_free_port()}/cme"
    else:
        folder = tmp_path / "not-a-database"
        folder.mkdir()
        url = f"sqlite:///{folder}"
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_200_when_the_database_answers(web: WebEnv, client: WebClient) -> None:
    before = _audit_count(web)
    resp = client.raw.get("/healthz")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"status": "ok", "database": "ok"}
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in resp.headers  # no session made for a stranger
    assert _audit_count(web) == before
    assert client.raw.head("/healthz").status_code == 200


def test_503_when_the_database_does_not_answer(
    web: WebEnv, unreachable: Engine, officer: WebClient
) -> None:
    app = create_app(web.settings, unreachable)  # the same data home, a database not there
    try:
        stranger = app.test_client()
        resp = stranger.get("/healthz")
        assert resp.status_code == 503
        assert resp.get_json() == {"status": "unavailable", "database": "unreachable"}
        assert resp.headers["Cache-Control"] == "no-store"
        # A signed-in browser's cookie is not looked at: still the JSON answer, not a 500.
        cookie = officer.raw.get_cookie(COOKIE)
        assert cookie is not None
        browser = app.test_client()
        browser.set_cookie(COOKIE, cookie.value)
        again = browser.get("/healthz")
        assert again.status_code == 503 and again.get_json()["database"] == "unreachable"
    finally:
        close_app(app)
    # ... while the console itself, on the same database, still refuses strangers.
    assert WebClient(web.app).raw.get("/cases").status_code == 302


def test_a_signed_in_browser_gets_no_session_work_and_no_audit(
    web: WebEnv, officer: WebClient
) -> None:
    before_sessions, before_audit = _sessions(web), _audit_count(web)
    resp = officer.raw.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok", "database": "ok"}
    assert _sessions(web) == before_sessions  # not resumed, so not touched
    assert _audit_count(web) == before_audit
    assert b"olivia" not in resp.data


def test_a_writer_holding_the_database_does_not_hold_up_the_check(
    web: WebEnv, client: WebClient
) -> None:
    # On SQLite every transaction begins IMMEDIATE (the write lock); the check takes none.
    with web.engine.connect() as writer, writer.begin():
        writer.execute(select(func.count()).select_from(AuditEntry))
        resp = client.raw.get("/healthz")
        # Had the check waited for the write lock, it would have given up: a 503, not ok.
        assert resp.status_code == 200 and resp.get_json()["database"] == "ok"
