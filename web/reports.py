"""The Reports area: the weekly caseload, vulnerable pupils and VEMT lists for officers, the
termly briefing and the DfE return for managers. Each page and each file (print view, PDF,
CSV) is one call to gateway.reports, which audits the run; a file of a list that names
children is also a row of the disclosure register."""

from __future__ import annotations

from datetime import date
from types import ModuleType
from typing import Any

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from gateway import disclosures
from gateway.cases import allocation
from gateway.cases.labels import URGENCIES
from gateway.cases.workflow import CLOSED, load_workflow
from gateway.db import utcnow
from gateway.printing import PrintingUnavailable
from gateway.reports import briefing, briefing_print, caseload, dfe, formats, vemt, vulnerable
from gateway.timers import local_today
from gateway.users import Role, UserView
from web.access import require_user, requires_role
from web.db import db, settings
from web.headers import CSP
from web.report_display import COLUMN_MEANINGS, MEASURE_MEANINGS, dfe_tables
from web.report_forms import CaseloadFilters, TermChoice

bp = Blueprint("reports", __name__, url_prefix="/reports")

#: Each report's print view, PDF and CSV: /reports/<name>/print, /reports/<name>.pdf and
#: /reports/<name>.csv, with the page's own query string (filters, term).
FILES = {"print": "/{name}/print", "pdf": "/{name}.pdf", "csv": "/{name}.csv"}
MIMETYPES = {"pdf": "application/pdf", "csv": "text/csv"}


def _today() -> date:
    return local_today(settings(), utcnow()).date()


def _files(name: str, view: Any) -> None:
    """Route `view(output)` at the report's print, PDF and CSV addresses (endpoints
    reports.<name>_print, _pdf and _csv)."""
    for output, rule in FILES.items():
        bp.add_url_rule(
            rule.format(name=name),
            endpoint=f"{name}_{output}",
            view_func=view,
            defaults={"output": output},
        )


def _csp(style_sources: str) -> str:
    """The console's policy, with the print view's own inline styles allowed by hash."""
    return CSP.replace("style-src 'self'", f"style-src 'self' {style_sources}")


def _html(html: str, style_sources: str, status: int = 200) -> Response:
    page = Response(html, status=status, mimetype="text/html")
    page.headers["Content-Security-Policy"] = _csp(style_sources)
    return page


def _pdf(make: Any, *args: Any) -> bytes:
    try:
        return bytes(make(*args))
    except PrintingUnavailable as exc:
        abort(503, description=str(exc))


def _attachment(body: bytes, output: str, filename: str) -> Response:
    # The report and the day (or term) only in the name: never a child's.
    return Response(
        body,
        mimetype=MIMETYPES[output],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{output}"'},
    )


def _list_file(module: ModuleType, report: Any, output: str, user: UserView) -> Response:
    """A list that names children as a print view, PDF or CSV: its run is committed first
    (it happened), then the file is made, then it is recorded as disclosed as it is sent."""
    session = db()
    session.commit()
    name, s = module.NAME, settings()
    if output == "csv":
        body = str(module.to_csv(report)).encode()
    else:
        doc = module.to_document(report)
        if output == "print":
            body = formats.document_html(doc, s.core.la_name, report.on).encode()
        else:
            body = _pdf(formats.document_pdf, doc, s.core.la_name, report.on)
    disclosures.record(
        session, kind="report_export", recipient=f"{user.display_name} ({user.username})",
        basis=disclosures.LawfulBasis.PUBLIC_TASK,
        channel="print" if output == "print" else "download",
        fields=[f"report:{name}", *module.COLUMNS], actor=user.username,
    )  # fmt: skip
    session.commit()
    if output == "print":
        return _html(body.decode(), formats.REPORT_CSP_STYLE)
    return _attachment(body, output, f"{name}-{report.on.isoformat()}")


@bp.route("")
def index() -> str:
    require_user()
    return render_template("reports/index.html")


# -- the weekly caseload -------------------------------------------------------------------


def _caseload_form() -> tuple[CaseloadFilters, list[tuple[str, str]], dict[str, str]]:
    wf = load_workflow(settings().workflow.file)
    statuses = {code: text for code, text in wf.statuses.items() if code != CLOSED}
    officers = allocation.officers(db())
    filters = CaseloadFilters.read(request.args, officers=officers, statuses=statuses)
    return filters, officers, statuses


@bp.route("/caseload")
def caseload_page() -> tuple[str, int] | str:
    user = require_user()
    filters, officers, statuses = _caseload_form()
    report = caseload.caseload(
        db(), settings(), actor=user.username, today=_today(), officer=filters.officer,
        status=filters.status, urgent_only=filters.urgent_only,
    )  # fmt: skip
    db().commit()
    html = render_template(
        "reports/caseload.html", report=report, filters=filters, errors=filters.errors,
        officers=officers, statuses=statuses, urgencies=URGENCIES,
        unallocated=caseload.UNALLOCATED,
    )  # fmt: skip
    return (html, 400) if filters.errors else html


def caseload_file(output: str) -> Response:
    user = require_user()
    filters, _, _ = _caseload_form()
    if filters.errors:
        abort(400, description=filters.errors.items[0].message)
    report = caseload.caseload(
        db(), settings(), actor=user.username, today=_today(), officer=filters.officer,
        status=filters.status, urgent_only=filters.urgent_only, output=output,
    )  # fmt: skip
    return _list_file(caseload, report, output, user)


_files("caseload", caseload_file)


# -- the vulnerable pupils and VEMT lists ---------------------------------------------------


@bp.route("/vulnerable")
def vulnerable_page() -> str:
    user = require_user()
    report = vulnerable.vulnerable(db(), settings(), actor=user.username, today=_today())
    db().commit()
    return render_template("reports/vulnerable.html", report=report)


def vulnerable_file(output: str) -> Response:
    user = require_user()
    report = vulnerable.vulnerable(
        db(), settings(), actor=user.username, today=_today(), output=output
    )
    return _list_file(vulnerable, report, output, user)


_files("vulnerable", vulnerable_file)


@bp.route("/vemt")
def vemt_page() -> str:
    user = require_user()
    report = vemt.vemt(db(), settings(), actor=user.username, today=_today())
    db().commit()
    return render_template("reports/vemt.html", report=report)


def vemt_file(output: str) -> Response:
    user = require_user()
    report = vemt.vemt(db(), settings(), actor=user.username, today=_today(), output=output)
    return _list_file(vemt, report, output, user)


_files("vemt", vemt_file)


# -- the termly briefing and the DfE return (managers) --------------------------------------


def _term() -> TermChoice:
    return TermChoice.read(request.args, settings().reports, _today())


def _term_asked() -> TermChoice:
    """The term of a file's address; a file for no such term is a bad request."""
    choice = _term()
    if choice.term is None:
        abort(400, description=choice.errors.items[0].message)
    return choice


@bp.route("/briefing")
@requires_role(Role.MANAGER)
def briefing_page() -> Response:
    user = require_user()
    choice = _term()
    report = None
    if choice.term is not None:
        report = briefing.briefing(
            db(), settings(), choice.term, actor=user.username, today=_today()
        )
        db().commit()
    charts = {c.key: c for c in briefing_print.briefing_charts(report)} if report else {}
    html = render_template(
        "reports/briefing.html", choice=choice, errors=choice.errors, b=report, charts=charts
    )
    # The charts are inline SVG: their own <style>s are allowed by hash, nothing else.
    return _html(html, briefing_print.csp_style_sources(html), 400 if choice.errors else 200)


@requires_role(Role.MANAGER)
def briefing_file(output: str) -> Response:
    """The briefing names no child (complex cases go by reference): not a disclosure."""
    user = require_user()
    term = _term_asked().term
    assert term is not None
    report = briefing.briefing(
        db(), settings(), term, actor=user.username, today=_today(), output=output
    )
    db().commit()
    if output == "print":
        html = briefing_print.briefing_html(report)
        return _html(html, briefing_print.csp_style_sources(html))
    body = (
        briefing_print.to_csv(report).encode()
        if output == "csv"
        else _pdf(briefing_print.briefing_pdf, report)
    )
    return _attachment(body, output, f"briefing-{term.name}")


_files("briefing", briefing_file)


@bp.route("/dfe")
@requires_role(Role.MANAGER)
def dfe_page() -> tuple[str, int] | str:
    user = require_user()
    choice = _term()
    report = None
    if choice.term is not None:
        report = dfe.dfe_return(db(), settings(), choice.term, actor=user.username, today=_today())
        db().commit()
    html = render_template(
        "reports/dfe.html", choice=choice, errors=choice.errors, report=report,
        tables=dfe_tables(report) if report else (), columns=COLUMN_MEANINGS,
        measures=MEASURE_MEANINGS,
    )  # fmt: skip
    return (html, 400) if choice.errors else html


@requires_role(Role.MANAGER)
def dfe_file(output: str) -> Response:
    """Counts of children, none named: not a disclosure."""
    user = require_user()
    term = _term_asked().term
    assert term is not None
    report = dfe.dfe_return(
        db(), settings(), term, actor=user.username, today=_today(), output=output
    )
    db().commit()
    if output == "csv":
        return _attachment(dfe.to_csv(report).encode(), "csv", f"dfe-{term.name}")
    doc, la_name, on = dfe.to_document(report), settings().core.la_name, _today()
    if output == "print":
        return _html(formats.document_html(doc, la_name, on), formats.REPORT_CSP_STYLE)
    return _attachment(_pdf(formats.document_pdf, doc, la_name, on), "pdf", f"dfe-{term.name}")


_files("dfe", dfe_file)
