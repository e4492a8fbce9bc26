"""A lost-pupil claim closes a monitored case when certain, and asks the officer otherwise."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select

from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.claims import install
from gateway.db import session_scope, utcnow
from gateway.models.case import Case, Task
from gateway.models.exchange import Monitoring
from gateway.settings import load_settings
from lost_pupil.events import PupilClaimed, publish

TODAY = date(2026, 11, 2)


def _case(engine: Engine, **values: str) -> int:
    s = load_settings()
    with session_scope(engine) as session:
        data = build_referral_input(
            {"forename": "Rosa", "surname": "Dunmore", "dob": "2015-04-03", "sex": "F", **values},
            today=TODAY,
        )
        return service.log_referral(session, s, data, "test").id


def _claim(upn: str | None, forename: str = "Rosa") -> PupilClaimed:
    return PupilClaimed(
        pupil_id=41,
        upn=upn,
        former_upns=(),
        surname="Dunmore",
        forename=forename,
        dob=date(2015, 4, 3),
        sex="F",
        postcode=None,
        source_laestab="8073000",
        school_laestab="8064001",
        on_roll_from=date(2026, 11, 20),
        claimed_by="school:8064001",
    )


def test_monitored_case_with_the_same_upn_closes(engine: Engine) -> None:
    install()
    case_id = _case(engine, upn="R807300024001")
    with session_scope(engine) as session:
        session.add(Monitoring(case_id=case_id, partner_la="806", next_check_at=utcnow()))
    with session_scope(engine) as session:
        publish(session, _claim("R807300024001"))
    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == "closed"
        assert case.outcome == "on_roll_other_la"
        assert case.outcome_detail == {
            "la_code": "806",
            "school": "8064001",
            "start_date": "2026-11-20",
        }
        mon = session.execute(select(Monitoring)).scalar_one()
        assert mon.status != "active"


def test_name_and_dob_match_only_asks_the_officer(engine: Engine) -> None:
    install()
    case_id = _case(engine)
    other = _case(engine, forename="Ruby")  # a sister: not told
    with session_scope(engine) as session:
        publish(session, _claim(None))
    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == "logged"
        kinds = session.execute(
            select(Task.case_id, Task.kind).where(Task.kind == "review_claim")
        ).all()
        assert kinds == [(case_id, "review_claim")]
        assert other != case_id
