"""Print views and PDFs of letters to referrers without email and of printed onward
referrals; and marking a letter posted or read out. Each view is audited by the service."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from gateway.cases import printed
from gateway.cases.inputs import InputError
from gateway.printing import CSP_STYLE, PrintingUnavailable, to_pdf
from web.access import require_user
from web.db import db, settings
from web.headers import CSP

bp = Blueprint("printing", __name__, url_prefix="/cases/<int:case_id>")


def _page(html: str, *, pdf: bool, filename: str) -> Response:
    if not pdf:
        page = Response(html, mimetype="text/html")
        page.headers["Content-Security-Policy"] = CSP.replace(
            "style-src 'self'", f"style-src 'self' {CSP_STYLE}"
        )
        return page
    try:
        data = to_pdf(html)
    except PrintingUnavailable as exc:
        abort(503, description=str(exc))
    # The case reference only in the file name: never a child's name.
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/letters/<int:letter_id>")
@bp.route("/letters/<int:letter_id>.pdf", endpoint="letter_pdf", defaults={"pdf": True})
def letter(case_id: int, letter_id: int, pdf: bool = False) -> Response:
    user = require_user()
    session = db()
    try:
        html = printed.letter_page(session, settings(), case_id, letter_id, user.username, pdf=pdf)
    except InputError:
        abort(404)
    session.commit()
    return _page(html, pdf=pdf, filename=f"CME-{case_id}-letter-{letter_id}.pdf")


@bp.route("/onward/<int:onward_id>")
@bp.route("/onward/<int:onward_id>.pdf", endpoint="onward_pdf", defaults={"pdf": True})
def onward(case_id: int, onward_id: int, pdf: bool = False) -> Response:
    user = require_user()
    session = db()
    try:
        html = printed.onward_page(session, settings(), case_id, onward_id, user.username, pdf=pdf)
    except InputError:
        abort(404)
    session.commit()
    return _page(html, pdf=pdf, filename=f"CME-{case_id}-referral-{onward_id}.pdf")


@bp.post("/letters/<int:letter_id>/done")
def letter_done(case_id: int, letter_id: int) -> Response:
    user = require_user()
    session = db()
    try:
        printed.mark_done(session, case_id, letter_id, request.form.get("how", ""), user.username)
    except InputError as exc:
        session.rollback()
        flash(str(exc).capitalize(), "info")
    else:
        session.commit()
        flash("The letter is marked as done.", "success")
    return redirect(url_for("cases.case_view", case_id=case_id))
