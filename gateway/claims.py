"""When a school claims a lost pupil, every open case of that child here is told."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.workflow import CLOSED
from gateway.db import utcnow
from gateway.exchange.monitoring import ACTIVE, close_for_lost_pupil_claim, get_monitoring
from gateway.matching import candidates
from gateway.models.case import Case, Task, TimelineEntry
from gateway.models.child import Child
from gateway.settings import load_settings
from gateway.sqltext import same_first_word, same_text
from lost_pupil.events import PupilClaimed, subscribe

_installed = False
ACTOR = "system:lost-pupil-claim"


def matching_open_cases(session: Session, event: PupilClaimed) -> tuple[list[Case], list[Case]]:
    """Open cases of the claimed child: (certain by UPN, possible by name and DOB)."""
    upns = [u for u in (event.upn, *event.former_upns) if u]
    certain: list[Case] = []
    if upns:
        certain = list(
            session.execute(
                select(Case).join(Child).where(Case.status != CLOSED, Child.upn.in_(upns))
            ).scalars()
        )
    possible: list[Case] = []
    if event.surname and event.forename and event.dob:
        possible = list(
            session.execute(
                select(Case)
                .join(Child)
                .where(
                    Case.status != CLOSED,
                    Child.dob == event.dob,
                    same_text(Child.surname, event.surname),
                    same_first_word(Child.forenames, event.forename),
                )
            ).scalars()
        )
    seen = {c.id for c in certain}
    return certain, [c for c in possible if c.id not in seen]


def on_pupil_claimed(session: Session, event: PupilClaimed) -> None:
    """A UPN-certain case on the monitoring list closes with the placement; any other
    matching open case gets a timeline entry and a task for the officer to confirm."""
    settings = load_settings()
    certain, possible = matching_open_cases(session, event)
    summary = (
        f"Lost-pupil record {event.pupil_id} claimed: on roll at "
        f"{event.school_laestab} from {event.on_roll_from.isoformat()}"
    )
    for case in certain:
        monitoring = get_monitoring(session, case.id)
        if monitoring is not None and monitoring.status == ACTIVE:
            session.add(
                TimelineEntry(
                    case_id=case.id, kind="lost_pupil_claim", summary=summary, actor=ACTOR
                )
            )
            close_for_lost_pupil_claim(
                session,
                settings,
                case.id,
                school_laestab=event.school_laestab,
                start_date=event.on_roll_from,
                actor=ACTOR,
            )
            audit.record(
                session,
                actor=ACTOR,
                action="case.claim_closed",
                entity="case",
                entity_id=case.id,
                detail={"pupil_id": event.pupil_id},
            )
            continue
        possible.append(case)
    for case in possible:
        session.add(
            TimelineEntry(case_id=case.id, kind="lost_pupil_claim", summary=summary, actor=ACTOR)
        )
        session.add(
            Task(
                case_id=case.id,
                kind="review_claim",
                due=utcnow().date(),
                detail={
                    "pupil_id": event.pupil_id,
                    "school": event.school_laestab,
                    "on_roll_from": event.on_roll_from.isoformat(),
                },
            )
        )
        audit.record(
            session,
            actor=ACTOR,
            action="case.claim_noted",
            entity="case",
            entity_id=case.id,
            detail={"pupil_id": event.pupil_id},
        )


def install() -> None:
    """Subscribe once per process (the CLI and the web app both call this)."""
    global _installed
    if not _installed:
        subscribe(PupilClaimed, on_pupil_claimed)
        candidates.install()
        _installed = True
