"""The weekly caseload list: every open case by officer, with its last and next action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.cases.labels import TASKS, label
from gateway.models.case import Case
from gateway.models.referral import Referral
from gateway.reports import sources
from gateway.reports.errors import ReportError
from gateway.reports.formats import Document, Table, csv_text, words
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
    rows = sources.open_case_rows(session, *chosen)
    flags = sources.flags_of(session, sources.open_cases().where(*chosen))
    names = sources.officer_names(session)
    partners = sources.partner_names(session)
    # Words for codes, worked out once per code rather than once per case.
    officer_names = sources.Words(lambda who: sources.officer_name(names, who))
    status_labels = sources.Words(lambda code: wf.statuses.get(code) or code)
    task_labels = sources.Words(lambda kind: label(TASKS, kind))
    partner_labels = sources.Words(lambda la: sources.partner_name(partners, la))
    built: dict[str | None, list[CaseloadRow]] = {}
    for c in rows:
        entry, task, partner = c.last, c.next_task, c.monitoring_la
        built.setdefault(c.allocated_to, []).append(
            CaseloadRow(
                case_id=c.case_id,
                reference=f"CME-{c.case_id}",
                child=sources.child_name(c.forenames, c.surname),
                dob=c.dob,
                officer=c.allocated_to,
                officer_name=officer_names[c.allocated_to],
                status=c.status,
                status_label=status_labels[c.status],
                opened_on=c.opened_on,
                days_open=sources.days_between(c.opened_on, today),
                urgency=c.urgency,
                urgency_label=sources.urgency_label(c.urgency),
                flags=sources.flag_labels(flags.get(c.case_id, ())),
                last_action=LastAction(entry.at, entry.summary) if entry else None,
                next_action=(
                    NextAction(task.kind, task_labels[task.kind], task.due, task.due < today)
                    if task
                    else None
                ),
                escalations=sources.escalations(wf, c.escalations),
                monitoring_la=partner,
                monitoring_partner=partner_labels[partner] if partner else None,
                # The latest entry is the newest: anything recorded since shows there.
                changed_since_last_week=entry is not None and entry.at >= since_at,
            )
        )
    groups = [
        OfficerCaseload(
            who,
            sources.officer_name(names, who),
            tuple(sorted(cases, key=_pressing)),
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


def _pressing(row: CaseloadRow) -> tuple[int, date, int, int]:
    """Safeguarding first, then urgent; then the next action due soonest; then oldest; then
    by case number (so the order never depends on how the database read the rows)."""
    due = row.next_action.due if row.next_action else date.max
    return (-sources.URGENCY_ORDER.index(row.urgency), due, -row.days_open, row.case_id)


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


def to_csv(report: Caseload) -> str:
    """One line per case, officer by officer (columns: docs/returns.md)."""
    return csv_text(
        COLUMNS,
        (
            (
                r.officer or "",
                r.officer_name,
                r.reference,
                r.child,
                r.dob,
                r.status,
                r.status_label,
                r.opened_on,
                r.days_open,
                r.urgency_label,
                r.flags,
                _escalations(r),
                r.last_action.at if r.last_action else None,
                r.last_action.summary if r.last_action else None,
                r.next_action.label if r.next_action else None,
                r.next_action.due if r.next_action else None,
                r.next_action.overdue if r.next_action else None,
                r.monitoring_partner,
                r.changed_since_last_week,
            )
            for r in report.rows
        ),
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
