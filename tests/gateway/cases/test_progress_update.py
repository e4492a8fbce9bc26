"""The 10-day rule: a progress update goes out by itself; an acknowledgement ends it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.db import session_scope
from gateway.models.case import Task
from gateway.models.casework import PrintedLetter
from gateway.models.ops import OutboxMessage
from gateway.settings import load_settings
from gateway.timers import progress_updates

RECEIVED = date(2026, 12, 18)  # a Friday before Christmas
DUE = date(2027, 1, 6)  # ten working days on, past three bank holidays


def _log(engine: Engine, **extra: str) -> int:
    s = load_settings()
    values = {
        "forename": "Jojo",
        "surname": "Ambler",
        "dob": "2014-06-01",
        "sex": "M",
        "referrer_name": "Pat Head",
        "referrer_email": "head@school.example",
        "received": RECEIVED.isoformat(),
        **extra,
    }
    with session_scope(engine) as session:
        case = service.log_referral(
            session, s, build_referral_input(values, today=RECEIVED), "test"
        )
        return case.id


def _letters(session: Session, kind: str) -> list[OutboxMessage]:
    return list(session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind)).scalars())


def test_deadline_set_on_logging(engine: Engine) -> None:
    case_id = _log(engine)
    with session_scope(engine) as session:
        task = session.execute(select(Task).where(Task.case_id == case_id)).scalar_one()
        assert (task.kind, task.due, task.status) == ("progress_update", DUE, "open")


def test_progress_update_is_sent_automatically_once(engine: Engine) -> None:
    s = load_settings()
    case_id = _log(engine)
    with time_machine.travel(datetime(2027, 1, 5, 17, 0, tzinfo=UTC), tick=False):
        jobs.run_periodic(engine, s)
        with session_scope(engine) as session:
            assert _letters(session, "progress_update") == []
    with time_machine.travel(datetime(2027, 1, 6, 8, 0, tzinfo=UTC), tick=False):
        progress_updates(engine, s, datetime.now(UTC))
        progress_updates(engine, s, datetime.now(UTC))  # a second tick sends nothing more
        with session_scope(engine) as session:
            sent = _letters(session, "progress_update")
            assert len(sent) == 1
            letter = sent[0]
            assert letter.case_id == case_id and letter.to_addrs == ["head@school.example"]
            assert letter.subject == f"[CME-{case_id}] Referral progress update"
            assert b"Jojo" not in letter.raw and b"Ambler" not in letter.raw
            assert b"Auto-Submitted: auto-replied" in letter.raw
            first, repeat = session.execute(
                select(Task).where(Task.case_id == case_id).order_by(Task.id)
            ).scalars()
            assert first.status == "done"
            # Enquiries are still open: the next update is due after the repeat interval.
            assert (repeat.kind, repeat.status, repeat.detail.get("repeat")) == (
                "progress_update", "open", True,
            )  # fmt: skip
            assert repeat.due > first.due


def test_a_referrer_with_no_email_gets_a_letter_to_print_or_a_call(engine: Engine) -> None:
    s = load_settings()
    with session_scope(engine) as session:
        phoned = service.log_referral(
            session, s,
            build_referral_input(
                {"forename": "Ada", "surname": "Quill", "referrer_name": "Mr Neighbour",
                 "referrer_phone": "01642 000000", "gaps": ["date of birth missing"]},
                today=RECEIVED,
            ),
            "test",
        ).id  # fmt: skip
        posted = service.log_referral(
            session, s,
            build_referral_input(
                {"forename": "Bea", "surname": "Quill", "referrer_name": "Mrs Post",
                 "gaps": ["date of birth missing"]},
                today=RECEIVED,
            ),
            "test",
        ).id  # fmt: skip
    with session_scope(engine) as session:
        kinds = {
            cid: {
                t.kind for t in session.execute(select(Task).where(Task.case_id == cid)).scalars()
            }
            for cid in (phoned, posted)
        }
        assert "phone_referrer" in kinds[phoned] and "post_letter" in kinds[posted]
        letters = session.execute(select(PrintedLetter).order_by(PrintedLetter.id)).scalars().all()
        assert [(x.case_id, x.kind) for x in letters] == [
            (phoned, "further_enquiries"), (posted, "further_enquiries"),
        ]  # fmt: skip
        assert "date of birth" in letters[0].body and f"CME-{phoned}" in letters[0].subject


def test_acknowledgement_before_deadline_stops_the_progress_update(engine: Engine) -> None:
    s = load_settings()
    case_id = _log(engine)
    with session_scope(engine) as session:
        service.enquiries_complete(session, s, case_id, "officer")
    with time_machine.travel(datetime(2027, 2, 1, 9, 0, tzinfo=UTC), tick=False):
        progress_updates(engine, s, datetime.now(UTC))
    with session_scope(engine) as session:
        assert len(_letters(session, "acknowledgement")) == 1
        assert _letters(session, "progress_update") == []


def test_gaps_chase_the_referrer(engine: Engine) -> None:
    s = load_settings()
    values = {
        "forename": "Kit",
        "surname": "Marlow",
        "referrer_email": "ref@agency.example",
        "gaps": ["date of birth missing", "UPN check letter wrong: expected R"],
        "received": RECEIVED.isoformat(),
    }
    with session_scope(engine) as session:
        case = service.log_referral(
            session, s, build_referral_input(values, today=RECEIVED), "test"
        )
        kinds = sorted(t.kind for t in case.tasks)
        assert kinds == ["further_enquiries", "progress_update"]
        chase = _letters(session, "further_enquiries")
        assert len(chase) == 1 and b"expected R" in chase[0].raw
