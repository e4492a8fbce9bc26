"""Ages, year groups and times as people write them: 'about 9 or 10', 'year 6', 'since Easter'."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from parsers.identifiers import find_dates, month_number
from parsers.phrases import MONTH_RE, NUMBER_RE, NUMBER_WORDS, WHEN_WORDS, alternation, number
from parsers.prefilter import gated
from parsers.sentences import clause_start, person_before

AGE_MIN, AGE_MAX = 3, 18

_APPROX = (
    r"(?:about|around|approximately|approx\.?|roughly|maybe|perhaps|possibly|probably|circa|"
    r"nearly|almost|looks?(?:\s+about|\s+like)?|must\s+be|could\s+be|might\s+be)"
)
_SEP = r"\s*(?:or|-|–|to|/)\s*"
_OLD = r"(?:[\s-]*(?:years?|yrs?)[\s-]*old|\s*y/?o\b|[\s-]*years?\s+of\s+age)"
_N = r"(?P<a>" + NUMBER_RE + r")(?:" + _SEP + r"(?P<b>" + NUMBER_RE + r"))?"
AGE_PATTERNS = tuple(
    gated(p, re.IGNORECASE)
    for p in (
        r"\b(?:aged?|age\s+of)\s+(?P<approx>" + _APPROX + r"\s+)?" + _N + r"(?:" + _OLD + r")?\b",
        r"\b(?P<pron>she|he|who)(?:['’]s|\s+is|\s+was|\s+turned|\s+has\s+just\s+turned|\s+just\s+"
        r"turned|\s+will\s+be|\s+would\s+be)\s+(?:only\s+|just\s+)?(?P<approx>" + _APPROX
        + r"\s+)?" + _N + r"(?:" + _OLD + r")?(?![\w/])",
        r"\b(?P<approx>" + _APPROX + r")\s+" + _N + r"(?:" + _OLD + r")?(?![\w/])",
        r"\b" + _N + _OLD,
    )
)  # fmt: skip
# What follows a number that is not an age: "about 3 weeks", "around 10:30", "about 11 Coast Road".
_NOT_AN_AGE = re.compile(
    r"\s*(?:[:.]\d|(?:minutes?|mins?|hours?|hrs|days?|weeks?|months?|times?|o['’]?clock|am|pm|"
    r"percent|people|kids|children|houses|doors|miles|metres|pounds|quid|of\s+(?:them|us|the)|"
    r"or\s+so\s+(?:minutes|days|weeks))\b|%|(?-i:[A-Z]))",
    re.IGNORECASE,
)
_TIME_BEFORE = re.compile(
    r"\b(?:at|for|since|until|till|by|after|before|from|within|every|in|on|than)\s*$", re.IGNORECASE
)
_YEAR_WORDS = [w for w, n in NUMBER_WORDS.items() if 1 <= n <= 13]
YEAR_GROUP = gated(
    r"\b(?:in|into|is|was|['’]s|be|a|an|the|starting|join(?:ed|ing)?|going\s+into|moved\s+up\s+to)"
    r"\s+(?:year|yr)\s*(?P<n>\d{1,2}|" + alternation(_YEAR_WORDS) + r")\b"
    r"(?!\s*(?:years?|olds?|-year))|\(\s*(?:year|yr)\s*(?P<p>\d{1,2})\b|\b(?-i:Y)(?P<y>\d{1,2})\b|"
    r"\b(?:in|is|['’]s|was|a)\s+(?P<r>reception)\b",
    re.IGNORECASE,
)  # fmt: skip
DOB_CUE = gated(
    r"\b(?:d\.?o\.?b\.?|date\s+of\s+birth|born(?:\s+on)?|birthday(?:\s+is|['’]s|\s+was)?|"
    r"birth\s*date)\s*(?:is|was|:|-|–)?\s*(?:on\s+)?(?:the\s+)?",
    re.IGNORECASE,
)
DAY_MONTH = re.compile(
    r"(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<mon>" + MONTH_RE + r")\b|"
    r"(?P<mon2>" + MONTH_RE + r")\.?\s+(?:the\s+)?(?P<day2>\d{1,2})(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)
_WEEKDAY = (
    r"(?:last\s+|this\s+(?:past\s+)?)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
)
_RELATIVE = (
    r"(?:(?:the\s+)?(?:last|past)\s+)?(?:(?:about|around|nearly|almost|over|roughly)\s+)?(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"\d{1,2}|a\s+few|few|several|a\s+couple\s+of)\s+(?:days?|weeks?|months?|years?|terms?)"
    r"(?:\s+(?:ago|now))?"
)
# "October half term", "the Easter holidays", "the summer break"
_TERM = (
    r"(?:(?:" + MONTH_RE + r"|easter|christmas|xmas|summer|spring|autumn|winter|may)\s+)"
    r"(?:half[-\s]term|holidays?|hols|break)|half[-\s]term"
)
_PREP = (
    r"(?:since|from|on|in|at|around|about|before|after|over|during|until|till|up\s+until|"
    r"up\s+to|for|by)\s+"
)
_WHEN = re.compile(
    r"(?:" + _PREP + r")?(?:the\s+)?(?:(?:early|mid|late|the\s+(?:end|start|beginning|middle)\s+of)"
    r"\s+)?(?:" + _TERM + r"|" + _WEEKDAY + r"|" + _RELATIVE + r"|" + alternation(WHEN_WORDS) + r"|"
    + MONTH_RE + r")\b",
    re.IGNORECASE,
)  # fmt: skip
_LEAD = re.compile(r"\s*(?:" + _PREP + r")?(?:the\s+)?", re.IGNORECASE)
# What a person writes before the day a child was last in school, or last seen.
LAST_ATTENDED = gated(
    r"\b(?:(?:(?:has|have|had|is|was)(?:n['’]?t|\s+not)|not|never)\s+(?:been\s+)?(?:back\s+)?"
    r"(?:in|at|to|into|attended|attending|gone\s+to|going\s+to|been\s+to)\s+(?:school|lessons|class)|"
    r"(?:has|have|had)(?:n['’]?t|\s+not)\s+attended|not\s+attend(?:ed|ing)|off\s+school|"
    r"out\s+of\s+school|absent|stopped\s+(?:going|attending)(?:\s+to\s+school|\s+school)?|"
    r"missing\s+(?:from\s+)?school|left\s+(?:us|the\s+school|school|our\s+school)|"
    r"(?:has|have|had)(?:n['’]?t|\s+not)\s+been\s+in(?=\s+(?:since|for)\b))(?=\s)"
    r"|\blast\s+(?:attended(?:\s+school)?|went\s+to\s+school|(?:day\s+)?(?:in|at)\s+school|"
    r"attendance(?:\s+was)?)(?:\s+was)?(?=\s)",
    re.IGNORECASE,
)
LAST_SEEN = gated(
    r"\b(?:last\s+seen|(?:was|were)\s+(?:last\s+)?seen|not\s+(?:been\s+)?seen(?:\s+(?:her|him|them|"
    r"the\s+(?:child|girl|boy|kids?|children|family)))?|(?:haven['’]?t|have\s+not|hasn['’]?t|"
    r"has\s+not|nobody\s+has|no-?\s?one\s+has)\s+seen\s+(?:her|him|them|the\s+(?:child|girl|boy|"
    r"kids?|children|family)))(?=\s)",
    re.IGNORECASE,
)


def age_range_of_year(year_group: str) -> tuple[int, int] | None:
    """The ages of a year group during the school year: Year 6 is 10 to 11, Reception 4 to 5."""
    if year_group.upper() == "R":
        return (4, 5)
    if year_group.upper() == "N":
        return (3, 4)
    if year_group.isdigit() and 1 <= int(year_group) <= 13:
        return (int(year_group) + 4, int(year_group) + 5)
    return None


def ages_in(text: str, names: Sequence[str] = ()) -> list[tuple[int, int, int, int, str]]:
    """Ages in a sentence: (youngest, oldest, start, end, whose: child, sibling, carer or other).

    'about 11' is 10 to 12, 'nearly 11' 10 to 11, '9 or 10' 9 to 10, 'aged 7' 7 to 7.
    """
    out: list[tuple[int, int, int, int, str]] = []
    for pattern in AGE_PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for _, _, s, e, _ in out):
                continue
            a = number(m.group("a"))
            b = number(m.group("b")) if m.group("b") else None
            if a is None or _NOT_AN_AGE.match(text, m.end()):
                continue
            g = m.groupdict()
            approx = (g.get("approx") or "").lower().strip()
            cued = g.get("pron") or m.group(0).lower().startswith("age")
            if approx and not cued and _TIME_BEFORE.search(text[: m.start()]):
                continue  # "at about 10", "for about 3 weeks"
            lo, hi = (min(a, b), max(a, b)) if b is not None else (a, a)
            if b is None and approx.startswith(("nearly", "almost")):
                lo = a - 1
            elif b is None and approx:
                lo, hi = a - 1, a + 1
            if not (lo >= AGE_MIN and hi <= AGE_MAX and hi - lo <= 4):
                continue
            out.append((lo, hi, m.start(), m.end(), _whose_age(text, m, names)))
    return sorted(out, key=lambda x: x[2])


def _whose_age(text: str, m: re.Match[str], names: Sequence[str]) -> str:
    """'a 5 year old brother' is his; 'her mum, about 30' the mother's; else the child's."""
    after = re.match(r"[\s-]*(?:[\w-]+\s+)?\w+", text[m.end() :])
    if after is not None:
        noun = person_before(text, m.end(), m.end() + after.end(), names)
        if noun is not None and noun not in ("other", "writer"):
            return noun
    if m.groupdict().get("pron"):
        return "child"
    start = clause_start(text, m.start())
    own = person_before(text, start, m.start(), names)
    if own is None and text[:start].rstrip().endswith((",", "(")):
        own = person_before(text, max(0, start - 40), start, names)  # "her brother, aged 5,"
    return own or "child"


def resolve_day_month(day: int, month: int, received: date | None) -> date | None:
    """'14 October' in a message of 9 March 2026 is 14 October 2025: the latest not after it."""
    if received is None:
        return None
    for year in (received.year, received.year - 1):
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if found <= received:
            return found
    return None


def when_at(text: str, pos: int, received: date | None) -> tuple[str | None, int, int] | None:
    """A time written at `pos`: (ISO date when the words give one, start, end) or None.

    A full date is a date; '14 October' is one when the message's date gives the year;
    'since Easter', 'in September', 'for two weeks' are kept as words (None).
    """
    start = pos + len(text[pos:]) - len(text[pos:].lstrip())
    lead = _LEAD.match(text, pos)
    at = lead.end() if lead else pos
    dates = find_dates(text[at : at + 40])
    if dates and dates[0].start == 0:
        return dates[0].value.isoformat(), start, at + dates[0].end
    dm = DAY_MONTH.match(text, at)
    if dm is not None:
        day = int(dm.group("day") or dm.group("day2"))
        mon = month_number(dm.group("mon") or dm.group("mon2") or "")
        found = resolve_day_month(day, mon, received) if mon else None
        return (found.isoformat() if found else None), start, dm.end()
    w = _WHEN.match(text, start)
    if w is not None:
        return None, start, w.end()
    return None
