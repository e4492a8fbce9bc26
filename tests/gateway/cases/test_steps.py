"""Steps 3 to 7 of the CME process: each recorded, on the timeline, audited, with its
consequence (onward referrals as recorded disclosures, tasks with deadlines)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.cases import onward, steps
from gateway.cases.inputs import InputError, build_referral_input
from gateway.cases.service import close_case, log_referral, record_enquiry
from gateway.cases.workflow import WorkflowError
from gateway.db import make_engine, utcnow
from gateway.models.audit import AuditEntry
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.casework import OnwardReferral
from gateway.models.exchange import Disclosure
from gateway.models.ops import OutboxMessage
from gateway.settings import Settings, load_settings

TODAY = utcnow().date()


@pytest.fixture
def home(cme_home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Engine]:
    monkeypatch.setenv("CME_TEAMS_ATTENDANCE_WELFARE", "aws@redcar-cleveland.example")
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    yield settings, engine
    engine.dispose()


def _case(s: Session, settings: Settings) -> int:
    data = build_referral_input(
        {"forename": "Ava", "surname": "Testperson", "dob": "2015-03-01", "postcode": "TS10 1AA",
         "reason": "not at school", "referrer_name": "Ann Head"},
        today=TODAY,
    )  # fmt: skip
    return log_referral(s, settings, data, "test").id


def test_on_roll_with_attendance_concerns_refers_to_attendance_and_welfare(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        steps.status_check(
            s, settings, case_id, result="on_roll", on=TODAY, actor="olivia",
            school="Kirkleatham Primary", attendance_concern=True, note="Absent most days",
        )  # fmt: skip
        s.commit()
        [row] = s.execute(select(OnwardReferral)).scalars().all()
        assert (row.team, row.channel, row.recipient) == (
            "attendance_welfare", "email", "aws@redcar-cleveland.example",
        )  # fmt: skip
        assert "dob" in row.fields and row.lawful_basis
        letter = s.get(OutboxMessage, row.outbox_id)
        assert (
            letter is not None
            and letter.subject == f"[CME-{case_id}] Referral from Children Missing Education"
        )
        assert b"Testperson" not in letter.subject.encode()
        [register] = s.execute(select(Disclosure)).scalars().all()
        assert (register.kind, register.recipient, register.basis, register.case_id) == (
            "onward_referral", "aws@redcar-cleveland.example", "public_task", case_id,
        )  # fmt: skip
        audited = select(AuditEntry).where(AuditEntry.action == "disclosure.onward_referral")
        assert s.execute(audited).scalar_one().detail["channel"] == "email"


def test_no_evidence_of_education_sets_urgent_parent_contact(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        steps.status_check(s, settings, case_id, result="no_evidence", on=TODAY, actor="o")
        s.commit()
        kinds = s.execute(select(Task.kind).where(Task.case_id == case_id)).scalars().all()
        assert "parent_contact" in kinds


def test_an_unconfigured_team_gets_a_printed_referral(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        steps.refer_admissions(
            s, settings, case_id, route="iyfap", panel_date=TODAY + timedelta(days=9),
            school="Coatham Academy", actor="olivia",
        )  # fmt: skip
        s.commit()
        [row] = onward.onward_referrals(s, case_id)
        assert (row.team, row.channel, row.outbox_id) == ("admissions", "print", None)
        assert "Fair Access panel" in row.reason and "Ava Testperson" in row.body
        with pytest.raises(InputError, match="panel"):
            steps.refer_admissions(s, settings, case_id, route="iyfap", actor="olivia")


def test_home_visit_request_then_outcome_closes_the_task(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        steps.request_home_visit(
            s, settings, case_id, by="choice_advice", visit_by=TODAY + timedelta(days=3), actor="o"
        )
        steps.record_home_visit(s, settings, case_id, outcome="no_answer", on=TODAY, actor="o")
        s.commit()
        [task] = s.execute(select(Task).where(Task.kind == "home_visit")).scalars().all()
        assert task.status == "done"
        with pytest.raises(InputError, match="future"):
            steps.record_home_visit(
                s, settings, case_id, outcome="seen", on=TODAY + timedelta(days=1), actor="o"
            )


def test_police_only_once_the_other_avenues_were_tried(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        review = TODAY + timedelta(days=14)
        with pytest.raises(WorkflowError, match="last resort"):
            steps.escalate(
                s, settings, case_id, flag="police", reason="missing", review_on=review, actor="m"
            )
        for agency in settings.casework.police_after:
            record_enquiry(
                s, case_id, agency=agency, method="phone", at=utcnow(), outcome="no news",
                contact=None, actor="o",
            )  # fmt: skip
        steps.escalate(
            s, settings, case_id, flag="police", reason="missing", review_on=review, actor="m"
        )
        s.commit()
        case = s.get(Case, case_id)
        assert case is not None and case.escalations["police"]["review"] == review.isoformat()
        assert case.status != "closed"
        kinds = s.execute(select(Task.kind).where(Task.case_id == case_id)).scalars().all()
        assert "escalation_review" in kinds


def test_no_trace_needs_the_enquiries_the_policy_lists(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        with pytest.raises(WorkflowError, match="still to record"):
            close_case(s, settings, case_id, "no_trace", {}, "m", manager="m")
        for agency in settings.casework.no_trace_after:
            record_enquiry(
                s, case_id, agency=agency, method="email", at=utcnow(), outcome="not known",
                contact=None, actor="o",
            )  # fmt: skip
        close_case(s, settings, case_id, "no_trace", {}, "m", manager="m")
        s.commit()


def test_assessment_needs_a_summary(home) -> None:
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        with pytest.raises(InputError, match="summary"):
            steps.record_assessment(
                s, settings, case_id, kind="early_help", result="done", on=date.today(),
                summary=" ", actor="o",
            )  # fmt: skip
        steps.record_assessment(
            s, settings, case_id, kind="early_help", result="referred", on=date.today(),
            summary="Family support referral", actor="o",
        )  # fmt: skip
        assert [x.kind for x in steps.steps_of(s, case_id)] == ["assessment"]


@pytest.mark.parametrize(
    ("record", "stage"),
    [
        (lambda s, st, c: steps.status_check(
            s, st, c, result="no_evidence", on=TODAY, actor="olivia"), "checking_status"),
        (lambda s, st, c: steps.request_home_visit(
            s, st, c, by="choice_advice", visit_by=TODAY + timedelta(days=3), actor="olivia"),
         "locating"),
        (lambda s, st, c: record_enquiry(
            s, c, agency="health", method="phone", at=utcnow(), outcome="not known",
            contact=None, actor="olivia", settings=st), "locating"),
        (lambda s, st, c: steps.record_assessment(
            s, st, c, kind="initial", result="done", on=TODAY, summary="Needs met",
            actor="olivia"), "assessing_needs"),
        (lambda s, st, c: steps.refer_admissions(
            s, st, c, route="normal", actor="olivia"), "securing_place"),
    ],
)  # fmt: skip
def test_work_on_a_logged_case_puts_it_at_that_stage(home, record, stage) -> None:  # type: ignore[no-untyped-def]
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        assert s.get(Case, case_id).status == "logged"
        record(s, settings, case_id)
        s.commit()
        case = s.get(Case, case_id)
        assert case.status == stage
        moves = (
            s.execute(
                select(TimelineEntry.ref)
                .where(TimelineEntry.case_id == case_id, TimelineEntry.kind == "status")
                .order_by(TimelineEntry.id)
            )
            .scalars()
            .all()
        )
        assert moves[-1] == f"status:{stage}"  # each move on the timeline


def test_work_on_a_case_already_moved_on_leaves_its_status(home) -> None:  # type: ignore[no-untyped-def]
    settings, engine = home
    with Session(engine, expire_on_commit=False) as s:
        case_id = _case(s, settings)
        steps.record_assessment(
            s, settings, case_id, kind="initial", result="done", on=TODAY, summary="Seen",
            actor="olivia",
        )  # fmt: skip
        steps.request_home_visit(
            s, settings, case_id, by="choice_advice", visit_by=TODAY, actor="olivia"
        )
        s.commit()
        assert s.get(Case, case_id).status == "assessing_needs"
