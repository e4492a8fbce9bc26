"""CSRF protection: a per-session token that every state-changing form must echo back."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request, session
from werkzeug.exceptions import BadRequest

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CSRFError(BadRequest):
    description = (
        "This form had expired or was sent from somewhere else. "
        "Go back, reload the page and try again."
    )


def csrf_exempt(view: F) -> F:
    """For machine endpoints with their own authentication (tokens, signatures), not forms."""
    view._cme_csrf_exempt = True  # type: ignore[attr-defined]
    return view


def csrf_token() -> str:
    """The session's token, made on first use; templates put it in a hidden field."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def rotate_token() -> None:
    session.pop(SESSION_KEY, None)


def is_exempt(endpoint: str | None) -> bool:
    if endpoint is None:
        return False
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "_cme_csrf_exempt", False))


def check_csrf() -> None:
    """Run before every request: refuse a state-changing request without the right token."""
    if request.method in SAFE_METHODS or request.endpoint is None:
        return
    if is_exempt(request.endpoint):
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FORM_FIELD) or request.headers.get(HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CSRFError()
