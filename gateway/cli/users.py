"""`cme users`: add, list and disable the people who may sign in, and set their passwords."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.acting import (
    acting_user,
    current_user,
    making_first_admin,
    reads,
    users_table_empty,
)
from gateway.cli.context import actor, unit_of_work
from gateway.errors import UserError
from gateway.totp import TotpVault
from gateway.users import (
    Role,
    add_user,
    disable_user,
    list_users,
    normalise_username,
    parse_role,
    set_password,
)

_PASSWORD_FILE = click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from this file (its first line) instead of asking; for scripts.",
)


def _password(password_file: Path | None) -> str:
    """From the file if given (never from an argument: it would show in `ps` and history)."""
    if password_file is None:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    lines = password_file.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise UserError(
            f"the password file {password_file} is empty: put the password on its first line"
        )
    return lines[0]


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
@_PASSWORD_FILE
@acting_user(Role.ADMIN, first_admin=True)
def add_command(
    username: str, display_name: str, role: str, totp: bool, password_file: Path | None
) -> None:
    """Add USERNAME; asks for the password (twice) so it never appears in the shell history.

    Run as an admin (cme --as ADMIN users add ...). The first user of a new installation,
    while there are no users at all, is added without --as and must be an admin:
    cme users add USERNAME --name NAME --role admin."""
    first = making_first_admin()
    if first and parse_role(role) is not Role.ADMIN:
        raise UserError(
            "there are no users yet: the first must be an admin (add it with --role admin), "
            "who then adds the others with cme --as USERNAME users add ..."
        )
    password = _password(password_file)
    with unit_of_work() as (settings, session):
        if first and not users_table_empty(session):
            raise UserError("another user was added meanwhile: add this one as an admin (--as)")
        new = add_user(
            session,
            username=username,
            password=password,
            role=parse_role(role),
            display_name=display_name,
            totp=totp,
            actor=actor(),
            vault=TotpVault.load(settings.keys_dir) if totp else None,
        )
    click.echo(f"added {new.user.username} ({new.user.role.value})")
    if new.totp_secret:
        click.echo("Load this into the user's authenticator app (it is shown only once):")
        click.echo(f"  secret: {new.totp_secret}")
        click.echo(f"  uri:    {new.totp_uri}")


@users.command("set-password")
@click.argument("username")
@_PASSWORD_FILE
@acting_user(Role.ADMIN)
def set_password_command(username: str, password_file: Path | None) -> None:
    """Give USERNAME a new password; every session they have open ends at once."""
    password = _password(password_file)
    with unit_of_work() as (_settings, session):
        user = set_password(session, username, password, actor=actor())
    click.echo(f"new password set for {user.username}; their sessions have ended")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@reads
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
        click.echo(
            "no users yet: add the first admin with "
            "`cme users add USERNAME --name NAME --role admin`"
        )


@users.command("disable")
@click.argument("username")
@acting_user(Role.ADMIN)
def disable_command(username: str) -> None:
    """Stop USERNAME signing in; every session they have open ends at once."""
    me = current_user()
    if me is not None and normalise_username(username) == me.username:
        # The acting admin is active, so this is the one way to leave no admin at all.
        raise UserError("you cannot disable yourself: ask another admin to do it")
    with unit_of_work() as (_settings, session):
        user = disable_user(session, username, actor=actor())
    click.echo(f"disabled {user.username}")
