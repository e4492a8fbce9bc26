"""Wildcards from outside never reach another child's case (issue 12, item 1).

A `%` or `_` typed into a form, an email header, a partner's document or a CTF once became a
LIKE pattern: a referral named `_%` joined whichever open case had the guessed date of birth,
and mail `From: %@%` counted as a sender already on the case.
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.policy import SMTP

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway import outbox
from gateway.cases.inputs import ReferralInput
from gateway.cases.service import log_referral
from gateway.claims import matching_open_cases
from gateway.exchange.working import candidates
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.case import Case, TimelineEntry
from gateway.models.intake import IntakeChannel
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.settings import Settings
from lost_pupil.events import PupilClaimed
from parsers.exchange import Pupil
from tests.fixtures import mail

DOB = date(2015, 3, 1)
REFERRER = "attendance@school-807.example"


def _open_case(engine: Engine, settings: Settings, **extra: object) -> int:
    values = dict(forename="Ava", surname="Testperson", dob=DOB, referrer_email=REFERRER)
    values.update(extra)
    with Session(engine, expire_on_commit=False) as s:
        case = log_referral(
            s,
            settings,
            ReferralInput(received=date(2026, 11, 2), **values),
            "test",  # type: ignore[arg-type]
        )
        outbox.queue(
            s, settings, kind="enquiry", to=[REFERRER], subject=f"[{case.tag}] Enquiry",
            body="Please tell us more.", case_id=case.id,
        )  # fmt: skip
        s.commit()
        return case.id


def _referral_mail(forename: str, surname: str, dob: str, sender: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.INBOX
    msg["Subject"] = "CME referral"
    msg["Message-ID"] = f"<wild-{forename}-{surname}@elsewhere.example>"
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    msg.set_content(
        f"Forename: {forename}\nSurname: {surname}\nDOB: {dob}\nReason: not at school\n"
    )
    return msg.as_bytes(policy=SMTP)


def _dispatch(store: RawStore, engine: Engine, settings: Settings, data: bytes) -> dict:
    stored = store.store(data, Arrival(IntakeChannel.FILE))
    with Session(engine, expire_on_commit=False) as s:
        result = dispatch_safely(s, settings, stored.raw_id)
        s.commit()
    return result.as_dict()


def test_wildcard_names_do_not_join_a_case_with_the_guessed_dob(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    case_id = _open_case(engine, intake_settings)
    attacker = "attacker@elsewhere.example"
    result = _dispatch(
        store, engine, intake_settings, _referral_mail("_%", "_%", DOB.isoformat(), attacker)
    )
    assert result["case_id"] != case_id
    with Session(engine) as s:
        on_case = s.execute(select(Referral).where(Referral.case_id == case_id)).scalars().all()
        assert [r.referrer_email for r in on_case] == [REFERRER]
        # No letter naming the child's case reference goes to the attacker.
        to_attacker = s.execute(
            select(OutboxMessage).where(OutboxMessage.case_id == case_id)
        ).scalars()
        assert all(attacker not in (m.to_addrs or []) for m in to_attacker)


def test_same_name_and_dob_in_another_case_still_joins_the_childs_case(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    case_id = _open_case(engine, intake_settings)
    result = _dispatch(
        store, engine, intake_settings,
        _referral_mail("AVA", " testperson ", DOB.isoformat(), "office@school-806.example"),
    )  # fmt: skip
    assert (result["outcome"], result["case_id"]) == ("case", case_id)


def test_sender_pattern_is_not_a_sender_on_the_case(
    store: RawStore, engine: Engine, intake_settings: Settings
) -> None:
    case_id = _open_case(engine, intake_settings)
    for sender in ("%@%", "_ttendance@school-807.example", "%"):
        result = _dispatch(store, engine, intake_settings, mail.tagged(case_id, sender=sender))
        assert result["outcome"] != "reply", sender
    with Session(engine) as s:
        kinds = s.execute(
            select(TimelineEntry.kind).where(TimelineEntry.case_id == case_id)
        ).scalars()
        assert "email_reply" not in list(kinds)
    # The real referrer, in another case of letters, still threads onto the case.
    known = _dispatch(store, engine, intake_settings, mail.tagged(case_id, sender=REFERRER.upper()))
    assert (known["outcome"], known["case_id"]) == ("reply", case_id)


def test_partner_document_wildcards_find_nobody(engine: Engine, intake_settings: Settings) -> None:
    _open_case(engine, intake_settings)
    with Session(engine) as s:
        wild = Pupil(surname="%", forename="%", dob=DOB)
        assert candidates(s, wild) == []
        same = Pupil(surname="testperson", forename="Ava", dob=DOB)
        assert [c["source"] for c in candidates(s, same)] == ["case"]


def test_lost_pupil_claim_wildcards_match_no_case(
    engine: Engine, intake_settings: Settings
) -> None:
    _open_case(engine, intake_settings, forename="Ava Rose")
    with Session(engine) as s:
        total = s.execute(select(func.count()).select_from(Case)).scalar_one()
        assert total == 1

        def claim(forename: str, surname: str) -> PupilClaimed:
            return PupilClaimed(
                pupil_id=1, upn=None, former_upns=(), surname=surname, forename=forename,
                dob=DOB, sex=None, postcode=None, source_laestab="8073001",
                school_laestab="8063001", on_roll_from=date(2026, 11, 20), claimed_by="test",
            )  # fmt: skip

        assert matching_open_cases(s, claim("_%", "%")) == ([], [])
        assert matching_open_cases(s, claim("%", "Testperson")) == ([], [])
        _, possible = matching_open_cases(s, claim("ava", "TESTPERSON"))
        assert len(possible) == 1
