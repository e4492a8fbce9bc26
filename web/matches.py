"""The officer console's match review: the candidates waiting for a decision, one candidate
beside its record field by field with a waterfall chart, and the decision with its
consequence. Pages read stored candidates only: a page view never runs the matcher."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases.labels import CANDIDATE_STATES, DECISIONS
from gateway.errors import USER_ERRORS
from gateway.matching import candidates
from gateway.matching.confirm import Verdict, decide
from gateway.matching.review import ref_label, review
from web import waterfall
from web.access import require_user
from web.db import db, settings
from web.form_errors import FormErrors

log = logging.getLogger(__name__)
bp = Blueprint("matches", __name__, url_prefix="/matches")

PAGE_SIZE = 25
#: The radios' name, and the id of the first one (where the error summary points).
VERDICT_FIELD = "verdict"
#: Where the error summary points when the decision itself cannot be made.
DECISION_FIELD = "decision"


def _words() -> dict[str, Any]:
    return {
        "ref_label": ref_label,
        "percent": waterfall.percent,
        "signed": waterfall.signed,
        "decisions": DECISIONS,
        "states": CANDIDATE_STATES,
        "record_link": _record_link,
    }


def _record_link(ref: str) -> str | None:
    """Where a record in a candidate is shown, or None (rolls and the EHE register)."""
    kind, _, ident = ref.partition(":")
    if not ident.isdigit():
        return None
    if kind == "referral":
        return f"/triage/{ident}"  # the triage page (web/triage.py)
    if kind == "case":
        return url_for("cases.case_view", case_id=int(ident))
    if kind == "lost_pupil":
        return url_for("lost_pupil.view", pupil_id=int(ident))
    return None


def _open_count() -> int | None:
    """The count in the service navigation, read in the request's own transaction."""
    try:
        return candidates.count_open(db())
    except SQLAlchemyError as exc:
        # Only on an error page drawn after the database failed mid-request: the page
        # still shows, without the count (the type only: a message could quote a child).
        log.warning("match count unavailable", extra={"error": type(exc).__name__})
        return None


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"open_match_count": _open_count}


@bp.route("")
def match_list() -> str:
    user = require_user()
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        abort(404)
    session = db()
    rows, total = candidates.open_candidates(
        session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        abort(404)
    audit.record(
        session,
        actor=user.username,
        action="match.list",
        entity="match",
        entity_id=None,
        detail={"page": page, "candidates": [r.id for r in rows]},
    )
    session.commit()
    return render_template(
        "matches/list.html", rows=rows, total=total, page=page, pages=pages, **_words()
    )


def _render_review(candidate_id: int, errors: FormErrors) -> tuple[str, int] | str:
    user = require_user()
    session = db()
    found = review(session, candidate_id)
    if found is None:
        abort(404)
    audit.record(
        session,
        actor=user.username,
        action="match.view",
        entity="match",
        entity_id=candidate_id,
        detail={"query": found.candidate.query_ref, "target": found.candidate.target_ref},
    )
    session.commit()
    html = render_template(
        "matches/review.html",
        review=found,
        candidate=found.candidate,
        chart=waterfall.layout(found),
        is_open=found.candidate.state in candidates.OPEN_STATES,
        verdicts=list(Verdict),
        errors=errors,
        **_words(),
    )
    return (html, 400) if errors else html


@bp.get("/<int:candidate_id>")
def match_review(candidate_id: int) -> tuple[str, int] | str:
    return _render_review(candidate_id, FormErrors())


@bp.post("/<int:candidate_id>")
def match_decide(candidate_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    candidate = candidates.get_candidate(session, candidate_id)
    if candidate is None:
        abort(404)
    errors = FormErrors()
    choice = request.form.get(VERDICT_FIELD, "")
    if choice not in {v.value for v in Verdict}:
        errors.add(VERDICT_FIELD, "Select whether this is the same child")
        return _render_review(candidate_id, errors)
    try:
        done = decide(
            session,
            settings(),
            candidate.query_ref,
            candidate.target_ref,
            Verdict(choice),
            user.username,
        )
        session.commit()
    except USER_ERRORS as exc:
        session.rollback()
        message = str(exc)
        errors.add(DECISION_FIELD, message[:1].upper() + message[1:])
        return _render_review(candidate_id, errors)
    except StaleDataError:
        session.rollback()
        errors.add(
            DECISION_FIELD,
            "Someone else changed one of these records while you were working. "
            "Reload and try again.",
        )
        return _render_review(candidate_id, errors)
    flash(done.message, "success")
    if done.case_id is not None:
        return redirect(url_for("cases.case_view", case_id=done.case_id))
    return redirect(url_for("matches.match_list"))
