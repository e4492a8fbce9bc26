"""The reports as files: CSV, JSON, and a print view (HTML) that is also the PDF."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from gateway.printing import to_pdf

FORMATS = ("csv", "json", "html", "pdf")

ENV = Environment(
    loader=PackageLoader("gateway", "templates/print"),
    autoescape=select_autoescape(["html"]),
)

#: The print views' only style, inline so the PDF fetches nothing; a console page serving
#: the print view allows it by its hash (REPORT_CSP_STYLE), never by 'unsafe-inline'.
REPORT_CSS = """
@page { size: A4 landscape; margin: 14mm 12mm 16mm;
  @top-left { content: string(marking); font-size: 8pt; color: #505a5f; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; } }
body { font-family: "Liberation Sans", Arial, sans-serif; font-size: 9pt; line-height: 1.35;
  color: #0b0c0c; }
.marking { string-set: marking content(); font-weight: bold; font-size: 8pt; }
h1 { font-size: 16pt; margin: 2mm 0 1mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; break-after: avoid; }
.sub { color: #505a5f; margin: 0 0 3mm; }
.note { font-size: 8pt; color: #505a5f; margin: 1mm 0; }
table { border-collapse: collapse; width: 100%; margin-bottom: 3mm; }
caption { text-align: left; font-weight: bold; padding: 1mm 0; }
th, td { border-bottom: 1px solid #b1b4b6; padding: 1mm 1.5mm; text-align: left;
  vertical-align: top; }
th { background: #f3f2f1; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
td.num, th.num { text-align: right; }
.empty { font-style: italic; color: #505a5f; }
"""
REPORT_CSP_STYLE = (
    "'sha256-" + base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode() + "'"
)

#: A cell that a spreadsheet would run as a formula starts with one of these; such a cell is
#: written with a leading apostrophe so that it stays text (docs/returns.md).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Table:
    """One table of a print view: a caption, the column headings and the cells as text."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[int, ...] = ()  # columns to right-align
    note: str | None = None


@dataclass(frozen=True)
class Document:
    """A report's print view: a title, what it covers, notes, then its tables."""

    title: str
    subtitle: str
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()
    marking: str = "OFFICIAL-SENSITIVE: contains personal data"


def cell(value: Any) -> str:
    """A value as a person reads it in a table or a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(cell(v) for v in value)
    return str(value)


def words(value: date | datetime | None) -> str:
    """A date as GOV.UK writes it ("3 December 2026"), for what a person reads."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return f"{day.day} {day:%B %Y}"


def csv_cell(value: Any) -> str | int:
    """A value as a CSV cell: as `cell` writes it, and text that would start a formula
    stays text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return csv_cell(cell(value)) if isinstance(value, list | tuple) else cell(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV (RFC 4180, a header row first); text that would start a formula stays text."""
    return csv_of_cells(header, ([csv_cell(v) for v in row] for row in rows))


def csv_of_cells(header: Sequence[str], rows: Iterable[Sequence[str | int]]) -> str:
    """CSV as csv_text writes it, from rows whose cells are csv_cell's already: for a report
    of tens of thousands of rows that works each distinct value's cell out once."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def json_text(report: Any) -> str:
    """A report's data (its dataclasses) as JSON."""
    return json.dumps(_plain(report), indent=2, ensure_ascii=False) + "\n"


def document_html(doc: Document, la_name: str, on: date) -> str:
    return ENV.get_template("report.html").render(
        css=REPORT_CSS, doc=doc, la_name=la_name, date=long_date(on)
    )


def document_pdf(doc: Document, la_name: str, on: date) -> bytes:
    return to_pdf(document_html(doc, la_name, on))


def long_date(day: date) -> str:
    """ "7 December 2026"."""
    return f"{day.day} {day.strftime('%B %Y')}"
