"""What the DfE return's page shows beyond the counts: its tables laid out by breakdown, and
what each CSV column and measure means (the words of docs/returns.md, which a test holds
these to, since the docs are not served)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.reports.dfe import BREAKDOWNS, MEASURE_BREAKDOWNS, MEASURES, DfeReturn

#: Column headings for the measures, short enough for a table.
MEASURE_HEADINGS = {
    "census": "At the census date",
    "started": "Started in the term",
    "stopped": "Stopped in the term",
}

#: docs/returns.md, "DfE return": the CSV's columns, in order.
COLUMN_MEANINGS = (
    ("la_code", "our LA code (core.la_code)"),
    ("term", "the term, e.g. 2026-autumn"),
    ("period_start", "the term's first day"),
    ("period_end", "the term's last day, or the day the return was made if the term is not over"),
    ("census_date", "the day the census counts are taken: the same as period_end"),
    ("measure", "what is counted: census, started or stopped (below)"),
    ("breakdown", "total, sex, year_group, primary_reason or time_missing"),
    ("category", "the code of the category within the breakdown (all for the total)"),
    ("label", "the category in words"),
    ("children", "the number of children"),
)

#: docs/returns.md: the measures (each child once: one case per child).
MEASURE_MEANINGS = (
    ("census", "children missing education on the census date."),
    (
        "started",
        "children missing education at some time in the term who were not missing education "
        "the day before it started (new referrals, and cases that became missing again).",
    ),
    (
        "stopped",
        "children missing education at some time in the term who were not missing education "
        "at its end (closed, placed and monitored, or moved out). A child can have started "
        "and stopped in the same term and is then in both.",
    ),
)


@dataclass(frozen=True)
class DfeTable:
    """One breakdown's counts: a row per category, a column per measure that has it."""

    breakdown: str
    caption: str
    measures: tuple[str, ...]
    rows: tuple[tuple[str, tuple[int, ...]], ...]  # (category in words, count per measure)

    @property
    def headings(self) -> tuple[str, ...]:
        return tuple(MEASURE_HEADINGS[m] for m in self.measures)


def dfe_tables(report: DfeReturn) -> tuple[DfeTable, ...]:
    """The return's counts, a table per breakdown (all children, sex, year group ...)."""
    counts = {(c.measure, c.breakdown, c.category): c.children for c in report.counts}
    tables = []
    for breakdown, caption in BREAKDOWNS.items():
        measures = tuple(m for m in MEASURES if breakdown in MEASURE_BREAKDOWNS[m])
        categories = dict.fromkeys(
            (c.category, c.label)
            for c in report.counts
            if c.breakdown == breakdown and c.measure == measures[0]
        )
        rows = tuple(
            (text, tuple(counts.get((m, breakdown, code), 0) for m in measures))
            for code, text in categories
        )
        tables.append(DfeTable(breakdown, caption, measures, rows))
    return tuple(tables)
