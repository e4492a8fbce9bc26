"""The termly briefing for the Assistant Director: the term's and the year's figures, with
charts, complex cases by reference only (never a child's name), as a print view and a PDF.

Definitions (also printed in the briefing):
- Located: a child whose case went into "locating" or "whereabouts unknown" is located at
  the first move out of those statuses to any other, or at a closure with any outcome but
  "no trace" (gateway/reports/history.py). Time to locate runs from the referral date.
- Placed: a case closed on roll at a school (in this LA, in another LA, or independent).
  Time to a school place runs from the referral date to the start date the closure gives,
  else to the day it closed.
- Missing longer than N days: missing education at the end of the period (open, and not in
  a status of reports.not_missing_statuses) with the referral more than N days before.
- Moves in: enquiries and case transfers received from another LA; moves out: children we
  started monitoring in another LA.
- Exchange response time: from an enquiry's creation to the first reply to it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from gateway.cases.labels import CHANNELS, SYSTEM_OUTCOMES
from gateway.models.case import Case
from gateway.models.referral import Referral
from gateway.reports import exchange_figures, history, sources
from gateway.reports.errors import ReportError
from gateway.reports.exchange_figures import PartnerMoves, Responses
from gateway.reports.figures import Count, Distribution, distribution
from gateway.reports.reasons import Reasons, load_reasons
from gateway.reports.terms import Term
from gateway.settings import Settings

NAME = "briefing"
PLACED = ("on_roll_this_la", "on_roll_other_la", "independent_school")
#: Upper bounds (days) of the time-to-locate and time-to-place bands.
DURATION_BANDS = (7, 14, 28, 56, 91)
#: Where referrals come from, as a heading reads (gateway.cases.labels has them mid-sentence).
SOURCES = {
    "email": "Email",
    "form": "Online referral form",
    "phone": "Phone",
    "other_la": "Another local authority",
    "lost_pupil_file": "Lost-pupil file",
    "school_deletion_return": "School deletion return",
}


@dataclass(frozen=True)
class WeekCount:
    week_start: date  # a Monday
    opened: int
    closed: int


@dataclass(frozen=True)
class Figures:
    """One period's figures: the term's, or the academic year's so far."""

    label: str
    start: date
    end: date
    referrals: int
    referrals_by_source: tuple[Count, ...]
    referrals_by_reason: tuple[Count, ...]
    opened: int
    closed: int
    outcomes: tuple[Count, ...]
    time_to_locate: Distribution
    time_to_place: Distribution
    moves: tuple[PartnerMoves, ...]
    our_enquiries: Responses  # we asked another LA; their replies
    their_enquiries: Responses  # another LA asked us; our replies


@dataclass(frozen=True)
class ComplexCase:
    """A case listed by its reference only."""

    reference: str
    status_label: str
    days_missing: int
    why: tuple[str, ...]
    escalations: tuple[str, ...]


@dataclass(frozen=True)
class Briefing:
    la_name: str
    term: Term
    on: date  # the day it was produced
    end: date  # the last day the figures cover (the term's end, or `on`)
    complete: bool  # the term is over
    term_figures: Figures
    year_figures: Figures
    weeks: tuple[WeekCount, ...]  # the term's weeks
    open_at_end: int
    missing_at_end: int
    long_term_days: int
    missing_longer: int  # missing education longer than long_term_days at the end
    complex_cases: tuple[ComplexCase, ...]  # escalated, then longest missing, first; at most
    # reports.complex_cases_max
    complex_total: int


@sources.collector_paused
def briefing(
    session: Session,
    settings: Settings,
    term: Term,
    *,
    actor: str,
    today: date,
    output: str = "page",
    now: datetime | None = None,
) -> Briefing:
    """The briefing for `term` (to `today` if it is not over). Audited as `report.briefing`."""
    if today < term.start:
        raise ReportError(f"the {term.label} has not started yet ({term.start.isoformat()})")
    now = now or datetime.now(sources.zone(settings))
    reasons = load_reasons(settings.reports.reasons_file)
    end = min(term.end, today)
    partners = sources.partner_names(session)
    located = _located(session, settings, end)
    term_figures = _figures(
        session, settings, reasons, partners, located, term.label, term.start, end
    )
    year_figures = _figures(
        session, settings, reasons, partners, located, f"Year so far ({term.academic_year})",
        term.year_start, end,
    )  # fmt: skip
    spells = history.missing_in(session, settings, term.start, end, now)
    at_end = [s for s in spells.values() if s.at_end]
    days = settings.reports.long_term_days
    longer = [s for s in at_end if sources.days_between(s.opened_on, end) > days]
    complex_cases = _complex(
        session, settings, at_end, history.candidate_criteria(settings, term.start, end), end, days
    )
    end_at = sources.day_start(settings, end + timedelta(days=1))
    open_at_end = session.execute(
        select(func.count(Case.id)).where(
            Case.opened_on <= end,
            Case.merged_into_id.is_(None),
            or_(Case.closed_at.is_(None), Case.closed_at >= end_at),
        )
    ).scalar_one()
    report = Briefing(
        la_name=settings.core.la_name,
        term=term,
        on=today,
        end=end,
        complete=today > term.end,
        term_figures=term_figures,
        year_figures=year_figures,
        weeks=_weeks(session, settings, term.start, end),
        open_at_end=int(open_at_end),
        missing_at_end=len(at_end),
        long_term_days=days,
        missing_longer=len(longer),
        complex_cases=tuple(complex_cases[: settings.reports.complex_cases_max]),
        complex_total=len(complex_cases),
    )
    sources.record_run(session, actor, NAME, output, term=term.name)
    return report


def _period(settings: Settings, start: date, end: date) -> tuple[datetime, datetime]:
    return sources.day_start(settings, start), sources.day_start(settings, end + timedelta(days=1))


def _figures(
    session: Session,
    settings: Settings,
    reasons: Reasons,
    partners: dict[str, str],
    located: list[tuple[date, int]],
    label: str,
    start: date,
    end: date,
) -> Figures:
    wf = sources.workflow(settings)
    start_at, end_at = _period(settings, start, end)
    by_source: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    for channel, reason, n in session.execute(
        select(Referral.channel, Referral.reason, func.count(Referral.id))
        .where(Referral.received_on >= start, Referral.received_on <= end)
        .group_by(Referral.channel, Referral.reason)
    ):
        by_source[channel] += n
        by_reason[reasons.classify(reason, channel)] += n
    opened = session.execute(
        select(func.count(Case.id)).where(
            Case.opened_on >= start, Case.opened_on <= end, Case.merged_into_id.is_(None)
        )
    ).scalar_one()
    outcomes: Counter[str] = Counter()
    for outcome, n in session.execute(
        select(Case.outcome, func.count(Case.id))
        .where(
            Case.closed_at >= start_at,
            Case.closed_at < end_at,
            Case.merged_into_id.is_(None),
        )
        .group_by(Case.outcome)
    ):
        outcomes[outcome or "not_recorded"] += n
    outcome_labels = {
        **{code: o.label for code, o in wf.outcomes.items()},
        **SYSTEM_OUTCOMES,
    }
    placed = []
    for opened_on, closed_at, detail in sources.batches(
        session,
        select(Case.opened_on, Case.closed_at, Case.outcome_detail).where(
            Case.closed_at >= start_at, Case.closed_at < end_at, Case.outcome.in_(PLACED)
        ),
    ):
        on = sources.parse_day((detail or {}).get("start_date")) or sources.local_day(
            settings, closed_at
        )
        placed.append(float(sources.days_between(opened_on, on)))
    return Figures(
        label=label,
        start=start,
        end=end,
        referrals=sum(by_source.values()),
        referrals_by_source=_counts(by_source, {**CHANNELS, **SOURCES}),
        referrals_by_reason=_counts(by_reason, reasons.labels, keep_order=True),
        opened=int(opened),
        closed=sum(outcomes.values()),
        outcomes=_counts(outcomes, outcome_labels),
        time_to_locate=distribution(
            [float(d) for on, d in located if start <= on <= end], DURATION_BANDS
        ),
        time_to_place=distribution(placed, DURATION_BANDS),
        moves=exchange_figures.moves(session, partners, start_at, end_at),
        our_enquiries=exchange_figures.responses(session, partners, start_at, end_at, ask="out"),
        their_enquiries=exchange_figures.responses(session, partners, start_at, end_at, ask="in"),
    )


def _counts(
    tally: Counter[str], labels: dict[str, str], *, keep_order: bool = False
) -> tuple[Count, ...]:
    """Every labelled category (zero or not), then any other code seen; largest first
    unless the labels' order means something."""
    codes = list(labels) + [c for c in tally if c not in labels]
    out = [Count(c, labels.get(c, c.replace("_", " ")), tally.get(c, 0)) for c in codes]
    if not keep_order:
        out.sort(key=lambda c: (-c.count, c.label))
    return tuple(out)


def _located(session: Session, settings: Settings, end: date) -> list[tuple[date, int]]:
    """(day located, days from the referral) for every child located by `end`."""
    wf = sources.workflow(settings)
    end_at = sources.day_start(settings, end + timedelta(days=1))
    out = []
    for _case_id, opened, at, _outcome in history.located(session, wf, end_at):
        day = sources.local_day(settings, at)
        out.append((day, sources.days_between(opened, day)))
    return out


def _weeks(session: Session, settings: Settings, start: date, end: date) -> tuple[WeekCount, ...]:
    start_at, end_at = _period(settings, start, end)
    opened: Counter[date] = Counter()
    for day, n in session.execute(
        select(Case.opened_on, func.count(Case.id))
        .where(Case.opened_on >= start, Case.opened_on <= end, Case.merged_into_id.is_(None))
        .group_by(Case.opened_on)
    ):
        opened[sources.week_start(day)] += n
    closed: Counter[date] = Counter()
    for (at,) in sources.batches(
        session,
        select(Case.closed_at).where(
            Case.closed_at >= start_at, Case.closed_at < end_at, Case.merged_into_id.is_(None)
        ),
    ):
        if at is not None:
            closed[sources.week_start(sources.local_day(settings, at))] += 1
    weeks = []
    monday = sources.week_start(start)
    while monday <= end:
        weeks.append(WeekCount(monday, opened.get(monday, 0), closed.get(monday, 0)))
        monday += timedelta(days=7)
    return tuple(weeks)


def _complex(
    session: Session,
    settings: Settings,
    at_end: list[history.Spell],
    chosen: tuple[Any, ...],
    end: date,
    days: int,
) -> list[ComplexCase]:
    """Children missing education at the end who are long-term, whose whereabouts are
    unknown, or whose case is escalated (escalations set by the end)."""
    wf = sources.workflow(settings)
    flags: dict[int, tuple[sources.Escalation, ...]] = {}
    for case_id, esc in sources.batches(
        session,
        select(Case.id, Case.escalations).where(*chosen, cast(Case.escalations, String) != "{}"),
    ):
        found = tuple(e for e in sources.escalations(wf, esc) if e.since is None or e.since <= end)
        if found:
            flags[case_id] = found
    out = []
    for s in at_end:
        missing = sources.days_between(s.opened_on, end)
        why = []
        if s.status_at_end == "whereabouts_unknown_tracking":
            why.append("Whereabouts unknown")
        if missing > days:
            why.append(f"Missing education longer than {days} days")
        escalated = flags.get(s.case_id, ())
        if escalated:
            why.append("Escalated")
        if why:
            out.append(
                ComplexCase(
                    reference=f"CME-{s.case_id}",
                    status_label=wf.statuses.get(s.status_at_end) or s.status_at_end,
                    days_missing=missing,
                    why=tuple(why),
                    escalations=tuple(e.label for e in escalated),
                )
            )
    out.sort(key=lambda c: (-len(c.escalations), -c.days_missing, c.reference))
    return out
