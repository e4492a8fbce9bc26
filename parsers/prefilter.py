"""A pattern's prefilter: words any match must hold, tested before the pattern is run.

Python's `re` steps through a text a position at a time, a few nanoseconds a position for
each pattern, while `in` on a string runs at memory speed. The parsers run dozens of
patterns over every sentence, so a long email (a signature, a disclaimer, a pasted log) costs
milliseconds of scanning that finds nothing. `gated(pattern)` works out from the pattern
itself a set of strings at least one of which every match contains (as a search engine's
prefilter does: "aged 7" needs "age", "date of birth" needs "birth"), and its `search` and
`finditer` return nothing at once for a text holding none of them.

The set comes from the parsed pattern: a run of literal characters must appear; an
alternation needs one of its branches' sets; a repeat of at least one needs its body's; a
class of a few characters needs one of them; and a sequence needs the most telling of its
parts. What cannot be proved (a lookaround, a repeat of none, `\\w`) adds nothing, and a
pattern with nothing provable is run as it is. The text is compared case-folded as `re`
folds it under IGNORECASE (so "İ", "ı", "ſ" and the Kelvin sign are found as i, s and k), and
a gate may let through a text that has no match (it only saves work) but never stops one
that has; the property tests check that, pattern by pattern.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Iterator
from typing import Any

__all__ = ["Gated", "gated", "required_strings"]

#: Stands for "a decimal digit" (`\\d`, Unicode digits included) in a required set.
DIGIT = "\\d"
#: Larger sets are not worth testing string by string: the pattern runs as it is.
_MOST = 64
_ASCII_DIGITS = "0123456789"
#: Shorter texts are searched at once: the pattern is as quick as the test would be.
_SHORT = 48
_ANY_DIGIT = re.compile(r"\d")


def fold(text: str) -> str:
    """The text lower-cased as `re` matches it under IGNORECASE: every character that
    IGNORECASE takes for an ASCII letter becomes that letter (ı and İ are i, ſ is s, the
    Kelvin sign k); other characters are lower-cased (a gate may only let more through)."""
    low = text.lower()
    if text.isascii():
        return low
    return low.replace("\u0307", "").replace("ı", "i").replace("ſ", "s")


def _usable(ch: str) -> bool:
    """A character whose case-folding `fold` reproduces exactly: ASCII, or caseless."""
    return ch.isascii() or ch.lower() == ch.upper()


def _score(req: frozenset[str] | None) -> tuple[int, int]:
    """How telling a required set is: its shortest string's length, then fewer strings."""
    if not req:
        return (-1, 0)
    shortest = min(1 if s == DIGIT else len(s) for s in req)
    return (shortest, -len(req))


def _best(*reqs: frozenset[str] | None) -> frozenset[str] | None:
    found = [r for r in reqs if r]
    return max(found, key=_score) if found else None


def _class(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The characters of a small class ([:：], [0-9], \\d), or None."""
    out: set[str] = set()
    for op, arg in items:
        if op is sre.LITERAL:
            ch = chr(arg)
            if not _usable(ch):
                return None
            out.add(ch.lower())
        elif op is sre.RANGE:
            lo, hi = arg
            if hi - lo > 10:
                return None
            chars = [chr(c) for c in range(lo, hi + 1)]
            if not all(_usable(c) for c in chars):
                return None
            out.update(c.lower() for c in chars)
        elif op is sre.CATEGORY and arg is sre.CATEGORY_DIGIT:
            out.add(DIGIT)
        else:
            return None
    if DIGIT in out:
        out -= set(_ASCII_DIGITS)
    return frozenset(out) if out and len(out) <= 12 else None


def _sequence(items: Any) -> frozenset[str] | None:
    """What a sequence of pattern items needs: its most telling literal run or part."""
    candidates: list[frozenset[str] | None] = []
    run: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL and _usable(chr(arg)):
            run.append(chr(arg).lower())
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        candidates.append(_item(op, arg))
    if run:
        candidates.append(frozenset(["".join(run)]))
    return _best(*candidates)


def _item(op: Any, arg: Any) -> frozenset[str] | None:
    if op is sre.LITERAL:
        ch = chr(arg)
        return frozenset([ch.lower()]) if _usable(ch) else None
    if op is sre.IN:
        return _class(arg)
    if op is sre.SUBPATTERN:
        return _sequence(arg[3])
    if op is sre.ATOMIC_GROUP:
        return _sequence(arg)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _high, body = arg
        return _sequence(body) if low >= 1 else None
    if op is sre.BRANCH:
        out: set[str] = set()
        for branch in arg[1]:
            req = _sequence(branch)
            if not req:
                return None  # a branch that needs nothing: the alternation needs nothing
            out |= req
        return frozenset(out) if len(out) <= _MOST else None
    return None  # anchors, lookarounds, any character, categories, back-references


def required_strings(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings (case-folded; DIGIT for any decimal digit) at least one of which is in every
    match of the pattern; None when nothing can be said."""
    need = _sequence(sre_parse.parse(pattern.pattern, pattern.flags))
    if need is None:
        return None
    # A string holding another of the set adds nothing: a text with it has the other too.
    # (DIGIT is a marker, not text: "\\d" holds "d", yet a digit is no "d".)
    return frozenset(
        s for s in need if s == DIGIT or not any(t != s and t in s for t in need if t != DIGIT)
    )


def _has_digit(text: str) -> bool:
    if text.isascii():
        return any(d in text for d in _ASCII_DIGITS)
    return _ANY_DIGIT.search(text) is not None


class Gated:
    """A compiled pattern whose `search` and `finditer` first ask whether the text holds one
    of the strings every match needs; `match` and the rest go straight to the pattern."""

    __slots__ = ("digit", "pattern", "re", "words")

    def __init__(self, compiled: re.Pattern[str]) -> None:
        self.re = compiled
        self.pattern = compiled.pattern
        need = required_strings(compiled)
        self.words: tuple[str, ...] | None = (
            None if need is None else tuple(sorted(s for s in need if s != DIGIT))
        )
        self.digit = need is not None and DIGIT in need

    def may_match(self, text: str) -> bool:
        """False only when no match can be in the text."""
        if self.words is None or len(text) < _SHORT:
            return True
        if self.words:
            folded = fold(text)
            for word in self.words:  # a loop: a generator costs more than most of the tests
                if word in folded:
                    return True
        return self.digit and _has_digit(text)

    def search(self, text: str, pos: int = 0, endpos: int = 2**62) -> re.Match[str] | None:
        return self.re.search(text, pos, endpos) if self.may_match(text) else None

    def finditer(self, text: str, pos: int = 0, endpos: int = 2**62) -> Iterator[re.Match[str]]:
        return self.re.finditer(text, pos, endpos) if self.may_match(text) else iter(())

    def match(self, text: str, pos: int = 0, endpos: int = 2**62) -> re.Match[str] | None:
        return self.re.match(text, pos, endpos)

    def fullmatch(self, text: str, pos: int = 0, endpos: int = 2**62) -> re.Match[str] | None:
        return self.re.fullmatch(text, pos, endpos)

    def __getattr__(self, name: str) -> Any:  # sub, split, groupindex, flags...
        return getattr(self.re, name)


def gated(pattern: str | re.Pattern[str], flags: int = 0) -> Gated:
    """`re.compile(pattern, flags)`, gated (or a pattern compiled already)."""
    return Gated(re.compile(pattern, flags) if isinstance(pattern, str) else pattern)
