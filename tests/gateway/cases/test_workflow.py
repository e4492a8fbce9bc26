"""Every transition allowed and refused; closing rules; escalations never close."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy.orm import Session

from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.cases.workflow import CLOSED, WorkflowError, load_workflow
from gateway.models.case import Case
from gateway.settings import load_settings

WF = load_workflow()
PAIRS = [(a, b) for a, b in itertools.product(WF.statuses, WF.statuses) if b != CLOSED]


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_every_transition_is_allowed_or_refused(current: str, target: str) -> None:
    allowed = current != CLOSED and target in WF.transitions.get(current, ())
    if allowed:
        WF.check_move(current, target)
    else:
        with pytest.raises(WorkflowError):
            WF.check_move(current, target)


def test_moving_to_closed_needs_close() -> None:
    with pytest.raises(WorkflowError, match="close"):
        WF.check_move("locating", CLOSED)


def test_unknown_status_is_named() -> None:
    with pytest.raises(WorkflowError, match="unknown status 'lost'"):
        WF.check_move("logged", "lost")


def test_outcome_needs_its_details_and_no_trace_needs_a_manager() -> None:
    with pytest.raises(WorkflowError, match="school, start_date"):
        WF.check_close("locating", "on_roll_this_la", {}, None)
    WF.check_close(
        "locating", "on_roll_this_la", {"school": "8074001", "start_date": "2026-11-02"}, None
    )
    with pytest.raises(WorkflowError, match="manager"):
        WF.check_close("whereabouts_unknown_tracking", "no_trace", {}, None)
    assert WF.check_close("whereabouts_unknown_tracking", "no_trace", {}, "M Manager").code == (
        "no_trace"
    )
    with pytest.raises(WorkflowError, match="unknown outcome"):
        WF.check_close("locating", "found", {}, None)


def _case(session: Session) -> Case:
    s = load_settings()
    data = build_referral_input(
        {
            "forename": "Tia",
            "surname": "Quorn",
            "dob": "2016-02-29",
            "sex": "F",
            "referrer_name": "R Ref",
            "referrer_email": "r@school.example",
        },
        today=date(2026, 11, 2),
    )
    case = service.log_referral(session, s, data, "test")
    session.commit()
    return case


def test_case_walks_the_process_and_closes(session: Session) -> None:
    s = load_settings()
    case = _case(session)
    assert case.status == "logged"
    for status in ("checking_status", "locating", "securing_place", "placed_monitoring"):
        service.move_case(session, s, case.id, status, "test")
    service.close_case(
        session,
        s,
        case.id,
        "on_roll_this_la",
        {"school": "8074001", "start_date": "2026-11-20"},
        "test",
    )
    session.commit()
    assert case.status == CLOSED and case.outcome == "on_roll_this_la"
    assert all(t.status != "open" for t in case.tasks)
    with pytest.raises(WorkflowError, match="closed"):
        service.move_case(session, s, case.id, "locating", "test")


def test_refused_move_changes_nothing(session: Session) -> None:
    s = load_settings()
    case = _case(session)
    with pytest.raises(WorkflowError, match="allowed: checking_status, locating"):
        service.move_case(session, s, case.id, "placed_monitoring", "test")
    session.rollback()
    assert session.get(Case, case.id).status == "logged"  # type: ignore[union-attr]


def test_escalation_does_not_close(session: Session) -> None:
    s = load_settings()
    case = _case(session)
    for flag in ("social_care", "police", "vemt"):
        service.escalate(session, s, case.id, flag, "test")
    session.commit()
    assert case.status == "logged"
    assert set(case.escalations) == {"social_care", "police", "vemt"}
    service.escalate(session, s, case.id, "police", "test", on=False)
    assert set(case.escalations) == {"social_care", "vemt"}
    with pytest.raises(WorkflowError, match="unknown escalation"):
        service.escalate(session, s, case.id, "army", "test")


def test_a_local_workflow_file_is_honoured(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from importlib import resources

    text = resources.files("gateway.cases").joinpath("workflow.toml").read_text("utf-8")
    custom = tmp_path / "wf.toml"
    custom.write_text(
        text.replace('logged = ["checking_status", "locating"]', 'logged = ["locating"]')
    )
    wf = load_workflow(str(custom))
    with pytest.raises(WorkflowError):
        wf.check_move("logged", "checking_status")
    wf.check_move("logged", "locating")


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_every_path_is_made_of_allowed_moves(current: str, target: str) -> None:
    path = WF.path_to(current, target)
    if current == target:
        assert path == []
        return
    if path is None:  # nothing gets there: no move from here leads on to it
        assert current == CLOSED or target == WF.initial or target == "received"
        return
    assert path[-1] == target
    for here, there in zip([current, *path], path, strict=False):
        WF.check_move(here, there)


def test_the_shortest_path_takes_the_first_allowed_move_the_file_lists() -> None:
    assert WF.path_to("logged", "moved_out_tracking") == ["checking_status", "moved_out_tracking"]
    assert WF.path_to("moved_out_tracking", "securing_place") == ["locating", "securing_place"]
    assert WF.path_to("locating", "logged") is None
