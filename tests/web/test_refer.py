"""The public referral form: no sign-in, CSRF-protected, stored durably before 201."""

from __future__ import annotations

import email
import json
from email.policy import default

from sqlalchemy import select

from gateway.intake.rawstore import DISPATCH_JOB
from gateway.models.intake import RawMessage
from gateway.models.ops import Job
from tests.web.conftest import Page, WebClient, WebEnv
from web.refer import raw_store

GOOD = {
    "forename": "Zara",
    "surname": "Inventedson",
    "dob-day": "14",
    "dob-month": "6",
    "dob-year": "2014",
    "address_line1": "22 Madeup Road",
    "town": "Redcar",
    "postcode": "ts10 1ab",
    "school": "Synthetic Primary",
    "reason": "Not seen since half term; house looks empty.",
    "urgency": "urgent",
    "referrer_name": "Nora Neighbour",
    "referrer_email": "nora@example.org",
}


def form_token(page: Page) -> str:
    """The page's one-time token: each page of the form can be sent once."""
    tokens = page.doc.xpath("//form[@action='/refer']//input[@name='form_token']/@value")
    assert tokens, "the referral form has no one-time token"
    return str(tokens[0])


def test_form_is_public_with_a_token(client: WebClient) -> None:
    page = client.get("/refer")
    assert page.h1 == "Refer a child who may be missing education"
    assert page.doc.xpath("//form[@action='/refer'][@method='post']//input[@name='csrf_token']")
    assert form_token(page) != form_token(client.get("/refer")), "a new token for each page"
    assert not page.doc.xpath("//form[@action='/sign-out']"), "no console menu for the public"


def test_gaps_are_listed_and_nothing_is_stored(web: WebEnv, client: WebClient) -> None:
    token = form_token(client.get("/refer"))
    page = client.post(
        "/refer", {"forename": "Zara", "postcode": "nonsense", "form_token": token}, status=400
    )
    assert list(page.error_links()) == [
        "surname", "postcode", "reason", "urgency", "referrer_name", "referrer_email",
    ]  # fmt: skip
    # What was typed is kept, so the person only fixes the gaps.
    assert page.doc.xpath("//input[@id='forename']/@value") == ["Zara"]
    assert form_token(page) == token, "the same page, corrected, can still be sent once"
    with web.session() as s:
        assert s.execute(select(RawMessage)).first() is None


def test_bad_date_of_birth(client: WebClient) -> None:
    token = form_token(client.get("/refer"))
    page = client.post(
        "/refer", {**GOOD, "dob-day": "31", "dob-month": "2", "form_token": token}, status=400
    )
    assert list(page.error_links()) == ["dob-day"]


def test_without_token_is_refused(web: WebEnv, client: WebClient) -> None:
    token = form_token(client.get("/refer"))
    client.post("/refer", {**GOOD, "form_token": token}, status=400, csrf=False)
    with web.session() as s:
        assert s.execute(select(RawMessage)).first() is None


def test_accepted_referral_is_stored_whole_before_201(web: WebEnv, client: WebClient) -> None:
    token = form_token(client.get("/refer"))
    page = client.post("/refer", {**GOOD, "form_token": token}, status=201)
    reference = page.text("//strong[@id='reference']")
    assert reference.startswith("WEB-")
    with web.session() as s:
        row = s.execute(select(RawMessage)).scalar_one()
        jobs = s.execute(select(Job).where(Job.kind == DISPATCH_JOB)).scalars().all()
        assert [j.payload for j in jobs] == [{"raw_id": row.id}]
    assert reference == f"WEB-{row.sha256[:8].upper()}"
    with web.app.app_context():
        data = raw_store().read(row)
    msg = email.message_from_bytes(data, policy=default)
    # No child's details in headers (they travel in clear and get logged).
    for header in ("Subject", "From", "To", "Message-ID"):
        value = str(msg[header])
        assert "Zara" not in value and "Inventedson" not in value
    assert msg["Reply-To"] == "nora@example.org"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Child surname: Inventedson" in body
    assert "Postcode: TS10 1AB" in body
    attachment = next(msg.iter_attachments())
    fields = json.loads(attachment.get_content())
    assert fields["dob"] == "2014-06-14"
    assert fields["urgency"] == "urgent"


def test_intake_turns_the_submission_into_a_case(web: WebEnv, client: WebClient) -> None:
    import gateway.intake.dispatch  # noqa: F401  (registers the dispatch job)
    from gateway import jobs
    from gateway.cases import queries
    from web.server import close_app

    token = form_token(client.get("/refer"))
    client.post("/refer", {**GOOD, "form_token": token}, status=201)
    close_app(web.app)
    # The dispatch job, then the new case's match-candidates job.
    assert jobs.drain(web.engine, web.settings) == 2
    with web.session() as s:
        (row,) = queries.list_cases(s)
        assert (row.forename, row.surname, row.dob.isoformat()) == (
            "Zara",
            "Inventedson",
            "2014-06-14",
        )
        case = queries.case_detail(s, row.id)
        assert case.referrals[0].referrer_email == "nora@example.org"
