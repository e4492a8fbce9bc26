"""Retention fixtures: a data home made by `cme init` (SQLite and PostgreSQL), its raw store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gateway.home import open_engine
from gateway.intake import rawkeys
from gateway.intake.rawstore import RawStore
from gateway.settings import Settings, load_settings


@pytest.fixture
def home_settings(cme_home: Path) -> Settings:
    return load_settings()


@pytest.fixture
def home_engine(home_settings: Settings) -> Engine:
    return open_engine(home_settings)


@pytest.fixture
def raw_store(home_settings: Settings, home_engine: Engine) -> Iterator[RawStore]:
    store = RawStore(home_settings.home, home_engine)
    yield store
    store.close()
    rawkeys.forget(home_settings.keys_dir)
