"""The audit log in the console, for a manager: who viewed or changed a child's record and
when (/audit/case/<id>), and which records a user opened and when (/audit/user/<name>).
Reading either is itself audited."""

from __future__ import annotations

import math

from flask import Blueprint, abort, render_template, request

from gateway import audit
from gateway.audit_trail import case_history, user_activity
from gateway.cases.queries import NotFound, get_case
from gateway.users import Role, find_user, normalise_username
from web.access import require_user, requires_role
from web.db import db

bp = Blueprint("audit_views", __name__, url_prefix="/audit")
PAGE_SIZE = 50


def _page() -> int:
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        abort(404)
    return page


@bp.route("/case/<int:case_id>")
@requires_role(Role.MANAGER)
def case_trail(case_id: int) -> str:
    user = require_user()
    session = db()
    try:
        case = get_case(session, case_id)
    except NotFound:
        abort(404)
    page = _page()
    views_only = request.args.get("views") == "1"
    entries, total = case_history(
        session, case_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, views_only=views_only
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        abort(404)
    audit.record(
        session, actor=user.username, action="audit.case_history", entity="case",
        entity_id=case_id, detail={"page": page, "views_only": views_only},
    )  # fmt: skip
    session.commit()
    return render_template(
        "audit/case.html", case=case, entries=entries, total=total, page=page, pages=pages,
        views_only=views_only,
    )  # fmt: skip


@bp.route("/user/<username>")
@requires_role(Role.MANAGER)
def user_trail(username: str) -> str:
    user = require_user()
    session = db()
    name = username.strip()
    if not name or len(name) > 100:
        abort(404)
    known = find_user(session, name)
    if known is not None:
        name = normalise_username(name)
    page = _page()
    entries, total = user_activity(session, name, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        abort(404)
    audit.record(
        session, actor=user.username, action="audit.user_activity", entity="user",
        entity_id=known.id if known is not None else None,
        detail={"username": name, "page": page},
    )  # fmt: skip
    session.commit()
    return render_template(
        "audit/user.html", username=name, known=known, entries=entries, total=total,
        page=page, pages=pages,
    )  # fmt: skip
