"""Administration pages: who can sign in to the console (changes go through `cme users`)."""

from __future__ import annotations

from flask import Blueprint, render_template

from gateway.users import Role, list_users
from web.access import requires_role
from web.db import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@requires_role(Role.ADMIN)
def users() -> str:
    return render_template("admin/users.html", users=list_users(db()))
