"""The weekly lists (caseload, vulnerable pupils, VEMT) against the known term (conftest.py),
on SQLite and PostgreSQL: every figure below is worked out by hand from the story there."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from gateway.models.audit import AuditEntry
from gateway.reports import caseload, vemt, vulnerable
from gateway.reports.errors import ReportError
from gateway.reports.formats import document_html
from tests.gateway.reports.conftest import TODAY, World

pytestmark = pytest.mark.usefixtures("on_today")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_caseload_groups_open_cases_by_officer_with_last_and_next_action(world: World) -> None:
    ids = world.ids
    with world.session() as s:
        report = caseload.caseload(s, world.settings, actor="olivia", today=TODAY)
        s.commit()
    # Open on 7 December: B (oscar), C (nobody), E (olivia); officers by name, nobody last.
    assert [(g.officer_name, [r.case_id for r in g.rows]) for g in report.officers] == [
        ("Olivia Officer", [ids["E"]]),
        ("Oscar Officer", [ids["B"]]),
        ("Not allocated", [ids["C"]]),
    ]
    e, b, c = report.rows
    assert (b.days_open, c.days_open, e.days_open) == (84, 63, 35)
    assert b.status_label == "Whereabouts unknown, tracking"
    assert e.urgency_label == "Urgent" and b.urgency_label == "Routine"
    # B's latest entry is the onward referral written with the VEMT escalation on 20 Oct.
    assert b.last_action is not None
    assert b.last_action.summary == "Referred to the VEMT panel (printed to send)"
    # B's earliest open task: the referrer's progress update, 10 working days after 14 Sep.
    assert b.next_action is not None
    assert (b.next_action.label, b.next_action.due, b.next_action.overdue) == (
        "Send the referrer a progress update", date(2026, 9, 28), True,
    )  # fmt: skip
    assert [x.label for x in b.escalations] == ["Referred to the VEMT panel"]
    assert b.escalations[0].review == date(2026, 12, 14)
    assert e.monitoring_partner == "Middlesbrough"
    # Only C has an entry on or after 30 November (moved to locating that day).
    assert [r.case_id for r in report.rows if r.changed_since_last_week] == [ids["C"]]
    assert c.last_action is not None and c.last_action.summary.startswith("Moved to Locating")


def test_caseload_filters_and_its_csv(world: World) -> None:
    ids = world.ids
    with world.session() as s:
        mine = caseload.caseload(s, world.settings, actor="t", today=TODAY, officer="olivia")
        nobody = caseload.caseload(
            s, world.settings, actor="t", today=TODAY, officer=caseload.UNALLOCATED
        )
        urgent = caseload.caseload(s, world.settings, actor="t", today=TODAY, urgent_only=True)
        locating = caseload.caseload(s, world.settings, actor="t", today=TODAY, status="locating")
        with pytest.raises(ReportError, match="choose a status"):
            caseload.caseload(s, world.settings, actor="t", today=TODAY, status="closed")
        full = caseload.caseload(s, world.settings, actor="t", today=TODAY, output="csv")
        s.commit()
    assert [r.case_id for r in mine.rows] == [ids["E"]]
    assert [r.case_id for r in nobody.rows] == [ids["C"]]
    assert [r.case_id for r in urgent.rows] == [ids["E"]]
    assert [r.case_id for r in locating.rows] == [ids["C"]]
    rows = _rows(caseload.to_csv(full))
    assert list(rows[0]) == list(caseload.COLUMNS)
    assert [(r["reference"], r["officer_name"], r["changed_since_last_week"]) for r in rows] == [
        (f"CME-{ids['E']}", "Olivia Officer", "no"),
        (f"CME-{ids['B']}", "Oscar Officer", "no"),
        (f"CME-{ids['C']}", "Not allocated", "yes"),
    ]
    assert rows[1]["next_action_due"] == "2026-09-28"
    assert rows[1]["escalations"] == "Referred to the VEMT panel (since 20 October 2026)"
    html = document_html(caseload.to_document(full), "Redcar and Cleveland", TODAY)
    assert "Oscar Officer: 1 case, 0 changed since last week" in html


def test_every_run_is_audited_without_child_data(world: World) -> None:
    with world.session() as s:
        caseload.caseload(s, world.settings, actor="olivia", today=TODAY, officer="oscar",
                          output="csv")  # fmt: skip
        vulnerable.vulnerable(s, world.settings, actor="olivia", today=TODAY)
        vemt.vemt(s, world.settings, actor="olivia", today=TODAY, output="pdf")
        s.commit()
        entries = s.execute(
            select(AuditEntry).where(AuditEntry.action.like("report.%")).order_by(AuditEntry.id)
        ).scalars().all()  # fmt: skip
    assert [(e.actor, e.action, e.entity, e.detail) for e in entries] == [
        ("olivia", "report.caseload", "report",
         {"output": "csv", "officer": "oscar", "cases": 1}),
        ("olivia", "report.vulnerable", "report", {"output": "page", "children": 4}),
        ("olivia", "report.vemt", "report", {"output": "pdf", "children": 2}),
    ]  # fmt: skip


def test_vulnerable_list_says_which_team_each_child_sits_with(world: World) -> None:
    ids = world.ids
    with world.session() as s:
        report = vulnerable.vulnerable(s, world.settings, actor="t", today=TODAY)
        s.commit()
    got = [(r.team, r.category, r.case_id, r.also_with) for r in report.rows]
    # B and C: open CME cases; E: moved out, monitored with 806; G: on the EHE register with a
    # safeguarding referral. H is on the register with no concern, so not listed.
    assert got == [
        ("Children Missing Education team", "cme", ids["B"], ("VEMT panel",)),
        ("Children Missing Education team", "cme", ids["C"], ()),
        ("Another authority: Middlesbrough", "out_of_area", ids["E"], ()),
        ("Elective Home Education team", "ehe", ids["G"], ()),
    ]
    g = report.rows[-1]
    assert g.reasons == (
        "On the EHE register with concerns since 1 October 2026",
        "Referred as a safeguarding concern",
    )
    b = report.rows[0]
    assert b.reasons == ("Open CME case", "Escalated: Referred to the VEMT panel")
    assert b.year_group == "Year 10"  # from the date of birth: 14 on 31 August 2026
    assert report.rows[1].year_group == "Year 3"  # as the case holds it
    rows = _rows(vulnerable.to_csv(report))
    assert [r["team"] for r in rows] == [r.team for r in report.rows]
    assert list(rows[0]) == list(vulnerable.COLUMNS)


def test_vemt_lists_long_term_children_with_their_escalation_history(world: World) -> None:
    ids = world.ids
    with world.session() as s:
        report = vemt.vemt(s, world.settings, actor="t", today=TODAY)
        s.commit()
    # B: whereabouts unknown, 84 days, referred to VEMT; C: 63 days (over 56). E has moved out.
    assert [(r.case_id, r.days_missing) for r in report.rows] == [(ids["B"], 84), (ids["C"], 63)]
    b, c = report.rows
    assert b.why == (
        "Whereabouts unknown",
        "Missing education longer than 56 days",
        "Referred to the VEMT panel",
    )
    assert c.why == ("Missing education longer than 56 days",)
    # The flag and the recorded step are one escalation, with its reason and review date.
    assert [(h.what, h.reason, h.review) for h in b.history] == [
        ("Escalated: Referred to the VEMT panel", "Possible exploitation", date(2026, 12, 14))
    ]
    assert c.history == ()
    rows = _rows(vemt.to_csv(report))
    assert rows[0]["escalation_history"] == (
        "20 October 2026 Escalated: Referred to the VEMT panel (Possible exploitation), "
        "review 14 December 2026"
    )


def test_vemt_period_is_configurable(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.settings import load_settings

    monkeypatch.setenv("CME_REPORTS_LONG_TERM_DAYS", "70")
    settings = load_settings()
    with world.session() as s:
        report = vemt.vemt(s, settings, actor="t", today=TODAY)
        s.commit()
    # C (63 days) is no longer long-term; B stays (whereabouts unknown, and VEMT).
    assert [r.case_id for r in report.rows] == [world.ids["B"]]
