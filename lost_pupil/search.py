"""Finding a child in the index: blocking by indexed keys, then ranking with evidence."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from rapidfuzz.distance import JaroWinkler
from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    String,
    bindparam,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from lost_pupil.index import name_keys, name_parts, normalise_name, phonetic, swap_day_month
from lost_pupil.models import KeyKind, LostPupil, PupilKey
from parsers.ctf import DestinationKind
from parsers.identifiers import normalise_postcode, normalise_upn

#: Rows scored per search at most; blocks are ranked so the best-supported come first.
MAX_SCORED = 120
#: A name block larger than this is cut (a common name on its own says little).
MAX_BLOCK = 1000
#: Total log-weight at which the score reaches 0.5.
PRIOR = 8.0


class Outcome(StrEnum):
    EXACT = "exact"
    FORMER = "former"
    FUZZY = "fuzzy"
    SWAPPED = "swapped"
    PARTIAL = "partial"
    MISMATCH = "mismatch"
    MISSING = "missing"


@dataclass(frozen=True)
class SearchQuery:
    upn: str | None = None
    forename: str | None = None
    surname: str | None = None
    dob: date | None = None
    sex: str | None = None
    postcode: str | None = None
    statuses: tuple[str, ...] = ()  # empty: every status

    def is_empty(self) -> bool:
        return not any((self.upn, self.forename, self.surname, self.dob, self.postcode))


@dataclass(frozen=True)
class Evidence:
    field: str
    outcome: Outcome
    weight: float
    detail: str = ""


@dataclass(frozen=True)
class Candidate:
    id: int
    upn: str | None
    forename: str | None
    surname: str | None
    dob: date | None
    sex: str | None
    postcode: str | None
    source_laestab: str
    leaving_date: date | None
    dest_kind: str
    status: str
    file_id: int
    score: float
    weight: float
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)


class IndexRow(Protocol):
    """What score() reads: an ORM LostPupil or a plain row of the same columns."""

    upn: str | None
    former_upns: list[Any]
    surname_norm: str
    forename_norm: str
    other_names: list[Any]
    dob: date | None
    sex: str | None
    postcode: str | None


#: The columns search() loads: no ORM objects, so no identity-map cost per candidate.
ROW_COLUMNS = (
    LostPupil.id,
    LostPupil.upn,
    LostPupil.former_upns,
    LostPupil.surname,
    LostPupil.forename,
    LostPupil.surname_norm,
    LostPupil.forename_norm,
    LostPupil.other_names,
    LostPupil.dob,
    LostPupil.sex,
    LostPupil.postcode,
    LostPupil.source_laestab,
    LostPupil.leaving_date,
    LostPupil.dest_kind,
    LostPupil.status,
    LostPupil.file_id,
)


def listed_as_lost() -> ColumnElement[bool]:
    """The index rows that are lost pupils. A CTF addressed to a real school (a
    school-to-school transfer) is refused on import now, but rows stored before that are
    still in the index: they are never offered as a lost pupil, here or in matching."""
    return LostPupil.dest_kind != DestinationKind.SCHOOL.value


def _names(row: IndexRow, part: str) -> list[tuple[str, str]]:
    """(normalised name, kind) for the current, preferred and former names of a row."""
    current = row.surname_norm if part == "surname" else row.forename_norm
    out = [(current, "current")] if current else []
    for other in row.other_names or []:
        if other.get(part):
            out.append((other[part], other.get("kind", "other")))
    return out


def _name_evidence(label: str, wanted: str, known: list[tuple[str, str]], w: float) -> Evidence:
    if not wanted or not known:
        return Evidence(label, Outcome.MISSING, 0.0)
    best: Evidence | None = None
    for value, kind in known:
        parts = name_parts(value)
        if wanted == value or wanted in parts:
            outcome = Outcome.EXACT if kind == "current" else Outcome.FORMER
            ev = Evidence(label, outcome, w if kind == "current" else w * 0.9, f"{kind} name")
        else:
            sim = max(JaroWinkler.similarity(wanted, p) for p in parts)
            same_sound = phonetic(wanted) == phonetic(parts[0])
            if sim >= 0.88 or same_sound:
                why = "sounds the same" if same_sound else f"similarity {sim:.2f}"
                ev = Evidence(label, Outcome.FUZZY, w * 0.6, f"{kind} name, {why}")
            elif wanted[0] == value[0] and (len(wanted) == 1 or len(value) == 1):
                ev = Evidence(label, Outcome.PARTIAL, w * 0.25, "initial only")
            else:
                ev = Evidence(label, Outcome.MISMATCH, -w * 0.6)
        if best is None or ev.weight > best.weight:
            best = ev
    assert best is not None
    return best


def score(query: SearchQuery, row: IndexRow) -> tuple[float, tuple[Evidence, ...]]:
    """Fellegi-Sunter-style sum of per-field log weights; returns (total weight, evidence).

    This is the one function the matching engine replaces: it sees the query and one
    index row and nothing else.
    """
    ev: list[Evidence] = []
    upn = normalise_upn(query.upn or "")
    if upn:
        if row.upn == upn:
            ev.append(Evidence("upn", Outcome.EXACT, 12.0))
        elif upn in (row.former_upns or []):
            ev.append(Evidence("upn", Outcome.FORMER, 11.0, "a former UPN of this pupil"))
        elif row.upn:
            ev.append(Evidence("upn", Outcome.MISMATCH, -3.0))
        else:
            ev.append(Evidence("upn", Outcome.MISSING, 0.0))
    surname, forename = normalise_name(query.surname), normalise_name(query.forename)
    if surname or forename:
        s_ev = _name_evidence("surname", surname.replace(" ", ""), _names(row, "surname"), 5.0)
        f_ev = _name_evidence("forename", forename.replace(" ", ""), _names(row, "forename"), 4.0)
        if surname and forename and s_ev.weight <= 0 and f_ev.weight <= 0:
            # Forename and surname the wrong way round is a common data-entry slip.
            s_sw = _name_evidence("surname", forename, _names(row, "surname"), 5.0)
            f_sw = _name_evidence("forename", surname, _names(row, "forename"), 4.0)
            if s_sw.weight > 0 and f_sw.weight > 0:
                total = (s_sw.weight + f_sw.weight) * 0.85
                s_ev = Evidence(
                    "surname", Outcome.SWAPPED, total / 2, "forename and surname swapped"
                )
                f_ev = Evidence(
                    "forename", Outcome.SWAPPED, total / 2, "forename and surname swapped"
                )
        ev += [e for e in (s_ev, f_ev) if surname or e.field == "forename"]
    if query.dob:
        if row.dob is None:
            ev.append(Evidence("dob", Outcome.MISSING, 0.0))
        elif row.dob == query.dob:
            ev.append(Evidence("dob", Outcome.EXACT, 6.0))
        elif swap_day_month(query.dob) == row.dob:
            ev.append(Evidence("dob", Outcome.SWAPPED, 4.5, "day and month swapped"))
        else:
            same = sum(
                (
                    row.dob.year == query.dob.year,
                    row.dob.month == query.dob.month,
                    row.dob.day == query.dob.day,
                )
            )
            if same == 2:
                ev.append(Evidence("dob", Outcome.PARTIAL, 2.0, "one of day, month, year differs"))
            else:
                ev.append(Evidence("dob", Outcome.MISMATCH, -4.0))
    if query.sex:
        sex = query.sex.strip().upper()[:1]
        if not row.sex:
            ev.append(Evidence("sex", Outcome.MISSING, 0.0))
        else:
            ok = row.sex == sex
            ev.append(
                Evidence("sex", Outcome.EXACT if ok else Outcome.MISMATCH, 0.5 if ok else -2.0)
            )
    postcode = normalise_postcode(query.postcode)
    if query.postcode:
        if not row.postcode or not postcode:
            ev.append(Evidence("postcode", Outcome.MISSING, 0.0))
        elif row.postcode == postcode:
            ev.append(Evidence("postcode", Outcome.EXACT, 3.0))
        elif row.postcode[:-2] == postcode[:-2]:
            ev.append(Evidence("postcode", Outcome.PARTIAL, 1.5, "same postcode sector"))
        elif row.postcode.split()[0] == postcode.split()[0]:
            ev.append(Evidence("postcode", Outcome.PARTIAL, 0.5, "same postcode district"))
        else:
            # Families who go missing usually moved: a different postcode weighs little.
            ev.append(Evidence("postcode", Outcome.MISMATCH, 0.0))
    return sum(e.weight for e in ev), tuple(ev)


def to_probability(weight: float) -> float:
    return 1.0 / (1.0 + math.exp(-(weight - PRIOR)))


@functools.lru_cache(maxsize=128)
def _blocks_statement(
    upns: bool, dobs: bool, keys: int, ranges: int, postcodes: bool, cap: int
) -> Executable:
    """The blocking lookups for one shape of query, as one statement with its values bound
    by name: built once per shape (a query's values change, its shape seldom does).

    Each block is its own SELECT, capped on its own (one common name must not crowd the
    others out), all of them in one UNION ALL: one round trip. Each is an index seek (a
    row-value IN list could not seek the keys' index on SQLite, so one SELECT per key)."""
    parts: list[Select[int, str]] = []

    def block(stmt: Select[int], name: str, capped: bool = True) -> None:
        part = stmt.limit(cap).subquery() if capped else stmt.subquery()
        parts.append(select(part.c[0], literal(name, String)))

    key = PupilKey.key
    if upns:
        upn = PupilKey.kind == KeyKind.UPN.value
        block(select(PupilKey.pupil_id).where(upn, key.in_(bindparam("upns", expanding=True))),
              "upn", capped=False)  # fmt: skip
    if dobs:
        block(select(LostPupil.id).where(LostPupil.dob.in_(bindparam("dobs", expanding=True))),
              "dob")  # fmt: skip
    for i in range(keys):
        same = (PupilKey.kind == bindparam(f"kind{i}"), key == bindparam(f"key{i}"))
        block(select(PupilKey.pupil_id).where(*same), "name")
    for i in range(ranges):
        within = (key >= bindparam(f"from{i}"), key < bindparam(f"to{i}"))
        block(select(PupilKey.pupil_id).where(PupilKey.kind == bindparam(f"rkind{i}"), *within),
              "name")  # fmt: skip
    if postcodes:
        pc = LostPupil.postcode.in_(bindparam("postcodes", expanding=True))
        block(select(LostPupil.id).where(pc), "postcode")
    return parts[0] if len(parts) == 1 else union_all(*parts)


def candidates_by_keys(
    session: Session,
    *,
    upns: Iterable[str] = (),
    dobs: Iterable[date] = (),
    name_keys_: Iterable[tuple[str, str]] = (),
    name_prefixes: Iterable[tuple[str, str]] = (),
    postcodes: Iterable[str] = (),
    max_block: int = MAX_BLOCK,
) -> dict[int, set[str]]:
    """Pupil ids sharing any blocking key, each with the blocks it was found in.

    Every lookup is an index seek: UPN and former UPNs and the phonetic name keys on
    the keys table's primary key, DOB (with day and month swapped) and postcode on
    their own indexes. For the matching engine as much as for search().
    """
    params: dict[str, Any] = {}
    upn_list = sorted({normalise_upn(u) for u in upns if u})
    if upn_list:
        params["upns"] = upn_list
    dob_set: set[date] = set()
    for d in dobs:
        dob_set.add(d)
        swapped = swap_day_month(d)
        if swapped:
            dob_set.add(swapped)
    if dob_set:
        params["dobs"] = sorted(dob_set)
    keys = sorted(set(name_keys_))
    for i, (kind, key) in enumerate(keys):
        params[f"kind{i}"], params[f"key{i}"] = kind, key
    ranges = sorted(set(name_prefixes))
    for i, (kind, prefix) in enumerate(ranges):
        # A range on the primary key: "TMSN:" <= key < "TMSN;" (';' follows ':').
        params[f"rkind{i}"], params[f"from{i}"], params[f"to{i}"] = kind, f"{prefix}:", f"{prefix};"
    pc_list = sorted({p for p in (normalise_postcode(x) for x in postcodes) if p})
    if pc_list:
        params["postcodes"] = pc_list
    found: dict[int, set[str]] = {}
    if not params:
        return found
    stmt = _blocks_statement(
        bool(upn_list), bool(dob_set), len(keys), len(ranges), bool(pc_list), max_block
    )
    # Core on the session's connection: plain rows, none of the ORM's per-row work.
    for row in session.connection().execute(stmt, params):
        found.setdefault(row[0], set()).add(row[1])
    return found


def search(session: Session, query: SearchQuery, limit: int = 20) -> list[Candidate]:
    """Ranked candidates for the query, each with the evidence per field."""
    if query.is_empty():
        return []
    surname, forename = normalise_name(query.surname), normalise_name(query.forename)
    keys: set[tuple[str, str]] = set()
    prefixes: set[tuple[str, str]] = set()
    if surname and forename:
        # Both ways round, so a swapped forename and surname still meet in a block.
        keys = name_keys([surname], [forename]) | name_keys([forename], [surname])
    elif surname:
        prefixes = {(KeyKind.SURNAME.value, phonetic(p)) for p in name_parts(surname)}
    elif forename:
        prefixes = {(KeyKind.FORENAME.value, phonetic(p)) for p in name_parts(forename)}
    blocks = candidates_by_keys(
        session,
        upns=[query.upn] if query.upn else [],
        dobs=[query.dob] if query.dob else [],
        name_keys_=keys,
        name_prefixes=prefixes,
        postcodes=[query.postcode] if query.postcode else [],
    )
    # The more blocks a row is in, the likelier it is the child: score those first.
    order = sorted(blocks, key=lambda pid: (-len(blocks[pid]), "upn" not in blocks[pid], pid))
    ids = order[:MAX_SCORED]
    if not ids:
        return []
    stmt = select(*ROW_COLUMNS).where(LostPupil.id.in_(ids), listed_as_lost())
    if query.statuses:
        stmt = stmt.where(LostPupil.status.in_(query.statuses))
    out = []
    for row in session.connection().execute(stmt):
        weight, evidence = score(query, row)
        out.append(
            Candidate(
                id=row.id,
                upn=row.upn,
                forename=row.forename,
                surname=row.surname,
                dob=row.dob,
                sex=row.sex,
                postcode=row.postcode,
                source_laestab=row.source_laestab,
                leaving_date=row.leaving_date,
                dest_kind=row.dest_kind,
                status=row.status,
                file_id=row.file_id,
                score=round(to_probability(weight), 4),
                weight=round(weight, 2),
                evidence=evidence,
            )
        )
    out.sort(key=lambda c: (-c.weight, c.id))
    return out[:limit]
