"""`cme audit verify`: check the hash chain of the audit log."""

from __future__ import annotations

import sys

import click

from gateway import audit as audit_log
from gateway.cli.context import unit_of_work


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
def verify() -> None:
    """Check the audit chain; exit 1 naming the first bad entry."""
    with unit_of_work() as (_s, session):
        result = audit_log.verify(session)
    if result.ok:
        click.echo(f"audit log intact: {result.entries} entries")
        return
    click.echo(f"audit log BROKEN at entry {result.first_bad_id}: {result.problem}", err=True)
    sys.exit(1)
