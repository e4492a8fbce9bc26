"""The retention rules: when a closed case, a dismissed referral or a quarantined message
is due for disposal, from the periods in `[retention]` (config/default.toml)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from gateway.settings import Retention


class Rule(enum.StrEnum):
    CASE_AGE = "case_age"  # the child's 25th (case_age) birthday
    CASE_FLAGGED = "case_flagged"  # a later birthday: looked after, child protection, EHCP
    CASE_NO_DOB = "case_no_dob"  # no date of birth: closed date + years
    CASE_AFTER_CLOSE = "case_after_close"  # the minimum after closure came later
    REFERRAL_DISMISSED = "referral_dismissed"
    QUARANTINE_DISCARDED = "quarantine_discarded"
    QUARANTINE_HELD = "quarantine_held"


RULES: dict[Rule, str] = {
    Rule.CASE_AGE: "closed case: until the child's birthday of retention.case_age",
    Rule.CASE_FLAGGED: "closed case with a flag: until the flag's later birthday",
    Rule.CASE_NO_DOB: "closed case, no date of birth: closed date + retention.no_dob_years",
    Rule.CASE_AFTER_CLOSE: "closed case: no sooner than retention.min_years_after_close",
    Rule.REFERRAL_DISMISSED: "referral dismissed at triage: + retention.dismissed_referral_days",
    Rule.QUARANTINE_DISCARDED: "quarantined message discarded: + quarantine_discarded_days",
    Rule.QUARANTINE_HELD: "message still held in quarantine: + quarantine_held_days",
}

#: Referral flags (gateway.cases.labels.REFERRAL_FLAGS) that keep a case longer, and the
#: setting that says until which birthday.
FLAG_AGES = {
    "looked_after": "looked_after_age",
    "child_protection": "child_protection_age",
    "sen_ehcp": "sen_ehcp_age",
}


@dataclass(frozen=True)
class Due:
    """When a record is due and which rule says so (`flag`: the flag that lengthened it)."""

    on: date
    rule: Rule
    flag: str | None = None

    @property
    def label(self) -> str:
        return f"{self.rule.value}:{self.flag}" if self.flag else self.rule.value


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 1 March in a common year (the later
    of the two readings of a leap-day birthday, so nothing goes a day early)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def case_due(
    policy: Retention, *, dob: date | None, closed_on: date, flags: Iterable[str] = ()
) -> Due:
    """A closed case: the child's birthday of the longest age that applies, or with no
    date of birth a period after closure; never sooner than min_years_after_close."""
    age, rule, flag = policy.case_age, Rule.CASE_AGE, None
    for name in sorted(set(flags)):
        setting = FLAG_AGES.get(name)
        if setting is not None and getattr(policy, setting) > age:
            age, rule, flag = getattr(policy, setting), Rule.CASE_FLAGGED, name
    if dob is None:
        # The child was at least newborn at closure, so closed date + the flag's age is no
        # sooner than any date of birth would have given.
        years = policy.no_dob_years if flag is None else age
        due = Due(add_years(closed_on, years), Rule.CASE_NO_DOB, flag)
    else:
        due = Due(add_years(dob, age), rule, flag)
    floor = add_years(closed_on, policy.min_years_after_close)
    if floor > due.on:
        return Due(floor, Rule.CASE_AFTER_CLOSE, flag)
    return due


def referral_due(policy: Retention, *, dismissed_on: date) -> Due:
    return Due(
        dismissed_on + timedelta(days=policy.dismissed_referral_days), Rule.REFERRAL_DISMISSED
    )


def quarantine_due(policy: Retention, *, held_on: date, discarded_on: date | None) -> Due:
    if discarded_on is not None:
        return Due(
            discarded_on + timedelta(days=policy.quarantine_discarded_days),
            Rule.QUARANTINE_DISCARDED,
        )
    return Due(held_on + timedelta(days=policy.quarantine_held_days), Rule.QUARANTINE_HELD)


def loosest_bounds(policy: Retention, on: date) -> tuple[date, date, date]:
    """For a query that finds a superset of the cases due on `on` (flags only lengthen):
    (latest date of birth, latest closure with a date of birth, latest closure without)."""
    slack = timedelta(days=2)
    return (
        add_years(on, -policy.case_age) + slack,
        add_years(on, -policy.min_years_after_close) + slack,
        add_years(on, -max(policy.no_dob_years, policy.min_years_after_close)) + slack,
    )
