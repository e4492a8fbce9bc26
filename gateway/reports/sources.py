"""What the reports read and share: local days, names for codes, and set-based queries that
return one row per case (never an ORM object per case)."""

from __future__ import annotations

import functools
import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, cast, func, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Executable

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


P = ParamSpec("P")
R = TypeVar("R")


def collector_paused(build: Callable[P, R]) -> Callable[P, R]:
    """Builds a report with Python's cycle collector paused (then put back as it was).

    A report makes tens of thousands of small values that hold no reference cycles, and as
    the heap grows the collector keeps walking all of it to find none: a fifth to a third of
    each report's time (bench/reports). Memory is still freed as it always is, by reference
    counting; only cycles wait for the collector's next pass. If it is already paused
    (another report in another thread), it is left to whoever paused it to put back."""

    @functools.wraps(build)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return build(*args, **kwargs)
        gc.disable()
        try:
            return build(*args, **kwargs)
        finally:
            gc.enable()

    return paused


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


class Words(dict[Any, str]):
    """Each code's words, worked out on first use and kept: a list of tens of thousands of
    rows names a handful of officers, statuses, tasks and partners."""

    def __init__(self, make: Callable[[Any], str]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, code: Any) -> str:
        words = self[code] = self._make(code)
        return words


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


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    kind: str
    summary: str


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
    if not value or not isinstance(value, dict):
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


@dataclass(frozen=True, slots=True)
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


def json_value(text: str | None) -> Any:
    """A JSON column read as text (cast to a string in the query): most hold an empty
    object, which needs no parser."""
    return {} if text in (None, "{}", "null") else json.loads(text)


def batches(session: Session, stmt: Executable, size: int = 2000) -> Iterator[Sequence[Any]]:
    """The statement's rows as Core tuples, fetched `size` at a time: one driver call per
    batch (iterating a result fetches row by row), and never every row held at once."""
    for part in session.connection().execute(stmt).partitions(size):
        yield from part


def _first(ranked: Select[Any]) -> Any:
    """The rows of `ranked` numbered 1 (its column "n"), as a subquery to join."""
    inner = ranked.subquery()
    return select(*(c for c in inner.c if c.key != "n")).where(inner.c.n == 1).subquery()


def open_case_statement(*criteria: ColumnElement[bool]) -> Select[Any]:
    """The open cases meeting `criteria` (conditions on Case) with their child, most pressing
    urgency, latest timeline entry (the last written: the timeline is append-only), earliest
    open task and active monitoring: one statement, each part read once for all the cases
    (a subquery per case costs PostgreSQL a lookup per row, twice over), the cases chosen by
    `criteria` directly rather than joined in full and filtered at the end.

    Its columns, in order: case id, status, allocated to, opened on, escalations (as JSON
    text), forenames, surname, dob, year group, urgency rank (an index into URGENCY_ORDER, or
    None: routine), latest entry's at, kind and summary, soonest open task's kind and due,
    monitoring partner LA."""
    from gateway.cases.workflow import CLOSED

    chosen = (Case.status != CLOSED, *criteria)
    rank = when(*((Referral.urgency == c, i) for i, c in enumerate(URGENCY_ORDER)), else_=0)
    urgent = (
        select(Referral.case_id, func.max(rank).label("rank"))
        .where(Referral.urgency.in_(URGENT))
        .group_by(Referral.case_id)
        .subquery()
    )
    latest = (
        select(TimelineEntry.case_id, func.max(TimelineEntry.id).label("id"))
        .where(TimelineEntry.case_id.in_(select(Case.id).where(*chosen)))
        .group_by(TimelineEntry.case_id)
        .subquery()
    )
    entry = aliased(TimelineEntry)
    soonest = func.row_number().over(partition_by=Task.case_id, order_by=(Task.due, Task.id))
    task = _first(
        select(Task.case_id, Task.kind, Task.due, soonest.label("n")).where(Task.status == "open")
    )
    watched = (
        select(Monitoring.case_id, Monitoring.partner_la)
        .where(Monitoring.status == "active")
        .subquery()
    )
    return (
        select(
            Case.id, Case.status, Case.allocated_to, Case.opened_on,
            # As text: most cases have none, and "{}" needs no JSON parser.
            cast(Case.escalations, String),
            Child.forenames, Child.surname, Child.dob, Child.year_group, urgent.c.rank,
            entry.at, entry.kind, entry.summary, task.c.kind, task.c.due,
            watched.c.partner_la,
        )
        .join(Child, Child.id == Case.child_id)
        .outerjoin(urgent, urgent.c.case_id == Case.id)
        .outerjoin(latest, latest.c.case_id == Case.id)
        .outerjoin(entry, entry.id == latest.c.id)
        .outerjoin(task, task.c.case_id == Case.id)
        .outerjoin(watched, watched.c.case_id == Case.id)
        .where(*chosen)
    )  # fmt: skip


def open_case_tuples(session: Session, *criteria: ColumnElement[bool]) -> Iterator[Sequence[Any]]:
    """open_case_statement's rows as plain tuples, a batch at a time: for a report that makes
    its own values straight from them."""
    return batches(session, open_case_statement(*criteria))


def open_case_rows(session: Session, *criteria: ColumnElement[bool]) -> list[OpenCase]:
    """The open cases meeting `criteria` (conditions on Case), as OpenCase values (what the
    columns are: open_case_statement)."""
    # Core rows, not ORM ones: tens of thousands of plain tuples, fetched a batch at a time
    # (one driver call each, never all held as rows and as values at once).
    out = []
    rows = open_case_tuples(session, *criteria)
    for (case_id, status, allocated, opened, esc, forenames, surname, dob, year, level, at,
         kind, summary, task_kind, due, partner) in rows:  # fmt: skip
        out.append(
            OpenCase(
                case_id, status, allocated, opened, json_value(esc), forenames, surname, dob, year,
                URGENCY_ORDER[level or 0],
                Entry(at, kind, summary) if at is not None else None,
                OpenTask(task_kind, due) if task_kind is not None else None,
                partner,
            )
        )  # fmt: skip
    return out
