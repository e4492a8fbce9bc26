"""Ask another authority about a case: choose the partner, check exactly what will be
disclosed and on which lawful basis, then send (working.send_enquiry)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases.queries import NotFound, get_case
from gateway.db import utcnow
from gateway.exchange import directory, working
from gateway.exchange.errors import ExchangeError
from gateway.exchange.labels import CHANNEL_WORDS, CHANNELS
from gateway.models.case import Case
from web.access import require_user
from web.db import db, settings
from web.exchange_forms import NOTE_MAX, PARTNER, EnquiryForm
from web.form_errors import FormErrors

bp = Blueprint("enquiries", __name__, url_prefix="/cases")


def _case(case_id: int) -> Case:
    try:
        return get_case(db(), case_id)
    except NotFound:
        abort(404)


def _partners() -> list[directory.PartnerLine]:
    return directory.directory(db(), utcnow(), settings().exchange.cert_expiry_warning_days)


def _compose(case: Case, form: EnquiryForm, errors: FormErrors) -> tuple[str, int] | str:
    user = require_user()
    session = db()
    # The page names the child: a view of the case, on record first.
    audit.record(
        session, actor=user.username, action="enquiry.compose.view", entity="case",
        entity_id=case.id,
    )  # fmt: skip
    session.commit()
    html = render_template(
        "exchange/compose.html", case=case, form=form, errors=errors, partners=_partners(),
        note_max=NOTE_MAX, channels=CHANNELS,
    )  # fmt: skip
    return (html, 400) if errors else html


def _preview(case: Case, form: EnquiryForm) -> tuple[working.EnquiryPreview | None, FormErrors]:
    errors = form.validate(_partners())
    if errors:
        return None, errors
    try:
        found = working.preview_enquiry(db(), settings(), case.id, form.partner, form.note or None)
    except ExchangeError as exc:
        errors.add(PARTNER, str(exc)[:1].upper() + str(exc)[1:])
        return None, errors
    return found, errors


@bp.route("/<int:case_id>/enquiry", methods=["GET", "POST"])
def compose(case_id: int) -> tuple[str, int] | str:
    case = _case(case_id)
    if request.method == "GET" or request.form.get("change"):
        form = EnquiryForm.posted(request.form) if request.method == "POST" else EnquiryForm()
        return _compose(case, form, FormErrors())
    form = EnquiryForm.posted(request.form)
    preview, errors = _preview(case, form)
    if preview is None:
        return _compose(case, form, errors)
    user = require_user()
    audit.record(
        db(), actor=user.username, action="enquiry.check.view", entity="case", entity_id=case.id,
        detail={"partner_la": form.partner},
    )  # fmt: skip
    db().commit()
    return render_template(
        "exchange/check.html", case=case, form=form, preview=preview, channels=CHANNELS
    )


@bp.post("/<int:case_id>/enquiry/send")
def send(case_id: int) -> Response | tuple[str, int] | str:
    case = _case(case_id)
    form = EnquiryForm.posted(request.form)
    preview, errors = _preview(case, form)
    if preview is None:
        return _compose(case, form, errors)
    user = require_user()
    session = db()
    working.send_enquiry(
        session, settings(), case.id, form.partner, user.username, form.note or None
    )
    session.commit()
    flash(
        f"Enquiry sent to {preview.partner.name}: it goes by {CHANNEL_WORDS[preview.channel]} "
        "in the next few minutes. Their answer will wait for you under Exchange.",
        "success",
    )
    return redirect(url_for("cases.case_view", case_id=case.id))
