"""The officer console's quarantine pages: held messages listed, shown, retried or released."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases.queries import NotFound
from gateway.errors import UserError
from gateway.intake import quarantine as q
from gateway.intake.content import read_content
from gateway.intake.dispatch import DispatchResult, dispatch_safely
from gateway.models.intake import IntakeChannel, Outcome, QuarantineStatus, RawMessage
from gateway.users import Role
from web.access import require_user, requires_role
from web.db import db, engine, settings
from web.form_errors import FormErrors

bp = Blueprint("quarantine", __name__, url_prefix="/quarantine")

#: What each hold reason means, in the officer's words.
REASON_LABELS: dict[str, str] = {
    q.Reason.NO_HEADERS: "No readable headers",
    q.Reason.MESSAGE_TOO_LARGE: "Message too large to read",
    q.Reason.PARSE_DEFECTS: "Damaged or malformed message",
    q.Reason.TOO_DEEP: "Parts nested too deeply to read",
    q.Reason.ATTACHMENT_TOO_LARGE: "Attachment too large",
    q.Reason.EXECUTABLE_ATTACHMENT: "Executable attachment",
    q.Reason.UNREADABLE_TNEF: "Only a winmail.dat attachment",
    q.Reason.EXCHANGE_NOT_CONFIGURED: "Secure exchange not set up",
    q.Reason.EXCHANGE_REFUSED: "Refused by the secure exchange",
    q.Reason.REFERRAL_UNREADABLE: "Not readable as a referral",
    q.Reason.DISPATCH_ERROR: "Processing failed",
}

CHANNEL_LABELS: dict[str, str] = {
    IntakeChannel.SMTP: "Email (SMTP)",
    IntakeChannel.IMAP: "Email (mailbox)",
    IntakeChannel.FILE: "File",
    IntakeChannel.FORM: "Web form",
}

STATUS_LABELS: dict[str, str] = {
    QuarantineStatus.OPEN: "Held",
    QuarantineStatus.RETRIED: "Retried",
    QuarantineStatus.RELEASED: "Released",
    QuarantineStatus.REFERRAL: "Made a referral",
    QuarantineStatus.DISCARDED: "Discarded",
}

CONFIRM_FIELD = "confirm-safe"
DISCARD_FIELD = "discard-reason"


def reason_label(reason: str | None) -> str:
    if not reason:
        return "Unknown reason"
    return REASON_LABELS.get(reason, reason.replace("_", " ").capitalize())


@bp.app_template_filter("reason_label")
def _reason_label_filter(reason: str | None) -> str:
    return reason_label(reason)


@bp.app_template_filter("channel_label")
def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.capitalize())


@bp.app_template_filter("hold_status")
def hold_status(status: str) -> str:
    return STATUS_LABELS.get(status, status.capitalize())


@bp.route("")
def held_list() -> str:
    user = require_user()
    include_closed = request.args.get("all") == "1"
    session = db()
    items = q.list_held(session, include_closed=include_closed)
    audit.record(
        session,
        actor=user.username,
        action="quarantine.list",
        entity="raw_message",
        entity_id=None,
        detail={"all": include_closed, "raw_ids": [i.raw_id for i in items]},
    )
    session.commit()
    return render_template(
        "quarantine/list.html",
        items=items,
        include_closed=include_closed,
        open_status=QuarantineStatus.OPEN.value,
    )


def _render_view(
    raw_id: int, errors: FormErrors, form: dict[str, str] | None = None
) -> tuple[str, int] | str:
    user = require_user()
    session = db()
    try:
        # Audited in the same transaction: the view is on record before the page is sent.
        item = q.show(session, raw_id, user.username)
    except NotFound:
        abort(404)
    session.commit()
    row = session.get(RawMessage, raw_id)
    assert row is not None
    html = render_template(
        "quarantine/view.html",
        item=item,
        raw=row,
        content=read_content(settings(), engine(), row),
        can_release=user.has_role(Role.MANAGER),
        errors=errors,
        confirm_field=CONFIRM_FIELD,
        discard_field=DISCARD_FIELD,
        form=form or {},
    )
    return (html, 400) if errors else html


@bp.route("/<int:raw_id>")
def held_view(raw_id: int) -> tuple[str, int] | str:
    return _render_view(raw_id, FormErrors())


def _outcome_message(r: DispatchResult) -> tuple[str, str]:
    """The flash for a dispatch: case references and reason labels only, never content."""
    tag = f"CME-{r.case_id}" if r.case_id is not None else None
    if r.outcome is Outcome.QUARANTINED:
        return f"Held again: {reason_label(r.reason)}", "info"
    described = {
        Outcome.CASE: f"case {tag}",
        Outcome.TRIAGE: "a referral waiting in triage",
        Outcome.ATTACHED: f"added to case {tag}",
        Outcome.REPLY: f"reply on case {tag}",
        Outcome.AUTO_REPLY: "recorded as an automatic reply",
        Outcome.BOUNCE: "recorded as a bounce" + (f" on case {tag}" if tag else ""),
        Outcome.EXCHANGE: "passed to the secure exchange",
        Outcome.DUPLICATE: "a duplicate of a message already received",
    }.get(r.outcome, r.outcome.value)
    return f"Dispatched: {described}", "success"


def _rerun(raw_id: int, status: QuarantineStatus) -> Response:
    user = require_user()
    session = db()
    try:
        q.resolve(session, raw_id, status, user.username)
    except NotFound:
        session.rollback()
        abort(404)
    # One transaction: the hold is closed only if the dispatch that follows is kept too.
    result = dispatch_safely(
        session, settings(), raw_id, release=status is QuarantineStatus.RELEASED
    )
    session.commit()
    message, category = _outcome_message(result)
    flash(message, category)
    if result.case_id is not None:
        return redirect(url_for("cases.case_view", case_id=result.case_id))
    return redirect(url_for("quarantine.held_list"))


@bp.route("/<int:raw_id>/retry", methods=["POST"])
def held_retry(raw_id: int) -> Response:
    return _rerun(raw_id, QuarantineStatus.RETRIED)


@bp.route("/<int:raw_id>/release", methods=["POST"])
@requires_role(Role.MANAGER)
def held_release(raw_id: int) -> Response | tuple[str, int] | str:
    # Releasing skips the safety checks, so it takes a manager and an explicit tick.
    if request.form.get(CONFIRM_FIELD) != "yes":
        errors = FormErrors()
        errors.add(CONFIRM_FIELD, "Confirm you have checked this message is safe")
        return _render_view(raw_id, errors)
    return _rerun(raw_id, QuarantineStatus.RELEASED)


@bp.route("/<int:raw_id>/referral", methods=["POST"])
def held_referral(raw_id: int) -> Response:
    user = require_user()
    session = db()
    try:
        referral_id = q.make_referral(session, settings(), raw_id, user.username)
    except NotFound:
        session.rollback()
        abort(404)
    session.commit()
    flash("The message is now a referral waiting in triage.", "success")
    # By path: the triage pages are their own blueprint.
    return redirect(f"/triage/{referral_id}")


@bp.route("/<int:raw_id>/discard", methods=["POST"])
def held_discard(raw_id: int) -> Response | tuple[str, int] | str:
    user = require_user()
    session = db()
    reason = request.form.get(DISCARD_FIELD, "")
    try:
        q.discard(session, raw_id, reason, user.username)
    except NotFound:
        session.rollback()
        abort(404)
    except UserError:
        session.rollback()
        errors = FormErrors()
        errors.add(DISCARD_FIELD, "Enter why the message is discarded, for example spam")
        return _render_view(raw_id, errors, {DISCARD_FIELD: reason})
    session.commit()
    flash(f"Message {raw_id} discarded. Its bytes stay in the raw store.", "success")
    return redirect(url_for("quarantine.held_list"))
