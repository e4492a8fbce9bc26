"""A record prepared once for comparison: folded names, sound keys, address and date parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from gateway.matching.normalise import (
    address_key,
    canonical_variant,
    core_tokens,
    fold,
    house_number,
    joined,
    postcode_key,
    surname_stem,
    tokens,
)
from gateway.matching.records import PartialDate, PersonRecord
from parsers.identifiers import check_upn, normalise_postcode, normalise_upn

_YEAR_GROUPS = {"r": 0, "reception": 0, "n": -1, "nursery": -1}


def parse_year_group(raw: str) -> int | None:
    """'R' -> 0, '7' -> 7, 'Y7' -> 7; None when empty or not a year group."""
    text = raw.strip().lower().replace("year", "").replace(" ", "").lstrip("y")
    if text in _YEAR_GROUPS:
        return _YEAR_GROUPS[text]
    return int(text) if text.isdigit() and int(text) <= 14 else None


def school_year_of(dob: PartialDate | None, as_of: date) -> int | None:
    """The National Curriculum year (Reception = 0) a child born on dob is in on as_of."""
    if dob is None or dob.year is None or dob.month is None:
        return None
    academic_start = as_of.year if as_of.month >= 9 else as_of.year - 1
    cohort = dob.year if dob.month >= 9 else dob.year - 1
    return academic_start - 5 - cohort


def _surname_forms(raw: str) -> set[str]:
    parts = core_tokens(raw)
    forms = {joined(raw), *parts, "".join(parts)} - {""}
    return forms


@dataclass(slots=True)
class Features:
    """What the comparison rules need, computed once per record."""

    record: PersonRecord
    fn: str  # whole primary forename, run together
    fn_first: str
    fn_tokens: frozenset[str]  # parts of the primary (and preferred) forename, canonical spelling
    middle: frozenset[str]  # middle-name parts, canonical spelling
    given_all: frozenset[str]  # every given-name part known, incl. aliases, canonical spelling
    sn: str
    sn_forms: frozenset[str]  # whole surname, its parts, particles off
    sn_canon: frozenset[str]  # forms in canonical spelling, gendered endings off
    other_sn: frozenset[str]  # former, preferred and alias surnames (all forms)
    alias_fn: frozenset[str]
    dob: PartialDate | None
    dob_digits: str
    sex: str
    upn: str
    former_upns: frozenset[str]
    addr: str
    house: str
    postcode: str
    outward: str
    sector: str
    town: str
    contact_fn: frozenset[str]
    contact_sn: frozenset[str]
    contacts: tuple[tuple[str, str], ...]
    school: str
    year_group: int | None  # as a source stated it
    cohort: int | None  # as the date of birth implies


def _canon(parts: set[str] | tuple[str, ...]) -> set[str]:
    return {canonical_variant(p) for p in parts} | set(parts)


def prepare(rec: PersonRecord, as_of: date) -> Features:
    """Fold and key one record for the comparison rules."""
    fn_parts = tokens(rec.forename)
    pref_parts = tokens(rec.preferred_forename)
    mid_parts = tokens(rec.middle_names)
    alias_fn: set[str] = set()
    alias_given: set[str] = set()
    other_sn: set[str] = set()
    for alias in rec.aliases:
        parts = tokens(alias)
        if len(parts) >= 2:
            alias_fn.add(parts[0])
            alias_given.update(parts[:-1])
            other_sn.add(parts[-1])
            other_sn.add("".join(parts[1:]))
            other_sn.add("".join(parts[-2:]))
        elif parts:
            alias_given.add(parts[0])
    for former in (*rec.former_surnames, rec.preferred_surname):
        other_sn |= _surname_forms(former)
    fn_all = set(fn_parts) | set(pref_parts)
    if len(fn_parts) > 1:
        fn_all.add("".join(fn_parts))
    sn_forms = _surname_forms(rec.surname)
    # Whole-name forms only: one part of a compound surname is a weaker "part" match.
    whole = {joined(rec.surname), "".join(core_tokens(rec.surname))} - {""}
    sn_canon = {surname_stem(canonical_variant(f)) for f in whole}
    upn = normalise_upn(rec.upn) if rec.upn else ""
    uk_pc = normalise_postcode(rec.postcode)
    pc = postcode_key(rec.postcode)
    outward = uk_pc.split()[0] if uk_pc else ""
    sector = uk_pc[:-2] if uk_pc else ""
    addr = address_key(rec.address)
    contacts = tuple((joined(c.forename), joined(c.surname)) for c in rec.contacts)
    yg = parse_year_group(rec.year_group) if rec.year_group else None
    return Features(
        record=rec,
        fn=joined(rec.forename),
        fn_first=fn_parts[0] if fn_parts else "",
        fn_tokens=frozenset(_canon(fn_all)),
        middle=frozenset(_canon(mid_parts)),
        given_all=frozenset(_canon(fn_all | set(mid_parts) | alias_given)),
        sn=joined(rec.surname),
        sn_forms=frozenset(sn_forms),
        sn_canon=frozenset(sn_canon),
        other_sn=frozenset(other_sn - {""}),
        alias_fn=frozenset(_canon(alias_fn)),
        dob=rec.dob,
        dob_digits=rec.dob.digits() if rec.dob and rec.dob.complete else "",
        sex=rec.sex.strip().upper()[:1],
        upn=upn,
        former_upns=frozenset(normalise_upn(u) for u in rec.former_upns if u.strip()),
        addr=addr,
        house=house_number(addr) if addr else "",
        postcode=pc,
        outward=outward,
        sector=sector,
        town=fold(rec.town),
        contact_fn=frozenset(c[0] for c in contacts if c[0]),
        contact_sn=frozenset(c[1] for c in contacts if c[1]),
        contacts=contacts,
        school=rec.school.strip(),
        year_group=yg,
        cohort=school_year_of(rec.dob, as_of),
    )


@lru_cache(maxsize=100_000)
def upn_valid(upn: str) -> bool:
    """Whether a UPN passes its check letter (computed when a comparison needs it)."""
    return bool(upn) and check_upn(upn).valid
