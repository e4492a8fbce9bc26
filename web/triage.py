"""The officer console's triage pages: the queue, one referral beside its source, and the
three decisions on it (open a new case, add it to a case, not CME)."""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases.inputs import InputError
from gateway.cases.labels import DISMISS_REASONS, SEX, URGENCIES
from gateway.cases.workflow import WorkflowError
from gateway.models.referral import TriageStatus
from gateway.triage import queries, service
from gateway.triage.service import TriageError
from web.access import require_user
from web.db import db, engine, settings
from web.form_errors import FormErrors
from web.triage_display import queue_line, triage_page
from web.triage_forms import OTHER_CASE, OpenForm, attach_case_id, dismiss_choice, open_error

bp = Blueprint("triage", __name__, url_prefix="/triage")

PAGE_SIZE = 25
#: The id the error summary links to when the referral was decided by someone else.
DECIDED = "decision"


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"triage_waiting": _waiting}


def _waiting() -> int | None:
    """How many referrals wait, for the service navigation (only signed-in pages ask)."""
    session = db()
    if not session.in_transaction():
        # Nothing open on the request's session: a short session of its own, so this
        # holds no lock (SQLite) while the rest of the page is drawn.
        with Session(engine()) as own:
            return queries.count_awaiting(own)
    try:
        return queries.count_awaiting(session)
    except SQLAlchemyError:
        # An error page after a failed transaction: the menu goes without its count.
        session.rollback()
        return None


@bp.route("")
def queue() -> str:
    user = require_user()
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        abort(404)
    session = db()
    total = queries.count_awaiting(session)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        abort(404)
    rows = queries.list_awaiting(session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    audit.record(
        session,
        actor=user.username,
        action="triage.list",
        entity="referral",
        entity_id=None,
        detail={"page": page, "referrals": [r.id for r in rows]},
    )
    session.commit()
    return render_template(
        "triage/list.html",
        lines=[queue_line(r) for r in rows],
        urgencies=URGENCIES,
        page=page,
        pages=pages,
        total=total,
    )


def _render(
    referral_id: int,
    errors: FormErrors | None = None,
    *,
    form: OpenForm | None = None,
    status: int = 400,
) -> tuple[str, int] | str:
    user = require_user()
    session = db()
    item = queries.triage_item(session, settings(), engine(), referral_id)
    if item is None:
        abort(404)
    # Written and committed before the page is sent: the view is on record even if the
    # browser never finishes loading it.
    audit.record(
        session, actor=user.username, action="referral.view", entity="referral",
        entity_id=referral_id,
    )  # fmt: skip
    session.commit()
    html = render_template(
        "triage/view.html",
        page=triage_page(item),
        content=item.content,
        raw=item.raw,
        form=form or OpenForm.prefill(item.referral),
        posted=request.form if request.method == "POST" else {},
        errors=errors or FormErrors(),
        sexes=SEX,
        urgencies=URGENCIES,
        reasons=DISMISS_REASONS,
        other_case=OTHER_CASE,
    )
    return (html, status) if errors else html


@bp.route("/<int:referral_id>")
def referral(referral_id: int) -> tuple[str, int] | str:
    return _render(referral_id)


def _refused(referral_id: int, errors: FormErrors, field_id: str, exc: Exception) -> int:
    """Put a refused decision on the page; returns the status to answer with."""
    session = db()
    session.rollback()
    referral = queries.get_referral(session, referral_id)
    if referral is None:
        abort(404)
    if referral.triage_status != TriageStatus.AWAITING.value:
        if referral.triaged_by == require_user().username:  # sent twice
            errors.add(DECIDED, "You have already decided this referral: nothing more was changed.")
        else:
            errors.add(
                DECIDED,
                "Someone else decided this referral while you were working: "
                "nothing you entered was saved. What they decided is below.",
            )
        return 409
    if isinstance(exc, StaleDataError):
        errors.add(field_id, "Someone else changed the case while you were working. Try again.")
        return 409
    # A case by the number the officer reads ("case 12" is "case CME-12").
    text = re.sub(r"\bcase (\d+)", r"case CME-\1", str(exc))
    errors.add(field_id, text[:1].upper() + text[1:])
    return 400


@bp.route("/<int:referral_id>/open", methods=["POST"])
def open_case(referral_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    form = OpenForm.posted(request.form)
    errors = FormErrors()
    values = form.values(errors)
    status = 400
    if not errors:
        session = db()
        try:
            case = service.open_case(session, settings(), referral_id, user.username, values)
            session.commit()
        except InputError as exc:
            session.rollback()
            open_error(errors, str(exc))
        except (TriageError, StaleDataError) as exc:
            status = _refused(referral_id, errors, "forename", exc)
        else:
            flash(f"Case {case.tag} opened from referral {referral_id}.", "success")
            return redirect(url_for("cases.case_view", case_id=case.id))
    return _render(referral_id, errors, form=form, status=status)


@bp.route("/<int:referral_id>/attach", methods=["POST"])
def attach(referral_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    errors = FormErrors()
    offered = request.form.get("offered") == "yes"
    case_id = attach_case_id(request.form, errors, offered)
    status = 400
    if case_id is not None:
        session = db()
        field_id = (
            "case_ref" if request.form.get("case_id", OTHER_CASE) == OTHER_CASE else "case_id"
        )
        try:
            case = service.attach(session, settings(), referral_id, case_id, user.username)
            session.commit()
        except (TriageError, InputError, WorkflowError, StaleDataError) as exc:
            status = _refused(referral_id, errors, field_id, exc)
        else:
            flash(f"Referral {referral_id} added to case {case.tag}.", "success")
            return redirect(url_for("cases.case_view", case_id=case.id))
    return _render(referral_id, errors, status=status)


@bp.route("/<int:referral_id>/dismiss", methods=["POST"])
def dismiss(referral_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    errors = FormErrors()
    reason, note = dismiss_choice(request.form, errors)
    status = 400
    if not errors:
        session = db()
        try:
            service.dismiss(session, settings(), referral_id, reason, user.username, note)
            session.commit()
        except TriageError as exc:
            status = _refused(referral_id, errors, "dismiss_reason", exc)
        else:
            flash(f"Referral {referral_id} marked not CME: {DISMISS_REASONS[reason]}.", "success")
            return redirect(url_for("triage.queue"))
    return _render(referral_id, errors, status=status)
