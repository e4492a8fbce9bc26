"""Actions a referrer has already taken: each with its date and outcome when they are written."""

from __future__ import annotations

import re
from typing import Any

from parsers.identifiers import find_dates, parse_uk_date

# Outcomes written after the action without a separator: "phoned mother no answer".
_OUTCOME_WORDS = re.compile(
    r"\b(?:no\s+(?:answer|reply|response|one\s+(?:home|in)|contact|trace|longer)|unanswered|"
    r"not\s+(?:answered|known|at\s+(?:the\s+)?address|home|in|there|on\s+roll)|left\s+(?:a\s+)?"
    r"(?:message|voicemail|card|note|letter)|voicemail|disconnected|number\s+not\s+recognised|"
    r"returned\s+(?:to\s+sender|undelivered)|house\s+(?:appears\s+)?empty|appears\s+empty|"
    r"empty|moved|bounced|answered|spoke\s+to|confirmed|awaiting\s+(?:reply|response)|"
    r"outcome\s*:)",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"\s*(?:,|;|\s[-–—]\s|:|=>|->|\.\s)\s*")
_BULLETS = " -*•\t"


# A new action starts at a date after a comma: a form cell's lines arrive joined by ", ".
_NEXT_DATED = re.compile(r"\n|;|•|,\s+(?=\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}\b)")


def action_items(text: str) -> list[str]:
    """The separate actions of a free-text 'Actions taken' answer (lines, bullets or ';')."""
    return [x.strip(_BULLETS) for x in _NEXT_DATED.split(text) if x.strip(_BULLETS)]


def read_action(item: str) -> dict[str, Any]:
    """'06/03/2026 phoned mother, no answer' -> date, step ('phoned mother') and outcome.

    `action` keeps the item as written. No outcome is made up: without one written, it is None.
    """
    dates = find_dates(item)
    rest = item
    if dates and dates[0].start <= 3:
        rest = item[dates[0].end :]
    rest = re.sub(r"^\s*(?:[-–:,.]|on\b)?\s*", "", rest)
    step, outcome = rest, None
    sep = _SEPARATOR.search(rest)
    if sep is not None and sep.start() > 0:
        step, outcome = rest[: sep.start()], rest[sep.end() :]
    else:
        m = _OUTCOME_WORDS.search(rest)
        if m is not None and m.start() > 0:
            step, outcome = rest[: m.start()], rest[m.start() :]
    if dates and dates[0].start > 3:  # "Home visit on 12/03/2026": the date is the field's
        written = re.escape(item[dates[0].start : dates[0].end])
        step = re.sub(r"\s*(?:on\s+)?" + written, "", step)
    outcome = (
        re.sub(r"^(?:outcome|result)\s*:\s*", "", outcome or "", flags=re.I).strip(" .") or None
    )
    return {
        "date": dates[0].value.isoformat() if dates else None,
        "action": item,
        "step": step.strip(" .,;:-") or None,
        "outcome": outcome,
    }


def read_action_columns(cells: dict[str, str]) -> dict[str, Any]:
    """A row of an actions table (Date | Action | Outcome | By) as one action."""
    when = parse_uk_date(cells.get("date"))
    step = " ".join((cells.get("action") or "").split()) or None
    outcome = " ".join((cells.get("outcome") or "").split()) or None
    written = " ".join(v for k in ("date", "action", "outcome") if (v := cells.get(k)))
    out: dict[str, Any] = {
        "date": when.isoformat() if when else None,
        "action": " ".join(written.split()),
        "step": step,
        "outcome": outcome,
    }
    if cells.get("by"):
        out["by"] = " ".join(cells["by"].split())
    return out
