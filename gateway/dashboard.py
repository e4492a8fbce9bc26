"""The officer's dashboard: what needs them today, each count a link to its list.

Every figure is one indexed query (the page stays fast at tens of thousands of cases):
my cases and the team's, urgent and safeguarding first; referrals awaiting triage;
tasks due and overdue by kind; partner answers awaiting approval; dead letters; held
messages; matches to review; replies nobody has read; children monitored out of area.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway.cases.workflow import CLOSED
from gateway.exchange.records import MonitoringStatus
from gateway.matching.candidates import OPEN_STATES
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.child import Child
from gateway.models.exchange import ExchangeMessage, Monitoring, Proposal
from gateway.models.intake import QuarantineEntry, QuarantineStatus
from gateway.models.matching import MatchCandidate
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral, TriageStatus, Urgency

#: Tasks "due soon" look this far ahead.
HORIZON_DAYS = 7
MY_CASES_SHOWN = 10
TASKS_SHOWN = 15


@dataclass(frozen=True)
class CaseLine:
    id: int
    forename: str
    surname: str
    status: str
    opened_on: date
    urgency: str

    @property
    def tag(self) -> str:
        return f"CME-{self.id}"


@dataclass(frozen=True)
class TaskLine:
    case_id: int
    kind: str
    due: date
    overdue: bool


@dataclass(frozen=True)
class Dashboard:
    my_open: int
    team_open: int
    unallocated: int
    urgent_open: int
    my_cases: tuple[CaseLine, ...]
    awaiting_triage: int
    urgent_triage: int
    matches_to_review: int
    tasks: tuple[TaskLine, ...]
    tasks_due_soon: int
    tasks_overdue: int
    overdue_by_kind: dict[str, int]
    partner_answers: int
    dead_letters: int
    held_messages: int
    new_replies: int
    monitored: int


#: Case.urgency_rank in words.
RANKS = {2: Urgency.SAFEGUARDING.value, 1: Urgency.URGENT.value}


def _count(session: Session, stmt: Any) -> int:
    return int(session.execute(stmt).scalar_one())


def dashboard(session: Session, username: str, today: date) -> Dashboard:
    open_case = Case.status != CLOSED
    mine = (
        select(
            Case.id, Child.forenames, Child.surname, Case.status, Case.opened_on,
            Case.urgency_rank,
        )
        .join(Child, Child.id == Case.child_id)
        .where(open_case, Case.allocated_to == username)
        .order_by(Case.urgency_rank.desc(), Case.opened_on, Case.id)
        .limit(MY_CASES_SHOWN)
    )  # fmt: skip
    my_cases = tuple(
        CaseLine(i, f, sn, st, o, RANKS.get(int(r), Urgency.ROUTINE.value))
        for i, f, sn, st, o, r in session.execute(mine)
    )
    horizon = today + timedelta(days=HORIZON_DAYS)
    due = session.execute(
        select(Task.case_id, Task.kind, Task.due)
        .join(Case, Case.id == Task.case_id)
        .where(Task.status == "open", Task.due <= horizon, open_case)
        .where((Case.allocated_to == username) | Case.allocated_to.is_(None))
        .order_by(Task.due, Task.id)
        .limit(TASKS_SHOWN)
    ).all()
    overdue_by_kind = dict(
        session.execute(
            select(Task.kind, func.count(Task.id))
            .where(Task.status == "open", Task.due < today)
            .group_by(Task.kind)
        ).all()
    )
    # One pass over the open cases (an index-only scan of ix_cases_open_figures).
    mine_n, nobody_n, urgent_n, open_n = session.execute(
        select(
            func.coalesce(func.sum(case((Case.allocated_to == username, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Case.allocated_to.is_(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Case.urgency_rank > 0, 1), else_=0)), 0),
            func.count(),
        ).where(open_case)
    ).one()
    return Dashboard(
        my_open=int(mine_n),
        team_open=int(open_n),
        unallocated=int(nobody_n),
        urgent_open=int(urgent_n),
        my_cases=my_cases,
        awaiting_triage=_count(
            session,
            select(func.count(Referral.id)).where(
                Referral.triage_status == TriageStatus.AWAITING.value
            ),
        ),
        urgent_triage=_count(
            session,
            select(func.count(Referral.id)).where(
                Referral.triage_status == TriageStatus.AWAITING.value,
                Referral.urgency != Urgency.ROUTINE.value,
            ),
        ),
        matches_to_review=_count(
            session,
            select(func.count(MatchCandidate.id)).where(MatchCandidate.state.in_(OPEN_STATES)),
        ),
        tasks=tuple(TaskLine(c, k, d, d < today) for c, k, d in due),
        tasks_due_soon=_count(
            session,
            select(func.count(Task.id)).where(
                Task.status == "open", Task.due >= today, Task.due <= horizon
            ),
        ),
        tasks_overdue=sum(int(n) for n in overdue_by_kind.values()),
        overdue_by_kind={str(k): int(n) for k, n in overdue_by_kind.items()},
        partner_answers=_count(
            session, select(func.count(Proposal.id)).where(Proposal.status == "pending")
        ),
        dead_letters=_count(
            session, select(func.count(ExchangeMessage.id)).where(ExchangeMessage.status == "dead")
        )
        + _count(
            session, select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "dead")
        ),
        held_messages=_count(
            session,
            select(func.count(QuarantineEntry.id)).where(
                QuarantineEntry.status == QuarantineStatus.OPEN.value
            ),
        ),
        new_replies=_count(
            session, select(func.count(TimelineEntry.id)).where(TimelineEntry.unread.is_(True))
        ),
        monitored=_count(
            session,
            select(func.count(Monitoring.id)).where(
                Monitoring.status == MonitoringStatus.ACTIVE.value
            ),
        ),
    )
