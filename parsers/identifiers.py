"""Identifiers a referral carries: UPN, postcode, LA codes (dates, names, phones below)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")


@dataclass(frozen=True)
class UpnCheck:
    """The verdict on one UPN: normalised value, whether it is valid, and why not."""

    value: str
    valid: bool
    temporary: bool = False
    la_code: str | None = None
    la_known: bool = False
    expected_check_letter: str | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)


@cache
def la_codes() -> dict[str, str]:
    """LA code -> name, from the data file shipped with the package."""
    text = resources.files("parsers.data").joinpath("la_codes.csv").read_text("utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(io.StringIO(text))}


def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters after it (digits, last may be a letter)."""
    if len(body) != 12:
        raise ValueError("a UPN body is 12 characters")
    total = 0
    for weight, ch in enumerate(body, start=2):
        value = int(ch) if ch.isdigit() else CHECK_LETTERS.index(ch)
        total += weight * value
    return CHECK_LETTERS[total % 23]


def normalise_upn(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw or "").upper()


def check_upn(raw: str) -> UpnCheck:
    """Validate a UPN: shape, check letter, permanent vs temporary, LA code known."""
    value = normalise_upn(raw)
    if not _UPN_SHAPE.match(value) or (not value[-1].isdigit() and value[-1] not in CHECK_LETTERS):
        return UpnCheck(
            value=value,
            valid=False,
            problems=("UPN must be 13 characters: a letter, 11 digits, then a digit or letter",),
        )
    temporary = not value[-1].isdigit()
    expected = upn_check_letter(value[1:])
    la = value[1:4]
    known = la in la_codes()
    problems: list[str] = []
    if value[0] != expected:
        problems.append(f"UPN check letter wrong: expected {expected}")
    if not known and not temporary:
        problems.append(f"UPN LA code {la} is not a known local authority")
    return UpnCheck(
        value=value,
        valid=not problems,
        temporary=temporary,
        la_code=la,
        la_known=known,
        expected_check_letter=expected,
        problems=tuple(problems),
    )


_POSTCODE = re.compile(
    r"^(GIR0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def normalise_postcode(raw: str | None) -> str | None:
    """'ts101aa' -> 'TS10 1AA'; None when it is not a valid UK postcode."""
    if not raw:
        return None
    compact = re.sub(r"\s+", "", raw).upper()
    if not _POSTCODE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"
