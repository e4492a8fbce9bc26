"""Named read functions for cases: views and commands call these, never build queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from gateway.models.case import Case, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.child import Child
from gateway.models.referral import Urgency


class NotFound(LookupError):
    """No such record; the message says which."""


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    return case


@dataclass(frozen=True)
class CaseRow:
    id: int
    status: str
    forename: str
    surname: str
    dob: date | None
    opened_on: date
    outcome: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "forename": self.forename,
            "surname": self.surname,
            "dob": self.dob.isoformat() if self.dob else None,
            "opened_on": self.opened_on.isoformat(),
            "outcome": self.outcome,
        }


def list_cases(
    session: Session,
    *,
    status: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[CaseRow]:
    stmt = (
        select(
            Case.id,
            Case.status,
            Child.forenames,
            Child.surname,
            Child.dob,
            Case.opened_on,
            Case.outcome,
        )
        .join(Child, Child.id == Case.child_id)
        .order_by(Case.id)
    )
    if status:
        stmt = stmt.where(Case.status == status)
    if open_only:
        stmt = stmt.where(Case.status != "closed")
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return [CaseRow(*row) for row in session.execute(stmt)]


#: Most urgent first: a case is as urgent as the most urgent of its referrals.
URGENCY_ORDER = (Urgency.ROUTINE.value, Urgency.URGENT.value, Urgency.SAFEGUARDING.value)


@dataclass(frozen=True)
class CaseListRow:
    """One row of the console's case list: the case, how urgent, and replies unread."""

    case: CaseRow
    urgency: str
    unread_replies: int

    @property
    def urgent(self) -> bool:
        return self.urgency != Urgency.ROUTINE.value


#: Who a case list shows: one officer's cases, or the unallocated ones.
NOT_ALLOCATED = "_nobody"


def _case_filters(stmt: Any, status: str | None, officer: str | None) -> Any:
    if status:
        stmt = stmt.where(Case.status == status)
    if officer == NOT_ALLOCATED:
        stmt = stmt.where(Case.allocated_to.is_(None))
    elif officer:
        stmt = stmt.where(Case.allocated_to == officer)
    return stmt


def case_list(
    session: Session,
    *,
    status: str | None = None,
    officer: str | None = None,
    limit: int,
    offset: int = 0,
) -> list[CaseListRow]:
    """A page of the case list, safeguarding and urgent first (the case's stored urgency
    rank, by index), then in case order; each row with its unread replies.

    `officer`: a username, or NOT_ALLOCATED for cases nobody has yet.
    """
    unread = (
        select(func.count(TimelineEntry.id))
        .where(TimelineEntry.case_id == Case.id, TimelineEntry.unread.is_(True))
        .correlate(Case)
        .scalar_subquery()
    )
    stmt = (
        select(
            Case.id, Case.status, Child.forenames, Child.surname, Child.dob, Case.opened_on,
            Case.outcome, Case.urgency_rank, unread,
        )
        .join(Child, Child.id == Case.child_id)
        .order_by(Case.urgency_rank.desc(), Case.id)
        .limit(limit)
        .offset(offset)
    )  # fmt: skip
    stmt = _case_filters(stmt, status, officer)
    return [
        CaseListRow(CaseRow(*row[:7]), URGENCY_ORDER[row[7] or 0], int(row[8] or 0))
        for row in session.execute(stmt)
    ]


def count_cases(session: Session, *, status: str | None = None, officer: str | None = None) -> int:
    stmt = _case_filters(select(func.count(Case.id)), status, officer)
    return int(session.execute(stmt).scalar_one())


def case_detail(session: Session, case_id: int) -> Case:
    """A case with everything the case page shows, loaded in a few queries."""
    case = session.execute(
        select(Case)
        .where(Case.id == case_id)
        .options(
            selectinload(Case.referrals),
            selectinload(Case.tasks),
            selectinload(Case.child).selectinload(Child.addresses),
            selectinload(Case.child).selectinload(Child.carers),
            selectinload(Case.child).selectinload(Child.siblings),
        )
    ).scalar_one_or_none()
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    return case


def timeline(session: Session, case_id: int) -> list[TimelineEntry]:
    return list(
        session.execute(
            select(TimelineEntry).where(TimelineEntry.case_id == case_id).order_by(TimelineEntry.id)
        ).scalars()
    )


def open_tasks_due(session: Session, kind: str, today: date) -> list[Task]:
    return list(
        session.execute(
            select(Task)
            .where(Task.kind == kind, Task.status == "open", Task.due <= today)
            .order_by(Task.due, Task.id)
        ).scalars()
    )


@dataclass(frozen=True)
class DueItem:
    case_id: int
    kind: str
    due: date
    overdue: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "case_id": self.case_id,
            "kind": self.kind,
            "due": self.due.isoformat(),
            "overdue": self.overdue,
        }


def due_items(session: Session, today: date, within_days: int = 7) -> list[DueItem]:
    """Open deadlines due within `within_days` of today, and every overdue one."""
    from datetime import timedelta

    horizon = today + timedelta(days=within_days)
    rows = session.execute(
        select(Task.case_id, Task.kind, Task.due)
        .where(Task.status == "open", Task.due <= horizon)
        .order_by(Task.due, Task.case_id)
    )
    return [DueItem(cid, kind, due, due < today) for cid, kind, due in rows]


def enquiry_log(session: Session, case_id: int) -> list[EnquiryLogEntry]:
    """Every contact recorded on a case, oldest first (the case page's enquiry log)."""
    return list(
        session.execute(
            select(EnquiryLogEntry)
            .where(EnquiryLogEntry.case_id == case_id)
            .order_by(EnquiryLogEntry.at, EnquiryLogEntry.id)
        ).scalars()
    )


def avenues_tried(session: Session, case_id: int) -> set[str]:
    """The agencies the enquiry log shows were contacted ("home_visit" if a visit was made)."""
    from gateway.models.casework import CaseStep

    tried = {e.agency for e in enquiry_log(session, case_id)}
    visit = session.execute(
        select(CaseStep.id).where(CaseStep.case_id == case_id, CaseStep.kind == "home_visit")
    ).first()
    if visit is not None:
        tried.add("home_visit")
    return tried


def missing_avenues(session: Session, case_id: int, policy: tuple[str, ...]) -> list[str]:
    """The agencies a policy lists that the enquiry log does not yet show."""
    tried = avenues_tried(session, case_id)
    return [a for a in policy if a not in tried]
