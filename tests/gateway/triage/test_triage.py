"""The path from a referral to a case: a case at once when complete and like nothing we
hold, the triage queue otherwise; and the officer's decisions there."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.cases.facts import decide_fact, pending_facts
from gateway.cases.workflow import WorkflowError
from gateway.db import make_engine
from gateway.matching.candidates import candidates_for
from gateway.models.audit import AuditEntry
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.referral import Referral
from gateway.settings import Settings, load_settings
from gateway.triage import queries
from gateway.triage import service as triage
from gateway.triage.service import TriageError

TODAY = date(2026, 11, 27)
OLIVER = {
    "forename": "Oliver", "surname": "Testbrook", "dob": "2014-06-02", "sex": "M",
    "address_line1": "7 Synthetic Row", "town": "Redcar", "postcode": "TS10 2AB",
    "reason": "Not at school since October", "referrer_name": "Ann Head",
    "referrer_email": "head@school-807.example", "channel": "email", "received": "2026-11-20",
}  # fmt: skip


@pytest.fixture
def home(cme_home: Path) -> tuple[Settings, Engine]:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    yield settings, engine
    engine.dispose()


def _receive(home: tuple[Settings, Engine], **values: Any) -> triage.Routed:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        routed = triage.receive(s, settings, values, actor="test", today=TODAY)
        s.commit()
    return routed


def _count(engine: Engine, model: type, **where: Any) -> int:
    with Session(engine) as s:
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return int(s.execute(stmt).scalar_one())


def test_a_complete_referral_like_nothing_we_hold_opens_its_case(home) -> None:
    routed = _receive(home, **OLIVER)
    assert routed.outcome == "case" and routed.case_id and not routed.attached
    with Session(home[1]) as s:
        referral = s.get(Referral, routed.referral_id)
        assert referral is not None and referral.triage_status == "opened"
        assert referral.case_id == routed.case_id and referral.channel == "email"


def test_the_same_child_under_a_short_name_waits_in_triage_with_the_case_as_candidate(
    home,
) -> None:
    first = _receive(home, **OLIVER)
    ollie = _receive(
        home, **{**OLIVER, "forename": "Ollie", "referrer_email": "nurse@health.example"}
    )
    assert (ollie.outcome, ollie.case_id) == ("triage", None)
    with Session(home[1]) as s:
        [row] = queries.list_awaiting(s)
        assert row.id == ollie.referral_id
        best = row.candidates[0]
        assert (best.target_kind, best.target_ref) == ("case", f"case:{first.case_id}")
        assert best.evidence, "the candidate carries its evidence"
    assert _count(home[1], Case) == 1


def test_a_certain_match_joins_the_case_without_doubling_its_tasks(home) -> None:
    first = _receive(home, **OLIVER)
    with Session(home[1]) as s:
        tasks_before = s.execute(
            select(Task.kind).where(Task.case_id == first.case_id, Task.status == "open")
        ).all()
    again = _receive(home, **{**OLIVER, "upn": "H807300024123", "received": "2026-11-25"})
    assert (again.outcome, again.case_id, again.attached) == ("case", first.case_id, True)
    with Session(home[1]) as s:
        tasks_after = s.execute(
            select(Task.kind).where(Task.case_id == first.case_id, Task.status == "open")
        ).all()
        assert sorted(tasks_after) == sorted(tasks_before)
        # The valid UPN the later referral brought is a fact to accept, never written over.
        case = s.get(Case, first.case_id)
        assert case is not None and case.child.upn is None
        [fact] = pending_facts(s, first.case_id)
        assert (fact.field, fact.value) == ("upn", "H807300024123")


def test_the_officer_accepts_a_new_fact_field_by_field(home) -> None:
    first = _receive(home, **OLIVER)
    _receive(home, **{**OLIVER, "upn": "H807300024123"})
    with Session(home[1]) as s:
        [fact] = pending_facts(s, first.case_id)
        decide_fact(s, first.case_id, fact.id, accept=True, actor="olivia")
        s.commit()
    with Session(home[1]) as s:
        case = s.get(Case, first.case_id)
        assert case is not None and case.child.upn == "H807300024123"
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "case.fact_accepted")
        ).scalar_one()
        assert entry.detail["before"] is None and entry.detail["after"] == "H807300024123"


def test_a_prose_referral_without_a_surname_waits_and_the_officer_opens_it(home) -> None:
    routed = _receive(
        home, forename="Maisie", address_line1="12 Coast Road", age_range=[11, 11],
        reason="never at school", channel="email", referrer_email="neighbour@example.org",
    )  # fmt: skip
    assert routed.outcome == "triage"
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        with pytest.raises(Exception, match="surname is required"):
            triage.open_case(s, settings, routed.referral_id, "olivia")
        s.rollback()
        case = triage.open_case(
            s, settings, routed.referral_id, "olivia", {"surname": "Rowe", "postcode": "TS10 3BD"}
        )
        s.commit()
        assert case.child.surname == "Rowe" and case.child.dob is None
    with Session(engine) as s:
        referral = s.get(Referral, routed.referral_id)
        assert referral is not None
        assert (referral.triage_status, referral.triaged_by) == ("opened", "olivia")
        assert referral.details["age_range"] == [11, 11]


def test_attach_and_dismiss_are_one_decision_each(home) -> None:
    settings, engine = home
    first = _receive(home, **OLIVER)
    ollie = _receive(home, **{**OLIVER, "forename": "Ollie"})
    other = _receive(home, forename="Noah", reason="left a note", channel="phone")
    with Session(engine, expire_on_commit=False) as s:
        triage.attach(s, settings, ollie.referral_id, first.case_id, "olivia")
        triage.dismiss(s, settings, other.referral_id, "not_a_referral", "olivia", "a prank")
        s.commit()
    with Session(engine, expire_on_commit=False) as s:
        with pytest.raises(TriageError, match="already triaged"):
            triage.dismiss(s, settings, ollie.referral_id, "duplicate", "olivia")
        with pytest.raises(TriageError, match="choose why"):
            triage.dismiss(s, settings, 999, "bored", "olivia")
        assert queries.list_awaiting(s) == []
        kinds = s.execute(
            select(TimelineEntry.summary).where(TimelineEntry.case_id == first.case_id)
        ).scalars()
        assert any("Further referral" in k for k in kinds)
        # The short name is kept as another name for the officer to accept.
        facts = {f.field for f in pending_facts(s, first.case_id)}
        assert "alias" in facts
        assert (
            candidates_for(s, [f"referral:{ollie.referral_id}"])[f"referral:{ollie.referral_id}"]
            == []
        )


def test_safeguarding_gets_a_first_contact_deadline_and_comes_first(home) -> None:
    settings, engine = home
    _receive(home, forename="Ava", reason="late", channel="phone")
    urgent = _receive(
        home, forename="Ben", reason="worried he is not safe", urgency="safeguarding",
        channel="form",
    )  # fmt: skip
    with Session(engine, expire_on_commit=False) as s:
        rows = queries.list_awaiting(s)
        assert rows[0].id == urgent.referral_id and rows[0].urgent
        case = triage.open_case(s, settings, urgent.referral_id, "olivia", {"surname": "Test"})
        s.commit()
        [task] = [t for t in case.tasks if t.kind == "first_contact"]
        assert task.due == date(2026, 11, 27)  # the same working day, by default


def test_attaching_to_a_closed_case_reopens_it(home) -> None:
    settings, engine = home
    first = _receive(home, **OLIVER)
    from gateway.cases.service import close_case

    with Session(engine, expire_on_commit=False) as s:
        close_case(s, settings, first.case_id, "left_england", {}, "olivia")
        s.commit()
    later = _receive(home, **{**OLIVER, "forename": "Ollie"})
    with Session(engine, expire_on_commit=False) as s:
        triage.attach(s, settings, later.referral_id, first.case_id, "olivia")
        s.commit()
        case = s.get(Case, first.case_id)
        assert case is not None and case.status != "closed"


def test_refresh_job_runs_for_a_new_case(home) -> None:
    settings, engine = home
    routed = _receive(home, **OLIVER)
    assert jobs.drain(engine, settings) >= 1
    with Session(engine) as s:
        searched = (
            s.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "match_search",
                    AuditEntry.entity_id == f"case:{routed.case_id}",
                )
            )
            .scalars()
            .all()
        )
        assert searched, "the new case's candidates were computed by the job"


def test_a_closed_case_takes_a_referral_only_when_the_officer_reopens_it(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s, pytest.raises(WorkflowError):
        from gateway.cases.inputs import ReferralInput
        from gateway.cases.service import attach_referral

        first = triage.receive(s, settings, OLIVER, actor="test", today=TODAY)
        assert first.case_id is not None
        from gateway.cases.service import close_case

        close_case(s, settings, first.case_id, "left_england", {}, "olivia")
        attach_referral(
            s, settings, first.case_id, ReferralInput(forename="A", surname="B"), "olivia"
        )
