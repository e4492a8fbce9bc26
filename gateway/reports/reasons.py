"""A referral's free-text reason as one primary-reason category, by ordered rules kept as data."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from gateway.reports.errors import ReportError

OTHER = "other"
NOT_GIVEN = "not_given"
_FIXED = {OTHER: "Other reason", NOT_GIVEN: "No reason given"}


@dataclass(frozen=True)
class Rule:
    code: str
    label: str
    patterns: tuple[re.Pattern[str], ...]
    channels: frozenset[str]


@dataclass(frozen=True)
class Reasons:
    rules: tuple[Rule, ...]

    @property
    def labels(self) -> dict[str, str]:
        """Every category, in the rules' order, then "other" and "not given"."""
        return {**{r.code: r.label for r in self.rules}, **_FIXED}

    def classify(self, reason: str | None, channel: str | None = None) -> str:
        text = (reason or "").strip()
        for rule in self.rules:
            if text and any(p.search(text) for p in rule.patterns):
                return rule.code
            if channel is not None and channel in rule.channels:
                return rule.code
        return OTHER if text else NOT_GIVEN


@cache
def load_reasons(path: str = "") -> Reasons:
    """The packaged rules, or a local authority's own file (reports.reasons_file)."""
    if path:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ReportError(f"cannot read reports.reasons_file {path}: {exc}") from None
    else:
        text = resources.files("gateway.reports").joinpath("reasons.toml").read_text("utf-8")
    source = path or "gateway/reports/reasons.toml"
    try:
        data = tomllib.loads(text)
        rules = tuple(
            Rule(
                str(r["code"]),
                str(r["label"]),
                tuple(re.compile(p, re.IGNORECASE) for p in r.get("patterns", ())),
                frozenset(r.get("channels", ())),
            )
            for r in data["rule"]
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, re.error) as exc:
        raise ReportError(f"{source} is not a usable reasons file: {exc}") from None
    if {r.code for r in rules} & set(_FIXED):
        raise ReportError(f"{source}: 'other' and 'not_given' are kept for unmatched reasons")
    return Reasons(rules)
