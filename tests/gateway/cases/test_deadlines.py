"""Deadline arithmetic over weekends and England and Wales bank holidays."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.cases.deadlines import add_days, is_working_day


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 2), 10, date(2026, 11, 16)),  # Mon -> Mon two weeks on
        (date(2026, 11, 6), 1, date(2026, 11, 9)),  # Fri -> Mon
        (date(2026, 11, 7), 1, date(2026, 11, 9)),  # Sat -> Mon
        (date(2026, 12, 18), 10, date(2027, 1, 6)),  # over Christmas, Boxing Day (sub), New Year
        (date(2026, 12, 24), 1, date(2026, 12, 29)),  # Thu -> past Fri 25th and Mon 28th
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # New Year's Day is a Friday
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Good Friday 3 Apr, Easter Monday 6 Apr
        (date(2026, 8, 28), 1, date(2026, 9, 1)),  # summer bank holiday 31 Aug
    ],
)
def test_working_days(start: date, days: int, expected: date) -> None:
    assert add_days(start, days, working=True) == expected


def test_calendar_days() -> None:
    assert add_days(date(2026, 12, 18), 10, working=False) == date(2026, 12, 28)


def test_bank_holidays_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 12, 25))
    assert not is_working_day(date(2026, 12, 28))
    assert not is_working_day(date(2027, 1, 1))
    assert is_working_day(date(2026, 12, 29))
    assert not is_working_day(date(2026, 11, 28))  # a Saturday
