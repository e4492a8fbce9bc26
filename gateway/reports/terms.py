"""School terms named `YYYY-autumn|spring|summer`, mapped to dates by the [reports] settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from gateway.reports.errors import ReportError
from gateway.settings import Reports

TERMS = ("spring", "summer", "autumn")  # in calendar order
_NAME = re.compile(r"^(\d{4})-(autumn|spring|summer)$")


@dataclass(frozen=True)
class Term:
    """One term: its name, its first and last day, and the academic year it belongs to."""

    name: str
    start: date
    end: date
    year_start: date  # the first day of its academic year (the autumn term's start)

    @property
    def label(self) -> str:
        """ "Autumn term 2026"."""
        year, _, season = self.name.partition("-")
        return f"{season.capitalize()} term {year}"

    @property
    def academic_year(self) -> str:
        """ "2026/27"."""
        return f"{self.year_start.year}/{(self.year_start.year + 1) % 100:02d}"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def _start(r: Reports, season: str, year: int) -> date:
    month, day = (int(p) for p in getattr(r, f"{season}_start").split("-"))
    return date(year, month, day)


def term(r: Reports, name: str) -> Term:
    """The term called `name` ("2026-autumn"), or a ReportError saying how to write one."""
    m = _NAME.match(name.strip().lower())
    if m is None:
        raise ReportError(
            f"a term is written YYYY-autumn, YYYY-spring or YYYY-summer (e.g. 2026-autumn), "
            f"not {name!r}"
        )
    year, season = int(m.group(1)), m.group(2)
    start = _start(r, season, year)
    index = TERMS.index(season)
    if index + 1 < len(TERMS):
        following = _start(r, TERMS[index + 1], year)
    else:
        following = _start(r, TERMS[0], year + 1)
    year_start = _start(r, "autumn", year if season == "autumn" else year - 1)
    return Term(f"{year}-{season}", start, following - timedelta(days=1), year_start)


def term_of(r: Reports, day: date) -> Term:
    """The term that `day` falls in."""
    for year in (day.year, day.year - 1):
        for season in reversed(TERMS):
            found = term(r, f"{year}-{season}")
            if found.contains(day):
                return found
    raise AssertionError(f"no term contains {day}")  # pragma: no cover - terms tile the year
