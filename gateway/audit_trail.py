"""The audit log read back: who viewed or changed a child's record and when, and which
records a user opened and when, each entry in words.

A child's record is more than its `case` entries: the referrals before they joined the
case (triage), the match reviews about them, the raw messages filed on it (quarantine),
its exchange messages and proposed answers, and any duplicate case merged into it. Each
is read through the (entity, entity_id) index; a user's entries through (actor, id).
List pages that show many children at once (the case list, the dashboard) are entries of
their own with no single record; they appear in a user's activity, not in a record's.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.disclosures import KINDS as DISCLOSURE_KINDS
from gateway.models.audit import AuditEntry
from gateway.models.case import Case
from gateway.models.exchange import ExchangeMessage, Proposal
from gateway.models.intake import RawMessage
from gateway.models.referral import Referral


class Kind(enum.StrEnum):
    """What an entry was: a look at the record, a change to it, data leaving, or sign-in."""

    VIEW = "view"
    CHANGE = "change"
    DISCLOSURE = "disclosure"
    ACCOUNT = "account"


#: Each action the code records, in words (grep `audit.record(` for `action=`).
LABELS: dict[str, str] = {
    # the case and the child
    "case.view": "Viewed the case",
    "child.view": "Viewed the child's details (the change form)",
    "child.edit": "Changed the child's details",
    "case.create": "Opened the case",
    "case.move": "Moved the case to another status",
    "case.close": "Closed the case",
    "case.reopen": "Reopened the case",
    "case.escalate": "Escalated the case, or cleared an escalation",
    "case.allocate": "Allocated the case to an officer",
    "case.merge": "Merged a duplicate case into this one",
    "case.enquiries_complete": "Marked the initial enquiries complete",
    "case.on_roll": "Recorded the child as on a school roll",
    "case.claim_noted": "Noted another school's claim on the child's lost-pupil file",
    "case.claim_closed": "Closed the case on a school's claim of the lost-pupil file",
    "case.fact_accepted": "Accepted a new detail a referral gave",
    "case.fact_rejected": "Rejected a new detail a referral gave",
    "case.status_check": "Recorded a check of the child's educational status",
    "case.home_visit_request": "Asked for a home visit",
    "case.home_visit": "Recorded a home visit",
    "case.assessment": "Recorded an assessment of the child's needs",
    "case.admissions": "Referred the child to School Admissions",
    "case.escalation": "Recorded an escalation",
    "case.sar_export": "Exported everything held about the child (subject access)",
    "sar.confirm.view": "Opened the subject access export page",
    "allocation.view": "Viewed the allocation page of the case",
    # referrals and triage
    "referral.receive": "A referral was received",
    "referral.attach": "Added a further referral to the case",
    "referral.view": "Viewed a referral waiting for triage",
    "triage.open": "Opened a case from a referral",
    "triage.auto_open": "A case was opened from a referral automatically",
    "triage.attach": "Added a referral to the case",
    "triage.auto_attach": "A referral was added to the case automatically",
    "triage.dismiss": "Dismissed a referral as not a CME referral",
    "triage.list": "Viewed the triage queue",
    # enquiries, letters and onward referrals
    "enquiry.record": "Recorded an enquiry",
    "enquiry.compose.view": "Opened the form to ask another authority",
    "enquiry.check.view": "Checked an enquiry to another authority before sending it",
    "onward.check.view": "Checked an onward referral before sending it",
    "onward.view": "Viewed a printed onward referral",
    "onward.print": "Downloaded a printed onward referral (PDF)",
    "letter.view": "Viewed a letter to print",
    "letter.print": "Downloaded a letter to print (PDF)",
    "letter.posted": "Marked a letter as posted to the referrer",
    "letter.phoned": "Marked a letter as read to the referrer on the phone",
    "letter.progress_update": "A progress update was sent to the referrer",
    # intake
    "intake.email_reply": "An email reply was filed on the case",
    "intake.auto_reply": "An automatic reply was filed on the case",
    "intake.bounce": "A delivery failure was filed on the case",
    "intake.file": "Pushed a message file through the intake",
    "quarantine.list": "Viewed the quarantine",
    "quarantine.view": "Viewed a message held in quarantine",
    "quarantine.released": "Released a message from quarantine",
    "quarantine.retried": "Retried a message held in quarantine",
    "quarantine.discarded": "Discarded a message held in quarantine",
    "quarantine.referral": "Made a held message into a referral",
    # matching
    "match.list": "Viewed the possible matches",
    "match.view": "Viewed a possible match",
    "match_search": "Searched for records about the child",
    "match_confirmed": "Confirmed a match",
    "match_rejected": "Rejected a match",
    "match_not_sure": "Deferred a match (not sure)",
    "lost_pupil.link": "Linked a lost-pupil file to the case",
    "roll_import": "Imported a school roll",
    "ehe_import": "Imported the elective home education register",
    # the secure exchange and monitoring
    "exchange.receive": "A message from another authority was received",
    "exchange.approve": "Approved a proposed answer to another authority",
    "exchange.reject": "Rejected a proposed answer to another authority",
    "exchange.answer.view": "Viewed a proposed answer to another authority",
    "exchange.answers.list": "Viewed the proposed answers",
    "exchange_quarantine.list": "Viewed the refused exchange messages",
    "exchange_quarantine.view": "Viewed a refused exchange message",
    "dead_letter.list": "Viewed the messages that could not be delivered",
    "dead_letter.resend": "Sent an undelivered message again",
    "dead_letter.abandon": "Gave up on an undelivered message",
    "monitoring.start": "Started monitoring the child in another authority",
    "monitoring.stop": "Stopped monitoring the child",
    "monitoring.stop.view": "Opened the form to stop monitoring",
    "monitoring.request_now": "Asked the other authority for the child's status now",
    "monitoring.view": "Viewed the monitoring list",
    # lost pupils
    "lost_pupil.search": "Searched the lost-pupil files",
    "lost_pupil.view": "Viewed a lost pupil",
    "lost_pupil.claim": "Claimed a lost pupil",
    "lost_pupil.download": "Downloaded a lost-pupil file",
    "lost_pupil.import": "Imported a lost-pupil file",
    "lost_pupil.upload": "A school uploaded a lost-pupil file",
    "lost_pupil.hold": "Put a legal hold on a lost-pupil file",
    "lost_pupil.release": "Released the legal hold on a lost-pupil file",
    "lost_pupil.dispose": "A lost-pupil file was disposed of",
    # lists, reports, registers
    "case.list": "Viewed the case list",
    "cases.list": "Listed cases",
    "dashboard.view": "Viewed the dashboard",
    "disclosures.list": "Read the disclosure register",
    "audit.case_history": "Read the audit history of the record",
    "audit.user_activity": "Read a user's activity in the audit log",
    # retention and keys
    "retention.preview": "Listed what is due for disposal",
    "retention.dispose": "Disposed of a record whose retention period ended",
    "retention.hold": "Put a legal hold on the case (it is kept until the hold is cleared)",
    "retention.hold_cleared": "Cleared the legal hold on the case",
    "raw_keys.rotate": "Rotated the raw store's encryption key",
    # accounts
    "signin": "Signed in",
    "signin.password_ok": "Gave the right password (a code still to come)",
    "signin.bad_password": "Tried to sign in with a wrong password",
    "signin.bad_code": "Tried to sign in with a wrong code",
    "signin.unknown_user": "Someone tried to sign in with an unknown username",
    "signin.disabled_user": "Tried to sign in to a disabled account",
    "signin.throttled": "Sign-in refused: too many attempts",
    "signout": "Signed out",
    "user.add": "Added a user",
    "user.disable": "Disabled a user",
    "user.password": "Changed a user's password",
}

_ACCOUNT = ("signin", "signout", "user.")


def label(action: str) -> str:
    """The action in words; an action added later without a label is still readable."""
    if action in LABELS:
        return LABELS[action]
    if action.startswith("disclosure."):
        kind = action.partition(".")[2]
        return f"Disclosed: {DISCLOSURE_KINDS.get(kind, kind.replace('_', ' '))}"
    if action.startswith("report."):
        return f"Produced the {action.partition('.')[2].replace('_', ' ')} report"
    return action.replace(".", ": ").replace("_", " ").capitalize()


def kind_of(action: str) -> Kind:
    if action.startswith("disclosure."):
        return Kind.DISCLOSURE
    if action.startswith(_ACCOUNT):
        return Kind.ACCOUNT
    last = action.rpartition(".")[2]
    if last in ("view", "list", "print", "search", "preview") or action in (
        "cases.list", "match_search", "audit.case_history", "audit.user_activity",
    ) or action.startswith("report."):  # fmt: skip
        return Kind.VIEW
    return Kind.CHANGE


@dataclass(frozen=True)
class TrailEntry:
    """One audit entry as a person reads it."""

    id: int
    at: datetime
    actor: str
    action: str
    label: str
    kind: Kind
    entity: str
    entity_id: str | None
    #: The record in words: "Case CME-12", "Referral 40", "The case list".
    about: str
    #: The case the entry is about, when it names one (for a link).
    case_id: int | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at.isoformat(), "actor": self.actor,
            "action": self.action, "label": self.label, "kind": self.kind.value,
            "entity": self.entity, "entity_id": self.entity_id, "about": self.about,
            "case": self.case_id, "detail": self.detail,
        }  # fmt: skip


_ENTITY_WORDS = {
    "referral": "Referral",
    "raw_message": "Message",
    "exchange_message": "Exchange message",
    "exchange_proposal": "Proposed answer",
    "exchange_quarantine": "Refused exchange message",
    "lost_pupil": "Lost pupil",
    "ctf_file": "Lost-pupil file",
    "user": "User account",
    "report": "Report",
    "register_entries": "Register import",
    "disclosure": "Disclosure",
}
_LISTS = {
    "case": "The case list",
    "referral": "The triage queue",
    "lost_pupil": "The lost-pupil search",
    "disclosure": "The disclosure register",
    "raw_message": "The quarantine",
    "match": "The possible matches",
    "exchange_proposal": "The proposed answers",
    "exchange_quarantine": "The refused exchange messages",
    "dead_letter": "The undelivered messages",
}


def _about(entity: str, entity_id: str | None) -> tuple[str, int | None]:
    if entity_id is None:
        return _LISTS.get(entity, entity.replace("_", " ").capitalize()), None
    if entity == "case" and entity_id.isdigit():
        return f"Case CME-{entity_id}", int(entity_id)
    if entity == "match":
        source, _, ident = entity_id.partition(":")
        if source == "case" and ident.isdigit():
            return f"Matches for case CME-{ident}", int(ident)
        return f"Matches for {source} {ident}".strip(), None
    return f"{_ENTITY_WORDS.get(entity, entity.replace('_', ' ').capitalize())} {entity_id}", None


def _entry(row: AuditEntry) -> TrailEntry:
    about, case_id = _about(row.entity, row.entity_id)
    return TrailEntry(
        row.id, row.at, row.actor, row.action, label(row.action), kind_of(row.action),
        row.entity, row.entity_id, about, case_id, dict(row.detail or {}),
    )  # fmt: skip


def record_keys(session: Session, case_id: int) -> dict[str, set[str]]:
    """Every (entity, entity_id) under which the audit log speaks of this child's record:
    entity -> ids. Raises nothing for a case that does not exist (its keys are empty)."""
    cases = {case_id}
    frontier = {case_id}
    while frontier:  # duplicates merged into this case, and into those, are the same child
        merged = set(
            session.execute(select(Case.id).where(Case.merged_into_id.in_(frontier))).scalars()
        )
        frontier = merged - cases
        cases |= frontier
    referrals = set(
        session.execute(select(Referral.id).where(Referral.case_id.in_(cases))).scalars()
    )
    raw_ids = set(
        session.execute(select(RawMessage.id).where(RawMessage.case_id.in_(cases))).scalars()
    ) | set(
        session.execute(
            select(Referral.raw_id).where(Referral.id.in_(referrals), Referral.raw_id.is_not(None))
        ).scalars()
    )
    messages = set(
        session.execute(
            select(ExchangeMessage.message_id).where(ExchangeMessage.case_id.in_(cases))
        ).scalars()
    )
    proposals = set(
        session.execute(select(Proposal.id).where(Proposal.case_id.in_(cases))).scalars()
    )
    keys: dict[str, set[str]] = {
        "case": {str(c) for c in cases},
        "referral": {str(r) for r in referrals},
        "match": {f"case:{c}" for c in cases} | {f"referral:{r}" for r in referrals},
        "raw_message": {str(r) for r in raw_ids},
        "exchange_message": set(messages),
        "exchange_proposal": {str(p) for p in proposals},
    }
    return {entity: ids for entity, ids in keys.items() if ids}


def _about_record(keys: dict[str, set[str]]) -> Any:
    # One (entity = e AND entity_id IN (...)) per kind: each an index range on
    # ix_audit_log_entity. Long id lists are chunked to keep the statement bounded.
    clauses = []
    for entity, ids in keys.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            clauses.append(and_(AuditEntry.entity == entity, AuditEntry.entity_id.in_(chunk)))
    return or_(*clauses)


def case_history(
    session: Session,
    case_id: int,
    *,
    limit: int | None = 100,
    offset: int = 0,
    views_only: bool = False,
    oldest_first: bool = False,
) -> tuple[list[TrailEntry], int]:
    """Who viewed or changed this child's record and when (newest first), with the total."""
    keys = record_keys(session, case_id)
    if not keys:
        return [], 0
    where = [_about_record(keys)]
    if views_only:
        where.append(AuditEntry.action.like("%.view"))
    total = session.execute(select(func.count(AuditEntry.id)).where(*where)).scalar_one()
    order = AuditEntry.id.asc() if oldest_first else AuditEntry.id.desc()
    stmt = select(AuditEntry).where(*where).order_by(order).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_entry(r) for r in session.execute(stmt).scalars()], int(total)


def iter_case_history(session: Session, case_id: int) -> Iterable[TrailEntry]:
    """Every entry about the record, oldest first, streamed (for the subject access archive)."""
    keys = record_keys(session, case_id)
    if not keys:
        return
    stmt = (
        select(AuditEntry)
        .where(_about_record(keys))
        .order_by(AuditEntry.id)
        .execution_options(yield_per=500)
    )
    for row in session.execute(stmt).scalars():
        yield _entry(row)


def user_activity(
    session: Session,
    username: str,
    *,
    limit: int = 100,
    offset: int = 0,
    since: datetime | None = None,
) -> tuple[list[TrailEntry], int]:
    """Which records this user opened or changed and when (newest first), with the total.

    Read through ix_audit_log_actor (actor, id): the newest page of one user's entries is
    an index range however long the log grows."""
    where = _by_user(username, since)
    total = session.execute(select(func.count(AuditEntry.id)).where(*where)).scalar_one()
    rows = session.execute(user_activity_query(username, limit, offset, since)).scalars()
    return [_entry(r) for r in rows], int(total)


def _by_user(username: str, since: datetime | None) -> list[Any]:
    where: list[Any] = [AuditEntry.actor == username]
    if since is not None:
        where.append(AuditEntry.at >= since)
    return where


def user_activity_query(
    username: str, limit: int = 100, offset: int = 0, since: datetime | None = None
) -> Select[AuditEntry]:
    """The page of a user's entries, newest first (its plan is checked in the tests)."""
    return (
        select(AuditEntry)
        .where(*_by_user(username, since))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
