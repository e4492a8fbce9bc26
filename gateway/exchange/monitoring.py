"""Children who moved to another LA: watched, with status requests, until placed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, func, or_, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases import service as cases
from gateway.cases.queries import get_case
from gateway.cases.workflow import CLOSED, MOVED_OUT
from gateway.db import session_scope, utcnow
from gateway.exchange.documents import new_header, pupil_from_case
from gateway.exchange.errors import ExchangeError
from gateway.exchange.labels import REPLY_STATUSES, label
from gateway.exchange.outbound import queue_document
from gateway.exchange.partners import get_partner
from gateway.exchange.records import LAWFUL_BASIS, MonitoringStatus
from gateway.models.case import Case, TimelineEntry
from gateway.models.exchange import Monitoring, Proposal
from gateway.settings import Settings
from parsers.exchange import DocType, Document, Outcome, ReplyStatus

ACTIVE = MonitoringStatus.ACTIVE.value
CLOSED_MONITORING = MonitoringStatus.CLOSED.value


def _interval(settings: Settings) -> timedelta:
    return timedelta(days=settings.exchange.monitoring_interval_days)


def get_monitoring(session: Session, case_id: int) -> Monitoring | None:
    return session.execute(
        select(Monitoring).where(Monitoring.case_id == case_id)
    ).scalar_one_or_none()


def start(
    session: Session, settings: Settings, case_id: int, partner_la: str, actor: str
) -> Monitoring:
    """Keep a case on the monitoring list with that partner (idempotent: monitoring that
    is already running with that partner is left as it is, and the timeline says it once)."""
    case = get_case(session, case_id)
    if case.status == CLOSED:
        raise ExchangeError(f"case {case_id} is closed; reopen it before monitoring it")
    partner = get_partner(session, partner_la)
    row = get_monitoring(session, case_id)
    now = utcnow()
    already = row is not None and row.status == ACTIVE and row.partner_la == partner_la
    if row is None:
        row = Monitoring(case_id=case_id, partner_la=partner_la, started_at=now)
        session.add(row)
    row.partner_la = partner_la
    row.status = ACTIVE
    row.next_check_at = now + _interval(settings)
    row.closed_at = None
    row.closed_reason = None
    # By the workflow's allowed moves (a logged case through checking status); a workflow
    # file with no way there leaves the status, and monitoring still applies.
    cases.move_towards(session, settings, case_id, MOVED_OUT, actor)
    if not already:
        every = settings.exchange.monitoring_interval_days
        session.add(
            TimelineEntry(
                case_id=case_id,
                kind="exchange",
                summary=f"Monitoring started with {partner.name} (LA {partner_la}): "
                f"a status request every {every} day{'s' if every != 1 else ''} until the "
                "child is registered at a school",
                actor=actor,
                ref=f"monitoring:{partner_la}",
            )
        )
    audit.record(
        session,
        actor=actor,
        action="monitoring.start",
        entity="case",
        entity_id=case_id,
        detail={"partner_la": partner_la},
    )
    session.flush()
    return row


def list_active(session: Session) -> list[Monitoring]:
    return list(
        session.execute(
            select(Monitoring).where(Monitoring.status == ACTIVE).order_by(Monitoring.next_check_at)
        ).scalars()
    )


def note_reply(
    session: Session, settings: Settings, case_id: int, partner_la: str, outcome: Outcome
) -> None:
    """Any answer from the partner counts as a confirmation of where things stand."""
    row = get_monitoring(session, case_id)
    if row is not None and row.status == ACTIVE and row.partner_la == partner_la:
        row.last_confirmation_at = utcnow()


def close_on_placement(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    la_code: str,
    school: str,
    start_date: date,
    actor: str,
    reason: str,
) -> None:
    """A confirmed school registration closes monitoring and the case with that outcome."""
    row = get_monitoring(session, case_id)
    if row is not None and row.status == ACTIVE:
        row.status = CLOSED_MONITORING
        row.closed_at = utcnow()
        row.closed_reason = reason
        row.last_confirmation_at = utcnow()
    case = get_case(session, case_id)
    if case.status != CLOSED:
        outcome = "on_roll_other_la" if la_code != settings.core.la_code else "on_roll_this_la"
        cases.close_case(
            session,
            settings,
            case_id,
            outcome,
            {"la_code": la_code, "school": school, "start_date": start_date.isoformat()},
            actor,
        )


def close_for_lost_pupil_claim(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    school_laestab: str,
    start_date: date,
    actor: str,
) -> None:
    """A lost-pupil claim from the store (a school took the child) closes monitoring too."""
    close_on_placement(
        session,
        settings,
        case_id,
        la_code=school_laestab[:3],
        school=school_laestab,
        start_date=start_date,
        actor=actor,
        reason="lost-pupil claim",
    )


def apply_confirmed(
    session: Session, settings: Settings, proposal: Proposal, actor: str, override: dict[str, Any]
) -> None:
    """The officer confirmed the partner's answer: apply it to our case."""
    detail = {**proposal.detail, **override}
    case_id = proposal.case_id
    assert case_id is not None
    partner_la = str(detail["from_la"])
    status = detail.get("status")
    if status == ReplyStatus.ON_ROLL.value:
        if not (detail.get("laestab") and detail.get("start_date")):
            raise ExchangeError("closing on a placement needs the school (LAESTAB) and start date")
        close_on_placement(
            session,
            settings,
            case_id,
            la_code=partner_la,
            school=str(detail["laestab"]),
            start_date=date.fromisoformat(str(detail["start_date"])),
            actor=actor,
            reason=f"on roll confirmed by LA {partner_la}",
        )
    elif status in {
        ReplyStatus.KNOWN_AT_ADDRESS.value,
        ReplyStatus.APPLICATION_IN_PROGRESS.value,
        ReplyStatus.MOVED_ON.value,
    }:
        target = str(detail.get("moved_to_la") or partner_la)
        if target != settings.core.la_code:
            start(session, settings, case_id, target, actor)
    session.add(
        TimelineEntry(
            case_id=case_id,
            kind="exchange",
            summary=f"Answer from LA {partner_la} approved: "
            + (label(REPLY_STATUSES, status) if status else "their words read"),
            actor=actor,
            ref=f"proposal:{proposal.id}",
        )
    )


def send_due_status_requests(
    engine: Engine, settings: Settings, now: datetime | None = None
) -> int:
    """Queue a status request for every monitored case whose check is due."""
    now = now or utcnow()
    sent = 0
    with session_scope(engine) as session:
        due = session.execute(
            select(Monitoring).where(Monitoring.status == ACTIVE, Monitoring.next_check_at <= now)
        ).scalars()
        for row in list(due):
            case = get_case(session, row.case_id)
            if case.status == CLOSED:
                # Closing ends monitoring; a row left active from before that rule is ended
                # here rather than sending the child's details about a closed case.
                cases.end_monitoring(session, case, "case closed")
                continue
            doc = Document(
                DocType.STATUS_REQUEST,
                new_header(settings, row.partner_la),
                case_ref=case.tag,
                lawful_basis=LAWFUL_BASIS,
                pupil=pupil_from_case(case),
                note="Monitoring: is this child now registered at a school in your area?",
            )
            queue_document(session, settings, doc, actor="exchange:monitoring", case_id=case.id)
            row.next_check_at = now + _interval(settings)
            session.add(
                TimelineEntry(
                    case_id=case.id,
                    kind="exchange",
                    summary=f"Status request sent to LA {row.partner_la}: is the child "
                    "registered at a school there?",
                    actor="exchange:monitoring",
                    ref=f"exchange:{doc.header.message_id}",
                )
            )
            sent += 1
    return sent


@dataclass(frozen=True)
class MonitoredChild:
    """One row of the monitoring list (the console page and `cme monitoring list`)."""

    case_id: int
    forename: str
    surname: str
    partner_la: str
    partner_name: str
    started_at: datetime
    last_confirmation_at: datetime | None
    next_check_at: datetime
    overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "partner_la": self.partner_la,
            "partner": self.partner_name,
            "started": self.started_at.isoformat(),
            "last_confirmed": self.last_confirmation_at.isoformat()
            if self.last_confirmation_at
            else None,
            "next_request": self.next_check_at.isoformat(),
            "overdue": self.overdue,
        }


def _monitored_rows(
    session: Session,
    settings: Settings,
    now: datetime | None,
    *,
    case_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[MonitoredChild]:
    from gateway.models.child import Child
    from gateway.models.exchange import ExchangePartner

    now = now or utcnow()
    stale = now - 2 * _interval(settings)
    overdue = or_(
        Monitoring.next_check_at <= now,
        func.coalesce(Monitoring.last_confirmation_at, Monitoring.started_at) < stale,
    )
    stmt = (
        select(Monitoring, Child.forenames, Child.surname, ExchangePartner.name, overdue)
        .join(Case, Case.id == Monitoring.case_id)
        .join(Child, Child.id == Case.child_id)
        .outerjoin(ExchangePartner, ExchangePartner.la_code == Monitoring.partner_la)
        .where(Monitoring.status == ACTIVE)
        # Overdue first, then by when the next request is due.
        .order_by(case((overdue, 0), else_=1), Monitoring.next_check_at, Monitoring.id)
        .offset(offset)
    )
    if case_id is not None:
        stmt = stmt.where(Monitoring.case_id == case_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        MonitoredChild(
            m.case_id,
            forename,
            surname,
            m.partner_la,
            name or f"LA {m.partner_la}",
            m.started_at,
            m.last_confirmation_at,
            m.next_check_at,
            bool(late),
        )
        for m, forename, surname, name, late in session.execute(stmt).all()
    ]


def monitoring_list(
    session: Session, settings: Settings, now: datetime | None = None
) -> list[MonitoredChild]:
    """Every child monitored out of area, overdue first: a request is overdue when its day
    has passed, or the partner has not confirmed anything for two intervals."""
    return _monitored_rows(session, settings, now)


def monitoring_page(
    session: Session, settings: Settings, now: datetime | None, *, limit: int, offset: int
) -> tuple[list[MonitoredChild], int]:
    """One page of the monitoring list (overdue first) and how many are monitored."""
    total = session.execute(
        select(func.count(Monitoring.id)).where(Monitoring.status == ACTIVE)
    ).scalar_one()
    return _monitored_rows(session, settings, now, limit=limit, offset=offset), int(total)


def monitored_child(
    session: Session, settings: Settings, case_id: int, now: datetime | None = None
) -> MonitoredChild | None:
    """One child's row of the monitoring list, or None if the case is not monitored."""
    rows = _monitored_rows(session, settings, now, case_id=case_id)
    return rows[0] if rows else None


def request_now(session: Session, settings: Settings, case_id: int, actor: str) -> None:
    """Send a status request at once (the officer asked): due now, sent by the next tick."""
    row = get_monitoring(session, case_id)
    if row is None or row.status != ACTIVE:
        raise ExchangeError(f"case {case_id} is not being monitored")
    row.next_check_at = utcnow()
    audit.record(
        session, actor=actor, action="monitoring.request_now", entity="case", entity_id=case_id
    )
    session.flush()


def stop(session: Session, case_id: int, reason: str, actor: str) -> Monitoring:
    """Stop monitoring a child (the case stays open), with the reason, on the timeline."""
    if not reason.strip():
        raise ExchangeError("say why monitoring stops")
    row = get_monitoring(session, case_id)
    if row is None or row.status != ACTIVE:
        raise ExchangeError(f"case {case_id} is not being monitored")
    row.status = CLOSED_MONITORING
    row.closed_at = utcnow()
    row.closed_reason = reason.strip()[:200]
    session.add(
        TimelineEntry(
            case_id=case_id, kind="monitoring", actor=actor,
            summary=f"Monitoring with LA {row.partner_la} stopped: {reason.strip()}",
        )
    )  # fmt: skip
    audit.record(
        session, actor=actor, action="monitoring.stop", entity="case", entity_id=case_id,
        detail={"reason": reason.strip()},
    )  # fmt: skip
    session.flush()
    return row
