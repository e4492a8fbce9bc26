"""Each case's status through time, read from its timeline, and what follows from it: when
a child was missing education, when they were located.

A case starts in the workflow's initial status on the day it opened. Its status changes are
the timeline's `status` entries (their ref "status:<code>"; older entries only by their
summary, "Moved to <status label>", the workflow's labels), a
`reopened` entry (back to locating) and a `closed` entry. A summary that names no status of
the current workflow (a label renamed since) is not a change. The timeline is append-only and
each entry is stamped as it is written, so a case's later entries have larger ids: "the last
change before a time" is the largest id among the changes stamped before it, found by the
database (one grouped query), never by replaying every row in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.cases.workflow import CLOSED, Workflow
from gateway.models.case import Case, TimelineEntry
from gateway.reports import sources
from gateway.settings import Settings

#: While a case is in one of these, nobody knows where the child is.
LOST = ("locating", "whereabouts_unknown_tracking")
#: Closing with this outcome does not locate the child.
NOT_LOCATED = "no_trace"
#: Closed with these, the child was never missing education (not counted anywhere).
NEVER_CME = ("not_cme", "duplicate")
REOPENED_TO = "locating"
T = TimelineEntry


def status_words(wf: Workflow) -> dict[str, str]:
    """Timeline summary -> the status it moved to."""
    return {f"Moved to {text}": code for code, text in wf.statuses.items()}


def _change(wf: Workflow, statuses: Iterable[str] | None = None) -> ColumnElement[bool]:
    """Timeline entries that change a case's status (to one of `statuses`, if given)."""
    wanted = set(wf.statuses) if statuses is None else set(statuses)
    words = [w for w, code in status_words(wf).items() if code in wanted]
    refs = [f"status:{code}" for code in wanted]
    parts = [and_(T.kind == "status", or_(T.ref.in_(refs), T.summary.in_(words)))]
    if REOPENED_TO in wanted:
        parts.append(T.kind == "reopened")
    if CLOSED in wanted:
        parts.append(T.kind == "closed")
    return or_(*parts)


def _status(words: dict[str, str], kind: str, summary: str, ref: str | None) -> str:
    if kind == "closed":
        return CLOSED
    if kind == "reopened":
        return REOPENED_TO
    if ref and ref.startswith("status:"):
        return ref.removeprefix("status:")
    return words[summary]


def last_status(
    session: Session, wf: Workflow, case_ids: Select[Any], before: datetime
) -> dict[int, str]:
    """Each case's status after its last change stamped before `before` (cases with no
    change by then are left out: they are still in the initial status)."""
    last = (
        select(func.max(T.id))
        .where(T.case_id.in_(case_ids), T.at < before, _change(wf))
        .group_by(T.case_id)
    )
    words = status_words(wf)
    rows = sources.batches(
        session, select(T.case_id, T.kind, T.summary, T.ref).where(T.id.in_(last))
    )
    return {case_id: _status(words, kind, summary, ref) for case_id, kind, summary, ref in rows}


def entered(
    session: Session,
    wf: Workflow,
    case_ids: Select[Any],
    statuses: Iterable[str],
    start: datetime,
    end: datetime,
) -> set[int]:
    """Cases that moved into one of `statuses` in [start, end)."""
    rows = sources.batches(
        session,
        select(T.case_id)
        .where(T.case_id.in_(case_ids), T.at >= start, T.at < end, _change(wf, statuses))
        .distinct(),
    )
    return {case_id for (case_id,) in rows}


def located(
    session: Session, wf: Workflow, before: datetime
) -> list[tuple[int, date, datetime, str | None]]:
    """(case id, opened on, located at, outcome) for each child located before `before`: a
    case that went into a lost status (locating, whereabouts unknown) is located at its
    first change after that to any other status, or a closure with any outcome but "no
    trace" (a case closed as "no trace" then has no such time)."""
    first_lost = (
        select(T.case_id, func.min(T.id).label("id"))
        .where(_change(wf, LOST), T.at < before)
        .group_by(T.case_id)
        .subquery()
    )
    others = [s for s in wf.statuses if s not in LOST]
    found = (
        select(T.case_id, func.min(T.id).label("id"))
        .join(first_lost, and_(first_lost.c.case_id == T.case_id, T.id > first_lost.c.id))
        .where(_change(wf, others), T.at < before)
        .group_by(T.case_id)
        .subquery()
    )
    rows = sources.batches(
        session,
        select(Case.id, Case.opened_on, T.at, T.kind, Case.outcome)
        .join(found, found.c.case_id == Case.id)
        .join(T, T.id == found.c.id)
        .where(Case.merged_into_id.is_(None)),
    )
    return [
        (case_id, opened, at, outcome)
        for case_id, opened, at, kind, outcome in rows
        if not (kind == "closed" and outcome == NOT_LOCATED)
    ]


@dataclass(frozen=True, slots=True)
class Spell:
    """A case's time missing education within a period."""

    case_id: int
    opened_on: date
    at_start: bool  # missing education just before the period began
    during: bool  # at any time in the period
    at_end: bool  # at the end of the period (the census)
    status_at_end: str


def is_missing(status: str, settings: Settings) -> bool:
    return status != CLOSED and status not in settings.reports.not_missing_statuses


def candidate_criteria(settings: Settings, start: date, end: date) -> tuple[Any, ...]:
    """The cases that can have been missing education in [start, end], as conditions on
    Case: opened by its end, not closed before its start, and not found never to have been
    CME (not CME on investigation, or a duplicate merged into another case)."""
    return (
        Case.opened_on <= end,
        Case.merged_into_id.is_(None),
        or_(Case.outcome.is_(None), Case.outcome.not_in(NEVER_CME)),
        or_(Case.closed_at.is_(None), Case.closed_at >= sources.day_start(settings, start)),
    )


def candidates(settings: Settings, start: date, end: date) -> Select[Any]:
    """The ids of those cases (candidate_criteria), for `IN` in a query over other tables; a
    query over the cases themselves takes the criteria directly."""
    return select(Case.id).where(*candidate_criteria(settings, start, end)).correlate(None)


def missing_in(
    session: Session, settings: Settings, start: date, end: date, now: datetime
) -> dict[int, Spell]:
    """Every case missing education at some time in [start, end] (local days), with its
    spell. A period that ends after `now` takes each case's status as it stands for its end."""
    wf = sources.workflow(settings)
    ids = candidates(settings, start, end)
    start_at = sources.day_start(settings, start)
    end_at = sources.day_start(settings, end + timedelta(days=1))
    before_start = last_status(session, wf, ids, start_at)
    at_end_status = None if end_at > now else last_status(session, wf, ids, end_at)
    missing = [s for s in wf.statuses if is_missing(s, settings)]
    became = entered(session, wf, ids, missing, start_at, end_at)
    initial_missing = is_missing(wf.initial, settings)
    out: dict[int, Spell] = {}
    chosen = candidate_criteria(settings, start, end)
    for case_id, opened, current in sources.batches(
        session, select(Case.id, Case.opened_on, Case.status).where(*chosen)
    ):
        at_start = opened < start and is_missing(before_start.get(case_id, wf.initial), settings)
        final = current if at_end_status is None else at_end_status.get(case_id, wf.initial)
        at_end = is_missing(final, settings)
        during = at_start or at_end or case_id in became or (opened >= start and initial_missing)
        if during:
            out[case_id] = Spell(case_id, opened, at_start, during, at_end, final)
    return out
