"""The DfE return for the known autumn term (conftest.py), counted by hand, on both engines."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
import time_machine

from gateway.reports import dfe
from gateway.reports.errors import ReportError
from gateway.reports.terms import term
from tests.gateway.reports.conftest import TERM, TODAY, World, at

DOCS = Path(__file__).resolve().parents[3] / "docs" / "returns.md"


def _after_term(world: World) -> dfe.DfeReturn:
    with time_machine.travel(at(2027, 1, 5), tick=False), world.session() as s:
        report = dfe.dfe_return(
            s, world.settings, term(world.settings.reports, TERM), actor="t",
            today=date(2027, 1, 5),
        )  # fmt: skip
        s.commit()
    return report


def test_the_return_counts_the_term_by_hand(world: World) -> None:
    report = _after_term(world)
    assert report.complete and report.census_date == date(2026, 12, 31)
    # Missing education on 31 December: B and C (E moved out; the rest are closed).
    assert report.count("census") == 2
    assert report.count("census", "sex", "M") == 2
    assert report.count("census", "sex", "F") == 0
    assert report.count("census", "year_group", "10") == 1  # B, from his date of birth
    assert report.count("census", "year_group", "3") == 1  # C, as his case holds it
    assert report.count("census", "primary_reason", "contact_failed") == 1  # B
    assert report.count("census", "primary_reason", "removed_from_roll") == 1  # C
    # B: 14 Sep to 31 Dec is 108 days; C: 5 Oct to 31 Dec is 87.
    assert report.count("census", "time_missing", "91_181") == 1
    assert report.count("census", "time_missing", "28_90") == 1
    # Started: A, B, C, E, G, H (F was never CME; D was already missing on 1 September).
    assert report.count("started") == 6
    assert report.count("started", "sex", "F") == 3  # A, E, G
    # Stopped: A (placed), D (placed and monitored 10 Sep), E (moved out), G and H (EHE).
    assert report.count("stopped") == 5
    assert report.count("stopped", "primary_reason", "other") == 2  # G and H


def test_a_term_in_progress_counts_to_today(world: World) -> None:
    with time_machine.travel(at(2026, 12, 7), tick=False), world.session() as s:
        report = dfe.dfe_return(
            s, world.settings, term(world.settings.reports, TERM), actor="t", today=TODAY
        )
        s.commit()
    assert not report.complete and report.census_date == TODAY
    assert report.count("census") == 2
    # On 7 December B has been missing 84 days and C 63.
    assert report.count("census", "time_missing", "28_90") == 2
    assert report.count("started") == 6 and report.count("stopped") == 5
    # The summer term: D alone (opened 15 June), and still missing at its end (31 August).
    with time_machine.travel(at(2026, 12, 7), tick=False), world.session() as s:
        summer = dfe.dfe_return(
            s, world.settings, term(world.settings.reports, "2026-summer"), actor="t", today=TODAY
        )
        s.commit()
    assert (summer.count("started"), summer.count("stopped"), summer.count("census")) == (1, 0, 1)
    with world.session() as s, pytest.raises(ReportError, match="has not started"):
        dfe.dfe_return(
            s, world.settings, term(world.settings.reports, "2027-spring"), actor="t", today=TODAY
        )


def test_the_csv_has_the_documented_columns_and_every_category(world: World) -> None:
    report = _after_term(world)
    rows = list(csv.DictReader(io.StringIO(dfe.to_csv(report))))
    assert list(rows[0]) == list(dfe.COLUMNS)
    assert {r["term"] for r in rows} == {TERM}
    assert {r["census_date"] for r in rows} == {"2026-12-31"}
    census_sex = [(r["category"], r["children"]) for r in rows
                  if r["measure"] == "census" and r["breakdown"] == "sex"]  # fmt: skip
    assert census_sex == [("M", "2"), ("F", "0"), ("not_known", "0")]
    # Every year group is a line, zero or not, so the shape never changes.
    years = [r for r in rows if r["measure"] == "started" and r["breakdown"] == "year_group"]
    assert len(years) == 16
    assert sum(int(r["children"]) for r in years) == 6
    documented = DOCS.read_text("utf-8")
    for column in dfe.COLUMNS:
        assert f"`{column}`" in documented
    for measure in dfe.MEASURES:
        assert f"`{measure}`" in documented
