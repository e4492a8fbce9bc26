"""The monitoring list: children who moved out of area, watched until a school takes them."""

from __future__ import annotations

import math

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway import audit
from gateway.db import utcnow
from gateway.exchange import monitoring
from gateway.exchange.errors import ExchangeError
from gateway.exchange.monitoring import MonitoredChild
from web.access import require_user
from web.db import db, settings
from web.form_errors import FormErrors

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

REASON = "reason"
REASON_MAX = 200


PAGE_SIZE = 50


def _monitored(case_id: int) -> MonitoredChild:
    """The child's row of the list, or 404 if the case is not monitored."""
    row = monitoring.monitored_child(db(), settings(), case_id, utcnow())
    if row is None:
        abort(404)
    return row


@bp.route("")
def monitoring_list() -> str:
    user = require_user()
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        abort(404)
    session = db()
    rows, total = monitoring.monitoring_page(
        session, settings(), utcnow(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        abort(404)
    audit.record(
        session, actor=user.username, action="monitoring.view", entity="case", entity_id=None,
        detail={"page": page, "cases": [r.case_id for r in rows]},
    )  # fmt: skip
    session.commit()
    return render_template("monitoring/list.html", rows=rows, total=total, page=page, pages=pages)


@bp.route("/<int:case_id>/request", methods=["POST"])
def request_now(case_id: int) -> Response:
    user = require_user()
    row = _monitored(case_id)
    monitoring.request_now(db(), settings(), case_id, actor=user.username)
    db().commit()
    flash(
        f"A status request about {row.forename} {row.surname} will be sent to "
        f"{row.partner_name} in the next few minutes.",
        "success",
    )
    return redirect(url_for("monitoring.monitoring_list"))


@bp.route("/<int:case_id>/stop", methods=["GET", "POST"])
def stop(case_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    row = _monitored(case_id)
    errors = FormErrors()
    reason = request.form.get(REASON, "").strip()
    if request.method == "POST":
        if not reason:
            errors.add(REASON, "Enter why monitoring stops")
        elif len(reason) > REASON_MAX:
            errors.add(REASON, f"The reason must be {REASON_MAX} characters or fewer")
        else:
            try:
                monitoring.stop(session, case_id, reason, actor=user.username)
                session.commit()
            except ExchangeError as exc:
                session.rollback()
                errors.add(REASON, str(exc).capitalize())
            else:
                flash(
                    f"Monitoring stopped for {row.forename} {row.surname}. The case stays open.",
                    "success",
                )
                return redirect(url_for("monitoring.monitoring_list"))
    else:
        # The page names the child: a view of the record like the list itself.
        audit.record(
            session, actor=user.username, action="monitoring.stop.view", entity="case",
            entity_id=case_id,
        )  # fmt: skip
        session.commit()
    html = render_template(
        "monitoring/stop.html", row=row, errors=errors, reason=reason, reason_max=REASON_MAX
    )
    return (html, 400) if errors else html
