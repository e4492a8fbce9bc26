"""Blocking: the few store records worth comparing with a query, found through shared keys."""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from gateway.matching.features import Features
from gateway.matching.normalise import nickname_groups, phonetic, variant_groups


def _given_forms(f: Features) -> set[str]:
    forms = {t for t in f.given_all if not t.startswith("#")}
    if f.fn:
        forms.add(f.fn)
    return forms


def _surname_forms(f: Features) -> set[str]:
    return set(f.sn_forms) | set(f.other_sn)


def _dob_keys(f: Features) -> list[str]:
    return ["d" + f.dob_digits] if f.dob_digits else []


def _street_keys(f: Features, initials: set[str]) -> set[str]:
    """House number + sound of the street's first word + a name initial: finds a record
    whose names, date and postcode were all mistyped but whose address was not."""
    if not f.addr or not f.house:
        return set()
    return set(_street_key_set(f.addr, f.house, f.town, bool(f.outward), frozenset(initials)))


@lru_cache(maxsize=200_000)
def _street_key_set(
    addr: str, house: str, town: str, uk: bool, initials: frozenset[str]
) -> frozenset[str]:
    # Cached: siblings share the address and often initials; keys of one value made once.
    words = addr.split()
    street = next((w for w in words if w.isalpha() and w not in ("flat", "unit")), "")
    keys = {f"a{house}|{phonetic(street)}|{i}" for i in initials} if street else set()
    if town and not uk:
        # House number and town, where there is no UK postcode to say where: finds the
        # record when the street itself was mistyped.
        keys.add(f"t{house}|{phonetic(town.replace(' ', ''))}")
    return frozenset(keys)


def _prefix_keys(first: set[str], last: set[str]) -> set[str]:
    return {f"k{a[:3]}|{b[:3]}" for a in first for b in last if a and b}


@lru_cache(maxsize=200_000)
def _name_keys(
    fn: str, given_all: frozenset[str], sn_forms: frozenset[str], other_sn: frozenset[str]
) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """A store record's name keys (sound of each surname form with each given form), and
    the sounds themselves for the date keys: made once per distinct set of names."""
    forms = {t for t in given_all if not t.startswith("#")}
    if fn:
        forms.add(fn)
    snames = {phonetic(s) for s in sn_forms | other_sn}
    gnames = {phonetic(g) for g in forms}
    keys = {f"n{s}|{g}" for s in snames for g in gnames}
    return frozenset(keys), tuple(sorted(gnames)), tuple(sorted(snames))


def store_keys(f: Features) -> set[str]:
    """Every key a store record is filed under."""
    keys: set[str] = set()
    if f.addr and f.house:
        keys |= _street_key_set(
            f.addr, f.house, f.town, bool(f.outward), frozenset(x[0] for x in (f.fn, f.sn) if x)
        )
    if f.fn and f.sn:
        keys.add(f"k{f.fn[:3]}|{f.sn[:3]}")
    if f.upn:
        keys.add("u" + f.upn)
    keys.update("u" + u for u in f.former_upns)
    if f.dob_digits:
        keys.add("d" + f.dob_digits)
    name_keys, gnames, snames = _name_keys(f.fn, f.given_all, f.sn_forms, f.other_sn)
    keys |= name_keys
    d = f.dob
    if d is not None and d.year is not None and d.month is not None:
        ym = f"|{d.year}{d.month:02d}"
        md = f"|{d.month:02d}{d.day:02d}"
        for g in gnames:
            keys.add(f"y{g}{ym}")
            keys.add(f"m{g}{md}")
        for s in snames:
            keys.add(f"y{s}{ym}")
    if f.postcode:
        keys.add("p" + f.postcode)
    return keys


_REVERSE: dict[str, set[str]] = {}


def _equivalents(name: str) -> set[str]:
    """A name and every nickname / variant form sharing a group with it."""
    if not _REVERSE:
        for table in (nickname_groups(), variant_groups()):
            for n, ids in table.items():
                for gid in ids:
                    _REVERSE.setdefault(f"{id(table)}:{gid}", set()).add(n)
    out = {name}
    for table in (nickname_groups(), variant_groups()):
        for gid in table.get(name, ()):
            out |= _REVERSE[f"{id(table)}:{gid}"]
    return out


def query_keys(f: Features) -> set[str]:
    """The keys to look up for a query: its own, plus swaps, partial dates and name variants."""
    keys: set[str] = set()
    keys |= _street_keys(f, {x[0] for x in (f.fn, f.sn) if x})
    keys |= _prefix_keys({f.fn}, {f.sn}) | _prefix_keys({f.sn}, {f.fn})
    if f.upn:
        keys.add("u" + f.upn)
    keys.update("u" + u for u in f.former_upns)
    keys.update(_dob_keys(f))
    d = f.dob
    if d is not None and d.complete and d.day is not None and d.day <= 12 and d.day != d.month:
        keys.add(f"d{d.year:04d}{d.day:02d}{d.month:02d}")
    given: set[str] = set()
    for g in _given_forms(f):
        given |= _equivalents(g)
    snames = {phonetic(s) for s in _surname_forms(f)}
    gnames = {phonetic(g) for g in given}
    for s in snames:
        for g in gnames:
            keys.add(f"n{s}|{g}")
            keys.add(f"n{g}|{s}")  # forename and surname swapped
    if d is not None and d.month is not None:
        for g in gnames:
            keys.add(f"m{g}|{d.month:02d}{d.day:02d}")
            if d.day is not None and d.day <= 12:
                keys.add(f"m{g}|{d.day:02d}{d.month:02d}")
        if d.year is not None:
            for g in gnames:
                keys.add(f"y{g}|{d.year}{d.month:02d}")
            for s in snames:
                keys.add(f"y{s}|{d.year}{d.month:02d}")
    elif d is not None and d.year is not None:
        for g in gnames:
            keys.update(f"y{g}|{d.year}{m:02d}" for m in range(1, 13))
    if f.postcode:
        keys.add("p" + f.postcode)
    return keys


class BlockingIndex:
    """Key -> store positions, in memory. Keys are held as their hashes (a rare collision
    only adds a candidate, which scoring then judges), to keep a large index small."""

    def __init__(self, cap: int = 120) -> None:
        self._index: defaultdict[int, list[int]] = defaultdict(list)
        self.cap = cap

    def add(self, position: int, keys: Iterable[str]) -> None:
        index = self._index
        for h in map(hash, keys):
            index[h].append(position)

    def add_wanted(self, position: int, keys: Iterable[str], wanted: frozenset[int]) -> None:
        """add, filing the position only under the keys whose hash is in `wanted` (every key
        some query will look up): those keys' lookups give what add would give, and the
        index holds no bucket that no query asks for."""
        index = self._index
        for h in wanted.intersection(map(hash, keys)):
            index[h].append(position)

    def lookup(self, keys: Iterable[str]) -> set[int]:
        """Positions sharing any key; past `cap` of them, those sharing the most informative
        keys (a key shared by few records says more than one shared by thousands)."""
        index = self._index
        buckets = [b for b in (index.get(hash(k)) for k in keys) if b]
        total = sum(len(b) for b in buckets)
        if total <= self.cap:
            return {p for b in buckets for p in b}
        scores: dict[int, float] = {}
        get = scores.get
        for b in buckets:
            w = 1.0 / math.log2(len(b) + 1.0)
            for p in b:
                scores[p] = get(p, 0.0) + w
        if len(scores) <= self.cap:
            return set(scores)
        return set(heapq.nlargest(self.cap, scores, key=scores.__getitem__))

    def __len__(self) -> int:
        return len(self._index)
