"""The officer console's case pages: list, view, move and close."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases import allocation, facts, labels, queries, service
from gateway.cases.describe import fact_lines, most_urgent
from gateway.cases.inputs import InputError, Problem
from gateway.cases.page import open_case_page
from gateway.cases.queries import NotFound
from gateway.cases.workflow import CLOSED, WorkflowError, load_workflow
from gateway.matching.review import ref_label
from gateway.users import Role, who_viewed
from web.access import require_user
from web.casework_display import case_work
from web.casework_forms import sentence
from web.child_form import SEXES, ChildForm, year_group_choices
from web.db import db, engine, settings
from web.form_errors import FormErrors

bp = Blueprint("cases", __name__, url_prefix="/cases")

PAGE_SIZE = 25


def _workflow() -> Any:
    return load_workflow(settings().workflow.file)


@bp.route("")
def case_list() -> tuple[str, int] | str:
    user = require_user()
    wf = _workflow()
    errors = FormErrors()
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in wf.statuses:
        errors.add("status", "Select a status from the list")
        status = None
    session = db()
    officers = allocation.officers(session)
    officer = request.args.get("officer", "").strip() or None
    if officer not in (None, queries.NOT_ALLOCATED, *(u for u, _n in officers)):
        errors.add("officer", "Select an officer from the list")
        officer = None
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        abort(404)
    total = queries.count_cases(session, status=status, officer=officer)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        abort(404)
    rows = queries.case_list(
        session, status=status, officer=officer, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    audit.record(
        session,
        actor=user.username,
        action="case.list",
        entity="case",
        entity_id=None,
        detail={
            "status": status,
            "officer": officer,
            "page": page,
            "cases": [r.case.id for r in rows],
        },
    )
    session.commit()
    html = render_template(
        "cases/list.html",
        rows=rows,
        status=status,
        statuses=wf.statuses,
        page=page,
        pages=pages,
        total=total,
        errors=errors,
        urgencies=labels.URGENCIES,
        officer=officer,
        officers=officers,
        not_allocated=queries.NOT_ALLOCATED,
    )
    return (html, 400) if errors else html


def _load(case_id: int) -> Any:
    try:
        return queries.case_detail(db(), case_id)
    except NotFound:
        abort(404)


@bp.route("/<int:case_id>")
def case_view(case_id: int) -> str:
    user = require_user()
    session = db()
    try:
        page = open_case_page(session, settings(), engine(), case_id, user.username)
    except NotFound:
        abort(404)
    # Committed before the page is sent: the view (and the replies marked read) are on
    # record even if the browser never finishes loading it.
    session.commit()
    wf = _workflow()
    case = page.case
    return render_template(
        "cases/view.html",
        page=page,
        case=case,
        child=case.child,
        facts=fact_lines(case, page.facts),
        urgency=most_urgent(case.referrals),
        viewers=who_viewed(session, "case", case.id),
        outcome_label=_outcome_label(wf, case.outcome),
        escalations=wf.escalations,
        can_move=case.status != CLOSED and bool(wf.transitions.get(case.status)),
        is_closed=case.status == CLOSED,
        labels=labels,
        ref_label=ref_label,
        work=case_work(page, wf.escalations, settings().core.timezone),
    )


def _outcome_label(wf: Any, outcome: str | None) -> str:
    if outcome in wf.outcomes:
        return str(wf.outcomes[outcome].label)
    return labels.label(labels.SYSTEM_OUTCOMES, outcome)


@bp.route("/<int:case_id>/facts/<int:fact_id>", methods=["POST"])
def fact_decide(case_id: int, fact_id: int) -> Response:
    user = require_user()
    session = db()
    _load(case_id)
    decision = request.form.get("decision")
    if decision not in ("accept", "reject"):
        abort(400)
    try:
        fact = facts.decide_fact(
            session, case_id, fact_id, accept=decision == "accept", actor=user.username
        )
        session.commit()
    except InputError as exc:
        session.rollback()
        flash(str(exc).capitalize() + ".", "info")
    else:
        name = labels.label(labels.FIELDS, fact.field)
        done = "added to the case" if decision == "accept" else "rejected: the case is unchanged"
        flash(f"{name} {done}.", "success")
    return redirect(url_for("cases.case_view", case_id=case_id))


@bp.route("/<int:case_id>/child", methods=["GET", "POST"])
def child_edit(case_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    case = _load(case_id)
    if request.method == "GET":
        form = ChildForm.from_child(case.child)
        # The form shows the child's details: a view of the record like the case page.
        audit.record(
            session, actor=user.username, action="child.view", entity="case", entity_id=case.id
        )
        session.commit()
    else:
        form = ChildForm.from_post(request.form, case.child)
        changed: dict[str, Any] = {}
        try:
            changed = facts.edit_child(session, case_id, form.values(), actor=user.username)
        except InputError as exc:
            form.add_problems(exc.problems or [Problem("forename", str(exc))])
        if not form.errors:
            session.commit()
            names = ", ".join(labels.label(labels.FIELDS, k) for k in changed)
            flash(f"Changed: {names}." if changed else "Nothing was changed.", "success")
            return redirect(url_for("cases.case_view", case_id=case_id))
        # Nothing is kept when any box is wrong, even what edit_child took.
        session.rollback()
    html = render_template(
        "cases/child.html",
        case=case,
        form=form,
        errors=form.errors,
        sexes=SEXES,
        year_groups=year_group_choices(case.child),
    )
    return (html, 400) if form.errors else html


def _conflict(errors: FormErrors, field_id: str) -> None:
    errors.add(
        field_id, "Someone else changed this case while you were working. Reload and try again."
    )


@bp.route("/<int:case_id>/move", methods=["GET", "POST"])
def case_move(case_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    case = _load(case_id)
    wf = _workflow()
    choices = [(s, wf.statuses[s]) for s in wf.transitions.get(case.status, ())]
    errors = FormErrors()
    if request.method == "POST":
        target = request.form.get("status", "")
        if not target:
            errors.add("status", "Select the status to move the case to")
        else:
            try:
                service.move_case(session, settings(), case_id, target, actor=user.username)
                session.commit()
            except WorkflowError as exc:
                session.rollback()
                errors.add("status", str(exc).capitalize())
            except StaleDataError:
                session.rollback()
                _conflict(errors, "status")
            else:
                flash(f"Case {case.tag} moved to {wf.statuses[target]}.", "success")
                return redirect(url_for("cases.case_view", case_id=case_id))
    html = render_template("cases/move.html", case=case, choices=choices, errors=errors)
    return (html, 400) if errors else html


def _date_from(form: Any, prefix: str) -> tuple[date | None, str | None]:
    """A GOV.UK date input (three boxes) as a date, or an error message."""
    parts = [form.get(f"{prefix}-{p}", "").strip() for p in ("day", "month", "year")]
    if not any(parts):
        return None, None
    if not all(parts) or not all(p.isdigit() for p in parts):
        return None, "The start date must be a real date, like 3 9 2025"
    day, month, year = (int(p) for p in parts)
    try:
        return date(year, month, day), None
    except ValueError:
        return None, "The start date must be a real date, like 3 9 2025"


@bp.route("/<int:case_id>/close", methods=["GET", "POST"])
def case_close(case_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    case = _load(case_id)
    if case.status == CLOSED:
        flash(f"Case {case.tag} is already closed.", "info")
        return redirect(url_for("cases.case_view", case_id=case_id))
    wf = _workflow()
    errors = FormErrors()
    form = request.form
    if request.method == "POST":
        outcome = form.get("outcome", "")
        detail: dict[str, Any] = {}
        for key in ("school", "la_code", "note"):
            value = form.get(key, "").strip()
            if value:
                detail[key] = value
        start, date_error = _date_from(form, "start_date")
        if date_error:
            errors.add("start_date-day", date_error)
        elif start is not None:
            detail["start_date"] = start.isoformat()
        if "la_code" in detail and not (
            len(detail["la_code"]) == 3 and detail["la_code"].isdigit()
        ):
            errors.add("la_code", "Enter the other LA's 3-digit code, like 808")
        spec = wf.outcomes.get(outcome)
        if spec is None:
            errors.add("outcome", "Select why the case is being closed")
        elif spec.manager_signoff and not user.has_role(Role.MANAGER):
            errors.add("outcome", f"Only a manager can close a case as '{spec.label}'")
        if not errors and spec is not None:
            manager = user.username if spec.manager_signoff else None
            try:
                service.close_case(
                    session, settings(), case_id, outcome, detail, user.username, manager=manager
                )
                session.commit()
            except WorkflowError as exc:
                session.rollback()
                # As written: capitalize() would lower the agencies' names it lists.
                errors.add(_field_for(str(exc)), sentence(str(exc)))
            except StaleDataError:
                session.rollback()
                _conflict(errors, "outcome")
            else:
                flash(f"Case {case.tag} closed: {spec.label}.", "success")
                return redirect(url_for("cases.case_view", case_id=case_id))
    html = render_template(
        "cases/close.html", case=case, outcomes=wf.outcomes, errors=errors, form=form
    )
    return (html, 400) if errors else html


def _field_for(message: str) -> str:
    """Point the error summary at the box the workflow says is missing."""
    if "start_date" in message:
        return "start_date-day"
    for field_id in ("school", "la_code"):
        if field_id in message:
            return field_id
    return "outcome"
