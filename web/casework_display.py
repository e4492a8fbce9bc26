"""The case's work through the CME process in a person's words: what to do next, step by
step; each recorded step, onward referral and letter; escalations; who hears what."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from gateway.cases.describe import long_date
from gateway.cases.labels import AGENCIES, METHODS, label
from gateway.cases.onward import TEAMS, Disclosed
from gateway.cases.page import CasePage
from gateway.cases.steps import (
    ADMISSION_ROUTES,
    ASSESSMENT_RESULTS,
    ASSESSMENTS,
    HOME_VISIT,
    STATUS_RESULTS,
    VISIT_OUTCOMES,
    VISITORS,
)
from gateway.cases.workflow import CLOSED
from gateway.models.case import Case
from gateway.models.casework import CaseStep, OnwardReferral, PrintedLetter
from web.casework_forms import VISITED_BY

#: The steps of the process the case page's work is organised by.
STEPS = {
    3: "Check educational status",
    4: "Locate the child and family",
    5: "Determine needs",
    6: "Identify provision",
    7: "Track and escalate",
}
#: Which step each kind of recorded work belongs to, and its name.
KINDS = {
    "status_check": (3, "Status check"),
    "home_visit_request": (4, "Home visit requested"),
    "home_visit": (4, "Home visit"),
    "assessment": (5, "Assessment"),
    "admissions": (6, "Referral to School Admissions"),
    "escalation": (7, "Escalation"),
}
#: What an onward referral discloses (gateway.cases.onward.FIELDS), as the letter names them.
DISCLOSED_FIELDS = {
    "name": "The child's name",
    "dob": "Date of birth",
    "sex": "Sex",
    "upn": "Unique pupil number (UPN)",
    "address": "Last known address",
    "carers": "Parents or carers, with their phone numbers",
    "school": "Last school",
    "reason": "Why we are referring",
    "case_ref": "Our case reference",
}
CHANNELS = {"email": "Email, through the outbox", "print": "A printed letter you send"}


@dataclass(frozen=True)
class Action:
    """A link to one casework form: its words, the view and any choice made in advance."""

    text: str
    endpoint: str
    id: str
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NextStep:
    id: str
    title: str
    lines: tuple[str, ...]
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class StepLine:
    """One recorded step: when, which, what came of it, any note, and who."""

    id: int
    step: str
    on: str
    what: str
    outcome: str
    details: tuple[str, ...]
    note: str | None
    by: str


@dataclass(frozen=True)
class OnwardLine:
    id: int
    team: str
    how: str
    printed: bool
    at: Any
    by: str


@dataclass(frozen=True)
class EscalationLine:
    flag: str
    name: str
    reason: str | None
    review: str | None


@dataclass(frozen=True)
class CaseWork:
    """Everything the case page shows about the work, in words."""

    closed: bool
    next_steps: tuple[NextStep, ...]
    steps: tuple[StepLine, ...]
    onward: tuple[OnwardLine, ...]
    letters: tuple[PrintedLetter, ...]
    escalations: tuple[EscalationLine, ...]


def _when(value: Any) -> str:
    return long_date(value) or "date not known"


def step_line(step: CaseStep, escalations: Mapping[str, str]) -> StepLine:
    d = step.detail or {}
    number, what = KINDS.get(step.kind, (0, label({}, step.kind)))
    details: list[str] = []
    outcome = label({}, step.outcome)
    if step.kind == "status_check":
        outcome = label(STATUS_RESULTS, step.outcome)
        if d.get("school"):
            details.append(f"School: {d['school']}")
        if d.get("attendance_concern"):
            details.append("Concerns about attendance: referred to Attendance & Welfare")
    elif step.kind == "home_visit_request":
        outcome = f"Asked {label(VISITORS, step.outcome)}"
        if d.get("visit_by"):
            details.append(f"To visit by {long_date(d['visit_by'])}")
    elif step.kind == "home_visit":
        outcome = label(VISIT_OUTCOMES, step.outcome)
        if d.get("by"):
            details.append(f"Visited by {label(VISITED_BY, d['by'])}")
    elif step.kind == "assessment":
        what = label(ASSESSMENTS, d.get("assessment"))
        outcome = label(ASSESSMENT_RESULTS, step.outcome)
    elif step.kind == "admissions":
        outcome = label(ADMISSION_ROUTES, step.outcome)
        if d.get("panel_date"):
            details.append(f"Fair Access panel: {long_date(d['panel_date'])}")
        if d.get("school"):
            details.append(f"School named: {d['school']}")
        if d.get("start_date"):
            details.append(f"Start date: {long_date(d['start_date'])}")
    elif step.kind == "escalation":
        outcome = escalations.get(step.outcome or "", label({}, step.outcome))
        if d.get("review"):
            details.append(f"Review by {long_date(d['review'])}")
    return StepLine(
        id=step.id, step=STEPS.get(number, ""), on=_when(step.on), what=what, outcome=outcome,
        details=tuple(details), note=step.note, by=step.recorded_by,
    )  # fmt: skip


def _of(lines: Sequence[StepLine], page: CasePage, *kinds: str) -> list[StepLine]:
    # The lines are in the order of page.steps, one for each.
    return [line for line, step in zip(lines, page.steps, strict=True) if step.kind in kinds]


def _said(line: StepLine) -> str:
    extra = f" ({'; '.join(line.details)})" if line.details else ""
    return f"{line.what}: {line.outcome}{extra}, {line.on}."


def _locating(page: CasePage, lines: Sequence[StepLine], zone: ZoneInfo) -> tuple[str, ...]:
    said: list[str] = []
    if page.enquiries:
        last, n = page.enquiries[-1], len(page.enquiries)
        said.append(
            f"{n} enquir{'y' if n == 1 else 'ies'} recorded; the last with "
            f"{label(AGENCIES, last.agency)} by {label(METHODS, last.method)}, "
            f"{_when(last.at.astimezone(zone).date())}."
        )
    for task in page.case.tasks:
        if task.kind == HOME_VISIT and task.status == "open":
            who = label(VISITORS, task.detail.get("by"))
            said.append(f"Home visit requested from {who}, due by {_when(task.due)}.")
    visits = _of(lines, page, "home_visit")
    if visits:
        said.append(f"Last home visit: {visits[-1].outcome}, {visits[-1].on}.")
    return tuple(said) or ("No enquiries recorded yet. Phone first, then a home visit.",)


def _finishing(page: CasePage, zone: ZoneInfo) -> NextStep:
    complete = page.case.enquiries_complete_at
    close = Action("Close the case", "cases.case_close", "action-close")
    if complete is not None:
        said = (
            f"Initial enquiries marked complete {long_date(complete.astimezone(zone).date())}; "
            "the referrers were acknowledged."
        )
        return NextStep("next-step-finish", "Enquiries and closing", (said,), (close,))
    mark = Action(
        "Mark enquiries complete", "casework.enquiries_complete", "action-enquiries-complete"
    )
    said = "Initial enquiries are open. Marking them complete acknowledges each referrer."
    return NextStep("next-step-finish", "Enquiries and closing", (said,), (mark, close))


def _escalated(flags: Sequence[EscalationLine]) -> tuple[str, ...]:
    return tuple(
        f.name
        + (f". Reason: {f.reason}" if f.reason else "")
        + (f". Review by {f.review}." if f.review else ".")
        for f in flags
    ) or ("Not escalated.",)


def next_steps(
    page: CasePage, lines: Sequence[StepLine], flags: Sequence[EscalationLine], zone: ZoneInfo
) -> tuple[NextStep, ...]:
    """The "What to do next" cards: for each step, what has been done, and its forms."""
    checks = _of(lines, page, "status_check")
    # The latest of each kind of assessment.
    assessments = {a.what: a for a in _of(lines, page, "assessment")}
    admissions = _of(lines, page, "admissions")
    return (
        NextStep(
            "next-step-3", f"3. {STEPS[3]}",
            (_said(checks[-1]),) if checks else ("No status check recorded yet.",),
            (Action("Record a status check", "casework.status_check", "action-status-check"),),
        ),
        NextStep(
            "next-step-4", f"4. {STEPS[4]}", _locating(page, lines, zone),
            (
                Action("Record a phone call with the parents", "casework.enquiry",
                       "action-parent-call", {"agency": "parent_carer", "method": "phone"}),
                Action("Record an enquiry with an agency", "casework.enquiry", "action-enquiry"),
                Action("Request a home visit", "casework.home_visit_request", "action-home-visit"),
                Action("Record a home visit", "casework.home_visit", "action-home-visit-outcome"),
            ),
        ),
        NextStep(
            "next-step-5", f"5. {STEPS[5]}",
            tuple(_said(a) for a in assessments.values()) or ("No assessment recorded yet.",),
            (
                Action("Record an initial assessment", "casework.assessment",
                       "action-initial-assessment", {"kind": "initial"}),
                Action("Record an Early Help Assessment", "casework.assessment",
                       "action-early-help", {"kind": "early_help"}),
            ),
        ),
        NextStep(
            "next-step-6", f"6. {STEPS[6]}",
            (_said(admissions[-1]),) if admissions else ("Not referred to School Admissions yet.",),
            (Action("Refer to School Admissions", "casework.admissions", "action-admissions"),),
        ),
        NextStep(
            "next-step-7", f"7. {STEPS[7]}",
            _escalated(flags),
            (
                Action("Escalate the case", "casework.escalate", "action-escalate"),
                Action("Refer to another team", "casework.onward_form", "action-onward"),
            ),
        ),
        _finishing(page, zone),
    )  # fmt: skip


def onward_line(row: OnwardReferral) -> OnwardLine:
    team = TEAMS.get(row.team, label({}, row.team))
    printed = row.channel == "print"
    how = "A printed letter to send" if printed else f"Email to {row.recipient}"
    return OnwardLine(row.id, team[:1].upper() + team[1:], how, printed, row.sent_at, row.sent_by)


def escalation_lines(case: Case, names: Mapping[str, str]) -> tuple[EscalationLine, ...]:
    return tuple(
        EscalationLine(
            flag,
            names.get(flag, label({}, flag)),
            (d or {}).get("reason"),
            long_date((d or {}).get("review")) or None,
        )
        for flag, d in sorted(case.escalations.items())
    )


def case_work(page: CasePage, escalations: Mapping[str, str], timezone: str) -> CaseWork:
    """`timezone`: the local authority's clock (settings.core.timezone), for dates of times."""
    zone = ZoneInfo(timezone)
    lines = tuple(step_line(s, escalations) for s in page.steps)
    flags = escalation_lines(page.case, escalations)
    closed = page.case.status == CLOSED
    return CaseWork(
        closed=closed,
        next_steps=() if closed else next_steps(page, lines, flags, zone),
        steps=lines,
        onward=tuple(onward_line(r) for r in page.onward),
        letters=page.letters,
        escalations=flags,
    )


# -- on the forms --------------------------------------------------------------------------


@dataclass(frozen=True)
class Avenue:
    code: str
    name: str
    done: bool


def avenues(policy: Iterable[str], tried: set[str]) -> tuple[Avenue, ...]:
    """The enquiries a policy lists (casework.police_after), each recorded yet or not."""
    return tuple(Avenue(a, label(AGENCIES, a), a in tried) for a in policy)


def escalation_hints(
    flags: Iterable[str], teams: Mapping[str, Disclosed], police: Sequence[Avenue]
) -> dict[str, str]:
    """Beside each escalation: where its referral goes; for the police, what is missing."""
    hints = {f: sends(teams[f]) if f in teams else "" for f in flags}
    missing = [a.name for a in police if not a.done]
    if "police" in hints and missing:
        first = f"Not yet: first record enquiries with {', '.join(missing)}."
        hints["police"] = f"{first} {hints['police']}".strip()
    return hints


def sends(shown: Disclosed) -> str:
    """A sentence on a form whose step also refers the child on: where it goes, how."""
    if shown.channel == "email":
        return f"This also sends a referral to {shown.team_name} by email to {shown.recipient}."
    return (
        f"This also makes a referral to {shown.team_name} as a letter for you to print and "
        "send: no address is set for that team."
    )


def sent(shown: Disclosed) -> str:
    """The success banner's words for an onward referral just made."""
    if shown.channel == "email":
        return f"Referral sent to {shown.team_name} by email to {shown.recipient}."
    return (
        f"Referral to {shown.team_name} recorded: print it from Onward referrals on the case "
        "and send it."
    )


@dataclass(frozen=True)
class Acknowledgement:
    who: str
    how: str


def acknowledgements(case: Case) -> tuple[Acknowledgement, ...]:
    """Who hears that enquiries are complete, and how (gateway.cases.service's rule: email,
    else a letter read out on the phone, else a letter to post)."""
    out = []
    for r in case.referrals:
        if not (r.referrer_email or r.referrer_phone or r.referrer_name):
            continue
        who = r.referrer_name or r.referrer_email or r.referrer_phone or "The referrer"
        if r.referrer_email:
            how = f"By email to {r.referrer_email}"
        elif r.referrer_phone:
            how = f"A letter for you to read out on the phone ({r.referrer_phone}); a task is added"
        else:
            how = "A letter for you to print and post; a task is added"
        out.append(Acknowledgement(who, how))
    return tuple(out)
