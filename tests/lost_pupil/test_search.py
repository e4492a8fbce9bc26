"""Import into the index and search it, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from lost_pupil.errors import LostPupilError
from lost_pupil.ingest import import_ctf
from lost_pupil.models import CtfFileRecord, LostPupil, PupilKey
from lost_pupil.search import Outcome, SearchQuery, candidates_by_keys, search
from lost_pupil.store import FileStore, create_key
from parsers.errors import ParseError
from tests.fixtures import ctf_gen as g


@pytest.fixture
def store(tmp_path):
    create_key(tmp_path / "k.key")
    return FileStore(tmp_path / "store", tmp_path / "k.key")


def load(session, store, data: bytes, **kw):
    result = import_ctf(session, store, io.BytesIO(data), uploader="test", retention_days=30, **kw)
    session.commit()
    return result


@pytest.fixture
def indexed(session, store):
    """The sample pupil in a lost file, among 300 others across two files."""
    load(session, store, g.ctf_bytes([g.sample_pupil()]))
    load(session, store, g.ctf_bytes(list(g.many_pupils(300)), g.CtfOptions(dest="MMMMMMM")))
    return session


def top(session, **q):
    found = search(session, SearchQuery(**q), limit=5)
    assert found, f"nothing found for {q}"
    return found[0]


def test_import_indexes_every_pupil_and_records_the_file(indexed):
    files = indexed.execute(select(CtfFileRecord).order_by(CtfFileRecord.id)).scalars().all()
    assert [(f.dest_kind, f.pupil_count, f.source_laestab) for f in files] == [
        ("lost", 1, "8073000"),
        ("out_of_s2s", 300, "8073000"),
    ]
    assert files[0].uploader == "test" and files[0].dest_code == "XXXXXXX"
    assert indexed.scalar(select(func.count()).select_from(LostPupil)) == 301
    assert indexed.scalar(select(func.count()).select_from(PupilKey)) > 301


def test_same_file_twice_is_indexed_once(indexed, store):
    again = load(indexed, store, g.ctf_bytes([g.sample_pupil()]))
    assert again.duplicate
    assert indexed.scalar(select(func.count()).select_from(LostPupil)) == 301


def test_rejected_file_leaves_nothing(session, store):
    data = g.ctf_bytes(list(g.many_pupils(50)))[:-100]
    with pytest.raises(ParseError):
        import_ctf(session, store, io.BytesIO(data), uploader="t", retention_days=1)
    session.commit()
    assert session.scalar(select(func.count()).select_from(LostPupil)) == 0
    assert session.scalar(select(func.count()).select_from(CtfFileRecord)) == 0
    assert not list((store.root / "objects").iterdir())
    assert not list((store.root / "tmp").iterdir())


def test_by_upn(indexed):
    c = top(indexed, upn="R807300024001")
    assert (c.surname, c.evidence[0].outcome) == ("Featherstone", Outcome.EXACT)


def test_by_former_upn(indexed):
    c = top(indexed, upn="h807 3000 2307a")
    assert c.surname == "Featherstone"
    assert c.evidence[0].outcome is Outcome.FORMER


def test_by_names_with_a_typo(indexed):
    c = top(indexed, forename="Amelia", surname="Featherstnoe")
    assert c.surname == "Featherstone"
    assert {e.field: e.outcome for e in c.evidence}["surname"] is Outcome.FUZZY


def test_by_dob_with_day_and_month_swapped(indexed):
    c = top(indexed, surname="Featherstone", dob=date(2014, 7, 3))
    assert c.upn == "R807300024001"
    assert {e.field: e.outcome for e in c.evidence}["dob"] is Outcome.SWAPPED


def test_by_former_surname_and_preferred_forename(indexed):
    c = top(indexed, forename="Millie", surname="Blenkinsop", dob=date(2014, 3, 7))
    assert c.surname == "Featherstone"
    ev = {e.field: e.outcome for e in c.evidence}
    assert ev["surname"] is Outcome.FORMER and ev["forename"] is Outcome.FORMER


def test_by_swapped_forename_and_surname(indexed):
    c = top(indexed, forename="Featherstone", surname="Amelia")
    assert c.surname == "Featherstone"
    assert {e.field: e.outcome for e in c.evidence}["surname"] is Outcome.SWAPPED


def test_by_postcode_and_sex_only(indexed):
    found = search(indexed, SearchQuery(postcode="ts101aa", sex="F"))
    assert any(c.surname == "Featherstone" for c in found)


def test_ranking_puts_the_right_child_first_and_scores_are_ordered(indexed):
    found = search(
        indexed, SearchQuery(forename="Amelia", surname="Featherstone", dob=date(2014, 3, 7))
    )
    assert found[0].upn == "R807300024001"
    assert found[0].score > 0.99
    assert [c.weight for c in found] == sorted((c.weight for c in found), reverse=True)


def test_a_stranger_is_not_found(indexed):
    found = search(
        indexed, SearchQuery(forename="Zebedee", surname="Quixotic", dob=date(2001, 1, 1))
    )
    assert all(c.score < 0.5 for c in found)


def test_candidates_by_keys_for_the_matcher(indexed):
    pid = top(indexed, upn="R807300024001").id
    found = candidates_by_keys(indexed, upns=["H80730002307A"], dobs=[date(2014, 7, 3)])
    assert found[pid] == {"upn", "dob"}


def test_status_filter(indexed):
    q = SearchQuery(upn="R807300024001", statuses=("claimed",))
    assert search(indexed, q) == []


def test_oversized_upload_is_refused_before_parsing(session, store):
    data = g.ctf_bytes(list(g.many_pupils(20)))
    with pytest.raises(ParseError, match="over the limit"):
        import_ctf(session, store, io.BytesIO(data), uploader="t", retention_days=1, max_bytes=1000)
    assert not isinstance(ParseError("x"), LostPupilError)
    assert session.scalar(select(func.count()).select_from(CtfFileRecord)) == 0
