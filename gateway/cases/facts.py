"""New facts for a case: what a later referral or reply brings that the case lacks or
contradicts, listed for the officer to accept field by field; and the officer's own edits
of the child's details. Nothing is overwritten silently; every change is audited with its
before and after."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.inputs import InputError, ReferralInput, clean_referral_values
from gateway.cases.labels import FIELDS
from gateway.db import utcnow
from gateway.models.case import Case, CaseFact, FactState, TimelineEntry
from gateway.models.child import Carer, Child, ChildAddress, Sibling
from gateway.sqltext import normal_text

#: Fields an officer may edit on the child, and the ReferralInput field that checks each.
EDITABLE = ("forename", "surname", "middle_names", "dob", "sex", "upn", "year_group")


def _address_of(data: ReferralInput) -> dict[str, str] | None:
    parts = {
        "line1": data.address_line1 or "",
        "line2": data.address_line2 or "",
        "town": data.town or "",
        "postcode": data.postcode or "",
    }
    return parts if parts["line1"] or parts["postcode"] else None


def _current_address(child: Child) -> dict[str, str] | None:
    addr = child.current_address
    if addr is None:
        return None
    return {
        "line1": addr.line1 or "",
        "line2": addr.line2 or "",
        "town": addr.town or "",
        "postcode": addr.postcode or "",
    }


def _same_address(a: dict[str, str], b: dict[str, str] | None) -> bool:
    if b is None:
        return False
    if a["postcode"] and b["postcode"] and a["postcode"] != b["postcode"]:
        return False
    return not a["line1"] or normal_text(a["line1"]) == normal_text(b["line1"])


def _differences(child: Child, data: ReferralInput) -> list[tuple[str, Any, Any]]:
    """(field, value the referral gives, value the case holds) for each new or other fact."""
    out: list[tuple[str, Any, Any]] = []
    if data.upn and data.upn != child.upn:
        out.append(("upn", data.upn, child.upn))
    if data.dob and data.dob != child.dob:
        out.append(("dob", data.dob.isoformat(), child.dob.isoformat() if child.dob else None))
    if data.sex and data.sex != child.sex:
        out.append(("sex", data.sex, child.sex))
    if data.year_group and data.year_group != child.year_group:
        out.append(("year_group", data.year_group, child.year_group))
    given = f"{data.forename} {data.surname}"
    known = {normal_text(f"{child.forenames} {child.surname}")} | {
        normal_text(str(o.get("name", ""))) for o in child.other_names or [] if isinstance(o, dict)
    }
    if normal_text(given) not in known:
        out.append(("alias", given, f"{child.forenames} {child.surname}"))
    address = _address_of(data)
    current = _current_address(child)
    if address is not None and not _same_address(address, current):
        out.append(("address", address, current))
    carers = {normal_text(c.name) for c in child.carers}
    for carer in data.carers:
        name = str(carer.get("name", "")).strip()
        if name and normal_text(name) not in carers:
            out.append(("carer", {k: v for k, v in carer.items() if v}, None))
    siblings = {normal_text(s.name) for s in child.siblings}
    for sib in data.siblings:
        name = str(sib.get("name", "")).strip()
        if name and normal_text(name) not in siblings:
            out.append(("sibling", {k: v for k, v in sib.items() if v}, None))
    return out


def propose_facts(session: Session, case: Case, data: ReferralInput, source_ref: str) -> int:
    """Record each value the referral brings that the case lacks or contradicts; returns
    how many are new (a fact already waiting with the same value is not repeated)."""
    waiting = {
        (f.field, repr(f.value))
        for f in session.execute(
            select(CaseFact).where(
                CaseFact.case_id == case.id, CaseFact.state == FactState.PENDING.value
            )
        ).scalars()
    }
    added = 0
    for field, value, current in _differences(case.child, data):
        if (field, repr(value)) in waiting:
            continue
        session.add(
            CaseFact(
                case_id=case.id, field=field, value=value, current=current, source_ref=source_ref
            )
        )
        added += 1
    if added:
        session.add(
            TimelineEntry(
                case_id=case.id,
                kind="facts",
                summary=f"{added} new detail{'s' if added > 1 else ''} to review from a referral",
                ref=source_ref,
                actor="system:facts",
            )
        )
    session.flush()
    return added


def pending_facts(session: Session, case_id: int) -> list[CaseFact]:
    return list(
        session.execute(
            select(CaseFact)
            .where(CaseFact.case_id == case_id, CaseFact.state == FactState.PENDING.value)
            .order_by(CaseFact.id)
        ).scalars()
    )


def _pending(session: Session, case_id: int, fact_id: int) -> CaseFact:
    fact = session.get(CaseFact, fact_id)
    if fact is None or fact.case_id != case_id:
        raise InputError(f"there is no fact {fact_id} on case {case_id}")
    if fact.state != FactState.PENDING.value:
        raise InputError(f"that detail was already {fact.state} by {fact.decided_by}")
    return fact


def _apply(child: Child, fact: CaseFact, today: date) -> None:
    value = fact.value
    if fact.field == "upn":
        if child.upn and child.upn != value:
            child.former_upns = [*(child.former_upns or []), child.upn]
        child.upn = value
    elif fact.field == "dob":
        child.dob = date.fromisoformat(value)
    elif fact.field in ("sex", "year_group"):
        setattr(child, fact.field, value)
    elif fact.field == "alias":
        child.other_names = [*(child.other_names or []), {"kind": "alias", "name": value}]
    elif fact.field == "address":
        current = child.current_address
        if current is not None:
            current.to_date = today
        child.addresses.append(
            ChildAddress(
                line1=value.get("line1") or None,
                line2=value.get("line2") or None,
                town=value.get("town") or None,
                postcode=value.get("postcode") or None,
                from_date=today,
                source=fact.source_ref,
            )
        )
    elif fact.field == "carer":
        child.carers.append(
            Carer(
                name=str(value.get("name", "")),
                relationship_to_child=value.get("relationship"),
                phone=value.get("phone"),
                email=value.get("email"),
                address=value.get("address"),
            )
        )
    elif fact.field == "sibling":
        child.siblings.append(
            Sibling(
                name=str(value.get("name", "")),
                school=value.get("school"),
                dob=date.fromisoformat(value["dob"]) if value.get("dob") else None,
            )
        )
    else:  # pragma: no cover - every field _differences makes is handled above
        raise InputError(f"cannot apply a {fact.field!r} fact")


def decide_fact(
    session: Session, case_id: int, fact_id: int, *, accept: bool, actor: str
) -> CaseFact:
    """Accept (apply to the case) or reject one new fact; audited with before and after."""
    fact = _pending(session, case_id, fact_id)
    case = session.get(Case, case_id)
    assert case is not None
    if accept:
        _apply(case.child, fact, utcnow().date())
    fact.state = (FactState.ACCEPTED if accept else FactState.REJECTED).value
    fact.decided_by = actor
    fact.decided_at = utcnow()
    name = FIELDS.get(fact.field, fact.field.replace("_", " ").capitalize())
    verb = "accepted" if accept else "rejected"
    session.add(
        TimelineEntry(
            case_id=case_id, kind="facts", summary=f"{name} from a referral {verb}",
            ref=fact.source_ref, actor=actor,
        )
    )  # fmt: skip
    audit.record(
        session,
        actor=actor,
        action=f"case.fact_{verb}",
        entity="case",
        entity_id=case_id,
        detail={
            "fact_id": fact.id, "field": fact.field, "before": fact.current, "after": fact.value,
        },
    )  # fmt: skip
    session.flush()
    return fact


def _child_values(child: Child) -> dict[str, Any]:
    return {
        "forename": child.forenames,
        "surname": child.surname,
        "middle_names": child.middle_names,
        "dob": child.dob.isoformat() if child.dob else None,
        "sex": child.sex,
        "upn": child.upn,
        "year_group": child.year_group,
    }


def edit_child(
    session: Session, case_id: int, values: dict[str, Any], *, actor: str
) -> dict[str, tuple[Any, Any]]:
    """The officer corrects the child's details; returns field -> (before, after) of what
    changed. Values are checked as a referral's are; a bad one changes nothing."""
    case = session.get(Case, case_id)
    if case is None:
        raise InputError(f"there is no case {case_id}")
    child = case.child
    before = _child_values(child)
    wanted = {k: values.get(k, before[k]) for k in EDITABLE}
    cleaned, problems = clean_referral_values(
        {k: v for k, v in wanted.items() if v not in (None, "")}, today=utcnow().date()
    )
    if problems:
        raise InputError(problems[0].message, problems)
    after = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in ((k, cleaned.get(k)) for k in EDITABLE)
    }
    changed = {k: (before[k], after[k]) for k in EDITABLE if before[k] != after[k]}
    if not changed:
        return {}
    if "upn" in changed and before["upn"]:
        child.former_upns = [*(child.former_upns or []), before["upn"]]
    child.forenames = str(after["forename"])
    child.surname = str(after["surname"])
    child.middle_names = after["middle_names"]
    child.dob = cleaned.get("dob")
    child.sex = after["sex"]
    child.upn = after["upn"]
    child.year_group = after["year_group"]
    names = ", ".join(FIELDS.get(k, k) for k in changed)
    session.add(
        TimelineEntry(
            case_id=case_id, kind="details", summary=f"Child's details changed: {names}",
            actor=actor,
        )
    )  # fmt: skip
    audit.record(
        session,
        actor=actor,
        action="child.edit",
        entity="case",
        entity_id=case_id,
        detail={k: {"before": b, "after": a} for k, (b, a) in changed.items()},
    )
    session.flush()
    return changed
