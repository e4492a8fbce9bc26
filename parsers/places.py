"""Schools and addresses mentioned in passing: 'was at St Hilda's', 'at 12 Coast Road'."""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.identifiers import find_postcodes
from parsers.phrases import MONTH_WORDS, NOT_NAMES, STREET_SUFFIXES, alternation
from parsers.prefilter import gated

_SCHOOL_WORDS = frozenset(
    {"primary", "academy", "school", "college", "juniors", "junior", "infants", "infant",
     "nursery", "form", "comprehensive", "high", "secondary", "grammar"}
)  # fmt: skip
# A school word closing a name: "Redcar Primary", "Kirkleatham school"; "High" alone does not.
_SCHOOL_ENDS = frozenset(_SCHOOL_WORDS - {"high", "secondary", "grammar", "junior", "infant"})
_NOT_PLACE = frozenset(NOT_NAMES - {"sir", "the"}) | MONTH_WORDS
_TOKEN = re.compile(r"St\.|[A-Z][A-Za-z'’&]*(?:-[A-Za-z]+)*")
_GAP = re.compile(r"[ \t]+(?:(of|the|and|&|de|le|la)[ \t]+)?")
_BACK = re.compile(r"(St\.?|[A-Z][A-Za-z'’&]*(?:-[A-Za-z]+)*)[ \t]+")
_SUFFIX = gated(r"\b(?:Primary|Academy|School|College|Juniors|Infants|Nursery|Sixth\s+Form)\b")
# "used to go to", "was at", "left": what a person writes before naming a child's school.
# Cues whose object may be a bare name ("goes to Kirkleatham") come first in the alternation.
_STRONG = (
    r"used\s+to\s+(?:go|attend)(?:\s+to)?|goes\s+to|go\s+to|attends|attended|attending|attend|"
    r"(?:on|off)\s+(?:the\s+)?roll\s+(?:at|of)|(?:pupil|student)\s+(?:at|of)|enrolled\s+at|"
    r"registered\s+at|(?:a|her|his)\s+place\s+at"
)
_WEAK = (
    r"(?:was|is|been|were|are|'s)\s+(?:previously\s+|formerly\s+|last\s+|still\s+|recently\s+|"
    r"then\s+|only\s+)?at|left|started\s+at|went\s+to|going\s+to|moved\s+from|"
    r"transferred\s+from|excluded\s+from|expelled\s+from|removed\s+from|from"
)
SCHOOL_CUE = gated(
    r"\b(?i:(?P<strong>" + _STRONG + r")|(?P<weak>" + _WEAK + r"))\s+(?i:school\s+(?:at|in)\s+)?"
)
_STREET = alternation(STREET_SUFFIXES)
_TOWN = r"[A-Z][a-z]+(?:-(?:by|on|upon|under|in|le|the|[A-Z][a-z]+))*(?:\s+[A-Z][a-z]+)?"
# The lookahead names every character a match can start with (a flat word's, "number"'s or
# the house number's): the same matches, found without trying the whole pattern at each
# character of a long sentence.
_NUMBERED = gated(
    r"(?=\d|(?i:[faurn]))"
    r"(?i:(?P<flat>(?:flat|apartment|apt|unit|room)\s+\w{1,4}),?\s+)?(?i:(?:number|no\.?)\s+)?"
    r"(?P<street>\d{1,4}[A-Za-z]?(?:\s*[-/]\s*\d{1,4})?,?\s+(?:[A-Za-z][a-z'’]+(?:-[A-Za-z]+)*\s+"
    r"){1,3}(?i:" + _STREET + r"))\b"
)
_NAMED = gated(r"\b(?P<street>(?:[A-Z][a-z'’]+(?:-[A-Za-z]+)*\s+){1,3}(?:" + _STREET + r"))\b")
_AFTER_STREET = re.compile(r",?\s*(?:in\s+)?(?P<town>" + _TOWN + r")")
_RESIDES = re.compile(
    r"\b(?i:lives?|living|stays?|staying|resides?|residing|moved\s+into|house|home|flat|address)"
    r"\b[\w\s',’]{0,40}?\b(?i:on|at|in)\s*$"
)
_LIVES_IN = gated(
    r"\b(?i:lives?|living|stays?|staying|resides?|residing|based)\s+(?i:somewhere\s+|now\s+|"
    r"still\s+)?in\s+(?P<town>" + _TOWN + r")"
)
_MOVED_TO = gated(
    r"\b(?i:moved|moving|gone|went|relocated|relocating)\s+(?i:back\s+|away\s+)?(?i:to\s+)"
    r"(?i:live\s+in\s+)?(?P<place>" + _TOWN + r")"
)


@dataclass(frozen=True)
class SchoolMention:
    """A school named in a sentence: its name as written, where, and how sure the cue is."""

    name: str
    start: int
    end: int
    cue_start: int
    confidence: float


@dataclass(frozen=True)
class AddressMention:
    """An address in a sentence: its parts (line 1, line 2, town, postcode) and where."""

    line1: str | None
    line2: str | None
    town: str | None
    postcode: str | None
    start: int
    end: int
    numbered: bool


def school_name_at(text: str, pos: int) -> tuple[str, int, int, str] | None:
    """The school name starting at `pos`, its end, and its shape: named, saint, possessive, bare."""
    words: list[str] = []
    at = pos
    while len(words) < 9:
        nxt = at
        if words:
            gap = _GAP.match(text, at)
            if gap is None:
                break
            nxt = gap.end()
        m = _TOKEN.match(text, nxt)
        if m is None:
            break
        low = m.group(0).lower().replace("’", "'").rstrip(".")
        base = re.sub(r"'s?$", "", low)
        if low in MONTH_WORDS or (base in _NOT_PLACE and not (words and base in _SCHOOL_WORDS)):
            break
        if words and gap is not None and gap.group(1):
            words.append(gap.group(1))
        words.append(m.group(0))
        at = m.end()
    if not words:
        return None
    tail = re.match(r"\s+(school|primary|academy|college|juniors|infants|nursery)\b", text[at:])
    if tail and words[-1].lower() not in _SCHOOL_WORDS:
        words.append(tail.group(1))
        at += tail.end()
    name = " ".join(words)
    lows = [w.lower().rstrip(".") for w in words]
    if lows[-1] in _SCHOOL_ENDS or {"school", "academy", "college"} & set(lows):
        shape = "named" if any(w not in _SCHOOL_WORDS for w in lows) else "none"
    elif lows[0] in ("st", "saint", "sir"):
        shape = "saint" if len(words) >= 2 else "none"
    elif re.search(r"\w['’]s?$", words[-1]) and len(words[-1]) > 3:
        shape = "possessive"
    else:
        shape = "bare"
    if (
        lows[-1].capitalize() in STREET_SUFFIXES
        or shape == "none"
        or (lows[0] == "the" and len(lows) < 2)
    ):
        return None  # "lives on Coast Road": an address, not a school
    return name, pos, at, shape


def find_schools(text: str) -> list[SchoolMention]:
    """Schools named after a cue ('used to go to St Hilda's') or by their own name."""
    out: list[SchoolMention] = []
    for m in SCHOOL_CUE.finditer(text):
        got = school_name_at(text, m.end())
        if got is None:
            continue
        name, s, e, shape = got
        if shape == "bare" and not m.group("strong"):
            continue  # "left Redcar in September" is a move, not a school
        conf = {"named": 0.6, "saint": 0.55, "possessive": 0.5, "bare": 0.45}[shape]
        out.append(SchoolMention(name, s, e, m.start(), conf))
    for m in _SUFFIX.finditer(text):
        if any(x.start <= m.start() < x.end for x in out):
            continue
        start = _name_start(text, m.start())
        got = school_name_at(text, start) if start is not None else None
        if got is not None and got[3] == "named" and got[2] >= m.end():
            out.append(SchoolMention(got[0], got[1], got[2], got[1], 0.4))
    return sorted(out, key=lambda x: x.start)


def _name_start(text: str, suffix_at: int) -> int | None:
    """Walk back from a school word over the capitalised words that name the school."""
    start = None
    for m in reversed(list(_BACK.finditer(text, max(0, suffix_at - 80), suffix_at))):
        if text[m.end() : suffix_at].strip() or m.group(1).lower() in _NOT_PLACE:
            break
        start = suffix_at = m.start(1)
    return start


def find_addresses(text: str) -> list[AddressMention]:
    """Addresses: '12 Coast Road', 'flat 3, 22 High Street, Redcar TS10 1AB', 'on Coast Road'."""
    out: list[AddressMention] = []
    for pattern, numbered in ((_NUMBERED, True), (_NAMED, False)):
        for m in pattern.finditer(text):
            if any(a.start <= m.start("street") < a.end for a in out):
                continue
            if not numbered and _RESIDES.search(text[max(0, m.start() - 60) : m.start()]) is None:
                continue
            first = m.group("street").split()[0]
            if not numbered and first.lower() in _NOT_PLACE:
                continue
            street = " ".join(m.group("street").replace(",", " ").split())
            flat = m.group("flat") if numbered else None
            end = m.end()
            town = postcode = None
            t = _AFTER_STREET.match(text, end)
            if t is not None and _town_ok(text, t):
                town, end = t.group("town"), t.end()
            pcs = find_postcodes(text[end : end + 12])
            if pcs and not text[end : end + pcs[0][1]].strip(" ,"):
                postcode, end = pcs[0][0], end + pcs[0][2]
            line1, line2 = (flat[:1].upper() + flat[1:], street) if flat else (street, None)
            start = m.start("flat") if flat else m.start("street")
            out.append(AddressMention(line1, line2, town, postcode, start, end, numbered))
    for m in _LIVES_IN.finditer(text):
        if any(a.start <= m.start("town") < a.end for a in out) or not _town_ok(text, m):
            continue
        if re.search(r"\b(?:gone|moved|moving|going|went)\s+to\s+$", text[: m.start()], re.I):
            continue  # "gone to live in Stockton": where they went, not where they live
        out.append(
            AddressMention(None, None, m.group("town"), None, m.start("town"), m.end("town"), False)
        )
    return sorted(out, key=lambda a: a.start)


def find_moves(text: str) -> list[tuple[str, int, int]]:
    """Where a family went: 'moved to Darlington' -> ('Darlington', start, end)."""
    out = []
    for m in _MOVED_TO.finditer(text):
        if _town_ok(text, m, "place"):
            out.append((m.group("place"), m.start("place"), m.end("place")))
    return out


def _town_ok(text: str, m: re.Match[str], group: str = "town") -> bool:
    """A town, not a school ('Redcar Primary'), a month, a weekday or a person's word."""
    words = m.group(group).replace("-", " ").split()
    if any(w.lower() in _NOT_PLACE for w in words[:1]):
        return False
    rest = text[m.end(group) : m.end(group) + 30]
    return re.match(r"\s+(?i:primary|academy|school|college|juniors|infants)\b", rest) is None and (
        words[-1].lower() not in _SCHOOL_WORDS
    )
