"""Who works each case: allocation to an officer (changeable, audited) and the caseload of
every officer for a manager."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.inputs import InputError
from gateway.cases.queries import get_case
from gateway.cases.workflow import CLOSED
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.referral import Referral, Urgency
from gateway.models.users import User
from gateway.users import find_user


def allocate(session: Session, case_id: int, username: str | None, actor: str) -> Case:
    """Give the case to an officer (None: take it off anyone); audited with before/after."""
    case = get_case(session, case_id)
    target = None
    if username:
        user = find_user(session, username)
        if user is None or not user.active:
            raise InputError(f"there is no active user called {username!r} to allocate to")
        target = user.username
    before = case.allocated_to
    if before == target:
        return case
    case.allocated_to = target
    who = _display(session, target) if target else "nobody"
    session.add(
        TimelineEntry(
            case_id=case.id, kind="allocation", summary=f"Allocated to {who}", actor=actor
        )
    )
    audit.record(
        session, actor=actor, action="case.allocate", entity="case", entity_id=case.id,
        detail={"before": before, "after": target},
    )  # fmt: skip
    session.flush()
    return case


def _display(session: Session, username: str) -> str:
    user = find_user(session, username)
    return user.display_name if user is not None else username


@dataclass(frozen=True)
class Caseload:
    username: str | None
    display_name: str
    open_cases: int
    urgent: int
    overdue_tasks: int


def caseloads(session: Session, today: date) -> list[Caseload]:
    """Open cases per officer (every active user, and unallocated), with urgent cases and
    overdue tasks."""
    urgent_cases = (
        select(Referral.case_id)
        .where(Referral.urgency != Urgency.ROUTINE.value, Referral.case_id.is_not(None))
        .distinct()
        .subquery()
    )
    overdue = (
        select(Task.case_id, func.count(Task.id).label("n"))
        .where(Task.status == "open", Task.due < today)
        .group_by(Task.case_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Case.allocated_to,
            func.count(Case.id),
            func.sum(when((urgent_cases.c.case_id.is_not(None), 1), else_=0)),
            func.coalesce(func.sum(overdue.c.n), 0),
        )
        .outerjoin(urgent_cases, urgent_cases.c.case_id == Case.id)
        .outerjoin(overdue, overdue.c.case_id == Case.id)
        .where(Case.status != CLOSED)
        .group_by(Case.allocated_to)
    ).all()
    names = dict(session.execute(select(User.username, User.display_name)).all())
    out = [
        Caseload(user, names.get(user, user) if user else "Not allocated", n, int(u or 0), int(o))
        for user, n, u, o in rows
    ]
    # Everyone a case can go to is listed, and the unallocated line, even with nothing open:
    # a manager allocating work looks for the officer with the fewest cases.
    listed = {c.username for c in out}
    out += [Caseload(u, n, 0, 0, 0) for u, n in officers(session) if u not in listed]
    if None not in listed:
        out.append(Caseload(None, "Not allocated", 0, 0, 0))
    return sorted(out, key=lambda c: (c.username is None, c.display_name))


def officers(session: Session) -> list[tuple[str, str]]:
    """(username, name) of every active user a case can be allocated to."""
    return [
        (u, n)
        for u, n in session.execute(
            select(User.username, User.display_name)
            .where(User.active.is_(True))
            .order_by(User.display_name)
        )
    ]
