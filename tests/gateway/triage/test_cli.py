"""`cme triage` and `cme match decide` on the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

OLIVER = [
    "--forename", "Oliver", "--surname", "Testbrook", "--dob", "2014-06-02", "--sex", "M",
    "--postcode", "TS10 2AB", "--address-line1", "7 Synthetic Row", "--reason", "Not at school",
    "--referrer-name", "Ann Head", "--referrer-email", "head@school-807.example",
]  # fmt: skip


def test_rekeying_a_referral_waits_in_triage_and_the_officer_attaches_it(
    cme_home: Path, cli
) -> None:
    first = cli("referral", "add", *OLIVER)
    assert first.exit_code == 0, first.output
    case_id = int(first.output)
    again = cli("referral", "add", *OLIVER[:1], "Ollie", *OLIVER[2:])
    assert again.exit_code == 0 and "waiting in triage" in again.output
    [item] = json.loads(cli("triage", "list", "--json").output)
    assert item["draft"]["forename"] == "Ollie" and item["draft"]["dob"] == "2014-06-02"
    assert item["urgent"] is False and item["channel"] == "phone"
    assert [(c["kind"], c["ref"]) for c in item["candidates"]] == [("case", f"case:{case_id}")]
    assert set(item["candidates"][0]) >= {"kind", "ref", "score", "decision"}
    attached = cli("triage", "attach", item["id"], "--case", case_id)
    assert attached.exit_code == 0, attached.output
    assert json.loads(cli("triage", "list", "--json").output) == []
    again = cli("triage", "attach", item["id"], "--case", case_id)
    assert again.exit_code != 0 and "already triaged" in again.output


def test_open_and_dismiss_from_the_command_line(cme_home: Path, cli, tmp_path: Path) -> None:
    cli("referral", "add", *OLIVER)
    cli("referral", "add", *OLIVER[:1], "Ollie", *OLIVER[2:])
    cli("referral", "add", *OLIVER[:1], "Olly", *OLIVER[2:])
    first, second = json.loads(cli("triage", "list", "--json").output)
    fix = tmp_path / "fix.json"
    fix.write_text(json.dumps({"forename": "Olly", "dob": "2014-06-03"}))
    opened = cli("triage", "open", first["id"], "--json", fix)
    assert opened.exit_code == 0 and int(opened.output) > 0
    bad = cli("triage", "dismiss", second["id"], "--reason", "bored")
    assert bad.exit_code != 0
    ok = cli("triage", "dismiss", second["id"], "--reason", "duplicate", "--note", "re-keyed")
    assert ok.exit_code == 0 and "Duplicate" in ok.output


def test_match_decide_confirmed_changes_the_case(cme_home: Path, cli) -> None:
    case_id = int(cli("referral", "add", *OLIVER).output)
    cli("referral", "add", *OLIVER[:1], "Ollie", *OLIVER[2:])
    [item] = json.loads(cli("triage", "list", "--json").output)
    done = cli("match", "decide", f"referral:{item['id']}", f"case:{case_id}", "confirmed")
    assert done.exit_code == 0 and f"CME-{case_id}" in done.output
    shown = json.loads(cli("cases", "show", case_id, "--json").output)
    assert len(shown["referrals"]) == 2
