"""What the case page and the case list show: everything a referral carries, urgency first,
the words a person uses (never codes), a school roll match, a merged duplicate, candidates."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.cases import service
from gateway.cases.merge import merge_cases
from gateway.matching import candidates
from gateway.models.case import Case
from tests.web.conftest import WebClient, WebEnv

FULL = {
    "channel": "form",
    "referrer_name": "Nora Neighbour",
    "referrer_role": "Neighbour",
    "referrer_organisation": "Coast Road Residents",
    "referrer_phone": "01642 111111",
    "referrer_email": "nora@example.org",
    "reason": "Not seen at school since half term",
    "school": "Synthetic Primary",
    "date_last_attended": "2026-10-16",
    "date_last_seen": "2026-10-30",
    "actions_taken": [
        {"date": "2026-10-20", "action": "20/10/2026 phoned mother, no answer",
         "step": "phoned mother", "outcome": "no answer"},
    ],
    "flags": {"looked_after": True, "traveller": False},
    "carers": [{"name": "Carol Testwell", "relationship": "mother", "phone": "01642 000000",
                "email": "carol@example.org"}],
    "siblings": [{"name": "Ben Testwell", "school": "Synthetic Academy"}],
}  # fmt: skip


def test_everything_a_referral_carries_is_shown(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case(**FULL)
    page = officer.get(f"/cases/{case_id}")
    [card] = page.doc.xpath("//div[@id='referrals']/div[contains(@class,'govuk-summary-card')]")
    text = " ".join(card.text_content().split())
    assert "Referral of 2 November 2026" in text
    for shown in (
        "Received by The online referral form",
        "Referrer Nora Neighbour",
        "Role Neighbour",
        "Organisation Coast Road Residents",
        "Phone 01642 111111",
        "Email nora@example.org",
        "Reason Not seen at school since half term",
        "Circumstances Looked after by a local authority",
        "School last attended Synthetic Primary",
        "Date last attended 16 October 2026",
        "Date last seen 30 October 2026",
        "Actions already taken 20 October 2026: phoned mother (outcome: no answer)",
    ):
        assert shown in text, shown
    assert "Gypsy, Roma or Traveller" not in text
    carers = page.text("//table[@id='carers']")
    assert "Carol Testwell" in carers and "01642 000000" in carers and "carol@example.org" in carers
    assert page.text("//ul[@id='siblings']") == "Ben Testwell, at Synthetic Academy"
    assert not page.doc.xpath("//div[@id='anonymous-warning']")


def test_a_request_for_anonymity_is_shown_and_the_name_still_is(
    web: WebEnv, officer: WebClient
) -> None:
    case_id = web.add_case(**{**FULL, "anonymous": True})
    page = officer.get(f"/cases/{case_id}")
    warning = page.text("//div[@id='anonymous-warning']")
    assert "The referrer asked not to be named" in warning
    assert page.doc.xpath("//div[@id='anonymous-warning']/preceding::h1")
    assert page.doc.xpath("//div[@id='anonymous-warning']/following::h2[.='Child']")
    card = "//div[@id='referrals']"
    assert "The referrer asked not to be named" in page.text(card)
    assert "Nora Neighbour" in page.text(card)


def test_urgent_and_safeguarding_are_marked_with_their_first_contact(
    web: WebEnv, officer: WebClient
) -> None:
    routine = web.add_case("Amelia", "Testwell")
    urgent = web.add_case("Bartholomew", "Fictius", urgency="urgent")
    worry = web.add_case("Cora", "Madeup", urgency="safeguarding")
    page = officer.get(f"/cases/{worry}")
    tag = page.doc.xpath("//p[@id='case-urgency']/strong")[0]
    assert tag.text.strip() == "Safeguarding concern" and "govuk-tag--red" in tag.get("class")
    assert page.text("//span[@id='first-contact']") == "First contact due 2 November 2026"
    tasks = page.text("//table[@id='tasks']")
    assert "First contact (urgent referral)" in tasks and "To do" in tasks
    assert "first_contact" not in tasks
    assert not officer.get(f"/cases/{routine}").doc.xpath("//p[@id='case-urgency']")

    listing = officer.get("/cases")

    def marker(case_id: int) -> list[tuple[str, str]]:
        tags = listing.doc.xpath(f"//tr[@id='case-{case_id}']//strong[@data-urgency]")
        return [(t.text.strip(), t.get("class")) for t in tags]

    assert marker(routine) == []
    assert marker(urgent) == [("Urgent", "govuk-tag govuk-tag--orange")]
    assert marker(worry) == [("Safeguarding concern", "govuk-tag govuk-tag--red")]


def test_labels_not_codes(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case(gaps=["date of birth not given"])
    with web.session() as s:
        service.move_case(s, web.settings, case_id, "locating", actor="olivia")
        service.record_enquiry(
            s, case_id, agency="attendance_welfare", method="home_visit",
            at=datetime(2026, 11, 3, 10, 0, tzinfo=UTC), outcome="No one home",
            contact=None, actor="olivia",
        )  # fmt: skip
        service.escalate(s, web.settings, case_id, "social_care", actor="olivia")
        s.commit()
    page = officer.get(f"/cases/{case_id}")
    text = page.text("//main")
    for words in (
        "Locating the child and family",
        "Moved to Locating the child and family",
        "Attendance & Welfare",
        "Home visit",
        "Send the referrer a progress update",
        "Ask the referrer for missing information",
        "Referred to Children's Social Care / MASH",
        "Received by Email",
        "Urgency Routine",
        "3 November 2026 at 10:00am",
    ):
        assert words in text, words
    for code in (
        "locating", "progress_update", "further_enquiries", "attendance_welfare",
        "home_visit", "social_care", "routine", "logged ->",
    ):  # fmt: skip
        assert code not in text, code
    listing = officer.get("/cases").text("//table[@id='cases']")
    assert "Locating the child and family" in listing and "locating" not in listing


def test_on_roll_and_closing_offered(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    with web.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        case.on_roll = {"school": "8074001", "from": "2026-09-03", "entry": 1}
        s.commit()
    page = officer.get(f"/cases/{case_id}")
    banner = "//div[@id='on-roll']"
    assert page.text(banner + "//p[@class='govuk-notification-banner__heading']") == (
        "On roll at school 8074001 from 3 September 2026 (confirmed from the school roll)"
    )
    assert page.doc.xpath(f"{banner}//a/@href") == [f"/cases/{case_id}/close"]
    assert "Attendance & Welfare" in page.text(banner)


def test_a_merged_duplicate_points_at_the_case_it_joined(web: WebEnv, officer: WebClient) -> None:
    kept = web.add_case("Oliver", "Testbrook")
    dup = web.add_case("Ollie", "Testbrook")
    with web.session() as s:
        merge_cases(s, kept, dup, "olivia")
        s.commit()
    page = officer.get(f"/cases/{dup}")
    assert page.text("//div[@id='merged-into']//p[1]") == f"This case was merged into CME-{kept}"
    assert page.doc.xpath("//div[@id='merged-into']//a/@href") == [f"/cases/{kept}"]
    assert "Duplicate of another case (merged into it)" in page.text("//div[@id='case-outcome']")
    assert "duplicate" not in page.text("//div[@id='case-outcome']")


def test_stored_candidates_link_to_their_review(web: WebEnv, officer: WebClient) -> None:
    first = web.add_case("Oliver", "Testbrook", sex="M")
    second = web.add_case("Ollie", "Testbrook", sex="M")
    with web.session() as s:
        found = candidates.refresh(s, web.settings, f"case:{second}")
        s.commit()
        ids = {c.target_ref: c.id for c in found}
    assert f"case:{first}" in ids, ids
    page = officer.get(f"/cases/{second}")
    row = page.doc.xpath(f"//table[@id='candidates']//tr[td[1]='Case CME-{first}']")
    assert row, page.text("//table[@id='candidates']")
    assert row[0].xpath(".//a/@href") == [f"/matches/{ids[f'case:{first}']}"]
    assert "Review the match with Case CME-" in " ".join(row[0].text_content().split())
