"""Patterns made quicker to search are held to the plain ones: the same matches on any text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from parsers import identifiers
from parsers.child_name import _BORN_AFTER
from parsers.places import _NUMBERED

# Words and characters the patterns look for, mixed with other text (digits of any script too).
_PIECES = st.sampled_from(
    ["12", "3a", "7/9", "٣", "Flat", "flat 2", "FLAT", "Apartment", "apt", "Unit", "Room",
     "No.", "number", "NO", "Coast", "Road", "road", "Street", "Lane", "McAllister", "O'Neill",
     "Lily", "Grange", "LILY", "born", "DOB", "d.o.b", "aged 9", ",", "(", " ", "  ", "\n",
     "x", "ſ", "K", "é", "@", "a.b@c.uk", "TS10 1AB", "07700 900123", "2015-03-04",
     "3 March 2015", "A123456789012"]
)  # fmt: skip
TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=30).map("".join)


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int, dict[str, str | None]]]:
    return [(m.start(), m.end(), m.groupdict()) for m in pattern.finditer(text)]


def _without(lookahead: str, pattern: re.Pattern[str]) -> re.Pattern[str]:
    assert pattern.pattern.startswith(lookahead)
    return re.compile(pattern.pattern.removeprefix(lookahead), pattern.flags)


@given(TEXT)
def test_lookaheads_change_no_match(text: str) -> None:
    for lookahead, pattern in ((r"(?=\d|(?i:[faurn]))", _NUMBERED), ("(?=[A-Z])", _BORN_AFTER)):
        assert _spans(pattern, text) == _spans(_without(lookahead, pattern), text)


@given(TEXT)
def test_text_without_a_digit_or_at_sign_holds_none_of_these(text: str) -> None:
    if not re.search(r"\d", text):
        for pattern in (*identifiers._DATE_FORMS, identifiers._PHONE,
                        identifiers._UPN_ANYWHERE, identifiers._POSTCODE_ANYWHERE):  # fmt: skip
            assert pattern.search(text) is None
    if "@" not in text:
        assert identifiers._EMAIL.search(text) is None
