"""Shared fixtures: real SQLite and PostgreSQL databases, a data home, the CLI."""

from __future__ import annotations

import enum
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from gateway.db import make_engine, migrate
from tests.support.postgres import Cluster, Unavailable, start_cluster

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Settings come from the environment; tests start from a clean slate of CME_* variables.
for _k in [k for k in os.environ if k.startswith("CME_") and not k.startswith("CME_TEST_")]:
    del os.environ[_k]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        cluster = start_cluster()
    except Unavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"POSTGRESQL UNAVAILABLE, PostgreSQL tests skipped: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_url(pg_cluster: Cluster) -> str:
    return pg_cluster.url


@pytest.fixture(scope="session")
def _pg_template(pg_cluster: Cluster) -> str:
    """A database migrated to head once; each test gets a copy (CREATE DATABASE ... TEMPLATE)."""
    admin = create_engine(pg_cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE cme_template"))
    admin.dispose()
    engine = make_engine(pg_cluster.url_for("cme_template"))
    migrate(engine)
    engine.dispose()
    return "cme_template"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


_counter = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated to head, on each engine in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "cme.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    tmpl = request.getfixturevalue("_pg_template")
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {tmpl}'))
    try:
        yield cluster.url_for(name)
    finally:
        from gateway.home import _engine_for

        _engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def cme_home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data home made by `cme init`, with CME_HOME and CME_DATABASE_URL set."""
    from gateway.home import _engine_for, init_home
    from gateway.settings import load_settings

    home = tmp_path / "home"
    monkeypatch.setenv("CME_HOME", str(home))
    monkeypatch.setenv("CME_DATABASE_URL", db_url)
    init_home(load_settings())
    yield home
    _engine_for.cache_clear()


#: The user the `cli` fixture acts as (`cme --as tester ...`): an officer, made in the
#: test's data home when the test has one.
CLI_USER = "tester"


class _Unset(enum.Enum):
    UNSET = 0


class CliCall:
    """Runs `cme` in-process, as `as_user` (passed as `--as`) unless a call says otherwise:
    `cli(..., as_user=None)` runs with no user named, `as_user="mo"` as someone else."""

    def __init__(self, as_user: str | None = None) -> None:
        self.runner = CliRunner()
        self.as_user = as_user

    def __call__(
        self, *args: Any, input: str | None = None, as_user: str | _Unset | None = _Unset.UNSET
    ) -> Result:
        from gateway.cli.main import cli

        who = self.as_user if isinstance(as_user, _Unset) else as_user
        argv = (["--as", who] if who else []) + [str(a) for a in args]
        return self.runner.invoke(cli, argv, input=input, catch_exceptions=False)

    @staticmethod
    def add_user(username: str, role: str = "officer", *, active: bool = True) -> str:
        """A user in the data home's database, written directly (no audit entry, no usable
        password): someone for the CLI to act as."""
        from gateway.cli.context import unit_of_work
        from gateway.models.users import User

        with unit_of_work() as (_s, session):
            session.add(
                User(
                    username=username,
                    display_name=username.title(),
                    role=role,
                    password_hash="!",
                    active=active,
                )
            )
        return username


@pytest.fixture
def cli(request: pytest.FixtureRequest) -> CliCall:
    """`cme` as the officer CLI_USER when the test has a data home (`cme_home`), else
    with no user (commands that need none: --help, parse, an uninitialised home)."""
    if "cme_home" not in request.fixturenames:
        return CliCall()
    request.getfixturevalue("cme_home")
    return CliCall(CliCall.add_user(CLI_USER))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the parser processes dispatch started while the session is still running, not
    at interpreter exit, where pytest-xdist interrupts a worker's main thread to end it."""
    import sys

    parsing = sys.modules.get("gateway.intake.parsing")
    if parsing is not None:
        parsing.close_pools()
