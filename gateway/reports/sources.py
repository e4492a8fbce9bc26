"""What the reports read and share: local days, names for codes, and set-based queries that
return one row per case (never an ORM object per case)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, cast, func, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session, aliased

from gateway import audit
from gateway.cases.labels import REFERRAL_FLAGS, URGENCIES, YEAR_GROUPS
from gateway.cases.workflow import Workflow, load_workflow
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.child import Child
from gateway.models.exchange import ExchangePartner, Monitoring
from gateway.models.referral import Referral, Urgency
from gateway.models.users import User
from gateway.settings import Settings

#: The urgencies from least to most pressing; a case has its most pressing referral's.
URGENCY_ORDER = (Urgency.ROUTINE.value, Urgency.URGENT.value, Urgency.SAFEGUARDING.value)
URGENT = (Urgency.URGENT.value, Urgency.SAFEGUARDING.value)
#: Referral flags that are a safeguarding concern in themselves.
CONCERN_FLAGS = ("child_protection", "social_care", "looked_after")
NOT_ALLOCATED = "Not allocated"
NOT_KNOWN = "not_known"


def workflow(settings: Settings) -> Workflow:
    return load_workflow(settings.workflow.file)


def zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.core.timezone)


def day_start(settings: Settings, day: date) -> datetime:
    """The first instant of a local day (an aware datetime: the columns hold UTC)."""
    return datetime.combine(day, time(), tzinfo=zone(settings))


def local_day(settings: Settings, at: datetime) -> date:
    return at.astimezone(zone(settings)).date()


def days_between(start: date, end: date) -> int:
    return max(0, (end - start).days)


def record_run(session: Session, actor: str, report: str, output: str, **detail: Any) -> None:
    """Who ran which report, how, with which filters: never a child's data."""
    audit.record(
        session,
        actor=actor,
        action=f"report.{report}",
        entity="report",
        entity_id=report,
        detail={"output": output, **{k: v for k, v in detail.items() if v is not None}},
    )


def officer_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(User.username, User.display_name)).all())


def officer_name(names: dict[str, str], username: str | None) -> str:
    return names.get(username, username) if username else NOT_ALLOCATED


def partner_names(session: Session) -> dict[str, str]:
    rows = session.execute(select(ExchangePartner.la_code, ExchangePartner.name))
    return dict(rows.all())


def partner_name(names: dict[str, str], la_code: str) -> str:
    return names.get(la_code) or f"LA {la_code}"


def urgency_label(code: str) -> str:
    return URGENCIES.get(code, code)


def flag_labels(codes: Iterable[str]) -> tuple[str, ...]:
    if not codes:
        return ()
    return tuple(REFERRAL_FLAGS.get(c, c.replace("_", " ")) for c in sorted(codes))


def open_cases() -> Select[Any]:
    from gateway.cases.workflow import CLOSED

    # Never correlated: it is used inside queries over the cases table too.
    return select(Case.id).where(Case.status != CLOSED).correlate(None)


def flags_of(session: Session, case_ids: Select[Any]) -> dict[int, set[str]]:
    """The referral flags set (true) on each case's referrals. Only referrals whose flags
    are not empty are read: most carry none."""
    rows = session.execute(
        select(Referral.case_id, Referral.flags).where(
            Referral.case_id.in_(case_ids), cast(Referral.flags, String) != "{}"
        )
    )
    out: dict[int, set[str]] = {}
    for case_id, flags in rows:
        if case_id is None or not isinstance(flags, dict):
            continue
        on = {k for k, v in flags.items() if v is True}
        if on:
            out.setdefault(case_id, set()).update(on)
    return out


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    summary: str


@dataclass(frozen=True)
class OpenTask:
    kind: str
    due: date


def child_name(forenames: str, surname: str) -> str:
    return f"{surname.upper()}, {forenames}".strip(", ")


def age_on(dob: date | None, on: date) -> int | None:
    if dob is None:
        return None
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def week_start(day: date) -> date:
    """The Monday of the week `day` falls in."""
    return day - timedelta(days=day.weekday())


def parse_day(value: Any) -> date | None:
    """A date from a JSON value ("2026-01-31" or an ISO date-time); None if it is not one."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class Escalation:
    """A flag that does not close the case: social care/MASH, police, VEMT."""

    flag: str
    label: str
    since: date | None
    by: str | None
    reason: str | None
    review: date | None


def escalations(wf: Workflow, value: Any) -> tuple[Escalation, ...]:
    """The case's escalations column ({flag: {since, by, reason, review}}) as values."""
    if not isinstance(value, dict):
        return ()
    out = []
    for flag, info in sorted(value.items()):
        info = info if isinstance(info, dict) else {}
        out.append(
            Escalation(
                flag=flag,
                label=wf.escalations.get(flag, flag.replace("_", " ")),
                since=parse_day(info.get("since")),
                by=info.get("by"),
                reason=info.get("reason"),
                review=parse_day(info.get("review")),
            )
        )
    return tuple(out)


def year_group(stored: str | None, dob: date | None, year_start: date) -> str:
    """The year group the case holds; else the one for the child's age on the day before
    the academic year starts (Reception: 4 that day); else not known."""
    if stored and stored.upper() in YEAR_GROUPS:
        return stored.upper()
    age = age_on(dob, year_start - timedelta(days=1))
    if age is None:
        return NOT_KNOWN
    code = {3: "N", 4: "R"}.get(age, str(age - 4))
    return code if code in YEAR_GROUPS else NOT_KNOWN


@dataclass(frozen=True)
class OpenCase:
    """An open case with everything the weekly lists show of it, read in one query."""

    case_id: int
    status: str
    allocated_to: str | None
    opened_on: date
    escalations: Any
    forenames: str
    surname: str
    dob: date | None
    year_group: str | None
    urgency: str
    last: Entry | None
    next_task: OpenTask | None
    monitoring_la: str | None


def _json(text: str | None) -> Any:
    return {} if text in (None, "{}", "null") else json.loads(text)


def open_case_rows(session: Session, case_ids: Select[Any]) -> list[OpenCase]:
    """The cases of `case_ids` with their child, most pressing urgency, latest timeline entry
    (the last written: the timeline is append-only), earliest open task and active
    monitoring: one statement, the database joining per-case aggregates."""
    rank = when(*((Referral.urgency == c, i) for i, c in enumerate(URGENCY_ORDER)), else_=0)
    urgent = (
        select(Referral.case_id, func.max(rank).label("rank"))
        .where(Referral.urgency.in_(URGENT), Referral.case_id.in_(case_ids))
        .group_by(Referral.case_id)
        .subquery()
    )
    latest = (
        select(TimelineEntry.case_id, func.max(TimelineEntry.id).label("id"))
        .where(TimelineEntry.case_id.in_(case_ids))
        .group_by(TimelineEntry.case_id)
        .subquery()
    )
    # The earliest open task: its due date per case, then the first such task made.
    earliest = (
        select(Task.case_id, func.min(Task.due).label("due"))
        .where(Task.status == "open", Task.case_id.in_(case_ids))
        .group_by(Task.case_id)
        .subquery()
    )
    first = (
        select(Task.case_id, func.min(Task.id).label("id"))
        .join(earliest, and_(earliest.c.case_id == Task.case_id, earliest.c.due == Task.due))
        .where(Task.status == "open")
        .group_by(Task.case_id)
        .subquery()
    )
    task = aliased(Task)
    watched = (
        select(Monitoring.case_id, Monitoring.partner_la)
        .where(Monitoring.status == "active")
        .subquery()
    )
    stmt = (
        select(
            Case.id, Case.status, Case.allocated_to, Case.opened_on,
            # As text: most cases have none, and "{}" needs no JSON parser.
            cast(Case.escalations, String),
            Child.forenames, Child.surname, Child.dob, Child.year_group, urgent.c.rank,
            TimelineEntry.at, TimelineEntry.kind, TimelineEntry.summary, task.kind,
            task.due, watched.c.partner_la,
        )
        .join(Child, Child.id == Case.child_id)
        .outerjoin(urgent, urgent.c.case_id == Case.id)
        .outerjoin(latest, latest.c.case_id == Case.id)
        .outerjoin(TimelineEntry, TimelineEntry.id == latest.c.id)
        .outerjoin(first, first.c.case_id == Case.id)
        .outerjoin(task, task.id == first.c.id)
        .outerjoin(watched, watched.c.case_id == Case.id)
        .where(Case.id.in_(case_ids))
    )  # fmt: skip
    # Core rows, not ORM ones: tens of thousands of plain tuples.
    out = []
    for row in session.connection().execute(stmt).all():
        (case_id, status, allocated, opened, esc, forenames, surname, dob, year, level, at,
         kind, summary, task_kind, due, partner) = row  # fmt: skip
        out.append(
            OpenCase(
                case_id, status, allocated, opened, _json(esc), forenames, surname, dob, year,
                URGENCY_ORDER[level or 0],
                Entry(at, kind, summary) if at is not None else None,
                OpenTask(task_kind, due) if task_kind is not None else None,
                partner,
            )
        )  # fmt: skip
    return out
