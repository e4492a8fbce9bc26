"""Identifiers a referral carries: UPN, postcode, LA codes, UK dates, names, phones, emails."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from operator import mul

from parsers.prefilter import gated

CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")
_UPN_STRIP = re.compile(r"[\s-]")
#: What each ASCII digit and check letter weighs in the check sum (the UPN is read per
#: pupil of every CTF, so a look-up rather than int() and str.index() for each character).
_CHECK_VALUES = {str(d): d for d in range(10)} | {c: i for i, c in enumerate(CHECK_LETTERS)}
_CHECK_WEIGHTS = range(2, 14)
_SHAPE_PROBLEM = ("UPN must be 13 characters: a letter, 11 digits, then a digit or letter",)


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
    try:
        total = sum(map(mul, _CHECK_WEIGHTS, map(_CHECK_VALUES.__getitem__, body)))
    except KeyError:
        # Other Unicode digits count as their digit; anything else raises ValueError.
        total = 0
        for weight, ch in enumerate(body, start=2):
            value = int(ch) if ch.isdigit() else CHECK_LETTERS.index(ch)
            total += weight * value
    return CHECK_LETTERS[total % 23]


def normalise_upn(raw: str) -> str:
    if raw and raw.isascii() and raw.isalnum():
        return raw.upper()  # nothing to strip: the usual case, without the regex
    return _UPN_STRIP.sub("", raw or "").upper()


def check_upn(raw: str) -> UpnCheck:
    """Validate a UPN: shape, check letter, permanent vs temporary, LA code known."""
    value = normalise_upn(raw)
    if not _UPN_SHAPE.match(value) or (not value[-1].isdigit() and value[-1] not in CHECK_LETTERS):
        return UpnCheck(value=value, valid=False, problems=_SHAPE_PROBLEM)
    temporary = not value[-1].isdigit()
    expected = upn_check_letter(value[1:])
    la = value[1:4]
    known = la in la_codes()
    problems: list[str] = []
    if value[0] != expected:
        problems.append(f"UPN check letter wrong: expected {expected}")
    if not known and not temporary:
        problems.append(f"UPN LA code {la} is not a known local authority")
    # Built without the frozen __init__ (one object.__setattr__ a field): a UPN is checked
    # for every pupil of every CTF. The instance is the same as UpnCheck(...) would make.
    verdict = object.__new__(UpnCheck)
    verdict.__dict__.update(
        value=value,
        valid=not problems,
        temporary=temporary,
        la_code=la,
        la_known=known,
        expected_check_letter=expected,
        problems=tuple(problems),
    )
    return verdict


_POSTCODE = re.compile(
    r"^(GIR0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def normalise_postcode(raw: str | None) -> str | None:
    """'ts101aa' -> 'TS10 1AA'; None when it is not a valid UK postcode."""
    if not raw:
        return None
    compact = "".join(raw.split()).upper()  # str.split() splits on exactly what \s matches
    if not _POSTCODE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


# --- dates -------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4}|\d{2})"
#: A digit, as the patterns' own \d reads one: text without one holds no date, postcode,
#: UPN or phone number, and is not searched for them.
_DIGIT = gated(r"\d")  # a long text without a digit: found without a scan
_DATE_FORMS = (
    # ISO first: 2015-04-03 must never be read day-first.
    re.compile(r"(?<!\d)(?P<year>\d{4})-(?P<mon>\d{1,2})-(?P<day>\d{1,2})(?!\d)"),
    # UK numeric: day first, whatever the separator (03/04/2015 is 3 April).
    re.compile(
        r"(?<![\d.])(?P<day>\d{1,2})\s*[/.\-]\s*(?P<mon>\d{1,2})\s*[/.\-]\s*" + _YEAR + r"(?!\d)"
    ),
    re.compile(
        r"(?<!\w)" + _DAY + r"(?:\s+of)?[\s\-]+" + _MONTH + r",?[\s\-]+" + _YEAR + r"(?!\d)", re.I
    ),
    re.compile(r"(?<!\w)" + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + r"(?!\d)", re.I),
)
#: Two-digit years at or below this are 20xx, above it 19xx (children born this century).
TWO_DIGIT_PIVOT = 69


@dataclass(frozen=True)
class DateMatch:
    """A date found in text and where: start/end are offsets in the text searched."""

    value: date
    start: int
    end: int


def _to_date(m: re.Match[str]) -> date | None:
    mon_raw = m.group("mon").lower().rstrip(".")
    mon = int(mon_raw) if mon_raw.isdigit() else _MONTHS.get(mon_raw, 0)
    year_raw = m.group("year")
    year = int(year_raw)
    if len(year_raw) == 2:
        year += 2000 if year <= TWO_DIGIT_PIVOT else 1900
    try:
        return date(year, mon, int(m.group("day")))
    except ValueError:
        return None


def find_dates(text: str) -> list[DateMatch]:
    """Every date written in any usual UK form, in order of position, no overlaps."""
    found: list[DateMatch] = []
    if _DIGIT.search(text) is None:
        return found  # every form has its digits (a year at least)
    taken: list[tuple[int, int]] = []
    for form in _DATE_FORMS:
        for m in form.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            value = _to_date(m)
            if value is not None:
                found.append(DateMatch(value, m.start(), m.end()))
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


def month_number(name: str) -> int | None:
    """'March', 'mar' or 'Sept.' -> its month number; None for anything else."""
    return _MONTHS.get(name.lower().rstrip("."))


def parse_uk_date(text: str | None) -> date | None:
    """The first date in the text ('03/04/2015' is 3 April), or None when there is none."""
    if not text:
        return None
    dates = find_dates(text[:500])
    return dates[0].value if dates else None


# --- names -------------------------------------------------------------------------------

TITLES = frozenset(
    {
        "mr",
        "mrs",
        "miss",
        "ms",
        "mx",
        "dr",
        "rev",
        "revd",
        "prof",
        "sir",
        "dame",
        "master",
        "lady",
        "lord",
    }
)
# Particles stay with the surname: "Ella van der Berg" is surname "van der Berg".
_PARTICLES = frozenset(
    {
        "van",
        "von",
        "der",
        "den",
        "de",
        "da",
        "di",
        "del",
        "la",
        "le",
        "du",
        "st",
        "bin",
        "al",
        "el",
        "mac",
        "ap",
    }
)
_ALIAS = re.compile(
    r"\s*(?:\(|,|;|-)?\s*(?:also\s+known\s+as|known\s+as|aka|a\.k\.a\.?|previously\s+known\s+as|"
    r"formerly|former\s+name|prev(?:iously)?|n[ée]e|nickname|prefers|preferred\s+name)\s*:?\s*",
    re.I,
)


@dataclass(frozen=True)
class PersonName:
    """A person's name as written, split into parts; aliases are other names they go by."""

    title: str | None
    forenames: str | None
    surname: str | None
    aliases: tuple[str, ...] = ()

    @property
    def forename(self) -> str | None:
        """The first forename (the rest are middle names)."""
        return self.forenames.split()[0] if self.forenames else None

    @property
    def middle_names(self) -> str | None:
        rest = self.forenames.split()[1:] if self.forenames else []
        return " ".join(rest) or None

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.forenames, self.surname) if p)


def tidy_name(part: str) -> str:
    """'SMITH-JONES' -> 'Smith-Jones', "o'neill" -> "O'Neill"; mixed case is kept as written."""
    part = " ".join(part.split()).strip(" ,.;:")
    if part and (part.isupper() or part.islower()):
        words: list[str] = []
        for word in part.split(" "):
            low = word.lower()
            if low in _PARTICLES and words:
                words.append(low)
                continue
            word = "-".join(w[:1].upper() + w[1:].lower() for w in word.split("-"))
            word = "'".join(w[:1].upper() + w[1:] for w in word.split("'"))
            if low.startswith("mc") and len(word) > 2:
                word = "Mc" + word[2:3].upper() + word[3:]
            words.append(word)
        part = " ".join(words)
    return part


def parse_person_name(raw: str | None) -> PersonName | None:
    """'Mrs Jane SMITH-JONES (known as Jay)' or 'SMITH, Jane' into title, forenames, surname."""
    if not raw:
        return None
    text = " ".join(raw.replace("\u2019", "'").split())[:300]
    aliases: list[str] = []
    m = _ALIAS.search(text)
    if m and m.start() > 0:
        tail = text[m.end() :]
        aliases = [
            tidy_name(a) for a in re.split(r"\s*(?:,|/|;|\bor\b|\band\b)\s*", tail.strip(" )\"'"))
        ]
        aliases = [a.strip("\"' ") for a in aliases if a.strip("\"' ")]
        text = text[: m.start()]
    text = re.sub(r"\([^)]*\)", " ", text).strip(" ,;-")
    if not text:
        return None
    if "," in text:
        # "SMITH, Jane" is the register's surname-first order.
        surname_part, _, fore_part = text.partition(",")
        words = fore_part.split()
        title = None
        if words and words[0].lower().rstrip(".") in TITLES:
            title = tidy_name(words.pop(0).rstrip("."))
        forenames = tidy_name(" ".join(words)) or None
        return PersonName(title, forenames, tidy_name(surname_part) or None, tuple(aliases))
    words = text.split()
    title = None
    if words and words[0].lower().rstrip(".") in TITLES:
        title = tidy_name(words.pop(0).rstrip("."))
    if not words:
        return PersonName(title, None, None, tuple(aliases))
    if len(words) == 1:
        # One word after a title is a surname ("Mrs Smith"); alone it is a forename.
        if title:
            return PersonName(title, None, tidy_name(words[0]), tuple(aliases))
        return PersonName(None, tidy_name(words[0]), None, tuple(aliases))
    cut = len(words) - 1
    while cut > 1 and words[cut - 1].lower() in _PARTICLES:
        cut -= 1
    return PersonName(
        title,
        tidy_name(" ".join(words[:cut])) or None,
        tidy_name(" ".join(words[cut:])) or None,
        tuple(aliases),
    )


# --- phones and email ----------------------------------------------------------------------

_PHONE = re.compile(r"(?<![\w+])(?:\+\s?44\s?\(?0?\)?|\(?0)[\d\s()\-]{8,16}\d(?!\w)")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?![\w-])"
)


def normalise_phone(raw: str | None) -> str | None:
    """A UK number in national form without spaces ('07700900123'); None if it is not one."""
    if not raw:
        return None
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") or text.startswith("00"):
        digits = digits[2:] if text.startswith("00") else digits
        if not digits.startswith("44"):
            return None
        digits = "0" + digits[2:].lstrip("0")
    elif not digits.startswith("0"):
        return None
    if len(digits) not in (10, 11) or digits[1] == "0":
        return None
    return digits


def find_phones(text: str) -> list[tuple[str, int, int]]:
    """UK phone numbers in the text: (normalised, start, end)."""
    out: list[tuple[str, int, int]] = []
    if _DIGIT.search(text) is None:
        return out
    for m in _PHONE.finditer(text):
        value = normalise_phone(m.group(0))
        if value:
            out.append((value, m.start(), m.end()))
    return out


def normalise_email(raw: str | None) -> str | None:
    """The address with its domain lower-cased; None if it is not an email address."""
    if not raw:
        return None
    m = _EMAIL.search(raw.strip().strip("<>"))
    if not m:
        return None
    local, _, domain = m.group(0).rpartition("@")
    return f"{local}@{domain.lower()}"


def find_emails(text: str) -> list[tuple[str, int, int]]:
    """Email addresses in the text: (normalised, start, end)."""
    out: list[tuple[str, int, int]] = []
    if "@" not in text:
        return out  # the one character every address has
    for m in _EMAIL.finditer(text):
        local, _, domain = m.group(0).rpartition("@")
        out.append((f"{local}@{domain.lower()}", m.start(), m.end()))
    return out


_UPN_ANYWHERE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]\s?\d{3}\s?\d{4}\s?\d{2}\s?\d{2}[0-9A-Za-z](?![A-Za-z0-9])"
)
_POSTCODE_ANYWHERE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{1,2}\d[A-Za-z\d]?)\s*\d[A-Za-z]{2}(?![A-Za-z0-9])"
)


def find_upns(text: str) -> list[tuple[str, int, int]]:
    """Strings shaped like a UPN (valid or not): (normalised, start, end)."""
    if _DIGIT.search(text) is None:
        return []
    return [(normalise_upn(m.group(0)), m.start(), m.end()) for m in _UPN_ANYWHERE.finditer(text)]


def find_postcodes(text: str) -> list[tuple[str, int, int]]:
    """Valid UK postcodes in the text: (normalised, start, end)."""
    out: list[tuple[str, int, int]] = []
    if _DIGIT.search(text) is None:
        return out
    for m in _POSTCODE_ANYWHERE.finditer(text):
        value = normalise_postcode(m.group(0))
        if value:
            out.append((value, m.start(), m.end()))
    return out
