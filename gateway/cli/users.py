"""`cme users`: add, list and disable the people who may sign in to the console."""

from __future__ import annotations

import json

import click

from gateway.cli.context import actor, unit_of_work
from gateway.users import Role, add_user, disable_user, list_users, parse_role


@click.group("users")
def users() -> None:
    """Console users: who may sign in, with which role."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The user's full name.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.OFFICER.value,
    show_default=True,
    help="officer: cases; manager: also signs off no-trace closures; admin: everything.",
)
@click.option("--totp/--no-totp", default=False, help="Require a code from an authenticator app.")
def add_command(username: str, display_name: str, role: str, totp: bool) -> None:
    """Add USERNAME; asks for the password (twice) so it never appears in the shell history."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as (_settings, session):
        new = add_user(
            session,
            username=username,
            password=password,
            role=parse_role(role),
            display_name=display_name,
            totp=totp,
            actor=actor(),
        )
    click.echo(f"added {new.user.username} ({new.user.role.value})")
    if new.totp_secret:
        click.echo("Load this into the user's authenticator app (it is shown only once):")
        click.echo(f"  secret: {new.totp_secret}")
        click.echo(f"  uri:    {new.totp_uri}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(as_json: bool) -> None:
    """List every user with role, status and second factor."""
    with unit_of_work() as (_settings, session):
        rows = list_users(session)
    for u in rows:
        if as_json:
            record = {
                "username": u.username,
                "name": u.display_name,
                "role": u.role.value,
                "active": u.active,
                "totp": u.totp_enabled,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            click.echo(json.dumps(record))
        else:
            status = "active" if u.active else "disabled"
            factor = "totp" if u.totp_enabled else "password"
            click.echo(
                f"{u.username:<20} {u.role.value:<8} {status:<9} {factor:<8} {u.display_name}"
            )
    if not rows and not as_json:
        click.echo("no users yet: add one with `cme users add USERNAME --name NAME`")


@users.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Stop USERNAME signing in; their open sessions end on their next request."""
    with unit_of_work() as (_settings, session):
        user = disable_user(session, username, actor=actor())
    click.echo(f"disabled {user.username}")
