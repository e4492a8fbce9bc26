"""Allocation of a case to an officer from its page, and caseloads for a manager."""

from __future__ import annotations

from gateway.cases.allocation import allocate
from gateway.users import Role
from tests.web.conftest import WebClient, WebEnv


def test_the_case_page_says_who_has_the_case_with_a_change_link(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case()
    page = officer.get(f"/cases/{case_id}")
    row = page.doc.xpath("//*[@id='allocated-to']")[0]
    assert " ".join(row.xpath("string(dd[1])").split()) == "Not allocated"
    assert row.xpath(".//a/@href") == [f"/cases/{case_id}/allocate"]


def test_allocating_a_case_changes_it_and_is_audited(web: WebEnv, officer: WebClient) -> None:
    web.add_user("oscar")
    case_id = web.add_case()
    form = officer.get(f"/cases/{case_id}/allocate")
    assert form.title.startswith(f"Allocate case CME-{case_id} – ")
    assert form.h1 == "Who is the case allocated to?"
    assert form.doc.xpath("//main//form/@action") == [f"/cases/{case_id}/allocate"]
    choices = form.doc.xpath("//input[@name='officer']/following-sibling::label/text()")
    assert choices == ["Olivia Tester", "Oscar Tester", "Not allocated"]
    assert form.doc.xpath("//input[@name='officer'][@checked]/@value") == ["_nobody"]
    assert [e.action for e in web.audit("allocation.view")] == ["allocation.view"]

    done = officer.post(f"/cases/{case_id}/allocate", {"officer": "oscar"})
    assert done.response.headers["Location"] == f"/cases/{case_id}"
    page = officer.get(f"/cases/{case_id}")
    assert f"Case CME-{case_id} is now allocated to Oscar Tester." in page.text(
        "//div[contains(@class,'govuk-notification-banner--success')]"
    )
    assert page.text("//*[@id='allocated-to']/dd[1]") == "Oscar Tester"
    [entry] = web.audit("case.allocate")
    assert entry.actor == "olivia"
    assert entry.entity_id == str(case_id)
    assert entry.detail == {"before": None, "after": "oscar"}
    assert "Allocated to Oscar Tester" in page.text("//ol[@id='timeline']")

    again = officer.get(f"/cases/{case_id}/allocate")
    assert again.doc.xpath("//input[@name='officer'][@checked]/@value") == ["oscar"]
    officer.post(f"/cases/{case_id}/allocate", {"officer": "_nobody"})
    page = officer.get(f"/cases/{case_id}")
    assert page.text("//*[@id='allocated-to']/dd[1]") == "Not allocated"
    assert f"Case CME-{case_id} is now not allocated." in page.text("//main")
    assert [e.detail for e in web.audit("case.allocate")][-1] == {"before": "oscar", "after": None}


def test_allocation_errors_are_in_an_error_summary(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    empty = officer.post(f"/cases/{case_id}/allocate", {}, status=400)
    assert empty.error_links() == {"officer": "Select who the case is allocated to"}
    unknown = officer.post(f"/cases/{case_id}/allocate", {"officer": "nobody"}, status=400)
    assert unknown.error_links() == {
        "officer": "There is no active user called 'nobody' to allocate to"
    }
    assert web.audit("case.allocate") == []
    officer.get("/cases/9999/allocate", status=404)


def test_caseloads_are_for_managers(web: WebEnv, officer: WebClient) -> None:
    officer.get("/caseloads", status=403)


def test_a_manager_sees_each_officers_caseload(web: WebEnv, client: WebClient) -> None:
    web.add_user("maggie", Role.MANAGER)
    web.add_user("oscar")
    web.add_user("olivia")
    urgent = web.add_case("Ben", "Testperson", urgency="safeguarding")
    routine = web.add_case("Ava", "Testperson")
    web.add_case("Cal", "Testperson")
    with web.session() as s:
        allocate(s, urgent, "oscar", "test")
        allocate(s, routine, "oscar", "test")
        s.commit()
    client.sign_in("maggie")
    page = client.get("/caseloads")
    assert page.h1 == "Caseloads"
    cells = {
        row.get("id"): [" ".join(c.text_content().split()) for c in row.xpath("th|td")]
        for row in page.doc.xpath("//table[@id='caseloads']/tbody/tr")
    }
    assert list(cells) == [
        "caseload-maggie", "caseload-olivia", "caseload-oscar", "caseload-unallocated",
    ]  # fmt: skip
    oscar = cells["caseload-oscar"]
    assert oscar[0] == "Oscar Tester"
    assert [c.split()[0] for c in oscar[1:3]] == ["2", "1"]
    assert int(oscar[3].split()[0]) >= 2  # each referral's progress update is overdue
    assert cells["caseload-olivia"][1].split()[0] == "0"  # listed with nothing open
    assert cells["caseload-unallocated"][0] == "Not allocated"
    assert cells["caseload-unallocated"][1].split()[0] == "1"
    for href in set(page.doc.xpath("//table[@id='caseloads']//a/@href")):
        client.get(href)
