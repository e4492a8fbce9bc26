"""`cme audit verify` and `cme audit anchor`: check the keyed chain, anchor its head;
`cme audit who --case N` and `cme audit user USERNAME`: who viewed or changed a child's
record, and which records a user opened (a manager's questions; each reading is audited)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import click

from gateway import audit as audit_log
from gateway import audit_anchor
from gateway.cli.acting import acting_user, reads
from gateway.cli.context import actor, echo_json, unit_of_work


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@reads
def verify() -> None:
    """Check the audit chain and its anchors; exit 1 naming the first bad entry."""
    with unit_of_work() as (s, session):
        checked = audit_anchor.verify_home(session, s)
    result = checked.result
    for note in checked.notes:
        click.echo(f"note: {note}", err=True)
    if not result.ok:
        where = f" at entry {result.first_bad_id}" if result.first_bad_id is not None else ""
        click.echo(f"audit log BROKEN{where}: {result.problem}", err=True)
        sys.exit(1)
    keyed = (
        f", keyed from entry {result.keyed_from}" if result.keyed_from is not None else ", unkeyed"
    )
    last = result.last_anchor
    anchored = (
        f", {result.anchors} anchor(s), the last of entry {last.entry_id} at {last.at}"
        if last is not None
        else ""
    )
    click.echo(f"audit log intact: {result.entries} entries{keyed}{anchored}")


@audit.command("anchor")
@acting_user()
def anchor() -> None:
    """Record the newest entry's id and hash outside the database, now."""
    with unit_of_work() as (s, session):
        written = audit_anchor.write_anchor(session, s)
    click.echo(
        f"anchored entry {written.entry_id} (hash {written.head[:16]}...) at {written.at} "
        f"in {audit_anchor.anchor_path(s)}"
    )


def _print(entries: Sequence[object], zone: ZoneInfo, *, show_about: bool) -> None:
    from gateway.audit_trail import TrailEntry

    for e in entries:
        assert isinstance(e, TrailEntry)
        when = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        about = f"  ({e.about})" if show_about else ""
        click.echo(f"{when}  {e.actor:<16} {e.label}{about}")


@audit.command("who")
@click.option("--case", "case_id", type=int, required=True, help="The case (its number).")
@click.option("--views", "views_only", is_flag=True, help="Only views of the record.")
@click.option("--limit", type=int, default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with each entry's detail).")
@acting_user("manager")
def who(case_id: int, views_only: bool, limit: int, as_json: bool) -> None:
    """Who viewed or changed this child's record, and when (newest first): the case, its
    referrals, matches, messages and exchange, and any duplicate merged into it."""
    from gateway.audit_trail import case_history
    from gateway.cases.queries import get_case

    with unit_of_work() as (s, session):
        get_case(session, case_id)
        entries, total = case_history(session, case_id, limit=limit, views_only=views_only)
        audit_log.record(
            session, actor=actor(), action="audit.case_history", entity="case",
            entity_id=case_id, detail={"rows": len(entries), "views_only": views_only},
        )  # fmt: skip
        zone = ZoneInfo(s.core.timezone)
    if as_json:
        echo_json({"case": case_id, "total": total, "entries": [e.as_dict() for e in entries]})
        return
    click.echo(f"Case CME-{case_id}: {total} entr{'y' if total == 1 else 'ies'}, newest first")
    _print(entries, zone, show_about=True)
    if total > len(entries):
        click.echo(f"({total - len(entries)} older not shown: use --limit)")


@audit.command("user")
@click.argument("username")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day (YYYY-MM-DD).")
@click.option("--limit", type=int, default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with each entry's detail).")
@acting_user("manager")
def user_cmd(username: str, since: datetime | None, limit: int, as_json: bool) -> None:
    """Which records USERNAME opened or changed, and when (newest first). Any name the log
    records will do: a console user, `intake`, `cli:<os user>`."""
    from gateway.audit_trail import user_activity
    from gateway.users import find_user, normalise_username

    name = username.strip()
    with unit_of_work() as (s, session):
        zone = ZoneInfo(s.core.timezone)
        start = _local_midnight(since.date(), zone) if since else None
        known = find_user(session, name)
        if known is not None:
            name = normalise_username(name)
        entries, total = user_activity(session, name, limit=limit, since=start)
        audit_log.record(
            session, actor=actor(), action="audit.user_activity", entity="user",
            entity_id=known.id if known is not None else None,
            detail={"username": name, "rows": len(entries)},
        )  # fmt: skip
    if as_json:
        echo_json({"username": name, "total": total, "entries": [e.as_dict() for e in entries]})
        return
    if not entries:
        click.echo(f"No entries for {name!r} in the audit log.")
        return
    click.echo(f"{name}: {total} entr{'y' if total == 1 else 'ies'}, newest first")
    _print(entries, zone, show_about=True)
    if total > len(entries):
        click.echo(f"({total - len(entries)} older not shown: use --limit or --since)")


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
