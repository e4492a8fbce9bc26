"""Deadline arithmetic: working days over England and Wales bank holidays."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from govuk_bank_holidays.bank_holidays import BankHolidays


@cache
def _bank_holidays() -> BankHolidays:
    # The package ships its data; never fetch from the network at run time.
    return BankHolidays(use_cached_holidays=True)


@cache
def bank_holidays(division: str = BankHolidays.ENGLAND_AND_WALES) -> frozenset[date]:
    return frozenset(h["date"] for h in _bank_holidays().get_holidays(division=division))


def is_working_day(day: date, division: str = BankHolidays.ENGLAND_AND_WALES) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(division)


def add_days(
    start: date, days: int, *, working: bool, division: str = BankHolidays.ENGLAND_AND_WALES
) -> date:
    """The date `days` after `start`: calendar days, or working days if `working`.

    Working days count from the day after `start` (the day a referral arrives is day 0).
    """
    if not working:
        return start + timedelta(days=days)
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, division):
            remaining -= 1
    return day
