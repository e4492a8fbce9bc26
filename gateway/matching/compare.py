"""The comparison rules: for each field, how closely two prepared records agree (a level)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import ratio, token_set_ratio

from gateway.matching.features import Features, upn_valid
from gateway.matching.normalise import (
    canonical_variant,
    nickname_equivalent,
    phonetic,
    surname_stem,
)

MISSING = -1  # a side is unknown: no evidence either way


@dataclass(frozen=True)
class FieldSpec:
    """A compared field and the names of its levels, best first."""

    name: str
    levels: tuple[str, ...]


FORENAME = FieldSpec(
    "forename", ("exact", "variant", "part", "fuzzy_high", "fuzzy", "initial", "different")
)
SURNAME = FieldSpec(
    "surname",
    (
        "exact",
        "variant",
        "part",
        "former_or_alias",
        "fuzzy_high",
        "fuzzy",
        "patronymic",
        "family",
        "different",
    ),
)
MIDDLE = FieldSpec("middle_names", ("agree", "different"))
DOB = FieldSpec(
    "dob",
    ("exact", "day_month_swap", "one_digit", "month_day", "year", "near", "different"),
)
SEX = FieldSpec("sex", ("agree", "different"))
UPN = FieldSpec("upn", ("exact", "former", "different"))
ADDRESS = FieldSpec("address", ("address", "postcode", "sector", "district_or_town", "different"))
PARENTS = FieldSpec("parents", ("full_name", "forename", "different"))
SCHOOL = FieldSpec("school", ("same", "same_la", "different"))
YEAR_GROUP = FieldSpec("year_group", ("agree", "one_off", "different"))

FIELDS: tuple[FieldSpec, ...] = (
    FORENAME,
    SURNAME,
    MIDDLE,
    DOB,
    SEX,
    UPN,
    ADDRESS,
    PARENTS,
    SCHOOL,
    YEAR_GROUP,
)
F_FORENAME, F_SURNAME, F_MIDDLE, F_DOB, F_SEX, F_UPN, F_ADDRESS, F_PARENTS, F_SCHOOL, F_YG = range(
    len(FIELDS)
)


def _given_level(
    a: str, a_first: str, a_given: frozenset[str], b: str, b_first: str, b_given: frozenset[str]
) -> int:
    """Forename rule, usable both ways round (for surname/forename swaps).

    a/b: the whole forename run together; *_first: its first part; *_given: every given-name
    part the record knows (middle names, aliases, canonical spellings). What depends on the
    two names alone is worked out once per pair of names (_names_level): a query meets the
    same few forenames again and again among its candidates, while its given-name parts and
    theirs are seldom met together twice.
    """
    if not a or not b:
        return MISSING
    if a == b:
        return 0
    level = _names_level(a, a_first, b, b_first)
    if level == 1:
        return 1
    # Hyphenated first part, middle name used as forename, forename moved to middle names.
    if a in b_given or a_first in b_given or b in a_given or b_first in a_given:
        return 2
    if canonical_variant(a_first) in b_given or canonical_variant(b_first) in a_given:
        return 2
    return level


@lru_cache(maxsize=500_000)
def _names_level(a: str, a_first: str, b: str, b_first: str) -> int:
    """The forename rule's levels from two different, non-empty names alone: 1 (variant or
    nickname), else 3-6 (how close they are), the given-name parts' level 2 checked between
    by _given_level."""
    if canonical_variant(a) == canonical_variant(b) or nickname_equivalent(a, b):
        return 1
    if a_first != a and b_first != b and nickname_equivalent(a_first, b_first):
        return 1
    sim = JaroWinkler.similarity(a, b)
    if sim >= 0.92 or (len(a) > 3 and len(b) > 3 and OSA.distance(a, b) <= 1):
        return 3
    # A short name with one letter dropped or added ('Tra' for 'Tara'), not one changed
    # ('Ava' and 'Eva' are different children).
    if min(len(a), len(b)) >= 3 and abs(len(a) - len(b)) == 1 and OSA.distance(a, b) == 1:
        return 3
    # Spellings that sound alike (Yusuf/Youssef, Zac/Zak) and pet forms (Alfy/Alfred).
    if (len(a) > 2 and len(b) > 2 and phonetic(a) == phonetic(b)) or _pet_form(a, b):
        return 3
    if sim >= 0.84:
        return 4
    if len(a) == 1 or len(b) == 1:
        return 5 if a[0] == b[0] else 6
    return 6


_PET_ENDINGS = ("ie", "y", "ey", "i")


@lru_cache(maxsize=200_000)
def _pet_form(a: str, b: str) -> bool:
    """'Alfy' ~ 'Alfred', 'Immy' ~ 'Imogen': a short form made of the start of the name
    (a doubled last letter undone) and a diminutive ending."""
    short, full = (a, b) if len(a) < len(b) else (b, a)
    for end in _PET_ENDINGS:
        if short.endswith(end) and len(short) - len(end) >= 2:
            stem = short[: -len(end)]
            if len(stem) >= 3 and stem[-1] == stem[-2]:
                stem = stem[:-1]
            return len(stem) >= 2 and full.startswith(stem) and len(full) >= len(stem) + 2
    return False


def forename_level(q: Features, s: Features) -> int:
    level = _given_level(q.fn, q.fn_first, q.given_all, s.fn, s.fn_first, s.given_all)
    # A formal name listed as an alias is as good as the name itself.
    if level > 1 and (q.alias_fn & s.fn_tokens or s.alias_fn & q.fn_tokens):
        return 1
    return level


def surname_level(q: Features, s: Features) -> int:
    if not q.sn or not s.sn:
        return MISSING
    level = _surname_names_level(
        q.sn, q.sn_canon, q.sn_forms, q.other_sn, s.sn, s.sn_canon, s.sn_forms, s.other_sn
    )
    if level < 6:
        return level
    if q.sn_forms & (s.middle | s.contact_fn) or s.sn_forms & (q.middle | q.contact_fn):
        return 6
    if q.sn_forms & s.contact_sn or s.sn_forms & q.contact_sn:
        return 7
    return 8


@lru_cache(maxsize=500_000)
def _surname_names_level(
    q_sn: str,
    q_canon: frozenset[str],
    q_forms: frozenset[str],
    q_other: frozenset[str],
    s_sn: str,
    s_canon: frozenset[str],
    s_forms: frozenset[str],
    s_other: frozenset[str],
) -> int:
    """Levels 0-5 of the surname rule, from the surnames alone (6 when none applies);
    cached, as common surnames meet each other again and again."""
    if q_sn == s_sn:
        return 0
    if q_canon & s_canon:
        return 1
    if q_forms & s_forms:
        return 2
    if q_forms & s_other or s_forms & q_other:
        return 3
    sim = JaroWinkler.similarity(q_sn, s_sn)
    if sim >= 0.92 or (len(q_sn) > 3 and OSA.distance(q_sn, s_sn) <= 1):
        return 4
    if sim >= 0.84 or _stem_close(q_forms, s_forms):
        return 5
    return 6


def _stem_close(q_forms: frozenset[str], s_forms: frozenset[str]) -> bool:
    return any(
        JaroWinkler.similarity(surname_stem(a), surname_stem(b)) >= 0.92
        for a in q_forms
        for b in s_forms
    )


def swapped_levels(q: Features, s: Features) -> tuple[int, int] | None:
    """(forename, surname) levels with the query's forename and surname exchanged, if better."""
    if not (q.fn and q.sn and s.fn and s.sn):
        return None
    # The surname side first: it is the cheaper, and fails for almost every pair.
    if q.fn in s.sn_forms or s.sn in q.fn_tokens:
        sl = 0 if q.fn == s.sn else 2
    elif JaroWinkler.similarity(q.fn, s.sn) >= 0.92:
        sl = 4
    else:
        return None
    fl = _given_level(q.sn, q.sn, q.sn_forms, s.fn, s.fn_first, s.given_all)
    if fl > 3:
        return None
    return fl, sl


def middle_level(q: Features, s: Features) -> int:
    if not q.middle or not s.middle:
        return MISSING
    return 0 if q.middle & s.middle else 1


def dob_level(q: Features, s: Features) -> int:
    a, b = q.dob, s.dob
    if a is None or b is None:
        return MISSING
    if q.dob_digits and s.dob_digits:
        return _full_dob_level(q.dob_digits, s.dob_digits)
    if a.year is None or b.year is None:
        # Month and day known on both (one side without a year).
        if a.month is None or b.month is None:
            return MISSING
        if (a.month, a.day) == (b.month, b.day):
            return 3
        return 1 if (a.month, a.day) == (b.day, b.month) else 6
    # Year only on a side.
    return 4 if a.year == b.year else 6


@lru_cache(maxsize=500_000)
def _full_dob_level(x: str, y: str) -> int:
    """The date rule for two complete dates, as YYYYMMDD digits."""
    if x == y:
        return 0
    if x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]:
        return 1
    diff = sum(c != d for c, d in zip(x, y, strict=True))
    if diff == 1 or (diff == 2 and _adjacent_transposed(x, y)):
        return 2
    if x[:6] == y[:6]:
        return 5
    return 6


def _adjacent_transposed(x: str, y: str) -> bool:
    idx = [i for i, (c, d) in enumerate(zip(x, y, strict=True)) if c != d]
    return idx[1] == idx[0] + 1 and x[idx[0]] == y[idx[1]] and x[idx[1]] == y[idx[0]]


def sex_level(q: Features, s: Features) -> int:
    if not q.sex or not s.sex:
        return MISSING
    return 0 if q.sex == s.sex else 1


def upn_level(q: Features, s: Features) -> int:
    # A UPN failing its check letter is a typo: it helps find the record, never scores.
    if not (q.upn and upn_valid(q.upn)):
        return MISSING
    if s.upn and q.upn == s.upn:
        return 0
    if q.upn in s.former_upns or (s.upn and s.upn in q.former_upns):
        return 1
    return 2 if s.upn and upn_valid(s.upn) else MISSING


def address_level(q: Features, s: Features) -> int:
    have_pc = bool(q.postcode and s.postcode)
    # Set ratio: one address may carry an extra locality line or a flat number.
    same_line = (
        q.addr
        and s.addr
        and q.house == s.house
        and (
            token_set_ratio(q.addr, s.addr) >= 90
            # A space lost or gained inside a street name ('walkercrescent').
            or ratio(q.addr.replace(" ", ""), s.addr.replace(" ", "")) >= 90
        )
    )
    # A one-character postcode slip at the same street address is the same address.
    if same_line and (
        not have_pc or q.postcode == s.postcode or OSA.distance(q.postcode, s.postcode) <= 1
    ):
        return 0
    if have_pc:
        if q.postcode == s.postcode:
            return 1
        if q.sector and q.sector == s.sector:
            return 2
        if q.outward and q.outward == s.outward:
            return 3
    if q.town and s.town and q.town == s.town:
        return 3
    if have_pc or (q.addr and s.addr):
        return 4
    return MISSING


def parents_level(q: Features, s: Features) -> int:
    if not q.contacts or not s.contacts:
        return MISSING
    best = 2
    for qf, qs in q.contacts:
        if not qf:
            continue
        for sf, ss in s.contacts:
            if not sf:
                continue
            if qf == sf or nickname_equivalent(qf, sf) or JaroWinkler.similarity(qf, sf) >= 0.9:
                if qs and ss and (qs == ss or JaroWinkler.similarity(qs, ss) >= 0.9):
                    return 0
                best = 1
    return best


def school_level(q: Features, s: Features) -> int:
    if not q.school or not s.school:
        return MISSING
    if q.school == s.school:
        return 0
    return 1 if q.school[:3] == s.school[:3] else 2


def year_group_level(q: Features, s: Features) -> int:
    # Only where a date of birth is incomplete: otherwise the year group repeats the date's
    # evidence and would count it twice.
    if q.dob is not None and q.dob.complete and s.dob is not None and s.dob.complete:
        return MISSING
    a = q.year_group if q.year_group is not None else q.cohort
    b = s.year_group if s.year_group is not None else s.cohort
    if a is None or b is None or (q.year_group is None and s.year_group is None):
        return MISSING
    gap = abs(a - b)
    return 0 if gap == 0 else 1 if gap == 1 else 2


def compare(q: Features, s: Features) -> tuple[tuple[int, ...], bool]:
    """The level of every field, and whether forename and surname were taken swapped."""
    fl = forename_level(q, s)
    sl = surname_level(q, s)
    swapped = False
    if fl >= 3 or sl >= 4:
        alt = swapped_levels(q, s)
        if alt is not None and alt[0] + alt[1] < max(fl, 0) + max(sl, 0):
            fl, sl = alt
            swapped = True
    return (
        (
            fl,
            sl,
            middle_level(q, s),
            dob_level(q, s),
            sex_level(q, s),
            upn_level(q, s),
            address_level(q, s),
            parents_level(q, s),
            school_level(q, s),
            year_group_level(q, s),
        ),
        swapped,
    )


def field_values(f: Features, field: int) -> str:
    """The value shown beside a field's evidence (as the source wrote it)."""
    r = f.record
    match field:
        case 0:
            return r.forename
        case 1:
            return r.surname
        case 2:
            return r.middle_names
        case 3:
            return str(r.dob) if r.dob else ""
        case 4:
            return r.sex
        case 5:
            return r.upn
        case 6:
            return ", ".join(x for x in (r.address, r.town, r.postcode) if x)
        case 7:
            return "; ".join(f"{c.forename} {c.surname}".strip() for c in r.contacts)
        case 8:
            return r.school
        case _:
            return r.year_group or (str(f.cohort) if f.cohort is not None else "")
