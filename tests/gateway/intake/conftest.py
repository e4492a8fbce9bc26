"""Intake fixtures: settings on a temp home, a raw store, a live SMTP listener."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gateway.intake.rawstore import RawStore
from gateway.intake.smtp import SmtpListener
from gateway.settings import Settings, load_settings

INBOX = "cme@redcar-cleveland.example"


@pytest.fixture
def intake_settings(tmp_path: Path) -> Settings:
    return load_settings({"CME_HOME": str(tmp_path / "home")})


@pytest.fixture
def store(intake_settings: Settings, engine: Engine) -> Iterator[RawStore]:
    s = RawStore(intake_settings.home, engine)
    yield s
    s.close()


@pytest.fixture
def smtp_server(
    intake_settings: Settings, store: RawStore
) -> Iterator[tuple[str, int, SmtpListener]]:
    s = dataclasses.replace(
        intake_settings,
        smtp=dataclasses.replace(intake_settings.smtp, max_message_size=200_000),
    )
    listener = SmtpListener(s, store, port=0)
    host, port = listener.start()
    yield host, port, listener
    listener.stop(grace=1)
