"""Properties of the pure pieces: date parsing, name folding, comparison symmetry."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.matching.compare import dob_level, forename_level
from gateway.matching.features import prepare
from gateway.matching.normalise import fold, joined, tokens
from gateway.matching.records import PartialDate, PersonRecord, parse_partial_date

AS_OF = date(2026, 11, 1)
names = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "Zs", "Pd")), max_size=30)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_full_dates_round_trip(d: date) -> None:
    assert parse_partial_date(d.isoformat()) == PartialDate.from_date(d)
    assert parse_partial_date(d.strftime("%Y%m%d")) == PartialDate.from_date(d)
    assert str(parse_partial_date(d.isoformat())) == d.isoformat()


@given(st.text(max_size=12))
def test_any_text_parses_or_raises_value_error(raw: str) -> None:
    try:
        parse_partial_date(raw)
    except ValueError as exc:
        assert repr(raw.strip()) in str(exc)


@given(names)
def test_fold_is_idempotent_ascii_lower(raw: str) -> None:
    once = fold(raw)
    assert fold(once) == once
    assert once == once.lower() and once.isascii()
    assert joined(raw) == "".join(tokens(raw))


@given(
    st.dates(min_value=date(2008, 1, 1), max_value=date(2022, 12, 31)),
    st.dates(min_value=date(2008, 1, 1), max_value=date(2022, 12, 31)),
)
def test_dob_level_is_symmetric_and_exact_only_when_equal(a: date, b: date) -> None:
    fa = prepare(PersonRecord("a", forename="X", dob=PartialDate.from_date(a)), AS_OF)
    fb = prepare(PersonRecord("b", forename="X", dob=PartialDate.from_date(b)), AS_OF)
    assert dob_level(fa, fb) == dob_level(fb, fa)
    assert (dob_level(fa, fb) == 0) == (a == b)


@given(names, names)
def test_forename_level_is_symmetric(a: str, b: str) -> None:
    fa = prepare(PersonRecord("a", forename=a), AS_OF)
    fb = prepare(PersonRecord("b", forename=b), AS_OF)
    assert forename_level(fa, fb) == forename_level(fb, fa)


@pytest.mark.parametrize("raw", ["2014-02-30x", "14/05/2014", "2014-13-01", "--13-01"])
def test_bad_dates_name_the_value(raw: str) -> None:
    with pytest.raises(ValueError, match="date"):
        parse_partial_date(raw)
