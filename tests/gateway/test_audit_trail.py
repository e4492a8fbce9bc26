"""Audit queries: who viewed or changed a child's record, which records a user opened, each
entry in words; the case page's viewers one row per person; a user's entries by index."""

from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from gateway import audit
from gateway.audit_trail import LABELS, Kind, kind_of, label, user_activity_query
from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.cases.page import open_case_page
from gateway.db import make_engine
from gateway.models.audit import AuditEntry
from gateway.settings import Settings, load_settings
from gateway.users import who_viewed
from tests.conftest import CliCall
from tests.gateway.sar.builder import RichCase, build

ROOT = Path(__file__).resolve().parents[2]


def _case(session: Session, settings: Settings) -> int:
    data = build_referral_input(
        {"forename": "Quintessa", "surname": "Marblethorpe", "dob": "2014-02-01",
         "postcode": "TS10 1AA", "channel": "phone", "received": "2026-11-02"},
        today=date(2026, 11, 27),
    )  # fmt: skip
    case = service.log_referral(session, settings, data, actor="olivia")
    session.commit()
    return case.id


def test_the_viewers_are_one_row_per_person_with_their_last_view(
    session: Session, engine: Engine, tmp_path: Path, time_machine: Any
) -> None:
    settings = load_settings({"CME_HOME": str(tmp_path / "home")})
    case_id = _case(session, settings)
    for who, minute in (("olivia", 0), ("olivia", 5), ("mary", 7), ("olivia", 10)):
        time_machine.move_to(datetime(2026, 11, 27, 10, minute, tzinfo=UTC), tick=False)
        open_case_page(session, settings, engine, case_id, who)
        session.commit()
    time_machine.move_to(datetime(2026, 11, 27, 10, 12, tzinfo=UTC), tick=False)
    audit.record(session, actor="mary", action="child.view", entity="case", entity_id=case_id)
    audit.record(session, actor="olivia", action="case.move", entity="case", entity_id=case_id)
    session.commit()
    viewers = who_viewed(session, "case", case_id)
    assert [(v.actor, v.at, v.views) for v in viewers] == [
        ("mary", datetime(2026, 11, 27, 10, 12, tzinfo=UTC), 2),
        ("olivia", datetime(2026, 11, 27, 10, 10, tzinfo=UTC), 3),
    ]


def _literal_actions() -> set[str]:
    """Every action the code records as a literal (both arms of a conditional too)."""
    found: set[str] = set()
    for package in ("gateway", "web", "lost_pupil"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record"
                ):
                    continue
                for kw in node.keywords:
                    if kw.arg != "action":
                        continue
                    values = [kw.value]
                    if isinstance(kw.value, ast.IfExp):
                        values = [kw.value.body, kw.value.orelse]
                    found |= {v.value for v in values if isinstance(v, ast.Constant) and v.value}
    return found


def test_every_action_the_code_records_has_words() -> None:
    actions = _literal_actions()
    assert {"case.view", "child.edit", "referral.receive"} <= actions
    missing = sorted(a for a in actions if a not in LABELS)
    assert not missing, f"audit actions without a label in gateway/audit_trail.py: {missing}"
    # The families the code builds with f-strings.
    for action in ("case.status_check", "case.home_visit", "case.fact_accepted",
                   "intake.email_reply", "letter.posted", "match_confirmed",
                   "quarantine.released", "signin.bad_password"):  # fmt: skip
        assert action in LABELS, action
    assert label("case.view") == "Viewed the case"
    assert label("child.edit") == "Changed the child's details"
    assert label("disclosure.sar_archive") == "Disclosed: Subject access archive"
    assert label("report.caseload") == "Produced the caseload report"
    assert label("something.new_thing") == "Something: new thing"
    assert kind_of("case.view") is Kind.VIEW and kind_of("child.edit") is Kind.CHANGE
    assert kind_of("disclosure.letter") is Kind.DISCLOSURE and kind_of("signin") is Kind.ACCOUNT


@pytest.fixture
def rich(cme_home: Path, cli: CliCall) -> RichCase:
    cli.add_user("mary", "manager")
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    try:
        return build(settings, engine, officer="tester", manager="mary")
    finally:
        engine.dispose()


def test_audit_who_lists_everything_about_the_record(rich: RichCase, cli: CliCall) -> None:
    result = cli("audit", "who", "--case", rich.case_id, "--json", as_user="mary")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    entries = out["entries"]
    assert out["total"] == len(entries)
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)  # newest first
    about = {(e["entity"], e["entity_id"], e["action"]) for e in entries}
    # Before the second referral joined the case it was its own record: still the child's.
    assert ("referral", str(rich.anonymous_referral), "referral.receive") in about
    assert ("match", f"referral:{rich.anonymous_referral}", "match_confirmed") in about
    assert ("case", str(rich.case_id), "intake.email_reply") in about
    views = [e for e in entries if e["action"] == "case.view"]
    assert [e["actor"] for e in views] == ["mary", "tester", "tester"]
    assert {e["label"] for e in views} == {"Viewed the case"}
    only = json.loads(
        cli("audit", "who", "--case", rich.case_id, "--views", "--json", as_user="mary").output
    )
    assert {e["action"].rsplit(".", 1)[-1] for e in only["entries"]} == {"view"}
    plain = cli("audit", "who", "--case", rich.case_id, as_user="mary")
    assert "Viewed the case  (Case CME-" in plain.output
    assert f"Case CME-{rich.case_id}: " in plain.output.splitlines()[0]
    # A manager's question: an officer is refused; each reading is itself audited.
    refused = cli("audit", "who", "--case", rich.case_id)
    assert refused.exit_code != 0 and "manager" in refused.output
    assert cli("audit", "who", "--case", 999, as_user="mary").exit_code != 0
    again = json.loads(cli("audit", "who", "--case", rich.case_id, "--json", as_user="mary").output)
    reads = [e for e in again["entries"] if e["action"] == "audit.case_history"]
    assert len(reads) == 3 and reads[0]["label"] == "Read the audit history of the record"


def test_audit_user_lists_what_a_user_opened(rich: RichCase, cli: CliCall) -> None:
    result = cli("audit", "user", "tester", "--json", as_user="mary")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    entries = out["entries"]
    assert entries and {e["actor"] for e in entries} == {"tester"}
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)
    views = [e for e in entries if e["action"] == "case.view"]
    assert len(views) == 2
    assert {(e["about"], e["case"]) for e in views} == {(f"Case CME-{rich.case_id}", rich.case_id)}
    assert "enquiry.record" in {e["action"] for e in entries}
    plain = cli("audit", "user", "tester", as_user="mary").output
    assert f"Viewed the case  (Case CME-{rich.case_id})" in plain
    later = cli("audit", "user", "tester", "--since", "2999-01-01", as_user="mary").output
    assert "No entries for 'tester'" in later
    assert "No entries" in cli("audit", "user", "nobody", as_user="mary").output
    assert cli("audit", "user", "tester").exit_code != 0  # an officer may not ask


def _plan(session: Session, engine: Engine, stmt: Any) -> str:
    compiled = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    return "\n".join(str(r[-1]) for r in session.execute(text(prefix + compiled)))


def test_a_users_entries_are_read_through_an_index_on_a_large_log(
    session: Session, engine: Engine
) -> None:
    at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    rows = [
        {"at": at, "actor": f"officer{i % 400}", "action": "case.view", "entity": "case",
         "entity_id": str(i % 5000), "detail": {}, "prev_hash": "0" * 64,
         "hash": f"{i:064x}", "scheme": "sha256"}
        for i in range(40_000)
    ]  # fmt: skip
    session.execute(insert(AuditEntry), rows)
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()
    plan = _plan(session, engine, user_activity_query("officer7", limit=50))
    assert "ix_audit_log_actor" in plan, plan
