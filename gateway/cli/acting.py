"""Who a command acts as (`cme --as USERNAME`, or CME_USER), and the mark every command carries.

Every command is marked: `acting_user(role)` changes data and runs only as a named, active
user with that role; `reads` changes nothing and runs without one; `no_user` sets up or
runs the installation. A test walks the commands and fails on one without a mark.
This module stays light (no database imports until a check runs): `cme --help` and the
file-only commands import it too.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gateway.cli.collector import resume_collection

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.users import UserView

F = TypeVar("F", bound=Callable[..., Any])

#: ctx.meta keys: the name given to the group, the user once checked, and whether
#: `cme users add` runs unnamed to make the first admin.
AS_USER = "cme.as_user"
AS_USER_FROM_ENV = "cme.as_user_from_env"
_CHECKED = "cme.acting_user"
_BOOTSTRAP = "cme.first_admin"


def _error(message: str) -> Exception:
    from gateway.errors import UserError

    return UserError(message)


def _meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def named() -> str | None:
    """The username given with --as or CME_USER, if any (not yet checked)."""
    name = _meta().get(AS_USER)
    if not isinstance(name, str) or not name.strip():
        return None
    return name.strip()


def os_actor() -> str:
    """The actor of a read made without a named user: the operating-system account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def users_table_empty(session: Session) -> bool:
    from sqlalchemy import select

    from gateway.models.users import User

    return session.execute(select(User.id).limit(1)).first() is None


def _check(name: str, role: str) -> UserView:
    """The named user, if they exist, are active and have at least `role`; else refused."""
    from gateway.cli.session import unit_of_work
    from gateway.users import Role, find_user, view

    needed = Role(role)
    with unit_of_work() as (_s, session):
        user = find_user(session, name)
        if user is None:
            hint = (
                " (there are no users yet: add the first admin with "
                "`cme users add USERNAME --name NAME --role admin`, without --as)"
                if users_table_empty(session)
                else ""
            )
            raise _error(f"there is no user called {name!r} to act as{hint}")
        if not user.active:
            raise _error(f"the user {user.username!r} is disabled and cannot act")
        found = view(user)
    if not found.has_role(needed):
        raise _error(
            f"{found.username} is {_a(found.role.value)}: this needs {_a(needed.value)} "
            f"account (cme --as USERNAME {_command()} ...)"
        )
    return found


def _a(role: str) -> str:
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _command() -> str:
    """The command as typed after `cme` (e.g. "case close"), for messages."""
    ctx = click.get_current_context(silent=True)
    return ctx.command_path.partition(" ")[2] if ctx is not None else ""


def acting_user(role: str = "officer", *, first_admin: bool = False) -> Callable[[F], F]:
    """Mark a command that changes data: it runs only as a named user who exists, is active
    and has at least `role` (a gateway.users.Role); `actor()` is then their username.

    The check comes before the command does anything, so a refusal changes nothing. With
    `first_admin`, an empty users table lets the command run unnamed (`cme users add`
    making the first admin); the command checks the table again in its own transaction."""

    def mark(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, as_user: str | None = None, **kwargs: Any) -> Any:
            resume_collection()
            meta = _meta()
            name = _take(as_user)
            if name is not None:
                meta[_CHECKED] = _check(name, role)
            elif first_admin and _no_users_yet():
                meta[_BOOTSTRAP] = True
            else:
                raise _error(f"Say who you are: cme --as USERNAME {_command()} ... or set CME_USER")
            return fn(*args, **kwargs)

        wrapper._cme_changes = role  # type: ignore[attr-defined]
        return _as_option(wrapper)  # type: ignore[return-value]

    return mark


def reads(fn: F) -> F:
    """Mark a command that changes nothing: it runs without a user. A user named all the
    same is checked first (exists, active), and is whom any view it records names; with
    none, a view names `cli:<os user>`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, as_user: str | None = None, **kwargs: Any) -> Any:
        resume_collection()
        name = _take(as_user)
        if name is not None:
            # Checked now, in a transaction of its own: never from inside the command's,
            # where SQLite's write lock is held and a second connection would wait on it.
            _meta()[_CHECKED] = _check(name, "officer")
        return fn(*args, **kwargs)

    wrapper._cme_reads = True  # type: ignore[attr-defined]
    return _as_option(wrapper)  # type: ignore[return-value]


def _as_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    # The innermost decorator, so `--as` is the command's last option in its --help.
    return click.option(
        "--as",
        "as_user",
        metavar="USERNAME",
        help="Act as this user: the same as `cme --as USERNAME` (default $CME_USER).",
    )(fn)


def _take(given: str | None) -> str | None:
    """The acting name: the command's own --as, else the group's (--as or CME_USER)."""
    name = given.strip() if given and given.strip() else None
    if name is None:
        return named()
    earlier = _meta().get(AS_USER)
    if earlier and not _meta().get(AS_USER_FROM_ENV) and earlier.strip() != name:
        raise _error(f"--as names two users ({earlier.strip()!r} and {name!r}): give one")
    _meta()[AS_USER] = name
    return name


def no_user(fn: F) -> F:
    """Mark a command that touches no records: setting up or running the installation
    (`cme init`, `cme run`) or working on files alone (`cme parse`). A name is ignored."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        resume_collection()
        return fn(*args, **kwargs)

    wrapper._cme_no_user = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _no_users_yet() -> bool:
    from gateway.cli.session import unit_of_work

    with unit_of_work() as (_s, session):
        return users_table_empty(session)


def current_user() -> UserView | None:
    """The checked user this command runs as (None for an unnamed read or the first admin)."""
    from gateway.users import UserView

    user = _meta().get(_CHECKED)
    return user if isinstance(user, UserView) else None


def making_first_admin() -> bool:
    """Whether `cme users add` runs unnamed because there are no users yet."""
    return bool(_meta().get(_BOOTSTRAP))


def actor() -> str:
    """Whom the audit log and the timeline name: the checked user's username, else (a read
    made unnamed, or the first admin being added) `cli:<os user>`."""
    checked = _meta().get(_CHECKED)
    if checked is not None:
        return str(checked.username)
    if named() is not None:
        # Only a command without its mark gets here; never record a name nobody checked.
        raise RuntimeError("a command recorded an actor without acting_user() or reads")
    return os_actor()
