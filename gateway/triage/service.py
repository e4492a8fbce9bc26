"""From a referral to a case: kept whole, matched, then a case at once or the triage queue;
and the officer's three decisions on a referral in the queue (open, attach, dismiss).

Every referral from every channel comes through `receive`. It opens its case at once only
when it is complete and resembles no record we hold (`triage.open_complete`), and joins an
open case at once only when the match is certain (same UPN, or the same name and date of
birth with the matching engine proposing the case). Everything else waits for an officer.
Each decision is one transaction: the referral, the case, its timeline and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases import service as cases
from gateway.cases.inputs import ReferralInput, build_referral_input
from gateway.cases.inputs import clean_referral_values as clean
from gateway.cases.labels import DISMISS_REASONS, channel_label
from gateway.db import utcnow
from gateway.errors import UserError
from gateway.matching import candidates
from gateway.matching.service import certain_open_case
from gateway.models.case import Case
from gateway.models.referral import Referral, TriageStatus
from gateway.settings import Settings


class TriageError(UserError):
    """A triage decision that cannot be made; the message says why."""


@dataclass(frozen=True)
class Routed:
    """Where a new referral went: "case" (opened, or joined a case) or "triage"."""

    outcome: str
    referral_id: int
    case_id: int | None = None
    attached: bool = False


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _complete(data: ReferralInput) -> bool:
    """Enough to open a case with no officer: who (full name, date of birth) and where."""
    return bool(data.dob and (data.postcode or data.address_line1))


def receive(
    session: Session,
    settings: Settings,
    values: dict[str, Any],
    *,
    actor: str,
    raw_id: int | None = None,
    today: date | None = None,
    triage_only: bool = False,
    keyed_by_officer: bool = False,
) -> Routed:
    """Take a referral from any channel: stored, matched, then a case or the queue.

    `triage_only`: an officer's own hand-over (a held message made a referral) always
    waits for an officer's decision. `keyed_by_officer`: an officer typed it in (a phone
    call), so it opens its case however incomplete, unless it may be a child we know.
    """
    today = today or utcnow().date()
    cleaned, problems = clean(values, today=today)
    gaps = list(cleaned.get("gaps", ())) + [
        f"{p.message} (as given)" for p in problems if p.field not in ("forename", "surname")
    ]
    cleaned["gaps"] = tuple(dict.fromkeys(gaps))
    referral = Referral(
        case_id=None,
        triage_status=TriageStatus.AWAITING.value,
        channel=cleaned["channel"],
        received_on=cleaned["received"],
        referrer_name=cleaned.get("referrer_name"),
        referrer_role=cleaned.get("referrer_role"),
        referrer_organisation=cleaned.get("referrer_organisation"),
        referrer_email=cleaned.get("referrer_email"),
        referrer_phone=cleaned.get("referrer_phone"),
        reason=cleaned.get("reason"),
        urgency=cleaned["urgency"],
        flags=dict(cleaned.get("flags") or {}),
        school=cleaned.get("school"),
        date_last_attended=cleaned.get("date_last_attended"),
        date_last_seen=cleaned.get("date_last_seen"),
        actions_taken=_jsonable(list(cleaned.get("actions_taken") or ())),
        anonymous=bool(cleaned.get("anonymous")),
        draft=cleaned.get("draft"),
        gaps=list(cleaned["gaps"]),
        raw_ref=cleaned.get("raw_ref") or (f"raw:{raw_id}" if raw_id else None),
        raw_id=raw_id,
        details={k: _jsonable(v) for k, v in cleaned.items() if k in cases.DETAIL_FIELDS and v},
        created_by=actor,
    )
    session.add(referral)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="referral.receive",
        entity="referral",
        entity_id=referral.id,
        detail={"channel": referral.channel, "raw_id": raw_id},
    )
    found = candidates.refresh(session, settings, f"referral:{referral.id}", fresh=True)
    named = not any(p.field in ("forename", "surname") for p in problems)
    if named and not triage_only:
        data = ReferralInput(**cleaned)
        certain = certain_open_case(session, data, candidates.thresholds_of(settings))
        if certain is not None:
            _attach(session, settings, referral, certain.id, data, actor, automatic=True)
            return Routed("case", referral.id, certain.id, attached=True)
        complete = keyed_by_officer or (settings.triage.open_complete and _complete(data))
        if complete and not found:
            case = _open(session, settings, referral, data, actor, automatic=True)
            return Routed("case", referral.id, case.id)
    return Routed("triage", referral.id)


def _awaiting(session: Session, referral_id: int) -> Referral:
    # Locked (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers already): of two
    # officers deciding at once, the second waits and then finds the referral decided.
    referral = session.get(Referral, referral_id, with_for_update=True, populate_existing=True)
    if referral is None:
        raise TriageError(f"there is no referral {referral_id}")
    if referral.triage_status != TriageStatus.AWAITING.value:
        raise TriageError(
            f"referral {referral_id} was already triaged ({referral.triage_status} by "
            f"{referral.triaged_by or referral.created_by})"
        )
    return referral


def _decided(referral: Referral, status: TriageStatus, actor: str) -> None:
    referral.triage_status = status.value
    referral.triaged_by = actor
    referral.triaged_at = utcnow()


def input_of(referral: Referral, values: dict[str, Any] | None = None) -> ReferralInput:
    """The referral as a case takes it: its stored details, with the officer's
    corrections (`values`) over them. Raises InputError naming what must be fixed."""
    base: dict[str, Any] = {
        **referral.details,
        "channel": referral.channel,
        "received": referral.received_on,
        "referrer_name": referral.referrer_name,
        "referrer_role": referral.referrer_role,
        "referrer_organisation": referral.referrer_organisation,
        "referrer_email": referral.referrer_email,
        "referrer_phone": referral.referrer_phone,
        "reason": referral.reason,
        "urgency": referral.urgency,
        "flags": referral.flags or {},
        "school": referral.school,
        "date_last_attended": referral.date_last_attended,
        "date_last_seen": referral.date_last_seen,
        "actions_taken": referral.actions_taken or [],
        "anonymous": referral.anonymous,
        "gaps": referral.gaps or [],
        "raw_ref": referral.raw_ref,
        "draft": referral.draft,
    }
    if values:
        base.update(values)
    return build_referral_input(base, today=utcnow().date())


def _open(
    session: Session,
    settings: Settings,
    referral: Referral,
    data: ReferralInput,
    actor: str,
    *,
    automatic: bool = False,
) -> Case:
    case = cases.log_referral(session, settings, data, actor, referral=referral)
    _decided(referral, TriageStatus.OPENED, actor)
    candidates.supersede(session, f"referral:{referral.id}")
    # The new case's own candidates (other cases, lost pupils, rolls) for the match queue.
    candidates.queue_refresh(session, [f"case:{case.id}"])
    audit.record(
        session,
        actor=actor,
        action="triage.open" if not automatic else "triage.auto_open",
        entity="case",
        entity_id=case.id,
        detail={"referral_id": referral.id},
    )
    return case


def _attach(
    session: Session,
    settings: Settings,
    referral: Referral,
    case_id: int,
    data: ReferralInput,
    actor: str,
    *,
    automatic: bool = False,
) -> Case:
    cases.attach_referral(
        session, settings, case_id, data, actor, referral=referral, reopen=not automatic
    )
    _decided(referral, TriageStatus.ATTACHED, actor)
    candidates.supersede(session, f"referral:{referral.id}")
    audit.record(
        session,
        actor=actor,
        action="triage.attach" if not automatic else "triage.auto_attach",
        entity="case",
        entity_id=case_id,
        detail={"referral_id": referral.id},
    )
    case = session.get(Case, case_id)
    assert case is not None
    return case


def open_case(
    session: Session,
    settings: Settings,
    referral_id: int,
    actor: str,
    values: dict[str, Any] | None = None,
) -> Case:
    """The officer opens a new case from a referral, with their corrections to its details."""
    referral = _awaiting(session, referral_id)
    data = input_of(referral, values)
    return _open(session, settings, referral, data, actor)


def attach(
    session: Session, settings: Settings, referral_id: int, case_id: int, actor: str
) -> Case:
    """The officer adds a referral to a case that already exists (reopening a closed one).

    What the referral says that the case lacks or contradicts is listed on the case for the
    officer to accept; nothing on the case is overwritten.
    """
    referral = _awaiting(session, referral_id)
    case = session.get(Case, case_id)
    if case is None:
        raise TriageError(f"there is no case {case_id}")
    # The officer says the referral is about this child: a name it lacks is the child's.
    names = {
        "forename": referral.details.get("forename") or case.child.forenames,
        "surname": referral.details.get("surname") or case.child.surname,
    }
    data = input_of(referral, names)
    return _attach(session, settings, referral, case_id, data, actor)


def dismiss(
    session: Session,
    settings: Settings,
    referral_id: int,
    reason: str,
    actor: str,
    note: str | None = None,
) -> Referral:
    """Not a CME referral, with the reason (on roll, EHE, not resident, duplicate, not a
    referral). The referral and its raw message are kept; no case is opened."""
    if reason not in DISMISS_REASONS:
        raise TriageError(
            "choose why it is not CME: "
            + "; ".join(f"{code} ({text})" for code, text in DISMISS_REASONS.items())
        )
    referral = _awaiting(session, referral_id)
    _decided(referral, TriageStatus.DISMISSED, actor)
    referral.triage_reason = reason
    referral.triage_note = (note or "").strip() or None
    candidates.supersede(session, f"referral:{referral.id}")
    audit.record(
        session,
        actor=actor,
        action="triage.dismiss",
        entity="referral",
        entity_id=referral.id,
        detail={"reason": reason},
    )
    session.flush()
    return referral


def describe(routed: Routed, channel: str) -> str:
    """One line for a person: where the referral went."""
    where = f"case CME-{routed.case_id}" if routed.case_id else "the triage queue"
    verb = "added to" if routed.attached else ("opened" if routed.case_id else "waiting in")
    return f"Referral {routed.referral_id} by {channel_label(channel)}: {verb} {where}"
