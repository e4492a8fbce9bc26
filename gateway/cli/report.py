"""`cme report caseload|vulnerable|briefing|vemt|dfe`: the reports as CSV, JSON, HTML or PDF."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from gateway.cli.acting import reads
from gateway.cli.context import actor, unit_of_work
from gateway.reports.formats import FORMATS

REPORTS = ("caseload", "vulnerable", "briefing", "vemt", "dfe")
#: The reports that cover a term; the others are lists as they stand today.
TERMLY = ("briefing", "dfe")


def _build(name: str, session: Any, s: Any, today: date, term: str | None,
           fmt: str, filters: dict[str, Any]) -> tuple[Any, ModuleType]:  # fmt: skip
    """The report's data (audited as it is read) and its module, for the output."""
    from gateway.reports import briefing, caseload, dfe, terms, vemt, vulnerable

    who = actor()
    if name in TERMLY:
        chosen = terms.term(s.reports, term) if term else terms.term_of(s.reports, today)
        if name == "dfe":
            return dfe.dfe_return(session, s, chosen, actor=who, today=today, output=fmt), dfe
        return briefing.briefing(session, s, chosen, actor=who, today=today, output=fmt), briefing
    if name == "caseload":
        data = caseload.caseload(session, s, actor=who, today=today, output=fmt, **filters)
        return data, caseload
    module = vemt if name == "vemt" else vulnerable
    builder = getattr(module, name)
    return builder(session, s, actor=who, today=today, output=fmt), module


def _render(name: str, data: Any, module: ModuleType, fmt: str, la_name: str, today: date) -> bytes:
    from gateway.reports import briefing_print, formats

    if fmt == "json":
        return formats.json_text(data).encode()
    if name == "briefing":
        if fmt == "csv":
            return briefing_print.to_csv(data).encode()
        if fmt == "html":
            return briefing_print.briefing_html(data).encode()
        return briefing_print.briefing_pdf(data)
    if fmt == "csv":
        return str(module.to_csv(data)).encode()
    doc = module.to_document(data)
    if fmt == "html":
        return formats.document_html(doc, la_name, today).encode()
    return formats.document_pdf(doc, la_name, today)


@click.command("report")
@click.argument("name", type=click.Choice(REPORTS))
@click.option(
    "--term",
    metavar="YYYY-autumn|spring|summer",
    help="The term (briefing and dfe; default: the current term). Dates: [reports] settings.",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
    help="csv, json, html (the print view) or pdf (needs --out).",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not stdout."
)
@click.option("--officer", help="caseload: one officer's cases (a username, or 'unallocated').")
@click.option("--status", help="caseload: only cases in this status.")
@click.option("--urgent", is_flag=True, help="caseload: only urgent and safeguarding cases.")
@reads
def report(
    name: str,
    term: str | None,
    fmt: str,
    out: Path | None,
    officer: str | None,
    status: str | None,
    urgent: bool,
) -> None:
    """Print or save a report: the weekly caseload, the vulnerable pupils list, the termly
    briefing, the VEMT list or the DfE return. Each run is recorded in the audit log (who ran
    which report); a user given with --as is the one recorded."""
    from gateway.db import utcnow
    from gateway.printing import PrintingUnavailable
    from gateway.reports.errors import ReportError
    from gateway.timers import local_today

    if term and name not in TERMLY:
        raise ReportError(f"--term is for the briefing and the dfe return; {name} is as of today")
    if (officer or status or urgent) and name != "caseload":
        raise ReportError("--officer, --status and --urgent filter the caseload only")
    if fmt == "pdf" and out is None:
        raise ReportError("a PDF needs a file to go to: add --out FILE")
    filters = {"officer": officer, "status": status, "urgent_only": urgent}
    with unit_of_work() as (s, session):
        today = local_today(s, utcnow()).date()
        data, module = _build(name, session, s, today, term, fmt, filters)
    # Rendered after the read's transaction has ended: a PDF takes a while.
    try:
        body = _render(name, data, module, fmt, s.core.la_name, today)
    except PrintingUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if out is None:
        click.echo(body.decode(), nl=False)
        return
    out.write_bytes(body)
    click.echo(f"{name} report written to {out} ({fmt}, {len(body)} bytes)", err=True)
