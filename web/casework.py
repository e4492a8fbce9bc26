"""The case page's work: one GOV.UK form for each action of steps 3 to 7 (and enquiries
complete, an onward referral with its check page, reopening), each posting to one service
function; its refusals shown beside the box they concern; success back to the case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from gateway import audit
from gateway.cases import onward, queries, service, steps
from gateway.cases.describe import long_date
from gateway.cases.inputs import InputError
from gateway.cases.labels import AGENCIES, METHODS, label
from gateway.cases.queries import NotFound
from gateway.cases.workflow import CLOSED, WorkflowError, load_workflow
from gateway.db import utcnow
from gateway.models.case import Case
from web.access import require_user
from web.casework_display import (
    CHANNELS,
    DISCLOSED_FIELDS,
    acknowledgements,
    avenues,
    escalation_hints,
    sends,
    sent,
)
from web.casework_forms import (
    CONFLICT,
    TEAM_CHOICES,
    VISITED_BY,
    AdmissionsForm,
    AssessmentForm,
    CaseworkForm,
    Clock,
    EnquiryForm,
    EscalateForm,
    HomeVisitForm,
    HomeVisitRequestForm,
    OnwardForm,
    ReopenForm,
    StatusCheckForm,
    sentence,
)
from web.db import db, settings
from web.form_errors import FormErrors

bp = Blueprint("casework", __name__, url_prefix="/cases/<int:case_id>")

F = TypeVar("F", bound=CaseworkForm)
Page = Response | tuple[str, int] | str
#: The service call a form's values go to: (session, values, actor) -> what it made.
Act = Callable[[Session, dict[str, Any], str], Any]


def _case(case_id: int) -> Case:
    try:
        return queries.get_case(db(), case_id)
    except NotFound:
        abort(404)


def _clock() -> Clock:
    return Clock(utcnow(), ZoneInfo(settings().core.timezone))


def _back(case: Case) -> Response:
    return redirect(url_for("cases.case_view", case_id=case.id))


def _closed(case: Case) -> Response:
    flash(f"Case {case.tag} is closed: reopen it to record more work on it.", "info")
    return _back(case)


def _sends(case: Case, team: str) -> onward.Disclosed:
    """Where a step's onward referral goes and how (nothing is sent; the reason is the
    officer's, so a stand-in here)."""
    return onward.preview(db(), settings(), case.id, team, "(the reason given)")


def _work(
    case: Case,
    form: F,
    template: str,
    act: Act,
    done: Callable[[F, Any], str],
    **context: Any,
) -> Page:
    """Show the form; on a post read it, call the service, and go back to the case with a
    banner, or show the form again with every problem beside its box."""
    if case.status == CLOSED:
        return _closed(case)
    if request.method == "POST":
        values = form.read(_clock())
        if not form.errors:
            session = db()
            user = require_user()
            try:
                made = act(session, values, user.username)
                session.commit()
            except (InputError, WorkflowError) as exc:
                session.rollback()
                form.service_error(exc)
            except StaleDataError:
                session.rollback()
                form.conflict()
            else:
                flash(done(form, made), "success")
                return _back(case)
    html = render_template(template, case=case, form=form, errors=form.errors, **context)
    return (html, 400) if form.errors else html


def _form(cls: type[F], **prefill: str) -> F:
    return cls.posted(request.form) if request.method == "POST" else cls.blank(**prefill)


# -- step 3 --------------------------------------------------------------------------------


@bp.route("/status-check", methods=["GET", "POST"])
def status_check(case_id: int) -> Page:
    case = _case(case_id)
    school = (case.on_roll or {}).get("school") or ""
    aws = _sends(case, "attendance_welfare")

    def act(s: Session, v: dict[str, Any], actor: str) -> Any:
        return steps.status_check(s, settings(), case.id, actor=actor, **v)

    def done(form: StatusCheckForm, _made: Any) -> str:
        words = f"Status check recorded: {steps.STATUS_RESULTS[form.get('result')]}"
        if form.get("result") == "on_roll":
            words += f" at {form.get('school')}."
            return words + (f" {sent(aws)}" if form.checked("attendance_concern") else "")
        if form.get("result") == "no_evidence":
            return words + ". Contact the parents urgently: the task is on the case."
        return words + "."

    form = _form(StatusCheckForm, school=str(school))
    return _work(
        case, form, "casework/status_check.html", act, done, results=steps.STATUS_RESULTS,
        aws=sends(aws),
    )  # fmt: skip


# -- step 4 --------------------------------------------------------------------------------


@bp.route("/record-enquiry", methods=["GET", "POST"])
def enquiry(case_id: int) -> Page:
    case = _case(case_id)

    def act(s: Session, v: dict[str, Any], actor: str) -> Any:
        return service.record_enquiry(s, case.id, actor=actor, settings=settings(), **v)

    def done(form: EnquiryForm, _made: Any) -> str:
        if (form.get("agency"), form.get("method")) == ("parent_carer", "phone"):
            return "Phone call with the parents recorded."
        return (
            f"Enquiry with {label(AGENCIES, form.get('agency'))} by "
            f"{label(METHODS, form.get('method'))} recorded."
        )

    form = _form(
        EnquiryForm, agency=request.args.get("agency", ""), method=request.args.get("method", "")
    )
    return _work(
        case, form, "casework/enquiry.html", act, done, agencies=AGENCIES,
        methods={code: words[:1].upper() + words[1:] for code, words in METHODS.items()},
    )  # fmt: skip


@bp.route("/home-visit", methods=["GET", "POST"])
def home_visit_request(case_id: int) -> Page:
    case = _case(case_id)

    def act(s: Session, v: dict[str, Any], actor: str) -> Any:
        return steps.request_home_visit(s, settings(), case.id, actor=actor, **v)

    def done(form: HomeVisitRequestForm, made: Any) -> str:
        by = steps.VISITORS[form.get("by")]
        return f"Home visit requested from {by}, to happen by {long_date(made.detail['visit_by'])}."

    form = _form(HomeVisitRequestForm)
    return _work(case, form, "casework/home_visit_request.html", act, done, visitors=steps.VISITORS)


@bp.route("/home-visit/outcome", methods=["GET", "POST"])
def home_visit(case_id: int) -> Page:
    case = _case(case_id)
    asked = next(
        (
            t.detail.get("by")
            for t in case.tasks
            if t.kind == steps.HOME_VISIT and t.status == "open"
        ),
        "",
    )

    def act(s: Session, v: dict[str, Any], actor: str) -> Any:
        return steps.record_home_visit(s, settings(), case.id, actor=actor, **v)

    def done(form: HomeVisitForm, _made: Any) -> str:
        return f"Home visit recorded: {steps.VISIT_OUTCOMES[form.get('outcome')]}."

    form = _form(HomeVisitForm, by=str(asked or ""))
    return _work(
        case, form, "casework/home_visit.html", act, done, outcomes=steps.VISIT_OUTCOMES,
        visitors=VISITED_BY,
    )  # fmt: skip


# -- step 5 --------------------------------------------------------------------------------


@bp.route("/assessment", methods=["GET", "POST"])
def assessment(case_id: int) -> Page:
    case = _case(case_id)

    def act(s: Session, v: dict[str, Any], actor: str) -> Any:
        return steps.record_assessment(s, settings(), case.id, actor=actor, **v)

    def done(form: AssessmentForm, _made: Any) -> str:
        kind, result = steps.ASSESSMENTS[form.get("kind")], form.get("result")
        return f"{kind} recorded: {steps.ASSESSMENT_RESULTS[result]}."

    form = _form(AssessmentForm, kind=request.args.get("kind", ""))
    return _work(
        case, form, "casework/assessment.html", act, done, kinds=steps.ASSESSMENTS,
        results=steps.ASSESSMENT_RESULTS,
    )  # fmt: skip


# -- step 6 --------------------------------------------------------------------------------


@bp.route("/admissions", methods=["GET", "POST"])
def admissions(case_id: int) -> Page:
    case = _case(case_id)
    shown = _sends(case, "admissions")

    def act(s: Session, v: dict[str, Any], actor: str) -> Any:
        return steps.refer_admissions(s, settings(), case.id, actor=actor, **v)

    def done(form: AdmissionsForm, _made: Any) -> str:
        route = steps.ADMISSION_ROUTES[form.get("route")]
        return f"Referred to School Admissions: {route}. {sent(shown)}"

    form = _form(AdmissionsForm)
    return _work(
        case, form, "casework/admissions.html", act, done, routes=steps.ADMISSION_ROUTES,
        sends=sends(shown),
    )  # fmt: skip


# -- step 7 --------------------------------------------------------------------------------


@bp.route("/escalate", methods=["GET", "POST"])
def escalate(case_id: int) -> Page:
    case = _case(case_id)
    s = settings()
    flags = load_workflow(s.workflow.file).escalations
    police = avenues(s.casework.police_after, queries.avenues_tried(db(), case.id))
    teams = {
        f: _sends(case, steps.ESCALATION_TEAMS[f]) for f in flags if f in steps.ESCALATION_TEAMS
    }

    def act(session: Session, v: dict[str, Any], actor: str) -> Any:
        return steps.escalate(session, s, case.id, actor=actor, **v)

    def done(form: EscalateForm, made: Any) -> str:
        flag = form.get("flag")
        review = long_date(made.detail["review"])
        words = f"{flags[flag]}: review by {review}."
        return f"{words} {sent(teams[flag])}" if flag in teams else words

    form = _form(EscalateForm, flag=request.args.get("flag", ""))
    return _work(
        case, form, "casework/escalate.html", act, done, flags=flags, police=police,
        hints=escalation_hints(flags, teams, police),
    )  # fmt: skip


def _onward_page(case: Case, form: OnwardForm) -> Page:
    html = render_template(
        "casework/onward.html", case=case, form=form, errors=form.errors, teams=TEAM_CHOICES
    )
    return (html, 400) if form.errors else html


def _preview(case: Case, form: OnwardForm) -> onward.Disclosed | None:
    values = form.read()
    if form.errors:
        return None
    try:
        return onward.preview(db(), settings(), case.id, values["team"], values["reason"])
    except InputError as exc:
        form.service_error(exc)
        return None


@bp.route("/onward", methods=["GET", "POST"])
def onward_form(case_id: int) -> Page:
    """Choose the team and say why; a post shows exactly what would be disclosed."""
    case = _case(case_id)
    if case.status == CLOSED:
        return _closed(case)
    if request.method == "GET" or request.form.get("change"):
        return _onward_page(case, _form(OnwardForm, team=request.args.get("team", "")))
    form = OnwardForm.posted(request.form)
    shown = _preview(case, form)
    if shown is None:
        return _onward_page(case, form)
    user = require_user()
    # The check page shows the child's details as they will leave: a view, on record.
    audit.record(
        db(), actor=user.username, action="onward.check.view", entity="case", entity_id=case.id,
        detail={"team": shown.team},
    )  # fmt: skip
    db().commit()
    return render_template(
        "casework/onward_check.html", case=case, form=form, shown=shown, channels=CHANNELS,
        fields=DISCLOSED_FIELDS,
    )  # fmt: skip


@bp.post("/onward/send")
def onward_send(case_id: int) -> Page:
    case = _case(case_id)
    if case.status == CLOSED:
        return _closed(case)
    form = OnwardForm.posted(request.form)
    shown = _preview(case, form)
    if shown is None:
        return _onward_page(case, form)
    session = db()
    onward.refer(
        session, settings(), case.id, shown.team, form.get("reason"), require_user().username
    )
    session.commit()
    flash(sent(shown), "success")
    return _back(case)


# -- enquiries complete, reopen ------------------------------------------------------------


@bp.route("/enquiries-complete", methods=["GET", "POST"])
def enquiries_complete(case_id: int) -> Page:
    """A confirmation page: who will be acknowledged, and how; then mark them complete."""
    case = _case(case_id)
    if case.status == CLOSED:
        return _closed(case)
    errors = FormErrors()
    if request.method == "GET" and case.enquiries_complete_at is not None:
        flash(f"Initial enquiries on case {case.tag} are already marked complete.", "info")
        return _back(case)
    told = acknowledgements(case)
    if request.method == "POST":
        session = db()
        try:
            service.enquiries_complete(session, settings(), case.id, require_user().username)
            session.commit()
        except WorkflowError as exc:
            session.rollback()
            errors.add("confirm", sentence(str(exc)))
        except StaleDataError:
            session.rollback()
            errors.add("confirm", CONFLICT)
        else:
            n = len(told)
            flash(
                "Initial enquiries marked complete. "
                + (f"The acknowledgement is on its way to {n} referrer{'' if n == 1 else 's'}."
                   if n else "There is no referrer to acknowledge."),
                "success",
            )  # fmt: skip
            return _back(case)
    html = render_template("casework/enquiries_complete.html", case=case, errors=errors, told=told)
    return (html, 400) if errors else html


@bp.route("/reopen", methods=["GET", "POST"])
def reopen(case_id: int) -> Page:
    case = _case(case_id)
    if case.status != CLOSED:
        flash(f"Case {case.tag} is open: there is nothing to reopen.", "info")
        return _back(case)
    if case.merged_into_id:
        flash(f"Case {case.tag} was merged into CME-{case.merged_into_id}: work on that.", "info")
        return _back(case)
    form = _form(ReopenForm)
    if request.method == "POST":
        values = form.read()
        if not form.errors:
            session = db()
            try:
                service.reopen_case(
                    session, settings(), case.id, require_user().username, values["reason"]
                )
                session.commit()
            except (InputError, WorkflowError) as exc:
                session.rollback()
                form.service_error(exc)
            except StaleDataError:
                session.rollback()
                form.conflict()
            else:
                status = load_workflow(settings().workflow.file).statuses[case.status]
                flash(f"Case {case.tag} reopened: it is now {status}.", "success")
                return _back(case)
    html = render_template("casework/reopen.html", case=case, form=form, errors=form.errors)
    return (html, 400) if form.errors else html
