"""A new referral by email: the referral parser's draft into a case (or onto the child's case)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cases.inputs import InputError, ReferralInput, build_referral_input
from gateway.cases.service import attach_referral, log_referral
from gateway.cases.workflow import CLOSED
from gateway.db import utcnow
from gateway.intake.message import MessageFacts
from gateway.models.case import Case
from gateway.models.child import Child
from gateway.models.intake import RawMessage
from gateway.models.referral import Channel
from gateway.settings import Settings

ACTOR = "intake"


class ReferralUnreadable(ValueError):
    """The message is not a referral we can log; the message says what is missing."""


def _draft_values(draft: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Field values and gaps from the parser's draft (a dataclass or a mapping)."""
    values: Any = getattr(draft, "fields", None)
    if values is None and is_dataclass(draft):
        values = {f.name: getattr(draft, f.name) for f in fields(draft)}
    if not isinstance(values, dict):
        values = dict(values or {})
    gaps = tuple(str(g) for g in (getattr(draft, "gaps", None) or values.get("gaps") or ()))
    known = set(ReferralInput.field_names())
    clean = {k: v for k, v in values.items() if k in known and k not in {"gaps", "draft"}}
    return clean, gaps


def _parse(facts: MessageFacts) -> Any:
    try:
        from parsers.referral import parse_referral
    except ImportError:
        raise ReferralUnreadable(
            "the referral parser (parsers.referral) is not available"
        ) from None
    text = facts.text or facts.html
    if not text.strip():
        raise ReferralUnreadable("the message has no text to read a referral from")
    return parse_referral(text)


def _same_child(session: Session, data: ReferralInput) -> Case | None:
    """An open case of the same child, only when certain: same UPN, or same name and DOB."""
    stmt = select(Case).join(Child, Child.id == Case.child_id).where(Case.status != CLOSED)
    if data.upn:
        found = session.execute(stmt.where(Child.upn == data.upn)).scalars().first()
        if found is not None:
            return found
    if data.dob:
        return (
            session.execute(
                stmt.where(
                    Child.dob == data.dob,
                    Child.surname.ilike(data.surname),
                    Child.forenames.ilike(data.forename),
                )
            )
            .scalars()
            .first()
        )
    return None


def log_email_referral(
    session: Session, settings: Settings, row: RawMessage, facts: MessageFacts
) -> tuple[Case, bool]:
    """Log the referral; returns the case and whether it went onto an existing one."""
    draft = _parse(facts)
    values, gaps = _draft_values(draft)
    values.setdefault("referrer_email", facts.sender)
    values["channel"] = Channel.EMAIL.value
    values["raw_ref"] = f"raw:{row.id}"
    values["gaps"] = list(gaps)
    try:
        data = build_referral_input(values, today=utcnow().date())
    except InputError as exc:
        raise ReferralUnreadable(f"the referral cannot be logged: {exc}") from None
    existing = _same_child(session, data)
    if existing is not None:
        attach_referral(session, settings, existing.id, data, ACTOR)
        return existing, True
    return log_referral(session, settings, data, ACTOR), False
