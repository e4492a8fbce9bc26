"""What waits for an officer in the exchange, in words: other authorities' enquiries to
answer, and their answers to our enquiries to approve, read from the documents they sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cases.describe import long_date
from gateway.cases.queries import NotFound
from gateway.exchange.errors import ExchangeError
from gateway.exchange.labels import DOC_TYPES, PROPOSAL_KINDS, REPLY_STATUSES, SEXES, label
from gateway.exchange.partners import get_partner
from gateway.exchange.records import ProposalKind, ProposalStatus
from gateway.exchange.working import DisclosedField, candidates
from gateway.models.case import Case
from gateway.models.exchange import ExchangeMessage, ExchangePartner, Proposal
from gateway.models.matching import RegisterEntry
from gateway.settings import Settings
from parsers.errors import ParseError
from parsers.exchange import Document, Pupil, ReplyStatus, parse_document

#: Where each kind of record found for an enquiry comes from, in words.
SOURCES = {
    "case": "Our case",
    "lost_pupil": "Lost-pupil record",
    "roll": "School roll",
    "ehe": "EHE register",
}
ANSWER_KINDS = (ProposalKind.CASE_UPDATE.value, ProposalKind.FREE_TEXT.value)


@dataclass(frozen=True)
class WaitingCounts:
    enquiries: int  # other authorities' enquiries and status requests to answer
    answers: int  # their answers to our enquiries, to approve

    @property
    def total(self) -> int:
        return self.enquiries + self.answers


@dataclass(frozen=True)
class WaitingLine:
    """One row of the list of what waits: who, about which child, what it says."""

    id: int
    kind: str
    partner_la: str
    partner_name: str
    child: str
    received_at: datetime
    summary: str
    case_id: int | None

    @property
    def kind_label(self) -> str:
        return label(PROPOSAL_KINDS, self.kind)


@dataclass(frozen=True)
class Found:
    """One of our records that may be the child a partner asks about."""

    source: str
    #: The record's id for its page (a case or a lost-pupil record); rolls have no page.
    ref_id: int | None
    title: str
    facts: tuple[str, ...]
    case_status: str | None = None

    @property
    def source_label(self) -> str:
        return label(SOURCES, self.source)


@dataclass(frozen=True)
class AnswerPage:
    """Everything the answer page shows about one proposal."""

    id: int
    kind: str
    status: str
    partner_la: str
    partner_name: str
    received_at: datetime
    written_at: datetime | None
    doc_type: str
    their_ref: str | None
    #: The child's details as the partner sent them (an enquiry or status request).
    asked: tuple[DisclosedField, ...] = ()
    note: str | None = None
    found: tuple[Found, ...] = ()
    #: The answer proposed for the officer to confirm or change (an enquiry).
    proposed: dict[str, Any] = field(default_factory=dict)
    #: The partner's answer in words (an answer to our enquiry).
    said: tuple[DisclosedField, ...] = ()
    said_status: str | None = None
    text: str | None = None
    case_id: int | None = None
    child: str | None = None
    #: What approving does, in words.
    consequence: str = ""
    #: Why it cannot be approved as it stands, if it cannot.
    problem: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    rejected_because: str | None = None
    sent: dict[str, Any] | None = None

    @property
    def kind_label(self) -> str:
        return label(PROPOSAL_KINDS, self.kind)

    @property
    def doc_type_label(self) -> str:
        return label(DOC_TYPES, self.doc_type)

    @property
    def is_enquiry(self) -> bool:
        return self.kind == ProposalKind.REPLY.value

    @property
    def pending(self) -> bool:
        return self.status == ProposalStatus.PENDING.value

    @property
    def case_tag(self) -> str | None:
        return f"CME-{self.case_id}" if self.case_id is not None else None

    @property
    def about(self) -> str:
        """Who it is about: the child as they named them, or our case's child."""
        if self.is_enquiry:
            names = {f.label: f.value for f in self.asked}
            return (
                f"{names.get('First name', '')} {names.get('Last name', '')}".strip() or "a child"
            )
        return self.child or "a child not linked to our cases"


def partner_names(session: Session) -> dict[str, str]:
    """LA code -> name, for every partner ever added (an answer may outlive a partner)."""
    return dict(session.execute(select(ExchangePartner.la_code, ExchangePartner.name)).all())


def count_waiting(session: Session) -> WaitingCounts:
    rows = dict(
        session.execute(
            select(Proposal.kind, func.count(Proposal.id))
            .where(Proposal.status == ProposalStatus.PENDING.value)
            .group_by(Proposal.kind)
        ).all()
    )
    return WaitingCounts(
        enquiries=int(rows.get(ProposalKind.REPLY.value, 0)),
        answers=sum(int(rows.get(k, 0)) for k in ANSWER_KINDS),
    )


def _document(row: ExchangeMessage) -> Document | None:
    """The partner's document as they sent it; None for a free-text answer."""
    if row.doc_type == "free-text":
        return None
    try:
        return parse_document(row.document)
    except ParseError:  # pragma: no cover - it was validated when it arrived
        return None


def _case_child(session: Session, case_id: int | None) -> str | None:
    if case_id is None:
        return None
    case = session.get(Case, case_id)
    return None if case is None else f"{case.child.forenames} {case.child.surname}"


def _pending_rows(session: Session) -> list[tuple[Proposal, ExchangeMessage]]:
    return [
        (p, m)
        for p, m in session.execute(
            select(Proposal, ExchangeMessage)
            .join(ExchangeMessage, ExchangeMessage.id == Proposal.message_id)
            .where(Proposal.status == ProposalStatus.PENDING.value)
            .order_by(Proposal.id)
        ).all()
    ]


def waiting(session: Session) -> list[WaitingLine]:
    """Every pending proposal, oldest first (enquiries and answers, the page splits them)."""
    names = partner_names(session)
    out = []
    for p, m in _pending_rows(session):
        doc = _document(m)
        la = str(p.detail.get("from_la") or m.partner_la)
        if p.kind == ProposalKind.REPLY.value:
            pupil = doc.pupil if doc is not None else None
            child = f"{pupil.forename} {pupil.surname}" if pupil else "Not known"
            doc_type = str(p.detail.get("doc_type") or m.doc_type)
            suggested = label(REPLY_STATUSES, p.detail.get("proposed", {}).get("status"))
            summary = f"{label(DOC_TYPES, doc_type)}; suggested answer: {suggested}"
        else:
            child = _case_child(session, p.case_id) or "Not linked to one of our cases"
            if p.kind == ProposalKind.FREE_TEXT.value:
                summary = "They answered in their own words"
            else:
                summary = f"They say: {label(REPLY_STATUSES, p.detail.get('status'))}"
        out.append(
            WaitingLine(
                p.id,
                p.kind,
                la,
                names.get(la, f"LA {la}"),
                child,
                m.delivered_at or m.created_at,
                summary,
                p.case_id,
            )
        )
    return out


def _pupil_fields(pupil: Pupil) -> tuple[DisclosedField, ...]:
    address = pupil.address
    rows = [
        ("First name", pupil.forename),
        ("Last name", pupil.surname),
        ("Middle names", pupil.middle_names),
        ("Former last name", pupil.former_surname),
        ("Date of birth", long_date(pupil.dob) if pupil.dob else None),
        ("Sex", SEXES.get(pupil.sex or "", pupil.sex) if pupil.sex else None),
        ("UPN", pupil.upn),
        (
            "Address",
            ", ".join([*address.lines, address.postcode or ""]).strip(", ") if address else None,
        ),
    ]
    return tuple(DisclosedField(k, v) for k, v in rows if v)


def _evidence(c: dict[str, Any]) -> list[str]:
    facts = []
    if c.get("upn_match"):
        facts.append("Same UPN")
    if c.get("dob_match"):
        facts.append("Same date of birth")
    return facts


def _found(session: Session, found: list[dict[str, Any]]) -> tuple[Found, ...]:
    from lost_pupil.models import LostPupil

    out: list[Found] = []
    for c in found:
        source = str(c["source"])
        if source == "case":
            case = session.get(Case, c["case_id"])
            if case is None:
                continue
            child = case.child
            born = f", born {long_date(child.dob)}" if child.dob else ""
            facts = _evidence(c)
            if c.get("address"):
                a = c["address"]
                facts.append(
                    "Address: " + ", ".join([*a.get("lines", []), a.get("postcode") or ""])
                )
            out.append(
                Found(
                    source,
                    case.id,
                    f"{case.tag}: {child.forenames} {child.surname}{born}",
                    tuple(facts),
                    case.status,
                )
            )
        elif source == "lost_pupil":
            lp = session.get(LostPupil, c["lost_pupil_id"])
            if lp is None:
                continue
            born = f", born {long_date(lp.dob)}" if lp.dob else ""
            facts = [f"Left school {lp.source_laestab}"]
            if lp.claimed_school:
                facts.append(
                    f"Claimed: on roll at school {lp.claimed_school} from "
                    f"{long_date(lp.claimed_from)}"
                )
            out.append(
                Found(
                    source,
                    lp.id,
                    f"Record {lp.id}: {lp.forename or ''} {lp.surname or ''}{born}".strip(),
                    tuple(facts),
                )
            )
        else:
            entry = session.get(RegisterEntry, c["register_entry_id"])
            if entry is None:
                continue
            born = f", born {long_date(entry.dob)}" if entry.dob else ""
            facts = _evidence(c)
            where = f"school {entry.school_laestab}" if entry.school_laestab else "the register"
            span = f" from {long_date(entry.from_date)}" if entry.from_date else ""
            span += f" until {long_date(entry.to_date)}" if entry.to_date else ""
            facts.append(("On roll at " if source == "roll" else "Registered on ") + where + span)
            out.append(Found(source, None, f"{entry.forename} {entry.surname}{born}", tuple(facts)))
    return tuple(out)


def _said(detail: dict[str, Any]) -> tuple[DisclosedField, ...]:
    school = detail.get("laestab")
    if school and detail.get("school_name"):
        school = f"{school} ({detail['school_name']})"
    rows = [
        ("Their answer", label(REPLY_STATUSES, detail.get("status"))),
        ("School", school),
        ("Start date", long_date(detail.get("start_date")) if detail.get("start_date") else None),
        ("Moved to", f"LA {detail['moved_to_la']}" if detail.get("moved_to_la") else None),
        ("Where to", detail.get("destination")),
    ]
    return tuple(DisclosedField(k, str(v)) for k, v in rows if v)


def _update_consequence(
    session: Session, settings: Settings, p: Proposal, tag: str
) -> tuple[str, str | None]:
    """(What approving a partner's answer does, why it cannot be approved or None)."""
    d = p.detail
    la = str(d.get("from_la"))
    status = d.get("status")
    if p.kind == ProposalKind.FREE_TEXT.value:
        return f"Their answer is recorded on case {tag} as read; nothing else changes.", None
    if status == ReplyStatus.ON_ROLL.value:
        if not (d.get("laestab") and d.get("start_date")):
            return (
                "",
                "Their answer lacks the school or the start date, so it cannot close the case.",
            )
        return (
            f"Case {tag} closes: on roll at school {d['laestab']} in LA {la} from "
            f"{long_date(d['start_date'])}. Any monitoring of the child ends.",
            None,
        )
    if status in {
        ReplyStatus.KNOWN_AT_ADDRESS.value,
        ReplyStatus.APPLICATION_IN_PROGRESS.value,
        ReplyStatus.MOVED_ON.value,
    }:
        target = str(d.get("moved_to_la") or la)
        if target == settings.core.la_code:
            return f"The answer is recorded on case {tag}.", None
        try:
            partner = get_partner(session, target)
        except ExchangeError:
            return "", (
                f"They say the child is now in LA {target}, which is not in the partner "
                "directory: add that authority before approving, or reject this answer."
            )
        return (
            f"Case {tag} goes on the monitoring list with {partner.name} (LA {target}): a "
            f"status request goes every {settings.exchange.monitoring_interval_days} days "
            "until a school place is confirmed.",
            None,
        )
    return f"The answer is recorded on case {tag}; nothing else changes.", None


def answer_page(session: Session, settings: Settings, proposal_id: int) -> AnswerPage:
    """One proposal, in words; NotFound when there is none."""
    p = session.get(Proposal, proposal_id)
    if p is None:
        raise NotFound(f"there is no exchange proposal {proposal_id}")
    m = session.get(ExchangeMessage, p.message_id)
    assert m is not None
    doc = _document(m)
    la = str(p.detail.get("from_la") or m.partner_la)
    base: dict[str, Any] = {
        "id": p.id,
        "kind": p.kind,
        "status": p.status,
        "partner_la": la,
        "partner_name": partner_names(session).get(la, f"LA {la}"),
        "received_at": m.delivered_at or m.created_at,
        "written_at": doc.header.created_at if doc is not None else None,
        "doc_type": str(p.detail.get("doc_type") or m.doc_type),
        "their_ref": p.detail.get("their_ref") or (doc.case_ref if doc else None),
        "note": doc.note if doc is not None else None,
        "decided_by": p.decided_by,
        "decided_at": p.decided_at,
        "rejected_because": p.detail.get("rejected_because"),
        "sent": p.detail.get("sent"),
    }
    if p.kind == ProposalKind.REPLY.value:
        pupil = doc.pupil if doc is not None else None
        return AnswerPage(
            **base,
            asked=_pupil_fields(pupil) if pupil else (),
            found=_found(session, candidates(session, pupil)) if pupil else (),
            proposed=dict(p.detail.get("proposed") or {}),
            consequence=(
                f"Your answer goes to {base['partner_name']} (LA {la}), signed and encrypted, "
                "and is recorded in the disclosure register."
            ),
        )
    consequence: str
    problem: str | None
    if p.case_id is None:
        consequence, problem = (
            "",
            (
                "This answer is not linked to one of our cases: it does not answer an enquiry "
                "we sent. Record what it says on the case by hand, then reject it here with "
                "the reason."
            ),
        )
    else:
        consequence, problem = _update_consequence(session, settings, p, f"CME-{p.case_id}")
    return AnswerPage(
        **base,
        said=_said(p.detail) if p.kind == ProposalKind.CASE_UPDATE.value else (),
        said_status=p.detail.get("status"),
        text=p.detail.get("text"),
        case_id=p.case_id,
        child=_case_child(session, p.case_id),
        consequence=consequence,
        problem=problem,
    )


def parse_start(value: str | None) -> date | None:
    """A proposed start date (ISO) for the form's boxes."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
