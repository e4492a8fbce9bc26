"""What is due for disposal on a day: closed cases (each with the cases merged into it),
dismissed referrals, quarantined messages and refused exchange posts. Ids, rules and dates
only: nothing here reads a name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from gateway.cases.workflow import CLOSED
from gateway.models.case import Case
from gateway.models.child import Child
from gateway.models.exchange import QuarantinedMessage
from gateway.models.intake import QuarantineEntry, QuarantineStatus, RawMessage
from gateway.models.referral import Referral, TriageStatus
from gateway.retention.policy import (
    Due,
    Rule,
    case_due,
    loosest_bounds,
    quarantine_due,
    referral_due,
)
from gateway.settings import Settings

CHUNK = 500


class Subject:
    CASE = "case"
    REFERRAL = "referral"
    QUARANTINE = "quarantine"  # an intake message held or discarded (by its raw id)
    EXCHANGE_QUARANTINE = "exchange_quarantine"  # a refused exchange post or mail


@dataclass(frozen=True)
class Item:
    """One thing due: what it is (its id), the rule and the day; `held`: a legal hold keeps it."""

    subject: str
    subject_id: int
    due: Due
    held: bool = False
    # A case and the cases merged into it: they go together.
    cases: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "id": self.subject_id,
            "rule": self.due.label,
            "due_on": self.due.on.isoformat(),
            "held": self.held,
            **({"merged_cases": list(self.cases[1:])} if len(self.cases) > 1 else {}),
        }


def chunks(values: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _local(settings: Settings, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(settings.core.timezone)).date()


def _before(settings: Settings, day: date) -> datetime:
    """Midnight at the start of `day`, local time: a moment earlier is on an earlier day."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(settings.core.timezone))


def find_due(session: Session, settings: Settings, on: date) -> list[Item]:
    """Everything due on or before `on`, held cases included (marked), in subject order."""
    return [
        *case_items(session, settings, on),
        *referral_items(session, settings, on),
        *quarantine_items(session, settings, on),
        *exchange_quarantine_items(session, settings, on),
    ]


def case_items(
    session: Session,
    settings: Settings,
    on: date,
    *,
    ids: list[int] | None = None,
    lock: bool = False,
) -> list[Item]:
    """Closed cases due on `on` (a case merged into another goes with it, never alone).

    One query finds a superset (the shortest rule for everyone), then each candidate's
    flags and merged cases settle its own date."""
    policy = settings.retention
    latest_dob, latest_close, latest_close_no_dob = loosest_bounds(policy, on)
    stmt: Any = (
        select(Case.id, Case.closed_at, Case.legal_hold, Child.dob)
        .join(Child, Child.id == Case.child_id)
        .where(
            Case.status == CLOSED,
            Case.merged_into_id.is_(None),
            Case.closed_at.is_not(None),
            or_(
                and_(
                    Child.dob.is_not(None),
                    Child.dob <= latest_dob,
                    Case.closed_at < _before(settings, latest_close),
                ),
                and_(Child.dob.is_(None), Case.closed_at < _before(settings, latest_close_no_dob)),
            ),
        )
        .order_by(Case.id)
    )
    if ids is not None:
        stmt = stmt.where(Case.id.in_(ids))
    if lock and session.get_bind().dialect.name == "postgresql":
        # Two workers never dispose of one case; the second skips what the first holds.
        stmt = stmt.with_for_update(of=Case, skip_locked=True)
    roots = session.execute(stmt).all()
    if not roots:
        return []
    merged = _merged_families(session)
    families = {root.id: _family(root.id, merged) for root in roots}
    members = {
        cid: info for fam in families.values() for cid, info in fam.items() if info is not None
    }
    flags: dict[int, set[str]] = defaultdict(set)
    every_case = [cid for fam in families.values() for cid in fam]
    for batch in chunks(every_case):
        for case_id, case_flags in session.execute(
            select(Referral.case_id, Referral.flags).where(Referral.case_id.in_(batch))
        ):
            flags[case_id].update(k for k, v in (case_flags or {}).items() if v)
    out = []
    for root in roots:
        family = families[root.id]
        rest = [members[cid] for cid in family if cid != root.id]
        if any(status != CLOSED or closed_at is None for status, _, closed_at in rest):
            continue  # a merged case was reopened: the family is not closed
        closed = [root.closed_at, *(closed_at for _, _, closed_at in rest)]
        due = case_due(
            policy,
            dob=root.dob,
            closed_on=_local(settings, max(closed)),
            flags=set().union(*(flags[cid] for cid in family)),
        )
        if due.on <= on:
            held = bool(root.legal_hold) or any(hold for _, hold, _ in rest)
            out.append(Item(Subject.CASE, root.id, due, held, tuple(family)))
    return out


def _merged_families(session: Session) -> dict[int, list[tuple[int, str, bool, datetime | None]]]:
    """Case -> the cases merged straight into it (id, status, hold, closed)."""
    into: dict[int, list[tuple[int, str, bool, datetime | None]]] = defaultdict(list)
    for cid, parent, status, hold, closed_at in session.execute(
        select(Case.id, Case.merged_into_id, Case.status, Case.legal_hold, Case.closed_at).where(
            Case.merged_into_id.is_not(None)
        )
    ):
        if parent is not None:
            into[parent].append((cid, status, bool(hold), closed_at))
    return into


def _family(
    root: int, merged: dict[int, list[tuple[int, str, bool, datetime | None]]]
) -> dict[int, tuple[str, bool, datetime | None] | None]:
    """The root (None: its own row says) and every case merged into it, at any depth."""
    family: dict[int, tuple[str, bool, datetime | None] | None] = {root: None}
    todo = [root]
    while todo:
        for cid, status, hold, closed_at in merged.get(todo.pop(), ()):
            if cid not in family:
                family[cid] = (status, hold, closed_at)
                todo.append(cid)
    return family


def referral_items(
    session: Session, settings: Settings, on: date, *, ids: list[int] | None = None
) -> list[Item]:
    """Referrals dismissed at triage (never a case), due `dismissed_referral_days` after."""
    policy = settings.retention
    when = func.coalesce(Referral.triaged_at, Referral.created_at)
    cut = _before(settings, on - timedelta(days=policy.dismissed_referral_days - 2))
    stmt = (
        select(Referral.id, when)
        .where(
            Referral.triage_status == TriageStatus.DISMISSED.value,
            Referral.case_id.is_(None),
            when < cut,
        )
        .order_by(Referral.id)
    )
    if ids is not None:
        stmt = stmt.where(Referral.id.in_(ids))
    out = []
    for rid, dismissed_at in session.execute(stmt):
        due = referral_due(policy, dismissed_on=_local(settings, _aware(dismissed_at)))
        if due.on <= on:
            out.append(Item(Subject.REFERRAL, rid, due))
    return out


def quarantine_items(
    session: Session, settings: Settings, on: date, *, ids: list[int] | None = None
) -> list[Item]:
    """Intake messages whose latest quarantine entry is still held or was discarded, that
    never became a referral or joined a case (those go with the referral or case)."""
    policy = settings.retention
    latest = (
        select(func.max(QuarantineEntry.id).label("id")).group_by(QuarantineEntry.raw_id).subquery()
    )
    shortest = min(policy.quarantine_discarded_days, policy.quarantine_held_days)
    stmt = (
        select(
            QuarantineEntry.raw_id,
            QuarantineEntry.status,
            QuarantineEntry.created_at,
            QuarantineEntry.resolved_at,
        )
        .join(latest, latest.c.id == QuarantineEntry.id)
        .join(RawMessage, RawMessage.id == QuarantineEntry.raw_id)
        .where(
            QuarantineEntry.status.in_(
                [QuarantineStatus.OPEN.value, QuarantineStatus.DISCARDED.value]
            ),
            QuarantineEntry.created_at < _before(settings, on - timedelta(days=shortest - 2)),
            RawMessage.case_id.is_(None),
            ~exists().where(Referral.raw_id == RawMessage.id),
        )
        .order_by(QuarantineEntry.raw_id)
    )
    if ids is not None:
        stmt = stmt.where(QuarantineEntry.raw_id.in_(ids))
    out = []
    for raw_id, status, created_at, resolved_at in session.execute(stmt):
        discarded = status == QuarantineStatus.DISCARDED.value
        due = quarantine_due(
            policy,
            held_on=_local(settings, created_at),
            discarded_on=_local(settings, resolved_at or created_at) if discarded else None,
        )
        if due.on <= on:
            out.append(Item(Subject.QUARANTINE, raw_id, due))
    return out


def exchange_quarantine_items(
    session: Session, settings: Settings, on: date, *, ids: list[int] | None = None
) -> list[Item]:
    """Refused exchange posts and mails (a bounded record, or kept whole when signed)."""
    days = settings.retention.quarantine_held_days
    stmt = (
        select(QuarantinedMessage.id, QuarantinedMessage.at)
        .where(QuarantinedMessage.at < _before(settings, on - timedelta(days=days - 2)))
        .order_by(QuarantinedMessage.id)
    )
    if ids is not None:
        stmt = stmt.where(QuarantinedMessage.id.in_(ids))
    out = []
    for qid, at in session.execute(stmt):
        due = Due(_local(settings, at) + timedelta(days=days), Rule.QUARANTINE_HELD)
        if due.on <= on:
            out.append(Item(Subject.EXCHANGE_QUARANTINE, qid, due))
    return out


def _aware(value: datetime) -> datetime:
    # coalesce() loses the column type on SQLite: the value may come back naive (UTC).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("UTC"))
