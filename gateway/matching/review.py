"""A stored candidate laid out for the officer's review: both records side by side, field by
field, and each field's contribution to the score as the steps of a waterfall (from the
prior odds to the final score, as Splink's waterfall chart explains a match)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from gateway.cases.labels import MATCH_FIELDS, MATCH_LEVELS, SEX, SOURCES, label
from gateway.matching.candidates import CandidateView, get_candidate


@dataclass(frozen=True)
class FieldRow:
    field: str
    name: str
    query_value: str
    target_value: str
    level: str
    weight: float


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: from `start` to `end` in log2 odds (bits)."""

    name: str
    start: float
    end: float

    @property
    def weight(self) -> float:
        return round(self.end - self.start, 2)


@dataclass(frozen=True)
class Review:
    candidate: CandidateView
    query_label: str
    target_label: str
    fields: tuple[FieldRow, ...]
    steps: tuple[Step, ...]

    @property
    def prior(self) -> float:
        return self.steps[0].end

    @property
    def total(self) -> float:
        return self.candidate.score


def ref_label(ref: str) -> str:
    """A reference in words: "case:12" is "Case CME-12", "lost_pupil:3" "Lost pupil 3"."""
    kind, _, ident = ref.partition(":")
    if kind == "case":
        return f"Case CME-{ident}"
    return f"{label(SOURCES, kind)} {ident}"


def in_words(field: str, value: str) -> str:
    """A compared value as a person reads it: "2015-04-03" is "3 April 2015", "F" "Female"."""
    if field == "dob":
        try:
            return date.fromisoformat(value).strftime("%-d %B %Y")
        except ValueError:
            return value  # a partial date ("2015") reads as it is
    if field == "sex":
        return SEX.get(value, value)
    return value


def _level(e: dict[str, Any], query_value: str, target_value: str) -> str:
    level = str(e.get("level", ""))
    if level == "missing" and query_value and target_value:
        # Known on both sides but left out of the score (a year group where both dates of
        # birth are complete would count the same evidence twice).
        return "Not counted in the score"
    return label(MATCH_LEVELS, level)


def _row(e: dict[str, Any]) -> FieldRow:
    field = str(e.get("field", ""))
    query_value = str(e.get("query_value") or "")
    target_value = str(e.get("record_value") or "")
    return FieldRow(
        field=field,
        name=label(MATCH_FIELDS, field),
        query_value=in_words(field, query_value),
        target_value=in_words(field, target_value),
        level=_level(e, query_value, target_value),
        weight=float(e.get("weight") or 0.0),
    )


def build_review(candidate: CandidateView) -> Review:
    rows = tuple(_row(e) for e in candidate.evidence)
    # The weights explain the score; what they leave is the prior (and any name-frequency
    # adjustment folded into it), the bar the waterfall starts from.
    prior = round(candidate.score - sum(r.weight for r in rows), 2)
    steps = [Step("Before comparing (prior odds)", 0.0, prior)]
    level = prior
    for row in rows:
        if row.weight:
            # Rounded as the weights are, so the bars meet exactly.
            steps.append(Step(row.name, level, round(level + row.weight, 2)))
            level = round(level + row.weight, 2)
    return Review(
        candidate=candidate,
        query_label=ref_label(candidate.query_ref),
        target_label=ref_label(candidate.target_ref),
        fields=rows,
        steps=tuple(steps),
    )


def review(session: Session, candidate_id: int) -> Review | None:
    """The review of one stored candidate (no matcher run), or None if there is none."""
    candidate = get_candidate(session, candidate_id)
    return None if candidate is None else build_review(candidate)
