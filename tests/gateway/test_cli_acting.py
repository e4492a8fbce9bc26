"""`cme --as USERNAME` / CME_USER: who the command line acts as, checked, and recorded."""

from __future__ import annotations

import getpass
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from sqlalchemy import func, select

from gateway.cli.context import unit_of_work
from gateway.models.audit import AuditEntry
from gateway.models.case import Case, TimelineEntry
from tests.conftest import CLI_USER, CliCall
from tests.gateway.test_cli_cases import GOOD, _enquiries_no_trace_needs

PASSWORD = "correct-horse-battery-staple"
OS_ACTOR = f"cli:{getpass.getuser()}"


def _audit() -> list[tuple[str, str]]:
    with unit_of_work() as (_s, session):
        rows = session.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id))
        return [(a, b) for a, b in rows]


def _status(case_id: str) -> str:
    with unit_of_work() as (_s, session):
        case = session.get(Case, int(case_id))
        assert case is not None
        return case.status


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_a_change_without_a_user_is_refused_in_one_line_and_changes_nothing(
    cme_home: Path, cli: CliCall
) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    before = _audit()
    refused = cli("case", "move", case_id, "locating", as_user=None)
    assert refused.exit_code != 0
    assert _one_line(refused.output) == (
        "Error: Say who you are: cme --as USERNAME case move ... or set CME_USER"
    )
    assert _status(case_id) == "logged" and _audit() == before
    added = cli("referral", "add", *GOOD, as_user=None)
    assert added.exit_code != 0 and "Say who you are" in added.output


def test_unknown_and_disabled_users_are_refused(cme_home: Path, cli: CliCall) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    cli.add_user("gone", active=False)
    before = _audit()
    ghost = cli("case", "move", case_id, "locating", as_user="ghost")
    assert ghost.exit_code != 0
    assert _one_line(ghost.output) == "Error: there is no user called 'ghost' to act as"
    disabled = cli("case", "move", case_id, "locating", as_user="gone")
    assert disabled.exit_code != 0
    assert _one_line(disabled.output) == "Error: the user 'gone' is disabled and cannot act"
    # A read names whoever it is given, so the name is checked there too.
    viewed = cli("cases", "show", case_id, as_user="ghost")
    assert viewed.exit_code != 0 and "no user called 'ghost'" in viewed.output
    assert _status(case_id) == "logged" and _audit() == before


def test_no_trace_is_signed_off_by_a_manager_acting_as_themselves(
    cme_home: Path, cli: CliCall
) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    _enquiries_no_trace_needs(cli, case_id)
    officer = cli("case", "close", case_id, "--outcome", "no_trace")
    assert officer.exit_code != 0
    assert "needs a manager's sign-off, and tester is an officer" in _one_line(officer.output)
    cli.add_user("mo", "manager")
    someone_else = cli("case", "close", case_id, "--outcome", "no_trace", "--manager", "M Boss",
                       as_user="mo")  # fmt: skip
    assert someone_else.exit_code != 0
    assert "--manager is no longer used" in _one_line(someone_else.output)
    assert _status(case_id) == "locating"  # the enquiries moved it on; still open
    ok = cli("case", "close", case_id, "--outcome", "no_trace", "--manager", "Mo", as_user="mo")
    assert ok.exit_code == 0, ok.output
    with unit_of_work() as (_s, session):
        case = session.get(Case, int(case_id))
        assert case is not None
        assert (case.status, case.closed_by, case.signed_off_by) == ("closed", "mo", "mo")
        close = session.execute(
            select(AuditEntry).where(AuditEntry.action == "case.close")
        ).scalar_one()
        assert close.actor == "mo" and close.detail["manager"] == "mo"


def test_the_named_user_is_the_actor_in_the_audit_log_and_the_timeline(
    cme_home: Path, cli: CliCall
) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    assert cli("case", "move", case_id, "locating").exit_code == 0
    assert cli("cases", "show", case_id).exit_code == 0
    assert cli("cases", "show", case_id, as_user=None).exit_code == 0
    entries = _audit()
    assert (CLI_USER, "case.move") in entries
    views = [a for a, action in entries if action == "case.view"]
    # A view names the user when one is given, else the operating-system account.
    assert views == [CLI_USER, OS_ACTOR]
    assert not any(a.startswith("cli:") for a, action in entries if action != "case.view")
    with unit_of_work() as (_s, session):
        actors = set(
            session.execute(
                select(TimelineEntry.actor).where(TimelineEntry.case_id == int(case_id))
            ).scalars()
        )
    assert CLI_USER in actors and not any(a.startswith("cli:") for a in actors)


def test_as_may_follow_the_command(
    cme_home: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    _enquiries_no_trace_needs(cli, case_id)
    cli.add_user("mo", "manager")
    two = cli("case", "close", case_id, "--outcome", "no_trace", "--as", "mo")
    assert two.exit_code != 0  # the fixture's --as tester came first
    assert _one_line(two.output) == "Error: --as names two users ('tester' and 'mo'): give one"
    monkeypatch.setenv("CME_USER", CLI_USER)  # a default in the environment gives way
    ok = cli("case", "close", case_id, "--outcome", "no_trace", "--as", "mo", as_user=None)
    assert ok.exit_code == 0, ok.output
    assert ("mo", "case.close") in _audit()
    shown = cli("cases", "show", case_id, "--as", "mo", as_user=None)
    assert shown.exit_code == 0 and ("mo", "case.view") in _audit()


def test_cme_user_names_the_user_and_is_not_an_unknown_setting(
    cme_home: Path, cli: CliCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.settings import load_settings

    monkeypatch.setenv("CME_USER", CLI_USER)
    load_settings()  # CME_* variables it does not know stop start-up; CME_USER it knows
    case_id = cli("referral", "add", *GOOD, as_user=None).output.strip()
    assert case_id.isdigit()
    assert cli("case", "move", case_id, "locating", as_user=None).exit_code == 0
    # --as wins over the environment.
    cli.add_user("olivia")
    assert cli("case", "move", case_id, "checking_status", as_user="olivia").exit_code == 0
    moves = [a for a, action in _audit() if action == "case.move"]
    assert moves == [CLI_USER, "olivia"]
    monkeypatch.setenv("CME_USER", "")
    empty = cli("case", "move", case_id, "locating", as_user=None)
    assert empty.exit_code != 0 and "Say who you are" in empty.output


def test_the_first_admin_is_added_without_a_user_then_only_by_an_admin(
    cme_home: Path, tmp_path: Path
) -> None:
    cli = CliCall()  # an installation with no users at all
    secret = tmp_path / "pw"
    secret.write_text(f"{PASSWORD}\n")
    officer = cli("users", "add", "olivia", "--name", "Olivia", "--password-file", secret)
    assert officer.exit_code != 0
    assert "the first must be an admin" in _one_line(officer.output)
    first = cli(
        "users", "add", "ada", "--name", "Ada", "--role", "admin", "--password-file", secret
    )
    assert first.exit_code == 0, first.output
    assert _audit() == [(OS_ACTOR, "user.add")]
    # Once there is a user, adding one needs an admin acting.
    unnamed = cli("users", "add", "olivia", "--name", "Olivia", "--password-file", secret)
    assert unnamed.exit_code != 0 and "Say who you are" in unnamed.output
    added = cli("users", "add", "olivia", "--name", "Olivia", "--password-file", secret,
                as_user="ada")  # fmt: skip
    assert added.exit_code == 0, added.output
    by_officer = cli("users", "add", "oscar", "--name", "Oscar", "--password-file", secret,
                     as_user="olivia")  # fmt: skip
    assert by_officer.exit_code != 0
    assert _one_line(by_officer.output) == (
        "Error: olivia is an officer: this needs an admin account (cme --as USERNAME users add ...)"
    )
    assert cli("users", "disable", "olivia", as_user="olivia").exit_code != 0
    assert "disable yourself" in cli("users", "disable", "ada", as_user="ada").output
    assert cli("users", "disable", "olivia", as_user="ada").exit_code == 0
    assert _audit() == [(OS_ACTOR, "user.add"), ("ada", "user.add"), ("ada", "user.disable")]
    with unit_of_work() as (_s, session):
        assert session.execute(select(func.count()).select_from(AuditEntry)).scalar() == 3


def test_an_empty_users_table_is_explained_to_whoever_names_themselves(
    cme_home: Path,
) -> None:
    result = CliCall("ada")("case", "move", "1", "locating")
    assert result.exit_code != 0
    assert "there are no users yet: add the first admin" in _one_line(result.output)


def test_reads_need_no_user(cme_home: Path, cli: CliCall) -> None:
    case_id = cli("referral", "add", *GOOD).output.strip()
    for args in (
        ["cases", "list"],
        ["cases", "show", case_id],
        ["due"],
        ["triage", "list"],
        ["users", "list"],
        ["audit", "verify"],
        ["outbox", "list"],
        ["quarantine", "list"],
        ["lost-pupils", "search", "--surname", "Testerton"],
        ["partners", "list"],
        ["monitoring", "list"],
    ):
        result = cli(*args, as_user=None)
        assert result.exit_code == 0, (args, result.output)


def _leaves(cmd: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None
            yield from _leaves(sub, [*path, name])
    else:
        yield path, cmd


MARKS = ("_cme_changes", "_cme_reads", "_cme_no_user")


def test_every_command_says_whether_it_changes_data() -> None:
    from gateway.cli.main import cli as group

    found: dict[str, str] = {}
    for path, cmd in _leaves(group, []):
        marks = [m for m in MARKS if hasattr(cmd.callback, m)]
        assert len(marks) == 1, f"cme {' '.join(path)} needs one of acting_user/reads/no_user"
        found[" ".join(path)] = getattr(cmd.callback, marks[0]) if marks == ["_cme_changes"] else (
            marks[0].removeprefix("_cme_")
        )  # fmt: skip
    assert found["init"] == found["run"] == "no_user"
    assert found["case close"] == found["referral add"] == "officer"
    assert found["quarantine release"] == "manager"
    assert found["users add"] == found["users disable"] == found["users set-password"] == "admin"
    assert found["cases show"] == found["lost-pupils search"] == "reads"
    assert len(found) > 50


def test_the_cli_starts_without_the_database_layer() -> None:
    code = (
        "import sys, gateway.cli.main, gateway.cli.acting; "
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'gateway.models'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_commands_that_touch_no_records_ignore_a_name(tmp_path: Path) -> None:
    note = tmp_path / "referral.txt"
    note.write_text("Child: Amy Testerton, DOB 03/04/2015. Moved away, no forwarding address.\n")
    # No data home at all: nothing is looked up, so nothing can fail on the name.
    result = CliCall("nobody")("parse", note, "--brief")
    assert result.exit_code == 0, result.output
