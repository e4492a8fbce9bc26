"""`cme audit verify` and `cme audit anchor`: check the keyed chain, anchor its head."""

from __future__ import annotations

import sys

import click

from gateway import audit_anchor
from gateway.cli.acting import acting_user, reads
from gateway.cli.context import unit_of_work


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
