"""The termly briefing for the known autumn term (conftest.py): its figures by hand, its charts
as titled SVG, its print view and its PDF (the text read back), on both engines."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from lxml import etree
from pypdf import PdfReader

from gateway.reports import briefing, briefing_print
from gateway.reports.terms import term
from tests.gateway.reports.conftest import TERM, TODAY, World

pytestmark = pytest.mark.usefixtures("on_today")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def report(world: World) -> briefing.Briefing:
    with world.session() as s:
        found = briefing.briefing(
            s, world.settings, term(world.settings.reports, TERM), actor="t", today=TODAY
        )
        s.commit()
    return found


def _counts(counts: tuple[briefing.Count, ...]) -> dict[str, int]:
    return {c.code: c.count for c in counts if c.count}


def test_the_terms_figures_by_hand(report: briefing.Briefing, world: World) -> None:
    t = report.term_figures
    assert (t.start, t.end, report.complete) == (date(2026, 9, 1), TODAY, False)
    # Referrals 1 Sep to 7 Dec: A, E, F, H by email; B phone; C deletion return; G form; and
    # the dismissed referral from another LA (D came in June, the last academic year).
    assert t.referrals == 8
    assert _counts(t.referrals_by_source) == {
        "email": 4, "phone": 1, "school_deletion_return": 1, "form": 1, "other_la": 1,
    }  # fmt: skip
    assert _counts(t.referrals_by_reason) == {
        "moved_destination_unknown": 2, "contact_failed": 1, "removed_from_roll": 1,
        "no_school_place": 1, "moved_into_area": 1, "other": 2,
    }  # fmt: skip
    assert (t.opened, t.closed) == (7, 5)
    assert _counts(t.outcomes) == {
        "on_roll_this_la": 1, "on_roll_other_la": 1, "not_cme": 1, "ehe_notified": 2,
    }  # fmt: skip
    # Located: A in 35 days (locating -> assessing needs), E in 7 (locating -> moved out).
    assert (t.time_to_locate.n, t.time_to_locate.median_days) == (2, 21.0)
    assert _counts(t.time_to_locate.bands) == {"le_7": 1, "le_56": 1}
    # Placed: A on its start date, 70 days; D at its closure, 158 days after 15 June.
    assert (t.time_to_place.n, t.time_to_place.median_days) == (2, 114.0)
    assert _counts(t.time_to_place.bands) == {"le_91": 1, "gt_91": 1}
    assert [(m.la_code, m.name, m.moves_in, m.moves_out) for m in t.moves] == [
        ("805", "LA 805", 1, 0),
        ("806", "Middlesbrough", 0, 1),
    ]
    ours = t.our_enquiries
    assert (ours.sent, ours.replied, ours.median_days) == (2, 1, 2.0)
    assert _counts(ours.bands) == {"le_3": 1, "no_reply": 1}
    theirs = t.their_enquiries
    assert (theirs.sent, theirs.replied, theirs.median_days) == (1, 1, 0.5)
    # The year so far starts on 1 September too: the same figures.
    assert report.year_figures.referrals == 8
    assert report.year_figures.time_to_place.n == 2
    # On 7 December: B, C, E open; B and C missing, both longer than 56 days.
    assert (report.open_at_end, report.missing_at_end, report.missing_longer) == (3, 2, 2)
    ids = world.ids
    assert [(c.reference, c.days_missing) for c in report.complex_cases] == [
        (f"CME-{ids['B']}", 84),
        (f"CME-{ids['C']}", 63),
    ]
    assert report.complex_cases[0].escalations == ("Referred to the VEMT panel",)
    weeks = {w.week_start: (w.opened, w.closed) for w in report.weeks}
    assert len(weeks) == 15
    assert weeks[date(2026, 8, 31)] == (2, 0)  # G and H opened
    assert weeks[date(2026, 9, 28)] == (0, 2)  # G and H closed as EHE
    assert weeks[date(2026, 11, 16)] == (0, 2)  # A and D placed
    assert sum(o for o, _ in weeks.values()) == 7 and sum(c for _, c in weeks.values()) == 5


def test_charts_are_static_svg_with_a_title_and_description(report: briefing.Briefing) -> None:
    charts = briefing_print.briefing_charts(report)
    assert len(charts) == 8
    for chart in charts:
        root = etree.fromstring(chart.svg.encode())
        assert root.tag == f"{SVG}svg"
        assert root.get("role") == "img"
        title = root.find(f"{SVG}title")
        assert title is not None and title.text == chart.title
        assert root.find(f"{SVG}desc") is not None
        assert root.get("aria-labelledby") == f"chart-{chart.key}-title chart-{chart.key}-desc"
        assert not list(root.iter(f"{SVG}script"))
        assert "http://" not in chart.svg.replace("http://www.w3.org/", "")
    source = next(c for c in charts if c.key == "referrals-source")
    assert "This term: Email 4" in source.description
    # The same chart is the same bytes (a stable CSP hash for its style).
    assert briefing_print.briefing_charts(report)[0].svg == charts[0].svg


def test_print_view_and_pdf_carry_the_figures_and_no_names(report: briefing.Briefing) -> None:
    html = briefing_print.briefing_html(report)
    assert html.count("<svg") == 8
    assert "<script" not in html
    for name in ("Ava", "Ben", "Cal", "Testchild", "TESTCHILD"):
        assert name not in html
    sources = briefing_print.csp_style_sources(html)
    assert sources.count("'sha256-") == 9  # the page's style and one per chart
    pdf = briefing_print.briefing_pdf(report)
    assert pdf.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    assert "Children Missing Education: termly briefing" in text
    assert "Autumn term 2026" in text
    assert "Missing education longer than 56 days 2" in text
    assert "Median time to a school place 114 days 114 days" in text
    assert "CME-" in text and "Testchild" not in text and "TESTCHILD" not in text


def test_the_briefing_csv(report: briefing.Briefing) -> None:
    rows = list(csv.DictReader(io.StringIO(briefing_print.to_csv(report))))
    assert list(rows[0]) == ["figure", "period", "category", "label", "value"]
    find = {(r["figure"], r["period"], r["category"]): r["value"] for r in rows}
    assert find[("referrals", "term", "all")] == "8"
    assert find[("time_to_locate", "year", "median_days")] == "21.0"
    assert find[("missing_longer", "end", "56")] == "2"
    assert find[("weekly_closed", "term", "2026-11-16")] == "2"
