"""Letters to referrers: by name to a verified address; to a web-form address, nothing typed."""

from __future__ import annotations

import email
from datetime import date
from email.policy import default

from sqlalchemy import Engine, select

from gateway import letters
from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.db import session_scope
from gateway.models.ops import OutboxMessage
from gateway.settings import load_settings

HOSTILE_GAPS = [
    "postcode is missing",
    "date of birth 'see evil.example' is not a date that can be read",
    "Check letter is wrong (UPN given: evil.example)",
    "postcode 'EVIL 1' is not a valid UK postcode",
    "something new 'evil.example'",
]


def _render(verified: bool) -> str:
    return letters.render(
        "further_enquiries",
        "CME-7",
        verified=verified,
        referrer_name="Pay at evil.example",
        received=date(2026, 11, 2),
        la_name="Redcar and Cleveland",
        gaps=HOSTILE_GAPS,
    ).body


def test_an_unverified_letter_has_only_our_own_words() -> None:
    body = _render(verified=False)
    assert body.startswith("Dear referrer,\n")
    assert "evil" not in body.lower()
    for line in (
        "postcode is missing",
        "the date of birth given cannot be read",
        "the UPN given is not valid",
        "the postcode given is not a valid UK postcode",
        "some of the details given cannot be read",
    ):
        assert f"  - {line}\n" in body


def test_a_verified_letter_greets_by_name_and_lists_the_gaps_as_found() -> None:
    body = _render(verified=True)
    assert body.startswith("Dear Pay at evil.example,\n")
    assert "  - date of birth 'see evil.example' is not a date that can be read\n" in body
    no_name = letters.render(
        "acknowledgement", "CME-7", referrer_name=None, received=date(2026, 11, 2), la_name="X"
    )
    assert no_name.body.startswith("Dear colleague,\n")


def _letter_for(engine: Engine, channel: str) -> str:
    settings = load_settings()
    data = build_referral_input(
        {
            "forename": "Zara",
            "surname": "Inventedson",
            "reason": "not seen since half term",
            "referrer_name": "Nora Neighbour",
            "referrer_email": "nora@example.org",
            "channel": channel,
            "received": "2026-11-02",
            "gaps": ["date of birth is missing"],
        },
        today=date(2026, 11, 3),
    )
    with session_scope(engine) as s:
        service.log_referral(s, settings, data, "test")
    with session_scope(engine) as s:
        row = s.execute(
            select(OutboxMessage).where(OutboxMessage.kind == "further_enquiries")
        ).scalar_one()
        msg = email.message_from_bytes(row.raw, policy=default)
        assert msg["To"] == "nora@example.org"
        return str(msg.get_body().get_content())  # type: ignore[union-attr]


def test_a_web_form_referrals_letter_does_not_name_the_referrer(engine: Engine) -> None:
    body = _letter_for(engine, "form")
    assert body.startswith("Dear referrer,")
    assert "Nora" not in body
    assert "date of birth is missing" in body


def test_an_email_referrals_letter_still_greets_by_name(engine: Engine) -> None:
    assert _letter_for(engine, "email").startswith("Dear Nora Neighbour,")
