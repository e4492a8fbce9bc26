"""A lost-pupil record in the console: in the menu, claimed from its page (closing the cases
that monitor the child), and linked to the case an officer confirmed it to be."""

from __future__ import annotations

from datetime import date, timedelta

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from gateway.exchange import monitoring
from gateway.exchange.partners import add_partner
from gateway.matching.confirm import Verdict, decide
from gateway.models.case import Case
from gateway.models.exchange import Monitoring
from lost_pupil.models import LostPupil
from lost_pupil.tokens import issue_token
from tests.fixtures import ctf_gen
from tests.web import exchange_support as ex
from tests.web.conftest import WebClient, WebEnv

UPN = "R807300024001"  # the sample pupil's (Amelia Featherstone, born 3 July 2014)
CLAIM = {"laestab": "8063001", "on-roll-day": "6", "on-roll-month": "1", "on-roll-year": "2025"}


def _lost_pupil(web: WebEnv) -> int:
    with web.session() as s:
        token = issue_token(s, "8073000")
        s.commit()
    resp = web.app.test_client().post(
        "/lost-pupils/upload",
        data=ctf_gen.ctf_bytes([ctf_gen.sample_pupil()]),
        headers={"Authorization": f"Bearer {token}"},
        content_type="application/xml",
    )
    assert resp.status_code == 201
    with web.session() as s:
        return s.execute(select(LostPupil.id)).scalar_one()


def test_lost_pupils_are_in_the_menu(officer: WebClient) -> None:
    page = officer.get("/")
    [link] = page.doc.xpath("//a[@id='nav-lost-pupils']")
    assert link.get("href") == "/lost-pupils"
    page = officer.get(link.get("href"))
    assert page.doc.xpath("//li[contains(@class,'--active')]/a[@id='nav-lost-pupils']"), (
        "the menu shows where the officer is"
    )


def test_claim_from_the_record_page(web: WebEnv, officer: WebClient) -> None:
    pupil_id = _lost_pupil(web)
    page = officer.get(f"/lost-pupils/{pupil_id}")
    assert page.text("//h2[@id='claim']").startswith("Claim")
    url = f"/lost-pupils/{pupil_id}/claim"
    assert page.doc.xpath(f"//form[@action='{url}']")
    page = officer.post(url, {}, status=400)
    assert page.error_links() == {
        "laestab": "Enter the LAESTAB of the school the child is on roll at",
        "on-roll-day": "Enter the date on roll",
    }
    later = date.today() + timedelta(days=7)
    page = officer.post(
        url,
        {"laestab": "80630", "on-roll-day": str(later.day), "on-roll-month": str(later.month),
         "on-roll-year": str(later.year)},
        status=400,
    )  # fmt: skip
    assert page.error_links() == {
        "laestab": "The LAESTAB must be 7 digits: the LA code, then the school",
        "on-roll-day": "The date on roll must be today or in the past",
    }
    assert page.doc.xpath("//input[@id='laestab']/@value") == ["80630"]
    page = officer.post(url, CLAIM)
    assert page.response.headers["Location"] == f"/lost-pupils/{pupil_id}"
    page = officer.get(f"/lost-pupils/{pupil_id}")
    status = " ".join(page.doc.xpath("string(//dl[@id='record']/div[1]/dd)").split())
    assert status == "Claimed by a school: on roll at school 8063001 from 6 January 2025"
    assert not page.doc.xpath("//h2[@id='claim']")
    assert "Claimed: on roll at school 8063001 from 6 January 2025" in page.text(
        "//div[contains(@class,'govuk-notification-banner')]"
    )
    [entry] = web.audit("lost_pupil.claim")
    assert entry.actor == "olivia"
    assert entry.detail == {"school": "8063001", "from": "2025-01-06"}
    # A second claim of the same record is refused, in words.
    page = officer.post(url, CLAIM, status=400)
    assert "not open; it cannot be claimed" in page.error_links()["record"]
    officer.post("/lost-pupils/999/claim", CLAIM, status=404)


def test_a_claim_closes_the_case_monitoring_the_child(web: WebEnv, officer: WebClient) -> None:
    pupil_id = _lost_pupil(web)
    case_id = web.add_case("Amelia", "Featherstone", upn=UPN, dob="2014-07-03")
    cert = ex.partner_identity("806").certificate.public_bytes(serialization.Encoding.PEM)
    with web.session() as s:
        add_partner(
            s, web.settings, la_code="806", name="Test LA 806", email="cme@la806.example",
            cert_bytes=cert,
        )  # fmt: skip
        monitoring.start(s, web.settings, case_id, "806", "test")
        s.commit()
    officer.post(f"/lost-pupils/{pupil_id}/claim", CLAIM)
    with web.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.status, case.outcome) == ("closed", "on_roll_other_la")
        row = s.execute(select(Monitoring).where(Monitoring.case_id == case_id)).scalar_one()
        assert (row.status, row.closed_reason) == ("closed", "lost-pupil claim")


def test_the_record_links_to_the_case_confirmed_as_the_child(
    web: WebEnv, officer: WebClient
) -> None:
    pupil_id = _lost_pupil(web)
    confirmed = web.add_case("Amelia", "Featherstone", dob="2014-07-03")
    rejected = web.add_case("Amelie", "Featherstone", dob="2014-07-03")
    page = officer.get(f"/lost-pupils/{pupil_id}")
    assert not page.doc.xpath("//*[@id='linked-cases']")
    with web.session() as s:
        decide(s, web.settings, f"case:{confirmed}", f"lost_pupil:{pupil_id}",
               Verdict.CONFIRMED, "olivia")  # fmt: skip
        decide(s, web.settings, f"case:{rejected}", f"lost_pupil:{pupil_id}",
               Verdict.REJECTED, "olivia")  # fmt: skip
        s.commit()
    page = officer.get(f"/lost-pupils/{pupil_id}")
    links = page.doc.xpath("//div[@id='linked-cases']//a")
    assert [(a.get("href"), " ".join(a.text_content().split())) for a in links] == [
        (f"/cases/{confirmed}", f"CME-{confirmed}: Amelia Featherstone")
    ]
    officer.get(links[0].get("href"))
