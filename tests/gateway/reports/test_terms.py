"""Terms mapped to dates, the [reports] settings checked at start-up, reasons classified."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.reports.errors import ReportError
from gateway.reports.reasons import load_reasons
from gateway.reports.terms import term, term_of
from gateway.settings import SettingsError, load_settings


def test_default_terms_tile_the_year() -> None:
    r = load_settings({}).reports
    autumn = term(r, "2026-autumn")
    assert (autumn.start, autumn.end, autumn.year_start) == (
        date(2026, 9, 1), date(2026, 12, 31), date(2026, 9, 1),
    )  # fmt: skip
    assert (autumn.label, autumn.academic_year) == ("Autumn term 2026", "2026/27")
    spring = term(r, "2027-spring")
    assert (spring.start, spring.end, spring.year_start) == (
        date(2027, 1, 1), date(2027, 3, 31), date(2026, 9, 1),
    )  # fmt: skip
    summer = term(r, "2027-Summer")
    assert (summer.start, summer.end) == (date(2027, 4, 1), date(2027, 8, 31))
    assert term_of(r, date(2027, 8, 31)).name == "2027-summer"
    assert term_of(r, date(2027, 9, 1)).name == "2027-autumn"
    assert term_of(r, date(2028, 2, 29)).name == "2028-spring"
    with pytest.raises(ReportError, match="YYYY-autumn"):
        term(r, "autumn-2026")


def test_term_dates_are_configurable_and_checked() -> None:
    r = load_settings({"CME_REPORTS_SUMMER_START": "04-13"}).reports
    assert term(r, "2026-spring").end == date(2026, 4, 12)
    assert term(r, "2026-summer").start == date(2026, 4, 13)
    with pytest.raises(SettingsError, match="MM-DD"):
        load_settings({"CME_REPORTS_AUTUMN_START": "1 Sep"})
    with pytest.raises(SettingsError, match="spring_start < summer_start"):
        load_settings({"CME_REPORTS_SUMMER_START": "12-01"})
    with pytest.raises(SettingsError, match="increasing"):
        load_settings({"CME_REPORTS_TIME_MISSING_BANDS": "28,14"})
    bands = load_settings({"CME_REPORTS_TIME_MISSING_BANDS": "7, 14"}).reports.time_missing_bands
    assert bands == (7, 14)


@pytest.mark.parametrize(
    ("reason", "channel", "category"),
    [
        ("Moved, destination unknown", "email", "moved_destination_unknown"),
        ("Family moved out; new address believed to be in Sunderland, not confirmed", None,
         "moved_destination_unknown"),
        ("Left the country during the school holidays", None, "left_england"),
        ("Excluded in December; no alternative provision arranged", None,
         "excluded_no_provision"),
        ("Removed from roll after 20 days' absence following joint enquiries", None,
         "removed_from_roll"),
        ("Pupil left", "school_deletion_return", "removed_from_roll"),
        ("Offered a place at Green Lane but did not start", None, "did_not_take_up_place"),
        ("Home education found unsuitable by the EHE adviser", None, "ehe_unsuitable"),
        ("Not seen since half term", None, "contact_failed"),
        ("Something else entirely", None, "other"),
        ("", None, "not_given"),
        (None, "phone", "not_given"),
    ],
)  # fmt: skip
def test_reasons_are_classified_by_ordered_rules(
    reason: str | None, channel: str | None, category: str
) -> None:
    assert load_reasons().classify(reason, channel) == category
