"""The termly briefing on paper: its charts (SVG), its print view (HTML) and its PDF, and its
figures as CSV. No child's name appears: complex cases go by their reference."""

from __future__ import annotations

import base64
import hashlib
import html as html_text
import re
from collections.abc import Iterator
from typing import Any

from gateway.printing import to_pdf
from gateway.reports.briefing import Briefing, Figures
from gateway.reports.charts import Chart, bar, in_words, line
from gateway.reports.exchange_figures import Responses
from gateway.reports.figures import Count, Distribution
from gateway.reports.formats import ENV, csv_text, long_date

#: The briefing's page style, inline (nothing fetched); allowed by its hash on a console
#: page, with the charts' own styles: see `csp_style_sources`.
BRIEFING_CSS = """
@page { size: A4; margin: 18mm 16mm 18mm;
  @top-left { content: "OFFICIAL"; font-size: 8pt; color: #505a5f; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; } }
body { font-family: "Liberation Sans", Arial, sans-serif; font-size: 10pt; line-height: 1.4;
  color: #0b0c0c; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; border-bottom: 2px solid #1d70b8; break-after: avoid; }
h3 { font-size: 11pt; margin: 4mm 0 1mm; break-after: avoid; }
.from { color: #505a5f; margin: 0 0 5mm; }
.note { font-size: 8.5pt; color: #505a5f; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; break-inside: avoid; }
th, td { border-bottom: 1px solid #b1b4b6; padding: 1mm 2mm; text-align: left; }
th { background: #f3f2f1; }
td.num, th.num { text-align: right; }
figure { margin: 2mm 0 4mm; break-inside: avoid; }
figure svg { width: 100%; height: auto; }
figcaption { font-size: 9pt; color: #505a5f; margin-top: 1mm; }
dl.defs dt { font-weight: bold; margin-top: 2mm; }
dl.defs dd { margin: 0 0 0 4mm; }
"""
TERM, YEAR = "This term", "Year so far"
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


def _pair(
    term: tuple[Count, ...], year: tuple[Count, ...]
) -> tuple[list[str], list[int], list[int]]:
    """Labels with the term's and the year's counts, leaving out what is nought in both."""
    years = {c.code: c.count for c in year}
    rows = [(c.label, c.count, years.get(c.code, 0)) for c in term]
    rows += [(c.label, 0, c.count) for c in year if c.code not in {t.code for t in term}]
    rows = [r for r in rows if r[1] or r[2]]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _two(key: str, title: str, term: tuple[Count, ...], year: tuple[Count, ...],
         *, horizontal: bool = True) -> Chart:  # fmt: skip
    labels, t, y = _pair(term, year)
    description = f"{title}. {TERM}: {in_words(labels, t)}. {YEAR}: {in_words(labels, y)}."
    return bar(key, title, description, labels, [(TERM, t), (YEAR, y)], horizontal=horizontal)


def _bands(key: str, title: str, term: Distribution, year: Distribution) -> Chart:
    labels = [c.label for c in term.bands]
    t = [c.count for c in term.bands]
    y = [c.count for c in year.bands]
    description = (
        f"{title}. {TERM}: {term.n} children, median {_days(term.median_days)}; "
        f"{in_words(labels, t)}. {YEAR}: {year.n} children, median "
        f"{_days(year.median_days)}; {in_words(labels, y)}."
    )
    return bar(key, title, description, labels, [(TERM, t), (YEAR, y)], y_title="Children")


def _days(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:g} day" + ("" if value == 1 else "s")


def briefing_charts(b: Briefing) -> tuple[Chart, ...]:
    """The briefing's charts as SVG strings a page can embed (titled and described)."""
    t, y = b.term_figures, b.year_figures
    weeks = [w.week_start.strftime("%-d %b") for w in b.weeks]
    opened = [w.opened for w in b.weeks]
    closed = [w.closed for w in b.weeks]
    moves = t.moves
    names = [m.name for m in moves]
    replies = t.our_enquiries
    return (
        _two("referrals-source", "Referrals by source", t.referrals_by_source,
             y.referrals_by_source),
        _two("referrals-reason", "Referrals by primary reason", t.referrals_by_reason,
             y.referrals_by_reason),
        line(
            "weekly", "Cases opened and closed each week this term",
            f"Cases opened and closed each week of the {b.term.label}, weeks starting "
            f"{weeks[0] if weeks else '-'}. Opened: {', '.join(map(str, opened))}. "
            f"Closed: {', '.join(map(str, closed))}.",
            weeks, [("Opened", opened), ("Closed", closed)], y_title="Cases",
        ),
        _bands("time-to-locate", "Time to locate a missing child", t.time_to_locate,
               y.time_to_locate),
        _bands("time-to-place", "Time to a school place", t.time_to_place, y.time_to_place),
        _two("outcomes", "Cases closed, by outcome", t.outcomes, y.outcomes),
        bar(
            "moves", "Moves in and out this term, by local authority",
            f"Moves in this term: {in_words(names, [m.moves_in for m in moves])}. "
            f"Moves out: {in_words(names, [m.moves_out for m in moves])}.",
            names, [("Moves in", [m.moves_in for m in moves]),
                    ("Moves out", [m.moves_out for m in moves])],
        ),
        bar(
            "responses", "Replies to our enquiries to other authorities this term",
            f"{replies.sent} enquiries sent this term, {replies.replied} replied to, median "
            f"{_days(replies.median_days)}: "
            f"{in_words([c.label for c in replies.bands], [c.count for c in replies.bands])}.",
            [c.label for c in replies.bands], [("Enquiries", [c.count for c in replies.bands])],
            y_title="Enquiries",
        ),
    )  # fmt: skip


def briefing_html(b: Briefing) -> str:
    """The print view: the page a browser prints and WeasyPrint makes the PDF from."""
    charts = {c.key: c for c in briefing_charts(b)}
    return ENV.get_template("briefing.html").render(
        css=BRIEFING_CSS, b=b, charts=charts, produced=long_date(b.on),
        start=long_date(b.term.start), end=long_date(b.end), long_date=long_date,
        days=_days,
    )  # fmt: skip


def briefing_pdf(b: Briefing) -> bytes:
    return to_pdf(briefing_html(b))


def csp_style_sources(html: str) -> str:
    """The CSP style-src hashes that let a browser apply the page's and the charts' inline
    styles (never 'unsafe-inline'). A browser hashes an HTML <style> as written, but an
    SVG <style> after its character references are decoded (the charts' "&gt;")."""
    styles = _STYLE.findall(_SVG.sub("", html))
    styles += [html_text.unescape(s) for svg in _SVG.findall(html) for s in _STYLE.findall(svg)]
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in dict.fromkeys(styles)
    )


def _figure_rows(f: Figures, period: str) -> Iterator[tuple[Any, ...]]:
    yield ("referrals", period, "all", "All referrals", f.referrals)
    for c in f.referrals_by_source:
        yield ("referrals_by_source", period, c.code, c.label, c.count)
    for c in f.referrals_by_reason:
        yield ("referrals_by_reason", period, c.code, c.label, c.count)
    yield ("cases_opened", period, "all", "Cases opened", f.opened)
    yield ("cases_closed", period, "all", "Cases closed", f.closed)
    for c in f.outcomes:
        yield ("outcomes", period, c.code, c.label, c.count)
    for name, d in (("time_to_locate", f.time_to_locate), ("time_to_place", f.time_to_place)):
        yield (name, period, "n", "Children", d.n)
        yield (name, period, "median_days", "Median (days)", d.median_days)
        for c in d.bands:
            yield (name, period, c.code, c.label, c.count)
    for m in f.moves:
        yield ("moves_in", period, m.la_code, m.name, m.moves_in)
        yield ("moves_out", period, m.la_code, m.name, m.moves_out)
    for name, r in (("our_enquiries", f.our_enquiries), ("their_enquiries", f.their_enquiries)):
        yield from _response_rows(name, period, r)


def _response_rows(name: str, period: str, r: Responses) -> Iterator[tuple[Any, ...]]:
    yield (name, period, "sent", "Enquiries", r.sent)
    yield (name, period, "replied", "Replied to", r.replied)
    yield (name, period, "median_days", "Median reply (days)", r.median_days)
    for c in r.bands:
        yield (name, period, c.code, c.label, c.count)


def to_csv(b: Briefing) -> str:
    """The briefing's figures, one per line: figure, period (term|year), category, label,
    value. Complex cases by reference only."""
    rows: list[tuple[Any, ...]] = [
        *_figure_rows(b.term_figures, "term"),
        *_figure_rows(b.year_figures, "year"),
    ]
    for w in b.weeks:
        rows.append(("weekly_opened", "term", w.week_start.isoformat(), "Week starting", w.opened))
        rows.append(("weekly_closed", "term", w.week_start.isoformat(), "Week starting", w.closed))
    rows += [
        ("open_at_end", "end", "all", "Open cases at the end", b.open_at_end),
        ("missing_at_end", "end", "all", "Missing education at the end", b.missing_at_end),
        ("missing_longer", "end", str(b.long_term_days),
         f"Missing longer than {b.long_term_days} days", b.missing_longer),
        ("complex_cases", "end", "all", "Complex cases", b.complex_total),
    ]  # fmt: skip
    rows += [("complex_case", "end", c.reference, "; ".join(c.why), c.days_missing)
             for c in b.complex_cases]  # fmt: skip
    return csv_text(("figure", "period", "category", "label", "value"), rows)
