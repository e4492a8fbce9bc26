"""A case's values in the words the officer reads: dates, people, and each new fact as
"the referral of 3 December 2026 says: UPN H807300024123; the case has: not known"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.cases.labels import FIELDS, SEX, YEAR_GROUPS, label
from gateway.cases.queries import URGENCY_ORDER
from gateway.models.case import Case, CaseFact
from gateway.models.referral import Referral, Urgency

NOT_KNOWN = "not known"


def long_date(value: date | str | None) -> str:
    """A date as GOV.UK writes it ("3 December 2026"); an ISO string is read first."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    else:
        day = value
    return f"{day.day} {day:%B %Y}"


def address_words(value: dict[str, Any] | None) -> str:
    if not value:
        return ""
    return ", ".join(str(value[k]) for k in ("line1", "line2", "town", "postcode") if value.get(k))


def person_words(value: dict[str, Any]) -> str:
    """A parent, carer or sibling as a fact carries them: name (relationship), contacts."""
    name = str(value.get("name") or "Name not given")
    if value.get("relationship"):
        name += f" ({value['relationship']})"
    parts = [name]
    parts += [str(value[k]) for k in ("phone", "email", "address") if value.get(k)]
    if value.get("school"):
        parts.append(f"at {value['school']}")
    if value.get("dob"):
        parts.append(f"born {long_date(value['dob'])}")
    return ", ".join(parts)


def value_words(field: str, value: Any) -> str:
    """One value of a child's detail in words; "not known" when there is none."""
    if value in (None, "", {}, []):
        return NOT_KNOWN
    if field == "dob":
        return long_date(value)
    if field == "sex":
        return SEX.get(str(value), str(value))
    if field == "year_group":
        return YEAR_GROUPS.get(str(value), str(value))
    if field == "address" and isinstance(value, dict):
        return address_words(value) or NOT_KNOWN
    if field in ("carer", "sibling") and isinstance(value, dict):
        return person_words(value)
    return str(value)


def source_words(referrals: Iterable[Referral], ref: str) -> str:
    """Where a fact came from: "The referral of 3 December 2026", "Lost-pupil record 4"."""
    kind, _, ident = ref.partition(":")
    if kind == "referral":
        for r in referrals:
            if str(r.id) == ident:
                return f"The referral of {long_date(r.received_on)}"
        return "A referral"
    if kind == "lost_pupil":
        return f"Lost-pupil record {ident}"
    if kind == "case":
        return f"Case CME-{ident}"
    return "A message on the case"


@dataclass(frozen=True)
class FactLine:
    """A new fact as the case page lists it, beside its Accept and Reject buttons."""

    id: int
    field: str
    source: str
    value: str
    current: str


def fact_lines(case: Case, facts: Sequence[CaseFact]) -> list[FactLine]:
    return [
        FactLine(
            id=f.id,
            field=label(FIELDS, f.field),
            source=source_words(case.referrals, f.source_ref),
            value=value_words(f.field, f.value),
            current=value_words(f.field, f.current),
        )
        for f in facts
    ]


def most_urgent(referrals: Iterable[Referral]) -> str:
    """A case is as urgent as the most urgent of its referrals."""
    ranks = [URGENCY_ORDER.index(r.urgency) for r in referrals if r.urgency in URGENCY_ORDER]
    return URGENCY_ORDER[max(ranks, default=0)] if ranks else Urgency.ROUTINE.value
