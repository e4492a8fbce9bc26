"""The Reports pages against the hand-worked autumn term of the report tests
(tests/gateway/reports/conftest.py), seen on Monday 7 December 2026, on SQLite and PostgreSQL:
each page with its known figures, the filters and their errors, the print views' CSP, the
CSVs read back, the PDFs' text, and what each view and download writes to the audit log and
the disclosure register."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.models.exchange import Disclosure
from gateway.reports import briefing_print, caseload, dfe, vemt, vulnerable
from gateway.reports.formats import REPORT_CSP_STYLE
from gateway.users import Role
from tests.gateway.reports.conftest import at, build
from tests.web.conftest import Page, WebClient, WebEnv
from web.report_display import COLUMN_MEANINGS

#: The password the report tests' builder gives its officers, olivia and oscar.
BUILT_PASSWORD = "a-long-test-password"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "returns.md"
#: Every child of the data set, as the lists write them: none may reach the briefing or the
#: DfE return, or any file name.
NAMES = ("Ava", "Ben", "Cal", "Dee", "Eve", "Fay", "Gia", "Hal", "Testchild", "TESTCHILD")


@pytest.fixture
def ids(web: WebEnv) -> Iterator[dict[str, int]]:
    """The known term, then the clock stopped at 10:00 on 7 December 2026."""
    built = build(web.settings, web.engine)
    web.add_user("mary", Role.MANAGER)
    with time_machine.travel(at(2026, 12, 7, 10), tick=False):
        yield built


@pytest.fixture
def olivia(client: WebClient, ids: dict[str, int]) -> WebClient:
    client.sign_in("olivia", BUILT_PASSWORD)
    return client


@pytest.fixture
def mary(client: WebClient, ids: dict[str, int]) -> WebClient:
    client.sign_in("mary")
    return client


def _csv(resp: TestResponse) -> list[dict[str, str]]:
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def _pdf_text(resp: TestResponse) -> str:
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(resp.data)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def _filename(resp: TestResponse) -> str:
    found = re.fullmatch(r'attachment; filename="([^"]+)"', resp.headers["Content-Disposition"])
    assert found, resp.headers["Content-Disposition"]
    name = found.group(1)
    assert not any(n.lower() in name.lower() for n in NAMES), name
    return name


def _strict_csp(resp: TestResponse) -> str:
    policy = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    return policy


def _outputs(web: WebEnv, report: str) -> list[str]:
    return [e.detail["output"] for e in web.audit(f"report.{report}")]


def _disclosures(web: WebEnv) -> list[Disclosure]:
    """The reports' rows of the register (the data set has an onward referral of its own)."""
    with web.session() as s:
        rows = s.execute(
            select(Disclosure).where(Disclosure.kind == "report_export").order_by(Disclosure.id)
        )
        return list(rows.scalars())


def _rows(page: Page, table: str) -> list[str]:
    doc = page.doc
    return [
        " ".join(" ".join(cell.text_content().split()) for cell in tr.xpath("th|td"))
        for tr in doc.xpath(f"//*[@id='{table}']//tbody/tr")
    ]


def _cells(page: Page, row: str) -> list[str]:
    """Each cell's text, its lines (broken by <br>) joined by " | "."""
    doc = page.doc
    out = []
    for td in doc.xpath(f"{row}/td"):
        for br in td.iter("br"):
            br.tail = " | " + (br.tail or "")
        out.append(" ".join(td.text_content().split()))
    return out


# -- the landing page and who may see what --------------------------------------------------


def test_the_landing_page_lists_the_five_reports_and_who_they_are_for(olivia: WebClient) -> None:
    page = olivia.get("/reports")
    assert page.h1 == "Reports"
    assert page.text("//*[@id='nav-reports']") == "Reports"
    assert page.doc.xpath("//li[contains(@class,'--active')]//a/@href") == ["/reports"]
    items = {
        li.get("id"): " ".join(li.text_content().split())
        for li in page.doc.xpath("//ul[@id='reports']/li")
    }
    assert list(items) == [
        "report-caseload", "report-vulnerable", "report-briefing", "report-vemt", "report-dfe",
    ]  # fmt: skip
    assert "weekly case review" in items["report-caseload"]
    assert "weekly inclusion meeting" in items["report-vulnerable"]
    assert "Assistant Director" in items["report-briefing"]
    assert "VEMT panel" in items["report-vemt"]
    assert "Department for Education" in items["report-dfe"]
    # An officer is told the termly reports are for managers, and given no link to them.
    links = page.doc.xpath("//ul[@id='reports']//a/@href")
    assert links == ["/reports/caseload", "/reports/vulnerable", "/reports/vemt"]
    assert "Ask a manager" in items["report-dfe"]


def test_the_termly_reports_are_for_managers(olivia: WebClient) -> None:
    for url in (
        "/reports/briefing", "/reports/briefing/print?term=2026-autumn",
        "/reports/briefing.pdf?term=2026-autumn", "/reports/briefing.csv?term=2026-autumn",
        "/reports/dfe", "/reports/dfe.csv?term=2026-autumn", "/reports/dfe.pdf",
        "/reports/dfe/print",
    ):  # fmt: skip
        assert olivia.raw.get(url).status_code == 403, url


def test_a_manager_sees_every_report_linked(mary: WebClient) -> None:
    page = mary.get("/reports")
    assert page.doc.xpath("//ul[@id='reports']//a/@href") == [
        "/reports/caseload", "/reports/vulnerable", "/reports/briefing", "/reports/vemt",
        "/reports/dfe",
    ]  # fmt: skip


# -- the weekly caseload --------------------------------------------------------------------


def test_the_caseload_by_officer_with_every_column(
    web: WebEnv, olivia: WebClient, ids: dict[str, int]
) -> None:
    page = olivia.get("/reports/caseload")
    assert page.h1 == "Weekly caseload"
    assert page.text("//*[@id='caseload-count']") == (
        "3 open cases, 1 changed since last week (anything recorded on or after 30 November 2026)"
    )
    captions = [" ".join(c.text_content().split()) for c in page.doc.xpath("//table/caption")]
    assert captions == [
        "Olivia Officer: 1 case, 0 changed since last week",
        "Oscar Officer: 1 case, 0 changed since last week",
        "Not allocated: 1 case, 1 changed since last week",
    ]
    b, c, e = (f"//tr[@id='case-{ids[k]}']" for k in "BCE")
    assert page.doc.xpath(f"{b}//a/@href") == [f"/cases/{ids['B']}"]
    assert _cells(page, b) == [
        f"CME-{ids['B']} | TESTCHILD, Ben | Born 10 May 2012",
        "Whereabouts unknown, tracking | Open 84 days, since 14 September 2026",
        "Routine",
        "20 October 2026: Referred to the VEMT panel (printed to send)",
        "Send the referrer a progress update, due 28 September 2026 Overdue",
        "Referred to the VEMT panel since 20 October 2026, review 14 December 2026",
    ]
    assert page.doc.xpath(f"{b}//*[@data-marker='overdue']")
    # C had something recorded on 30 November: marked; the others not.
    assert page.text(f"{c}//*[@data-marker='changed']") == "Changed since last week"
    assert not page.doc.xpath(f"{b}//*[@data-marker='changed']|{e}//*[@data-marker='changed']")
    assert page.text(f"{c}//*[@data-status]") == "Locating the child and family"
    assert page.text(f"{e}//*[@data-urgency]") == "Urgent"
    assert "Monitored with Middlesbrough" in page.text(e)
    assert page.doc.xpath("//a[@id='download-csv']/@href") == ["/reports/caseload.csv"]
    assert _outputs(web, "caseload") == ["page"]
    assert _disclosures(web) == []  # a page on screen is a view, not a disclosure


@pytest.mark.parametrize(
    ("query", "expected"),
    [("officer=olivia", "E"), ("officer=unallocated", "C"), ("urgent=yes", "E"),
     ("status=locating", "C"), ("officer=oscar&status=locating", "")],
)  # fmt: skip
def test_the_caseload_filters(
    olivia: WebClient, ids: dict[str, int], query: str, expected: str
) -> None:
    page = olivia.get(f"/reports/caseload?{query}")
    shown = page.doc.xpath("//tbody/tr/@id")
    assert shown == [f"case-{ids[k]}" for k in expected]
    if not expected:
        assert page.text("//*[@id='no-cases']") == "No open cases match the filters."
    # The downloads are of the same list.
    for kind in ("print", "pdf", "csv"):
        [href] = page.doc.xpath(f"//a[@id='download-{kind}']/@href")
        assert href.split("?", 1)[1].split("&") == query.split("&")


def test_bad_filters_are_errors_and_the_whole_list_is_shown(olivia: WebClient) -> None:
    page = olivia.get("/reports/caseload?officer=nobody&status=closed&urgent=maybe", status=400)
    assert page.error_links() == {
        "officer": "Select an officer from the list",
        "status": "Select an open status from the list",
        "urgent": "Tick the box to show only urgent and safeguarding cases",
    }
    assert len(page.doc.xpath("//tbody/tr")) == 3
    assert page.doc.xpath("//select[@id='status']/option/@value")[0] == ""
    assert "closed" not in page.doc.xpath("//select[@id='status']/option/@value")
    # The files are never made for filters that are not choices.
    assert olivia.raw.get("/reports/caseload.csv?status=bogus").status_code == 400


def test_the_caseload_as_csv_pdf_and_print_view(
    web: WebEnv, olivia: WebClient, ids: dict[str, int]
) -> None:
    resp = olivia.raw.get("/reports/caseload.csv")
    assert _filename(resp) == "caseload-2026-12-07.csv"
    rows = _csv(resp)
    assert list(rows[0]) == list(caseload.COLUMNS)
    assert [(r["reference"], r["child"], r["officer_name"], r["changed_since_last_week"])
            for r in rows] == [
        (f"CME-{ids['E']}", "TESTCHILD, Eve", "Olivia Officer", "no"),
        (f"CME-{ids['B']}", "TESTCHILD, Ben", "Oscar Officer", "no"),
        (f"CME-{ids['C']}", "TESTCHILD, Cal", "Not allocated", "yes"),
    ]  # fmt: skip
    assert rows[1]["status_label"] == "Whereabouts unknown, tracking"
    assert [r["reference"] for r in _csv(olivia.raw.get("/reports/caseload.csv?urgent=yes"))] == [
        f"CME-{ids['E']}"
    ]

    resp = olivia.raw.get("/reports/caseload.pdf?officer=oscar")
    assert _filename(resp) == "caseload-2026-12-07.pdf"
    text = _pdf_text(resp)
    assert "Weekly caseload" in text and "Oscar Officer: 1 case," in text
    assert f"CME-{ids['B']}" in text and "TESTCHILD, Ben" in text
    assert f"CME-{ids['E']}" not in text

    page = olivia.get("/reports/caseload/print")
    assert page.h1 == "Weekly caseload"
    assert REPORT_CSP_STYLE in _strict_csp(page.response)
    assert "TESTCHILD, Cal" in page.text("//body")

    assert _outputs(web, "caseload") == ["csv", "csv", "pdf", "print"]
    made = _disclosures(web)
    assert [(d.kind, d.channel, d.case_id, d.basis, d.actor) for d in made] == [
        ("report_export", "download", None, "public_task", "olivia"),
        ("report_export", "download", None, "public_task", "olivia"),
        ("report_export", "download", None, "public_task", "olivia"),
        ("report_export", "print", None, "public_task", "olivia"),
    ]
    assert made[0].data_items == ["report:caseload", *caseload.COLUMNS]
    assert made[0].recipient == "Olivia Officer (olivia)"
    assert len(web.audit("disclosure.report_export")) == 4


# -- the vulnerable pupils and VEMT lists ----------------------------------------------------


def test_the_vulnerable_pupils_list_with_each_childs_team(
    web: WebEnv, olivia: WebClient, ids: dict[str, int]
) -> None:
    page = olivia.get("/reports/vulnerable")
    assert page.h1 == "Vulnerable pupils"
    assert page.text("//*[@id='vulnerable-count']") == "4 children:"
    assert [
        " ".join(li.text_content().split()) for li in page.doc.xpath("//ul[@id='teams']/li")
    ] == [
        "Children Missing Education team: 2",
        "Another authority: Middlesbrough: 1",
        "Elective Home Education team: 1",
    ]
    teams = [_cells(page, f"//tr[@id='row-CME-{ids[k]}']")[1] for k in "BCEG"]
    assert teams == [
        "Children Missing Education team | Also with: VEMT panel",
        "Children Missing Education team",
        "Another authority: Middlesbrough",
        "Elective Home Education team",
    ]
    b, g = (
        page.text(f"//tr[@id='row-CME-{ids['B']}']"),
        page.text(f"//tr[@id='row-CME-{ids['G']}']"),
    )
    assert "Year 10" in b and "Escalated: Referred to the VEMT panel" in b and "Oscar Officer" in b
    assert "On the EHE register with concerns since" in g
    assert "Referred as a safeguarding concern" in g and "No open case" in g
    assert page.doc.xpath("//tbody//a/@href") == [f"/cases/{ids[k]}" for k in "BCEG"]

    rows = _csv(olivia.raw.get("/reports/vulnerable.csv"))
    assert list(rows[0]) == list(vulnerable.COLUMNS)
    assert [r["reference"] for r in rows] == [f"CME-{ids[k]}" for k in "BCEG"]
    assert rows[2]["category"] == "Monitored out of area"
    resp = olivia.raw.get("/reports/vulnerable.pdf")
    assert _filename(resp) == "vulnerable-2026-12-07.pdf"
    text = _pdf_text(resp)
    assert "Vulnerable pupils: weekly inclusion meeting" in text
    assert "Elective Home Education team: 1" in text and "TESTCHILD, Gia" in text
    printed = olivia.get("/reports/vulnerable/print")
    assert REPORT_CSP_STYLE in _strict_csp(printed.response)
    assert _outputs(web, "vulnerable") == ["page", "csv", "pdf", "print"]
    assert [(d.channel, d.data_items[0]) for d in _disclosures(web)] == [
        ("download", "report:vulnerable"), ("download", "report:vulnerable"),
        ("print", "report:vulnerable"),
    ]  # fmt: skip


def test_the_vemt_list_with_the_escalation_history(
    web: WebEnv, olivia: WebClient, ids: dict[str, int]
) -> None:
    page = olivia.get("/reports/vemt")
    assert page.h1 == "VEMT list"
    assert page.text("//*[@id='vemt-count']") == "2 children"
    assert page.doc.xpath("//tbody/tr/@id") == [f"case-{ids['B']}", f"case-{ids['C']}"]
    b = f"//tr[@id='case-{ids['B']}']"
    assert "Missing 84 days, since 14 September 2026" in page.text(b)
    assert [" ".join(li.text_content().split()) for li in page.doc.xpath(f"{b}/td[3]//li")] == [
        "Whereabouts unknown", "Missing education longer than 56 days",
        "Referred to the VEMT panel",
    ]  # fmt: skip
    assert page.text(f"{b}//ol[@data-history]") == (
        "20 October 2026: Escalated: Referred to the VEMT panel (Possible exploitation), "
        "review 14 December 2026"
    )
    assert page.text(f"//tr[@id='case-{ids['C']}']/td[5]") == "None recorded"

    rows = _csv(olivia.raw.get("/reports/vemt.csv"))
    assert list(rows[0]) == list(vemt.COLUMNS)
    assert [(r["reference"], r["days_missing"]) for r in rows] == [
        (f"CME-{ids['B']}", "84"), (f"CME-{ids['C']}", "63"),
    ]  # fmt: skip
    resp = olivia.raw.get("/reports/vemt.pdf")
    assert _filename(resp) == "vemt-2026-12-07.pdf"
    assert "Possible exploitation" in _pdf_text(resp)
    assert REPORT_CSP_STYLE in _strict_csp(olivia.get("/reports/vemt/print").response)
    assert _outputs(web, "vemt") == ["page", "csv", "pdf", "print"]
    assert len(_disclosures(web)) == 3


# -- the termly briefing ---------------------------------------------------------------------


def test_the_briefing_page_with_its_charts_under_a_strict_csp(
    web: WebEnv, mary: WebClient, ids: dict[str, int]
) -> None:
    page = mary.get("/reports/briefing")
    assert page.h1 == "Termly briefing"
    # The current term is chosen; the select offers it and the five before it.
    assert page.doc.xpath("//select[@id='term']/option/@value") == [
        "2026-autumn", "2026-summer", "2026-spring", "2025-autumn", "2025-summer", "2025-spring",
    ]  # fmt: skip
    assert page.doc.xpath("//select[@id='term']/option[@selected]/@value") == ["2026-autumn"]
    assert page.text("//*[@id='period']") == (
        "Autumn term 2026: 1 September 2026 to 7 December 2026"
    )
    assert "figures to 7 December 2026" in page.text("//*[@id='not-over']")
    summary = _rows(page, "summary")
    assert summary[0] == "Referrals received 8 8"
    assert "Median time to a school place 114 days 114 days" in summary
    assert page.text("//*[@id='missing-longer']") == "2"
    assert _rows(page, "complex-cases")[0].startswith(f"CME-{ids['B']} Whereabouts unknown")
    assert page.doc.xpath("//table[@id='complex-cases']//a/@href") == [
        f"/cases/{ids['B']}", f"/cases/{ids['C']}",
    ]  # fmt: skip
    # Eight charts drawn on the server, inline, each an image with its title and figures.
    svgs = page.doc.xpath("//figure/*[local-name()='svg']")
    assert len(svgs) == 8
    assert all(s.get("role") == "img" and s.get("aria-labelledby") for s in svgs)
    assert not page.doc.xpath("//script[not(@src)]")
    policy = _strict_csp(page.response)
    html = page.response.get_data(as_text=True)
    assert briefing_print.csp_style_sources(html) in policy
    assert policy.count("'sha256-") == 8  # one per chart: the page has no style of its own
    body = page.text("//main")
    assert not any(re.search(rf"\b{n}\b", body) for n in NAMES)
    assert web.audit("report.briefing")[0].detail == {"output": "page", "term": "2026-autumn"}


def test_the_briefing_term_choice_and_its_errors(web: WebEnv, mary: WebClient) -> None:
    page = mary.get("/reports/briefing?term=2026-summer")
    assert page.text("//*[@id='period']") == "Summer term 2026: 1 April 2026 to 31 August 2026"
    assert not page.doc.xpath("//*[@id='not-over']")
    # An older term than the select offers is answered, and added to it.
    page = mary.get("/reports/briefing?term=2024-autumn")
    assert page.doc.xpath("//select[@id='term']/option[@selected]/@value") == ["2024-autumn"]
    page = mary.get("/reports/briefing?term=next-term", status=400)
    assert page.error_links() == {"term": "Select a term from the list"}
    assert not page.doc.xpath("//*[@id='summary']")
    page = mary.get("/reports/briefing?term=2027-spring", status=400)
    assert page.error_links() == {
        "term": "The Spring term 2027 has not started yet: select a term from the list"
    }
    assert mary.raw.get("/reports/briefing.pdf?term=2027-spring").status_code == 400
    assert [e.detail["term"] for e in web.audit("report.briefing")] == [
        "2026-summer", "2024-autumn",
    ]  # fmt: skip


def test_the_briefing_print_view_pdf_and_csv_name_no_child(
    web: WebEnv, mary: WebClient, ids: dict[str, int]
) -> None:
    resp = mary.raw.get("/reports/briefing/print?term=2026-autumn")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.count("<svg") == 8
    policy = _strict_csp(resp)
    assert briefing_print.csp_style_sources(html) in policy
    assert policy.count("'sha256-") == 9  # the print view's style and one per chart
    resp = mary.raw.get("/reports/briefing.pdf?term=2026-autumn")
    assert _filename(resp) == "briefing-2026-autumn.pdf"
    text = _pdf_text(resp)
    assert "Children Missing Education: termly briefing" in text
    assert "Missing education longer than 56 days 2" in text
    assert f"CME-{ids['B']}" in text
    resp = mary.raw.get("/reports/briefing.csv?term=2026-autumn")
    assert _filename(resp) == "briefing-2026-autumn.csv"
    found = {(r["figure"], r["period"], r["category"]): r["value"] for r in _csv(resp)}
    assert found[("referrals", "term", "all")] == "8"
    for made in (html, text, resp.get_data(as_text=True)):
        assert not any(re.search(rf"\b{n}\b", made) for n in NAMES)
    assert _outputs(web, "briefing") == ["print", "pdf", "csv"]
    assert _disclosures(web) == []  # no child is named: nothing disclosed


# -- the DfE return --------------------------------------------------------------------------


def test_the_dfe_return_in_tables_with_what_each_column_means(web: WebEnv, mary: WebClient) -> None:
    page = mary.get("/reports/dfe?term=2026-autumn")
    assert page.h1 == "DfE return"
    assert "census taken today" in page.text("//*[@id='not-over']")
    captions = [" ".join(c.text_content().split()) for c in page.doc.xpath("//table/caption")]
    assert captions[:5] == [
        "All children", "Sex", "Year group", "Primary reason",
        "Time missing education at the census date",
    ]  # fmt: skip
    # On 7 December: B and C missing; started A, B, C, E, G, H; stopped A, D, E, G, H.
    assert _rows(page, "counts-total") == ["All children 2 6 5"]
    assert "Male 2 3 1" in _rows(page, "counts-sex")
    assert "Year 10 1 1 0" in _rows(page, "counts-year_group")
    assert "28 to 90 days 2" in _rows(page, "counts-time_missing")
    headings = page.doc.xpath("//table[@id='counts-sex']//thead/tr/th/text()")
    assert headings == ["Sex", "At the census date", "Started in the term", "Stopped in the term"]
    # What each column of the CSV means, on the page (the docs are not served).
    assert page.doc.xpath("//table[@id='columns']//tbody/tr/@id") == [
        f"column-{c}" for c in dfe.COLUMNS
    ]
    assert _rows(page, "columns")[4] == (
        "census_date The day the census counts are taken: the same as period_end"
    )
    assert "Started being" not in page.text("//*[@id='measures']")
    assert "who were not missing education the day before it started" in page.text(
        "//*[@id='measures']"
    )

    resp = mary.raw.get("/reports/dfe.csv?term=2026-autumn")
    assert _filename(resp) == "dfe-2026-autumn.csv"
    rows = _csv(resp)
    assert list(rows[0]) == list(dfe.COLUMNS)
    total = {(r["measure"], r["breakdown"]): r["children"] for r in rows if r["category"] == "all"}
    assert total == {("census", "total"): "2", ("started", "total"): "6", ("stopped", "total"): "5"}
    text = _pdf_text(mary.raw.get("/reports/dfe.pdf?term=2026-autumn"))
    assert "DfE return: children missing education, Autumn term 2026" in text
    assert REPORT_CSP_STYLE in _strict_csp(mary.get("/reports/dfe/print?term=2026-autumn").response)
    assert _outputs(web, "dfe") == ["page", "csv", "pdf", "print"]
    assert _disclosures(web) == []  # counts, no child named
    page = mary.get("/reports/dfe?term=2026-winter", status=400)
    assert page.error_links() == {"term": "Select a term from the list"}
    assert mary.raw.get("/reports/dfe.csv?term=2026-winter").status_code == 400


def test_the_column_meanings_are_those_of_the_docs() -> None:
    """docs/returns.md is the reference; the page says the same (code marks aside)."""
    section = DOCS.read_text().split("## DfE return", 1)[1]
    documented = [
        (m.group(1), m.group(2).replace("`", ""))
        for m in re.finditer(r"^\| `(\w+)` \| (.+) \|$", section, re.MULTILINE)
    ]
    assert documented == list(COLUMN_MEANINGS)
    assert [c for c, _ in COLUMN_MEANINGS] == list(dfe.COLUMNS)
