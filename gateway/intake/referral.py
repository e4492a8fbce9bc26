"""A new referral by email: the referral parser's draft into a case (or onto the child's case)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.cases.inputs import InputError, ReferralInput, build_referral_input
from gateway.cases.service import attach_referral, log_referral
from gateway.db import utcnow
from gateway.intake.message import MessageFacts
from gateway.matching.decisions import Thresholds
from gateway.matching.service import certain_open_case
from gateway.models.case import Case
from gateway.models.intake import RawMessage
from gateway.models.referral import Channel
from gateway.settings import Settings
from parsers.errors import ParseError
from parsers.mime import parse_message
from parsers.referral import ReferralDraft, parse_referral_message

ACTOR = "intake"


class ReferralUnreadable(ValueError):
    """The message is not a referral we can log; the message says what is missing."""


def _draft_values(draft: ReferralDraft) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Field values (shaped for ReferralInput by the parser) and the gaps."""
    known = set(ReferralInput.field_names())
    values = {k: v for k, v in draft.fields.items() if k in known and k != "gaps"}
    return values, tuple(str(g) for g in draft.gaps)


def _parse(facts: MessageFacts, data: bytes) -> ReferralDraft:
    try:
        draft = parse_referral_message(facts.parsed or parse_message(data))
    except ParseError as exc:
        raise ReferralUnreadable(f"the referral cannot be read: {exc}") from None
    if not (draft.forename or draft.surname):
        raise ReferralUnreadable("no child's name found: not a referral the parser can read")
    return draft


def log_email_referral(
    session: Session, settings: Settings, row: RawMessage, facts: MessageFacts, data: bytes
) -> tuple[Case, bool]:
    """Log the referral; returns the case and whether it went onto an existing one."""
    draft = _parse(facts, data)
    values, gaps = _draft_values(draft)
    values.setdefault("referrer_email", facts.sender)
    values["channel"] = Channel.EMAIL.value
    values["raw_ref"] = f"raw:{row.id}"
    values["gaps"] = list(gaps)
    try:
        referral = build_referral_input(values, today=utcnow().date())
    except InputError as exc:
        raise ReferralUnreadable(f"the referral cannot be logged: {exc}") from None
    thresholds = Thresholds(settings.matching.upper_threshold, settings.matching.lower_threshold)
    existing = certain_open_case(session, referral, thresholds)
    if existing is not None:
        attach_referral(session, settings, existing.id, referral, ACTOR)
        return existing, True
    return log_referral(session, settings, referral, ACTOR), False
