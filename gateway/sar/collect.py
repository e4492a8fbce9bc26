"""Everything held about one child, gathered for the subject access archive.

The case and any duplicate merged into it; the child, their addresses, carers and
siblings; tasks, steps, new facts; the timeline; each referral with its stored details
and the parser's draft; the raw messages (read from the raw store, shown as text, Word
forms as text, other attachments listed); letters (the outbox's messages and printed
letters); the enquiry log; exchange documents, proposed answers and monitoring; onward
referrals; the disclosure register's rows; match decisions and the records they linked;
and every audit entry about the record. Values that are someone else's personal data are
wrapped for review (gateway.sar.marks); the anonymous referrers' own fields are withheld.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from gateway import audit_trail
from gateway.cases import labels, queries
from gateway.cases.onward import TEAMS
from gateway.cases.workflow import load_workflow
from gateway.db import utcnow
from gateway.disclosures import list_disclosures
from gateway.intake.message import read_message
from gateway.intake.rawstore import RawStore, RawStoreError
from gateway.models.case import Case, CaseFact, TimelineEntry
from gateway.models.casework import CaseStep, OnwardReferral, PrintedLetter
from gateway.models.child import Child
from gateway.models.exchange import ExchangeMessage, ExchangePartner, Monitoring, Proposal
from gateway.models.intake import RawMessage
from gateway.models.matching import MatchDecision, RegisterEntry
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.models.users import User
from gateway.sar.marks import Category, Redacted, Text, flag
from gateway.sar.redact import Person
from gateway.settings import Settings
from lost_pupil.models import LostPupil
from parsers.docx import read_docx
from parsers.errors import ParseError
from parsers.html import html_to_text
from parsers.mime import MAX_MESSAGE_BYTES

#: The sections of the archive, in order: key -> (title, what it holds).
SECTIONS: dict[str, tuple[str, str]] = {
    "case": ("The case", "The case record: status, dates, outcome, escalations."),
    "child": ("The child", "The child's details, addresses, parents and carers, siblings."),
    "merged_cases": (
        "Duplicate cases merged into this one",
        "Cases opened for the same child and merged into this case; their child records.",
    ),
    "tasks": ("Tasks", "What was due to be done on the case, and when it was done."),
    "steps": ("Work on the case", "Status checks, home visits, assessments, admissions."),
    "facts": ("New details", "Details later referrals or records gave, accepted or not."),
    "timeline": ("Timeline", "What happened on the case, in order."),
    "referrals": (
        "Referrals",
        "Each referral about the child: who referred, what they said, the stored details "
        "and the draft the system read from it.",
    ),
    "raw_messages": (
        "Messages received",
        "Every email or form received about the child, as text; attachments are listed.",
    ),
    "letters": ("Letters and emails sent", "Emails sent from the outbox, and printed letters."),
    "enquiries": ("Enquiries", "Contacts with agencies and people recorded on the case."),
    "exchange": (
        "Secure exchange with other authorities",
        "Enquiries, replies and status requests exchanged with other local authorities, "
        "proposed answers and monitoring.",
    ),
    "onward_referrals": ("Onward referrals", "Referrals of the child to other teams."),
    "disclosures": (
        "Disclosures",
        "Every time the child's data left the system: what, to whom, on what lawful basis.",
    ),
    "match_decisions": (
        "Record matching",
        "Officers' decisions on whether other records are about this child, and the records "
        "confirmed as this child's.",
    ),
    "audit": (
        "Audit log",
        "Every view and change of the child's record: who, when, what.",
    ),
}

#: Actors that are the system itself, not a person (never marked as staff).
_SYSTEM_PREFIXES = ("system:", "intake", "test:", "partner:")


@dataclass
class Collected:
    """The archive's content before redaction, and who appears in it."""

    case_id: int
    tag: str
    sections: dict[str, Any]
    anonymous: list[Person] = field(default_factory=list)
    third_parties: list[Person] = field(default_factory=list)
    #: Names of the child and family: parts of these are never redacted on their own.
    protected_names: list[str] = field(default_factory=list)
    anonymous_referrals: list[int] = field(default_factory=list)
    #: Attachments listed but not in the archive: (raw message id, file name).
    attachments_left_out: list[tuple[int, str]] = field(default_factory=list)
    #: Raw messages that could not be read into the archive, with the reason.
    unreadable: list[tuple[int, str]] = field(default_factory=list)


class _Staff:
    """Marks people by their username; remembers who appeared, for the review marks."""

    def __init__(self, session: Session) -> None:
        self.users = {
            u.username: u.display_name
            for u in session.execute(select(User.username, User.display_name))
        }
        self.seen: set[str] = set()

    def __call__(self, actor: str | None) -> Any:
        if not actor or actor.startswith(_SYSTEM_PREFIXES):
            return actor
        if actor in self.users or actor.startswith("cli:"):
            self.seen.add(actor)
            return flag(actor, Category.STAFF)
        return actor

    def people(self) -> list[Person]:
        return [
            Person(
                Category.STAFF,
                names=[self.users[a]] if a in self.users and " " in self.users[a] else [],
                usernames=[a.removeprefix("cli:")],
            )
            for a in sorted(self.seen)
        ]


def _cases(session: Session, case_id: int) -> list[Case]:
    """The case and every duplicate merged into it (and into those)."""
    found = [queries.case_detail(session, case_id)]
    ids = {case_id}
    frontier = {case_id}
    while frontier:
        merged = [
            c
            for c in session.execute(select(Case).where(Case.merged_into_id.in_(frontier)))
            .scalars()
            .all()
            if c.id not in ids
        ]
        found += merged
        frontier = {c.id for c in merged}
        ids |= frontier
    return found


def _child(child: Child) -> dict[str, Any]:
    return {
        "forenames": child.forenames,
        "surname": child.surname,
        "middle_names": child.middle_names,
        "other_names": child.other_names,
        "date_of_birth": child.dob,
        "sex": labels.SEX.get(child.sex or "", child.sex),
        "upn": child.upn,
        "former_upns": child.former_upns,
        "year_group": labels.YEAR_GROUPS.get(child.year_group or "", child.year_group),
        "languages": child.languages,
        "interpreter_needed": child.interpreter_needed,
        "recorded_at": child.created_at,
        "addresses": [
            {
                "address": ", ".join(x for x in (a.line1, a.line2, a.town) if x) or None,
                "postcode": a.postcode,
                "from": a.from_date,
                "to": a.to_date,
                "current": a.to_date is None,
                "source": a.source,
            }
            for a in child.addresses
        ],
        "parents_and_carers": [
            flag(
                {
                    "name": c.name,
                    "relationship": c.relationship_to_child,
                    "phone": c.phone,
                    "email": c.email,
                    "address": c.address,
                    "parental_responsibility": c.parental_responsibility,
                },
                Category.CARER,
            )
            for c in child.carers
        ],
        "siblings": [
            flag({"name": s.name, "date_of_birth": s.dob, "school": s.school}, Category.OTHER_CHILD)
            for s in child.siblings
        ],
    }


def _case(case: Case, statuses: dict[str, str], staff: _Staff) -> dict[str, Any]:
    return {
        "reference": case.tag,
        "status": statuses.get(case.status, case.status),
        "opened_on": case.opened_on,
        "allocated_to": staff(case.allocated_to),
        "urgency": {0: "Routine", 1: "Urgent", 2: "Safeguarding concern"}.get(
            case.urgency_rank, str(case.urgency_rank)
        ),
        "last_school": case.last_school,
        "on_roll": case.on_roll,
        "escalations": {
            k: {**v, "by": staff(v.get("by"))} if isinstance(v, dict) else v
            for k, v in (case.escalations or {}).items()
        },
        "enquiries_complete_at": case.enquiries_complete_at,
        "outcome": labels.label(labels.SYSTEM_OUTCOMES, case.outcome) if case.outcome else None,
        "outcome_detail": case.outcome_detail,
        "closed_at": case.closed_at,
        "closed_by": staff(case.closed_by),
        "signed_off_by": staff(case.signed_off_by),
        "merged_into": f"CME-{case.merged_into_id}" if case.merged_into_id else None,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }


def _kept(settings: Settings, case: Case) -> dict[str, Any]:
    """How long the record is kept (UK GDPR Art 15(1)(d)), by the retention rules."""
    from gateway.retention.policy import RULES, case_due

    flags = {k for r in case.referrals for k, v in (r.flags or {}).items() if v}
    dob = case.child.dob
    held = bool(getattr(case, "legal_hold", False))
    out: dict[str, Any] = {
        "legal_hold": held,
        "legal_hold_reason": getattr(case, "hold_reason", None) if held else None,
    }
    if case.closed_at is None:
        due = case_due(settings.retention, dob=dob, closed_on=utcnow().date(), flags=flags)
        out["rule"] = (
            "The case is open: it is kept while it is open. Once closed, it is kept until "
            f"at least {due.on.isoformat()} ({RULES[due.rule]})."
        )
        return out
    due = case_due(settings.retention, dob=dob, closed_on=case.closed_at.date(), flags=flags)
    out["kept_until"] = due.on
    out["rule"] = RULES[due.rule] + (" (and for as long as the legal hold lasts)" if held else "")
    return out


def _referrer(r: Referral) -> dict[str, Any]:
    fields = {
        "name": r.referrer_name,
        "role": r.referrer_role,
        "organisation": r.referrer_organisation,
        "email": r.referrer_email,
        "phone": r.referrer_phone,
    }
    if r.anonymous:
        # Withheld by default: the referrer asked not to be named.
        return {k: Redacted() if v else None for k, v in fields.items()}
    return {k: flag(v, Category.REFERRER) for k, v in fields.items()}


def _family(value: Any) -> Any:
    """A referral's (or draft's) carers and siblings, marked; referrer fields marked."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key == "carers" and isinstance(v, list):
            out[key] = [flag(c, Category.CARER) for c in v]
        elif key == "siblings" and isinstance(v, list):
            out[key] = [flag(s, Category.OTHER_CHILD) for s in v]
        elif key.startswith("referrer_"):
            out[key] = flag(v, Category.REFERRER)
        elif isinstance(v, dict):
            out[key] = _family(v)
        else:
            out[key] = v
    return out


def _referral(r: Referral, staff: _Staff) -> dict[str, Any]:
    return {
        "id": r.id,
        "received_on": r.received_on,
        "received_by": labels.channel_label(r.channel),
        "referrer_asked_not_to_be_named": r.anonymous,
        "referrer": _referrer(r),
        "urgency": labels.label(labels.URGENCIES, r.urgency),
        "reason": Text(r.reason) if r.reason else None,
        "circumstances": [labels.label(labels.REFERRAL_FLAGS, k) for k, v in r.flags.items() if v],
        "school_last_attended": r.school,
        "date_last_attended": r.date_last_attended,
        "date_last_seen": r.date_last_seen,
        "actions_already_taken": r.actions_taken,
        "still_to_find_out": r.gaps,
        "triage": {
            "status": labels.label(labels.TRIAGE_STATES, r.triage_status),
            "reason": labels.label(labels.DISMISS_REASONS, r.triage_reason)
            if r.triage_reason
            else None,
            "note": Text(r.triage_note) if r.triage_note else None,
            "by": staff(r.triaged_by),
            "at": r.triaged_at,
        },
        "stored_details": _family(r.details),
        "draft": _family(r.draft) if r.draft else None,
        "message": r.raw_ref,
        "recorded_at": r.created_at,
        "recorded_by": staff(r.created_by),
    }


def _docx_text(data: bytes) -> str | None:
    try:
        return read_docx(data).text
    except ParseError:
        return None


#: The headers a person reads; transport headers (Received, DKIM) are left out.
_SHOWN_HEADERS = ("from", "to", "cc", "reply-to", "subject", "date", "message-id")
_PEOPLE_HEADERS = ("from", "to", "cc", "reply-to")


def _organisational(session: Session, settings: Settings) -> frozenset[str]:
    """Addresses that are the council's own, its teams' or partner authorities' mailboxes:
    no one's personal data, so never marked."""
    found = {*settings.core.inbox_addresses, settings.core.officer_email}
    found.add(settings.outbox.from_address)
    found |= {str(v) for v in dataclasses.asdict(settings.teams).values() if v}
    found |= set(session.execute(select(ExchangePartner.email)).scalars())
    return frozenset(a.strip().lower() for a in found if a and a.strip())


def _address(value: str, ours: frozenset[str]) -> Any:
    """An address (or address list) marked as a correspondent's, unless all are ours."""
    addresses = [a.strip().lower() for _n, a in getaddresses([value]) if a.strip()]
    if addresses and all(a in ours for a in addresses):
        return value
    return flag(value, Category.CORRESPONDENT)


def _headers(headers: Iterable[tuple[str, str]], ours: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in headers:
        key = name.lower()
        if key not in _SHOWN_HEADERS:
            continue
        shown = _address(str(value), ours) if key in _PEOPLE_HEADERS else str(value)
        out[name.title()] = shown if name.title() not in out else [out[name.title()], shown]
    return out


def _raw_message(
    store: RawStore,
    row: RawMessage,
    anonymous_raw: bool,
    collected: Collected,
    ours: frozenset[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "received_at": row.received_at,
        "channel": row.channel,
        "sender": _address(row.envelope_from, ours) if row.envelope_from else None,
        "recipients": row.envelope_to,
        # The sending server's address: it could point at the sender.
        "network_address": Redacted()
        if anonymous_raw and row.peer
        else flag(row.peer, Category.CORRESPONDENT),
        "message_id": row.message_id,
        "outcome": row.outcome,
    }
    if row.size > MAX_MESSAGE_BYTES:
        reason = "too large to read into the archive"
        collected.unreadable.append((row.id, reason))
        out["problem"] = f"The message is {reason}: an officer must review it by hand."
        return out
    try:
        data = store.read(row)
    except RawStoreError:
        reason = "its stored bytes could not be read"
        collected.unreadable.append((row.id, reason))
        out["problem"] = f"The message could not be read ({reason}): the raw store needs checking."
        return out
    facts = read_message(data)
    parsed = facts.parsed
    if parsed is None:
        collected.unreadable.append((row.id, "unreadable"))
        out["problem"] = "The message cannot be read as an email: an officer must review it."
        return out
    out["headers"] = _headers(parsed.headers, ours)
    text = facts.text
    if not text.strip() and facts.html.strip():
        try:
            text = html_to_text(facts.html)
        except ParseError:
            text = ""
    out["text"] = Text(text)
    attachments = []
    for att in parsed.attachments:
        item: dict[str, Any] = {
            "file_name": att.filename,
            "content_type": att.content_type,
            "size": att.size,
        }
        name = (att.filename or "").lower()
        word = name.endswith(".docx") or att.content_type.endswith("wordprocessingml.document")
        form = _docx_text(att.data) if word else None
        if form is not None:
            item["text"] = Text(form)
            item["in_archive"] = "as text"
        else:
            item["in_archive"] = "listed only: an officer must review the file by hand"
            collected.attachments_left_out.append((row.id, att.filename or "(no name)"))
        attachments.append(item)
    out["attachments"] = attachments
    out["forwarded"] = [
        {
            "from": _address(f.from_address, ours) if f.from_address else f.from_name,
            "subject": f.subject,
            "date": f.date,
            "text": Text(f.text),
        }
        for f in parsed.forwarded
    ]
    return out


def _email(row: OutboxMessage, ours: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "to": [_address(str(a), ours) for a in row.to_addrs or ()],
        "subject": row.subject,
        "status": row.status,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    out["headers"] = _headers(msg.items(), ours)
    if "pkcs7" in msg.get_content_type() or msg.get_content_type() == "multipart/signed":
        out["body"] = (
            "A sealed (signed and encrypted) exchange message: what it carried is under "
            "Secure exchange with other authorities."
        )
        return out
    body = msg.get_body(("plain",))
    out["body"] = Text(body.get_content() if isinstance(body, EmailMessage) else "")
    return out


def _timeline(e: TimelineEntry, staff: _Staff) -> dict[str, Any]:
    detail = dict(e.detail or {})
    if "from" in detail:
        detail["from"] = flag(detail["from"], Category.CORRESPONDENT)
    return {
        "at": e.at,
        "what": Text(e.summary),
        "kind": e.kind,
        "by": staff(e.actor),
        "ref": e.ref,
        "detail": detail or None,
        "read_by": staff(e.read_by),
        "read_at": e.read_at,
    }


def _by_case(session: Session, model: Any, ids: list[int], order: Any) -> list[Any]:
    return list(
        session.execute(select(model).where(model.case_id.in_(ids)).order_by(order)).scalars()
    )


def collect(session: Session, settings: Settings, engine: Engine, case_id: int) -> Collected:
    """Gather the archive's content for a case; raises NotFound for no such case."""
    cases = _cases(session, case_id)
    main = cases[0]
    ids = [c.id for c in cases]
    staff = _Staff(session)
    workflow = load_workflow(settings.workflow.file)
    collected = Collected(case_id, main.tag, {})
    s = collected.sections

    s["case"] = _case(main, workflow.statuses, staff)
    if main.outcome in workflow.outcomes:
        s["case"]["outcome"] = workflow.outcomes[main.outcome].label
    s["case"]["how_long_it_is_kept"] = _kept(settings, main)
    s["child"] = _child(main.child)
    s["merged_cases"] = [
        {**_case(c, workflow.statuses, staff), "child": _child(c.child)} for c in cases[1:]
    ]
    tasks = [t for c in cases for t in c.tasks]
    s["tasks"] = [
        {
            "task": labels.label(labels.TASKS, t.kind),
            "due": t.due,
            "status": labels.label(labels.TASK_STATES, t.status),
            "detail": t.detail,
            "created_at": t.created_at,
            "done_at": t.done_at,
        }
        for t in sorted(tasks, key=lambda t: t.id)
    ]
    s["steps"] = [
        {
            "kind": step.kind.replace("_", " ").capitalize(),
            "on": step.on,
            "outcome": step.outcome,
            "detail": step.detail,
            "note": Text(step.note) if step.note else None,
            "recorded_by": staff(step.recorded_by),
            "recorded_at": step.recorded_at,
        }
        for step in _by_case(session, CaseStep, ids, CaseStep.id)
    ]
    s["facts"] = [
        {
            "detail": labels.label(labels.FIELDS, f.field),
            "value": f.value,
            "the_case_had": f.current,
            "from": f.source_ref,
            "state": f.state,
            "recorded_at": f.created_at,
            "decided_by": staff(f.decided_by),
            "decided_at": f.decided_at,
        }
        for f in _by_case(session, CaseFact, ids, CaseFact.id)
    ]
    s["timeline"] = [
        _timeline(e, staff) for e in _by_case(session, TimelineEntry, ids, TimelineEntry.id)
    ]

    referrals = _by_case(session, Referral, ids, Referral.id)
    s["referrals"] = [_referral(r, staff) for r in referrals]
    _people_of(collected, cases, referrals)

    # Raw messages: those filed on the case and those the referrals came from.
    raw_ids = {r.raw_id for r in referrals if r.raw_id}
    raws = list(
        session.execute(
            select(RawMessage)
            .where(or_(RawMessage.case_id.in_(ids), RawMessage.id.in_(raw_ids)))
            .order_by(RawMessage.id)
        ).scalars()
    )
    anonymous_raw = {r.raw_id for r in referrals if r.anonymous and r.raw_id}
    anonymous_senders = {
        (r.referrer_email or "").strip().lower() for r in referrals if r.anonymous
    } - {""}
    ours = _organisational(session, settings)
    store = RawStore(settings.home, engine)
    s["raw_messages"] = [
        _raw_message(
            store,
            row,
            row.id in anonymous_raw
            or (row.envelope_from or "").strip().lower() in anonymous_senders,
            collected,
            ours,
        )
        for row in raws
    ]

    s["letters"] = {
        "emails": [
            _email(m, ours) for m in _by_case(session, OutboxMessage, ids, OutboxMessage.id)
        ],
        "printed": [
            {
                "id": p.id,
                "kind": p.kind,
                "subject": p.subject,
                "body": Text(p.body),
                "referral": p.referral_id,
                "created_at": p.created_at,
                "done_at": p.done_at,
                "done_by": staff(p.done_by),
            }
            for p in _by_case(session, PrintedLetter, ids, PrintedLetter.id)
        ],
    }
    s["enquiries"] = [
        {
            "at": q.at,
            "agency": labels.label(labels.AGENCIES, q.agency),
            "contact": flag(q.contact, Category.CONTACT),
            "how": labels.METHODS.get(q.method, q.method),
            "outcome": Text(q.outcome) if q.outcome else None,
            "recorded_by": staff(q.recorded_by),
        }
        for c in cases
        for q in queries.enquiry_log(session, c.id)
    ]
    s["exchange"] = {
        "messages": [
            {
                "id": m.id,
                "direction": "sent" if m.direction == "out" else "received",
                "other_authority": m.partner_la,
                "type": m.doc_type,
                "message_id": m.message_id,
                "in_reply_to": m.in_reply_to,
                "channel": m.channel,
                "status": m.status,
                "created_at": m.created_at,
                "delivered_at": m.delivered_at,
                "document": Text(m.document.decode("utf-8", "replace")),
            }
            for m in _by_case(session, ExchangeMessage, ids, ExchangeMessage.id)
        ],
        "proposed_answers": [
            {
                "kind": p.kind,
                "status": p.status,
                "detail": p.detail,
                "created_at": p.created_at,
                "decided_by": staff(p.decided_by),
                "decided_at": p.decided_at,
            }
            for p in _by_case(session, Proposal, ids, Proposal.id)
        ],
        "monitoring": [
            {
                "other_authority": w.partner_la,
                "status": w.status,
                "started_at": w.started_at,
                "last_confirmation_at": w.last_confirmation_at,
                "closed_at": w.closed_at,
                "closed_reason": w.closed_reason,
            }
            for w in _by_case(session, Monitoring, ids, Monitoring.id)
        ],
    }
    s["onward_referrals"] = [
        {
            "to": TEAMS.get(o.team, o.team),
            "channel": o.channel,
            "recipient": o.recipient,
            "lawful_basis": o.lawful_basis,
            "fields": o.fields,
            "reason": Text(o.reason),
            "what_was_sent": Text(o.body),
            "sent_by": staff(o.sent_by),
            "sent_at": o.sent_at,
        }
        for o in _by_case(session, OnwardReferral, ids, OnwardReferral.id)
    ]
    s["disclosures"] = [
        {
            **d.as_dict(),
            # A letter's recipient is the referrer; the others are teams and authorities.
            "recipient": flag(d.recipient, Category.REFERRER)
            if d.kind == "letter"
            else d.recipient,
            "approved_by": staff(d.approved_by),
        }
        for c in ids
        for d in list_disclosures(session, case_id=c, limit=1_000_000)[0]
    ]
    s["match_decisions"] = _matches(session, ids, [r.id for r in referrals], staff)
    s["audit"] = [
        {
            "at": e.at,
            "who": staff(e.actor),
            "what": e.label,
            "action": e.action,
            "record": e.about,
            "detail": e.detail or None,
        }
        for e in audit_trail.iter_case_history(session, case_id)
    ]
    collected.third_parties += staff.people()
    return collected


def _matches(
    session: Session, case_ids: list[int], referral_ids: list[int], staff: _Staff
) -> dict[str, Any]:
    refs = [f"case:{c}" for c in case_ids] + [f"referral:{r}" for r in referral_ids]
    rows = session.execute(
        select(MatchDecision)
        .where(
            or_(
                MatchDecision.query_ref.in_(refs),
                (MatchDecision.target_kind == "case")
                & MatchDecision.target_ref.in_([str(c) for c in case_ids]),
            )
        )
        .order_by(MatchDecision.id)
    ).scalars()
    decisions, linked = [], []
    for d in rows:
        rejected = d.verdict != "confirmed"
        evidence = [
            {
                **e,
                # A record found not to be this child is another child's.
                "record_value": flag(e.get("record_value"), Category.OTHER_CHILD)
                if rejected
                else e.get("record_value"),
            }
            if isinstance(e, dict)
            else e
            for e in d.evidence
        ]
        decisions.append(
            {
                "record_asked_about": d.query_ref,
                "record_compared": f"{d.target_kind}:{d.target_ref}",
                "verdict": d.verdict,
                "score": d.score,
                "evidence": evidence,
                "decided_by": staff(d.decided_by),
                "decided_at": d.decided_at,
            }
        )
        if not rejected and d.target_ref.isdigit():
            found = _linked(session, d.target_kind, int(d.target_ref))
            if found is not None:
                linked.append(found)
    return {"decisions": decisions, "records_confirmed_as_this_child": linked}


def _linked(session: Session, kind: str, ident: int) -> dict[str, Any] | None:
    if kind == "lost_pupil":
        p = session.get(LostPupil, ident)
        if p is None:
            return None
        return {
            "record": f"Lost-pupil file record {p.id}", "upn": p.upn, "forename": p.forename,
            "surname": p.surname, "middle_names": p.middle_names, "date_of_birth": p.dob,
            "sex": p.sex, "postcode": p.postcode, "school_left": p.source_laestab,
            "leaving_date": p.leaving_date, "status": p.status,
            "note": "A summary of the school's file; the whole file is held in the "
            "lost-pupil store (an officer can download it to review).",
        }  # fmt: skip
    if kind in ("roll", "ehe"):
        e = session.get(RegisterEntry, ident)
        if e is None:
            return None
        return {
            "record": f"{'School roll' if kind == 'roll' else 'EHE register'} entry {e.id}",
            "upn": e.upn, "forename": e.forename, "surname": e.surname, "date_of_birth": e.dob,
            "address": e.address, "postcode": e.postcode, "school": e.school_laestab,
            "from": e.from_date, "to": e.to_date, "source": e.source_name,
            "contacts": [flag(c, Category.CARER) for c in e.contacts],
        }  # fmt: skip
    return None


def _people_of(collected: Collected, cases: list[Case], referrals: list[Referral]) -> None:
    """Who the archive may mention: anonymous referrers (to redact), the other referrers,
    carers and siblings (to mark), and the family's names (never redacted in parts)."""
    for c in cases:
        child = c.child
        collected.protected_names += [child.forenames, child.surname, child.middle_names or ""]
        collected.protected_names += [
            str(o.get("name") or " ".join(filter(None, (o.get("forename"), o.get("surname")))))
            for o in child.other_names
            if isinstance(o, dict)
        ]
        for carer in child.carers:
            collected.protected_names.append(carer.name)
            collected.third_parties.append(
                Person(
                    Category.CARER,
                    names=[carer.name],
                    emails=[carer.email] if carer.email else [],
                    phones=[carer.phone] if carer.phone else [],
                )
            )
        for sib in child.siblings:
            collected.protected_names.append(sib.name)
            collected.third_parties.append(Person(Category.OTHER_CHILD, names=[sib.name]))
    for r in referrals:
        person = Person(
            Category.REFERRER,
            names=[r.referrer_name] if r.referrer_name else [],
            emails=[r.referrer_email] if r.referrer_email else [],
            phones=[r.referrer_phone] if r.referrer_phone else [],
        )
        if r.anonymous:
            collected.anonymous.append(person)
            collected.anonymous_referrals.append(r.id)
        else:
            collected.third_parties.append(person)
