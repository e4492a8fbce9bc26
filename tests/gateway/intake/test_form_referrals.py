"""A web-form referral is logged as one: its referrer is only what was typed into the form."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import SMTP, default

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.intake import IntakeChannel
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.settings import Settings
from tests.fixtures import mail


def _message(sender: str, referrer: str, *, form: bool) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.INBOX
    msg["Subject"] = "Children missing education referral"
    msg["Message-ID"] = f"<form-{form}@redcar-cleveland.example>"
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    if form:
        msg["X-CME-Source"] = "web-form"
    msg.set_content(
        # Complete enough to open a case at once; no school, so a letter asks for it.
        "Child forename: Zara\nChild surname: Inventedson\nDate of birth: 14/06/2014\n"
        "Address: 22 Madeup Road\nTown: Redcar\nPostcode: TS10 1AB\n"
        "Reason for referral: Not seen since half term; house looks empty.\n" + referrer
    )
    return msg.as_bytes(policy=SMTP)


def _dispatch(
    store: RawStore, engine: Engine, settings: Settings, data: bytes, channel: IntakeChannel
) -> tuple[Referral, list[OutboxMessage]]:
    stored = store.store(data, Arrival(channel))
    with Session(engine, expire_on_commit=False) as s:
        result = dispatch_safely(s, settings, stored.raw_id)
        s.commit()
        assert result.as_dict()["outcome"] == "case", result.as_dict()
        referral = s.execute(select(Referral)).scalar_one()
        letters = list(s.execute(select(OutboxMessage)).scalars())
    return referral, letters


def _body(row: OutboxMessage) -> str:
    msg = email.message_from_bytes(row.raw, policy=default)
    return str(msg.get_body().get_content())  # type: ignore[union-attr]


def test_a_web_form_post_is_a_form_referral(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    data = _message(
        "Referral form <referral-form@redcar-cleveland.example>",
        "Referrer name: Visit evil.example now\nReferrer email: someone@example.org\n",
        form=True,
    )
    referral, letters = _dispatch(store, engine, intake_settings, data, IntakeChannel.FORM)
    assert referral.channel == "form"
    (letter,) = letters
    assert letter.to_addrs == ["someone@example.org"]
    assert _body(letter).startswith("Dear referrer,")
    assert "evil" not in _body(letter)
    assert "school (current or last attended) is missing" in _body(letter)


def test_a_form_referral_by_phone_gets_no_letter_to_the_form_itself(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    data = _message(
        "Referral form <referral-form@redcar-cleveland.example>",
        "Referrer name: Nora Neighbour\nReferrer phone: 01642 000000\n",
        form=True,
    )
    referral, letters = _dispatch(store, engine, intake_settings, data, IntakeChannel.FORM)
    assert referral.referrer_email is None
    assert letters == []


def test_an_email_referral_keeps_its_sender_and_name(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    data = _message("attendance@school-807.example", "Referrer name: Ann Head\n", form=False)
    referral, letters = _dispatch(store, engine, intake_settings, data, IntakeChannel.SMTP)
    assert referral.channel == "email"
    (letter,) = letters
    assert letter.to_addrs == ["attendance@school-807.example"]
    assert _body(letter).startswith("Dear Ann Head,")
