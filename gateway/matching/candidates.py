"""Stored candidates: the matcher runs when a referral arrives, a case opens or a source
changes, and writes what it found; the console's pages only read these rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.db import utcnow
from gateway.matching.decisions import Decision, Thresholds
from gateway.matching.records import Contact, PartialDate, PersonRecord
from gateway.matching.service import (
    SOURCES,
    case_block,
    find_candidates,
    record_from_child,
    record_from_lost_pupil,
    record_from_register,
)
from gateway.models.case import Case
from gateway.models.matching import CandidateState, MatchCandidate, RegisterEntry
from gateway.models.referral import Referral, TriageStatus
from gateway.settings import Settings
from lost_pupil.events import PupilsStored, subscribe
from lost_pupil.models import LostPupil

ACTOR = "system:matching"
REFRESH_JOB = "match.refresh"
#: Candidates still waiting for the officer (shown in the queues and counted).
OPEN_STATES = (CandidateState.PENDING.value, CandidateState.NOT_SURE.value)


def thresholds_of(settings: Settings) -> Thresholds:
    return Thresholds(settings.matching.upper_threshold, settings.matching.lower_threshold)


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def record_from_details(details: Mapping[str, Any], ref: str) -> PersonRecord:
    """A referral's child (its details, as stored or as ReferralInput holds them)."""
    dob = _date(details.get("dob"))

    def text(key: str) -> str:
        value = details.get(key)
        return str(value) if value else ""

    carers = details.get("carers") or ()
    return PersonRecord(
        record_id=ref,
        forename=text("forename"),
        surname=text("surname"),
        middle_names=text("middle_names"),
        aliases=tuple(str(a) for a in details.get("aliases") or ()),
        dob=PartialDate.from_date(dob) if dob else None,
        sex=text("sex"),
        upn=text("upn"),
        former_upns=tuple(str(u) for u in details.get("former_upns") or ()),
        address=text("address_line1"),
        town=text("town"),
        postcode=text("postcode"),
        contacts=tuple(
            Contact(*_split_name(str(c.get("name", ""))), str(c.get("relationship") or ""))
            for c in carers
            if isinstance(c, Mapping)
        ),
        year_group=text("year_group"),
    )


def _split_name(name: str) -> tuple[str, str]:
    parts = name.split()
    return (parts[0], parts[-1]) if len(parts) > 1 else (name, "")


def query_record(session: Session, query_ref: str) -> PersonRecord | None:
    """The record a stored query stands for: a referral's details or a case's child."""
    kind, _, ident = query_ref.partition(":")
    if kind == "referral":
        referral = session.get(Referral, int(ident))
        return None if referral is None else record_from_details(referral.details, query_ref)
    if kind == "case":
        case = session.get(Case, int(ident))
        return None if case is None else record_from_child(case.child, query_ref)
    return None


def refresh(
    session: Session,
    settings: Settings,
    query_ref: str,
    *,
    sources: tuple[str, ...] = SOURCES,
    actor: str = ACTOR,
    fresh: bool = False,
) -> list[MatchCandidate]:
    """Run the matcher for one referral or case and store its candidates (review or better).

    Rows the officer already settled stay as they are; pending rows no longer found are
    superseded, so the queues show only what the matcher still proposes. `fresh`: the
    query was created (and flushed) in this transaction, so it has no candidates or
    decisions yet, and the caller has nothing unflushed in the stores it searches.
    """
    query = query_record(session, query_ref)
    if query is None:
        return []
    # A fresh query's searches need nothing the session holds unflushed (what is pending
    # then is the audit entry of its arrival): that entry goes with the candidates' flush
    # below, one flush instead of two.
    with session.no_autoflush if fresh else nullcontext():
        found = find_candidates(
            session,
            query,
            query_ref=query_ref,
            thresholds=thresholds_of(settings),
            actor=actor,
            sources=sources,
            limit=11,
            decided=frozenset() if fresh else None,
        )
    existing = (
        {}
        if fresh
        else {
            row.target_ref: row
            for row in session.execute(
                select(MatchCandidate).where(MatchCandidate.query_ref == query_ref)
            ).scalars()
        }
    )
    now = utcnow()
    kept: list[MatchCandidate] = []
    seen: set[str] = set()
    for sourced in found:
        cand = sourced.candidate
        if sourced.ref == query_ref or cand.decision is Decision.NONE:
            continue
        seen.add(sourced.ref)
        row = existing.get(sourced.ref)
        if row is None:
            row = MatchCandidate(query_ref=query_ref, target_ref=sourced.ref)
            session.add(row)
        elif row.state not in OPEN_STATES and row.state != CandidateState.SUPERSEDED.value:
            continue  # decided: never proposed again
        row.target_kind = sourced.source
        row.score = round(cand.score, 4)
        row.probability = round(cand.probability, 6)
        row.decision = cand.decision.value
        row.evidence = [e.__dict__ for e in cand.evidence]
        if row.state == CandidateState.SUPERSEDED.value:
            row.state = CandidateState.PENDING.value
        row.computed_at = now
        kept.append(row)
    for ref, row in existing.items():
        if ref not in seen and row.state == CandidateState.PENDING.value:
            row.state = CandidateState.SUPERSEDED.value
    session.flush()
    return kept


def supersede(session: Session, query_ref: str) -> None:
    """The query was settled another way (opened, attached, dismissed, merged)."""
    for row in session.execute(
        select(MatchCandidate).where(
            MatchCandidate.query_ref == query_ref, MatchCandidate.state.in_(OPEN_STATES)
        )
    ).scalars():
        row.state = CandidateState.SUPERSEDED.value


def supersede_target(session: Session, target_ref: str) -> None:
    """The record candidates pointed at is gone as a separate record (a merged case)."""
    for row in session.execute(
        select(MatchCandidate).where(
            MatchCandidate.target_ref == target_ref, MatchCandidate.state.in_(OPEN_STATES)
        )
    ).scalars():
        row.state = CandidateState.SUPERSEDED.value


@dataclass(frozen=True)
class CandidateView:
    id: int
    query_ref: str
    target_ref: str
    target_kind: str
    score: float
    probability: float
    decision: str
    state: str
    evidence: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.target_kind,
            "ref": self.target_ref,
            "score": self.score,
            "probability": self.probability,
            "decision": self.decision,
            "state": self.state,
        }


def _view(row: MatchCandidate) -> CandidateView:
    return CandidateView(
        row.id, row.query_ref, row.target_ref, row.target_kind, row.score, row.probability,
        row.decision, row.state, tuple(row.evidence or ()),
    )  # fmt: skip


def candidates_for(session: Session, query_refs: Iterable[str]) -> dict[str, list[CandidateView]]:
    """Open candidates of each query, best first (one query for any number of them)."""
    refs = sorted(set(query_refs))
    out: dict[str, list[CandidateView]] = {ref: [] for ref in refs}
    if not refs:
        return out
    rows = session.execute(
        select(MatchCandidate)
        .where(MatchCandidate.query_ref.in_(refs), MatchCandidate.state.in_(OPEN_STATES))
        .order_by(MatchCandidate.probability.desc(), MatchCandidate.score.desc(), MatchCandidate.id)
    ).scalars()
    for row in rows:
        out[row.query_ref].append(_view(row))
    return out


def get_candidate(session: Session, candidate_id: int) -> CandidateView | None:
    row = session.get(MatchCandidate, candidate_id)
    return None if row is None else _view(row)


def open_candidates(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[CandidateView], int]:
    """Candidates waiting for the officer across every query, most likely first."""
    base = select(MatchCandidate).where(MatchCandidate.state.in_(OPEN_STATES))
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        base.order_by(
            MatchCandidate.probability.desc(), MatchCandidate.score.desc(), MatchCandidate.id
        )
        .limit(limit)
        .offset(offset)
    ).scalars()
    return [_view(r) for r in rows], int(total)


def count_open(session: Session) -> int:
    """How many candidates wait for the officer (the service navigation's count)."""
    waiting = MatchCandidate.state.in_(OPEN_STATES)
    total = session.execute(select(func.count()).select_from(MatchCandidate).where(waiting))
    return int(total.scalar_one())


def queue_refresh(session: Session, query_refs: Iterable[str]) -> None:
    """Recompute candidates for these referrals or cases in the background."""
    jobs.enqueue(session, REFRESH_JOB, {"query_refs": sorted(set(query_refs))})


def queue_source_refresh(session: Session, source: str, ident: str) -> None:
    """A source changed (a CTF file stored, a roll imported): the job finds the referrals
    and cases its new records may be about and recomputes only theirs."""
    jobs.enqueue(session, REFRESH_JOB, {"source": source, "id": ident}, key=f"{source}:{ident}")


def _new_records(session: Session, source: str, ident: str) -> list[PersonRecord]:
    if source == "lost_pupil_file":
        pupils = session.execute(select(LostPupil).where(LostPupil.file_id == int(ident)))
        return [record_from_lost_pupil(r) for r in pupils.scalars()]
    entries = session.execute(select(RegisterEntry).where(RegisterEntry.batch_sha256 == ident))
    return [record_from_register(r) for r in entries.scalars()]


def affected_queries(session: Session, records: Iterable[PersonRecord]) -> list[str]:
    """Every referral awaiting triage (there are few), and each open case that shares a
    blocking key (UPN, date of birth, surname, postcode) with one of the new records."""
    refs = {
        f"referral:{i}"
        for i in session.execute(
            select(Referral.id).where(Referral.triage_status == TriageStatus.AWAITING.value)
        ).scalars()
    }
    for record in records:
        refs |= {f"case:{c.case_id}" for c in case_block(session, record) if c.status != "closed"}
    return sorted(refs)


@jobs.register(REFRESH_JOB)
def refresh_job(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    refs = payload.get("query_refs")
    if refs is None:
        records = _new_records(session, str(payload["source"]), str(payload["id"]))
        refs = affected_queries(session, records)
    for ref in refs:
        refresh(session, settings, str(ref))


def _on_pupils_stored(session: Session, event: PupilsStored) -> None:
    queue_source_refresh(session, "lost_pupil_file", str(event.file_id))


_installed = False


def install() -> None:
    """Listen for new lost-pupil files (once per process; the CLI and the web app call it)."""
    global _installed
    if not _installed:
        subscribe(PupilsStored, _on_pupils_stored)
        _installed = True
