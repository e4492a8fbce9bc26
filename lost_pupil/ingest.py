"""Import one CTF: refuse it whole or store it encrypted and index every pupil."""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from lost_pupil.db import utcnow
from lost_pupil.errors import LostPupilError
from lost_pupil.events import PupilsStored, publish
from lost_pupil.index import IndexWriter
from lost_pupil.models import CtfFileRecord
from lost_pupil.store import FileStore
from parsers.ctf import CHUNK_BYTES, MAX_CTF_BYTES, CtfReader, DestinationKind
from parsers.errors import ParseError


@dataclass(frozen=True)
class ImportResult:
    file_id: int
    sha256: str
    pupils: int
    duplicate: bool
    dest_kind: str
    source_laestab: str
    #: Pupils indexed with something missing or invalid: (position, messages).
    pupil_problems: tuple[tuple[int, tuple[str, ...]], ...] = ()


def addressed_to_a_school(lea: str, estab: str) -> LostPupilError:
    """The refusal of a school-to-school transfer: the store holds only files whose
    destination is unknown (XXX) or outside S2S (MMM), never one a school is waiting for."""
    return LostPupilError(
        f"this CTF is addressed to school {lea}/{estab} (a school-to-school transfer), "
        "not a lost-pupil file: send it through S2S to that school"
    )


_pause_lock = threading.Lock()
_pauses = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a file is read and indexed.

    An ingest keeps a batch of rows and keys alive at a time, so every young collection
    walks them and the old ones walk the whole heap again and again, for no garbage:
    the records it builds free themselves by reference count. The pause is counted, so
    imports running in two threads at once switch it back on only when both have ended,
    and only if it was on when the first began. The collector is process-wide: other
    threads' cyclic garbage waits for the import to end (seconds), and is collected then.
    """
    global _pauses, _resume
    with _pause_lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


def _hash(fh: IO[bytes], max_bytes: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := fh.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise ParseError(
                f"the file is over the limit of {max_bytes} bytes; split it into smaller CTFs"
            )
        digest.update(chunk)
    return digest.hexdigest(), size


def import_ctf(
    session: Session,
    store: FileStore,
    fh: IO[bytes],
    *,
    uploader: str,
    retention_days: int,
    original_name: str | None = None,
    max_bytes: int = MAX_CTF_BYTES,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    expected_source: str | None = None,
) -> ImportResult:
    """Store and index a CTF read from a seekable binary file, in the caller's transaction.

    A file that is not a readable CTF raises ParseError and leaves nothing behind: the
    encrypted copy is discarded and no row is flushed that the caller would commit. So
    does a CTF addressed to a real school (LostPupilError naming it). The
    same file uploaded twice is stored and indexed once (duplicate=True the second time).
    """
    now = now or utcnow()
    sha, size = _hash(fh, max_bytes)
    existing = session.execute(
        select(CtfFileRecord).where(CtfFileRecord.sha256 == sha)
    ).scalar_one_or_none()
    if existing is not None and existing.disposed_at is None:
        if expected_source and existing.source_laestab != expected_source:
            raise LostPupilError("this file is held already, uploaded by another school")
        if existing.dest_kind == DestinationKind.SCHOOL.value:  # stored before it was refused
            code = existing.dest_code
            raise addressed_to_a_school(code[:3], code[3:])
        return ImportResult(
            existing.id,
            sha,
            existing.pupil_count,
            True,
            existing.dest_kind,
            existing.source_laestab,
        )
    fh.seek(0)
    pending = store.begin()

    def tee() -> Iterator[bytes]:
        while chunk := fh.read(CHUNK_BYTES):
            pending.write(chunk)
            if progress:
                progress(len(chunk))
            yield chunk

    savepoint = session.begin_nested()
    try:
        reader = CtfReader(tee(), max_bytes=max_bytes, detail=False)
        header = reader.header
        if expected_source and header.source.laestab != expected_source:
            raise LostPupilError(
                f"the CTF says it comes from school {header.source.laestab}, but this upload "
                f"is from school {expected_source}; upload your own school's files only"
            )
        if header.dest_kind is DestinationKind.SCHOOL:
            raise addressed_to_a_school(header.dest.lea, header.dest.estab)
        record = existing or CtfFileRecord(sha256=sha)
        record.size = size
        record.original_name = original_name
        record.uploader = uploader
        record.uploaded_at = now
        record.source_laestab = header.source.laestab
        record.dest_code = header.dest.laestab
        record.dest_kind = header.dest_kind.value
        record.ctf_version = header.version
        record.document_qualifier = header.document_qualifier
        record.expires_at = now + timedelta(days=retention_days)
        record.disposed_at = None
        record.pupil_count = 0
        session.add(record)
        session.flush()
        problems: list[tuple[int, tuple[str, ...]]] = []
        writer = IndexWriter(
            session, record.id, source_laestab=header.source.laestab, dest_kind=record.dest_kind
        )
        try:
            with collector_paused():
                for pupil in reader.pupils():
                    writer.add(pupil)
                    if pupil.problems:
                        problems.append((pupil.position, tuple(p.message for p in pupil.problems)))
                writer.flush()
        finally:
            writer.close()
        count = writer.count
        if pending.sha256 != sha:
            raise LostPupilError("the file changed while it was being read; upload it again")
        record.pupil_count = count
        session.flush()
        pending.commit()
    except BaseException:
        pending.discard()
        savepoint.rollback()
        raise
    savepoint.commit()
    publish(session, PupilsStored(record.id, count))
    return ImportResult(
        record.id, sha, count, False, record.dest_kind, record.source_laestab, tuple(problems)
    )
