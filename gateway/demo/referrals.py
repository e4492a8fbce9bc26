"""Referrals waiting in the demo's triage queue, each with what the matcher found for it:

- a phone call keyed in by the officer under a short name (a duplicate of an open case);
- a school's deletion return about a child already on another school's roll;
- a sparse referral from another LA, with gaps to chase;
- and, through the real intake (raw store, then dispatch), an email from a member of the
  public written in prose, and a safeguarding referral from a social worker about a child
  a school has sent a lost-pupil file for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy import Engine

from gateway.db import session_scope
from gateway.demo.casework import REFERRERS, Desk, at
from gateway.demo.people import Child
from gateway.intake.dispatch import dispatch_safely
from gateway.intake.rawstore import Arrival, RawStore
from gateway.models.intake import IntakeChannel
from gateway.settings import Settings
from gateway.triage import service as triage


@dataclass(frozen=True)
class Mail:
    sender: str
    subject: str
    body: str


def keyed_referrals(
    desk: Desk, *, rekeyed: Child, on_roll: Child, sparse: Child, received: date
) -> list[int]:
    """Referrals the officer keys in or a school returns; their ids (all wait in triage)."""
    ids: list[int] = []
    short = {"Alexander": "Alex"}.get(rekeyed.forename, rekeyed.forename[:3])
    call = desk.referral_values(
        rekeyed, received, referrer=REFERRERS[2], forename=short, upn=None, school=None,
        reason="Aunt phoned: the boy is staying with her and has no school place.",
    )  # fmt: skip
    ids.append(_receive(desk, call, keyed=True))
    deletion = desk.referral_values(
        on_roll, received, referrer=REFERRERS[4],
        reason="Deletion return, reg. 9(1)(a): registered at another school; name not given.",
    )  # fmt: skip
    ids.append(_receive(desk, deletion, keyed=False))
    other_la: dict[str, object] = {
        "forename": sparse.forename,
        "surname": sparse.surname,
        "sex": sparse.sex,
        "channel": "other_la",
        "received": received.isoformat(),
        "referrer_name": "CME Lead",
        "referrer_organisation": "Middlesbrough Council",
        "referrer_email": "cme.lead@middlesbrough-806.example",
        "reason": "Believed to have moved to Redcar; we hold no address.",
        "gaps": ["date of birth is missing", "address is missing"],
    }
    ids.append(_receive(desk, other_la, keyed=False))
    return ids


def _receive(desk: Desk, values: dict[str, object], *, keyed: bool) -> int:
    routed = triage.receive(
        desk.session, desk.settings, values, actor=desk.officer if keyed else "intake",
        today=desk.today, keyed_by_officer=keyed,
    )  # fmt: skip
    return routed.referral_id


def prose_from_the_public(child: Child, *, load: int, today: date) -> Mail:
    pronoun = "she" if child.sex == "F" else "he"
    noun = "girl" if child.sex == "F" else "boy"
    age = (today - child.dob).days // 365
    mum = child.carers[0].name.split()[0] if child.carers else "Kerry"
    return Mail(
        sender=f"jo.neighbour{load or ''}@mailbox.example",
        subject=f"{noun} not going to school",
        body=(
            "Hello,\n\n"
            f"I'm worried about a {noun} called {child.forename} who lives at "
            f"{child.address_line1}, {child.town} {child.postcode}. {pronoun.capitalize()}'s "
            f"about {age} and I never see {'her' if child.sex == 'F' else 'him'} go to school, "
            f"{pronoun}'s out on a scooter every day in school time. "
            f"{'Her' if child.sex == 'F' else 'His'} mum is called {mum}.\n\n"
            "Thanks\nJo\n"
        ),
    )


def safeguarding_email(child: Child) -> Mail:
    return Mail(
        sender="nadia.holroyd@childrens-services-807.example",
        subject="URGENT CME referral",
        body=(
            f"Name: {child.forename} {child.surname}\n"
            f"DOB: {child.dob.strftime('%d/%m/%Y')}\n"
            f"Address: {child.address_line1}, {child.town}, {child.postcode}\n"
            f"School: {child.school.name}\n"
            "Reason: Mother's new partner is known to police; the children have not been seen "
            "at school or at home since last week.\n"
            "Safeguarding concern: Yes\n\n"
            "Regards\nNadia Holroyd\nSocial Worker, Children's Services\n07700 900618\n"
        ),
    )


def _message(settings: Settings, mail: Mail, n: int, load: int, day: date) -> bytes:
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = settings.core.inbox_addresses[0]
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(at(day, 8))
    msg["Message-ID"] = f"<cme-demo-{load}-{n}@mailbox.example>"
    msg.set_content(mail.body)
    return msg.as_bytes(policy=SMTP)


def by_email(
    engine: Engine, settings: Settings, mails: list[Mail], *, load: int, day: date
) -> list[int]:
    """Each mail as the SMTP listener takes it (fsync'd whole in the raw store, then
    dispatched by the intake's own job), so the parser reads it; the raw ids."""
    store = RawStore(settings.home, engine)
    try:
        stored = [
            store.store(
                _message(settings, mail, n, load, day),
                Arrival(
                    IntakeChannel.SMTP,
                    mail_from=mail.sender,
                    rcpt_tos=(settings.core.inbox_addresses[0],),
                    peer="127.0.0.1",
                ),
            )
            for n, mail in enumerate(mails, start=1)
        ]
    finally:
        store.close()
    ids = [s.raw_id for s in stored]
    for raw_id in ids:
        with session_scope(engine) as session:
            dispatch_safely(session, settings, raw_id)
    return ids
