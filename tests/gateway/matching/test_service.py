"""Candidates for a referral among open cases and the lost-pupil index, on SQLite and
PostgreSQL: one child gets one case; a lost pupil is found through its own index."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.matching.decisions import Decision, Thresholds
from gateway.matching.records import PartialDate, PersonRecord
from gateway.matching.service import find_candidates
from gateway.settings import load_settings
from lost_pupil.ingest import import_ctf
from lost_pupil.store import FileStore, create_key
from tests.fixtures import ctf_gen as g

T = Thresholds(0.98, 0.5)
AS_OF = date(2026, 11, 1)


@pytest.fixture
def populated(session: Session, tmp_path: Path) -> Session:
    create_key(tmp_path / "k.key")
    store = FileStore(tmp_path / "store", tmp_path / "k.key")
    data = g.ctf_bytes([g.sample_pupil(), *g.many_pupils(120)])
    import_ctf(session, store, io.BytesIO(data), uploader="test", retention_days=30)
    values = {
        "forename": "Caspian",
        "surname": "Thackeray",
        "dob": "2015-06-02",
        "sex": "M",
        "postcode": "TS10 2BD",
        "reason": "not seen since half term",
        "referrer_name": "A Referrer",
        "referrer_email": "ref@school.example",
        "channel": "email",
        "received": "2026-10-20",
    }
    service.log_referral(
        session, load_settings(), build_referral_input(values, today=AS_OF), "test"
    )
    session.commit()
    return session


def test_a_second_referral_finds_the_open_case(populated: Session) -> None:
    q = PersonRecord(
        "r2", forename="Caspian", surname="Thackeray", dob=PartialDate(2015, 2, 6), sex="M"
    )  # day and month swapped
    found = find_candidates(
        populated, q, query_ref="referral:new", thresholds=T, actor="test", as_of=AS_OF
    )
    assert found[0].source == "case"
    assert found[0].candidate.decision is Decision.PROPOSED


def test_a_lost_pupil_is_found_by_preferred_name_and_former_surname(populated: Session) -> None:
    q = PersonRecord(
        "r3",
        forename="Millie",
        surname="Blenkinsop",
        dob=PartialDate(2014, 3, 7),
        sex="F",
        postcode="NE1 4XF",
    )
    found = find_candidates(
        populated, q, query_ref="referral:lp", thresholds=T, actor="test", as_of=AS_OF
    )
    assert found and found[0].source == "lost_pupil"
    ev = {e.field: e.level for e in found[0].candidate.evidence}
    assert ev["surname"] == "former_or_alias" and ev["dob"] == "exact"


def test_nobody_is_proposed_for_an_unknown_child(populated: Session) -> None:
    q = PersonRecord("r4", forename="Perdita", surname="Quarrie", dob=PartialDate(2013, 1, 9))
    found = find_candidates(
        populated, q, query_ref="referral:none", thresholds=T, actor="test", as_of=AS_OF
    )
    assert all(c.candidate.decision is not Decision.PROPOSED for c in found)
