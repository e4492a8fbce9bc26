"""A term of history for the reports: cases opened week by week over the last 14 weeks and
worked to the outcomes the workflow lists, and referrals found not to be CME.

Each case goes the way such a case goes (checked, located, assessed, placed), through the
same service calls as the live caseload, and is then dated back (casework.Desk.backdate).
A case whose story would end after today is left open where it has got to.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from gateway.cases import steps
from gateway.demo.casework import Desk, at
from gateway.demo.people import OUR_SCHOOLS, People
from gateway.triage import service as triage

WEEKS = 14

#: (outcome, the statuses the case passes through before it closes)
STORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("on_roll_this_la", ("checking_status", "locating", "assessing_needs", "securing_place",
                         "placed_monitoring")),
    ("on_roll_other_la", ("checking_status", "locating", "moved_out_tracking")),
    ("not_cme", ("checking_status",)),
    ("ehe_notified", ("checking_status",)),
    ("on_roll_this_la", ("checking_status", "securing_place", "placed_monitoring")),
    ("independent_school", ("checking_status", "locating")),
    ("alternative_provision", ("checking_status", "assessing_needs", "securing_place")),
    ("left_england", ("locating", "whereabouts_unknown_tracking")),
    ("on_roll_other_la", ("locating", "moved_out_tracking")),
    ("moved_to_wales_scotland_ni", ("locating", "moved_out_tracking")),
    ("over_compulsory_age", ("checking_status",)),
    ("no_trace", ("locating", "whereabouts_unknown_tracking")),
)  # fmt: skip

DISMISSALS = ("on_roll", "not_resident", "ehe", "not_a_referral", "duplicate")


def _detail(outcome: str, closed: date) -> dict[str, Any]:
    if outcome == "on_roll_this_la":
        place = OUR_SCHOOLS[closed.toordinal() % len(OUR_SCHOOLS)]
        return {"school": place.laestab, "start_date": closed.isoformat()}
    if outcome == "on_roll_other_la":
        return {"la_code": "806" if closed.toordinal() % 2 else "808"}
    if outcome == "independent_school":
        return {"school": "Saltwick House School (independent)"}
    return {}


def _work(desk: Desk, case_id: int, path: tuple[str, ...], opened: date, last: date) -> None:
    """The steps a case on this path records, each on its own (past) day, the story spread
    evenly from `opened` to `last`."""
    for n, status in enumerate(path, start=1):
        desk.move(case_id, status)
        when = opened + (last - opened) * n // (len(path) + 1)
        if status == "checking_status":
            desk.enquire(case_id, "admissions", when, "Not on roll at any school in the LA",
                         method="database_check")  # fmt: skip
            desk.status_check(case_id, "no_evidence", when)
        elif status == "locating":
            desk.enquire(case_id, "health", when, "Registered with a GP at the last address")
            steps.record_home_visit(
                desk.session, desk.settings, case_id, outcome="family_seen", on=when,
                by="choice_advice", actor=desk.officer,
            )  # fmt: skip
        elif status == "assessing_needs":
            steps.record_assessment(
                desk.session, desk.settings, case_id, kind="initial", result="done", on=when,
                summary="Needs a school place near home; no additional needs found.",
                actor=desk.officer,
            )  # fmt: skip
        elif status == "securing_place":
            place = OUR_SCHOOLS[case_id % len(OUR_SCHOOLS)]
            steps.refer_admissions(
                desk.session, desk.settings, case_id, route="normal", actor=desk.officer,
                school=place.name, start_date=when + timedelta(days=7),
            )  # fmt: skip
        elif status in ("moved_out_tracking", "whereabouts_unknown_tracking"):
            desk.enquire(case_id, "other_la", when, "Asked the CME lead of the other LA",
                         method="email")  # fmt: skip


def load_history(desk: Desk, people: People) -> list[int]:
    """Two or three cases a week for WEEKS weeks (oldest first); returns their ids."""
    stories = itertools.cycle(STORIES)
    dismissals = itertools.cycle(DISMISSALS)
    monday = desk.today - timedelta(days=desk.today.weekday())
    made: list[int] = []
    for week in range(WEEKS, 0, -1):
        start = monday - timedelta(weeks=week)
        for k in range(3 if week % 3 == 0 else 2):
            opened = start + timedelta(days=(2 * k + week) % 5)
            closing = opened + timedelta(days=6 + (7 * week + 11 * k) % 35)
            case_id = desk.open(people.child(), opened)
            outcome, path = next(stories)
            if closing < desk.today:
                _work(desk, case_id, path, opened, closing)
                desk.close(case_id, outcome, _detail(outcome, closing), on=closing)
                desk.backdate(case_id, opened, closing)
            else:  # still being worked: as far as its story has got by today
                _work(desk, case_id, path[:1], opened, desk.today)
                desk.backdate(case_id, opened, desk.today)
            made.append(case_id)
        if week % 3 == 1:
            _dismissed(desk, people, start + timedelta(days=1), next(dismissals))
    return made


def _dismissed(desk: Desk, people: People, received: date, reason: str) -> None:
    """A referral the officer found was not CME (it never became a case)."""
    child = people.child()
    values = desk.referral_values(child, received)
    values.pop("dob", None)  # too little to open a case by itself: it waits for the officer
    values.pop("upn", None)
    routed = triage.receive(desk.session, desk.settings, values, actor="intake", today=desk.today)
    if routed.case_id is not None:  # joined a case after all: nothing to dismiss
        return
    referral = triage.dismiss(
        desk.session, desk.settings, routed.referral_id, reason, desk.officer,
        note="Checked the roll and the register; not a child missing education.",
    )  # fmt: skip
    referral.created_at = at(received, 9)
    referral.triaged_at = at(received + timedelta(days=2), 14)
