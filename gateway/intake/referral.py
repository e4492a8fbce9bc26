"""A new referral by email, IMAP or the web form: the referral parser's draft into the one
path every referral takes (gateway.triage.service.receive): a case, or the triage queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.cases.inputs import ReferralInput
from gateway.intake.message import MessageFacts, read_message
from gateway.intake.rawstore import RawStore
from gateway.models.intake import IntakeChannel, RawMessage
from gateway.models.referral import Channel
from gateway.settings import Settings
from gateway.triage.service import Routed, receive
from parsers.errors import ParseError
from parsers.mime import parse_message
from parsers.referral import ReferralDraft, parse_referral_message

ACTOR = "intake"


class ReferralUnreadable(ValueError):
    """Nothing in the message can be read as a referral; the message says why."""


def _draft_values(draft: ReferralDraft) -> dict[str, Any]:
    """Field values (shaped for ReferralInput by the parser), with the gaps."""
    known = set(ReferralInput.field_names())
    values = {k: v for k, v in draft.fields.items() if k in known}
    values["gaps"] = [str(g) for g in draft.gaps]
    return values


def _read(facts: MessageFacts, data: bytes) -> dict[str, Any]:
    """What the parser can read; a form it cannot read still leaves the message for an
    officer (the gap says why), since a person wrote it."""
    if not (facts.text.strip() or facts.html.strip() or facts.attachments):
        raise ReferralUnreadable("the message has no text and no attachments to read")
    try:
        return _draft_values(parse_referral_message(facts.parsed or parse_message(data)))
    except ParseError as exc:
        return {"gaps": [f"the referral could not be read: {exc}"]}


def read_referral(facts: MessageFacts, data: bytes) -> dict[str, Any]:
    """The parser's reading of a message (pure: no database), for `message_values`."""
    return _read(facts, data)


def message_values(
    row: RawMessage, facts: MessageFacts, data: bytes, read: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The referral a stored message carries, as values for triage.receive; `read` is
    `read_referral`'s result when it was worked out beforehand (a dispatch batch)."""
    values = dict(read) if read is not None else _read(facts, data)
    # A web-form post comes from the form itself: its referrer is only what was typed in it.
    form = row.channel == IntakeChannel.FORM.value
    if form:
        if values.get("referrer_email") == facts.sender:
            del values["referrer_email"]  # the form's own address, not the referrer's
    elif facts.sender:
        values.setdefault("referrer_email", facts.sender)
    values["channel"] = Channel.FORM.value if form else Channel.EMAIL.value
    values["raw_ref"] = f"raw:{row.id}"
    return values


def log_email_referral(
    session: Session,
    settings: Settings,
    row: RawMessage,
    facts: MessageFacts,
    data: bytes,
    read: dict[str, Any] | None = None,
) -> Routed:
    """Route the referral a message carries: a case at once, or the triage queue."""
    values = message_values(row, facts, data, read)
    return receive(session, settings, values, actor=ACTOR, raw_id=row.id)


def held_message_values(settings: Settings, session: Session, row: RawMessage) -> dict[str, Any]:
    """What can safely be read of a held message for an officer to triage: nothing is
    opened, and whatever cannot be read leaves a gap instead."""
    try:
        data = RawStore(settings.home, session.get_bind()).read(row)  # type: ignore[arg-type]
        facts = read_message(data)
        return message_values(row, facts, data)
    except ReferralUnreadable as exc:
        return {"gaps": [str(exc)], "raw_ref": f"raw:{row.id}"}
    except Exception as exc:  # a hostile message: keep it for the officer, say why
        return {
            "gaps": [f"the message cannot be read ({type(exc).__name__})"],
            "raw_ref": f"raw:{row.id}",
        }
