"""The pieces of a figure the reports share: a labelled count, and how long things took
(how many, the median, a count per band)."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Count:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class Distribution:
    """How long something took, in days: how many, the median, and a count per band."""

    n: int
    median_days: float | None
    bands: tuple[Count, ...]


def bands_of(bounds: tuple[int, ...], *, whole: bool = True) -> dict[str, str]:
    """Band codes and labels: "Up to 7 days", "8 to 14 days" ... "More than 91 days" (whole
    days), or "Up to 1 day", "1 to 3 days" ... for times that are not whole days."""
    first = bounds[0]
    out = {f"le_{first}": f"Up to {first} day{'' if first == 1 else 's'}"}
    for low, high in itertools.pairwise(bounds):
        out[f"le_{high}"] = f"{low + 1 if whole else low} to {high} days"
    out[f"gt_{bounds[-1]}"] = f"More than {bounds[-1]} days"
    return out


def distribution(
    values: list[float], bounds: tuple[int, ...], *, whole: bool = True
) -> Distribution:
    names = bands_of(bounds, whole=whole)
    tally: Counter[str] = Counter()
    for v in values:
        code = next((f"le_{b}" for b in bounds if v <= b), f"gt_{bounds[-1]}")
        tally[code] += 1
    return Distribution(
        len(values), median(values), tuple(Count(c, t, tally.get(c, 0)) for c, t in names.items())
    )


def median(values: list[float]) -> float | None:
    return round(float(statistics.median(values)), 1) if values else None
