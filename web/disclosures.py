"""The disclosure register in the console, for a manager: what child data left, to whom,
on what basis, by which channel, approved by whom. Reading it is audited."""

from __future__ import annotations

import math

from flask import Blueprint, abort, render_template, request

from gateway import audit
from gateway.disclosures import BASES, KINDS, list_disclosures
from gateway.users import Role
from web.access import require_user, requires_role
from web.db import db
from web.form_errors import FormErrors

bp = Blueprint("disclosures", __name__, url_prefix="/disclosures")
PAGE_SIZE = 50


@bp.route("")
@requires_role(Role.MANAGER)
def register() -> tuple[str, int] | str:
    user = require_user()
    errors = FormErrors()
    raw_case = request.args.get("case", "").strip().upper().removeprefix("CME-")
    case_id = None
    if raw_case:
        if raw_case.isdigit() and int(raw_case) > 0:
            case_id = int(raw_case)
        else:
            errors.add("case", "Enter a case reference like CME-12, or leave it empty")
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        abort(404)
    session = db()
    rows, total = list_disclosures(
        session, case_id=case_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        abort(404)
    audit.record(
        session, actor=user.username, action="disclosures.list", entity="disclosure",
        entity_id=None, detail={"case": case_id, "page": page},
    )  # fmt: skip
    session.commit()
    html = render_template(
        "disclosures/list.html", rows=rows, total=total, page=page, pages=pages,
        case=raw_case, kinds=KINDS, bases=BASES, errors=errors,
    )  # fmt: skip
    return (html, 400) if errors else html
