"""Deny-by-default access: every endpoint needs a signed-in user unless marked public."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from gateway.users import Role, UserView, get_user
from web.db import db

F = TypeVar("F", bound=Callable[..., Any])

#: Session keys; the cookie is signed, so a client cannot forge these.
USER_ID = "uid"
LAST_SEEN = "seen"
SIGNED_IN_AT = "since"
#: However active, a session ends after this long and the user signs in again.
MAX_SESSION_SECONDS = 12 * 3600


def public(view: F) -> F:
    """Let anyone reach this view without signing in. The URL-map test lists every use."""
    view._cme_public = True  # type: ignore[attr-defined]
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


def start_session(user: UserView) -> None:
    """A fresh session for a user who has just proved who they are."""
    session.clear()
    now = int(time.time())
    session[USER_ID] = user.id
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN] = now


def end_session() -> None:
    session.clear()


def _to_sign_in() -> Response:
    # Only the path: a query string could carry search terms about a child.
    return redirect(url_for("auth.sign_in", next=request.path))


def gate() -> Response | None:
    """Run before every request: load the user, expire idle sessions, refuse the rest."""
    app = current_app
    endpoint = request.endpoint
    g.user = None
    if endpoint == "static":
        return None
    uid = session.get(USER_ID)
    if uid is not None:
        now = int(time.time())
        idle = app.config["CME_IDLE_SECONDS"]
        seen = int(session.get(LAST_SEEN, 0))
        since = int(session.get(SIGNED_IN_AT, 0))
        if now - seen > idle:
            end_session()
            flash(f"You were signed out after {idle // 60} minutes without activity.", "timeout")
        elif now - since > MAX_SESSION_SECONDS:
            end_session()
            flash("Your session has ended: sign in again each working day.", "timeout")
        else:
            user = get_user(db(), int(uid))
            if user is None:
                end_session()
            else:
                g.user = user
                session[LAST_SEEN] = now
    if is_public(app, endpoint):
        return None
    assert endpoint is not None
    user = current_user()
    if user is None:
        return _to_sign_in()
    if not user.has_role(role_needed(app, endpoint)):
        abort(403)
    return None
