"""The case CLI: the acceptance interfaces, and bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CliCall

GOOD = [
    "--forename",
    "Amy",
    "--surname",
    "Testerton",
    "--dob",
    "2015-04-03",
    "--sex",
    "F",
    "--upn",
    "R807300024001",
    "--postcode",
    "ts10 1aa",
    "--reason",
    "moved, no forwarding",
    "--referrer-name",
    "Ann Head",
    "--referrer-email",
    "head@school.example",
    "--channel",
    "email",
    "--received",
    "2026-11-02",
]


def _count(cli: CliCall) -> int:
    return len(json.loads(cli("cases", "list", "--json").output))


def test_referral_add_prints_case_id_and_lists(cme_home: Path, cli: CliCall) -> None:
    result = cli("referral", "add", *GOOD)
    assert result.exit_code == 0, result.output
    case_id = int(result.output.strip())
    rows = json.loads(cli("cases", "list", "--json").output)
    assert rows == [
        {
            "id": case_id,
            "status": "logged",
            "forename": "Amy",
            "surname": "Testerton",
            "dob": "2015-04-03",
            "opened_on": "2026-11-02",
            "outcome": None,
        }
    ]
    due = json.loads(cli("due", "--json", "--days", "3650").output)
    assert {"case_id": case_id, "kind": "progress_update", "due": "2026-11-16"}.items() <= (
        due[0].items()
    )
    shown = json.loads(cli("cases", "show", case_id, "--json").output)
    assert shown["child"]["postcode"] == "TS10 1AA" and shown["child"]["upn"] == "R807300024001"
    assert cli("audit", "verify").exit_code == 0


def test_referral_add_from_json(cme_home: Path, cli: CliCall, tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text(
        json.dumps(
            {
                "forename": "Bo",
                "surname": "Lamb",
                "dob": "2013-01-09",
                "referrer_email": "x@agency.example",
                "channel": "phone",
            }
        )
    )
    result = cli("referral", "add", "--json", f)
    assert result.exit_code == 0, result.output
    assert json.loads(cli("cases", "list", "--json").output)[0]["surname"] == "Lamb"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--forename", "A", "--surname", "B", "--dob", "2015-13-01"], "dob must be a date"),
        (["--forename", "A", "--surname", "B", "--upn", "Q207000016049"], "expected P"),
        (["--forename", "A", "--surname", "B", "--postcode", "XX1"], "not a valid UK postcode"),
        (["--forename", "A", "--surname", "B", "--sex", "X"], "sex must be M or F"),
        (["--surname", "B"], "forename is required"),
        (["--forename", "A", "--surname", "B", "--received", "2099-01-01"], "in the future"),
        (
            ["--forename", "A", "--surname", "B", "--referrer-email", "nobody"],
            "not an email address",
        ),
    ],
)
def test_bad_input_one_line_nothing_changed(
    cme_home: Path, cli: CliCall, args: list[str], message: str
) -> None:
    before = _count(cli)
    result = cli("referral", "add", *args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert _count(cli) == before


def test_bad_json_file(cme_home: Path, cli: CliCall, tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text('{"forename": "A", "surname": "B", "shoe_size": 3}')
    result = cli("referral", "add", "--json", f)
    assert result.exit_code != 0 and "unknown field 'shoe_size'" in result.output
    f.write_text("{not json")
    result = cli("referral", "add", "--json", f)
    assert result.exit_code != 0 and "not valid JSON" in result.output


def _enquiries_no_trace_needs(cli: CliCall, case_id: str) -> None:
    from gateway.settings import load_settings

    for agency in load_settings().casework.no_trace_after:
        done = cli("case", "enquiry", case_id, "--agency", agency, "--method", "phone")
        assert done.exit_code == 0, done.output


def test_move_close_and_refusals(cme_home: Path, cli: CliCall) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    assert cli("case", "move", case_id, "locating").exit_code == 0
    refused = cli("case", "move", case_id, "placed_monitoring")
    assert refused.exit_code != 0 and "cannot move from locating" in refused.output
    no_manager = cli("case", "close", case_id, "--outcome", "no_trace")
    assert no_manager.exit_code != 0 and "manager" in no_manager.output
    assert cli("case", "escalate", case_id, "police").exit_code == 0
    _enquiries_no_trace_needs(cli, case_id)
    cli.add_user("mo", "manager")
    ok = cli("case", "close", case_id, "--outcome", "no_trace", as_user="mo")
    assert ok.exit_code == 0, ok.output
    assert json.loads(cli("cases", "list", "--json").output)[0]["status"] == "closed"
    missing = cli("case", "move", "999", "locating")
    assert missing.exit_code != 0 and "there is no case 999" in missing.output


def test_enquiry_log_and_acknowledgement(cme_home: Path, cli: CliCall) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    r = cli(
        "case",
        "enquiry",
        case_id,
        "--agency",
        "housing",
        "--method",
        "phone",
        "--outcome",
        "no tenancy found",
    )
    assert r.exit_code == 0, r.output
    bad = cli("case", "enquiry", case_id, "--agency", "ministry", "--method", "phone")
    assert bad.exit_code != 0 and "agency must be one of" in bad.output
    assert cli("case", "enquiries-complete", case_id).exit_code == 0
    outbox = json.loads(cli("outbox", "list", "--json").output)
    assert [m["kind"] for m in outbox] == ["acknowledgement"]
    assert "Testerton" not in outbox[0]["subject"] and f"CME-{case_id}" in outbox[0]["subject"]


def test_audit_verify_fails_on_tampering(cme_home: Path, cli: CliCall) -> None:
    from sqlalchemy import update

    from gateway.cli.context import unit_of_work
    from gateway.models.audit import AuditEntry

    cli("referral", "add", *GOOD)
    cli("cases", "list")
    with unit_of_work() as (_s, session):
        session.execute(update(AuditEntry).where(AuditEntry.id == 1).values(action="x"))
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "entry 1" in result.output


def test_every_command_has_help(cli: CliCall) -> None:
    from gateway.cli.main import cli as group

    def walk(cmd, path):  # type: ignore[no-untyped-def]
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path in walk(group, []):
        result = cli(*path, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, path


def test_uninitialised_home_is_explained(
    tmp_path: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CME_HOME", str(tmp_path / "nowhere"))
    result = cli("cases", "list")
    assert result.exit_code != 0 and "cme init" in result.output
