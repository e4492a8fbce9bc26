"""The disclosure register: one row for every kind of disclosure, shown to a manager."""

from __future__ import annotations

from sqlalchemy import select

from gateway.cases import onward
from gateway.models.exchange import Disclosure
from gateway.users import Role
from tests.web.conftest import WebClient, WebEnv


def test_letters_and_onward_referrals_are_in_one_register(web: WebEnv, client: WebClient) -> None:
    case_id = web.add_case(gaps=["date of birth missing"])  # the letter asks the referrer
    with web.session() as s:
        onward.refer(s, web.settings, case_id, "admissions", "needs a school place", "olivia")
        s.commit()
        kinds = s.execute(select(Disclosure.kind, Disclosure.channel)).all()
    assert sorted(kinds) == [("letter", "email"), ("onward_referral", "print")]
    web.add_user("olivia")
    client.sign_in("olivia")
    client.get("/disclosures", status=403)


def test_a_manager_reads_the_register_filtered_by_case(web: WebEnv, client: WebClient) -> None:
    first = web.add_case(gaps=["date of birth missing"])
    web.add_case("Ben", gaps=["date of birth missing"])
    web.add_user("mary", Role.MANAGER)
    client.sign_in("mary")
    page = client.get("/disclosures")
    assert page.text("//p[@id='disclosure-count']") == "2 disclosures"
    assert "Letter to the referrer" in page.text("//table[@id='disclosures']")
    one = client.get(f"/disclosures?case=CME-{first}")
    assert one.text("//p[@id='disclosure-count']") == "1 disclosure"
    bad = client.get("/disclosures?case=twelve", status=400)
    assert bad.error_links() == {"case": "Enter a case reference like CME-12, or leave it empty"}
    assert len(web.audit("disclosures.list")) == 3  # every reading, the refused one too
