"""The match review's waterfall chart laid out: bars, axis and words, drawn as SVG by
templates/matches/waterfall.html. Pure arithmetic, so the same review gives the same SVG."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.matching.review import Review, Step

TITLE = "How each field moved the match score, from the prior odds to the final score"
MINUS = "\u2212"  # a minus sign, not a hyphen: read as "minus" and as wide as "+"

# The drawing in SVG user units; the SVG scales to the width of the page.
WIDTH = 720
NAME_RIGHT = 156  # row names end here (right-aligned)
PLOT_LEFT = 168
PLOT_RIGHT = WIDTH - 12
PAD = 56  # room inside the plot for a weight's label beside the bar at either end
TOP = 8
ROW = 40
BAR = 22
AXIS = 60  # below the rows: ticks, their values and the axis title
NICE_STEPS = (1, 2, 5, 10, 20, 50, 100)
MAX_TICKS = 8

COLOURS = {
    "prior": "#505a5f",  # GOV.UK dark grey
    "agree": "#00703c",  # GOV.UK green
    "disagree": "#d4351c",  # GOV.UK red
    "final": "#1d70b8",  # GOV.UK blue
}


@dataclass(frozen=True)
class Bar:
    kind: str  # prior, agree, disagree, final
    name: str
    note: str  # a second, smaller line under the name ("" for none)
    start: float  # log2 odds
    end: float
    x: str  # the rest are SVG coordinates, formatted once so the output never varies
    y: str
    width: str
    height: str
    colour: str
    label: str  # the signed weight: the colour is never the only thing that tells
    label_x: str
    label_anchor: str
    label_y: str
    text_y: str
    note_y: str
    connector: tuple[str, str, str] | None  # x, y1, y2 of the line to the next bar


@dataclass(frozen=True)
class Tick:
    x: str
    bits: str
    probability: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    title: str
    summary: str
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    name_x: str
    axis_left: str
    axis_right: str
    zero_x: str
    plot_top: str
    plot_bottom: str
    tick_y: str
    probability_y: str
    axis_title_y: str
    axis_title_x: str


def _n(value: float) -> str:
    return f"{value:.1f}"


def signed(weight: float) -> str:
    """A weight as the chart and the table show it: "+4.91", "−4.26", "0"."""
    if round(weight, 2) == 0:
        return "0"
    return f"{'+' if weight > 0 else MINUS}{abs(weight):.2f}"


def probability_of(bits: float) -> float:
    """The probability that log2 odds stand for."""
    return 1.0 / (1.0 + 2.0 ** (-bits))


def percent(probability: float, *, compact: bool = False) -> str:
    """A probability in words: "87.5%", "more than 99.9%" (never "100%": it is not certain)."""
    if probability > 0.999:
        return "> 99.9%" if compact else "more than 99.9%"
    if probability < 0.001:
        return "< 0.1%" if compact else "less than 0.1%"
    return f"{probability * 100:.1f}%"


def _step_size(span: float) -> int:
    return next((s for s in NICE_STEPS if span / s <= MAX_TICKS), NICE_STEPS[-1])


def _summary(review: Review) -> str:
    prior, *fields = review.steps
    moves = ", ".join(f"{s.name} {signed(s.weight)}" for s in fields) or "no field moved it"
    return (
        f"Starts at {signed(prior.end)} log2 odds, the prior odds "
        f"({percent(probability_of(prior.end))}). {moves}. Final score "
        f"{signed(review.total)} log2 odds: a probability of "
        f"{percent(review.candidate.probability)} that this is the same child."
    )


def layout(review: Review) -> Chart:
    """The chart for one review: the prior, one bar per field that moved the score, the
    final score; on an axis of log2 odds with the probability under each tick."""
    prior, *fields = review.steps
    total = review.total
    steps: list[tuple[str, str, str, Step]] = [
        ("prior", "Prior odds", "before comparing", Step(prior.name, 0.0, prior.end))
    ]
    for s in fields:
        steps.append(("agree" if s.end >= s.start else "disagree", s.name, "", s))
    final_note = percent(review.candidate.probability)
    steps.append(("final", "Final score", final_note, Step("Final score", 0.0, total)))

    values = [0.0] + [v for *_, s in steps for v in (s.start, s.end)]
    size = _step_size(max(values) - min(values) or 1.0)
    lo = math.floor(min(values) / size) * size
    hi = math.ceil(max(values) / size) * size
    if hi == lo:
        hi = lo + size
    left, right = PLOT_LEFT + PAD, PLOT_RIGHT - PAD

    def x_of(bits: float) -> float:
        return left + (bits - lo) * (right - left) / (hi - lo)

    bars: list[Bar] = []
    for i, (kind, name, note, s) in enumerate(steps):
        x0, x1 = x_of(min(s.start, s.end)), x_of(max(s.start, s.end))
        top = TOP + i * ROW + (ROW - BAR) / 2
        rising = s.end >= s.start
        following = steps[i + 1][3] if i + 1 < len(steps) else None
        connector = None
        if following is not None:
            connector = (_n(x_of(s.end)), _n(top + BAR), _n(top + ROW))
        bars.append(
            Bar(
                kind=kind,
                name=name,
                note=note,
                start=s.start,
                end=s.end,
                x=_n(x0),
                y=_n(top),
                width=_n(max(x1 - x0, 1.0)),  # a sliver still shows
                height=_n(BAR),
                colour=COLOURS[kind],
                label=signed(s.end - s.start),
                label_x=_n(x1 + 6 if rising else x0 - 6),
                label_anchor="start" if rising else "end",
                label_y=_n(top + BAR / 2 + 5),
                # A name with a note under it moves up, so the two lines centre on the bar.
                text_y=_n(top + BAR / 2 + (-2 if note else 5)),
                note_y=_n(top + BAR / 2 + 12),
                connector=connector,
            )
        )

    ticks = []
    shown: set[str] = set()
    for k in range(int(lo), int(hi) + 1, size):
        p = percent(probability_of(k), compact=True)
        # Far from zero every tick is "> 99.9%" (or "< 0.1%"): say it once.
        ticks.append(Tick(_n(x_of(k)), signed(k).replace(".00", ""), "" if p in shown else p))
        shown.add(p)

    plot_bottom = TOP + len(steps) * ROW
    return Chart(
        width=WIDTH,
        height=plot_bottom + AXIS,
        title=TITLE,
        summary=_summary(review),
        bars=tuple(bars),
        ticks=tuple(ticks),
        name_x=_n(NAME_RIGHT),
        axis_left=_n(PLOT_LEFT),
        axis_right=_n(PLOT_RIGHT),
        zero_x=_n(x_of(0.0)),
        plot_top=_n(TOP),
        plot_bottom=_n(plot_bottom),
        tick_y=_n(plot_bottom + 18),
        probability_y=_n(plot_bottom + 33),
        axis_title_y=_n(plot_bottom + AXIS - 6),
        axis_title_x=_n((PLOT_LEFT + PLOT_RIGHT) / 2),
    )
