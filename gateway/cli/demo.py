"""`cme demo`: load invented data into the data home and print the demo sign-ins."""

from __future__ import annotations

import click

from gateway.cli.acting import no_user, os_actor
from gateway.cli.context import settings


@click.command()
@click.option(
    "--force",
    is_flag=True,
    help="Load it even though the home already holds cases (a demo home: load it again, "
    "beside what is there, with new passwords).",
)
@no_user
def demo(force: bool) -> None:
    """Load a demo caseload of invented children (LA 807 and its neighbours) and print a
    demo officer's and a demo manager's sign-in (password only).

    Refused for a data home that already holds cases, unless --force. The home is then
    marked as a demo, and every console page says so."""
    from gateway.demo.load import load_demo
    from gateway.welcome import console_url

    s = settings()
    report = load_demo(
        s,
        force=force,
        actor=os_actor(),
        starting=lambda: click.echo(
            f"Loading the demo into {s.home} (this takes a few seconds)...", err=True
        ),
    )
    click.echo(f"Demo loaded into {report.home}: every name in it is invented.")
    click.echo(
        f"  {report.cases} cases ({report.open_cases} open), {report.awaiting_triage} referrals "
        f"waiting in triage, {report.lost_pupils} lost pupils, partner LAs "
        f"{' and '.join(report.partners)}, {report.monitored} children monitored."
    )
    click.echo("")
    click.echo(f"Sign in at {console_url(s)} (password only, no security code):")
    for sign_in in report.sign_ins:
        click.echo(f"  {sign_in.role:<8} username {sign_in.username}  password {sign_in.password}")
