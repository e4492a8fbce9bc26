"""Legal holds: a case kept past its retention date (litigation, an inquiry, an order)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.queries import get_case
from gateway.errors import UserError
from gateway.models.case import Case


class RetentionError(UserError):
    """A retention request that cannot be carried out; the message says why."""


def set_hold(session: Session, case_id: int, *, reason: str, actor: str) -> Case:
    """Put a case on legal hold: no disposal while it lasts, whatever the rules say."""
    reason = (reason or "").strip()
    if not reason:
        raise RetentionError(
            "a legal hold needs a reason (--reason): the order or matter it serves"
        )
    case = get_case(session, case_id)
    before = case.hold_reason if case.legal_hold else None
    case.legal_hold = True
    case.hold_reason = reason[:2000]
    audit.record(
        session,
        actor=actor,
        action="retention.hold",
        entity="case",
        entity_id=case.id,
        # The reason stays on the case (and goes with it); the log, which outlives the
        # case, keeps no free text that could name someone.
        detail={"replaced": before is not None},
    )
    session.flush()
    return case


def clear_hold(session: Session, case_id: int, *, actor: str) -> Case:
    """Lift a legal hold: the case is disposed of at the next daily run if it is due."""
    case = get_case(session, case_id)
    if not case.legal_hold:
        raise RetentionError(f"case CME-{case.id} is not on legal hold")
    case.legal_hold = False
    case.hold_reason = None
    audit.record(
        session, actor=actor, action="retention.hold_cleared", entity="case", entity_id=case.id
    )
    session.flush()
    return case
