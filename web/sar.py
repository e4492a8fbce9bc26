"""A manager's subject access export from the case page: a confirmation page that says
what the archive holds and what must be reviewed, then the zip as a download. Making it is
a disclosure (the register) and audited; opening the confirmation page is a view."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases.queries import NotFound, get_case
from gateway.errors import UserError
from gateway.sar.collect import SECTIONS
from gateway.sar.export import CHECK_BY_HAND, MAX_REFERENCE, clean_reference, export_case
from gateway.users import Role
from web.access import require_user, requires_role
from web.db import db, engine, settings
from web.form_errors import FormErrors

bp = Blueprint("sar", __name__, url_prefix="/cases/<int:case_id>/subject-access")


def _page(case_id: int, errors: FormErrors, reference: str, status: int = 200) -> tuple[str, int]:
    try:
        case = get_case(db(), case_id)
    except NotFound:
        abort(404)
    html = render_template(
        "sar/confirm.html", case=case, errors=errors, reference=reference, sections=SECTIONS,
        check_by_hand=CHECK_BY_HAND, max_reference=MAX_REFERENCE,
        anonymous=any(r.anonymous for r in case.referrals),
    )  # fmt: skip
    return html, status


@bp.get("")
@requires_role(Role.MANAGER)
def confirm(case_id: int) -> tuple[str, int]:
    user = require_user()
    page = _page(case_id, FormErrors(), "")
    # The page names the child: a view of the record like the case page.
    audit.record(
        db(), actor=user.username, action="sar.confirm.view", entity="case", entity_id=case_id
    )
    db().commit()
    return page


@bp.post("")
@requires_role(Role.MANAGER)
def download(case_id: int) -> Response | tuple[str, int]:
    user = require_user()
    session = db()
    reference = request.form.get("reference", "")
    try:
        clean_reference(reference)
    except UserError as exc:
        errors = FormErrors()
        errors.add("reference", str(exc).capitalize())
        return _page(case_id, errors, reference, 400)
    try:
        done = export_case(
            session, settings(), engine(), case_id, actor=user.username, channel="download",
            reference=reference,
        )  # fmt: skip
    except NotFound:
        abort(404)
    session.commit()
    return Response(
        done.data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{done.file_name}"'},
    )
