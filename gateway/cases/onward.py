"""Onward referrals: the child referred to another team (Attendance & Welfare, School
Admissions, Children's Social Care / MASH, the police, the VEMT panel, the EHE team, Choice
Advice). Sent to the team's configured address through the outbox, or printed as a letter
when none is configured; either way one recorded disclosure: recipient, lawful basis,
channel and the fields that left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import disclosures, outbox
from gateway.cases.inputs import InputError
from gateway.cases.queries import get_case
from gateway.exchange.records import LAWFUL_BASIS
from gateway.models.case import Case, TimelineEntry
from gateway.models.casework import OnwardReferral
from gateway.settings import Settings

TEAMS = {
    "attendance_welfare": "Attendance & Welfare Service",
    "admissions": "School Admissions",
    "social_care": "Children's Social Care / MASH",
    "police": "the police",
    "vemt": "the VEMT panel",
    "ehe_team": "the Elective Home Education team",
    "choice_advice": "Choice Advice",
}

#: What an onward referral discloses about the child (and nothing of the referrer's).
FIELDS = ("name", "dob", "sex", "upn", "address", "carers", "school", "reason", "case_ref")


@dataclass(frozen=True)
class Disclosed:
    """What the officer sees before sending: to whom, how, on what basis, which fields."""

    team: str
    team_name: str
    channel: str
    recipient: str
    lawful_basis: str
    fields: tuple[str, ...]
    body: str


def _when(d: date | None) -> str:
    return d.strftime("%-d %B %Y") if d else "not known"


def _body(case: Case, team: str, reason: str, la_name: str) -> str:
    child = case.child
    addr = child.current_address
    address = (
        ", ".join(x for x in (addr.line1, addr.line2, addr.town, addr.postcode) if x)
        if addr
        else ""
    )
    carers = "; ".join(
        f"{c.name} ({c.relationship_to_child or 'carer'}){', ' + c.phone if c.phone else ''}"
        for c in child.carers
    )
    school = case.last_school or next((r.school for r in case.referrals if r.school), None)
    lines = [
        f"Referral to {TEAMS[team]} from the Children Missing Education officer, {la_name}.",
        "",
        f"Our reference: {case.tag}",
        f"Child: {child.forenames} {child.surname}",
        f"Date of birth: {_when(child.dob)}",
        f"Sex: {child.sex or 'not known'}",
        f"UPN: {child.upn or 'not known'}",
        f"Last known address: {address or 'not known'}",
        f"Parents or carers: {carers or 'not known'}",
        f"Last school: {school or 'not known'}",
        "",
        "Why we are referring:",
        reason.strip(),
        "",
        f"Shared under {LAWFUL_BASIS}. Please reply quoting {case.tag}.",
    ]
    return "\n".join(lines) + "\n"


def preview(
    session: Session, settings: Settings, case_id: int, team: str, reason: str
) -> Disclosed:
    """Exactly what an onward referral would disclose, to whom and how (nothing is sent)."""
    if team not in TEAMS:
        raise InputError(f"choose a team: {', '.join(TEAMS)}")
    if not reason.strip():
        raise InputError("say why the child is being referred")
    case = get_case(session, case_id)
    address = str(getattr(settings.teams, team) or "").strip()
    return Disclosed(
        team=team,
        team_name=TEAMS[team],
        channel="email" if address else "print",
        recipient=address or f"{TEAMS[team]} (printed letter)",
        lawful_basis=LAWFUL_BASIS,
        fields=FIELDS,
        body=_body(case, team, reason, settings.core.la_name),
    )


def refer(
    session: Session, settings: Settings, case_id: int, team: str, reason: str, actor: str
) -> OnwardReferral:
    """Send (or print) the onward referral, record the disclosure, note it on the case."""
    shown = preview(session, settings, case_id, team, reason)
    case = get_case(session, case_id)
    sent = None
    if shown.channel == "email":
        sent = outbox.queue(
            session,
            settings,
            kind=f"onward_{team}",
            to=[shown.recipient],
            # The case reference only: never a child's name in a subject.
            subject=f"[{case.tag}] Referral from Children Missing Education",
            body=shown.body,
            case_id=case.id,
        )
    row = OnwardReferral(
        case_id=case.id,
        team=team,
        channel=shown.channel,
        recipient=shown.recipient,
        lawful_basis=shown.lawful_basis,
        fields=list(shown.fields),
        reason=reason.strip(),
        body=shown.body,
        outbox_id=sent.id if sent is not None else None,
        sent_by=actor,
    )
    session.add(row)
    session.flush()
    how = "sent" if shown.channel == "email" else "printed to send"
    session.add(
        TimelineEntry(
            case_id=case.id, kind="onward_referral", actor=actor, ref=f"onward:{row.id}",
            summary=f"Referred to {TEAMS[team]} ({how})",
        )
    )  # fmt: skip
    disclosures.record(
        session, kind="onward_referral", case_id=case.id, recipient=shown.recipient,
        basis=disclosures.LawfulBasis.PUBLIC_TASK, channel=shown.channel,
        fields=list(shown.fields), actor=actor,
    )  # fmt: skip
    return row


def onward_referrals(session: Session, case_id: int) -> list[OnwardReferral]:
    return list(
        session.execute(
            select(OnwardReferral)
            .where(OnwardReferral.case_id == case_id)
            .order_by(OnwardReferral.id)
        ).scalars()
    )


def get_onward(session: Session, case_id: int, onward_id: int) -> OnwardReferral:
    row = session.get(OnwardReferral, onward_id)
    if row is None or row.case_id != case_id:
        raise InputError(f"there is no onward referral {onward_id} on case {case_id}")
    return row


def as_dict(row: OnwardReferral) -> dict[str, Any]:
    return {
        "id": row.id, "team": row.team, "channel": row.channel, "recipient": row.recipient,
        "sent_at": row.sent_at.isoformat(), "sent_by": row.sent_by,
    }  # fmt: skip
