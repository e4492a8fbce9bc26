"""Two cases about one child: the newer is merged into the older (one case per child).

Referrals, timeline, tasks, enquiries, letters, exchange messages, new facts and raw
messages move to the kept case; what the duplicate knew about the child that the kept
case lacks becomes facts for the officer to accept; the duplicate is closed as a
duplicate pointing at the other. One transaction, on both timelines and in the audit log.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.facts import propose_facts
from gateway.cases.queries import get_case
from gateway.cases.workflow import CLOSED, WorkflowError
from gateway.db import utcnow
from gateway.matching.candidates import supersede, supersede_target
from gateway.models.case import Case, CaseFact, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.exchange import Disclosure, ExchangeMessage, Monitoring, Proposal
from gateway.models.intake import RawMessage
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.triage.service import input_of

DUPLICATE = "duplicate"


def _move(session: Session, model: type, old: int, new: int) -> None:
    session.execute(update(model).where(model.case_id == old).values(case_id=new))  # type: ignore[attr-defined]


def _dedupe_tasks(session: Session, case: Case) -> None:
    """After a merge, one open task of each kind (progress updates: one per referral)."""
    seen: dict[tuple[str, object], Task] = {}
    for task in session.execute(
        select(Task).where(Task.case_id == case.id, Task.status == "open").order_by(Task.due)
    ).scalars():
        key = (task.kind, task.detail.get("referral_id") if task.kind == "progress_update" else 0)
        kept = seen.get(key)
        if kept is None:
            seen[key] = task
            continue
        if task.kind == "further_enquiries":
            gaps = list(kept.detail.get("gaps", []))
            gaps += [g for g in task.detail.get("gaps", []) if g not in gaps]
            kept.detail = {**kept.detail, "gaps": gaps}
        task.status = "cancelled"
        task.done_at = utcnow()


def merge_cases(session: Session, first_id: int, second_id: int, actor: str) -> Case:
    """Merge the newer of two cases into the older; returns the case that is kept."""
    if first_id == second_id:
        raise WorkflowError("a case cannot be merged with itself")
    a, b = get_case(session, first_id), get_case(session, second_id)
    keep, dup = (a, b) if (a.opened_on, a.id) <= (b.opened_on, b.id) else (b, a)
    if dup.status == CLOSED and dup.merged_into_id is not None:
        raise WorkflowError(f"case {dup.id} was already merged into case {dup.merged_into_id}")
    session.flush()
    for model in (
        Referral, TimelineEntry, Task, EnquiryLogEntry, CaseFact, ExchangeMessage, Disclosure,
        Proposal, RawMessage, OutboxMessage,
    ):  # fmt: skip
        _move(session, model, dup.id, keep.id)
    watched = session.execute(
        select(Monitoring).where(Monitoring.case_id == dup.id)
    ).scalar_one_or_none()
    if watched is not None:
        kept_watch = session.execute(
            select(Monitoring).where(Monitoring.case_id == keep.id)
        ).scalar_one_or_none()
        if kept_watch is None:
            watched.case_id = keep.id
        else:
            session.delete(watched)
    session.expire_all()
    keep = get_case(session, keep.id)
    dup = get_case(session, dup.id)
    _dedupe_tasks(session, keep)
    # What the duplicate knew that the kept case lacks: for the officer to accept.
    for referral in keep.referrals:
        if referral.details:
            propose_facts(session, keep, input_of(referral), f"referral:{referral.id}")
    if keep.status == CLOSED:
        keep.status = "locating"
        keep.outcome = None
        keep.closed_at = None
    keep.urgency_rank = max(keep.urgency_rank or 0, dup.urgency_rank or 0)
    dup.status = CLOSED
    dup.outcome = DUPLICATE
    dup.outcome_detail = {"merged_into": keep.id}
    dup.merged_into_id = keep.id
    dup.closed_at = utcnow()
    dup.closed_by = actor
    supersede(session, f"case:{dup.id}")
    supersede_target(session, f"case:{dup.id}")
    session.add_all(
        [
            TimelineEntry(
                case_id=keep.id, kind="merged", actor=actor, ref=f"case:{dup.id}",
                summary=f"Case {dup.tag} merged into this case (the same child)",
            ),
            TimelineEntry(
                case_id=dup.id, kind="closed", actor=actor, ref=f"case:{keep.id}",
                summary=f"Closed: a duplicate of case {keep.tag}, merged into it",
            ),
        ]
    )  # fmt: skip
    audit.record(
        session,
        actor=actor,
        action="case.merge",
        entity="case",
        entity_id=keep.id,
        detail={"kept": keep.id, "merged": dup.id},
    )
    session.flush()
    return keep
