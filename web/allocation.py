"""Who works each case: the allocation form on a case, and caseloads per officer for a manager."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases import allocation
from gateway.cases.inputs import InputError
from gateway.cases.queries import NotFound, get_case
from gateway.db import utcnow
from gateway.timers import local_today
from gateway.users import Role, find_user
from web.access import require_user, requires_role
from web.db import db, settings
from web.form_errors import FormErrors

bp = Blueprint("allocation", __name__)

FIELD = "officer"
#: The "Not allocated" radio: no username can start with an underscore.
NOBODY = "_nobody"


@bp.app_template_filter("officer_name")
def officer_name(username: str | None) -> str:
    """The name a person knows an officer by ("Not allocated" for nobody)."""
    if not username:
        return "Not allocated"
    user = find_user(db(), username)
    return user.display_name if user is not None else username


@bp.route("/cases/<int:case_id>/allocate", methods=["GET", "POST"])
def allocate_case(case_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    try:
        case = get_case(session, case_id)
    except NotFound:
        abort(404)
    errors = FormErrors()
    chosen = request.form.get(FIELD, "")
    if request.method == "POST":
        if not chosen:
            errors.add(FIELD, "Select who the case is allocated to")
        else:
            target = None if chosen == NOBODY else chosen
            try:
                allocation.allocate(session, case_id, target, actor=user.username)
                session.commit()
            except InputError as exc:
                session.rollback()
                errors.add(FIELD, str(exc).capitalize())
            except StaleDataError:
                session.rollback()
                errors.add(
                    FIELD,
                    "Someone else changed this case while you were working. Reload and try again.",
                )
            else:
                done = f"allocated to {officer_name(target)}" if target else "not allocated"
                flash(f"Case {case.tag} is now {done}.", "success")
                return redirect(url_for("cases.case_view", case_id=case_id))
    else:
        chosen = case.allocated_to or NOBODY
        # The form names the child: a view of the record like the case page.
        audit.record(
            session, actor=user.username, action="allocation.view", entity="case",
            entity_id=case_id,
        )  # fmt: skip
        session.commit()
    html = render_template(
        "allocation/allocate.html",
        case=case,
        child=case.child,
        officers=allocation.officers(session),
        chosen=chosen,
        nobody=NOBODY,
        errors=errors,
    )
    return (html, 400) if errors else html


@bp.route("/caseloads")
@requires_role(Role.MANAGER)
def caseloads() -> str:
    loads = allocation.caseloads(db(), local_today(settings(), utcnow()).date())
    return render_template("allocation/caseloads.html", loads=loads)
