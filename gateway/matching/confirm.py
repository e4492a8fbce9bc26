"""An officer's decision on a candidate, with its consequence, in one transaction.

Confirmed:
- referral to case: the referral joins the case (no tasks doubled; new facts listed);
- case to case: the newer case is merged into the older;
- case to lost pupil: the link is recorded and the case gets the UPN and last school;
- case to school roll: the case shows "on roll at <school>" (the officer then refers to
  Attendance & Welfare or closes it); case to the EHE register: closed as EHE.
Rejected: stored and never proposed again. Not sure: left for later, marked so.
Everything is on the timeline and in the audit log.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases import service as cases
from gateway.cases.facts import propose_facts
from gateway.cases.labels import CANDIDATE_STATES, label
from gateway.cases.merge import merge_cases
from gateway.cases.queries import get_case
from gateway.cases.workflow import CLOSED
from gateway.db import utcnow
from gateway.errors import UserError
from gateway.matching.candidates import OPEN_STATES, supersede
from gateway.matching.decisions import OfficerVerdict
from gateway.matching.review import ref_label
from gateway.matching.service import SOURCES, record_decision
from gateway.models.case import TimelineEntry
from gateway.models.matching import CandidateState, MatchCandidate, RegisterEntry
from gateway.settings import Settings
from gateway.triage import service as triage
from lost_pupil.models import LostPupil


class Verdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    NOT_SURE = "not_sure"


@dataclass(frozen=True)
class Consequence:
    """What the decision did, in words for the officer, and where to go next."""

    message: str
    case_id: int | None = None


def _split(ref: str) -> tuple[str, int]:
    kind, _, ident = ref.partition(":")
    if kind not in (*SOURCES, "referral") or not ident.isdigit():
        raise UserError(f"{ref!r} is not a reference like case:12, referral:3 or lost_pupil:45")
    return kind, int(ident)


def _candidate(session: Session, query_ref: str, target_ref: str) -> MatchCandidate | None:
    return session.execute(
        select(MatchCandidate).where(
            MatchCandidate.query_ref == query_ref, MatchCandidate.target_ref == target_ref
        )
    ).scalar_one_or_none()


def decide(
    session: Session,
    settings: Settings,
    query_ref: str,
    target_ref: str,
    verdict: Verdict,
    actor: str,
) -> Consequence:
    """Record the officer's verdict on a pair and carry out what it means."""
    q_kind, q_id = _split(query_ref)
    t_kind, t_id = _split(target_ref)
    if q_kind not in ("referral", "case"):
        raise UserError("the first reference must be a referral or a case (referral:3, case:12)")
    row = _candidate(session, query_ref, target_ref)
    if row is not None and row.state not in OPEN_STATES:
        raise UserError(_settled_already(row))
    if verdict is Verdict.NOT_SURE:
        if row is None:
            raise UserError(f"{target_ref} is not a candidate for {query_ref}")
        _settle(row, CandidateState.NOT_SURE, actor)
        audit.record(
            session, actor=actor, action="match_not_sure", entity="match",
            entity_id=query_ref, detail={"target": target_ref},
        )  # fmt: skip
        return Consequence("Marked as not sure: it stays in the list for later.")
    record_decision(
        session,
        query_ref=query_ref,
        target_ref=target_ref,
        verdict=OfficerVerdict(verdict.value),
        actor=actor,
    )
    if row is not None:
        _settle(row, CandidateState(verdict.value), actor)
    if verdict is Verdict.REJECTED:
        return Consequence("Not the same child: it will not be proposed again.")
    consequence = _confirmed(session, settings, q_kind, q_id, t_kind, t_id, actor)
    session.flush()
    return consequence


def _settled_already(row: MatchCandidate) -> str:
    """Why a decided candidate takes no second decision, in words (the console shows it)."""
    pair = f"{ref_label(row.query_ref)} and {ref_label(row.target_ref)}"
    if row.state == CandidateState.SUPERSEDED.value:
        return f"{pair} are no longer proposed as a match: one of them was settled another way"
    return f"{pair} were already {label(CANDIDATE_STATES, row.state).lower()} by {row.decided_by}"


def _settle(row: MatchCandidate, state: CandidateState, actor: str) -> None:
    row.state = state.value
    row.decided_by = actor
    row.decided_at = utcnow()


def _confirmed(
    session: Session,
    settings: Settings,
    q_kind: str,
    q_id: int,
    t_kind: str,
    t_id: int,
    actor: str,
) -> Consequence:
    if q_kind == "referral":
        if t_kind == "case":
            case = triage.attach(session, settings, q_id, t_id, actor)
            return Consequence(f"The referral was added to case {case.tag}.", case.id)
        # A referral is not a case yet: the confirmation is kept as evidence on the
        # triage page (for example, on a school roll: the officer dismisses it as on roll).
        return Consequence("Confirmed. It shows on the referral for your triage decision.")
    if t_kind == "case":
        kept = merge_cases(session, q_id, t_id, actor)
        return Consequence(f"The duplicate was merged into case {kept.tag}.", kept.id)
    if t_kind == "lost_pupil":
        return _lost_pupil(session, q_id, t_id, actor)
    return _register(session, settings, q_id, t_kind, t_id, actor)


def _timeline(
    session: Session, case_id: int, kind: str, summary: str, ref: str, actor: str
) -> None:
    session.add(TimelineEntry(case_id=case_id, kind=kind, summary=summary, ref=ref, actor=actor))


def _lost_pupil(session: Session, case_id: int, pupil_id: int, actor: str) -> Consequence:
    case = get_case(session, case_id)
    pupil = session.get(LostPupil, pupil_id)
    if pupil is None:
        raise UserError(f"there is no lost-pupil record {pupil_id}")
    child = case.child
    if pupil.upn and pupil.upn_valid:
        if not child.upn:
            child.upn = pupil.upn
        elif child.upn != pupil.upn:
            # Two UPNs for one child: the officer decides which stands (a fact to accept).
            data = triage.input_of(case.referrals[0]) if case.referrals else None
            if data is not None:
                upn = replace(data, upn=pupil.upn)
                propose_facts(session, case, upn, f"lost_pupil:{pupil_id}")
    case.last_school = pupil.source_laestab
    left = f", left {pupil.leaving_date.strftime('%-d %B %Y')}" if pupil.leaving_date else ""
    _timeline(
        session, case.id, "lost_pupil",
        f"Lost-pupil record {pupil_id} confirmed as this child: last on roll at school "
        f"{pupil.source_laestab}{left}", f"lost_pupil:{pupil_id}", actor,
    )  # fmt: skip
    audit.record(
        session, actor=actor, action="lost_pupil.link", entity="case", entity_id=case.id,
        detail={"lost_pupil_id": pupil_id, "upn_set": child.upn == pupil.upn},
    )  # fmt: skip
    return Consequence(
        f"Case {case.tag} now has the UPN and last school from the lost-pupil record.", case.id
    )


def _register(
    session: Session, settings: Settings, case_id: int, kind: str, entry_id: int, actor: str
) -> Consequence:
    case = get_case(session, case_id)
    entry = session.get(RegisterEntry, entry_id)
    if entry is None:
        raise UserError(f"there is no {kind} register entry {entry_id}")
    ref = f"{kind}:{entry_id}"
    if kind == "ehe":
        if case.status == CLOSED:
            return Consequence(f"Case {case.tag} is already closed.", case.id)
        cases.close_case(
            session, settings, case.id, "ehe_notified",
            {"register_entry": entry_id, "note": "On the EHE register (confirmed match)"}, actor,
        )  # fmt: skip
        supersede(session, f"case:{case.id}")
        return Consequence(
            f"Case {case.tag} closed: electively home educated (on the EHE register).", case.id
        )
    school = entry.school_laestab or entry.source_name
    case.on_roll = {
        "school": school,
        "from": entry.from_date.isoformat() if entry.from_date else None,
        "entry": entry_id,
    }
    _timeline(
        session, case.id, "on_roll", f"On roll at school {school} (school roll, confirmed match)",
        ref, actor,
    )  # fmt: skip
    audit.record(
        session, actor=actor, action="case.on_roll", entity="case", entity_id=case.id,
        detail={"register_entry": entry_id, "school": school},
    )  # fmt: skip
    return Consequence(
        f"Case {case.tag} is on roll at {school}: refer to Attendance & Welfare or close it.",
        case.id,
    )
