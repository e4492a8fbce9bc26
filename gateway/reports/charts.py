"""Charts drawn on the server as SVG (pygal), for a page to embed and a PDF to print.

Each SVG is self-contained and static: pygal's tooltip script and tooltip texts are taken
out (no JavaScript, nothing fetched), its id is fixed by the chart's key (so the same chart
is the same bytes, and its one <style> element has a stable hash for a page's
Content-Security-Policy), and it carries a <title> and a <desc> that say in words what it
shows, with role="img" so a screen reader announces those rather than the drawing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

SVG_NS = "http://www.w3.org/2000/svg"
#: GOV.UK Design System colours: blue, orange, green, purple, red.
COLOURS = ("#1d70b8", "#f47738", "#00703c", "#4c2c92", "#d4351c")
CSS = Path(__file__).with_name("chart.css")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Chart:
    key: str  # a name for the chart, also its SVG id ("chart-<key>")
    title: str
    description: str  # the figures in words: the chart's text alternative
    svg: str


def _style() -> Any:
    from pygal.style import Style

    font = "Liberation Sans, Arial, sans-serif"
    return Style(
        font_family=font,
        label_font_family=font,
        major_label_font_family=font,
        value_font_family=font,
        value_label_font_family=font,
        legend_font_family=font,
        title_font_family=font,
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#0b0c0c",
        foreground_strong="#0b0c0c",
        foreground_subtle="#b1b4b6",
        guide_stroke_color="#b1b4b6",
        major_guide_stroke_color="#505a5f",
        colors=COLOURS,
        label_font_size=11,
        major_label_font_size=11,
        value_font_size=11,
        legend_font_size=12,
        no_data_font_size=16,
        opacity=".9",
        opacity_hover=".9",
    )


def _clean(svg: str, key: str, title: str, description: str) -> str:
    """pygal's SVG made static and accessible (see the module docstring)."""
    chart_id = f"chart-{key}"
    svg = _UUID.sub(key, svg).replace(f"chart-{key}", chart_id)
    root = etree.fromstring(svg.encode())
    drop = [
        *root.iter(etree.Comment, f"{{{SVG_NS}}}script", f"{{{SVG_NS}}}title", f"{{{SVG_NS}}}desc")
    ]
    drop += [g for g in root.iter(f"{{{SVG_NS}}}g") if "tooltip" in (g.get("class") or "")]
    for el in drop:
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)
    # pygal's own ids (its legends' "activate-serie-0") would repeat on a page of charts.
    for el in root.iter():
        own = el.get("id")
        if own and not own.startswith(chart_id):
            el.set("id", f"{chart_id}-{own}")
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    desc = etree.Element(f"{{{SVG_NS}}}desc", id=f"{chart_id}-desc")
    desc.text = description
    head = etree.Element(f"{{{SVG_NS}}}title", id=f"{chart_id}-title")
    head.text = title
    root.insert(0, desc)
    root.insert(0, head)
    return etree.tostring(root, encoding="unicode")


def _config(horizontal: bool, n_labels: int, legend: bool) -> dict[str, Any]:
    height = max(260, 40 + 26 * n_labels) if horizontal else 300
    return {
        "js": [],
        "css": [f"file://{CSS}"],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 720,
        "height": height,
        "style": _style(),
        "show_legend": legend,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "print_values": True,
        "print_zeroes": False,
        "tooltip_border_radius": 0,
        "margin": 8,
        # Room below for the legend, which pygal otherwise draws past the edge.
        "margin_bottom": 30 if legend else 8,
        "truncate_label": -1,
        "min_scale": 1,
        "max_scale": 6,
    }


def bar(
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    horizontal: bool = False,
    y_title: str | None = None,
) -> Chart:
    """A bar chart: one bar per label for each series (e.g. "This term", "Year so far")."""
    import pygal

    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = kind(**_config(horizontal, len(labels), len(series) > 1))
    if y_title:
        chart.y_title = y_title
    # pygal draws a horizontal chart's first label at the bottom: read top down instead.
    order = slice(None, None, -1) if horizontal else slice(None)
    chart.x_labels = list(labels)[order]
    if not horizontal and len(labels) > 8:
        chart.x_label_rotation = 40
    chart.y_labels = _ticks([v for _, values in series for v in values])
    for name, values in series:
        chart.add(name, [v if v else 0 for v in values][order])
    return Chart(
        key, title, description, _clean(chart.render(is_unicode=True), key, title, description)
    )


def line(
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    y_title: str | None = None,
) -> Chart:
    """A line chart over time (e.g. cases opened and closed per week)."""
    import pygal

    config = _config(False, len(labels), len(series) > 1)
    config.update(print_values=False, dots_size=3, x_label_rotation=40 if len(labels) > 8 else 0)
    chart = pygal.Line(**config)
    if y_title:
        chart.y_title = y_title
    chart.x_labels = list(labels)
    chart.y_labels = _ticks([v for _, values in series for v in values])
    for name, values in series:
        chart.add(name, list(values))
    return Chart(
        key, title, description, _clean(chart.render(is_unicode=True), key, title, description)
    )


def _ticks(values: Sequence[float | None]) -> list[int]:
    """Whole-number axis marks from 0 past the largest value (counts are whole)."""
    top = max([math.ceil(v) for v in values if v] or [1])
    step = max(1, math.ceil(top / 6))
    return list(range(0, top + step, step))


def in_words(labels: Sequence[str], values: Sequence[float | int | None]) -> str:
    """ "email 3, phone 1" (labels with nothing left out; "none" if all are empty)."""
    parts = [f"{name} {_number(v)}" for name, v in zip(labels, values, strict=True) if v]
    return ", ".join(parts) if parts else "none"


def _number(v: float | int | None) -> str:
    if v is None:
        return "0"
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"
