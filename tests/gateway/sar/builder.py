"""A case with one of everything a subject access archive holds, built through the real
services: two referrals (the second from a referrer who asked not to be named, by email),
a reply from that referrer, letters emailed and printed, an enquiry, an exchange enquiry
to LA 806, an onward referral, a new fact, a match decision, and views in the audit log.
Every name is invented, and distinctive, so a search for it means something."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP

from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.cases import onward, service
from gateway.cases.page import open_case_page
from gateway.exchange import working
from gateway.exchange.keys import CERT_FILE, init_keys
from gateway.exchange.partners import add_partner
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.matching.decisions import OfficerVerdict
from gateway.matching.service import record_decision
from gateway.models.intake import IntakeChannel
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.settings import Settings
from gateway.triage import service as triage
from tests.gateway.exchange.conftest import make_identity

INBOX = "cme@redcar-cleveland.example"
CHILD = ("Peregrina", "Thistlewood")
#: The referrer who asked not to be named: none of this may be in the archive.
ANONYMOUS_NAME = "Zanzibarina Quillfeather"
ANONYMOUS_EMAIL = "zanzi.quill@example.net"
ANONYMOUS_PHONE = "07700 900123"
#: Everything that would identify the anonymous referrer, as a search would look for it.
ANONYMOUS_TRACES = (
    "Zanzibarina", "Quillfeather", "zanzi.quill", "7700 900123", "7700900123", "900123",
)  # fmt: skip
NAMED_REFERRER = "Ambrosine Fairweather-Lusk"
CARER = "Ophelia Thistlewood"
SIBLING = "Yolanda Thistlewood"
CONTACT = "Nurse Petronella Vantongeren"


@dataclass(frozen=True)
class RichCase:
    case_id: int
    named_referral: int
    anonymous_referral: int
    raw_referral: int
    raw_reply: int


@functools.cache
def _partner_cert() -> bytes:
    return make_identity("806").certificate.public_bytes(serialization.Encoding.PEM)


def _email(sender: str, subject: str, body: str, message_id: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = INBOX
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def _store(settings: Settings, engine: Engine, data: bytes, mail_from: str) -> int:
    store = RawStore(settings.home, engine)
    try:
        return store.store(
            data, Arrival(IntakeChannel.SMTP, mail_from=mail_from, peer="192.0.2.44")
        ).raw_id
    finally:
        store.close()


def set_up_exchange(session: Session, settings: Settings) -> None:
    """Our exchange keys (as `cme keys init` makes them) and LA 806 as a partner."""
    if not (settings.keys_dir / CERT_FILE).exists():
        init_keys(settings.keys_dir, la_code="807", la_name="Test LA 807", email=INBOX)
    add_partner(
        session, settings, la_code="806", name="Test LA 806", email="cme@la806.example",
        cert_bytes=_partner_cert(),
    )  # fmt: skip


def build(settings: Settings, engine: Engine, *, officer: str, manager: str) -> RichCase:
    today = date(2026, 11, 27)
    forename, surname = CHILD
    child = {
        "forename": forename, "surname": surname, "dob": "2015-04-03", "sex": "F",
        "upn": "R807300024001", "address_line1": "4 Invented Terrace", "town": "Redcar",
        "postcode": "TS10 1AA",
    }  # fmt: skip
    with Session(engine, expire_on_commit=False) as s:
        set_up_exchange(s, settings)
        first = triage.receive(
            s, settings,
            {
                **child, "channel": "phone", "received": "2026-11-02",
                "reason": "Moved, no forwarding address",
                "referrer_name": NAMED_REFERRER, "referrer_role": "Head teacher",
                "referrer_organisation": "Synthetic Primary School",
                "referrer_phone": "01642 111222",
                "carers": [{"name": CARER, "relationship": "mother", "phone": "01642 555000"}],
                "siblings": [{"name": SIBLING, "school": "Synthetic Primary School"}],
                "gaps": ["date last seen is missing"],
            },
            actor=officer, today=today, keyed_by_officer=True,
        )  # fmt: skip
        s.commit()
        assert first.case_id is not None, first
        case_id = first.case_id

    raw_referral = _store(
        settings, engine,
        _email(
            f"{ANONYMOUS_NAME} <{ANONYMOUS_EMAIL}>",
            "Worried about a girl on our street",
            f"Hello,\n\nPeregrina Thistlewood (born 3 April 2015) has not been at school "
            f"since half term. The family moved to 9 Made-up Close, TS10 2BB.\n\n"
            f"Please keep me anonymous.\n\nZanzibarina Quillfeather\n{ANONYMOUS_PHONE}\n",
            "<worried-1@example.net>",
        ),
        ANONYMOUS_EMAIL,
    )  # fmt: skip
    with Session(engine, expire_on_commit=False) as s:
        second = triage.receive(
            s, settings,
            {
                **child, "address_line1": "9 Made-up Close", "postcode": "TS10 2BB",
                "channel": "email", "received": "2026-11-05",
                "reason": "Not at school since half term",
                "referrer_name": ANONYMOUS_NAME, "referrer_email": ANONYMOUS_EMAIL,
                "referrer_phone": ANONYMOUS_PHONE, "referrer_role": "Neighbour",
                "anonymous": True, "gaps": ["year group is missing"],
            },
            actor="intake", raw_id=raw_referral, today=today,
        )  # fmt: skip
        if second.case_id is None:
            triage.attach(s, settings, second.referral_id, case_id, officer)
        s.commit()
        anonymous_referral = second.referral_id
        named_referral = first.referral_id
        letter = s.execute(
            select(OutboxMessage).where(
                OutboxMessage.case_id == case_id, OutboxMessage.to_addrs.is_not(None)
            )
        ).scalars()
        to_anonymous = next(m for m in letter if ANONYMOUS_EMAIL in (m.to_addrs or []))
        letter_id = to_anonymous.message_id

    raw_reply = _store(
        settings, engine,
        _email(
            f"{ANONYMOUS_NAME} <{ANONYMOUS_EMAIL}>",
            "Re: Referral: further information needed",
            "She is in Year 6, I think.\n\nRegards,\nZanzibarina\n(call me on +44 7700 900123)\n",
            "<worried-2@example.net>", In_Reply_To=letter_id, References=letter_id,
        ),
        ANONYMOUS_EMAIL,
    )  # fmt: skip
    with Session(engine, expire_on_commit=False) as s:
        dispatch_safely(s, settings, raw_reply)
        service.record_enquiry(
            s, case_id, agency="health", method="phone",
            at=datetime(2026, 11, 6, 10, 0, tzinfo=UTC), outcome="Not registered with a GP",
            contact=CONTACT, actor=officer,
        )  # fmt: skip
        working.send_enquiry(s, settings, case_id, "806", officer, note="Moved to your area?")
        onward.refer(s, settings, case_id, "admissions", "Needs a school place", officer)
        referral = s.get(Referral, anonymous_referral)
        assert referral is not None and referral.case_id == case_id
        record_decision(
            s, query_ref=f"referral:{anonymous_referral}", target_ref=f"case:{case_id}",
            verdict=OfficerVerdict.CONFIRMED, actor=officer,
        )  # fmt: skip
        s.commit()
    for who in (officer, officer, manager):
        with Session(engine, expire_on_commit=False) as s:
            open_case_page(s, settings, engine, case_id, who)
            s.commit()
    return RichCase(case_id, named_referral, anonymous_referral, raw_referral, raw_reply)
