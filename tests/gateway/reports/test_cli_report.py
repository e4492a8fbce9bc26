"""`cme report ...` through the CLI on the known term (conftest.py), on both engines."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from gateway.models.audit import AuditEntry
from tests.conftest import CLI_USER
from tests.gateway.reports.conftest import TERM, World

pytestmark = pytest.mark.usefixtures("on_today")


def test_caseload_csv_to_stdout(world: World, cli) -> None:
    result = cli("report", "caseload", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["reference"] for r in rows] == [f"CME-{world.ids[k]}" for k in ("E", "B", "C")]
    urgent = cli("report", "caseload", "--urgent", "--officer", "olivia")
    assert urgent.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(urgent.stdout)))) == 1
    with world.session() as s:
        entries = s.execute(
            select(AuditEntry.actor, AuditEntry.detail)
            .where(AuditEntry.action == "report.caseload")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(e) for e in entries] == [
        (CLI_USER, {"output": "csv", "cases": 3}),
        (CLI_USER, {"output": "csv", "officer": "olivia", "urgent_only": True, "cases": 1}),
    ]


def test_a_report_runs_without_a_user_and_records_the_os_account(world: World, cli) -> None:
    result = cli("report", "vemt", "--format", "json", as_user=None)
    assert result.exit_code == 0, result.output
    assert '"days_missing": 84' in result.stdout
    with world.session() as s:
        actor = s.execute(
            select(AuditEntry.actor).where(AuditEntry.action == "report.vemt")
        ).scalar_one()
    assert actor.startswith("cli:")


def test_dfe_csv_and_briefing_pdf_for_a_term(world: World, cli, tmp_path: Path) -> None:
    result = cli("report", "dfe", "--term", TERM, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    total = [r for r in rows if r["measure"] == "census" and r["breakdown"] == "total"]
    assert [(r["term"], r["children"]) for r in total] == [(TERM, "2")]
    out = tmp_path / "briefing.pdf"
    result = cli("report", "briefing", "--term", TERM, "--format", "pdf", "--out", out)
    assert result.exit_code == 0, result.output
    text = " ".join(p.extract_text() for p in PdfReader(out).pages)
    assert "termly briefing" in text and "Autumn term 2026" in text
    html = cli("report", "vulnerable", "--format", "html")
    assert html.exit_code == 0 and "Elective Home Education team" in html.stdout
    with world.session() as s:
        actions = s.execute(
            select(AuditEntry.action, AuditEntry.detail)
            .where(AuditEntry.action.in_(("report.dfe", "report.briefing")))
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("report.dfe", {"output": "csv", "term": TERM, "census": 2}),
        ("report.briefing", {"output": "pdf", "term": TERM}),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "caseload", "--term", TERM], "--term is for the briefing"),
        (["report", "dfe", "--officer", "olivia"], "filter the caseload only"),
        (["report", "briefing", "--format", "pdf"], "needs a file"),
        (["report", "dfe", "--term", "autumn"], "YYYY-autumn"),
        (["report", "caseload", "--status", "nonsense"], "choose a status"),
    ],
)
def test_bad_requests_get_one_line(world: World, cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output
