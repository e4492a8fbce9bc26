"""The officer's work through steps 3 to 7 of the CME process, each recorded on the case,
its timeline and the audit log, with the consequence the process gives it.

- Step 3, status check: on roll (with attendance concerns: an Attendance & Welfare
  referral), EHE found, or no evidence of education (urgent parent contact, a task).
- Step 4, locate: enquiries (gateway.cases.service.record_enquiry) and a home visit
  requested from Choice Advice or Attendance & Welfare, then its outcome.
- Step 5, needs: initial assessment and Early Help Assessment (done, not needed, referred).
- Step 6, provision: referral to School Admissions (normal admissions or the In-Year Fair
  Access Protocol, with panel date, school and start date).
- Work recorded on a case still at the workflow's first status ("Logged") puts it at the
  stage the work belongs to (gateway.cases.service.begin_stage).
- Step 7, escalation: social care/MASH, VEMT and (only once the enquiry log shows the other
  avenues tried) the police; each with a reason and a review date.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases import onward
from gateway.cases.deadlines import add_days
from gateway.cases.inputs import InputError
from gateway.cases.labels import AGENCIES, label
from gateway.cases.queries import get_case, missing_avenues
from gateway.cases.service import begin_stage
from gateway.cases.service import escalate as set_flag
from gateway.cases.workflow import (
    ASSESSING_NEEDS,
    CHECKING_STATUS,
    CLOSED,
    LOCATING,
    SECURING_PLACE,
    WorkflowError,
    load_workflow,
)
from gateway.db import utcnow
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.casework import CaseStep
from gateway.settings import Settings

STATUS_RESULTS = {
    "on_roll": "On a school roll",
    "ehe": "Electively home educated",
    "no_evidence": "No evidence of education",
}
VISITORS = {"choice_advice": "Choice Advice", "attendance_welfare": "Attendance & Welfare"}
VISIT_OUTCOMES = {
    "seen": "Child seen at the address",
    "family_seen": "Family seen, child not seen",
    "no_answer": "No answer",
    "moved": "Family has moved away",
    "refused": "Refused contact",
}
ASSESSMENTS = {"initial": "Initial assessment", "early_help": "Early Help Assessment"}
ASSESSMENT_RESULTS = {"done": "Done", "not_needed": "Not needed", "referred": "Referred"}
ADMISSION_ROUTES = {
    "normal": "Normal admissions",
    "iyfap": "In-Year Fair Access Protocol",
}
ESCALATION_TEAMS = {"social_care": "social_care", "police": "police", "vemt": "vemt"}

PARENT_CONTACT = "parent_contact"
HOME_VISIT = "home_visit"
ESCALATION_REVIEW = "escalation_review"


def _open(session: Session, case_id: int) -> Case:
    case = get_case(session, case_id)
    if case.status == CLOSED:
        raise WorkflowError(f"case {case.tag} is closed; reopen it first")
    return case


def _choice(value: str, choices: dict[str, str], what: str) -> str:
    if value not in choices:
        raise InputError(f"choose {what}: {', '.join(choices.values())}")
    return value


def _not_future(d: date | None, what: str) -> date:
    if d is None:
        raise InputError(f"enter the date of the {what}")
    if d > utcnow().date():
        raise InputError(f"the date of the {what} cannot be in the future")
    return d


def _record(
    session: Session,
    case: Case,
    kind: str,
    on: date,
    outcome: str | None,
    detail: dict[str, Any],
    note: str | None,
    actor: str,
    summary: str,
) -> CaseStep:
    step = CaseStep(
        case_id=case.id, kind=kind, on=on, outcome=outcome, detail=detail,
        note=(note or "").strip() or None, recorded_by=actor,
    )  # fmt: skip
    session.add(step)
    session.flush()
    session.add(
        TimelineEntry(
            case_id=case.id, kind=kind, summary=summary, ref=f"step:{step.id}", actor=actor
        )
    )
    audit.record(
        session, actor=actor, action=f"case.{kind}", entity="case", entity_id=case.id,
        detail={"step_id": step.id, "outcome": outcome},
    )  # fmt: skip
    return step


def _task(settings: Settings, case: Case, kind: str, due: date, **detail: Any) -> Task:
    task = Task(kind=kind, due=due, detail=detail)
    case.tasks.append(task)
    return task


def _working_days(settings: Settings, start: date, days: int) -> date:
    d = settings.deadlines
    return add_days(start, days, working=d.working_days, division=d.bank_holiday_division)


def _done(case: Case, kind: str) -> None:
    for task in case.tasks:
        if task.kind == kind and task.status == "open":
            task.status = "done"
            task.done_at = utcnow()


# ---- step 3 -------------------------------------------------------------------------


def status_check(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    result: str,
    on: date | None,
    actor: str,
    school: str | None = None,
    attendance_concern: bool = False,
    note: str | None = None,
) -> CaseStep:
    """The child's educational status, found on `on`, and what the process does next."""
    case = _open(session, case_id)
    _choice(result, STATUS_RESULTS, "what the check found")
    when = _not_future(on, "check")
    if result == "on_roll" and not (school or "").strip():
        raise InputError("enter the school the child is on roll at")
    step = _record(
        session, case, "status_check", when, result,
        {"school": (school or "").strip() or None, "attendance_concern": attendance_concern},
        note, actor, f"Status check: {STATUS_RESULTS[result]}"
        + (f" at {school.strip()}" if school and result == "on_roll" else ""),
    )  # fmt: skip
    begin_stage(session, settings, case.id, CHECKING_STATUS, actor)
    if result == "on_roll":
        case.on_roll = {"school": school.strip() if school else None, "from": None,
                        "checked": when.isoformat()}  # fmt: skip
        if attendance_concern:
            onward.refer(
                session, settings, case.id, "attendance_welfare",
                f"On roll at {school} with concerns about attendance. "
                + (note.strip() if note else ""), actor,
            )  # fmt: skip
    elif result == "no_evidence":
        _task(
            settings, case, PARENT_CONTACT,
            _working_days(settings, utcnow().date(), settings.casework.parent_contact_days),
            urgent=True,
        )  # fmt: skip
    return step


# ---- step 4 -------------------------------------------------------------------------


def request_home_visit(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    by: str,
    visit_by: date | None,
    actor: str,
    note: str | None = None,
) -> CaseStep:
    """Ask Choice Advice or Attendance & Welfare to visit the home by a date (a task)."""
    case = _open(session, case_id)
    _choice(by, VISITORS, "who will visit")
    if visit_by is None:
        raise InputError("enter the date the visit should happen by")
    step = _record(
        session, case, "home_visit_request", utcnow().date(), by,
        {"visit_by": visit_by.isoformat()}, note, actor,
        f"Home visit requested from {VISITORS[by]}",
    )  # fmt: skip
    begin_stage(session, settings, case.id, LOCATING, actor)
    _task(settings, case, HOME_VISIT, visit_by, by=by, step_id=step.id)
    return step


def record_home_visit(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    outcome: str,
    on: date | None,
    actor: str,
    by: str | None = None,
    note: str | None = None,
) -> CaseStep:
    case = _open(session, case_id)
    _choice(outcome, VISIT_OUTCOMES, "what the visit found")
    when = _not_future(on, "visit")
    step = _record(
        session, case, "home_visit", when, outcome, {"by": by}, note, actor,
        f"Home visit: {VISIT_OUTCOMES[outcome]}",
    )  # fmt: skip
    begin_stage(session, settings, case.id, LOCATING, actor)
    _done(case, HOME_VISIT)
    return step


# ---- step 5 -------------------------------------------------------------------------


def record_assessment(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    kind: str,
    result: str,
    on: date | None,
    summary: str,
    actor: str,
) -> CaseStep:
    case = _open(session, case_id)
    _choice(kind, ASSESSMENTS, "the assessment")
    _choice(result, ASSESSMENT_RESULTS, "its outcome")
    when = _not_future(on, "assessment")
    if not summary.strip():
        raise InputError("give a short summary of the assessment")
    step = _record(
        session, case, "assessment", when, result, {"assessment": kind}, summary, actor,
        f"{ASSESSMENTS[kind]}: {ASSESSMENT_RESULTS[result]}",
    )  # fmt: skip
    begin_stage(session, settings, case.id, ASSESSING_NEEDS, actor)
    return step


# ---- step 6 -------------------------------------------------------------------------


def refer_admissions(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    route: str,
    actor: str,
    panel_date: date | None = None,
    school: str | None = None,
    start_date: date | None = None,
    note: str | None = None,
) -> CaseStep:
    """Refer to School Admissions; the Fair Access route records the panel date."""
    case = _open(session, case_id)
    _choice(route, ADMISSION_ROUTES, "the admissions route")
    if route == "iyfap" and panel_date is None:
        raise InputError("enter the date of the Fair Access panel")
    detail = {
        "panel_date": panel_date.isoformat() if panel_date else None,
        "school": (school or "").strip() or None,
        "start_date": start_date.isoformat() if start_date else None,
    }
    step = _record(
        session, case, "admissions", utcnow().date(), route, detail, note, actor,
        f"Referred to School Admissions: {ADMISSION_ROUTES[route]}",
    )  # fmt: skip
    begin_stage(session, settings, case.id, SECURING_PLACE, actor)
    reason = f"{ADMISSION_ROUTES[route]}." + (f" School named: {school}." if school else "")
    if panel_date:
        reason += f" Fair Access panel: {panel_date.strftime('%-d %B %Y')}."
    if note:
        reason += f" {note.strip()}"
    onward.refer(session, settings, case.id, "admissions", reason, actor)
    return step


# ---- step 7 -------------------------------------------------------------------------


def escalate(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    flag: str,
    reason: str,
    review_on: date | None,
    actor: str,
) -> CaseStep:
    """Escalate (never closes the case): a flag with its reason and review date, a review
    task, and the onward referral to that team. The police only as a last resort."""
    case = _open(session, case_id)
    workflow = load_workflow(settings.workflow.file)
    if flag not in workflow.escalations:
        raise InputError(f"choose the escalation: {', '.join(workflow.escalations.values())}")
    if not reason.strip():
        raise InputError("say why the case is being escalated")
    if review_on is None or review_on < utcnow().date():
        raise InputError("enter a review date, today or later")
    if flag == "police":
        missing = missing_avenues(session, case.id, settings.casework.police_after)
        if missing:
            names = ", ".join(label(AGENCIES, a) for a in missing)
            raise WorkflowError(
                f"a police referral is a last resort: first record enquiries with {names}"
            )
    set_flag(session, settings, case.id, flag, actor)
    flags = dict(case.escalations)
    flags[flag] = {**flags.get(flag, {}), "reason": reason.strip(), "review": review_on.isoformat()}
    case.escalations = flags
    step = _record(
        session, case, "escalation", utcnow().date(), flag, {"review": review_on.isoformat()},
        reason, actor, f"Escalated: {workflow.escalations[flag]}",
    )  # fmt: skip
    _task(settings, case, ESCALATION_REVIEW, review_on, flag=flag, step_id=step.id)
    onward.refer(session, settings, case.id, ESCALATION_TEAMS[flag], reason, actor)
    return step


def steps_of(session: Session, case_id: int) -> list[CaseStep]:
    return list(
        session.execute(
            select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.on, CaseStep.id)
        ).scalars()
    )
