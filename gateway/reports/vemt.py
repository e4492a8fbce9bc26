"""The VEMT panel's list: long-term children missing education, with their escalations.

Long-term: an open case whose child is still missing education (not in a status of
reports.not_missing_statuses) and either whose whereabouts are unknown or who has been missing
longer than reports.long_term_days since the referral; and any open case already referred to
the VEMT panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, cast, or_, select
from sqlalchemy.orm import Session

from gateway.cases.workflow import CLOSED
from gateway.models.case import Case, TimelineEntry
from gateway.models.casework import CaseStep
from gateway.models.child import Child
from gateway.reports import sources
from gateway.reports.formats import Document, Table, csv_text, words
from gateway.settings import Settings

NAME = "vemt"
WHEREABOUTS_UNKNOWN = "whereabouts_unknown_tracking"
#: A flag set through a recorded escalation step writes two timeline entries (the flag, then
#: the step); entries this close together are one escalation.
_PAIRED = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class EscalationEvent:
    at: datetime
    what: str  # "Escalated: Referred to the police", "Referred to the VEMT panel (cleared)"
    reason: str | None
    review: date | None
    by: str


@dataclass(frozen=True, slots=True)
class VemtRow:
    case_id: int
    reference: str
    child: str
    dob: date | None
    age: int | None
    officer_name: str
    status: str
    status_label: str
    opened_on: date
    days_missing: int
    why: tuple[str, ...]  # whereabouts unknown / missing longer than N days / referred to VEMT
    escalations: tuple[sources.Escalation, ...]  # in force now
    history: tuple[EscalationEvent, ...]  # every escalation recorded, oldest first


@dataclass(frozen=True)
class VemtList:
    on: date
    long_term_days: int
    rows: tuple[VemtRow, ...]


@sources.collector_paused
def vemt(
    session: Session, settings: Settings, *, actor: str, today: date, output: str = "page"
) -> VemtList:
    """The list as it stands `today`, longest missing first. Audited as `report.vemt`."""
    wf = sources.workflow(settings)
    days = settings.reports.long_term_days
    # The cases' own columns decide, so the list is one pass over the open cases (on the
    # status index) with no case joined back to itself.
    long_term = and_(
        Case.status.not_in(settings.reports.not_missing_statuses),
        or_(Case.status == WHEREABOUTS_UNKNOWN, Case.opened_on < today - timedelta(days=days)),
    )
    # A referral to the panel: the flag's key in the escalations column.
    to_panel = cast(Case.escalations, String).contains('"vemt"')
    chosen = (Case.status != CLOSED, or_(long_term, to_panel))
    ids = select(Case.id).where(*chosen).correlate(None)
    events = _history(session, ids)
    names = sources.officer_names(session)
    officer_names = sources.Words(lambda who: sources.officer_name(names, who))
    status_labels = sources.Words(lambda code: wf.statuses.get(code) or code)
    found = sources.batches(
        session,
        select(
            Case.id,
            Case.status,
            Case.allocated_to,
            Case.opened_on,
            # As text: most cases have none, and "{}" needs no JSON parser.
            cast(Case.escalations, String),
            Child.forenames,
            Child.surname,
            Child.dob,
        )
        .join(Child, Child.id == Case.child_id)
        .where(*chosen),
    )
    rows = []
    for case_id, st, allocated, opened, esc, forenames, surname, dob in found:
        current = sources.escalations(wf, sources.json_value(esc))
        missing_days = sources.days_between(opened, today)
        why = []
        if st == WHEREABOUTS_UNKNOWN:
            why.append("Whereabouts unknown")
        if missing_days > days and st not in settings.reports.not_missing_statuses:
            why.append(f"Missing education longer than {days} days")
        if any(e.flag == "vemt" for e in current):
            why.append("Referred to the VEMT panel")
        if not why:
            continue  # the text match on "vemt" found a case not referred to the panel
        rows.append(
            VemtRow(
                case_id=case_id,
                reference=f"CME-{case_id}",
                child=sources.child_name(forenames, surname),
                dob=dob,
                age=sources.age_on(dob, today),
                officer_name=officer_names[allocated],
                status=st,
                status_label=status_labels[st],
                opened_on=opened,
                days_missing=missing_days,
                why=tuple(why),
                escalations=current,
                history=tuple(events.get(case_id, ())),
            )
        )
    rows.sort(key=lambda r: (-r.days_missing, r.case_id))
    report = VemtList(today, days, tuple(rows))
    sources.record_run(session, actor, NAME, output, children=len(rows))
    return report


def _history(session: Session, case_ids: Select[Any]) -> dict[int, list[EscalationEvent]]:
    """Each case's escalations as recorded: the steps (with reason and review date) and the
    flags set or cleared by hand, oldest first."""
    steps = {
        step_id: (note, sources.parse_day((detail or {}).get("review")))
        for step_id, note, detail in sources.batches(
            session,
            select(CaseStep.id, CaseStep.note, CaseStep.detail).where(
                CaseStep.kind == "escalation", CaseStep.case_id.in_(case_ids)
            ),
        )
    }
    entries = sources.batches(
        session,
        select(
            TimelineEntry.case_id,
            TimelineEntry.at,
            TimelineEntry.summary,
            TimelineEntry.ref,
            TimelineEntry.actor,
        )
        .where(TimelineEntry.kind == "escalation", TimelineEntry.case_id.in_(case_ids))
        .order_by(TimelineEntry.case_id, TimelineEntry.at, TimelineEntry.id),
    )
    out: dict[int, list[EscalationEvent]] = {}
    for case_id, at, summary, ref, actor in entries:
        events = out.setdefault(case_id, [])
        step_id = int(ref[5:]) if ref and ref.startswith("step:") and ref[5:].isdigit() else None
        if step_id is not None:
            reason, review = steps.get(step_id, (None, None))
            flag_text = summary.removeprefix("Escalated: ")
            # The flag entry written just before this step's is the same escalation.
            if events and events[-1].what == flag_text and at - events[-1].at <= _PAIRED:
                events.pop()
            events.append(EscalationEvent(at, summary, reason, review, actor))
        else:
            events.append(EscalationEvent(at, summary, None, None, actor))
    return out


COLUMNS = (
    "reference",
    "child",
    "dob",
    "age",
    "officer_name",
    "status_label",
    "opened_on",
    "days_missing",
    "why",
    "escalations",
    "escalation_history",
)


def _current(row: VemtRow) -> str:
    return "; ".join(
        e.label
        + (f" since {words(e.since)}" if e.since else "")
        + (f", review {words(e.review)}" if e.review else "")
        for e in row.escalations
    )


def _history_text(row: VemtRow) -> str:
    return "; ".join(
        f"{words(e.at)} {e.what}"
        + (f" ({e.reason})" if e.reason else "")
        + (f", review {words(e.review)}" if e.review else "")
        for e in row.history
    )


def to_csv(report: VemtList) -> str:
    return csv_text(
        COLUMNS,
        (
            (
                r.reference,
                r.child,
                r.dob,
                r.age,
                r.officer_name,
                r.status_label,
                r.opened_on,
                r.days_missing,
                r.why,
                _current(r),
                _history_text(r),
            )
            for r in report.rows
        ),
    )


def to_document(report: VemtList) -> Document:
    return Document(
        title="VEMT panel: long-term children missing education",
        subtitle=f"as at {words(report.on)}",
        tables=(
            Table(
                caption=f"{len(report.rows)} children",
                columns=(
                    "Case",
                    "Child",
                    "Age",
                    "Officer",
                    "Status",
                    "Days missing",
                    "Why",
                    "Escalations now",
                    "Escalation history",
                ),
                rows=tuple(
                    (
                        r.reference,
                        f"{r.child} ({words(r.dob)})" if r.dob else r.child,
                        "" if r.age is None else str(r.age),
                        r.officer_name,
                        r.status_label,
                        str(r.days_missing),
                        "; ".join(r.why),
                        _current(r),
                        _history_text(r),
                    )
                    for r in report.rows
                ),
                numeric=(2, 5),
            ),
        ),
        notes=(
            f"Long-term: whereabouts unknown, or missing education longer than "
            f"{report.long_term_days} days since the referral, or referred to the VEMT panel.",
        ),
    )
