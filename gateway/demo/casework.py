"""The demo officer's desk: referrals taken, cases worked and closed through the service's
own functions (triage, cases, steps, allocation), then dated back into the past.

The services stamp "now" on what they record; a term of history needs the past. So a
case is made as an officer would make it, then `backdate` moves its own dates (opened,
closed, its timeline, steps and tasks) to when the story says they happened. The audit
log is never touched: it records truthfully when the demo wrote each entry.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cases import allocation, steps
from gateway.cases import service as cases
from gateway.cases.queries import get_case
from gateway.cases.workflow import load_workflow
from gateway.demo.people import Child
from gateway.models.case import Case, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.casework import CaseStep, OnwardReferral
from gateway.models.referral import Referral
from gateway.settings import Settings
from gateway.triage import service as triage


@dataclass(frozen=True)
class Referrer:
    name: str
    role: str
    organisation: str
    email: str | None
    phone: str | None
    channel: str

    def values(self) -> dict[str, Any]:
        return {
            "referrer_name": self.name,
            "referrer_role": self.role,
            "referrer_organisation": self.organisation,
            "referrer_email": self.email,
            "referrer_phone": self.phone,
            "channel": self.channel,
        }


REFERRERS = (
    Referrer("Helen Marwood", "Attendance Officer", "Brambleside Primary School",
             "attendance@brambleside-807.example", "01642 496 001", "email"),
    Referrer("Sunita Rai", "Health Visitor", "0-19 Service", "sunita.rai@nhs-807.example",
             "07700 900 412", "email"),
    Referrer("Paul Fenby", "Social Worker", "Children's Services", None, "01642 496 220",
             "phone"),
    Referrer("Grace Allott", "Admissions Officer", "School Admissions",
             "admissions@redcar-cleveland.example", None, "form"),
    Referrer("Data Manager", "Data Manager", "Harbourside Academy",
             "office@harbourside-807.example", "01642 496 330", "school_deletion_return"),
    Referrer("Mark Ostler", "Housing Officer", "Seafront Homes", "m.ostler@seafront-homes.example",
             "01642 496 440", "email"),
    Referrer("CME Lead", "CME Lead", "Middlesbrough Council", "cme.lead@middlesbrough-806.example",
             None, "other_la"),
)  # fmt: skip

REASONS = (
    "Moved, destination unknown",
    "Did not take up an offered school place",
    "Moved into the area with no school place",
    "Not seen for 10 school days and the family cannot be contacted",
    "Removed from roll: not back after a leave of absence",
    "Family said they were going abroad; no confirmation",
    "Excluded, no alternative provision arranged",
)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@dataclass
class Desk:
    """What the demo officer and manager do, one service call at a time."""

    session: Session
    settings: Settings
    officer: str
    manager: str
    today: date
    _referrers: itertools.cycle[Referrer] = field(
        default_factory=lambda: itertools.cycle(REFERRERS)
    )
    _reasons: itertools.cycle[str] = field(default_factory=lambda: itertools.cycle(REASONS))

    def referral_values(
        self, child: Child, received: date, *, referrer: Referrer | None = None, **extra: Any
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            **child.referral_values(),
            **(referrer or next(self._referrers)).values(),
            "received": received.isoformat(),
            "reason": next(self._reasons),
        }
        values.update(extra)
        return {k: v for k, v in values.items() if v not in (None, "", [], ())}

    def open(self, child: Child, received: date, *, allocate: bool = True, **extra: Any) -> int:
        """A referral keyed in by the officer and a case for it: opened at once, or (when it
        may be a child we know) from the triage queue by the officer's own decision."""
        values = self.referral_values(child, received, **extra)
        routed = triage.receive(
            self.session, self.settings, values, actor=self.officer, today=self.today,
            keyed_by_officer=True,
        )  # fmt: skip
        if routed.attached:  # People never repeats a child; this would be a bug in the demo
            raise RuntimeError(f"the demo's {child.name} was taken for case {routed.case_id}")
        case_id = routed.case_id
        if case_id is None:
            opened = triage.open_case(self.session, self.settings, routed.referral_id, self.officer)
            case_id = opened.id
        if allocate:
            allocation.allocate(self.session, case_id, self.officer, self.officer)
        return case_id

    def move(self, case_id: int, *statuses: str) -> None:
        for status in statuses:
            cases.move_case(self.session, self.settings, case_id, status, self.officer)

    def enquire(
        self, case_id: int, agency: str, on: date, outcome: str, method: str = "phone"
    ) -> None:
        cases.record_enquiry(
            self.session, case_id, agency=agency, method=method, at=at(on, 11),
            outcome=outcome, contact=None, actor=self.officer,
        )  # fmt: skip

    def enquire_all(self, case_id: int, agencies: tuple[str, ...], on: date) -> None:
        """An enquiry with each agency a policy lists (police referral, "no trace")."""
        for agency in agencies:
            self.enquire(case_id, agency, on, "No record of the child or family")

    def acknowledge(self, case_id: int) -> None:
        """Initial enquiries done: each referrer gets the acknowledgement letter."""
        cases.enquiries_complete(self.session, self.settings, case_id, self.officer)

    def status_check(self, case_id: int, result: str, on: date, **kw: Any) -> None:
        steps.status_check(
            self.session, self.settings, case_id, result=result, on=on, actor=self.officer, **kw
        )

    def close(
        self, case_id: int, outcome: str, detail: dict[str, Any] | None = None, *, on: date
    ) -> None:
        spec = load_workflow(self.settings.workflow.file).outcomes[outcome]
        # An outcome that needs sign-off is closed by the manager, acting as themselves.
        who = self.manager if spec.manager_signoff else self.officer
        if outcome == cases.NO_TRACE:
            self.enquire_all(case_id, tuple(self.settings.casework.no_trace_after), on)
        cases.close_case(
            self.session, self.settings, case_id, outcome, detail or {}, who,
            manager=who if spec.manager_signoff else None,
        )  # fmt: skip

    def case(self, case_id: int) -> Case:
        return get_case(self.session, case_id)

    def backdate(self, case_id: int, opened: date, last: date) -> None:
        """Spread the case's own record between `opened` and `last` (its closing day, or the
        day of its latest work), in the order it was written."""
        case = self.case(case_id)
        start, end = at(opened, 9), at(last, 15)
        self.session.flush()
        entries = list(
            self.session.execute(
                select(TimelineEntry)
                .where(TimelineEntry.case_id == case_id)
                .order_by(TimelineEntry.id)
            ).scalars()
        )
        span = max(end - start, timedelta(0))
        flags = dict(case.escalations)
        for n, entry in enumerate(entries):
            share = n / (len(entries) - 1) if len(entries) > 1 else 0
            entry.at = start + span * share
            if entry.ref and entry.ref.startswith("step:"):
                step = self.session.get(CaseStep, int(entry.ref.removeprefix("step:")))
                if step is not None and step.on > entry.at.date():
                    step.on = entry.at.date()
                if step is not None and step.kind == "escalation" and step.outcome in flags:
                    flags[str(step.outcome)] = {**flags[str(step.outcome)],
                                                "since": entry.at.isoformat()}  # fmt: skip
            if entry.ref and entry.ref.startswith("onward:"):
                onward = self.session.get(OnwardReferral, int(entry.ref.removeprefix("onward:")))
                if onward is not None:
                    onward.sent_at = entry.at
        case.escalations = flags
        case.created_at = start
        for referral in self.session.execute(
            select(Referral).where(Referral.case_id == case_id)
        ).scalars():
            referral.created_at = start
            if referral.triaged_at is not None:
                referral.triaged_at = start
        for task in self.session.execute(select(Task).where(Task.case_id == case_id)).scalars():
            task.created_at = start
            if task.done_at is not None:
                task.done_at = end
        for enquiry in self.session.execute(
            select(EnquiryLogEntry).where(EnquiryLogEntry.case_id == case_id)
        ).scalars():
            enquiry.at = min(max(enquiry.at, start), end)
        if case.closed_at is not None:
            case.closed_at = end
        if case.enquiries_complete_at is not None:
            case.enquiries_complete_at = min(case.enquiries_complete_at, end)
        self.session.flush()
