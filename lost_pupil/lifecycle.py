"""Life of a lost-pupil record: claimed by a school, held, expired and disposed of."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lost_pupil.db import utcnow
from lost_pupil.errors import LostPupilError, NotFound
from lost_pupil.events import PupilClaimed, publish
from lost_pupil.models import CtfFileRecord, Disposal, LostPupil, PupilStatus
from lost_pupil.store import FileStore

_LAESTAB = re.compile(r"^\d{7}$")


def get_pupil(session: Session, pupil_id: int) -> LostPupil:
    row = session.get(LostPupil, pupil_id)
    if row is None:
        raise NotFound(f"there is no lost-pupil record {pupil_id}")
    return row


def get_file(session: Session, file_id: int) -> CtfFileRecord:
    row = session.get(CtfFileRecord, file_id)
    if row is None:
        raise NotFound(f"there is no stored CTF {file_id}")
    return row


def claim(
    session: Session,
    pupil_id: int,
    *,
    school_laestab: str,
    on_roll_from: date,
    actor: str,
    now: datetime | None = None,
) -> PupilClaimed:
    """Close an open record: the child is on roll at the school from the date given."""
    if not _LAESTAB.match(school_laestab):
        raise LostPupilError(
            f"school {school_laestab!r} is not a LAESTAB (7 digits: LA code then establishment)"
        )
    now = now or utcnow()
    if on_roll_from > now.date():
        raise LostPupilError("the date on roll is in the future; claim the pupil once they start")
    pupil = get_pupil(session, pupil_id)
    if pupil.status != PupilStatus.OPEN.value:
        raise LostPupilError(
            f"lost-pupil record {pupil_id} is {pupil.status}, not open; it cannot be claimed"
        )
    pupil.status = PupilStatus.CLAIMED.value
    pupil.claimed_school = school_laestab
    pupil.claimed_from = on_roll_from
    pupil.claimed_at = now
    pupil.claimed_by = actor
    session.flush()
    event = PupilClaimed(
        pupil_id=pupil.id,
        upn=pupil.upn,
        former_upns=tuple(pupil.former_upns or ()),
        surname=pupil.surname,
        forename=pupil.forename,
        dob=pupil.dob,
        sex=pupil.sex,
        postcode=pupil.postcode,
        source_laestab=pupil.source_laestab,
        school_laestab=school_laestab,
        on_roll_from=on_roll_from,
        claimed_by=actor,
    )
    publish(session, event)
    return event


def set_hold(session: Session, file_id: int, *, hold: bool, reason: str | None = None) -> None:
    """Put a file (and so its pupils) on legal hold, or lift the hold."""
    record = get_file(session, file_id)
    if hold and not reason:
        raise LostPupilError("a legal hold needs a reason (e.g. the case or order it serves)")
    record.legal_hold = hold
    record.hold_reason = reason if hold else None
    session.flush()


@dataclass(frozen=True)
class DisposalReport:
    files: int
    pupils: int
    held_back: int
    shas: tuple[str, ...]


def expire_due(session: Session, *, actor: str, now: datetime | None = None) -> DisposalReport:
    """Dispose of every file past its retention date and not on hold, logging each.

    Pupils of a disposed file leave the index; pupils of a file kept only for a legal
    hold are marked expired (kept for the hold, out of ordinary use). The bytes are
    removed by purge_disposed() once this commits, so a rollback never leaves a row
    pointing at a deleted file.
    """
    now = now or utcnow()
    due = session.execute(
        select(CtfFileRecord)
        .where(CtfFileRecord.expires_at <= now, CtfFileRecord.disposed_at.is_(None))
        .order_by(CtfFileRecord.id)
    ).scalars()
    files = pupils = held = 0
    shas: list[str] = []
    for record in due:
        if record.legal_hold:
            held += 1
            session.execute(
                update(LostPupil)
                .where(LostPupil.file_id == record.id, LostPupil.status == PupilStatus.OPEN.value)
                .values(status=PupilStatus.EXPIRED.value)
            )
            continue
        count = session.execute(delete(LostPupil).where(LostPupil.file_id == record.id)).rowcount  # type: ignore[attr-defined]
        record.disposed_at = now
        session.add(
            Disposal(
                file_id=record.id,
                sha256=record.sha256,
                pupils=count,
                disposed_at=now,
                actor=actor,
                reason=f"retention period ended {record.expires_at.date().isoformat()}",
            )
        )
        files += 1
        pupils += count
        shas.append(record.sha256)
    session.flush()
    return DisposalReport(files, pupils, held, tuple(shas))


def purge_disposed(session: Session, store: FileStore) -> int:
    """Delete the encrypted bytes of files already disposed of (idempotent)."""
    removed = 0
    for sha in session.execute(
        select(CtfFileRecord.sha256).where(CtfFileRecord.disposed_at.is_not(None))
    ).scalars():
        if store.delete(sha):
            removed += 1
    return removed
