"""Signing in (password, then a code if the user has TOTP) and signing out."""

from __future__ import annotations

import math
import time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from gateway.signin import SignInOutcome, SignInResult, check_code, check_password
from gateway.totp import TotpVault
from web.access import (
    client_address,
    current_user,
    drop_session,
    end_session,
    public,
    safe_next,
    start_session,
)
from web.csrf import rotate_token
from web.db import db
from web.form_errors import FormErrors

bp = Blueprint("auth", __name__)

PENDING_USER = "pending_uid"
PENDING_AT = "pending_at"
PENDING_NEXT = "pending_next"
#: How long the code page waits after a correct password.
CODE_WINDOW_SECONDS = 300


def vault() -> TotpVault:
    """The TOTP key the app loaded at start-up (web.app.create_app)."""
    found: TotpVault = current_app.extensions["cme.totp"]
    return found


def _landing(target: str | None) -> Response:
    return redirect(safe_next(target) or url_for("dashboard.home"))


def throttled_message(result: SignInResult) -> str:
    # The same words whether or not the name exists: the wait depends only on the attempts.
    minutes = max(1, math.ceil(result.retry_after / 60))
    wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"Too many attempts to sign in. Wait {wait}, then try again"


def _throttled(page: str, status: int, result: SignInResult) -> tuple[str, int, dict[str, str]]:
    return page, status, {"Retry-After": str(max(1, result.retry_after))}


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    next_url = safe_next(request.values.get("next"))
    if current_user() is not None and request.method == "GET":
        return _landing(next_url)
    errors = FormErrors()
    username = ""
    status = 200
    result: SignInResult | None = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if not username:
            errors.add("username", "Enter your username")
        if not password:
            errors.add("password", "Enter your password")
        if not errors:
            session_db = db()
            result = check_password(session_db, username, password, client=client_address())
            if result.outcome is SignInOutcome.OK and result.user is not None:
                start_session(result.user)
                session_db.commit()
                rotate_token()
                return _landing(next_url)
            if result.outcome is SignInOutcome.NEEDS_CODE and result.user is not None:
                drop_session()
                session_db.commit()
                session[PENDING_USER] = result.user.id
                session[PENDING_AT] = int(time.time())
                if next_url:
                    session[PENDING_NEXT] = next_url
                return redirect(url_for("auth.sign_in_code"))
            session_db.commit()
            if result.outcome is SignInOutcome.THROTTLED:
                errors.add("username", throttled_message(result))
                status = 429
            else:
                errors.add("username", "Enter a correct username and password")
                status = 401
        else:
            status = 400
    page = render_template("auth/sign_in.html", errors=errors, username=username, next_url=next_url)
    if result is not None and result.outcome is SignInOutcome.THROTTLED:
        return _throttled(page, status, result)
    return page, status


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def sign_in_code() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    uid = session.get(PENDING_USER)
    started = int(session.get(PENDING_AT, 0))
    if uid is None or time.time() - started > CODE_WINDOW_SECONDS:
        session.pop(PENDING_USER, None)
        flash("Sign in again: the code page expired.", "timeout")
        return redirect(url_for("auth.sign_in"))
    errors = FormErrors()
    status = 200
    if request.method == "POST":
        code = request.form.get("code", "").strip()
        if not code:
            errors.add("code", "Enter the 6-digit code from your authenticator app")
            status = 400
        else:
            session_db = db()
            result = check_code(session_db, int(uid), code, client=client_address(), vault=vault())
            if result.outcome is SignInOutcome.OK and result.user is not None:
                next_url = session.get(PENDING_NEXT)
                start_session(result.user)
                session_db.commit()
                rotate_token()
                return _landing(next_url)
            session_db.commit()
            if result.outcome is SignInOutcome.THROTTLED:
                session.clear()
                errors.add("code", throttled_message(result))
                page = render_template("auth/code.html", errors=errors)
                return _throttled(page, 429, result)
            errors.add("code", "Enter a correct code: it changes every 30 seconds")
            status = 401
    return render_template("auth/code.html", errors=errors), status


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    end_session()
    db().commit()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))
