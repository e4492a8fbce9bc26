"""The batched index writer: what a multi-batch import writes (rows, keys, values as Core
would bind them) and that a file failing after whole batches were written leaves nothing;
on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lost_pupil import index
from lost_pupil.index import row_keys
from lost_pupil.ingest import collector_paused, import_ctf
from lost_pupil.models import CtfFileRecord, LostPupil, PupilKey
from lost_pupil.store import FileStore, create_key
from parsers.errors import ParseError
from tests.fixtures import ctf_gen as g


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    create_key(tmp_path / "k.key")
    return FileStore(tmp_path / "store", tmp_path / "k.key")


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Several batches (and id reservations on PostgreSQL) from a handful of pupils.
    monkeypatch.setattr(index, "BATCH", 3)


def _import(session: Session, store: FileStore, data: bytes) -> object:
    return import_ctf(session, store, io.BytesIO(data), uploader="test", retention_days=30)


def _pupils() -> list[g.GenPupil]:
    people = list(g.many_pupils(8, seed=17))
    # One of each awkward shape: former UPN equal to the current one, accented and
    # hyphenated names, former surname and preferred forename, no UPN at all.
    people[1] = g.sample_pupil()
    people[2] = g.sample_pupil(
        upn=g.make_upn("807", "3000", 20, 7),
        surname="O'Néil-Smith",
        forename="Zoë",
        former_upns=(g.make_upn("807", "3000", 20, 7),),
    )
    people[3] = g.sample_pupil(upn=None, surname="Dunn", forename="Amy", former_upns=())
    return people


def _stored_keys_match_rows(session: Session, rows: Sequence[LostPupil]) -> None:
    stored = [(k.kind, k.key, k.pupil_id) for k in session.scalars(select(PupilKey)).all()]
    expected = set()
    for r in rows:
        as_dict = {
            "upn": r.upn,
            "former_upns": r.former_upns,
            "surname_norm": r.surname_norm,
            "forename_norm": r.forename_norm,
            "other_names": r.other_names,
        }
        expected |= {(kind, key, r.id) for kind, key in row_keys(as_dict)}
    assert sorted(stored) == sorted(expected)


def test_every_pupil_row_and_key_is_written_across_batches(session: Session, store: FileStore):
    data = g.ctf_bytes(_pupils(), g.CtfOptions())
    result = _import(session, store, data)
    session.commit()
    assert result.pupils == 8  # type: ignore[attr-defined]
    rows = session.scalars(select(LostPupil).order_by(LostPupil.position)).all()
    assert [r.position for r in rows] == list(range(1, 9))
    assert len({r.id for r in rows}) == 8
    zoe = rows[2]
    assert (zoe.surname_norm, zoe.forename_norm) == ("ONEIL-SMITH", "ZOE")
    assert zoe.former_upns == [zoe.upn]
    assert zoe.upn_valid is True
    assert isinstance(zoe.dob, date) and isinstance(zoe.leaving_date, date)
    assert rows[3].upn is None and rows[3].upn_valid is False
    assert rows[3].problems == ["UPN is missing"]
    assert rows[0].problems == [] and rows[0].status == "open"
    known = rows[1]
    assert {o["kind"] for o in known.other_names} >= {"preferred"}
    _stored_keys_match_rows(session, rows)


def test_every_row_and_key_at_the_default_batch_size(
    session: Session, store: FileStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(index, "BATCH", 5000)
    people = list(g.many_pupils(47, seed=3))
    _import(session, store, g.ctf_bytes(people, g.CtfOptions()))
    session.commit()
    rows = session.scalars(select(LostPupil).order_by(LostPupil.position)).all()
    assert [(r.position, r.surname, r.dob) for r in rows] == [
        (n, p.surname, p.dob) for n, p in enumerate(people, start=1)
    ]
    assert [r.id for r in rows] == list(range(rows[0].id, rows[0].id + 47))
    _stored_keys_match_rows(session, rows)


def test_a_file_failing_after_written_batches_leaves_nothing(session: Session, store: FileStore):
    data = g.ctf_bytes(_pupils(), g.CtfOptions())
    cut = data[: data.rindex(b"<Pupil>") + 40]  # seven whole pupils, then a truncated one
    with pytest.raises(ParseError):
        _import(session, store, cut)
    session.commit()
    assert session.scalar(select(func.count()).select_from(CtfFileRecord)) == 0
    assert session.scalar(select(func.count()).select_from(LostPupil)) == 0
    assert session.scalar(select(func.count()).select_from(PupilKey)) == 0
    assert not any((store.root / "tmp").iterdir())
    assert not any((store.root / "objects").iterdir())
    if session.get_bind().dialect.name == "sqlite":
        # The import's larger page cache is not left on the pooled connection.
        assert session.connection().execute(text("PRAGMA cache_size")).scalar_one() == -2000


def test_a_one_pupil_file_takes_one_id(session: Session, store: FileStore):
    # Most lost-pupil files hold one child: a batch's worth of ids is not spent on each.
    first = g.ctf_bytes([g.sample_pupil()], g.CtfOptions())
    second = g.ctf_bytes([g.sample_pupil(forename="Grace")], g.CtfOptions())
    _import(session, store, first)
    _import(session, store, second)
    session.commit()
    ids = session.scalars(select(LostPupil.id).order_by(LostPupil.id)).all()
    assert len(ids) == 2 and ids[1] == ids[0] + 1


def test_a_column_null_in_a_whole_batch_is_stored_null(session: Session, store: FileStore):
    # A batch whose rows all lack a value leaves that column out of its INSERT: the rows
    # are the same as when it is bound as NULL, beside a batch that has the values.
    bare = [
        g.sample_pupil(upn=None, former_upns=(), middle_names=None, forename=name)
        for name in ("Amy", "Ben", "Cal")
    ]
    full = [
        g.sample_pupil(middle_names="Rose", forename=name, upn=g.make_upn("807", "3000", 21, n))
        for n, name in enumerate(("Dee", "Eve", "Fay"), start=1)
    ]
    _import(session, store, g.ctf_bytes(bare + full, g.CtfOptions()))
    session.commit()
    rows = session.scalars(select(LostPupil).order_by(LostPupil.position)).all()
    assert [(r.upn is None, r.middle_names) for r in rows] == [(True, None)] * 3 + [
        (False, "Rose")
    ] * 3
    assert all(r.upn_valid for r in rows[3:]) and not any(r.upn_valid for r in rows[:3])
    raw = session.execute(
        text("SELECT count(*) FROM lp_pupils WHERE upn IS NULL AND middle_names IS NULL")
    ).scalar_one()
    assert raw == 3


def test_the_collector_is_paused_while_pupils_are_read_and_resumed_after(
    session: Session, store: FileStore, monkeypatch: pytest.MonkeyPatch
):
    seen: list[bool] = []
    add = index.IndexWriter.add

    def watched(self: index.IndexWriter, pupil: object) -> None:
        seen.append(gc.isenabled())
        add(self, pupil)  # type: ignore[arg-type]

    monkeypatch.setattr(index.IndexWriter, "add", watched)
    assert gc.isenabled()
    data = g.ctf_bytes(_pupils(), g.CtfOptions())
    _import(session, store, data)
    assert len(seen) == 8 and not any(seen)
    assert gc.isenabled()
    with pytest.raises(ParseError):
        _import(session, store, data[: data.rindex(b"<Pupil>") + 40])
    assert gc.isenabled()


def test_overlapping_pauses_resume_the_collector_once_the_last_ends():
    assert gc.isenabled()
    outer = collector_paused()
    outer.__enter__()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the first pause is still running
    outer.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()
