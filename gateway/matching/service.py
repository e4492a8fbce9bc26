"""Candidates for a referral from every source (open cases, lost pupils, school rolls, the
EHE register), and the officer's decisions on them."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Executable, Row, bindparam, func, or_, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.inputs import ReferralInput
from gateway.cases.workflow import CLOSED
from gateway.errors import UserError
from gateway.matching.decisions import Decision, OfficerVerdict, Thresholds
from gateway.matching.engine import Candidate, MatchEngine
from gateway.matching.normalise import tokens
from gateway.matching.records import Contact, PartialDate, PersonRecord
from gateway.models.case import Case
from gateway.models.child import Carer, Child, ChildAddress
from gateway.models.matching import MatchDecision, RegisterEntry
from gateway.sqltext import normal_text
from lost_pupil.index import name_keys, normalise_name
from lost_pupil.models import LostPupil
from lost_pupil.search import candidates_by_keys, listed_as_lost

SOURCES = ("case", "lost_pupil", "roll", "ehe")


@dataclass(frozen=True)
class SourcedCandidate:
    """A candidate with where it came from: `ref` is "<source>:<id>"."""

    source: str
    ref: str
    candidate: Candidate


def _pd(d: date | None) -> PartialDate | None:
    return PartialDate.from_date(d) if d else None


def _child_record(
    ref: str,
    child: Any,
    address: tuple[str | None, str | None, str | None] | None,
    carers: Iterable[tuple[str, str | None]],
) -> PersonRecord:
    """A child as the matching engine reads a record: `child` is the ORM object or a row
    with its columns, `address` the current one's (line 1, town, postcode), `carers` their
    (name, relationship)."""
    others = child.other_names or []
    line1, town, postcode = address or (None, None, None)
    return PersonRecord(
        record_id=ref,
        forename=child.forenames,
        surname=child.surname,
        middle_names=child.middle_names or "",
        aliases=tuple(
            f"{o.get('forename', '')} {o.get('surname', '')}".strip()
            for o in others
            if isinstance(o, dict) and o.get("forename") and o.get("surname")
        ),
        former_surnames=tuple(
            o["surname"] for o in others if isinstance(o, dict) and o.get("surname")
        ),
        dob=_pd(child.dob),
        sex=child.sex or "",
        upn=child.upn or "",
        former_upns=tuple(str(u) for u in child.former_upns or []),
        address=line1 or "",
        town=town or "",
        postcode=postcode or "",
        contacts=tuple(
            Contact(" ".join(tokens(name)[:1]), " ".join(tokens(name)[-1:]), relationship or "")
            for name, relationship in carers
        ),
        year_group=child.year_group or "",
    )


def record_from_child(child: Child, ref: str) -> PersonRecord:
    addr = child.current_address
    return _child_record(
        ref,
        child,
        (addr.line1, addr.town, addr.postcode) if addr else None,
        [(c.name, c.relationship_to_child) for c in child.carers],
    )


def record_from_lost_pupil(row: LostPupil) -> PersonRecord:
    others = row.other_names or []
    return PersonRecord(
        record_id=f"lost_pupil:{row.id}",
        forename=row.forename or "",
        surname=row.surname or "",
        middle_names=row.middle_names or "",
        aliases=tuple(
            f"{o['forename']} {o.get('surname') or row.surname or ''}".strip()
            for o in others
            if isinstance(o, dict) and o.get("forename")
        ),
        former_surnames=tuple(
            o["surname"] for o in others if isinstance(o, dict) and o.get("surname")
        ),
        dob=_pd(row.dob),
        sex=row.sex or "",
        upn=row.upn or "",
        former_upns=tuple(str(u) for u in row.former_upns or []),
        postcode=row.postcode or "",
        school=row.source_laestab or "",
    )


def record_from_register(row: RegisterEntry) -> PersonRecord:
    return PersonRecord(
        record_id=f"{row.register}:{row.id}",
        forename=row.forename,
        surname=row.surname,
        middle_names=row.middle_names or "",
        preferred_forename=row.preferred_forename or "",
        former_surnames=tuple(row.former_surnames or []),
        dob=_pd(row.dob),
        sex=row.sex or "",
        upn=row.upn or "",
        former_upns=tuple(row.former_upns or []),
        address=row.address or "",
        town=row.town or "",
        postcode=row.postcode or "",
        contacts=tuple(
            Contact(c.get("forename", ""), c.get("surname", ""), c.get("relationship", ""))
            for c in row.contacts or []
        ),
        school=row.school_laestab or "",
        year_group=row.year_group or "",
    )


def record_from_referral(data: ReferralInput, ref: str) -> PersonRecord:
    """A referral's child as the matching engine reads a record."""
    return PersonRecord(
        record_id=ref,
        forename=data.forename,
        surname=data.surname,
        middle_names=data.middle_names or "",
        aliases=tuple(data.aliases),
        dob=_pd(data.dob),
        sex=data.sex or "",
        upn=data.upn or "",
        former_upns=tuple(data.former_upns),
        address=data.address_line1 or "",
        town=data.town or "",
        postcode=data.postcode or "",
        contacts=tuple(
            Contact(
                " ".join(tokens(str(c.get("name", "")))[:1]),
                " ".join(tokens(str(c.get("name", "")))[-1:]),
                str(c.get("relationship") or ""),
            )
            for c in data.carers
        ),
        year_group=data.year_group or "",
    )


# The statements matching runs for every referral, built once with their values bound by
# name (constructing a statement costs more than SQLite takes to run it).
_OPEN_CASES = select(Case).join(Child, Child.id == Case.child_id).where(Case.status != CLOSED)
_SAME_UPN = _OPEN_CASES.where(Child.upn == bindparam("upn"))
#: Compared exactly, never as a pattern: trimmed and lower-cased (sqltext.same_text's rule).
_SAME_DETAILS = _OPEN_CASES.where(
    Child.dob == bindparam("dob"),
    func.lower(func.trim(Child.surname)) == bindparam("surname"),
    func.lower(func.trim(Child.forenames)) == bindparam("forename"),
).order_by(Case.id)


def certain_open_case(session: Session, data: ReferralInput, thresholds: Thresholds) -> Case | None:
    """The open case this referral is certainly about, or None.

    Certain means the same valid UPN, or the same name and date of birth (compared exactly,
    never as a pattern) *and* the matching engine proposing the case with no identity
    conflict. Anything less is for the officer to decide, never attached by itself.
    """
    if data.upn:
        same_upn = session.execute(_SAME_UPN, {"upn": data.upn}).scalars().first()
        if same_upn is not None:
            return same_upn
    if data.dob is None:
        return None
    same = {"dob": data.dob, "surname": normal_text(data.surname),
            "forename": normal_text(data.forename)}  # fmt: skip
    same_details = list(session.execute(_SAME_DETAILS, same).scalars())
    if not same_details:
        return None
    by_ref = {f"case:{c.id}": c for c in same_details}
    engine = MatchEngine(
        [record_from_child(c.child, ref) for ref, c in by_ref.items()],
        thresholds=thresholds,
        term_frequencies=False,
        family_guard=True,
    )
    for cand in engine.candidates(record_from_referral(data, "referral"), explain=False):
        if cand.decision is Decision.PROPOSED:
            return by_ref[cand.record_id]
    return None


def _dobs(query: PersonRecord) -> list[date]:
    d = query.dob
    out: list[date] = []
    if d is None or not d.complete:
        return out
    for y, m, dd in ((d.year, d.month, d.day), (d.year, d.day, d.month)):
        try:
            out.append(date(y, m, dd))  # type: ignore[arg-type]
        except ValueError:
            continue
    return out


def _name_variants(*names: str) -> list[str]:
    """The spellings of a name as people type it, for an index seek on the stored value."""
    out: set[str] = set()
    for name in names:
        clean = " ".join(name.split())
        if clean:
            out |= {clean, clean.lower(), clean.upper(), clean.title(), clean.capitalize()}
    return sorted(out)


#: Most cases one block may bring back: a common surname must not swamp the comparison.
CASE_BLOCK_LIMIT = 2000


#: What the case block reads of each case and its child: the columns a record needs.
_CASE_COLUMNS = (
    Case.id.label("case_id"),
    Case.status,
    Child.id.label("child_id"),
    Child.forenames,
    Child.surname,
    Child.middle_names,
    Child.other_names,
    Child.dob,
    Child.sex,
    Child.upn,
    Child.former_upns,
    Child.year_group,
)


@functools.lru_cache(maxsize=32)
def _case_block_statement(upns: bool, dobs: bool, surnames: bool, postcode: bool) -> Executable:
    """The case block for one shape of query, its values bound by name: built once."""
    conds: list[ColumnElement[bool]] = []
    if upns:
        conds.append(Child.upn.in_(bindparam("upns", expanding=True)))
    if dobs:
        conds.append(Child.dob.in_(bindparam("dobs", expanding=True)))
    if surnames:
        conds.append(Child.surname.in_(bindparam("surnames", expanding=True)))
    if postcode:
        at = select(ChildAddress.child_id).where(
            ChildAddress.postcode == bindparam("postcode"), ChildAddress.to_date.is_(None)
        )
        conds.append(Child.id.in_(at))
    return (
        select(*_CASE_COLUMNS)
        .join(Child, Child.id == Case.child_id)
        .where(or_(*conds))
        .order_by(Case.id.desc())
        .limit(CASE_BLOCK_LIMIT)
    )


def case_block(session: Session, query: PersonRecord) -> list[Row[Any]]:
    """Cases (open and closed) sharing a blocking key with the query: UPN, date of birth
    (day and month swapped too), surname, or current postcode. Each is an index seek.
    Rows of `_CASE_COLUMNS`, newest case first."""
    params: dict[str, Any] = {}
    upns = [u for u in (query.upn, *query.former_upns) if u]
    if upns:
        params["upns"] = upns
    dobs = _dobs(query)
    if dobs:
        params["dobs"] = dobs
    surnames = _name_variants(query.surname, *query.former_surnames)
    if surnames:
        params["surnames"] = surnames
    if query.postcode:
        params["postcode"] = query.postcode.strip().upper()
    if not params:
        return []
    shape = (bool(upns), bool(dobs), bool(surnames), bool(query.postcode))
    return list(session.execute(_case_block_statement(*shape), params))


_CURRENT_ADDRESSES = (
    select(ChildAddress.child_id, ChildAddress.line1, ChildAddress.town, ChildAddress.postcode)
    .where(ChildAddress.child_id.in_(bindparam("ids", expanding=True)))
    .where(ChildAddress.to_date.is_(None))
    .order_by(ChildAddress.id)
)
_CARERS = (
    select(Carer.child_id, Carer.name, Carer.relationship_to_child)
    .where(Carer.child_id.in_(bindparam("ids", expanding=True)))
    .order_by(Carer.id)
)


def case_records(session: Session, query: PersonRecord) -> list[PersonRecord]:
    """The case block as records: plain rows (none of the ORM's per-object work), the
    children's current addresses and carers read in one query each."""
    rows = case_block(session, query)
    if not rows:
        return []
    ids = {"ids": sorted({r.child_id for r in rows})}
    addresses: dict[int, tuple[str | None, str | None, str | None]] = {}
    for a in session.execute(_CURRENT_ADDRESSES, ids):
        addresses[a.child_id] = (a.line1, a.town, a.postcode)  # the newest current one wins
    carers: dict[int, list[tuple[str, str | None]]] = {}
    for c in session.execute(_CARERS, ids):
        carers.setdefault(c.child_id, []).append((c.name, c.relationship_to_child))
    return [
        _child_record(f"case:{r.case_id}", r, addresses.get(r.child_id), carers.get(r.child_id, ()))
        for r in rows
    ]


def _gather(session: Session, query: PersonRecord, sources: tuple[str, ...]) -> list[PersonRecord]:
    records: list[PersonRecord] = []
    if "case" in sources:
        records += case_records(session, query)
    if "lost_pupil" in sources:
        names = [normalise_name(n) for n in (query.surname, query.forename)]
        keys = (
            name_keys([names[0]], [names[1]]) | name_keys([names[1]], [names[0]])
            if all(names)
            else set()
        )
        found = candidates_by_keys(
            session,
            upns=[query.upn, *query.former_upns] if query.upn else [],
            dobs=_dobs(query),
            name_keys_=keys,
            postcodes=[query.postcode] if query.postcode else [],
        )
        if found:
            rows = session.execute(
                select(LostPupil).where(LostPupil.id.in_(sorted(found)), listed_as_lost())
            )
            records += [record_from_lost_pupil(r) for r in rows.scalars()]
    kinds = [k for k in ("roll", "ehe") if k in sources]
    if kinds:
        conds = []
        if query.upn:
            conds.append(RegisterEntry.upn == query.upn.replace(" ", "").upper())
        if _dobs(query):
            conds.append(RegisterEntry.dob.in_(_dobs(query)))
        if query.postcode:
            conds.append(RegisterEntry.postcode == query.postcode.strip().upper())
        surnames = {s.lower() for s in (query.surname, query.forename, *query.former_surnames) if s}
        if surnames:
            conds.append(func.lower(RegisterEntry.surname).in_(sorted(surnames)))
        if conds:
            reg = select(RegisterEntry).where(RegisterEntry.register.in_(kinds), or_(*conds))
            records += [record_from_register(r) for r in session.execute(reg).scalars()]
    return records


def decided_refs(session: Session, query_ref: str) -> frozenset[str]:
    """Targets an officer already confirmed or rejected for this query: never proposed again."""
    rows = session.execute(
        select(MatchDecision.target_kind, MatchDecision.target_ref).where(
            MatchDecision.query_ref == query_ref
        )
    )
    return frozenset(f"{k}:{r}" for k, r in rows)


def find_candidates(
    session: Session,
    query: PersonRecord,
    *,
    query_ref: str,
    thresholds: Thresholds,
    actor: str,
    as_of: date | None = None,
    sources: tuple[str, ...] = SOURCES,
    limit: int = 10,
    decided: frozenset[str] | None = None,
) -> list[SourcedCandidate]:
    """Ranked candidates across the sources, with per-field evidence; the search is audited.
    `decided`: the targets already settled for this query, when the caller knows them."""
    records = _gather(session, query, sources)
    out: list[SourcedCandidate] = []
    if records:
        engine = MatchEngine(
            records, thresholds=thresholds, as_of=as_of, term_frequencies=False, family_guard=True
        )
        for cand in engine.candidates(
            query,
            limit=limit,
            exclude=decided_refs(session, query_ref) if decided is None else decided,
        ):
            source, _, _ = cand.record_id.partition(":")
            out.append(SourcedCandidate(source, cand.record_id, cand))
    audit.record(
        session,
        actor=actor,
        action="match_search",
        entity="match",
        entity_id=query_ref,
        detail={"candidates": [c.ref for c in out]},
    )
    return out


def record_decision(
    session: Session,
    *,
    query_ref: str,
    target_ref: str,
    verdict: OfficerVerdict,
    actor: str,
    candidate: Candidate | None = None,
) -> MatchDecision:
    """Store the officer's confirmation or rejection of a pair (once), audited."""
    kind, _, ref = target_ref.partition(":")
    if kind not in SOURCES or not ref:
        raise UserError(
            f"target {target_ref!r} is not <source>:<id> with a source of {', '.join(SOURCES)}"
        )
    existing = session.execute(
        select(MatchDecision).where(
            MatchDecision.query_ref == query_ref,
            MatchDecision.target_kind == kind,
            MatchDecision.target_ref == ref,
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise UserError(
            f"{query_ref} and {target_ref} were already {existing.verdict} by {existing.decided_by}"
        )
    decision = MatchDecision(
        query_ref=query_ref,
        target_kind=kind,
        target_ref=ref,
        verdict=verdict.value,
        score=candidate.score if candidate else None,
        evidence=[e.__dict__ for e in candidate.evidence] if candidate else [],
        decided_by=actor,
    )
    session.add(decision)
    audit.record(
        session,
        actor=actor,
        action=f"match_{verdict.value}",
        entity="match",
        entity_id=query_ref,
        detail={"target": target_ref},
    )
    session.flush()
    return decision
