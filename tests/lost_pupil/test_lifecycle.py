"""Claims (and the event other parts subscribe to), legal holds, expiry and disposal."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from lost_pupil import events
from lost_pupil.errors import LostPupilError
from lost_pupil.ingest import import_ctf
from lost_pupil.lifecycle import claim, expire_due, purge_disposed, set_hold
from lost_pupil.models import CtfFileRecord, Disposal, LostPupil, PupilStatus
from lost_pupil.search import SearchQuery, search
from lost_pupil.store import FileStore, create_key
from tests.fixtures import ctf_gen as g

NOW = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    create_key(tmp_path / "k.key")
    return FileStore(tmp_path / "store", tmp_path / "k.key")


@pytest.fixture
def pupil_id(session, store):
    data = g.ctf_bytes([g.sample_pupil()])
    import_ctf(session, store, io.BytesIO(data), uploader="t", retention_days=30, now=NOW)
    session.commit()
    return search(session, SearchQuery(upn="R807300024001"))[0].id


def test_claim_closes_the_record_and_tells_subscribers(session, pupil_id):
    seen = []
    unsubscribe = events.subscribe(events.PupilClaimed, lambda s, e: seen.append((s, e)))
    try:
        event = claim(
            session,
            pupil_id,
            school_laestab="8063001",
            on_roll_from=date(2025, 11, 3),
            actor="officer",
            now=NOW,
        )
    finally:
        unsubscribe()
    session.commit()
    assert seen == [(session, event)]
    assert event.upn == "R807300024001" and event.former_upns == ("H80730002307A",)
    assert event.school_laestab == "8063001"
    row = session.get(LostPupil, pupil_id)
    assert (row.status, row.claimed_school, row.claimed_from) == (
        PupilStatus.CLAIMED,
        "8063001",
        date(2025, 11, 3),
    )
    with pytest.raises(LostPupilError, match="not open"):
        claim(
            session,
            pupil_id,
            school_laestab="8063001",
            on_roll_from=date(2025, 11, 3),
            actor="officer",
            now=NOW,
        )


def test_a_failing_subscriber_rolls_the_claim_back(session, pupil_id):
    def broken(_s, _e):
        raise RuntimeError("monitoring is down")

    unsubscribe = events.subscribe(events.PupilClaimed, broken)
    try:
        with pytest.raises(RuntimeError):
            claim(
                session,
                pupil_id,
                school_laestab="8063001",
                on_roll_from=date(2025, 11, 3),
                actor="officer",
                now=NOW,
            )
    finally:
        unsubscribe()
    session.rollback()
    assert session.get(LostPupil, pupil_id).status == PupilStatus.OPEN


@pytest.mark.parametrize(
    ("school", "when", "message"),
    [("80630", date(2025, 11, 3), "LAESTAB"), ("8063001", date(2026, 1, 1), "future")],
)
def test_bad_claims_are_refused(session, pupil_id, school, when, message):
    with pytest.raises(LostPupilError, match=message):
        claim(session, pupil_id, school_laestab=school, on_roll_from=when, actor="o", now=NOW)


def test_expiry_disposes_logs_and_respects_legal_hold(session, store, pupil_id):
    other = g.ctf_bytes(list(g.many_pupils(5)))
    import_ctf(session, store, io.BytesIO(other), uploader="t", retention_days=60, now=NOW)
    session.commit()
    files = session.execute(select(CtfFileRecord).order_by(CtfFileRecord.id)).scalars().all()
    set_hold(session, files[1].id, hold=True, reason="court order 123")
    with pytest.raises(LostPupilError, match="reason"):
        set_hold(session, files[0].id, hold=True)

    assert expire_due(session, actor="job", now=NOW + timedelta(days=29)).files == 0
    report = expire_due(session, actor="job", now=NOW + timedelta(days=61))
    session.commit()
    assert (report.files, report.pupils, report.held_back) == (1, 1, 1)
    assert session.get(LostPupil, pupil_id) is None
    held = session.scalars(select(LostPupil.status).where(LostPupil.file_id == files[1].id))
    assert set(held) == {PupilStatus.EXPIRED}
    log = session.execute(select(Disposal)).scalars().one()
    assert (log.sha256, log.pupils, log.actor) == (files[0].sha256, 1, "job")
    assert store.exists(files[0].sha256)
    assert purge_disposed(session, store) == 1
    assert not store.exists(files[0].sha256) and store.exists(files[1].sha256)
    assert purge_disposed(session, store) == 0
    assert session.scalar(select(func.count()).select_from(CtfFileRecord)) == 2
