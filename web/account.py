"""The signed-in user's own account: changing their password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway.signin import SignInOutcome, change_own_password
from gateway.users import MIN_PASSWORD_LENGTH, AccountError
from web.access import client_address, require_user, start_session
from web.auth import throttled_message
from web.csrf import rotate_token
from web.db import db
from web.form_errors import FormErrors

bp = Blueprint("account", __name__, url_prefix="/account")


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


@bp.route("/password", methods=["GET", "POST"])
def change_password() -> Response | tuple[str, int] | str:
    user = require_user()
    errors = FormErrors()
    status = 200
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        confirm = request.form.get("confirm_password", "")
        if not current:
            errors.add("current_password", "Enter your current password")
        if not new:
            errors.add("new_password", "Enter a new password")
        elif new != confirm:
            errors.add("confirm_password", "Enter the same new password twice")
        status = 400
        if not errors:
            session_db = db()
            try:
                result = change_own_password(
                    session_db, user.id, current, new, client=client_address()
                )
            except AccountError as exc:
                session_db.rollback()
                errors.add("new_password", _sentence(str(exc)))
            else:
                if result.outcome is SignInOutcome.CHANGED and result.user is not None:
                    # Every session of the user has ended, this one too: the browser that
                    # changed the password gets a new one, any copy of the old is dead.
                    start_session(result.user)
                    session_db.commit()
                    rotate_token()
                    flash("Your password has been changed.", "success")
                    return redirect(url_for("account.change_password"))
                session_db.commit()
                if result.outcome is SignInOutcome.THROTTLED:
                    errors.add("current_password", throttled_message(result))
                    status = 429
                else:
                    errors.add("current_password", "Your current password is not correct")
                    status = 401
    page = render_template("account/password.html", errors=errors, min_length=MIN_PASSWORD_LENGTH)
    return page, status
