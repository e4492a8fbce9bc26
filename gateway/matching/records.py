"""The person record the engine compares: what a referral, a case or a roll entry says."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_FULL = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_MONTH_DAY = re.compile(r"^--(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date of birth as far as it is known: any of year, month, day may be missing.

    Values are kept as written (a mistyped day 31 in a 30-day month is still evidence).
    """

    year: int | None = None
    month: int | None = None
    day: int | None = None

    @property
    def complete(self) -> bool:
        return self.year is not None and self.month is not None and self.day is not None

    def digits(self) -> str:
        """YYYYMMDD, for digit-slip comparison; only meaningful when complete."""
        return f"{self.year:04d}{self.month:02d}{self.day:02d}"

    def __str__(self) -> str:
        y = f"{self.year:04d}" if self.year is not None else "-"
        if self.month is None:
            return y
        return f"{y}-{self.month:02d}-{self.day:02d}" if self.day is not None else y

    @classmethod
    def from_date(cls, value: date) -> PartialDate:
        return cls(value.year, value.month, value.day)


def parse_partial_date(raw: str | None) -> PartialDate | None:
    """'2014-05-03', '20140503', '2014' (year only) or '--05-03' (no year); None when empty.

    Raises ValueError on anything else, so a caller can tell the person which field is wrong.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if m := _FULL.match(text):
        y, mo, d = (int(g) for g in m.groups())
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            raise ValueError(f"date {text!r} has no such month or day")
        return PartialDate(y, mo, d)
    if m := _YEAR.match(text):
        return PartialDate(int(m.group(1)))
    if m := _MONTH_DAY.match(text):
        mo, d = int(m.group(1)), int(m.group(2))
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            raise ValueError(f"date {text!r} has no such month or day")
        return PartialDate(None, mo, d)
    raise ValueError(f"date {text!r} is not YYYY-MM-DD, YYYY or --MM-DD")


@dataclass(frozen=True, slots=True)
class Contact:
    """A parent, carer or CTF contact named on the record."""

    forename: str = ""
    surname: str = ""
    relationship: str = ""


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One child as a source describes them; empty strings and None mean unknown."""

    record_id: str
    forename: str = ""
    surname: str = ""
    middle_names: str = ""
    # Other full names the child is known by ("Forename [Middle] Surname"), e.g. formal name.
    aliases: tuple[str, ...] = ()
    preferred_forename: str = ""
    preferred_surname: str = ""
    former_surnames: tuple[str, ...] = ()
    dob: PartialDate | None = None
    sex: str = ""
    upn: str = ""
    former_upns: tuple[str, ...] = ()
    address: str = ""
    town: str = ""
    postcode: str = ""
    contacts: tuple[Contact, ...] = field(default=())
    school: str = ""
    year_group: str = ""
