"""What `cme run` tells a person once the console is up: where it is and how to sign in."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from sqlalchemy import Engine, func, select

from gateway.db import session_scope
from gateway.demo.marker import read_mark
from gateway.models.users import User
from gateway.settings import Settings


def console_url(settings: Settings) -> str:
    scheme = "https" if settings.web.https else "http"
    return f"{scheme}://{settings.web.host}:{settings.web.port}"


def cme_command() -> str:
    """`cme` as this process was started (`.venv/bin/cme` under `make run`), to copy."""
    started = sys.argv[0] if sys.argv else ""
    return shlex.quote(started) if Path(started).name == "cme" else "cme"


def welcome_lines(
    settings: Settings, engine: Engine, *, log_file: Path | None, web: bool = True
) -> list[str]:
    cme = cme_command()
    with session_scope(engine) as session:
        users = int(
            session.execute(select(func.count()).select_from(User).where(User.active)).scalar_one()
        )
    demo = read_mark(settings.home)
    lines = [
        f"CME Gateway is running at {console_url(settings)}"
        if web
        else "CME Gateway is running (this install has no web console)"
    ]
    if demo is not None:
        names = " or ".join(demo.usernames) or "a demo user"
        lines += [
            f"  Demo data (every name is invented): sign in as {names} with the password",
            f"  `{cme} demo` printed (`{cme} demo --force` loads it again with new ones).",
        ]
    elif users == 0:
        lines += [
            f"  No users yet: run `{cme} demo` to load invented data and sign in,",
            f'  or `{cme} users add USERNAME --name "Your Name" --role admin` to create your '
            "first admin.",
        ]
    else:
        lines.append("  Sign in with your username and password.")
    lines.append(f"  Referral email (SMTP) is taken on {settings.smtp.host}:{settings.smtp.port}.")
    tail = f"Log: {log_file}. " if log_file is not None else ""
    lines.append(f"  {tail}Stop with Ctrl-C.")
    return lines
