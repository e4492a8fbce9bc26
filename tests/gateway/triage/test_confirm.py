"""A match decision has its consequence, in one transaction, on the timeline and audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.cases.inputs import build_referral_input
from gateway.cases.service import log_referral
from gateway.db import make_engine
from gateway.errors import UserError
from gateway.matching import candidates
from gateway.matching.confirm import Verdict, decide
from gateway.models.audit import AuditEntry
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.matching import MatchCandidate, RegisterEntry
from gateway.models.referral import Referral
from gateway.settings import Settings, load_settings
from gateway.triage import service as triage
from lost_pupil.models import CtfFileRecord, LostPupil

TODAY = date(2026, 11, 27)
UPN = "H807300024123"
AMELIA = {
    "forename": "Amelia", "surname": "Testwell", "dob": "2015-04-03", "sex": "F",
    "postcode": "TS10 1AA", "address_line1": "1 Synthetic Street", "town": "Redcar",
    "reason": "Moved, no forwarding address", "referrer_name": "Ann Head",
    "referrer_email": "head@school.example", "channel": "email", "received": "2026-11-02",
}  # fmt: skip


@pytest.fixture
def home(cme_home: Path) -> tuple[Settings, Engine]:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    yield settings, engine
    engine.dispose()


def _case(s: Session, settings: Settings, **extra: Any) -> int:
    data = build_referral_input({**AMELIA, **extra}, today=TODAY)
    return log_referral(s, settings, data, "test").id


def test_a_confirmed_duplicate_case_is_merged_into_the_older(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        older = _case(s, settings)
        newer = _case(s, settings, forename="Millie", referrer_email="gp@health.example")
        s.commit()
        candidates.refresh(s, settings, f"case:{newer}")
        s.commit()
        row = s.execute(
            select(MatchCandidate).where(MatchCandidate.query_ref == f"case:{newer}")
        ).scalar_one()
        assert row.target_ref == f"case:{older}"
        done = decide(s, settings, f"case:{newer}", f"case:{older}", Verdict.CONFIRMED, "olivia")
        s.commit()
        assert done.case_id == older
    with Session(engine) as s:
        dup = s.get(Case, newer)
        kept = s.get(Case, older)
        assert dup is not None and kept is not None
        assert (dup.status, dup.outcome, dup.merged_into_id) == ("closed", "duplicate", older)
        referrals = s.execute(select(Referral).where(Referral.case_id == older)).scalars().all()
        assert len(referrals) == 2
        open_kinds = (
            s.execute(select(Task.kind).where(Task.case_id == older, Task.status == "open"))
            .scalars()
            .all()
        )
        # One progress update per referrer (two referrers), one chase of the gaps at most.
        assert sorted(open_kinds).count("further_enquiries") <= 1
        assert sorted(open_kinds).count("progress_update") == 2
        summaries = (
            s.execute(select(TimelineEntry.summary).where(TimelineEntry.case_id == older))
            .scalars()
            .all()
        )
        assert any(f"CME-{newer} merged" in x for x in summaries)
        assert s.execute(
            select(AuditEntry).where(AuditEntry.action == "case.merge")
        ).scalar_one().detail == {"kept": older, "merged": newer}


def test_a_confirmed_lost_pupil_gives_the_case_its_upn_and_last_school(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        file = CtfFileRecord(
            sha256="a" * 64, size=1, uploader="test", source_laestab="8073001", dest_code="XXXXXXX",
            dest_kind="lost", ctf_version="25.0", expires_at=datetime.now(UTC) + timedelta(days=9),
        )  # fmt: skip
        s.add(file)
        s.flush()
        pupil = LostPupil(
            file_id=file.id, position=0, upn=UPN, upn_valid=True, surname="Testwell",
            forename="Amelia", dob=date(2015, 4, 3), source_laestab="8073001", dest_kind="lost",
            leaving_date=date(2026, 7, 20),
        )  # fmt: skip
        s.add(pupil)
        s.commit()
        decide(s, settings, f"case:{case_id}", f"lost_pupil:{pupil.id}", Verdict.CONFIRMED, "o")
        s.commit()
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.child.upn, case.last_school) == (UPN, "8073001")


def _entry(s: Session, register: str) -> int:
    entry = RegisterEntry(
        register=register, batch_sha256="b" * 64, source_name="roll.csv", line=2,
        imported_by="test", surname="Testwell", forename="Amelia", dob=date(2015, 4, 3),
        school_laestab="8074001", from_date=date(2026, 9, 3),
    )  # fmt: skip
    s.add(entry)
    s.flush()
    return entry.id


def test_a_confirmed_roll_match_marks_the_case_on_roll(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        entry = _entry(s, "roll")
        done = decide(s, settings, f"case:{case_id}", f"roll:{entry}", Verdict.CONFIRMED, "o")
        s.commit()
        assert "Attendance & Welfare" in done.message
        case = s.get(Case, case_id)
        assert case is not None and case.on_roll and case.on_roll["school"] == "8074001"
        assert case.status != "closed"


def test_a_confirmed_ehe_match_closes_the_case_as_ehe(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        entry = _entry(s, "ehe")
        decide(s, settings, f"case:{case_id}", f"ehe:{entry}", Verdict.CONFIRMED, "o")
        s.commit()
        case = s.get(Case, case_id)
        assert case is not None and (case.status, case.outcome) == ("closed", "ehe_notified")


def test_referral_to_case_attaches_and_a_rejection_is_never_proposed_again(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        s.commit()
        routed = triage.receive(s, settings, {**AMELIA, "forename": "Millie"}, actor="t")
        s.commit()
        assert routed.outcome == "triage"
        q = f"referral:{routed.referral_id}"
        decide(s, settings, q, f"case:{case_id}", Verdict.NOT_SURE, "olivia")
        s.commit()
        assert candidates.candidates_for(s, [q])[q][0].state == "not_sure"
        decide(s, settings, q, f"case:{case_id}", Verdict.CONFIRMED, "olivia")
        s.commit()
        referral = s.get(Referral, routed.referral_id)
        assert referral is not None and referral.case_id == case_id
        with pytest.raises(UserError, match="already"):
            decide(s, settings, q, f"case:{case_id}", Verdict.REJECTED, "olivia")

        other = triage.receive(s, settings, {**AMELIA, "forename": "Emily"}, actor="t")
        s.commit()
        q2 = f"referral:{other.referral_id}"
        decide(s, settings, q2, f"case:{case_id}", Verdict.REJECTED, "olivia")
        s.commit()
        candidates.refresh(s, settings, q2)
        s.commit()
        assert candidates.candidates_for(s, [q2])[q2] == []
