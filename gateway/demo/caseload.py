"""The demo's live caseload: open cases in every status and at every step of the process,
escalations, enquiries with the two partner LAs in flight or answered, children monitored
out of area, and a few recent closures.

Every case is made and worked through the service functions, in the order an officer
would do it, then dated back to when the story says it began (casework.Desk.backdate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from gateway.cases import steps
from gateway.demo.casework import REFERRERS, Desk, at
from gateway.demo.partner_las import DemoPartner, enquiry_from, reply_from
from gateway.demo.people import Child, People, school
from gateway.exchange import monitoring, working
from gateway.models.exchange import ExchangeMessage, Proposal
from parsers.exchange import Address, Outcome, Pupil, ReplyStatus

SOCIAL_WORKER = REFERRERS[2]
HEALTH_VISITOR = REFERRERS[1]
#: The status the workflow lists before "logged" that no service opens a case in (the
#: workflow's initial status is "logged"): the demo shows one case there all the same.
NOT_YET_LOGGED = "received"


@dataclass(frozen=True)
class Caseload:
    """What later parts of the demo refer back to."""

    opened: tuple[int, ...]
    #: The child a second referral, keyed in under a short name, is about.
    rekeyed: Child


def _days(desk: Desk, n: int) -> date:
    return desk.today - timedelta(days=n)


def _proposal_for(desk: Desk, message_id: str) -> int:
    """The proposal our inbound path made of the partner's message."""
    return int(
        desk.session.execute(
            select(Proposal.id)
            .join(ExchangeMessage, ExchangeMessage.id == Proposal.message_id)
            .where(ExchangeMessage.message_id == message_id, ExchangeMessage.direction == "in")
        ).scalar_one()
    )


def _enquire_partner(desk: Desk, case_id: int, partner: DemoPartner) -> str:
    sent = working.send_enquiry(
        desk.session, desk.settings, case_id, partner.la_code, desk.officer,
        note="Family believed to have moved to your area. Is the child known to you?",
    )  # fmt: skip
    desk.enquire(case_id, "other_la", desk.today, f"Secure enquiry sent to LA {partner.la_code}",
                 method="email")  # fmt: skip
    return sent.message_id


def load_caseload(
    desk: Desk, people: People, partners: dict[str, DemoPartner], *, lost: Child
) -> Caseload:
    """`lost`: a child a school has already sent a lost-pupil file for (a match to review)."""
    made: list[int] = []
    officer, today = desk.officer, desk.today
    session, settings = desk.session, desk.settings

    def new(child: Child, days_ago: int, **extra: Any) -> int:
        case_id = desk.open(child, _days(desk, days_ago), **extra)
        made.append(case_id)
        return case_id

    # -- received and logged ------------------------------------------------------------
    waiting = new(people.child(), 0, allocate=False)
    desk.case(waiting).status = NOT_YET_LOGGED
    new(people.child(), 1, allocate=False)
    urgent = new(people.child(age=(6, 9)), 2, urgency="urgent", referrer=SOCIAL_WORKER)
    desk.backdate(urgent, _days(desk, 2), _days(desk, 2))
    gaps_child = people.child()
    gappy = new(
        gaps_child, 4, dob=None, upn=None, gaps=["date of birth is missing", "UPN is missing"]
    )
    desk.backdate(gappy, _days(desk, 4), _days(desk, 4))

    # -- checking educational status ----------------------------------------------------
    checking = new(people.child(), 6)
    desk.move(checking, "checking_status")
    desk.enquire(checking, "admissions", _days(desk, 5), "Not on roll at any school in the LA",
                 method="database_check")  # fmt: skip
    desk.status_check(checking, "no_evidence", _days(desk, 5))
    desk.backdate(checking, _days(desk, 6), _days(desk, 5))

    ehe_check = new(people.child(age=(11, 14)), 9)
    desk.move(ehe_check, "checking_status")
    desk.enquire(ehe_check, "school", _days(desk, 8), "Left at Easter; no destination given")
    desk.enquire(ehe_check, "ehe_team", _days(desk, 7), "Not known to the EHE team",
                 method="email")  # fmt: skip
    desk.backdate(ehe_check, _days(desk, 9), _days(desk, 7))

    # Asked LA 808; its answer ("known at an address there") waits for the officer.
    known_there = new(people.child(), 5)
    desk.move(known_there, "checking_status")
    enquiry = _enquire_partner(desk, known_there, partners["808"])
    reply_from(
        session, settings, partners["808"], enquiry_id=enquiry, case_ref=desk.case(known_there).tag,
        outcome=Outcome(ReplyStatus.KNOWN_AT_ADDRESS,
                        address=Address(("9 Quayside Walk", "Stockton-on-Tees"), "TS18 1ZZ")),
        note="Family registered with a GP here last month; no school application yet.",
    )  # fmt: skip
    desk.backdate(known_there, _days(desk, 5), _days(desk, 1))

    # -- locating -----------------------------------------------------------------------
    visit = new(people.child(), 12)
    desk.move(visit, "checking_status", "locating")
    desk.enquire(visit, "health", _days(desk, 10), "GP registration still at the old address")
    desk.enquire(visit, "housing", _days(desk, 9), "Tenancy ended last month")
    steps.request_home_visit(
        session, settings, visit, by="choice_advice", visit_by=today + timedelta(days=3),
        actor=officer, note="Try the grandmother's address too.",
    )  # fmt: skip
    desk.backdate(visit, _days(desk, 12), _days(desk, 8))

    worried = new(people.child(age=(7, 10)), 15, urgency="safeguarding", referrer=HEALTH_VISITOR,
                  flags={"social_care": True})  # fmt: skip
    desk.move(worried, "locating")
    steps.record_home_visit(
        session, settings, worried, outcome="no_answer", on=_days(desk, 3), by="attendance_welfare",
        actor=officer, note="Curtains drawn; neighbours have not seen the family for a week.",
    )  # fmt: skip
    desk.enquire(worried, "children_social_care", _days(desk, 3), "Open to social care; shared")
    steps.escalate(
        session, settings, worried, flag="social_care", actor=officer,
        reason="Not seen for three weeks; health visitor has safeguarding concerns.",
        review_on=today + timedelta(days=7),
    )  # fmt: skip
    desk.backdate(worried, _days(desk, 15), _days(desk, 3))

    # A school has sent a lost-pupil file for this child: the match queue proposes it.
    in_flight = new(lost, 8, referrer=REFERRERS[0])
    desk.move(in_flight, "checking_status", "locating")
    _enquire_partner(desk, in_flight, partners["806"])
    desk.backdate(in_flight, _days(desk, 8), _days(desk, 2))

    rekeyed = people.child(sex="M", forename="Alexander", age=(9, 12))
    rekeyed_case = new(rekeyed, 20)
    desk.move(rekeyed_case, "checking_status", "locating")
    desk.enquire(rekeyed_case, "school", _days(desk, 18), "Last attended six weeks ago")
    desk.backdate(rekeyed_case, _days(desk, 20), _days(desk, 18))

    # -- assessing needs, securing a place, placed ----------------------------------------
    for days_ago, kind, result in ((18, "initial", "done"), (22, "early_help", "referred")):
        case_id = new(people.child(), days_ago)
        desk.move(case_id, "checking_status", "locating", "assessing_needs")
        steps.record_home_visit(
            session, settings, case_id, outcome="seen", on=_days(desk, days_ago - 6),
            by="choice_advice", actor=officer,
        )  # fmt: skip
        steps.record_assessment(
            session, settings, case_id, kind=kind, result=result, on=_days(desk, days_ago - 8),
            summary="Family keen for a place near home; speech and language support needed.",
            actor=officer,
        )  # fmt: skip
        desk.acknowledge(case_id)
        desk.backdate(case_id, _days(desk, days_ago), _days(desk, days_ago - 8))

    normal = new(people.child(), 25)
    desk.move(normal, "checking_status", "assessing_needs", "securing_place")
    steps.refer_admissions(session, settings, normal, route="normal", actor=officer,
                           school=school("8073962").name)  # fmt: skip
    desk.acknowledge(normal)
    desk.backdate(normal, _days(desk, 25), _days(desk, 10))

    panel = new(people.child(age=(12, 15)), 30)
    desk.move(panel, "checking_status", "assessing_needs", "securing_place")
    steps.refer_admissions(
        session, settings, panel, route="iyfap", actor=officer,
        panel_date=today + timedelta(days=6), note="Two previous exclusions.",
    )  # fmt: skip
    desk.acknowledge(panel)
    desk.backdate(panel, _days(desk, 30), _days(desk, 6))

    for days_ago in (35, 28):
        placed = new(people.child(), days_ago)
        desk.move(placed, "checking_status", "securing_place")
        steps.refer_admissions(
            session, settings, placed, route="normal", actor=officer,
            school=school("8074961").name, start_date=_days(desk, 3),
        )  # fmt: skip
        desk.move(placed, "placed_monitoring")
        desk.acknowledge(placed)
        desk.backdate(placed, _days(desk, days_ago), _days(desk, 3))

    # -- moved out: monitored with a partner LA -----------------------------------------
    applying = new(people.child(), 26)
    desk.move(applying, "checking_status", "locating")
    enquiry = _enquire_partner(desk, applying, partners["806"])
    answer = reply_from(
        session, settings, partners["806"], enquiry_id=enquiry, case_ref=desk.case(applying).tag,
        outcome=Outcome(ReplyStatus.APPLICATION_IN_PROGRESS),
        note="Mother has applied for a place at a school here.",
    )  # fmt: skip
    working.approve(session, settings, _proposal_for(desk, answer), officer)
    desk.acknowledge(applying)
    desk.backdate(applying, _days(desk, 26), _days(desk, 12))
    row = monitoring.get_monitoring(session, applying)
    assert row is not None
    row.started_at = row.last_confirmation_at = at(_days(desk, 12))
    row.next_check_at = row.started_at + timedelta(days=settings.exchange.monitoring_interval_days)

    for days_ago, la in ((40, "808"), (10, "806")):
        moved = new(people.child(), days_ago)
        desk.move(moved, "locating")
        row = monitoring.start(session, settings, moved, la, officer)
        desk.acknowledge(moved)
        desk.backdate(moved, _days(desk, days_ago), _days(desk, days_ago - 5))
        # Watched since the move: the oldest is past its interval, so a status request is
        # due as soon as `cme run` runs.
        row.started_at -= timedelta(days=days_ago - 5)
        row.next_check_at = row.started_at + timedelta(
            days=settings.exchange.monitoring_interval_days
        )

    # -- whereabouts unknown, escalated ---------------------------------------------------
    vemt = new(people.child(age=(13, 15)), 80, flags={"child_protection": True})
    desk.move(vemt, "locating", "whereabouts_unknown_tracking")
    desk.enquire_all(vemt, ("children_social_care", "health", "school"), _days(desk, 70))
    steps.escalate(
        session, settings, vemt, flag="vemt", actor=officer,
        reason="Missing education for over ten weeks; seen with older adults in the town centre.",
        review_on=today + timedelta(days=14),
    )  # fmt: skip
    desk.acknowledge(vemt)
    desk.backdate(vemt, _days(desk, 80), _days(desk, 7))

    police = new(people.child(age=(10, 13)), 60)
    desk.move(police, "locating", "whereabouts_unknown_tracking")
    desk.enquire_all(police, tuple(settings.casework.police_after), _days(desk, 40))
    steps.escalate(
        session, settings, police, flag="police", actor=officer,
        reason="Every avenue tried; the family cannot be found. A last resort.",
        review_on=today + timedelta(days=14),
    )  # fmt: skip
    desk.acknowledge(police)
    desk.backdate(police, _days(desk, 60), _days(desk, 20))

    # -- recently closed ---------------------------------------------------------------
    placed_there = new(people.child(), 16)
    desk.move(placed_there, "locating")
    enquiry = _enquire_partner(desk, placed_there, partners["808"])
    answer = reply_from(
        session, settings, partners["808"], enquiry_id=enquiry,
        case_ref=desk.case(placed_there).tag,
        outcome=Outcome(ReplyStatus.ON_ROLL, laestab="8083961",
                        school_name=school("8083961").name, start_date=_days(desk, 9)),
    )  # fmt: skip
    working.approve(session, settings, _proposal_for(desk, answer), officer)
    desk.backdate(placed_there, _days(desk, 16), _days(desk, 2))

    traced = new(people.child(), 21)
    desk.move(traced, "checking_status")
    desk.close(traced, "on_roll_this_la",
               {"school": "8073963", "start_date": _days(desk, 2).isoformat()},
               on=_days(desk, 2))  # fmt: skip
    desk.backdate(traced, _days(desk, 21), _days(desk, 2))

    # LA 806 asks about a child of ours: our candidates and a suggested answer wait.
    asked = people.child()
    asked_case = new(asked, 45)
    desk.move(asked_case, "checking_status")
    desk.close(asked_case, "ehe_notified", on=_days(desk, 30))
    desk.backdate(asked_case, _days(desk, 45), _days(desk, 30))
    enquiry_from(
        session, settings, partners["806"], their_ref="MBRO-CME-0412",
        pupil=Pupil(asked.surname, asked.forename, dob=asked.dob, sex=asked.sex),
        note="Family arrived here last week and say the child was at school in Redcar.",
    )  # fmt: skip
    return Caseload(tuple(made), rekeyed)
