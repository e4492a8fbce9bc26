"""The case store's operations: log a referral, move, close, escalate, record enquiries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import audit, disclosures, letters, outbox
from gateway.cases.deadlines import add_days
from gateway.cases.facts import propose_facts
from gateway.cases.inputs import InputError, ReferralInput
from gateway.cases.labels import AGENCIES as AGENCY_LABELS
from gateway.cases.labels import METHODS as METHOD_LABELS
from gateway.cases.labels import channel_label, label
from gateway.cases.queries import get_case, missing_avenues
from gateway.cases.workflow import CLOSED, LOCATING, WorkflowError, load_workflow
from gateway.db import utcnow
from gateway.exchange.records import Direction, MonitoringStatus, OutStatus
from gateway.models.case import Case, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.casework import PrintedLetter
from gateway.models.child import Carer, Child, ChildAddress, Sibling
from gateway.models.exchange import ExchangeMessage, Monitoring
from gateway.models.referral import URGENCY_RANK, Channel, Referral, TriageStatus, Urgency
from gateway.settings import Settings
from parsers.exchange import DocType

PROGRESS_UPDATE = "progress_update"
FURTHER_ENQUIRIES = "further_enquiries"
FIRST_CONTACT = "first_contact"
PHONE_REFERRER = "phone_referrer"
POST_LETTER = "post_letter"
NO_TRACE = "no_trace"

#: The agencies and methods an enquiry may name (their labels are in gateway.cases.labels).
AGENCIES = tuple(AGENCY_LABELS)
METHODS = tuple(METHOD_LABELS)


def _timeline(
    session: Session, case: Case, kind: str, summary: str, actor: str, ref: str | None = None
) -> None:
    session.add(TimelineEntry(case_id=case.id, kind=kind, summary=summary, actor=actor, ref=ref))


def _new_child(data: ReferralInput) -> Child:
    child = Child(
        forenames=data.forename,
        surname=data.surname,
        middle_names=data.middle_names,
        other_names=[{"kind": "alias", "name": a} for a in data.aliases],
        dob=data.dob,
        sex=data.sex,
        upn=data.upn,
        former_upns=list(data.former_upns),
        year_group=data.year_group,
        languages=list(data.languages),
    )
    if data.postcode or data.address_line1:
        child.addresses.append(
            ChildAddress(
                line1=data.address_line1,
                line2=data.address_line2,
                town=data.town,
                postcode=data.postcode,
                from_date=data.received,
                source="referral",
            )
        )
    for carer in data.carers:
        child.carers.append(
            Carer(
                name=str(carer.get("name", "")),
                relationship_to_child=carer.get("relationship"),
                phone=carer.get("phone"),
                email=carer.get("email"),
                address=carer.get("address"),
            )
        )
    for sib in data.siblings:
        child.siblings.append(
            Sibling(
                name=str(sib.get("name", "")),
                school=sib.get("school"),
                dob=date.fromisoformat(sib["dob"]) if sib.get("dob") else None,
            )
        )
    return child


def _fill_referral(
    data: ReferralInput, case: Case, actor: str, referral: Referral | None = None
) -> Referral:
    """The referral row for `data` on `case`: a new one, or the one that waited in triage."""
    row = referral or Referral(created_by=actor)
    row.case = case
    row.channel = data.channel
    row.received_on = row.received_on or data.received or utcnow().date()
    row.referrer_name = data.referrer_name
    row.referrer_role = data.referrer_role
    row.referrer_organisation = data.referrer_organisation
    row.referrer_email = data.referrer_email
    row.referrer_phone = data.referrer_phone
    row.reason = data.reason
    row.urgency = data.urgency
    row.flags = dict(data.flags)
    row.school = data.school
    row.date_last_attended = data.date_last_attended
    row.date_last_seen = data.date_last_seen
    row.actions_taken = [dict(a) for a in data.actions_taken]
    row.anonymous = data.anonymous
    row.draft = data.draft if data.draft is not None else row.draft
    row.gaps = list(data.gaps)
    row.raw_ref = data.raw_ref or row.raw_ref
    row.details = details_of(data)
    return row


def details_of(data: ReferralInput) -> dict[str, Any]:
    """The child and family as a referral describes them, as JSON (Referral.details)."""
    out: dict[str, Any] = {}
    for name in DETAIL_FIELDS:
        value = getattr(data, name)
        if value in (None, "", (), [], {}):
            continue
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = [dict(v) if isinstance(v, dict) else v for v in value]
        out[name] = value
    return out


#: ReferralInput's fields about the child and family (the rest describe the referral).
DETAIL_FIELDS = (
    "forename", "surname", "middle_names", "aliases", "dob", "age_range", "sex", "upn",
    "former_upns", "year_group", "address_line1", "address_line2", "town", "postcode",
    "carers", "siblings", "languages",
)  # fmt: skip


def _has_referrer(referral: Referral) -> bool:
    return bool(referral.referrer_email or referral.referrer_phone or referral.referrer_name)


def _letter_to_referrer(
    session: Session, settings: Settings, case: Case, referral: Referral, kind: str, **context: Any
) -> None:
    """Render one letter to the referral's referrer: emailed through the outbox, or, for a
    referrer with no email address, kept to print (or read out) with a task saying so."""
    letter = letters.render(
        kind,
        case.tag,
        # A web-form address is whatever was typed: the letter echoes nothing from the form.
        verified=referral.channel != Channel.FORM.value,
        referrer_name=referral.referrer_name,
        received=referral.received_on,
        la_name=settings.core.la_name,
        **context,
    )
    # A letter names the case reference and the date of the referral, nothing of the child.
    disclosed = ["case_ref", "referral_date", *(["gaps"] if context.get("gaps") else [])]
    if referral.referrer_email:
        outbox.queue(
            session,
            settings,
            kind=letter.kind,
            to=[referral.referrer_email],
            subject=letter.subject,
            body=letter.body,
            case_id=case.id,
        )
        disclosures.record(
            session, kind="letter", case_id=case.id, recipient=referral.referrer_email,
            basis=disclosures.LawfulBasis.PUBLIC_TASK, channel="email", fields=disclosed,
            actor="system:letters",
        )  # fmt: skip
        return
    printed = PrintedLetter(
        case_id=case.id, referral_id=referral.id, kind=letter.kind, subject=letter.subject,
        body=letter.body,
    )  # fmt: skip
    session.add(printed)
    session.flush()
    disclosures.record(
        session, kind="letter", case_id=case.id,
        recipient=referral.referrer_name or referral.referrer_phone or "the referrer",
        basis=disclosures.LawfulBasis.PUBLIC_TASK,
        channel="phone" if referral.referrer_phone else "post", fields=disclosed,
        actor="system:letters",
    )  # fmt: skip
    # No silent skip: a phone call when we have a number, otherwise a letter to post.
    todo = PHONE_REFERRER if referral.referrer_phone else POST_LETTER
    case.tasks.append(
        Task(
            kind=todo,
            due=utcnow().date(),
            detail={"letter_id": printed.id, "referral_id": referral.id, "letter": letter.kind},
        )
    )


def progress_update_due(settings: Settings, received: date) -> date:
    d = settings.deadlines
    return add_days(
        received, d.progress_update_days, working=d.working_days, division=d.bank_holiday_division
    )


def log_referral(
    session: Session,
    settings: Settings,
    data: ReferralInput,
    actor: str,
    *,
    referral: Referral | None = None,
) -> Case:
    """A new referral about a child with no case yet: child, case, referral, deadlines.

    `referral`: the row that waited in triage, now opened as this case.
    """
    workflow = load_workflow(settings.workflow.file)
    received = (referral.received_on if referral else None) or data.received or utcnow().date()
    child = _new_child(data)
    case = Case(child=child, status=workflow.initial, opened_on=received)
    session.add(case)
    referral = _fill_referral(data, case, actor, referral)
    referral.triage_status = TriageStatus.OPENED.value
    case.urgency_rank = URGENCY_RANK.get(data.urgency, 0)
    session.add(referral)
    session.flush()
    _add_deadlines(session, settings, case, referral, data)
    _timeline(
        session,
        case,
        "referral",
        f"Referral received by {channel_label(data.channel)}",
        actor,
        ref=f"referral:{referral.id}",
    )
    audit.record(
        session,
        actor=actor,
        action="case.create",
        entity="case",
        entity_id=case.id,
        detail={"referral_id": referral.id, "channel": data.channel},
    )
    return case


def attach_referral(
    session: Session,
    settings: Settings,
    case_id: int,
    data: ReferralInput,
    actor: str,
    *,
    referral: Referral | None = None,
    reopen: bool = False,
) -> Referral:
    """A further referral about a child who already has a case (one case per child).

    Deadlines are not doubled; what the referral says that the case lacks or contradicts
    becomes a fact for the officer to accept (nothing on the case is overwritten).
    `reopen`: a closed case is reopened by this referral (the officer attached it).
    """
    case = get_case(session, case_id)
    if case.status == CLOSED:
        if not reopen:
            raise WorkflowError(f"case {case_id} is closed; reopen it or log a new case")
        reopen_case(session, settings, case_id, actor, "a further referral about the child")
    referral = _fill_referral(data, case, actor, referral)
    referral.triage_status = TriageStatus.ATTACHED.value
    case.urgency_rank = max(case.urgency_rank or 0, URGENCY_RANK.get(data.urgency, 0))
    session.add(referral)
    session.flush()
    _add_deadlines(session, settings, case, referral, data)
    propose_facts(session, case, data, f"referral:{referral.id}")
    _timeline(
        session,
        case,
        "referral",
        f"Further referral received by {channel_label(data.channel)}",
        actor,
        ref=f"referral:{referral.id}",
    )
    audit.record(
        session,
        actor=actor,
        action="referral.attach",
        entity="case",
        entity_id=case.id,
        detail={"referral_id": referral.id},
    )
    return referral


def _open_task(case: Case, kind: str) -> Task | None:
    return next((t for t in case.tasks if t.kind == kind and t.status == "open"), None)


def _days(settings: Settings, start: date, days: int) -> date:
    d = settings.deadlines
    return add_days(start, days, working=d.working_days, division=d.bank_holiday_division)


def _same_referrer(a: Referral, b: Referral) -> bool:
    if a.referrer_email and b.referrer_email:
        return a.referrer_email.strip().lower() == b.referrer_email.strip().lower()
    return bool(a.referrer_name) and a.referrer_name == b.referrer_name


def _add_deadlines(
    session: Session, settings: Settings, case: Case, referral: Referral, data: ReferralInput
) -> None:
    """The deadlines a referral sets, each once per case: a progress update for each
    referrer, one task to chase the gaps, one first contact for urgent referrals."""
    received = referral.received_on
    if _has_referrer(referral):
        waiting = [
            session.get(Referral, t.detail.get("referral_id"))
            for t in case.tasks
            if t.kind == PROGRESS_UPDATE and t.status == "open"
        ]
        if not any(w is not None and _same_referrer(w, referral) for w in waiting):
            case.tasks.append(
                Task(
                    kind=PROGRESS_UPDATE,
                    due=progress_update_due(settings, received),
                    detail={"referral_id": referral.id},
                )
            )
    urgent = data.urgency in (Urgency.URGENT.value, Urgency.SAFEGUARDING.value)
    if urgent and _open_task(case, FIRST_CONTACT) is None:
        case.tasks.append(
            Task(
                kind=FIRST_CONTACT,
                due=_days(settings, received, settings.deadlines.first_contact_days),
                detail={"referral_id": referral.id, "urgency": data.urgency},
            )
        )
    if data.gaps:
        chase = _open_task(case, FURTHER_ENQUIRIES)
        if chase is None:
            case.tasks.append(
                Task(
                    kind=FURTHER_ENQUIRIES,
                    due=_days(settings, received, settings.deadlines.further_enquiries_days),
                    detail={"referral_id": referral.id, "gaps": list(data.gaps)},
                )
            )
        else:
            known = list(chase.detail.get("gaps", []))
            more = [g for g in data.gaps if g not in known]
            chase.detail = {**chase.detail, "gaps": known + more}
        if _has_referrer(referral):
            _letter_to_referrer(
                session, settings, case, referral, "further_enquiries", gaps=list(data.gaps)
            )
    session.flush()


def move_case(session: Session, settings: Settings, case_id: int, status: str, actor: str) -> Case:
    case = get_case(session, case_id)
    load_workflow(settings.workflow.file).check_move(case.status, status)
    before = case.status
    case.status = status
    workflow = load_workflow(settings.workflow.file)
    # The code in the ref: the history survives a label renamed in the workflow file.
    _timeline(
        session, case, "status", f"Moved to {workflow.statuses[status]}", actor,
        ref=f"status:{status}",
    )  # fmt: skip
    audit.record(
        session,
        actor=actor,
        action="case.move",
        entity="case",
        entity_id=case.id,
        detail={"from": before, "to": status},
    )
    return case


def move_towards(
    session: Session, settings: Settings, case_id: int, status: str, actor: str
) -> Case:
    """Move the case to status by the workflow's shortest run of allowed moves, each one
    recorded as move_case records it; a case already there, closed, or with no way there
    stays where it is (what the case is doing is then for the officer to say)."""
    case = get_case(session, case_id)
    if case.status == CLOSED:
        return case
    for step in load_workflow(settings.workflow.file).path_to(case.status, status) or []:
        move_case(session, settings, case_id, step, actor)
    return case


def begin_stage(
    session: Session, settings: Settings, case_id: int, status: str, actor: str
) -> Case:
    """Work recorded on a case still at the workflow's first status puts it at the stage
    that work belongs to (a status check: checking status; an enquiry: locating); a case
    an officer has already moved on is left where they put it."""
    case = get_case(session, case_id)
    if case.status == load_workflow(settings.workflow.file).initial:
        move_towards(session, settings, case_id, status, actor)
    return case


def close_case(
    session: Session,
    settings: Settings,
    case_id: int,
    outcome: str,
    detail: dict[str, Any],
    actor: str,
    manager: str | None = None,
) -> Case:
    case = get_case(session, case_id)
    spec = load_workflow(settings.workflow.file).check_close(case.status, outcome, detail, manager)
    if outcome == NO_TRACE:
        missing = missing_avenues(session, case_id, settings.casework.no_trace_after)
        if missing:
            names = ", ".join(label(AGENCY_LABELS, a) for a in missing)
            raise WorkflowError(
                f"'no trace' needs every enquiry the policy lists first; still to record: {names}"
            )
    before = case.status
    case.status = CLOSED
    case.outcome = outcome
    case.outcome_detail = detail
    case.closed_at = utcnow()
    case.closed_by = actor
    case.signed_off_by = manager if spec.manager_signoff else None
    for task in case.tasks:
        if task.status == "open":
            task.status = "cancelled"
            task.done_at = utcnow()
    end_monitoring(session, case, f"case closed: {spec.label}")
    _timeline(session, case, "closed", f"Closed: {spec.label}", actor)
    audit.record(
        session,
        actor=actor,
        action="case.close",
        entity="case",
        entity_id=case.id,
        detail={"from": before, "outcome": outcome, "manager": manager},
    )
    return case


def end_monitoring(session: Session, case: Case, reason: str) -> None:
    """A closed case is watched no longer: its monitoring ends and status requests not yet
    sent are withdrawn, so no timer discloses a child's details about a closed case."""
    now = utcnow()
    active = select(Monitoring).where(
        Monitoring.case_id == case.id, Monitoring.status == MonitoringStatus.ACTIVE.value
    )
    for row in session.execute(active).scalars():
        row.status = MonitoringStatus.CLOSED.value
        row.closed_at = now
        row.closed_reason = reason[:200]
    session.execute(
        update(ExchangeMessage)
        .where(
            ExchangeMessage.case_id == case.id,
            ExchangeMessage.direction == Direction.OUT.value,
            ExchangeMessage.doc_type == DocType.STATUS_REQUEST.value,
            ExchangeMessage.status == OutStatus.QUEUED.value,
        )
        .values(
            status=OutStatus.WITHDRAWN.value,
            next_attempt_at=None,
            last_error="withdrawn: the case was closed before it was sent",
        )
    )


def reopen_case(
    session: Session, settings: Settings, case_id: int, actor: str, reason: str
) -> Case:
    case = get_case(session, case_id)
    if case.status != CLOSED:
        raise WorkflowError(f"case {case_id} is not closed")
    if not reason.strip():
        raise InputError("say why the case is reopened (--reason)")
    case.status = "locating"
    case.outcome = None
    case.closed_at = None
    _timeline(session, case, "reopened", f"Case reopened: {reason.strip()}", actor)
    audit.record(
        session,
        actor=actor,
        action="case.reopen",
        entity="case",
        entity_id=case.id,
        detail={"reason": reason},
    )
    return case


def escalate(
    session: Session, settings: Settings, case_id: int, flag: str, actor: str, on: bool = True
) -> Case:
    """Set or clear an escalation flag; escalation never closes a case."""
    case = get_case(session, case_id)
    workflow = load_workflow(settings.workflow.file)
    if flag not in workflow.escalations:
        raise WorkflowError(f"unknown escalation {flag!r}; use: {', '.join(workflow.escalations)}")
    flags = dict(case.escalations)
    if on:
        flags[flag] = {"since": utcnow().isoformat(), "by": actor}
    else:
        flags.pop(flag, None)
    case.escalations = flags
    _timeline(
        session,
        case,
        "escalation",
        f"{workflow.escalations[flag]}" + ("" if on else " (cleared)"),
        actor,
    )
    audit.record(
        session,
        actor=actor,
        action="case.escalate",
        entity="case",
        entity_id=case.id,
        detail={"flag": flag, "on": on},
    )
    return case


def record_enquiry(
    session: Session,
    case_id: int,
    *,
    agency: str,
    method: str,
    at: datetime,
    outcome: str | None,
    contact: str | None,
    actor: str,
    settings: Settings | None = None,
) -> EnquiryLogEntry:
    """One enquiry in the log; with settings, a case still logged moves to locating."""
    if agency not in AGENCIES:
        raise InputError(f"agency must be one of: {', '.join(AGENCIES)}")
    if method not in METHODS:
        raise InputError(f"method must be one of: {', '.join(METHODS)}")
    case = get_case(session, case_id)
    entry = EnquiryLogEntry(
        case_id=case.id,
        agency=agency,
        method=method,
        at=at,
        outcome=outcome,
        contact=contact,
        recorded_by=actor,
    )
    session.add(entry)
    session.flush()
    first = _open_task(case, FIRST_CONTACT)
    if first is not None:
        # Any recorded contact is the first contact an urgent referral asked for.
        first.status = "done"
        first.done_at = utcnow()
    _timeline(
        session,
        case,
        "enquiry",
        f"Enquiry with {label(AGENCY_LABELS, agency)} by {label(METHOD_LABELS, method)}",
        actor,
        ref=f"enquiry:{entry.id}",
    )
    audit.record(
        session,
        actor=actor,
        action="enquiry.record",
        entity="case",
        entity_id=case.id,
        detail={"enquiry_id": entry.id, "agency": agency},
    )
    if settings is not None:
        begin_stage(session, settings, case.id, LOCATING, actor)
    return entry


def enquiries_complete(session: Session, settings: Settings, case_id: int, actor: str) -> Case:
    """Initial enquiries done: acknowledge each referrer still waiting for a letter."""
    case = get_case(session, case_id)
    if case.enquiries_complete_at is not None:
        raise WorkflowError(f"enquiries on case {case_id} were already marked complete")
    case.enquiries_complete_at = utcnow()
    for task in case.tasks:
        if task.kind in (PROGRESS_UPDATE, FURTHER_ENQUIRIES) and task.status == "open":
            task.status = "done"
            task.done_at = utcnow()
    for referral in case.referrals:
        if _has_referrer(referral):
            _letter_to_referrer(session, settings, case, referral, "acknowledgement")
    _timeline(
        session,
        case,
        "enquiries_complete",
        "Initial enquiries complete; referrer acknowledged",
        actor,
    )
    audit.record(
        session, actor=actor, action="case.enquiries_complete", entity="case", entity_id=case.id
    )
    return case


def send_due_progress_updates(
    session: Session, settings: Settings, today: date, actor: str = "system:jobs"
) -> list[int]:
    """Every progress-update deadline that has passed gets its letter, once."""
    from gateway.cases.queries import open_tasks_due

    sent: list[int] = []
    for task in open_tasks_due(session, PROGRESS_UPDATE, today):
        case = task.case
        referral = session.get(Referral, task.detail.get("referral_id"))
        task.status = "done"
        task.done_at = utcnow()
        if referral is None or not _has_referrer(referral) or case.status == CLOSED:
            continue
        d = settings.deadlines
        period = f"{d.progress_update_days} {'working ' if d.working_days else ''}days"
        _letter_to_referrer(session, settings, case, referral, "progress_update", period=period)
        if case.enquiries_complete_at is None:
            # Enquiries still open: the referrer hears again after the configured interval.
            case.tasks.append(
                Task(
                    kind=PROGRESS_UPDATE,
                    due=_days(settings, today, settings.casework.progress_repeat_days),
                    detail={"referral_id": referral.id, "repeat": True},
                )
            )
        _timeline(session, case, "letter", "Progress update sent to the referrer", actor)
        audit.record(
            session,
            actor=actor,
            action="letter.progress_update",
            entity="case",
            entity_id=case.id,
            detail={"task_id": task.id},
        )
        sent.append(case.id)
    return sent
