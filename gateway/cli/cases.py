"""Referrals and cases on the command line: log, list, show, move, close, deadlines."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from gateway import audit
from gateway.cases import queries, service
from gateway.cases.inputs import InputError, build_referral_input
from gateway.cases.workflow import load_workflow
from gateway.cli.acting import acting_user, current_user, reads
from gateway.cli.context import actor, echo_json, unit_of_work
from gateway.db import utcnow
from gateway.models.referral import Channel
from gateway.settings import Settings
from gateway.triage.service import receive
from gateway.users import Role, normalise_username

_REFERRAL_OPTIONS = [
    ("forename", "Child's forename(s)."),
    ("surname", "Child's surname."),
    ("dob", "Date of birth, YYYY-MM-DD."),
    ("sex", "M or F."),
    ("upn", "Unique Pupil Number (13 characters)."),
    ("postcode", "Postcode of the child's last known address."),
    ("address-line1", "First line of the child's last known address."),
    ("town", "Town of that address."),
    ("reason", "Why the child is thought to be missing education."),
    ("referrer-name", "Who referred."),
    ("referrer-role", "Their role."),
    ("referrer-organisation", "Their organisation."),
    ("referrer-email", "Their email (letters go there)."),
    ("referrer-phone", "Their phone."),
    ("school", "Current or last school."),
    ("received", "Date the referral was received, YYYY-MM-DD (default today)."),
    ("urgency", "routine, urgent or safeguarding."),
]


@click.group()
def referral() -> None:
    """Log referrals."""


@acting_user(Role.OFFICER)
def _referral_add(json_file: Path | None, channel: str | None, **flags: Any) -> None:
    values: dict[str, Any] = {}
    if json_file is not None:
        try:
            loaded = json.loads(json_file.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {json_file}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{json_file} is not valid JSON: {exc.msg} at line {exc.lineno}"
            ) from None
        if not isinstance(loaded, dict):
            raise InputError(f"{json_file} must hold one JSON object of referral fields")
        values.update(loaded)
    values.update({k: v for k, v in flags.items() if v is not None})
    if channel is not None:
        values["channel"] = channel
    with unit_of_work() as (s, session):
        # Checked whole first: a referral keyed in by hand must be complete enough to log.
        build_referral_input(values, today=utcnow().date())
        routed = receive(session, s, values, actor=actor(), keyed_by_officer=True)
    if routed.case_id is not None:
        click.echo(routed.case_id)
    else:
        click.echo(
            f"Referral {routed.referral_id} is waiting in triage: it may be about a child we "
            f"already know. See `cme triage show {routed.referral_id}`."
        )


_add = click.command("add")(_referral_add)
_add = click.option(
    "--json",
    "json_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A JSON object with the same field names (underscores).",
)(_add)
_add = click.option(
    "--channel",
    type=click.Choice([c.value for c in Channel]),
    help="How the referral arrived (default phone).",
)(_add)
for _name, _help in reversed(_REFERRAL_OPTIONS):
    _add = click.option(f"--{_name}", _name.replace("-", "_"), help=_help)(_add)
_add.help = (
    "Log a new referral and print its case id: a new case, or the child's case when the match "
    "is certain. A referral that may be about a child we already know waits in triage."
)
referral.add_command(_add)


@click.group()
def cases() -> None:
    """List and show cases."""


@cases.command("list")
@click.option("--status", help="Only cases in this status.")
@click.option("--open", "open_only", is_flag=True, help="Only cases not closed.")
@click.option("--limit", type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def list_cases(status: str | None, open_only: bool, limit: int | None, as_json: bool) -> None:
    """List cases (id, status, child, date of birth)."""
    with unit_of_work() as (_s, session):
        rows = queries.list_cases(session, status=status, open_only=open_only, limit=limit)
        audit.record(
            session,
            actor=actor(),
            action="cases.list",
            entity="case",
            entity_id=None,
            detail={"count": len(rows), "status": status},
        )
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    for r in rows:
        dob = r.dob.isoformat() if r.dob else "-"
        click.echo(f"{r.id:>6}  {r.status:<28} {r.surname}, {r.forename}  {dob}")


@cases.command("show")
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def show_case(case_id: int, as_json: bool) -> None:
    """Show one case: child, referrals, tasks and timeline."""
    with unit_of_work() as (_s, session):
        case = queries.case_detail(session, case_id)
        child = case.child
        out = {
            "id": case.id,
            "tag": case.tag,
            "status": case.status,
            "outcome": case.outcome,
            "escalations": sorted(case.escalations),
            "child": {
                "forename": child.forenames,
                "surname": child.surname,
                "dob": child.dob.isoformat() if child.dob else None,
                "sex": child.sex,
                "upn": child.upn,
                "postcode": child.current_address.postcode if child.current_address else None,
            },
            "referrals": [
                {
                    "id": r.id,
                    "channel": r.channel,
                    "received": r.received_on.isoformat(),
                    "referrer": r.referrer_name,
                    "reason": r.reason,
                    "gaps": r.gaps,
                }
                for r in case.referrals
            ],
            "tasks": [
                {"id": t.id, "kind": t.kind, "due": t.due.isoformat(), "status": t.status}
                for t in case.tasks
            ],
            "timeline": [
                {"at": e.at.isoformat(), "kind": e.kind, "summary": e.summary}
                for e in queries.timeline(session, case_id)
            ],
        }
        audit.record(session, actor=actor(), action="case.view", entity="case", entity_id=case_id)
    if as_json:
        echo_json(out)
        return
    c = out["child"]
    assert isinstance(c, dict)
    click.echo(f"{out['tag']}  {out['status']}  {c['surname']}, {c['forename']}  {c['dob']}")
    for t in out["tasks"]:  # type: ignore[attr-defined]
        click.echo(f"  task {t['kind']} due {t['due']} ({t['status']})")
    for e in out["timeline"]:  # type: ignore[attr-defined]
        click.echo(f"  {e['at'][:16]}  {e['summary']}")


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
    with unit_of_work() as (_s, session):
        entry = service.record_enquiry(
            session,
            case_id,
            agency=agency,
            method=method,
            at=when,
            outcome=outcome,
            contact=contact,
            actor=actor(),
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


@click.command()
@click.option(
    "--days",
    type=int,
    default=7,
    show_default=True,
    help="Also list what falls due within this many days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def due(days: int, as_json: bool) -> None:
    """Deadlines due and overdue."""
    from gateway.timers import local_today

    with unit_of_work() as (s, session):
        items = queries.due_items(session, local_today(s, utcnow()).date(), within_days=days)
    if as_json:
        echo_json([i.as_dict() for i in items])
        return
    for i in items:
        flag = "OVERDUE" if i.overdue else "due"
        click.echo(f"case {i.case_id:>6}  {i.kind:<20} {flag} {i.due.isoformat()}")
