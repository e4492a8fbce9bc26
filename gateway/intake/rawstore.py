"""The raw store: every inbound message written whole and fsync'd before anyone is told OK.

Messages are appended to segment files under `<home>/raw/segments/` by one writer thread
per process, which groups whatever arrived together into one write and one fdatasync
(group commit), then indexes the batch in `raw_messages` and queues a dispatch job for
each new message in the same transaction. A crash after the fsync but before the commit
loses nothing: `recover()` re-indexes complete records from segments no live writer
holds (each writer keeps an flock on its open segment).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import queue
import re
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.db import session_scope, utcnow
from gateway.models.intake import IntakeChannel, RawMessage, RawStatus
from gateway.models.ops import Job

log = logging.getLogger(__name__)

DISPATCH_JOB = "intake.dispatch"
MAGIC = b"CMERAW1\n"
_PREFIX = struct.Struct(">8sIQ")  # magic, header length, body length
SEGMENT_LIMIT = 256 * 1024 * 1024
BATCH_BYTES = 64 * 1024 * 1024
# How long the indexer lets fsync'd batches gather before one commit indexes them all, when
# nobody waits on the row (SMTP senders already have their 250). Under load this turns many
# small transactions into one, which keeps the listener's interpreter free for senders.
INDEX_LINGER = 0.1
INDEX_GROUP = 256
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class RawStoreError(RuntimeError):
    """The raw store could not take or give back a message (disk, database, corruption)."""


@dataclass(frozen=True)
class Arrival:
    """How a message reached us: channel, SMTP envelope, peer, and when."""

    channel: IntakeChannel
    mail_from: str | None = None
    rcpt_tos: tuple[str, ...] = ()
    peer: str | None = None
    source_ref: str | None = None
    received_at: datetime = field(default_factory=utcnow)

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel.value,
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "peer": self.peer,
            "source_ref": self.source_ref,
            "received_at": self.received_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Arrival:
        return cls(
            channel=IntakeChannel(data["channel"]),
            mail_from=data.get("mail_from"),
            rcpt_tos=tuple(data.get("rcpt_tos") or ()),
            peer=data.get("peer"),
            source_ref=data.get("source_ref"),
            received_at=datetime.fromisoformat(data["received_at"]),
        )


@dataclass(frozen=True)
class Stored:
    """The answer to a store: the row that holds these bytes, and whether it was new."""

    raw_id: int
    sha256: str
    duplicate: bool
    message_id_repeat: bool = False


def _fail(items: list[_Pending], exc: Exception) -> None:
    error = RawStoreError(f"raw store failed: {type(exc).__name__}: {exc}")
    for item in items:
        if not item.future.done():
            item.future.set_exception(error)


def header_message_id(data: bytes) -> str | None:
    """The Message-ID from the header block, found without a full parse (no I/O, cheap)."""
    end = len(data)
    for sep in (b"\r\n\r\n", b"\n\n"):
        pos = data.find(sep)
        if pos != -1:
            end = min(end, pos)
    match = _MESSAGE_ID.search(data, 0, min(end, 256 * 1024))
    if match is None:
        return None
    value = re.sub(rb"\s+", b"", match.group(1)).decode("utf-8", "replace")
    return value[:500] or None


@dataclass
class _Pending:
    data: bytes
    arrival: Arrival
    future: concurrent.futures.Future[Stored]
    sha256: str = ""
    # Someone waits on `future` (the row), so the indexer does not linger for this one.
    urgent: bool = True
    # Resolved (with the SHA-256) as soon as the bytes and their arrival are fsync'd.
    durable: concurrent.futures.Future[str] = field(default_factory=concurrent.futures.Future)


@dataclass
class _Segment:
    name: str
    fh: BinaryIO
    size: int


@dataclass(frozen=True)
class _Entry:
    data: bytes
    sha256: str
    arrival: Arrival
    segment: str
    offset: int

    def values(self, message_id: str | None, repeat: bool) -> dict[str, Any]:
        a = self.arrival
        return {
            "sha256": self.sha256, "size": len(self.data), "segment": self.segment,
            "offset": self.offset, "channel": a.channel.value, "envelope_from": a.mail_from,
            "envelope_to": list(a.rcpt_tos), "peer": a.peer, "source_ref": a.source_ref,
            "received_at": a.received_at, "message_id": message_id,
            "message_id_repeat": repeat, "status": RawStatus.STORED.value,
        }  # fmt: skip


@dataclass
class _Written:
    """A batch that is on disk (fsync'd) and waits to be indexed."""

    fresh: list[tuple[_Pending, _Entry]]
    followers: list[_Pending]
    seal: _Segment | None = None

    @property
    def urgent(self) -> bool:
        return any(item.urgent for item, _ in self.fresh) or any(
            item.urgent for item in self.followers
        )


class RawStore:
    """Durable, deduplicating intake of raw message bytes, safe across processes.

    Two threads form a pipeline: the writer appends a batch and fsyncs it while the
    indexer commits the previous batch, so neither waits on the other's disk or database.
    """

    def __init__(self, home: Path, engine: Engine) -> None:
        self.dir = home / "raw" / "segments"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        # Unbounded: the writer must never wait on the database (senders wait on the writer).
        self._written: queue.Queue[_Written | None] = queue.Queue()
        self._segment: _Segment | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._unindexed = False

    # -- writing -------------------------------------------------------------------------

    def submit(self, data: bytes, arrival: Arrival) -> concurrent.futures.Future[Stored]:
        """Queue bytes for the writer; the future resolves once they are durable and indexed."""
        return self._submit(data, arrival).future

    def _submit(self, data: bytes, arrival: Arrival, *, urgent: bool = True) -> _Pending:
        pending = _Pending(bytes(data), arrival, concurrent.futures.Future(), urgent=urgent)
        with self._lock:
            if self._closed:
                raise RawStoreError("the raw store is closed")
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run_writer, name="rawstore-write", daemon=True),
                    threading.Thread(target=self._run_indexer, name="rawstore-index", daemon=True),
                ]
                for thread in self._threads:
                    thread.start()
            self._queue.put(pending)
        return pending

    def submit_durable(self, data: bytes, arrival: Arrival) -> concurrent.futures.Future[str]:
        """Queue bytes; the future resolves once they are fsync'd (before they are indexed).

        Enough to tell a sender "accepted": the record holds the bytes and the arrival, and
        the indexer (or recover() after a crash) makes the row and the dispatch job.
        """
        pending = self._submit(data, arrival, urgent=False)
        return pending.durable

    def store(self, data: bytes, arrival: Arrival) -> Stored:
        """Store and wait: returns only after the bytes are fsync'd and the row committed."""
        return self.submit(data, arrival).result()

    def close(self) -> None:
        """Finish what was queued, seal the open segment and stop the pipeline."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = self._threads
            self._queue.put(None)
        for thread in threads:
            thread.join()
        if self._segment is not None:
            if self._unindexed:
                self._abandon_segment()
            else:
                self._seal(self._segment)
            self._segment = None

    def _run_writer(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                size = len(first.data)
                stop = False
                while size < BATCH_BYTES:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                    size += len(item.data)
                try:
                    written = self._write_batch(batch)
                except Exception as exc:
                    log.exception("raw store write failed", extra={"messages": len(batch)})
                    self._abandon_segment()
                    _fail(batch, exc)
                else:
                    for item in batch:
                        item.durable.set_result(item.sha256)
                    self._written.put(written)
                if stop:
                    return
        finally:
            self._written.put(None)

    def _write_batch(self, batch: list[_Pending]) -> _Written:
        fresh: dict[str, _Pending] = {}
        followers: list[_Pending] = []
        for item in batch:
            item.sha256 = hashlib.sha256(item.data).hexdigest()
            if item.sha256 in fresh:
                followers.append(item)
            else:
                fresh[item.sha256] = item
        segment = self._open_segment()
        places = {sha: self._append(segment, item) for sha, item in fresh.items()}
        os.fdatasync(segment.fh.fileno())
        written = _Written(
            [
                (item, _Entry(item.data, sha, item.arrival, segment.name, places[sha]))
                for sha, item in fresh.items()
            ],
            followers,
        )
        if segment.size >= SEGMENT_LIMIT:
            # Sealed by the indexer once this last batch of it is committed.
            written.seal = segment
            self._segment = None
        return written

    def _run_indexer(self) -> None:
        stop = False
        while not stop:
            first = self._written.get()
            if first is None:
                return
            # Whatever the writer finishes meanwhile is indexed in the same transaction:
            # under load, one commit covers many fsync batches.
            group = [first]
            deadline = time.monotonic() + INDEX_LINGER
            while len(group) < INDEX_GROUP:
                wait = 0.0 if any(w.urgent for w in group) else deadline - time.monotonic()
                try:
                    more = self._written.get(timeout=wait) if wait > 0 else self._written.get(False)
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
            self._index_group(group)

    def _index_group(self, group: list[_Written]) -> None:
        fresh = [pair for written in group for pair in written.fresh]
        followers = [item for written in group for item in written.followers]
        entries: dict[str, _Entry] = {}
        items: list[_Pending] = []
        for item, entry in fresh:
            if entry.sha256 in entries:
                followers.append(item)  # the same bytes again in a later fsync batch
            else:
                entries[entry.sha256] = entry
                items.append(item)
        results = self._index_with_retry(list(entries.values()))
        if results is None:
            # Closing while the database is unreachable: the records stay on disk in an
            # unsealed segment, and recover() at the next start indexes them.
            self._unindexed = True
            _fail(items + followers, RawStoreError("stored on disk but not indexed yet"))
            return
        follower_ids = {id(item) for item in followers}
        for item in items + followers:
            result = results[item.sha256]
            if id(item) in follower_ids and not result.duplicate:
                result = Stored(result.raw_id, result.sha256, duplicate=True)
            item.future.set_result(result)
        for written in group:
            if written.seal is not None:
                self._seal(written.seal)

    def _index_with_retry(self, entries: list[_Entry]) -> dict[str, Stored] | None:
        # Senders may already have their 250 (the bytes are durable), so never drop a
        # batch: retry until the database takes it or the store is closing.
        delay = 0.05
        while True:
            try:
                return self._index_batch(entries)
            except Exception as exc:
                log.warning(
                    "raw store index failed; retrying",
                    extra={"messages": len(entries), "error_type": type(exc).__name__},
                )
                if self._closed:
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _index_batch(self, entries: list[_Entry]) -> dict[str, Stored]:
        # Core statements, not the ORM: this is the intake's hot path. A duplicate of bytes
        # already indexed is appended again (a harmless orphan record) and found here.
        with self.engine.begin() as conn:
            try:
                with conn.begin_nested():
                    return _index_many(conn, entries)
            except IntegrityError:
                return {entry.sha256: _index_one(conn, entry) for entry in entries}

    def _append(self, segment: _Segment, item: _Pending) -> int:
        header = json.dumps({"sha256": item.sha256, "arrival": item.arrival.to_json()}).encode()
        prefix = _PREFIX.pack(MAGIC, len(header), len(item.data))
        segment.fh.write(prefix + header)
        segment.fh.write(item.data)
        segment.fh.flush()
        body_offset = segment.size + len(prefix) + len(header)
        segment.size = body_offset + len(item.data)
        return body_offset

    def _open_segment(self) -> _Segment:
        if self._segment is not None:
            return self._segment
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}.seg"
        fh = open(self.dir / name, "xb")  # noqa: SIM115 (held open for the segment's life)
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        _fsync_dir(self.dir)
        self._segment = _Segment(name, fh, 0)
        return self._segment

    def _seal(self, segment: _Segment) -> None:
        with contextlib.suppress(OSError):
            segment.fh.close()
        (self.dir / (segment.name + ".sealed")).touch()

    def _abandon_segment(self) -> None:
        # Left unsealed on purpose: recover() at the next start re-checks every record.
        if self._segment is not None:
            with contextlib.suppress(OSError):
                self._segment.fh.close()
            self._segment = None

    # -- reading and recovery ---------------------------------------------------------------

    def read(self, row: RawMessage) -> bytes:
        """The exact bytes of a stored message, checked against their SHA-256."""
        path = self.dir / row.segment
        try:
            with path.open("rb") as fh:
                fh.seek(row.offset)
                data = fh.read(row.size)
        except OSError as exc:
            raise RawStoreError(f"raw message {row.id}: cannot read {path}: {exc}") from None
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise RawStoreError(f"raw message {row.id}: stored bytes do not match their SHA-256")
        return data

    def recover(self) -> int:
        """Index complete records that a crashed writer fsync'd but never committed."""
        recovered = 0
        for path in sorted(self.dir.glob("*.seg")):
            if (self.dir / (path.name + ".sealed")).exists():
                continue
            try:
                fh = path.open("r+b")
            except FileNotFoundError:
                continue
            with fh:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer owns it
                recovered += self._recover_segment(path.name, fh)
                (self.dir / (path.name + ".sealed")).touch()
        if recovered:
            log.warning("raw store recovered messages", extra={"messages": recovered})
        return recovered

    def _recover_segment(self, name: str, fh: BinaryIO) -> int:
        recovered = 0
        pos = 0
        end = os.fstat(fh.fileno()).st_size
        while pos < end:
            fh.seek(pos)
            prefix = fh.read(_PREFIX.size)
            valid = len(prefix) == _PREFIX.size
            if valid:
                magic, header_len, body_len = _PREFIX.unpack(prefix)
                body_offset = pos + _PREFIX.size + header_len
                valid = magic == MAGIC and body_offset + body_len <= end
            if valid:
                try:
                    header = json.loads(fh.read(header_len))
                    data = fh.read(body_len)
                    valid = hashlib.sha256(data).hexdigest() == header["sha256"]
                except (ValueError, KeyError):
                    valid = False
            if not valid:
                # A torn tail: never acknowledged (the fsync comes before any reply).
                fh.truncate(pos)
                os.fsync(fh.fileno())
                break
            with session_scope(self.engine) as session:
                exists = session.execute(
                    select(RawMessage.id).where(RawMessage.sha256 == header["sha256"])
                ).scalar_one_or_none()
                if exists is None:
                    arrival = Arrival.from_json(header["arrival"])
                    _index(session, data, header["sha256"], arrival, name, body_offset)
                    recovered += 1
            pos = body_offset + body_len
        return recovered


def _job_values(raw_id: int, sha256: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "kind": DISPATCH_JOB, "payload": {"raw_id": raw_id}, "key": sha256,
        "status": "queued", "run_at": now, "attempts": 0, "created_at": now,
    }  # fmt: skip


def _index_many(conn: Connection, entries: list[_Entry]) -> dict[str, Stored]:
    """The batch's rows and their dispatch jobs in two multi-row inserts."""
    ids = {e.sha256: header_message_id(e.data) for e in entries}
    wanted = {mid for mid in ids.values() if mid}
    seen: set[str | None] = set()
    if wanted:
        seen = set(
            conn.execute(
                select(RawMessage.message_id).where(RawMessage.message_id.in_(wanted))
            ).scalars()
        )
    params = []
    for e in entries:
        mid = ids[e.sha256]
        params.append(e.values(mid, mid is not None and mid in seen))
        if mid:
            seen.add(mid)
    inserted = conn.execute(
        insert(RawMessage).returning(RawMessage.id, sort_by_parameter_order=True), params
    ).scalars().all()  # fmt: skip
    conn.execute(
        insert(Job), [_job_values(rid, e.sha256) for rid, e in zip(inserted, entries, strict=True)]
    )
    return {
        e.sha256: Stored(rid, e.sha256, duplicate=False, message_id_repeat=p["message_id_repeat"])
        for rid, e, p in zip(inserted, entries, params, strict=True)
    }


def _index_one(conn: Connection, entry: _Entry) -> Stored:
    """One row, losing gracefully to a concurrent writer that indexed the same bytes."""
    existing = conn.execute(
        select(RawMessage.id).where(RawMessage.sha256 == entry.sha256)
    ).scalar_one_or_none()
    if existing is not None:
        return Stored(existing, entry.sha256, duplicate=True)
    try:
        with conn.begin_nested():
            return _index_many(conn, [entry])[entry.sha256]
    except IntegrityError:
        other = conn.execute(
            select(RawMessage.id).where(RawMessage.sha256 == entry.sha256)
        ).scalar_one()
        return Stored(other, entry.sha256, duplicate=True)


def _index(
    session: Session, data: bytes, sha256: str, arrival: Arrival, segment: str, offset: int
) -> Stored:
    """Insert the row and its dispatch job; a concurrent writer's row wins a race."""
    message_id = header_message_id(data)
    repeat = False
    if message_id is not None:
        repeat = (
            session.execute(
                select(RawMessage.id).where(RawMessage.message_id == message_id).limit(1)
            ).scalar_one_or_none()
            is not None
        )
    row = RawMessage(
        sha256=sha256,
        size=len(data),
        segment=segment,
        offset=offset,
        channel=arrival.channel.value,
        envelope_from=arrival.mail_from,
        envelope_to=list(arrival.rcpt_tos),
        peer=arrival.peer,
        source_ref=arrival.source_ref,
        received_at=arrival.received_at,
        message_id=message_id,
        message_id_repeat=repeat,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        other = session.execute(
            select(RawMessage.id).where(RawMessage.sha256 == sha256)
        ).scalar_one()
        return Stored(other, sha256, duplicate=True)
    jobs.enqueue(session, DISPATCH_JOB, {"raw_id": row.id}, key=sha256)
    return Stored(row.id, sha256, duplicate=False, message_id_repeat=repeat)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
