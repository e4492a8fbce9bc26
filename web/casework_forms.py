"""The casework forms on a case (steps 3 to 7, an onward referral, reopening): what each box
holds, what a post means for the one service function it goes to, and its errors in words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo

from gateway.cases.labels import AGENCIES, METHODS
from gateway.cases.onward import TEAMS
from gateway.cases.steps import (
    ADMISSION_ROUTES,
    ASSESSMENT_RESULTS,
    ASSESSMENTS,
    ESCALATION_TEAMS,
    STATUS_RESULTS,
    VISIT_OUTCOMES,
    VISITORS,
)
from web.form_errors import FormErrors

DATE_PARTS = ("day", "month", "year")
TEXT_MAX = 200
NOTE_MAX = 2000
REASON_MAX = 1000
#: Who may have made a home visit: the two teams asked to visit, or the officer.
VISITED_BY = {**VISITORS, "cme_officer": "The Children Missing Education officer"}
#: The teams the onward referral form offers, as a radio reads them. Social care, the
#: police and VEMT are escalations: their form records the flag, reason and review date, and
#: holds the police back until the listed enquiries are recorded, so they are not offered.
TEAM_CHOICES = {
    code: name[:1].upper() + name[1:]
    for code, name in TEAMS.items()
    if code not in ESCALATION_TEAMS.values()
}
CONFLICT = "Someone else changed this case while you were working. Reload and try again."
_TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?$")


def sentence(message: str) -> str:
    """A service's message as a sentence on the page: first letter up, the rest as written
    (str.capitalize would lower the agencies' names), no command-line flags."""
    text = re.sub(r"\s*\(--[a-z-]+\)", "", message).strip()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Clock:
    """Now, and the local authority's clock: dates typed are local dates."""

    now: datetime
    zone: ZoneInfo

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()


def date_boxes(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}-{p}" for p in DATE_PARTS)


@dataclass
class CaseworkForm:
    """The boxes as shown (blank, pre-filled or as sent) and what is wrong with them."""

    boxes: dict[str, str] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)

    #: Every box the form posts (a date is three: prefix-day, prefix-month, prefix-year).
    BOXES: ClassVar[tuple[str, ...]] = ()
    #: Words in a service's error -> the box it concerns; anything else goes to the first box.
    SERVICE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def blank(cls, **prefill: str) -> Self:
        return cls({k: prefill.get(k, "") for k in cls.BOXES})

    @classmethod
    def posted(cls, form: Mapping[str, str]) -> Self:
        return cls({k: str(form.get(k, "")).strip() for k in cls.BOXES})

    def get(self, name: str) -> str:
        return self.boxes.get(name, "")

    def checked(self, name: str) -> bool:
        return self.get(name) == "yes"

    @property
    def first(self) -> str:
        """The box an error about nothing in particular points at (every form starts with a
        radio, a select or a text box, never a date)."""
        return self.BOXES[0]

    def read(self, clock: Clock) -> dict[str, Any]:
        """The values for the form's service function; each problem is added to errors."""
        raise NotImplementedError

    def service_error(self, exc: Exception) -> None:
        """The service refused what the form took: its message beside the box it concerns."""
        message = sentence(str(exc))
        lower = message.lower()
        for words, box in self.SERVICE_FIELDS:
            if words in lower:
                self.errors.add(box, message)
                return
        self.errors.add(self.first, message)

    def conflict(self) -> None:
        self.errors.add(self.first, CONFLICT)

    # -- readers: each returns the value and adds an error when the box is wrong -----------

    def _choice(self, name: str, choices: Mapping[str, str], missing: str) -> str:
        value = self.get(name)
        if value not in choices:
            self.errors.add(name, missing)
        return value

    def _text(self, name: str, what: str, limit: int, missing: str | None = None) -> str | None:
        value = self.get(name)
        if not value and missing:
            self.errors.add(name, missing)
        elif len(value) > limit:
            self.errors.add(name, f"{what} must be {limit} characters or fewer")
        return value or None

    def _date(
        self, prefix: str, what: str, clock: Clock, *, when: str = "past", required: bool = True
    ) -> date | None:
        """A GOV.UK date input; `when` is "past" (today or before), "future" (today or
        after) or "any". The error goes on the day box, as GOV.UK's do."""
        box = f"{prefix}-day"
        parts = [self.get(f"{prefix}-{p}") for p in DATE_PARTS]
        title = what[:1].upper() + what[1:]
        if not any(parts):
            if required:
                self.errors.add(box, f"Enter {what}")
            return None
        missing = [name for name, part in zip(DATE_PARTS, parts, strict=True) if not part]
        if missing:
            self.errors.add(box, f"{title} must include a {' and '.join(missing)}")
            return None
        try:
            if len(parts[2]) != 4 or not all(p.isdigit() for p in parts):
                raise ValueError
            day, month, year = (int(p) for p in parts)
            value = date(year, month, day)
        except ValueError:
            self.errors.add(box, f"{title} must be a real date, like 3 9 2026")
            return None
        if when == "past" and value > clock.today:
            self.errors.add(box, f"{title} must be today or in the past")
            return None
        if when == "future" and value < clock.today:
            self.errors.add(box, f"{title} must be today or in the future")
            return None
        return value


# -- step 3 --------------------------------------------------------------------------------


@dataclass
class StatusCheckForm(CaseworkForm):
    BOXES = ("result", "school", "attendance_concern", *date_boxes("checked_on"), "note")
    SERVICE_FIELDS = (("school", "school"), ("date", "checked_on-day"), ("found", "result"))

    def read(self, clock: Clock) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.steps.status_check."""
        result = self._choice("result", STATUS_RESULTS, "Select what the check found")
        on_roll = result == "on_roll"
        school = self._text("school", "The school's name", TEXT_MAX) if on_roll else None
        if on_roll and not school:
            self.errors.add("school", "Enter the school the child is on roll at")
        on = self._date("checked_on", "the date of the check", clock)
        note = self._text("note", "The note", NOTE_MAX)
        return {
            "result": result, "on": on, "school": school, "note": note,
            "attendance_concern": on_roll and self.checked("attendance_concern"),
        }  # fmt: skip


# -- step 4 --------------------------------------------------------------------------------


@dataclass
class EnquiryForm(CaseworkForm):
    BOXES = ("agency", "method", *date_boxes("contact_on"), "time", "outcome", "contact")
    SERVICE_FIELDS = (("agency", "agency"), ("method", "method"))

    def read(self, clock: Clock) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.service.record_enquiry."""
        agency = self._choice("agency", AGENCIES, "Select who the enquiry was with")
        method = self._choice("method", METHODS, "Select how you made the enquiry")
        on = self._date("contact_on", "the date of the enquiry", clock)
        at = self._time(on, clock)
        outcome = self._text(
            "outcome", "What the enquiry found", NOTE_MAX, "Enter what the enquiry found"
        )
        contact = self._text("contact", "Who you spoke to", TEXT_MAX)
        return {"agency": agency, "method": method, "at": at, "outcome": outcome,
                "contact": contact}  # fmt: skip

    def _time(self, on: date | None, clock: Clock) -> datetime | None:
        """The time of day typed (local), or now for today and midday for an earlier day."""
        text = self.get("time").lower().replace(" ", "")
        if on is None:
            return None
        if not text:
            if on == clock.today:
                return clock.now
            return datetime.combine(on, time(12), clock.zone)
        m = _TIME.match(text)
        hour, minute = (int(m.group(1)), int(m.group(2) or 0)) if m else (99, 0)
        if m and m.group(3) and 1 <= hour <= 12:
            hour = hour % 12 + (12 if m.group(3) == "pm" else 0)
        elif m and m.group(3):
            hour = 99  # "13pm", "0am"
        if hour > 23 or minute > 59:
            self.errors.add("time", "The time must be a real time, like 9:30am or 14:30")
            return None
        at = datetime.combine(on, time(hour, minute), clock.zone)
        if at > clock.now:
            self.errors.add("time", "The time of the enquiry must be now or in the past")
            return None
        return at


@dataclass
class HomeVisitRequestForm(CaseworkForm):
    BOXES = ("by", *date_boxes("visit_by"), "note")
    SERVICE_FIELDS = (("date", "visit_by-day"), ("visit", "by"))

    def read(self, clock: Clock) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.steps.request_home_visit."""
        by = self._choice("by", VISITORS, "Select who you are asking to visit")
        visit_by = self._date(
            "visit_by", "the date the visit should happen by", clock, when="future"
        )
        note = self._text("note", "The note", NOTE_MAX)
        return {"by": by, "visit_by": visit_by, "note": note}


@dataclass
class HomeVisitForm(CaseworkForm):
    BOXES = ("outcome", "by", *date_boxes("visited_on"), "note")
    SERVICE_FIELDS = (("date", "visited_on-day"), ("visit found", "outcome"))

    def read(self, clock: Clock) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.steps.record_home_visit."""
        outcome = self._choice("outcome", VISIT_OUTCOMES, "Select what the visit found")
        by = self.get("by")
        if by and by not in VISITED_BY:
            self.errors.add("by", "Select who made the visit")
        on = self._date("visited_on", "the date of the visit", clock)
        note = self._text("note", "The note", NOTE_MAX)
        return {"outcome": outcome, "by": by or None, "on": on, "note": note}


# -- step 5 --------------------------------------------------------------------------------


@dataclass
class AssessmentForm(CaseworkForm):
    BOXES = ("kind", "result", *date_boxes("assessed_on"), "summary")
    SERVICE_FIELDS = (
        ("summary", "summary"), ("date", "assessed_on-day"), ("outcome", "result"),
        ("assessment", "kind"),
    )  # fmt: skip

    def read(self, clock: Clock) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.steps.record_assessment."""
        kind = self._choice("kind", ASSESSMENTS, "Select the assessment")
        result = self._choice("result", ASSESSMENT_RESULTS, "Select the assessment's outcome")
        on = self._date("assessed_on", "the date of the assessment", clock)
        summary = self._text(
            "summary", "The summary", NOTE_MAX, "Enter a short summary of the assessment"
        )
        return {"kind": kind, "result": result, "on": on, "summary": summary or ""}


# -- step 6 --------------------------------------------------------------------------------


@dataclass
class AdmissionsForm(CaseworkForm):
    BOXES = (
        "route", *date_boxes("panel_date"), "school", *date_boxes("start_date"), "note",
    )  # fmt: skip
    SERVICE_FIELDS = (("panel", "panel_date-day"), ("route", "route"))

    def read(self, clock: Clock) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.steps.refer_admissions."""
        route = self._choice("route", ADMISSION_ROUTES, "Select the admissions route")
        panel = None
        if route == "iyfap":
            panel = self._date("panel_date", "the date of the Fair Access panel", clock, when="any")
        school = self._text("school", "The school's name", TEXT_MAX)
        start = self._date("start_date", "the start date", clock, when="any", required=False)
        note = self._text("note", "The note", NOTE_MAX)
        return {"route": route, "panel_date": panel, "school": school, "start_date": start,
                "note": note}  # fmt: skip


# -- step 7 --------------------------------------------------------------------------------


@dataclass
class EscalateForm(CaseworkForm):
    BOXES = ("flag", "reason", *date_boxes("review_on"))
    SERVICE_FIELDS = (("review", "review_on-day"), ("why", "reason"), ("police", "flag"))

    def read(self, clock: Clock) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.steps.escalate (the service knows the flags:
        they are the workflow file's)."""
        flag = self.get("flag")
        if not flag:
            self.errors.add("flag", "Select how the case is being escalated")
        reason = self._text(
            "reason", "The reason", REASON_MAX, "Enter why the case is being escalated"
        )
        review = self._date("review_on", "the review date", clock, when="future")
        return {"flag": flag, "reason": reason or "", "review_on": review}


@dataclass
class OnwardForm(CaseworkForm):
    BOXES = ("team", "reason")
    SERVICE_FIELDS = (("team", "team"), ("why", "reason"))

    def read(self, clock: Clock | None = None) -> dict[str, Any]:
        """Team and reason for gateway.cases.onward.preview and refer."""
        team = self.get("team")
        if team in ESCALATION_TEAMS.values():
            self.errors.add("team", f"To refer the child to {TEAMS[team]}, escalate the case")
        else:
            self._choice("team", TEAM_CHOICES, "Select the team to refer the child to")
        reason = self._text(
            "reason", "The reason", REASON_MAX, "Enter why you are referring the child"
        )
        return {"team": team, "reason": reason or ""}


# -- closing and reopening -----------------------------------------------------------------


@dataclass
class ReopenForm(CaseworkForm):
    BOXES = ("reason",)

    def read(self, clock: Clock | None = None) -> dict[str, Any]:
        """Keyword arguments for gateway.cases.service.reopen_case."""
        reason = self._text(
            "reason", "The reason", REASON_MAX, "Enter why the case is being reopened"
        )
        return {"reason": reason or ""}
