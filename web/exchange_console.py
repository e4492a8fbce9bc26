"""The secure exchange in the console: what waits (enquiries to answer, answers to approve),
dead letters, the exchange quarantine and the partner directory. POST /exchange itself is
the partner endpoint (web/exchange.py); this blueprint only adds pages beside it."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases.queries import NotFound
from gateway.db import utcnow
from gateway.exchange import answers, dead_letters, directory, refusals, working
from gateway.exchange.errors import ExchangeError
from gateway.exchange.labels import CHANNELS, DOC_TYPES, REPLY_HINTS, REPLY_STATUSES
from gateway.timers import local_today
from web.access import require_user
from web.db import db, engine, settings
from web.exchange_forms import AnswerForm, read_reason
from web.form_errors import FormErrors

log = logging.getLogger(__name__)

bp = Blueprint("exchange_console", __name__, url_prefix="/exchange")

#: Where an error about the decision itself (already decided, cannot apply) points.
DECISION = "decision"


def _today() -> date:
    return local_today(settings(), utcnow()).date()


def _count_waiting(session: Session) -> int:
    return answers.count_waiting(session).total + dead_letters.count_dead(session)


def _waiting() -> int | None:
    """What waits in the exchange (proposals and dead letters), for the navigation."""
    try:
        session = db()
        if not session.in_transaction():
            # As the triage count does: a short session of its own, holding no lock
            # (SQLite) while the rest of the page is drawn.
            with Session(engine()) as own:
                return _count_waiting(own)
        return _count_waiting(session)
    except SQLAlchemyError as exc:
        # Only on an error page drawn after the database failed: the menu goes without it.
        db().rollback()
        log.warning("exchange count unavailable", extra={"error": type(exc).__name__})
        return None


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"exchange_waiting": _waiting}


def _directory() -> list[directory.PartnerLine]:
    s = settings()
    return directory.directory(db(), utcnow(), s.exchange.cert_expiry_warning_days)


@bp.get("")
def home() -> str:
    session = db()
    return render_template(
        "exchange/home.html",
        counts=answers.count_waiting(session),
        dead=dead_letters.count_dead(session),
        refused=refusals.count_refused(session),
        partners=_directory(),
    )


# -- what waits: enquiries to answer, answers to approve -----------------------------------


@bp.get("/answers")
def answer_list() -> str:
    user = require_user()
    session = db()
    lines = answers.waiting(session)
    audit.record(
        session, actor=user.username, action="exchange.answers.list", entity="exchange_proposal",
        entity_id=None, detail={"proposals": [line.id for line in lines]},
    )  # fmt: skip
    session.commit()
    return render_template(
        "exchange/answers.html",
        enquiries=[line for line in lines if line.kind == "reply"],
        partner_answers=[line for line in lines if line.kind != "reply"],
    )


def _render_answer(
    proposal_id: int,
    errors: FormErrors,
    form: AnswerForm | None = None,
    reason: str = "",
) -> tuple[str, int] | str:
    user = require_user()
    session = db()
    try:
        page = answers.answer_page(session, settings(), proposal_id)
    except NotFound:
        abort(404)
    # The page shows the child's details: on record before it is sent.
    audit.record(
        session, actor=user.username, action="exchange.answer.view", entity="exchange_proposal",
        entity_id=proposal_id, detail={"case_id": page.case_id},
    )  # fmt: skip
    session.commit()
    html = render_template(
        "exchange/answer.html",
        page=page,
        form=form or AnswerForm.prefill(page.proposed),
        errors=errors,
        reason=reason,
        statuses=REPLY_STATUSES,
        hints=REPLY_HINTS,
        doc_types=DOC_TYPES,
        decision=DECISION,
    )
    return (html, 400) if errors else html


@bp.get("/answers/<int:proposal_id>")
def answer_view(proposal_id: int) -> tuple[str, int] | str:
    return _render_answer(proposal_id, FormErrors())


@bp.post("/answers/<int:proposal_id>/approve")
def answer_approve(proposal_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    try:
        page = answers.answer_page(session, settings(), proposal_id)
    except NotFound:
        abort(404)
    errors = FormErrors()
    form = AnswerForm.posted(request.form) if page.is_enquiry else None
    override = form.answer(errors, today=_today()) if form is not None else {}
    if errors:
        return _render_answer(proposal_id, errors, form)
    try:
        working.approve(session, settings(), proposal_id, user.username, override=override)
        session.commit()
    except ExchangeError as exc:
        session.rollback()
        errors.add(DECISION, _sentence(str(exc)))
        return _render_answer(proposal_id, errors, form)
    if page.is_enquiry:
        answer = REPLY_STATUSES.get(override.get("status", ""), "")
        flash(f"Your answer ({answer}) will be sent to {page.partner_name}.", "success")
        return redirect(url_for("exchange_console.answer_list"))
    flash(f"The answer from {page.partner_name} was applied to case {page.case_tag}.", "success")
    return redirect(url_for("cases.case_view", case_id=page.case_id))


@bp.post("/answers/<int:proposal_id>/reject")
def answer_reject(proposal_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    errors = FormErrors()
    reason = read_reason(request.form, errors, "Enter why you reject it")
    if errors:
        return _render_answer(proposal_id, errors, reason=reason)
    try:
        page = answers.answer_page(session, settings(), proposal_id)
        working.reject(session, proposal_id, user.username, reason)
        session.commit()
    except NotFound:
        abort(404)
    except ExchangeError as exc:
        session.rollback()
        errors.add(DECISION, _sentence(str(exc)))
        return _render_answer(proposal_id, errors, reason=reason)
    what = "enquiry" if page.is_enquiry else "answer"
    flash(f"The {what} from {page.partner_name} was rejected: nothing was sent.", "success")
    return redirect(url_for("exchange_console.answer_list"))


def _source(source: str) -> dead_letters.Source:
    try:
        return dead_letters.Source(source)
    except ValueError:
        abort(404)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- dead letters ---------------------------------------------------------------------------


def _render_dead(errors: FormErrors) -> tuple[str, int] | str:
    user = require_user()
    session = db()
    letters = dead_letters.list_dead(session)
    shown = {f"dead-{d.source}-{d.id}" for d in letters}
    if any(e.field not in shown for e in errors.items):
        # A message no longer on the list: the error points at the list's count instead.
        moved = FormErrors()
        for e in errors.items:
            moved.add(e.field if e.field in shown else "dead-count", e.message)
        errors = moved
    audit.record(
        session, actor=user.username, action="dead_letter.list", entity="dead_letter",
        entity_id=None, detail={"items": [f"{d.source}:{d.id}" for d in letters]},
    )  # fmt: skip
    session.commit()
    html = render_template("exchange/dead.html", letters=letters, errors=errors)
    return (html, 400) if errors else html


@bp.get("/dead")
def dead_list() -> tuple[str, int] | str:
    return _render_dead(FormErrors())


@bp.post("/dead/<source>/<int:item_id>/resend")
def dead_resend(source: str, item_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    try:
        letter = dead_letters.resend(session, settings(), _source(source), item_id, user.username)
        session.commit()
    except ExchangeError as exc:
        session.rollback()
        errors = FormErrors()
        errors.add(f"dead-{source}-{item_id}", _sentence(str(exc)))
        return _render_dead(errors)
    flash(f"{letter.title} is back in the queue: it is sent again in the next few minutes.",
          "success")  # fmt: skip
    return redirect(url_for("exchange_console.dead_list"))


@bp.route("/dead/<source>/<int:item_id>/abandon", methods=["GET", "POST"])
def dead_abandon(source: str, item_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    try:
        letter = dead_letters.get_dead(session, _source(source), item_id)
    except ExchangeError:
        abort(404)
    errors = FormErrors()
    reason = ""
    if request.method == "POST":
        reason = read_reason(request.form, errors, "Enter why the message is abandoned")
        if not errors:
            dead_letters.abandon(session, _source(source), item_id, reason, user.username)
            session.commit()
            flash(f"{letter.title} was abandoned: it will not be sent.", "success")
            return redirect(url_for("exchange_console.dead_list"))
    html = render_template(
        "exchange/abandon.html", letter=letter, errors=errors, reason=reason, source=source
    )
    return (html, 400) if errors else html


# -- the exchange quarantine ---------------------------------------------------------------


@bp.get("/quarantine")
def quarantine_list() -> str:
    user = require_user()
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        abort(404)
    session = db()
    rows, total = refusals.list_refused(session, user.username, page=page)
    if page > 1 and not rows:
        abort(404)
    session.commit()
    pages = max(1, -(-total // refusals.PAGE_SIZE))
    return render_template(
        "exchange/quarantine.html", rows=rows, total=total, page=page, pages=pages,
        channels=CHANNELS,
    )  # fmt: skip


@bp.get("/quarantine/<int:refused_id>")
def quarantine_view(refused_id: int) -> str:
    user = require_user()
    session = db()
    try:
        detail = refusals.show_refused(session, refused_id, user.username)
    except NotFound:
        abort(404)
    session.commit()
    return render_template("exchange/refused.html", detail=detail, channels=CHANNELS)


# -- the partner directory -------------------------------------------------------------------


@bp.get("/partners")
def partner_list() -> str:
    return render_template(
        "exchange/partners.html",
        partners=_directory(),
        warn_days=settings().exchange.cert_expiry_warning_days,
    )
