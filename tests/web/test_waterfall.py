"""The waterfall's layout: bars that meet, disagreements drawn down and labelled, an axis in
log2 odds with the probability under it, and the same chart every time."""

from __future__ import annotations

from typing import Any

from gateway.matching.candidates import CandidateView
from gateway.matching.review import build_review
from web.waterfall import MINUS, layout, percent, probability_of, signed

PRIOR = -4.26


def _review(*weights: tuple[str, float]) -> Any:
    evidence = tuple(
        {"field": f, "query_value": "a", "record_value": "b", "level": "x", "weight": w}
        for f, w in weights
    )
    score = round(PRIOR + sum(w for _, w in weights), 2)
    candidate = CandidateView(
        1, "referral:3", "case:1", "case", score, probability_of(score), "review", "pending",
        evidence,
    )  # fmt: skip
    return build_review(candidate)


def test_agreements_go_up_and_disagreements_down_each_labelled_with_its_weight() -> None:
    chart = layout(_review(("forename", 8.06), ("surname", -6.5), ("upn", 0.0), ("dob", 11.52)))
    assert [b.kind for b in chart.bars] == ["prior", "agree", "disagree", "agree", "final"]
    assert [b.name for b in chart.bars] == [
        "Prior odds", "First name", "Last name", "Date of birth", "Final score",
    ]  # fmt: skip
    assert [b.label for b in chart.bars] == [
        f"{MINUS}4.26", "+8.06", f"{MINUS}6.50", "+11.52", "+8.82",
    ]  # fmt: skip
    down = chart.bars[2]
    assert down.label_anchor == "end" and float(down.label_x) < float(down.x)
    assert chart.bars[1].label_anchor == "start"
    assert len({b.colour for b in chart.bars}) == 4
    # Each bar starts where the one above it ends (the connectors join them).
    for bar, following in zip(chart.bars, chart.bars[1:-1], strict=False):
        assert bar.end == following.start
        assert bar.connector is not None


def test_the_axis_is_in_log2_odds_with_the_probability_under_each_tick() -> None:
    chart = layout(_review(("forename", 8.06), ("dob", 11.52)))
    bits = [t.bits for t in chart.ticks]
    assert bits[0].startswith(MINUS) and "0" in bits
    zero = next(t for t in chart.ticks if t.bits == "0")
    assert zero.probability == "50.0%" and zero.x == chart.zero_x
    shown = [t.probability for t in chart.ticks if t.probability]
    assert shown.count("> 99.9%") == 1, "a saturated probability is said once"
    xs = [float(t.x) for t in chart.ticks]
    assert xs == sorted(xs)


def test_the_summary_says_what_the_chart_shows() -> None:
    chart = layout(_review(("forename", 8.06), ("sex", -3.2)))
    assert chart.summary == (
        f"Starts at {MINUS}4.26 log2 odds, the prior odds (5.0%). First name +8.06, "
        f"Sex {MINUS}3.20. Final score +0.60 log2 odds: a probability of 60.2% that this is "
        "the same child."
    )


def test_the_same_review_gives_the_same_chart() -> None:
    assert layout(_review(("forename", 4.91))) == layout(_review(("forename", 4.91)))


def test_numbers_in_words() -> None:
    assert [signed(w) for w in (4.914, -4.26, 0.0, 0.001)] == ["+4.91", f"{MINUS}4.26", "0", "0"]
    assert percent(0.9999) == "more than 99.9%" and percent(0.0001) == "less than 0.1%"
    assert percent(0.875) == "87.5%" and percent(0.9999, compact=True) == "> 99.9%"
