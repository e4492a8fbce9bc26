"""The promise, short form: SIGKILL `cme run` mid-stream; every 250 is stored once and
dispatched. (`make soak` runs the long form.)"""

from __future__ import annotations

from pathlib import Path

from tests.support.crashload import run_crash


def test_sigkill_during_smtp_intake_loses_and_duplicates_nothing(
    tmp_path: Path, db_url: str
) -> None:
    report = run_crash(tmp_path / "home", messages=300, connections=8, kills=3, database_url=db_url)
    assert report.kills == 3
    assert report.acknowledged == report.messages  # clients retried until they got 250
    assert report.missing == 0
    assert report.stored == report.messages  # exactly once each, retries deduplicated
    assert report.dispatched == report.stored
