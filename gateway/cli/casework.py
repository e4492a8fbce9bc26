"""`cme case`: work one case: move, close, reopen, escalate, record enquiries."""

from __future__ import annotations

from datetime import date, datetime

import click

from gateway.cases import service
from gateway.cases.inputs import InputError
from gateway.cases.workflow import load_workflow
from gateway.cli.acting import acting_user, current_user
from gateway.cli.context import actor, unit_of_work
from gateway.db import utcnow
from gateway.settings import Settings
from gateway.users import Role, normalise_username


@click.group()
def case() -> None:
    """Work one case: move, close, reopen, escalate, record enquiries."""


@case.command("move")
@click.argument("case_id", type=int)
@click.argument("status")
@acting_user(Role.OFFICER)
def move(case_id: int, status: str) -> None:
    """Move a case to STATUS (only along the workflow's allowed transitions)."""
    with unit_of_work() as (s, session):
        service.move_case(session, s, case_id, status, actor())
    click.echo(f"case {case_id} -> {status}")


@case.command("close")
@click.argument("case_id", type=int)
@click.option("--outcome", required=True, help="A closure reason from the workflow.")
@click.option("--school", help="LAESTAB or name of the school (on-roll outcomes).")
@click.option("--start-date", help="Date the child started there, YYYY-MM-DD.")
@click.option("--la-code", help="The other LA (on roll in another LA).")
@click.option("--note", help="Free-text note for the record.")
@click.option(
    "--manager",
    help="Deprecated: a manager signs off by acting as themselves (cme --as MANAGER); if "
    "given, it must name the acting user.",
)
@acting_user(Role.OFFICER)
def close(
    case_id: int,
    outcome: str,
    school: str | None,
    start_date: str | None,
    la_code: str | None,
    note: str | None,
    manager: str | None,
) -> None:
    """Close a case with an outcome. An outcome that needs a manager's sign-off (no_trace)
    is closed by a manager, who signs it off by acting: cme --as MANAGER case close ..."""
    if start_date:
        try:
            date.fromisoformat(start_date)
        except ValueError:
            raise InputError(f"--start-date must be YYYY-MM-DD, not {start_date!r}") from None
    detail = {
        k: v
        for k, v in {
            "school": school,
            "start_date": start_date,
            "la_code": la_code,
            "note": note,
        }.items()
        if v
    }
    with unit_of_work() as (s, session):
        signed_off = _sign_off(s, outcome, manager)
        service.close_case(session, s, case_id, outcome, detail, actor(), manager=signed_off)
    click.echo(f"case {case_id} closed: {outcome}")


def _sign_off(s: Settings, outcome: str, manager: str | None) -> str | None:
    """The manager who signs this closure off: the acting user, if the outcome needs one."""
    user = current_user()
    assert user is not None  # acting_user() has checked who is acting
    if manager is not None and normalise_username(manager) != user.username:
        raise InputError(
            f"--manager is no longer used: a manager signs off by acting as themselves "
            f"(cme --as MANAGER case close ...), and {manager!r} is not {user.username!r}"
        )
    spec = load_workflow(s.workflow.file).outcomes.get(outcome)
    if spec is None or not spec.manager_signoff:
        return None  # an unknown outcome is refused by close_case with the list of outcomes
    if not user.has_role(Role.MANAGER):
        raise InputError(
            f"closing as {outcome} needs a manager's sign-off, and {user.username} is an "
            f"{user.role.value}: a manager closes it with cme --as MANAGER case close ..."
        )
    return user.username


@case.command("reopen")
@click.argument("case_id", type=int)
@click.option("--reason", required=True, help="Why the case is reopened.")
@acting_user(Role.OFFICER)
def reopen(case_id: int, reason: str) -> None:
    """Reopen a closed case."""
    with unit_of_work() as (s, session):
        service.reopen_case(session, s, case_id, actor(), reason)
    click.echo(f"case {case_id} reopened")


@case.command("escalate")
@click.argument("case_id", type=int)
@click.argument("flag")
@click.option("--clear", is_flag=True, help="Clear the flag instead of setting it.")
@acting_user(Role.OFFICER)
def escalate(case_id: int, flag: str, clear: bool) -> None:
    """Set an escalation flag (social_care, police, vemt); the case stays open."""
    with unit_of_work() as (s, session):
        service.escalate(session, s, case_id, flag, actor(), on=not clear)
    click.echo(f"case {case_id}: {flag} {'cleared' if clear else 'set'}")


@case.command("enquiry")
@click.argument("case_id", type=int)
@click.option("--agency", required=True, help=f"One of: {', '.join(service.AGENCIES)}.")
@click.option("--method", required=True, help=f"One of: {', '.join(service.METHODS)}.")
@click.option("--outcome", help="What was learned.")
@click.option("--contact", help="Who was contacted.")
@click.option("--at", "at_", help="When (ISO date-time, default now).")
@acting_user(Role.OFFICER)
def enquiry(
    case_id: int,
    agency: str,
    method: str,
    outcome: str | None,
    contact: str | None,
    at_: str | None,
) -> None:
    """Record a contact with an agency on a case."""
    when = utcnow()
    if at_:
        try:
            when = datetime.fromisoformat(at_)
        except ValueError:
            raise InputError(f"--at must be an ISO date-time, not {at_!r}") from None
        if when.tzinfo is None:
            when = when.astimezone()
    with unit_of_work() as (s, session):
        entry = service.record_enquiry(
            session,
            case_id,
            agency=agency,
            method=method,
            at=when,
            outcome=outcome,
            contact=contact,
            actor=actor(),
            settings=s,
        )
        entry_id = entry.id
    click.echo(f"enquiry {entry_id} recorded on case {case_id}")


@case.command("enquiries-complete")
@click.argument("case_id", type=int)
@acting_user(Role.OFFICER)
def enquiries_complete(case_id: int) -> None:
    """Mark initial enquiries complete; the referrer gets the acknowledgement letter."""
    with unit_of_work() as (s, session):
        service.enquiries_complete(session, s, case_id, actor())
    click.echo(f"case {case_id}: enquiries complete, acknowledgement queued")
