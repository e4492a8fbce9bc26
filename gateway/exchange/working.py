"""Working a case over the exchange: enquiries out, candidates and proposals in, decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.describe import long_date
from gateway.cases.queries import get_case
from gateway.cases.workflow import CLOSED
from gateway.db import utcnow
from gateway.exchange import monitoring
from gateway.exchange.documents import delivery_route, disclosed_items, new_header, pupil_from_case
from gateway.exchange.errors import ExchangeError
from gateway.exchange.labels import DISCLOSED, REPLY_STATUSES, SEXES, label
from gateway.exchange.outbound import queue_document
from gateway.exchange.partners import Partner
from gateway.exchange.records import (
    LAWFUL_BASIS,
    Channel,
    OutStatus,
    ProposalKind,
    ProposalStatus,
)
from gateway.models.case import Case, TimelineEntry
from gateway.models.child import Child
from gateway.models.exchange import ExchangeMessage, Proposal
from gateway.models.matching import Register, RegisterEntry
from gateway.settings import Settings
from gateway.sqltext import same_first_word, same_text
from parsers.exchange import Address, DocType, Document, Outcome, Pupil, ReplyStatus
from parsers.identifiers import normalise_upn


def send_enquiry(
    session: Session,
    settings: Settings,
    case_id: int,
    to_la: str,
    actor: str,
    note: str | None = None,
    channel: Channel | None = None,
) -> ExchangeMessage:
    """Build an enquiry from the case and queue it for the partner LA."""
    case = get_case(session, case_id)
    doc = enquiry_document(settings, case, to_la, note)
    row = queue_document(session, settings, doc, actor=actor, case_id=case.id, channel=channel)
    _timeline(session, case.id, "exchange", f"Enquiry sent to LA {to_la}", actor, doc)
    return row


def enquiry_document(settings: Settings, case: Case, to_la: str, note: str | None) -> Document:
    """The enquiry the case makes: what send_enquiry seals, and what the preview shows."""
    return Document(
        DocType.ENQUIRY,
        new_header(settings, to_la),
        case_ref=case.tag,
        lawful_basis=LAWFUL_BASIS,
        pupil=pupil_from_case(case),
        note=note,
    )


@dataclass(frozen=True)
class DisclosedField:
    """One item of child data a document carries, in words, with the value that goes."""

    label: str
    value: str


@dataclass(frozen=True)
class EnquiryPreview:
    """Check before you send: exactly what an enquiry would disclose, to whom, how, why."""

    case_id: int
    case_tag: str
    partner: Partner
    channel: Channel
    #: The partner's HTTPS endpoint or their CME lead's mailbox.
    address: str
    fields: tuple[DisclosedField, ...]
    #: The basis the document states, and the register's basis in words.
    lawful_basis: str
    register_basis: str
    note: str | None


def _field_value(doc: Document, item: str) -> str:
    p = doc.pupil
    if item == "note":
        return doc.note or ""
    if p is None:  # pragma: no cover - an enquiry always carries the pupil
        return ""
    if item == "dob":
        return long_date(p.dob)
    if item == "sex":
        return SEXES.get(p.sex or "", p.sex or "")
    if item == "address" and p.address is not None:
        return ", ".join([*p.address.lines, p.address.postcode or ""]).strip(", ")
    return str(getattr(p, item, "") or "")


def preview_enquiry(
    session: Session,
    settings: Settings,
    case_id: int,
    to_la: str,
    note: str | None,
    *,
    now: datetime | None = None,
) -> EnquiryPreview:
    """What `send_enquiry` would disclose, from the document it would build; nothing is
    queued or recorded. Refuses a closed case and a partner whose certificate expired."""
    from gateway.disclosures import BASES, LawfulBasis
    from gateway.exchange.directory import partner_line

    case = get_case(session, case_id)
    if case.status == CLOSED:
        raise ExchangeError(f"case {case.tag} is closed: reopen it before asking another authority")
    line = partner_line(session, to_la, now or utcnow(), settings.exchange.cert_expiry_warning_days)
    if not line.can_receive:
        raise ExchangeError(
            f"the certificate of {line.partner.name} (LA {to_la}) expired on "
            f"{long_date(line.partner.not_after.date())}: ask them for their new one first"
        )
    doc = enquiry_document(settings, case, to_la, note)
    channel, address = delivery_route(line.partner)
    fields = tuple(
        DisclosedField(label(DISCLOSED, item), _field_value(doc, item))
        for item in disclosed_items(doc)
    )
    return EnquiryPreview(
        case.id, case.tag, line.partner, channel, address, fields,
        LAWFUL_BASIS, BASES[LawfulBasis.PUBLIC_TASK], note,
    )  # fmt: skip


def _timeline(
    session: Session, case_id: int, kind: str, summary: str, actor: str, doc: Document
) -> None:
    session.add(
        TimelineEntry(
            case_id=case_id,
            kind=kind,
            summary=summary,
            actor=actor,
            ref=f"exchange:{doc.header.message_id}",
        )
    )


def candidates(session: Session, pupil: Pupil) -> list[dict[str, Any]]:
    """Our records that may be this child: cases (open first), then the lost-pupil index."""
    conditions = []
    if pupil.upn:
        conditions.append(Child.upn == pupil.upn)
    if pupil.dob:
        conditions.append(same_text(Child.surname, pupil.surname) & (Child.dob == pupil.dob))
    conditions.append(
        same_text(Child.surname, pupil.surname) & same_first_word(Child.forenames, pupil.forename)
    )
    found: list[dict[str, Any]] = []
    rows = session.execute(
        select(Case, Child).join(Child, Case.child_id == Child.id).where(or_(*conditions))
    ).all()
    for case, child in rows:
        address = child.current_address
        found.append(
            {
                "source": "case",
                "case_id": case.id,
                "status": case.status,
                "upn_match": bool(pupil.upn and child.upn == pupil.upn),
                "dob_match": bool(pupil.dob and child.dob == pupil.dob),
                "address": None
                if address is None
                else {
                    "lines": [x for x in (address.line1, address.line2, address.town) if x],
                    "postcode": address.postcode,
                },
            }
        )
    found += _register_candidates(session, pupil)
    try:
        from lost_pupil.models import KeyKind, LostPupil, PupilKey
        from lost_pupil.search import listed_as_lost

        lp_conditions: list[ColumnElement[bool]] = []
        if pupil.upn:
            # By the keys table (the current and every former UPN, on its primary key), not
            # by lp_pupils.upn, which has no index: a store of a million pupils is not read
            # through for each enquiry.
            by_upn = select(PupilKey.pupil_id).where(
                PupilKey.kind == KeyKind.UPN.value, PupilKey.key == normalise_upn(pupil.upn)
            )
            lp_conditions.append(LostPupil.id.in_(by_upn))
        if pupil.dob:
            lp_conditions.append(
                same_text(LostPupil.surname, pupil.surname) & (LostPupil.dob == pupil.dob)
            )
        if lp_conditions:
            lp_stmt = select(LostPupil).where(or_(*lp_conditions), listed_as_lost())
            for lp in session.execute(lp_stmt).scalars():
                found.append(
                    {
                        "source": "lost_pupil",
                        "lost_pupil_id": lp.id,
                        "status": lp.status,
                        "claimed_school": lp.claimed_school,
                        "claimed_from": lp.claimed_from.isoformat() if lp.claimed_from else None,
                    }
                )
    except ImportError:  # the lost-pupil store is optional in a minimal install
        pass
    return found


def _register_candidates(session: Session, pupil: Pupil) -> list[dict[str, Any]]:
    """Our imported school rolls and EHE register: the child on roll here, or home educated."""
    conditions = []
    if pupil.upn:
        conditions.append(RegisterEntry.upn == pupil.upn)
    if pupil.dob:
        conditions.append(
            same_text(RegisterEntry.surname, pupil.surname) & (RegisterEntry.dob == pupil.dob)
        )
    if not conditions:
        return []
    rows = session.execute(
        select(RegisterEntry).where(or_(*conditions)).order_by(RegisterEntry.id)
    ).scalars()
    return [
        {
            "source": e.register,
            "register_entry_id": e.id,
            "school": e.school_laestab,
            "from_date": e.from_date.isoformat() if e.from_date else None,
            "to_date": e.to_date.isoformat() if e.to_date else None,
            "upn_match": bool(pupil.upn and e.upn == pupil.upn),
            "dob_match": bool(pupil.dob and e.dob == pupil.dob),
        }
        for e in rows
    ]


def _propose_answer(found: list[dict[str, Any]]) -> dict[str, Any]:
    """A first answer for the officer: they confirm or change it before anything is sent."""
    for c in found:
        if c["source"] == "lost_pupil" and c.get("claimed_school") and c.get("claimed_from"):
            return {
                "status": ReplyStatus.ON_ROLL.value,
                "laestab": c["claimed_school"],
                "start_date": c["claimed_from"],
            }
    for c in found:
        current = c.get("from_date") and not c.get("to_date")
        if c["source"] == Register.ROLL.value and current and c.get("school"):
            return {
                "status": ReplyStatus.ON_ROLL.value,
                "laestab": c["school"],
                "start_date": c["from_date"],
            }
        if c["source"] == Register.EHE.value and not c.get("to_date"):
            return {"status": ReplyStatus.EHE_NOTIFIED.value}
    for c in found:
        if c["source"] == "case" and c.get("address"):
            return {"status": ReplyStatus.KNOWN_AT_ADDRESS.value, "address": c["address"]}
    return {"status": ReplyStatus.NOT_KNOWN.value}


def on_document(
    session: Session, settings: Settings, row: ExchangeMessage, doc: Document, partner: Partner
) -> None:
    """Turn an accepted inbound document into something for our officer to decide."""
    if doc.doc_type in {DocType.ENQUIRY, DocType.STATUS_REQUEST, DocType.CASE_TRANSFER}:
        assert doc.pupil is not None
        found = candidates(session, doc.pupil)
        session.add(
            Proposal(
                kind=ProposalKind.REPLY.value,
                message_id=row.id,
                status=ProposalStatus.PENDING.value,
                detail={
                    "from_la": partner.la_code,
                    "their_ref": doc.case_ref,
                    "doc_type": doc.doc_type.value,
                    "candidates": found,
                    "proposed": _propose_answer(found),
                },
            )
        )
    elif doc.doc_type is DocType.REPLY:
        assert doc.outcome is not None
        ours = _our_message(session, partner.la_code, doc.header.in_reply_to)
        row.case_id = ours.case_id if ours else None
        _answered(ours)
        o = doc.outcome
        session.add(
            Proposal(
                kind=ProposalKind.CASE_UPDATE.value,
                message_id=row.id,
                case_id=row.case_id,
                status=ProposalStatus.PENDING.value,
                detail={
                    "from_la": partner.la_code,
                    "status": o.status.value,
                    "laestab": o.laestab,
                    "school_name": o.school_name,
                    "start_date": o.start_date.isoformat() if o.start_date else None,
                    "moved_to_la": o.moved_to_la,
                    "destination": o.destination,
                    "note": doc.note,
                },
            )
        )
        if row.case_id is not None:
            _timeline(
                session,
                row.case_id,
                "exchange",
                f"Answer from LA {partner.la_code}: {label(REPLY_STATUSES, o.status.value)} "
                "(awaiting your approval under Exchange)",
                f"exchange:{partner.la_code}",
                doc,
            )
            monitoring.note_reply(session, settings, row.case_id, partner.la_code, o)
    audit.record(
        session,
        actor=f"exchange:{partner.la_code}",
        action="exchange.receive",
        entity="exchange_message",
        entity_id=row.message_id,
        detail={"doc_type": doc.doc_type.value, "case_id": row.case_id},
    )


def _our_message(
    session: Session, partner_la: str, message_id: str | None
) -> ExchangeMessage | None:
    if message_id is None:
        return None
    return session.execute(
        select(ExchangeMessage).where(
            ExchangeMessage.direction == "out",
            ExchangeMessage.partner_la == partner_la,
            ExchangeMessage.message_id == message_id,
        )
    ).scalar_one_or_none()


def _answered(ours: ExchangeMessage | None) -> None:
    """A signed reply from the partner to our message shows it arrived: stop sending it.
    A partner with only a mail client never sends a receipt, so its answer is the proof."""
    if ours is not None and ours.status in (OutStatus.QUEUED, OutStatus.AWAITING_RECEIPT):
        ours.status = OutStatus.DELIVERED.value
        ours.delivered_at = utcnow()
        ours.next_attempt_at = None
        ours.last_error = None


def on_free_text(
    session: Session, row: ExchangeMessage, text: str, partner: Partner, thread_id: str | None
) -> None:
    """A partner's reply typed in a mail client: filed against our enquiry's case."""
    ours = _our_message(session, partner.la_code, thread_id)
    row.case_id = ours.case_id if ours else None
    _answered(ours)
    session.add(
        Proposal(
            kind=ProposalKind.FREE_TEXT.value,
            message_id=row.id,
            case_id=row.case_id,
            status=ProposalStatus.PENDING.value,
            detail={"from_la": partner.la_code, "text": text[:20000], "in_reply_to": thread_id},
        )
    )
    if row.case_id is not None:
        session.add(
            TimelineEntry(
                case_id=row.case_id,
                kind="exchange",
                summary=f"Free-text reply from LA {partner.la_code} (read it and decide)",
                actor=f"exchange:{partner.la_code}",
                ref=f"exchange:{row.message_id}",
            )
        )


def pending(session: Session) -> list[Proposal]:
    return list(
        session.execute(
            select(Proposal)
            .where(Proposal.status == ProposalStatus.PENDING.value)
            .order_by(Proposal.id)
        ).scalars()
    )


def _get_pending(session: Session, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise ExchangeError(f"no exchange proposal {proposal_id}; see `cme exchange pending`")
    if proposal.status != ProposalStatus.PENDING.value:
        raise ExchangeError(f"proposal {proposal_id} was already {proposal.status}")
    return proposal


def approve(
    session: Session,
    settings: Settings,
    proposal_id: int,
    actor: str,
    *,
    override: dict[str, Any] | None = None,
) -> Proposal:
    """The officer agrees: send the reply, or apply the partner's answer to our case."""
    proposal = _get_pending(session, proposal_id)
    inbound = session.get(ExchangeMessage, proposal.message_id)
    assert inbound is not None
    if proposal.kind == ProposalKind.REPLY.value:
        answer = {**proposal.detail["proposed"], **(override or {})}
        _send_reply(session, settings, inbound, proposal, answer, actor)
        proposal.detail = {**proposal.detail, "sent": answer}
    elif proposal.kind in {ProposalKind.CASE_UPDATE.value, ProposalKind.FREE_TEXT.value}:
        if proposal.case_id is None:
            raise ExchangeError(
                f"proposal {proposal_id} is not linked to a case; record it on the case by hand"
            )
        monitoring.apply_confirmed(session, settings, proposal, actor, override or {})
    proposal.status = ProposalStatus.APPROVED.value
    proposal.decided_by = actor
    proposal.decided_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="exchange.approve",
        entity="exchange_proposal",
        entity_id=proposal.id,
        detail={"kind": proposal.kind, "case_id": proposal.case_id},
    )
    return proposal


def reject(session: Session, proposal_id: int, actor: str, reason: str) -> Proposal:
    proposal = _get_pending(session, proposal_id)
    proposal.status = ProposalStatus.REJECTED.value
    proposal.decided_by = actor
    proposal.decided_at = utcnow()
    proposal.detail = {**proposal.detail, "rejected_because": reason}
    audit.record(
        session,
        actor=actor,
        action="exchange.reject",
        entity="exchange_proposal",
        entity_id=proposal.id,
        detail={"kind": proposal.kind, "reason": reason},
    )
    return proposal


def _send_reply(
    session: Session,
    settings: Settings,
    inbound: ExchangeMessage,
    proposal: Proposal,
    answer: dict[str, Any],
    actor: str,
) -> ExchangeMessage:
    try:
        status = ReplyStatus(answer["status"])
    except (KeyError, ValueError):
        raise ExchangeError(
            f"reply status must be one of: {', '.join(s.value for s in ReplyStatus)}"
        ) from None
    start = answer.get("start_date")
    address = answer.get("address")
    if status is ReplyStatus.ON_ROLL and not (answer.get("laestab") and start):
        raise ExchangeError("an on-roll reply needs the school's LAESTAB and the start date")
    outcome = Outcome(
        status,
        laestab=answer.get("laestab") if status is ReplyStatus.ON_ROLL else None,
        school_name=answer.get("school_name") if status is ReplyStatus.ON_ROLL else None,
        start_date=date.fromisoformat(start) if start and status is ReplyStatus.ON_ROLL else None,
        address=Address(tuple(address.get("lines", ())), address.get("postcode"))
        if address and status is ReplyStatus.KNOWN_AT_ADDRESS
        else None,
        moved_to_la=answer.get("moved_to_la") if status is ReplyStatus.MOVED_ON else None,
        destination=answer.get("destination") if status is ReplyStatus.MOVED_ON else None,
    )
    doc = Document(
        DocType.REPLY,
        new_header(settings, inbound.partner_la, in_reply_to=inbound.message_id),
        case_ref=str(proposal.detail.get("their_ref") or "unknown"),
        lawful_basis=LAWFUL_BASIS,
        outcome=outcome,
        note=answer.get("note"),
    )
    return queue_document(session, settings, doc, actor=actor)
