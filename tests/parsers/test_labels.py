"""Section headings: the one-pattern-per-section reading gives what the plain key scan gave."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from parsers.labels import _tables, normalise_label, section_of

_KEYS = sorted({k for _, keys in _tables().sections for k in keys})
_WORDS = st.sampled_from([*_KEYS, "details", "of", "the", "(if known)", "2", "section b:", "x"])


def _plain_section_of(heading: str) -> str | None:
    """section_of as first written: each key looked for in turn, in each section's order."""
    phrase = normalise_label(re.sub(r"\([^)]*\)", " ", heading))
    if not phrase or len(phrase) > 60:
        return None
    padded = f" {phrase} "
    for name, keys in _tables().sections:
        if any(f" {k} " in padded for k in keys):
            return name
    return None


@given(st.lists(_WORDS, max_size=6).map(" ".join) | st.text(max_size=40))
def test_section_of_reads_as_the_plain_key_scan(heading: str) -> None:
    assert section_of(heading) == _plain_section_of(heading)
