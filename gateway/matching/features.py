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
from gateway.matching.records import Contact, PartialDate, PersonRecord
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


@lru_cache(maxsize=200_000)
def _surname_info(raw: str) -> tuple[str, frozenset[str], frozenset[str]]:
    forms = _surname_forms(raw)
    # Whole-name forms only: one part of a compound surname is a weaker "part" match.
    whole = {joined(raw), "".join(core_tokens(raw))} - {""}
    canon = frozenset(surname_stem(canonical_variant(f)) for f in whole)
    return joined(raw), frozenset(forms), canon


@lru_cache(maxsize=200_000)
def _given_info(
    forename: str, preferred: str, middle: str
) -> tuple[str, str, frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """(whole forename, first part, all forename parts, canonical forename parts,
    canonical middle parts, canonical given parts) for a forename/preferred/middle triple."""
    fn_parts = tokens(forename)
    mid_parts = tokens(middle)
    fn_all = set(fn_parts) | set(tokens(preferred))
    if len(fn_parts) > 1:
        fn_all.add("".join(fn_parts))
    return (
        joined(forename),
        fn_parts[0] if fn_parts else "",
        frozenset(fn_all),
        frozenset(_canon(fn_all)),
        frozenset(_canon(mid_parts)),
        frozenset(_canon(fn_all | set(mid_parts))),
    )


@lru_cache(maxsize=200_000)
def _postcode_info(raw: str) -> tuple[str, str, str]:
    uk_pc = normalise_postcode(raw)
    return postcode_key(raw), (uk_pc.split()[0] if uk_pc else ""), (uk_pc[:-2] if uk_pc else "")


@lru_cache(maxsize=200_000)
def _contacts_info(
    contacts: tuple[Contact, ...],
) -> tuple[tuple[tuple[str, str], ...], frozenset[str], frozenset[str]]:
    pairs = tuple((joined(c.forename), joined(c.surname)) for c in contacts)
    return (
        pairs,
        frozenset(c[0] for c in pairs if c[0]),
        frozenset(c[1] for c in pairs if c[1]),
    )


@lru_cache(maxsize=200_000)
def _address_info(raw: str) -> tuple[str, str]:
    addr = address_key(raw)
    return addr, house_number(addr) if addr else ""


_NO_OTHER: frozenset[str] = frozenset()


def prepare(rec: PersonRecord, as_of: date) -> Features:
    """Fold and key one record for the comparison rules (name, postcode and contact parts
    are cached: families and popular names repeat)."""
    fn, fn_first, _, fn_tokens, middle, given_base = _given_info(
        rec.forename, rec.preferred_forename, rec.middle_names
    )
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
        if former:
            other_sn |= _surname_forms(former)
    sn, sn_forms, sn_canon = _surname_info(rec.surname)
    pc, outward, sector = _postcode_info(rec.postcode)
    addr, house = _address_info(rec.address) if rec.address else ("", "")
    contacts, contact_fn, contact_sn = _contacts_info(rec.contacts)
    dob = rec.dob
    return Features(
        record=rec,
        fn=fn,
        fn_first=fn_first,
        fn_tokens=fn_tokens,
        middle=middle,
        given_all=given_base | frozenset(_canon(alias_given)) if alias_given else given_base,
        sn=sn,
        sn_forms=sn_forms,
        sn_canon=sn_canon,
        other_sn=frozenset(other_sn - {""}) if other_sn else _NO_OTHER,
        alias_fn=frozenset(_canon(alias_fn)) if alias_fn else _NO_OTHER,
        dob=dob,
        dob_digits=dob.digits() if dob is not None and dob.complete else "",
        sex=rec.sex.strip().upper()[:1],
        upn=normalise_upn(rec.upn) if rec.upn else "",
        former_upns=frozenset(normalise_upn(u) for u in rec.former_upns if u.strip())
        if rec.former_upns
        else _NO_OTHER,
        addr=addr,
        house=house,
        postcode=pc,
        outward=outward,
        sector=sector,
        town=fold(rec.town) if rec.town else "",
        contact_fn=contact_fn,
        contact_sn=contact_sn,
        contacts=contacts,
        school=rec.school.strip(),
        year_group=parse_year_group(rec.year_group) if rec.year_group else None,
        cohort=school_year_of(dob, as_of),
    )


@lru_cache(maxsize=100_000)
def upn_valid(upn: str) -> bool:
    """Whether a UPN passes its check letter (computed when a comparison needs it)."""
    return bool(upn) and check_upn(upn).valid
