"""The weekly caseload list: every open case by officer, with its last and next action."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.cases.labels import TASKS, label
from gateway.models.case import Case
from gateway.models.referral import Referral
from gateway.reports import sources
from gateway.reports.errors import ReportError
from gateway.reports.formats import Document, Table, csv_cell, csv_of_cells, words
from gateway.settings import Settings

NAME = "caseload"
#: The officer filter's value for cases allocated to nobody.
UNALLOCATED = "unallocated"
CHANGED_DAYS = 7


@dataclass(frozen=True, slots=True)
class LastAction:
    at: datetime
    summary: str


@dataclass(frozen=True, slots=True)
class NextAction:
    kind: str
    label: str
    due: date
    overdue: bool


@dataclass(frozen=True, slots=True)
class CaseloadRow:
    case_id: int
    reference: str
    child: str
    dob: date | None
    officer: str | None
    officer_name: str
    status: str
    status_label: str
    opened_on: date
    days_open: int
    urgency: str
    urgency_label: str
    flags: tuple[str, ...]  # in words
    last_action: LastAction | None
    next_action: NextAction | None
    escalations: tuple[sources.Escalation, ...]
    monitoring_la: str | None
    monitoring_partner: str | None
    changed_since_last_week: bool


@dataclass(frozen=True)
class OfficerCaseload:
    officer: str | None  # username; None: not allocated
    officer_name: str
    rows: tuple[CaseloadRow, ...]

    @property
    def changed(self) -> int:
        return sum(r.changed_since_last_week for r in self.rows)


@dataclass(frozen=True)
class Filters:
    officer: str | None = None  # a username, or UNALLOCATED
    status: str | None = None
    urgent_only: bool = False


@dataclass(frozen=True)
class Caseload:
    on: date
    changed_since: date  # "changed since last week": a timeline entry on or after this day
    filters: Filters
    officers: tuple[OfficerCaseload, ...]

    @property
    def total(self) -> int:
        return sum(len(o.rows) for o in self.officers)

    @property
    def rows(self) -> tuple[CaseloadRow, ...]:
        return tuple(r for o in self.officers for r in o.rows)


@sources.collector_paused
def caseload(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    today: date,
    officer: str | None = None,
    status: str | None = None,
    urgent_only: bool = False,
    output: str = "page",
) -> Caseload:
    """Every open case (filtered: one officer or UNALLOCATED, one status, urgent only),
    grouped by officer, most pressing first. Recorded in the audit log as `report.caseload`
    (who ran it, how and with which filters)."""
    wf = sources.workflow(settings)
    if status is not None and (status not in wf.statuses or status == "closed"):
        open_statuses = ", ".join(s for s in wf.statuses if s != "closed")
        raise ReportError(f"the caseload lists open cases; choose a status from: {open_statuses}")
    chosen: list[ColumnElement[bool]] = []
    if officer == UNALLOCATED:
        chosen.append(Case.allocated_to.is_(None))
    elif officer:
        chosen.append(Case.allocated_to == officer)
    if status:
        chosen.append(Case.status == status)
    if urgent_only:
        urgent = select(Referral.case_id).where(Referral.urgency.in_(sources.URGENT))
        chosen.append(Case.id.in_(urgent))

    since = today - timedelta(days=CHANGED_DAYS)
    since_at = sources.day_start(settings, since)
    flags = sources.flags_of(session, sources.open_cases().where(*chosen))
    names = sources.officer_names(session)
    partners = sources.partner_names(session)
    # Words for codes (and days open for an opening day), worked out once per code rather
    # than once per case.
    officer_names = sources.Words(lambda who: sources.officer_name(names, who))
    status_labels = sources.Words(lambda code: wf.statuses.get(code) or code)
    task_labels = sources.Words(lambda kind: label(TASKS, kind))
    partner_labels = sources.Words(lambda la: sources.partner_name(partners, la))
    urgency_labels = sources.Words(sources.urgency_label)
    days_open: dict[date, int] = {}
    # A next action is a value of its kind and due day alone: one for all the cases sharing it.
    next_actions: dict[tuple[str, date], NextAction] = {}
    built: dict[str | None, list[tuple[tuple[int, date, int, int], CaseloadRow]]] = {}
    # Straight from the query's tuples (columns: sources.open_case_statement), with no
    # intermediate value per case.
    rows = sources.open_case_tuples(session, *chosen)
    for (case_id, case_status, allocated, opened, esc, forenames, surname, dob, _year, level, at,
         _kind, summary, task_kind, due, partner) in rows:  # fmt: skip
        level = level or 0
        urgency = sources.URGENCY_ORDER[level]
        days = days_open.get(opened)
        if days is None:
            days = days_open[opened] = sources.days_between(opened, today)
        if task_kind is None:
            next_action, soonest = None, date.max
        else:
            next_action = next_actions.get((task_kind, due))
            if next_action is None:
                next_action = next_actions[task_kind, due] = NextAction(
                    task_kind, task_labels[task_kind], due, due < today
                )
            soonest = due
        on = flags.get(case_id)
        row = CaseloadRow(
            case_id=case_id,
            reference=f"CME-{case_id}",
            child=sources.child_name(forenames, surname),
            dob=dob,
            officer=allocated,
            officer_name=officer_names[allocated],
            status=case_status,
            status_label=status_labels[case_status],
            opened_on=opened,
            days_open=days,
            urgency=urgency,
            urgency_label=urgency_labels[urgency],
            flags=sources.flag_labels(on) if on else (),
            last_action=LastAction(at, summary) if at is not None else None,
            next_action=next_action,
            escalations=sources.escalations(wf, sources.json_value(esc)) if esc else (),
            monitoring_la=partner,
            monitoring_partner=partner_labels[partner] if partner else None,
            # The latest entry is the newest: anything recorded since shows there.
            changed_since_last_week=at is not None and at >= since_at,
        )
        # Most pressing first: safeguarding, then urgent; then the next action due soonest;
        # then oldest; then by case number (so the order never depends on how the database
        # read the rows).
        built.setdefault(allocated, []).append(((-level, soonest, -days, case_id), row))
    groups = [
        OfficerCaseload(
            who,
            sources.officer_name(names, who),
            tuple(row for _, row in sorted(cases, key=itemgetter(0))),
        )
        for who, cases in built.items()
    ]
    groups.sort(key=lambda g: (g.officer is None, g.officer_name.lower(), g.officer or ""))
    report = Caseload(today, since, Filters(officer, status, urgent_only), tuple(groups))
    sources.record_run(
        session,
        actor,
        NAME,
        output,
        officer=officer,
        status=status,
        urgent_only=urgent_only or None,
        cases=report.total,
    )
    return report


COLUMNS = (
    "officer",
    "officer_name",
    "reference",
    "child",
    "dob",
    "status",
    "status_label",
    "opened_on",
    "days_open",
    "urgency",
    "flags",
    "escalations",
    "last_action_at",
    "last_action",
    "next_action",
    "next_action_due",
    "next_action_overdue",
    "monitoring_partner",
    "changed_since_last_week",
)


def _escalations(row: CaseloadRow) -> str:
    return "; ".join(
        e.label + (f" (since {words(e.since)})" if e.since else "") for e in row.escalations
    )


def _text_cell(value: str | date | None) -> str:
    return str(csv_cell(value))


def to_csv(report: Caseload) -> str:
    """One line per case, officer by officer (columns: docs/returns.md)."""
    return csv_of_cells(COLUMNS, _csv_rows(report.rows))


def _csv_rows(rows: Iterable[CaseloadRow]) -> Iterator[tuple[str | int, ...]]:
    """The rows' cells as csv_text would write them, each distinct code, name and day worked
    out once for the whole list rather than once per case."""
    texts = sources.Words(_text_cell)  # codes, names, summaries
    days = sources.Words(_text_cell)
    # An instant's cell is its wall-clock time: kept by the instant and its zone, since equal
    # instants in two zones read differently.
    stamps = sources.Words(lambda key: _text_cell(key[0]))
    for r in rows:
        last, nxt = r.last_action, r.next_action
        yield (
            texts[r.officer],
            texts[r.officer_name],
            csv_cell(r.reference),
            csv_cell(r.child),
            days[r.dob],
            texts[r.status],
            texts[r.status_label],
            days[r.opened_on],
            r.days_open,
            texts[r.urgency_label],
            csv_cell(r.flags) if r.flags else "",
            csv_cell(_escalations(r)) if r.escalations else "",
            stamps[last.at, last.at.tzinfo] if last else "",
            texts[last.summary] if last else "",
            texts[nxt.label] if nxt else "",
            days[nxt.due] if nxt else "",
            ("yes" if nxt.overdue else "no") if nxt else "",
            texts[r.monitoring_partner],
            "yes" if r.changed_since_last_week else "no",
        )


def to_document(report: Caseload) -> Document:
    filters = report.filters
    parts = [f"open cases on {words(report.on)}"]
    if filters.officer:
        parts.append(f"officer: {filters.officer}")
    if filters.status:
        parts.append(f"status: {filters.status}")
    if filters.urgent_only:
        parts.append("urgent and safeguarding only")
    tables = tuple(
        Table(
            caption=f"{group.officer_name}: {len(group.rows)} "
            f"case{'' if len(group.rows) == 1 else 's'}, {group.changed} changed since last week",
            columns=(
                "Changed",
                "Case",
                "Child",
                "Status",
                "Days open",
                "Urgency and flags",
                "Last action",
                "Next action",
                "Escalations",
                "Monitoring",
            ),
            rows=tuple(
                (
                    "●" if r.changed_since_last_week else "",
                    r.reference,
                    f"{r.child} ({words(r.dob)})" if r.dob else r.child,
                    r.status_label,
                    str(r.days_open),
                    "; ".join((r.urgency_label, *r.flags)),
                    (
                        f"{words(r.last_action.at)}: {r.last_action.summary}"
                        if r.last_action
                        else ""
                    ),
                    (
                        f"{r.next_action.label}, due {words(r.next_action.due)}"
                        + (" (overdue)" if r.next_action.overdue else "")
                        if r.next_action
                        else ""
                    ),
                    _escalations(r),
                    r.monitoring_partner or "",
                )
                for r in group.rows
            ),
            numeric=(4,),
        )
        for group in report.officers
    )
    return Document(
        title="Weekly caseload",
        subtitle=", ".join(parts),
        tables=tables,
        notes=(
            f"{report.total} open cases. ● changed since last week: something was recorded on "
            f"the case on or after {words(report.changed_since)}.",
        ),
    )
