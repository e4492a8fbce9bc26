"""The caseload's CSV, whose cells are worked out once per distinct value, against the same
rows written cell by cell by the reports' general CSV writer (formats.csv_text)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from gateway.reports import caseload
from gateway.reports.caseload import (
    Caseload,
    CaseloadRow,
    Filters,
    LastAction,
    NextAction,
    OfficerCaseload,
)
from gateway.reports.formats import csv_text, words
from gateway.reports.sources import Escalation

LONDON = ZoneInfo("Europe/London")
TODAY = date(2026, 6, 8)


def _row(case_id: int, **changed: object) -> CaseloadRow:
    values: dict[str, object] = {
        "case_id": case_id,
        "reference": f"CME-{case_id}",
        "child": "SMITH, Ann",
        "dob": date(2015, 3, 1),
        "officer": "olivia",
        "officer_name": "Olivia Officer",
        "status": "locating",
        "status_label": "Locating the child and family",
        "opened_on": date(2026, 5, 1),
        "days_open": 38,
        "urgency": "routine",
        "urgency_label": "Routine",
        "flags": (),
        "last_action": LastAction(datetime(2026, 6, 1, 10, tzinfo=UTC), "Moved to Locating"),
        "next_action": NextAction("progress_update", "Send an update", date(2026, 6, 1), True),
        "escalations": (),
        "monitoring_la": None,
        "monitoring_partner": None,
        "changed_since_last_week": True,
    }
    values.update(changed)
    return CaseloadRow(**values)  # type: ignore[arg-type]


def _cell_by_cell(report: Caseload) -> str:
    """The caseload's columns as values, each written by csv_text (as to_csv once did)."""
    return csv_text(
        caseload.COLUMNS,
        (
            (
                r.officer or "", r.officer_name, r.reference, r.child, r.dob, r.status,
                r.status_label, r.opened_on, r.days_open, r.urgency_label, r.flags,
                "; ".join(
                    e.label + (f" (since {words(e.since)})" if e.since else "")
                    for e in r.escalations
                ),
                r.last_action.at if r.last_action else None,
                r.last_action.summary if r.last_action else None,
                r.next_action.label if r.next_action else None,
                r.next_action.due if r.next_action else None,
                r.next_action.overdue if r.next_action else None,
                r.monitoring_partner, r.changed_since_last_week,
            )
            for r in report.rows
        ),
    )  # fmt: skip


def test_the_caseload_csv_is_what_the_general_writer_makes_of_awkward_values() -> None:
    vemt = Escalation("vemt", "Referred to the VEMT panel", date(2026, 5, 20), "o", None, None)
    police = Escalation("police", "-Police", None, None, None, None)
    same_instant = datetime(2026, 6, 1, 10, tzinfo=UTC)
    rows = (
        _row(1),
        # Text that would start a formula, in every column that holds text.
        _row(
            2,
            officer="=olivia",
            officer_name="+Olivia",
            child="-DASH, @at",
            status="=s",
            status_label="-label",
            urgency_label="@urgent",
            flags=("=flag", "Known to police"),
            escalations=(vemt, police),
            last_action=LastAction(datetime(2026, 6, 2, 9, 5, tzinfo=UTC), "=1+1"),
            next_action=NextAction("x", "\tTab", date(2026, 6, 20), False),
            monitoring_la="806",
            monitoring_partner="-Middlesbrough",
        ),
        # The same instant in another zone reads as that zone's wall-clock time.
        _row(3, last_action=LastAction(same_instant.astimezone(LONDON), "Moved to Locating")),
        _row(4, last_action=LastAction(same_instant, "Moved to Locating")),
        # Nothing known: no date of birth, no last or next action, nobody allocated.
        _row(
            5,
            dob=None,
            officer=None,
            officer_name="Not allocated",
            last_action=None,
            next_action=None,
            days_open=0,
            changed_since_last_week=False,
        ),
        # A day of birth equal to another row's opening day, and 1 day open beside a "yes".
        _row(6, dob=date(2026, 5, 1), days_open=1, escalations=(vemt,)),
    )
    report = Caseload(
        on=TODAY,
        changed_since=date(2026, 6, 1),
        filters=Filters(),
        officers=(OfficerCaseload("olivia", "Olivia Officer", rows),),
    )
    text = caseload.to_csv(report)
    assert text == _cell_by_cell(report)
    read = list(csv.DictReader(io.StringIO(text)))
    assert [r["last_action_at"] for r in read[2:4]] == ["2026-06-01 11:00", "2026-06-01 10:00"]
    assert [read[1][c] for c in ("officer", "child", "flags", "last_action")] == [
        "'=olivia", "'-DASH, @at", "'=flag; Known to police", "'=1+1",
    ]  # fmt: skip
    assert read[1]["escalations"] == "Referred to the VEMT panel (since 20 May 2026); -Police"
    assert [read[4][c] for c in ("dob", "last_action_at", "next_action_overdue")] == ["", "", ""]
