"""`cme disclosures list` needs a manager and prints the register."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.cli.context import unit_of_work
from gateway.users import Role, add_user


def test_the_register_on_the_command_line(cme_home: Path, cli, tmp_path: Path) -> None:
    with unit_of_work() as (_s, session):
        add_user(session, username="mary", password="a-long-test-password", role=Role.MANAGER,
                 display_name="Mary Manager", totp=False, actor="test")  # fmt: skip
    referral = tmp_path / "r.json"
    referral.write_text(json.dumps({
        "forename": "Ava", "surname": "Testperson", "referrer_email": "head@school.example",
        "gaps": ["date of birth missing"],
    }))  # fmt: skip
    case_id = int(cli("referral", "add", "--json", referral).output.strip().splitlines()[-1])
    listed = cli("--as", "mary", "disclosures", "list", "--case", case_id, "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["kind"], r["case"], r["lawful_basis"], r["channel"]) for r in rows] == [
        ("letter", case_id, "public_task", "email")
    ]
    text = cli("--as", "mary", "disclosures", "list")
    assert "Letter to the referrer" in text.output and f"CME-{case_id}" in text.output
