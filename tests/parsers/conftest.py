"""The parsers stop reading after a wall-clock limit (a guard for the service, where a
hostile message must not hold a worker). What they read before it depends on how busy the
machine is, so here the limit is lifted: every test sees the same draft on a loaded
machine as on a quiet one. tests/parsers/test_time_limit.py tests the limit itself, with
one already passed (deterministic too)."""

from __future__ import annotations

import pytest

import parsers.mime
import parsers.referral


@pytest.fixture(autouse=True)
def no_wall_clock_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsers.mime, "MAX_SECONDS", float("inf"))
    monkeypatch.setattr(parsers.referral, "MAX_SECONDS", float("inf"))
