"""Deny-by-default access: every endpoint needs a signed-in user unless marked public."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from gateway import console_sessions
from gateway.console_sessions import EndReason
from gateway.db import utcnow
from gateway.users import Role, UserView, get_user
from web.db import db

F = TypeVar("F", bound=Callable[..., Any])

#: The key in the (signed) cookie for the server-side session's random id (console_sessions).
SESSION_ID = "sid"


def public(view: F) -> F:
    """Let anyone reach this view without signing in. The URL-map test lists every use."""
    view._cme_public = True  # type: ignore[attr-defined]
    return view


def sessionless(view: F) -> F:
    """For a public view that needs no session (the health check): the gate neither reads
    nor touches the browser's session, so answering costs no session query."""
    view._cme_sessionless = True  # type: ignore[attr-defined]
    return view


def requires_role(role: Role) -> Callable[[F], F]:
    """Only users with at least this role (officer < manager < admin) may use the view."""

    def mark(view: F) -> F:
        view._cme_role = role  # type: ignore[attr-defined]
        return view

    return mark


def view_function(app: Flask, endpoint: str) -> Callable[..., Any] | None:
    return app.view_functions.get(endpoint)


def is_public(app: Flask, endpoint: str | None) -> bool:
    if endpoint is None:
        # No route matched: the 404/405 handler answers and shows nothing.
        return True
    if endpoint == "static":
        return True
    view = view_function(app, endpoint)
    return bool(getattr(view, "_cme_public", False))


def is_sessionless(app: Flask, endpoint: str | None) -> bool:
    if endpoint is None or not is_public(app, endpoint):
        return False
    return bool(getattr(view_function(app, endpoint), "_cme_sessionless", False))


def role_needed(app: Flask, endpoint: str) -> Role:
    view = view_function(app, endpoint)
    return getattr(view, "_cme_role", Role.OFFICER)


def current_user() -> UserView | None:
    return g.get("user")


def require_user() -> UserView:
    """The signed-in user; views behind the gate can rely on there being one."""
    user = current_user()
    if user is None:  # pragma: no cover - the gate stops this before any view runs
        raise RuntimeError("no signed-in user behind the access gate")
    return user


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an absolute or scheme-relative URL."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def client_address() -> str | None:
    """The client's address as the web server saw it: waitress puts the proxy's client here
    only when web.trusted_proxy names that proxy, so a forged X-Forwarded-For counts for
    nothing."""
    return request.remote_addr


def drop_session() -> None:
    """Forget this browser's session before it signs in again, ending it on the server too
    (so no copy of the old cookie outlives it). The caller commits."""
    previous = session.get(SESSION_ID)
    session.clear()
    if isinstance(previous, str):
        console_sessions.end(db(), previous, EndReason.REPLACED, now=utcnow())


def start_session(user: UserView) -> None:
    """A fresh session for a user who has just proved who they are; the caller commits."""
    drop_session()
    now = utcnow()
    session[SESSION_ID] = console_sessions.start(
        db(),
        user.id,
        now=now,
        client=client_address(),
        user_agent=request.user_agent.string,
    )


def end_session() -> None:
    """Sign the browser out: its server-side session ends, so a copy of the cookie is dead.
    The caller commits."""
    token = session.get(SESSION_ID)
    user = current_user()
    if isinstance(token, str) and user is not None:
        console_sessions.sign_out(db(), token, actor=user.username, now=utcnow())
    session.clear()


def _to_sign_in() -> Response:
    # Only the path: a query string could carry search terms about a child.
    return redirect(url_for("auth.sign_in", next=request.path))


def _resume(app: Flask) -> UserView | None:
    """The user of this browser's session, if it is still open; ends it if it ran out."""
    token = session.get(SESSION_ID)
    if not isinstance(token, str):
        return None
    idle = int(app.config["CME_IDLE_SECONDS"])
    resumed = console_sessions.resume(db(), token, now=utcnow(), idle=timedelta(seconds=idle))
    user = get_user(db(), resumed.user_id) if resumed.user_id is not None else None
    db().commit()
    if user is not None:
        return user
    session.clear()
    if resumed.ended is EndReason.IDLE:
        flash(f"You were signed out after {idle // 60} minutes without activity.", "timeout")
    elif resumed.ended is EndReason.EXPIRED:
        flash("Your session has ended: sign in again each working day.", "timeout")
    elif resumed.ended is EndReason.PASSWORD:
        flash("You were signed out because the password was changed: sign in again.", "timeout")
    return None


def gate() -> Response | None:
    """Run before every request: load the user, expire idle sessions, refuse the rest."""
    app = current_app
    endpoint = request.endpoint
    g.user = None
    if endpoint == "static" or is_sessionless(app, endpoint):
        return None
    g.user = _resume(app)
    if is_public(app, endpoint):
        return None
    assert endpoint is not None
    user = current_user()
    if user is None:
        return _to_sign_in()
    if not user.has_role(role_needed(app, endpoint)):
        abort(403)
    return None
