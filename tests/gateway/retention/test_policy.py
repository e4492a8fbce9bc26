"""The retention rules as dates: birthdays (a leap day too), flags, no date of birth, the
minimum after closure, the short periods, and settings that refuse nonsense."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.retention.policy import (
    Rule,
    add_years,
    case_due,
    loosest_bounds,
    quarantine_due,
    referral_due,
)
from gateway.settings import SettingsError, load_settings

POLICY = load_settings({}).retention


def test_the_25th_birthday_is_the_day() -> None:
    due = case_due(POLICY, dob=date(2001, 5, 17), closed_on=date(2016, 3, 1))
    assert (due.on, due.rule, due.label) == (date(2026, 5, 17), Rule.CASE_AGE, "case_age")


def test_a_leap_day_birthday_falls_on_1_march_in_a_common_year() -> None:
    assert add_years(date(2004, 2, 29), 25) == date(2029, 3, 1)
    assert add_years(date(2004, 2, 29), 4) == date(2008, 2, 29)
    assert case_due(POLICY, dob=date(2004, 2, 29), closed_on=date(2016, 1, 1)).on == date(
        2029, 3, 1
    )


@pytest.mark.parametrize(
    ("flags", "years", "label"),
    [
        ({"sen_ehcp"}, 31, "case_flagged:sen_ehcp"),
        ({"child_protection"}, 35, "case_flagged:child_protection"),
        ({"looked_after"}, 75, "case_flagged:looked_after"),
        ({"sen_ehcp", "looked_after", "child_protection"}, 75, "case_flagged:looked_after"),
        ({"traveller", "social_care"}, 25, "case_age"),  # flags that keep nothing longer
    ],
)
def test_the_longest_flag_wins(flags: set[str], years: int, label: str) -> None:
    due = case_due(POLICY, dob=date(2001, 5, 17), closed_on=date(2016, 3, 1), flags=flags)
    assert (due.on, due.label) == (date(2001 + years, 5, 17), label)


def test_no_date_of_birth_counts_from_the_closure() -> None:
    plain = case_due(POLICY, dob=None, closed_on=date(2016, 3, 1))
    assert (plain.on, plain.rule) == (date(2041, 3, 1), Rule.CASE_NO_DOB)
    flagged = case_due(POLICY, dob=None, closed_on=date(2016, 3, 1), flags={"looked_after"})
    assert (flagged.on, flagged.label) == (date(2091, 3, 1), "case_no_dob:looked_after")


def test_never_sooner_than_the_minimum_after_closure() -> None:
    # A mistyped date of birth (1980) must not destroy a case closed yesterday.
    due = case_due(POLICY, dob=date(1980, 1, 1), closed_on=date(2026, 6, 1))
    assert (due.on, due.rule) == (date(2027, 6, 1), Rule.CASE_AFTER_CLOSE)


def test_the_short_periods() -> None:
    assert referral_due(POLICY, dismissed_on=date(2026, 1, 12)).on == date(2028, 1, 12)
    held = quarantine_due(POLICY, held_on=date(2026, 2, 2), discarded_on=None)
    discarded = quarantine_due(POLICY, held_on=date(2026, 2, 2), discarded_on=date(2026, 2, 3))
    assert (held.on, held.rule) == (date(2027, 2, 2), Rule.QUARANTINE_HELD)
    assert (discarded.on, discarded.rule) == (date(2026, 5, 4), Rule.QUARANTINE_DISCARDED)


def test_the_query_bounds_are_never_tighter_than_a_rule() -> None:
    on = date(2026, 5, 17)
    latest_dob, latest_close, _ = loosest_bounds(POLICY, on)
    assert latest_dob >= date(2001, 5, 17) and latest_close >= date(2025, 5, 17)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CME_RETENTION_CASE_AGE", "0", "retention.case_age"),
        ("CME_RETENTION_SEN_EHCP_AGE", "20", "keeps a flagged case longer"),
        ("CME_RETENTION_QUARANTINE_HELD_DAYS", "0", "retention.quarantine_held_days"),
        ("CME_RETENTION_NO_DOB_YEARS", "ever", "whole number"),
    ],
)
def test_retention_settings_are_checked_at_start_up(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        load_settings({name: value})


def test_retention_settings_come_from_the_environment() -> None:
    assert (
        load_settings({"CME_RETENTION_LOOKED_AFTER_AGE": "100"}).retention.looked_after_age == 100
    )
