"""`cme intake` and `cme quarantine` through the real CLI on an initialised data home."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures import mail


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_intake_prints_one_outcome_per_file_and_dedupes(
    cme_home: Path, cli, tmp_path: Path
) -> None:
    good, bad = tmp_path / "referral.eml", tmp_path / "junk.eml"
    good.write_bytes(mail.referral(5))
    bad.write_bytes(b"\x00\x01 no headers here\r\n")
    result = cli("intake", good, bad, good)
    assert result.exit_code == 0, result.output
    first, junk, again = _lines(result.output)
    assert first["outcome"] == "case" and first["case_id"]
    assert (junk["outcome"], junk["reason"]) == ("quarantined", "no_headers")
    # The same bytes again: the first outcome, said to be a duplicate; nothing is redone.
    assert (again["outcome"], again["raw_id"], again["duplicate"]) == (
        "case", first["raw_id"], True,
    )  # fmt: skip
    assert first["duplicate"] is False

    listed = cli("quarantine", "list", "--json")
    assert [(i["raw_id"], i["reason"]) for i in json.loads(listed.output)] == [
        (junk["raw_id"], "no_headers")
    ]
    cases = cli("cases", "list", "--json")
    assert cases.exit_code == 0


def test_quarantine_show_retry_release(cme_home: Path, cli, tmp_path: Path) -> None:
    note = tmp_path / "note.eml"
    note.write_bytes(mail.with_attachment("tool.exe", b"MZ\x90\x00"))
    (held,) = _lines(cli("intake", note).output)
    assert held["reason"] == "executable_attachment"
    shown = cli("quarantine", "show", held["raw_id"])
    assert shown.exit_code == 0 and json.loads(shown.output)["reason"] == "executable_attachment"
    retried = _lines(cli("quarantine", "retry", held["raw_id"]).output)[0]
    assert retried["reason"] == "executable_attachment"  # same checks, same answer
    # Releasing skips the checks, so it takes a manager (as on the console).
    refused = cli("quarantine", "release", held["raw_id"])
    assert refused.exit_code != 0 and "needs a manager account" in refused.output
    cli.add_user("mo", "manager")
    released = _lines(cli("quarantine", "release", held["raw_id"], as_user="mo").output)[0]
    # The manager's release skips the checks; what a person sent waits for triage.
    assert released["outcome"] == "triage"
    assert cli("quarantine", "show", 999).exit_code != 0


def test_intake_of_a_missing_file_is_one_line_and_non_zero(cme_home: Path, cli) -> None:
    result = cli("intake", "/nonexistent/x.eml")
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_a_held_message_becomes_a_referral_or_is_discarded(
    cme_home: Path, cli, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.eml", tmp_path / "b.eml"
    first.write_bytes(mail.with_attachment("tool.exe", b"MZ\x90\x00"))
    second.write_bytes(mail.with_attachment("other.exe", b"MZ\x90\x01"))
    (held,) = _lines(cli("intake", first).output)
    (junk,) = _lines(cli("intake", second).output)
    made = cli("quarantine", "referral", held["raw_id"])
    assert made.exit_code == 0 and "waiting in triage" in made.output
    triage = json.loads(cli("triage", "list", "--json").output)
    assert len(triage) == 1
    assert any("held in the quarantine" in g for g in triage[0]["gaps"])
    assert cli("quarantine", "discard", junk["raw_id"], "--reason", " ").exit_code != 0
    gone = cli("quarantine", "discard", junk["raw_id"], "--reason", "spam")
    assert gone.exit_code == 0
    assert json.loads(cli("quarantine", "list", "--json").output) == []
