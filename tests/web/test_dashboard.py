"""The dashboard at `/`: the page after sign-in, urgent work first, every count a link."""

from __future__ import annotations

from gateway.triage.service import receive
from gateway.users import Role
from tests.web.conftest import Page, WebClient, WebEnv

SECTIONS = [
    "Urgent and safeguarding",
    "Your cases",
    "The team",
    "Referrals awaiting triage",
    "Tasks due and overdue",
    "Messages and matches",
]


def _allocate(web: WebEnv, case_id: int, username: str | None) -> None:
    from gateway.cases.allocation import allocate

    with web.session() as s:
        allocate(s, case_id, username, "test")
        s.commit()


def _awaiting(web: WebEnv, urgency: str = "urgent") -> None:
    """A referral too thin to open a case by itself: it waits in the triage queue."""
    with web.session() as s:
        receive(s, web.settings, {"forename": "Dee", "reason": "Not seen", "channel": "phone",
                                  "urgency": urgency}, actor="test")  # fmt: skip
        s.commit()


def _links(page: Page) -> list[str]:
    """Every link in the page's main content and its service navigation."""
    hrefs = page.doc.xpath("//main//a/@href | //nav[@aria-label='Menu']//a/@href")
    return [str(h) for h in hrefs if not str(h).startswith("#")]


def test_signing_in_lands_on_the_dashboard(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    landed = client.sign_in("olivia")
    assert landed.response.headers["Location"] == "/"
    page = client.get("/")
    assert page.title.startswith("Dashboard – ")
    assert page.h1 == "Dashboard"
    nav = page.doc.xpath("//ul[@id='navigation']/li/a/text()")
    assert nav[0] == "Dashboard"
    assert "Monitoring" in nav
    # Nothing urgent: no red banner.
    assert not page.doc.xpath("//*[@id='urgent']")
    assert page.text("//*[@id='my-open']") == "0 open cases allocated to you"


def test_urgent_first_then_my_cases_only_mine_most_urgent_first(
    web: WebEnv, officer: WebClient
) -> None:
    web.add_user("oscar")
    routine = web.add_case("Ava", "Testperson")
    urgent = web.add_case("Ben", "Testperson", urgency="safeguarding")
    theirs = web.add_case("Cal", "Testperson", urgency="urgent")
    web.add_case("Dot", "Testperson")  # nobody's
    for case_id in (routine, urgent):
        _allocate(web, case_id, "olivia")
    _allocate(web, theirs, "oscar")
    _awaiting(web)

    page = officer.get("/")
    headings = [" ".join(h.text_content().split()) for h in page.doc.xpath("//main//h2")]
    assert headings == SECTIONS
    banner = page.text("//*[@id='urgent']")
    assert "2 open cases are urgent or a safeguarding concern" in banner
    assert "1 urgent referral is awaiting triage" in banner

    rows = page.doc.xpath("//table[@id='my-cases']/tbody/tr/@id")
    assert rows == [f"my-case-{urgent}", f"my-case-{routine}"]
    first = page.text(f"//tr[@id='my-case-{urgent}']")
    assert "Ben Testperson" in first and "Safeguarding concern" in first
    assert "Logged" in first  # the status in words
    assert page.doc.xpath(f"//tr[@id='my-case-{urgent}']//a[@href='/cases/{urgent}']")
    assert "Cal" not in page.text("//table[@id='my-cases']")
    assert page.text("//*[@id='my-open']") == "2 open cases allocated to you"
    assert page.text("//*[@id='team-open']/dd") == "4 open cases"
    assert page.text("//*[@id='team-unallocated']/dd").startswith("1")
    assert page.text("//*[@id='awaiting-triage']") == "1 referral awaiting triage, 1 of them urgent"


def test_tasks_overdue_by_kind_in_words(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()  # received weeks ago: its progress update is overdue
    _allocate(web, case_id, "olivia")
    page = officer.get("/")
    kinds = page.text("//table[@id='overdue-by-kind']")
    assert "Progress updates to the referrer" in kinds
    assert "progress_update" not in kinds
    row = page.text("//table[@id='tasks']/tbody/tr[1]")
    assert f"CME-{case_id}" in row and "Send the referrer a progress update" in row
    assert "Overdue" in row
    assert "overdue across the team" in page.text("//*[@id='task-counts']")


def test_every_count_links_to_its_list_and_every_link_answers(
    web: WebEnv, client: WebClient
) -> None:
    web.add_user("maggie", Role.MANAGER)
    case_id = web.add_case(urgency="urgent")
    _allocate(web, case_id, "maggie")
    _awaiting(web)
    client.sign_in("maggie")
    page = client.get("/")
    expected = {
        "team-open": "/cases",
        "team-unallocated": "/cases?officer=_nobody",
        "matches-to-review": "/matches",
        "held-messages": "/quarantine",
        "new-replies": "/cases",
        "monitored": "/monitoring",
        "partner-answers": "/exchange/answers",
        "dead-letters": "/exchange/dead",
    }
    for row, href in expected.items():
        assert page.doc.xpath(f"//*[@id='{row}']//a/@href") == [href], row
    assert page.doc.xpath("//*[@id='awaiting-triage']/a/@href") == ["/triage"]
    assert page.doc.xpath("//*[@id='urgent-triage']/a/@href") == ["/triage"]
    assert page.doc.xpath("//*[@id='caseloads-link']/@href") == ["/caseloads"]
    links = _links(page)
    assert f"/cases/{case_id}" in links
    for href in sorted(set(links)):
        client.get(href)  # 200, a title and a heading


def test_the_dashboard_view_is_audited(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    _allocate(web, case_id, "olivia")
    officer.get("/")
    [entry] = web.audit("dashboard.view")
    assert entry.actor == "olivia"
    assert entry.detail == {"cases": [case_id]}


def test_an_officer_sees_no_caseloads_link(officer: WebClient) -> None:
    page = officer.get("/")
    assert not page.doc.xpath("//*[@id='caseloads-link']")
