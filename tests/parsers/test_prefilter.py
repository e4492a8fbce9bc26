"""A gated pattern finds exactly what the plain pattern finds: the prefilter only ever turns
away texts that hold no match. Checked on every gated pattern of the parsers, on texts made
to match it (hypothesis writes them from the pattern itself) and on random ones, and on the
analysis alone with patterns hypothesis writes."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import parsers
from parsers.prefilter import DIGIT, Gated, fold, gated, required_strings


def _gated_patterns() -> Iterator[tuple[str, Gated]]:
    seen: set[int] = set()
    for info in pkgutil.iter_modules(parsers.__path__):
        module = importlib.import_module(f"parsers.{info.name}")
        for name, value in vars(module).items():
            held = value if isinstance(value, tuple) else (value,)
            for i, item in enumerate(held):
                for part in item if isinstance(item, tuple) else (item,):
                    if isinstance(part, Gated) and id(part) not in seen:
                        seen.add(id(part))
                        index = f"[{i}]" if isinstance(value, tuple) else ""
                        yield f"{info.name}.{name}{index}", part


GATED = dict(_gated_patterns())
# What the patterns look for, in the cases and spellings `re` takes for them under IGNORECASE.
_NOISE = st.sampled_from(
    ["x" * 70, " ", "\n", ", ", ". ", "İ", "ı", "ſ", "K", "é", "٣", "7", "Year", "SCHOOL",
     "Born", "she", "HE", "mum", "Coast Road", "TS10 1AA", "aged", "called"]
)  # fmt: skip


def _spans(found: Iterator[re.Match[str]]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in found]


def _same(pattern: Gated, text: str) -> None:
    assert _spans(pattern.finditer(text)) == _spans(pattern.re.finditer(text))
    plain = pattern.re.search(text)
    found = pattern.search(text)
    assert (found and found.span()) == (plain and plain.span())


def test_the_parsers_gate_their_scanning_patterns() -> None:
    assert len(GATED) >= 25
    assert all(g.words is not None for g in GATED.values()), "a gate that can never refuse"


@pytest.mark.parametrize("name", sorted(GATED))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_gated_pattern_finds_what_the_plain_one_finds(name: str, data: st.DataObject) -> None:
    pattern = GATED[name]
    try:
        match = data.draw(st.from_regex(pattern.re), label="made to match")
    except Exception:  # a construct hypothesis cannot write from (a lookbehind): noise only
        match = ""
    before = data.draw(st.lists(st.one_of(_NOISE, st.text(max_size=3)), max_size=6).map("".join))
    after = data.draw(st.lists(st.one_of(_NOISE, st.text(max_size=3)), max_size=6).map("".join))
    _same(pattern, before + match + after)
    _same(pattern, before + after)


# -- the analysis, on patterns hypothesis writes ---------------------------------------------
_ATOMS = st.sampled_from(
    ["a", "b", "ab", "ba", "d", "i", "s", "k", "K", r"\d", "[ab]", "[0-3]", r"\w", r"\s", ".",
     "(?=a)", "(?<=b)", r"\b", "^", "$", "'", "’", "-"]
)  # fmt: skip


def _regexes() -> st.SearchStrategy[str]:
    return st.recursive(
        _ATOMS,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=4).map("".join),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(?:" + "|".join(xs) + ")"),
            st.tuples(inner, st.sampled_from(["?", "*", "+", "{2}", "{0,2}", "+?", "++"])).map(
                lambda t: "(?:" + t[0] + ")" + t[1]
            ),
            inner.map(lambda x: "(?-i:" + x + ")"),
            inner.map(lambda x: "(?>" + x + ")"),
        ),
        max_leaves=8,
    )


_TEXT = st.text(alphabet="abdiskK İıſ0123٣x'’-\\", max_size=12)


@settings(max_examples=400, deadline=None)
@given(_regexes(), st.sampled_from([0, re.IGNORECASE]), _TEXT)
def test_no_written_pattern_is_turned_away_from_a_text_it_matches(
    source: str, flags: int, text: str
) -> None:
    pattern = re.compile(source, flags)
    assume(pattern.search(text) is not None)
    gate = gated(pattern)
    gate_short = gate.may_match(text)
    assert gate_short  # short texts always pass: the long form is below
    padded = text + " " * 60
    assert gate.may_match(padded), (source, text, required_strings(pattern))


def test_what_a_pattern_is_known_to_need() -> None:
    def need(source: str, flags: int = 0) -> frozenset[str] | None:
        return required_strings(re.compile(source, flags))

    assert need(r"\bdate\s+of\s+birth\b") == {"birth"}
    assert need(r"aged?|age\s+of", re.I) == {"age"}
    assert need(r"(?:foo|bar)+baz?") == {"foo", "bar"}
    assert need(r"\d{1,2}|one|two") == {DIGIT, "one", "two"}
    assert need(r"d|\d") == {"d", DIGIT}  # the marker is not a string that holds "d"
    assert need(r"x?|y") is None  # a branch that needs nothing
    assert need(r"(?=school)\w+") is None  # a lookahead proves nothing here
    assert need(r"(?:born)*") is None
    assert need(r"[:：]") == {":", "："}
    assert need(r"attend|attended|attending") == {"attend"}  # the shorter says it all


def test_a_text_is_folded_as_ignorecase_reads_it() -> None:
    assert fold("İS THE ſCHOOL") == "is the school"
    assert fold("KELVIN") == "kelvin"  # the Kelvin sign: a k to IGNORECASE
    school = gated(re.compile(r"\bschool\b", re.I))
    text = "x" * 60 + " ſCHOOL"
    assert school.re.search(text) is not None
    assert school.search(text) is not None
    assert school.search("x" * 60) is None


_OPENING = st.sampled_from(["that ", "As ", "and\n", "because", "said  ", "x", " ", "Ava", ","])


@given(st.lists(st.one_of(_OPENING, st.text(max_size=3)), max_size=30).map("".join))
def test_clauses_open_where_the_one_pattern_for_them_found_them(text: str) -> None:
    from parsers.child_name import _clause_opens

    plain = re.compile(
        r"^|\b(?:that|as|because|and|but|think|believe|says|said|know)\s+", re.IGNORECASE
    )
    assert list(_clause_opens(text)) == [m.end() for m in plain.finditer(text)]
