"""Letters kept to print for referrers with no email address, and printed onward referrals:
read for the print view and PDF, and marked done (posted, or read out on the phone)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cases.inputs import InputError
from gateway.cases.onward import TEAMS, get_onward
from gateway.db import utcnow
from gateway.models.case import Task, TimelineEntry
from gateway.models.casework import PrintedLetter
from gateway.printing import document_html
from gateway.settings import Settings

DONE_HOW = {"posted": "posted to the referrer", "phoned": "read to the referrer on the phone"}


def letters_to_print(session: Session, case_id: int) -> list[PrintedLetter]:
    return list(
        session.execute(
            select(PrintedLetter).where(PrintedLetter.case_id == case_id).order_by(PrintedLetter.id)
        ).scalars()
    )


def get_letter(session: Session, case_id: int, letter_id: int) -> PrintedLetter:
    row = session.get(PrintedLetter, letter_id)
    if row is None or row.case_id != case_id:
        raise InputError(f"there is no letter {letter_id} on case {case_id}")
    return row


def letter_page(
    session: Session, settings: Settings, case_id: int, letter_id: int, actor: str, *, pdf: bool
) -> str:
    """The letter's printable page; opening or downloading it is audited (it leaves as paper)."""
    row = get_letter(session, case_id, letter_id)
    audit.record(
        session, actor=actor, action="letter.print" if pdf else "letter.view", entity="case",
        entity_id=case_id, detail={"letter_id": row.id, "kind": row.kind},
    )  # fmt: skip
    return document_html(
        title=row.subject, subject=row.subject, body=row.body, la_name=settings.core.la_name,
        on=row.created_at.date(),
    )  # fmt: skip


def onward_page(
    session: Session, settings: Settings, case_id: int, onward_id: int, actor: str, *, pdf: bool
) -> str:
    row = get_onward(session, case_id, onward_id)
    audit.record(
        session, actor=actor, action="onward.print" if pdf else "onward.view", entity="case",
        entity_id=case_id, detail={"onward_id": row.id, "team": row.team},
    )  # fmt: skip
    subject = f"Referral to {TEAMS.get(row.team, row.team)}: our reference CME-{case_id}"
    return document_html(
        title=subject, subject=subject, body=row.body, la_name=settings.core.la_name,
        addressee=TEAMS.get(row.team, row.team), on=row.sent_at.date(),
        footer=f"Shared under {row.lawful_basis}.",
    )  # fmt: skip


def mark_done(
    session: Session, case_id: int, letter_id: int, how: str, actor: str
) -> PrintedLetter:
    """The letter was posted or read out: its task is done, the case says so."""
    if how not in DONE_HOW:
        raise InputError("say whether the letter was posted or read out on the phone")
    row = get_letter(session, case_id, letter_id)
    if row.done_at is not None:
        raise InputError(f"that letter was already marked done by {row.done_by}")
    row.done_at = utcnow()
    row.done_by = actor
    for task in session.execute(
        select(Task).where(Task.case_id == case_id, Task.status == "open")
    ).scalars():
        if task.detail.get("letter_id") == row.id:
            task.status = "done"
            task.done_at = utcnow()
    session.add(
        TimelineEntry(
            case_id=case_id, kind="letter", actor=actor, ref=f"letter:{row.id}",
            summary=f"Letter ({row.subject.split('] ', 1)[-1]}) {DONE_HOW[how]}",
        )
    )  # fmt: skip
    audit.record(
        session, actor=actor, action=f"letter.{how}", entity="case", entity_id=case_id,
        detail={"letter_id": row.id},
    )  # fmt: skip
    session.flush()
    return row
