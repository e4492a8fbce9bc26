"""The termly DfE return: children missing education at the census by sex, year group,
primary reason and time missing, and those who started and stopped being CME in the term.

How each figure is counted is in docs/returns.md; keep the two together.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cases.labels import SEX, YEAR_GROUPS
from gateway.models.case import Case
from gateway.models.child import Child
from gateway.models.referral import Referral
from gateway.reports import history, sources
from gateway.reports.errors import ReportError
from gateway.reports.formats import Document, Table, csv_text
from gateway.reports.reasons import load_reasons
from gateway.reports.terms import Term
from gateway.settings import Settings

NAME = "dfe"
NOT_KNOWN = sources.NOT_KNOWN
MEASURES = {
    "census": "Missing education at the census date",
    "started": "Started being missing education in the term",
    "stopped": "Stopped being missing education in the term",
}
BREAKDOWNS = {
    "total": "All children",
    "sex": "Sex",
    "year_group": "Year group",
    "primary_reason": "Primary reason",
    "time_missing": "Time missing education at the census date",
}
#: The breakdowns given for each measure (time missing only means something at the census).
MEASURE_BREAKDOWNS = {
    "census": ("total", "sex", "year_group", "primary_reason", "time_missing"),
    "started": ("total", "sex", "year_group", "primary_reason"),
    "stopped": ("total", "sex", "year_group", "primary_reason"),
}


@dataclass(frozen=True)
class Count:
    measure: str
    breakdown: str
    category: str
    label: str
    children: int


@dataclass(frozen=True)
class DfeReturn:
    la_code: str
    la_name: str
    term: Term
    period_start: date
    period_end: date  # the term's last day, or the day it was run if the term is not over
    census_date: date
    complete: bool  # the term is over
    counts: tuple[Count, ...]

    def count(self, measure: str, breakdown: str = "total", category: str = "all") -> int:
        for c in self.counts:
            if (c.measure, c.breakdown, c.category) == (measure, breakdown, category):
                return c.children
        raise KeyError((measure, breakdown, category))


def band_labels(bands: tuple[int, ...]) -> dict[str, str]:
    """The time-missing categories for the band bounds (days), e.g. 28, 91 ->
    under_28, 28_90, 91_plus."""
    out = {f"under_{bands[0]}": f"Under {bands[0]} days"}
    for low, high in itertools.pairwise(bands):
        out[f"{low}_{high - 1}"] = f"{low} to {high - 1} days"
    out[f"{bands[-1]}_plus"] = f"{bands[-1]} days or more"
    return out


def band_of(bands: tuple[int, ...], days: int) -> str:
    for i, bound in enumerate(bands):
        if days < bound:
            return f"under_{bound}" if i == 0 else f"{bands[i - 1]}_{bound - 1}"
    return f"{bands[-1]}_plus"


@sources.collector_paused
def dfe_return(
    session: Session,
    settings: Settings,
    term: Term,
    *,
    actor: str,
    today: date,
    output: str = "page",
    now: datetime | None = None,
) -> DfeReturn:
    """The return for `term` (to `today` if the term is not over). Recorded in the audit
    log as `report.dfe` (who, which term, how)."""
    if today < term.start:
        raise ReportError(f"the {term.label} has not started yet ({term.start.isoformat()})")
    reasons = load_reasons(settings.reports.reasons_file)
    end = min(term.end, today)
    ids = history.candidates(settings, term.start, end)
    found = history.missing_in(
        session, settings, term.start, end, now or datetime.now(sources.zone(settings))
    )
    first = (
        select(func.min(Referral.id)).where(Referral.case_id.in_(ids)).group_by(Referral.case_id)
    )
    reason_of: dict[int, str] = {}
    seen: dict[tuple[str | None, str], str] = {}  # the same words are classified once
    for case_id, reason, channel in sources.batches(
        session,
        select(Referral.case_id, Referral.reason, Referral.channel).where(Referral.id.in_(first)),
    ):
        if case_id in found:
            key = (reason, channel)
            if key not in seen:
                seen[key] = reasons.classify(reason, channel)
            reason_of[case_id] = seen[key]
    rows = sources.batches(
        session,
        select(Case.id, Case.opened_on, Child.sex, Child.dob, Child.year_group)
        .join(Child, Child.id == Case.child_id)
        .where(*history.candidate_criteria(settings, term.start, end)),
    )
    bands = settings.reports.time_missing_bands
    years: dict[tuple[str | None, date | None], str] = {}
    children: dict[int, dict[str, str]] = {}  # case id -> breakdown -> category
    for case_id, opened, sex, dob, stored_year in rows:
        if case_id not in found:
            continue
        if (stored_year, dob) not in years:
            years[stored_year, dob] = sources.year_group(stored_year, dob, term.year_start)
        children[case_id] = {
            "total": "all",
            "sex": sex if sex in SEX else NOT_KNOWN,
            "year_group": years[stored_year, dob],
            "primary_reason": reason_of.get(case_id, "not_given"),
            "time_missing": band_of(bands, sources.days_between(opened, end)),
        }
    groups = {
        "census": [children[s.case_id] for s in found.values() if s.at_end],
        "started": [children[s.case_id] for s in found.values() if not s.at_start],
        "stopped": [children[s.case_id] for s in found.values() if not s.at_end],
    }
    names = {
        "total": {"all": "All children"},
        "sex": {**SEX, NOT_KNOWN: "Not known"},
        "year_group": {**YEAR_GROUPS, NOT_KNOWN: "Not known"},
        "primary_reason": reasons.labels,
        "time_missing": band_labels(bands),
    }
    counts: list[Count] = []
    for measure, breakdowns in MEASURE_BREAKDOWNS.items():
        for breakdown in breakdowns:
            tally = Counter(child[breakdown] for child in groups[measure])
            counts += [
                Count(measure, breakdown, code, text, tally.get(code, 0))
                for code, text in names[breakdown].items()
            ]
    report = DfeReturn(
        la_code=settings.core.la_code,
        la_name=settings.core.la_name,
        term=term,
        period_start=term.start,
        period_end=end,
        census_date=end,
        complete=today > term.end,
        counts=tuple(counts),
    )
    sources.record_run(session, actor, NAME, output, term=term.name, census=len(groups["census"]))
    return report


COLUMNS = (
    "la_code",
    "term",
    "period_start",
    "period_end",
    "census_date",
    "measure",
    "breakdown",
    "category",
    "label",
    "children",
)


def to_csv(report: DfeReturn) -> str:
    """One line per count (columns and counting rules: docs/returns.md)."""
    return csv_text(
        COLUMNS,
        (
            (
                report.la_code,
                report.term.name,
                report.period_start,
                report.period_end,
                report.census_date,
                c.measure,
                c.breakdown,
                c.category,
                c.label,
                c.children,
            )
            for c in report.counts
        ),
    )


def to_document(report: DfeReturn) -> Document:
    tables = []
    for measure, title in MEASURES.items():
        for breakdown in MEASURE_BREAKDOWNS[measure]:
            rows = tuple(
                (c.label, str(c.children))
                for c in report.counts
                if c.measure == measure and c.breakdown == breakdown
            )
            tables.append(
                Table(
                    caption=f"{title}: {BREAKDOWNS[breakdown].lower()}",
                    columns=(BREAKDOWNS[breakdown], "Children"),
                    rows=rows,
                    numeric=(1,),
                )
            )
    state = "" if report.complete else " (the term is not over: figures to date)"
    return Document(
        title=f"DfE return: children missing education, {report.term.label}",
        subtitle=(
            f"LA {report.la_code}, {report.period_start.isoformat()} to "
            f"{report.period_end.isoformat()}, census {report.census_date.isoformat()}{state}"
        ),
        tables=tuple(tables),
        notes=("Counts of children; how each is counted: docs/returns.md.",),
        marking="OFFICIAL",
    )
