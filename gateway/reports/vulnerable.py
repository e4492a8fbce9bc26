"""The weekly inclusion meeting's list of vulnerable pupils: open CME cases, children on the
EHE register with concerns, escalated cases and children monitored out of area, in one list
with the team each sits with.

"On the EHE register with concerns": a current EHE register entry (no end date, or one not yet
passed) that an officer confirmed as the child of a referral or a case, where that case has an
escalation (social care, police, VEMT) or any of its referrals was marked safeguarding or said
the child is on a child protection plan, known to social care or looked after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.cases.labels import YEAR_GROUPS, label
from gateway.models.case import Case
from gateway.models.matching import MatchDecision, Register, RegisterEntry
from gateway.models.referral import Referral, Urgency
from gateway.reports import sources
from gateway.reports.formats import Document, Table, csv_text, words
from gateway.reports.terms import term_of
from gateway.settings import Settings

NAME = "vulnerable"
CME_TEAM = "Children Missing Education team"
EHE_TEAM = "Elective Home Education team"
ESCALATION_TEAMS = {
    "social_care": "Children's Social Care / MASH",
    "police": "Police",
    "vemt": "VEMT panel",
}
CATEGORIES = {
    "cme": "Open CME case",
    "out_of_area": "Monitored out of area",
    "ehe": "On the EHE register with concerns",
}


@dataclass(frozen=True, slots=True)
class VulnerableRow:
    reference: str  # "CME-12", or "EHE-7" for a register entry with no case open
    case_id: int | None
    child: str
    dob: date | None
    year_group: str
    category: str  # a CATEGORIES key
    team: str  # who the child sits with
    also_with: tuple[str, ...]  # the teams the case is escalated to
    reasons: tuple[str, ...]  # why the child is on the list, in words
    officer_name: str | None
    status_label: str | None
    days_open: int | None
    urgency_label: str | None


@dataclass(frozen=True)
class VulnerableList:
    on: date
    rows: tuple[VulnerableRow, ...]

    def by_team(self) -> dict[str, tuple[VulnerableRow, ...]]:
        out: dict[str, list[VulnerableRow]] = {}
        for row in self.rows:
            out.setdefault(row.team, []).append(row)
        return {team: tuple(rows) for team, rows in out.items()}


@dataclass(frozen=True, slots=True)
class _EheLink:
    entry_id: int
    case_id: int | None
    referral_id: int | None


def _ehe_links(session: Session) -> list[_EheLink]:
    """Register entries an officer confirmed as the child of a case or a referral."""
    rows = session.execute(
        select(MatchDecision.query_ref, MatchDecision.target_ref).where(
            MatchDecision.target_kind == Register.EHE.value,
            MatchDecision.verdict == "confirmed",
        )
    )
    out = []
    for query_ref, target_ref in rows:
        kind, _, qid = query_ref.partition(":")
        _, _, eid = target_ref.partition(":")
        if not (qid.isdigit() and eid.isdigit()) or kind not in ("case", "referral"):
            continue
        out.append(
            _EheLink(
                int(eid),
                int(qid) if kind == "case" else None,
                int(qid) if kind == "referral" else None,
            )
        )
    return out


def _concerns(urgent: bool, flags: set[str], escalated: tuple[str, ...]) -> tuple[str, ...]:
    words = [f"Escalated: {e}" for e in escalated]
    if urgent:
        words.append("Referred as a safeguarding concern")
    words += list(sources.flag_labels(f for f in flags if f in sources.CONCERN_FLAGS))
    return tuple(words)


@sources.collector_paused
def vulnerable(
    session: Session, settings: Settings, *, actor: str, today: date, output: str = "page"
) -> VulnerableList:
    """The list as it stands `today`. Recorded in the audit log as `report.vulnerable`."""
    wf = sources.workflow(settings)
    names = sources.officer_names(session)
    partners = sources.partner_names(session)
    year_start = term_of(settings.reports, today).year_start
    rows: list[VulnerableRow] = []
    open_ids: set[int] = set()
    for c in sources.open_case_rows(session):
        open_ids.add(c.case_id)
        escalated = sources.escalations(wf, c.escalations)
        partner = c.monitoring_la
        reasons = [CATEGORIES["cme"]]
        if partner or c.status == "moved_out_tracking":
            category = "out_of_area"
            where = sources.partner_name(partners, partner) if partner else "not yet confirmed"
            team = f"Another authority: {where}"
            reasons.append(f"Moved out, monitored with {where}")
        else:
            category, team = "cme", CME_TEAM
        reasons += [f"Escalated: {e.label}" for e in escalated]
        rows.append(
            VulnerableRow(
                reference=f"CME-{c.case_id}",
                case_id=c.case_id,
                child=sources.child_name(c.forenames, c.surname),
                dob=c.dob,
                year_group=_year(c.year_group, c.dob, year_start),
                category=category,
                team=team,
                also_with=tuple(ESCALATION_TEAMS.get(e.flag, e.label) for e in escalated),
                reasons=tuple(reasons),
                officer_name=sources.officer_name(names, c.allocated_to),
                status_label=wf.statuses.get(c.status) or c.status,
                days_open=sources.days_between(c.opened_on, today),
                urgency_label=sources.urgency_label(c.urgency),
            )
        )
    rows += _ehe_rows(session, settings, today, open_ids, year_start)
    rows.sort(key=lambda r: (r.team != CME_TEAM, r.team, r.reference))
    report = VulnerableList(today, tuple(rows))
    sources.record_run(session, actor, NAME, output, children=len(rows))
    return report


def _year(stored: str | None, dob: date | None, year_start: date) -> str:
    code = sources.year_group(stored, dob, year_start)
    return "" if code == sources.NOT_KNOWN else label(YEAR_GROUPS, code)


def _ehe_rows(
    session: Session, settings: Settings, today: date, open_ids: set[int], year_start: date
) -> list[VulnerableRow]:
    wf = sources.workflow(settings)
    links = _ehe_links(session)
    if not links:
        return []
    referral_case = dict(
        session.execute(
            select(Referral.id, Referral.case_id).where(
                Referral.id.in_([x.referral_id for x in links if x.referral_id])
            )
        ).all()
    )
    by_entry: dict[int, set[int | None]] = {}
    lone_referrals: dict[int, set[int]] = {}
    for link in links:
        case_id = link.case_id or referral_case.get(link.referral_id or 0)
        by_entry.setdefault(link.entry_id, set()).add(case_id)
        if case_id is None and link.referral_id:
            lone_referrals.setdefault(link.entry_id, set()).add(link.referral_id)
    case_ids = {c for cs in by_entry.values() for c in cs if c is not None}
    escalations = {
        cid: sources.escalations(wf, esc)
        for cid, esc in session.execute(
            select(Case.id, Case.escalations).where(Case.id.in_(case_ids))
        )
    }
    lone = {r for rs in lone_referrals.values() for r in rs}
    urgent: set[int] = set()  # case ids, and referral ids as negatives
    flags: dict[int, set[str]] = {}
    for rid, cid, level, raw in session.execute(
        select(Referral.id, Referral.case_id, Referral.urgency, Referral.flags).where(
            or_(Referral.case_id.in_(case_ids), Referral.id.in_(lone))
        )
    ):
        key = cid if cid is not None else -rid
        if level == Urgency.SAFEGUARDING.value:
            urgent.add(key)
        if isinstance(raw, dict):
            flags.setdefault(key, set()).update(k for k, v in raw.items() if v is True)
    entries = session.execute(
        select(RegisterEntry).where(
            RegisterEntry.id.in_(list(by_entry)),
            or_(RegisterEntry.to_date.is_(None), RegisterEntry.to_date >= today),
        )
    ).scalars()
    rows = []
    for entry in entries:
        keys = [c for c in by_entry[entry.id] if c is not None]
        keys += [-r for r in lone_referrals.get(entry.id, ())]
        if any(k in open_ids for k in keys):
            continue  # the open case is on the list already
        escalated = tuple(e for k in keys if k > 0 for e in escalations.get(k, ()))
        concerns = _concerns(
            any(k in urgent for k in keys),
            set().union(*(flags.get(k, set()) for k in keys)),
            tuple(e.label for e in escalated),
        )
        if not concerns:
            continue
        since = f" since {words(entry.from_date)}" if entry.from_date else ""
        case_id = next((k for k in sorted(keys) if k > 0), None)
        rows.append(
            VulnerableRow(
                reference=f"CME-{case_id}" if case_id else f"EHE-{entry.id}",
                case_id=case_id,
                child=sources.child_name(entry.forename, entry.surname),
                dob=entry.dob,
                year_group=_year(entry.year_group, entry.dob, year_start),
                category="ehe",
                team=EHE_TEAM,
                also_with=tuple(ESCALATION_TEAMS.get(e.flag, e.label) for e in escalated),
                reasons=(f"{CATEGORIES['ehe']}{since}", *concerns),
                officer_name=None,
                status_label=None,
                days_open=None,
                urgency_label=None,
            )
        )
    return rows


COLUMNS = (
    "team",
    "category",
    "reference",
    "child",
    "dob",
    "year_group",
    "reasons",
    "also_with",
    "officer_name",
    "status_label",
    "days_open",
    "urgency",
)


def to_csv(report: VulnerableList) -> str:
    return csv_text(
        COLUMNS,
        (
            (
                r.team,
                CATEGORIES[r.category],
                r.reference,
                r.child,
                r.dob,
                r.year_group,
                r.reasons,
                r.also_with,
                r.officer_name,
                r.status_label,
                r.days_open,
                r.urgency_label,
            )
            for r in report.rows
        ),
    )


def to_document(report: VulnerableList) -> Document:
    tables = tuple(
        Table(
            caption=f"{team}: {len(rows)}",
            columns=(
                "Case",
                "Child",
                "Year",
                "Why on the list",
                "Also with",
                "Officer",
                "Status",
                "Days open",
            ),
            rows=tuple(
                (
                    r.reference,
                    f"{r.child} ({words(r.dob)})" if r.dob else r.child,
                    r.year_group,
                    "; ".join(r.reasons),
                    "; ".join(r.also_with),
                    r.officer_name or "",
                    r.status_label or "",
                    "" if r.days_open is None else str(r.days_open),
                )
                for r in rows
            ),
            numeric=(7,),
        )
        for team, rows in report.by_team().items()
    )
    return Document(
        title="Vulnerable pupils: weekly inclusion meeting",
        subtitle=f"as at {words(report.on)}",
        tables=tables,
        notes=(
            f"{len(report.rows)} children. On the EHE register with concerns: a current EHE "
            "register entry confirmed as the child of a case or referral that was escalated, "
            "marked safeguarding, or names a child protection plan, social care or looked "
            "after.",
        ),
    )
