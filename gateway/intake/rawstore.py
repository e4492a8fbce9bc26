"""The raw store: every inbound message written whole and fsync'd before anyone is told OK.

Messages are appended to segment files under `<home>/raw/segments/` by one writer thread
per process, which groups whatever arrived together into one write and one fdatasync
(group commit), then indexes the batch in `raw_messages` and queues a dispatch job for
each new message in the same transaction. A crash after the fsync but before the commit
loses nothing: `recover()` re-indexes complete records from segments no live writer
holds (each writer keeps an flock on its open segment). Several processes (`cme run`
scaled out on one data home) write side by side, each to segments of its own; any of
them recovers a dead one's segments (at start and then periodically, see dispatch).

Encrypted at rest (gateway.intake.rawkeys has the keys): each message and its arrival
are sealed with AES-256-GCM under a data key of its own; the data key is wrapped by the
master key (keys/raw.key) in `raw_message_keys`, and, for crash recovery only, by the
segment's key in the record header (that segment key is kept beside an open segment and
deleted when the segment is sealed). The SHA-256 in `raw_messages` is of the plaintext,
so deduplication works as before. Records written before encryption (`CMERAW1`) are read
as they are (`encrypted` false) until `cme keys rotate` re-encrypts them.

Disposal is crypto-shredding, not compaction. Retention deletes a message's key row
(and its row); its bytes stay in the segment, sealed under a key that no longer exists.
Compaction (rewriting segments without the disposed records) was rejected: it rewrites
up to 256 MiB to drop a few KiB, must move every surviving record while writers, readers
and recovery use the segments (new offsets, a second copy on disk until the old one is
unlinked, and a crash in between to reason about), breaks the segments' append-only
immutability that backups and integrity checks rely on, and still leaves the plaintext in
every backup of the old segment. Shredding is one row per message, in the disposal's own
transaction, and it reaches backups too. The cost is dead bytes in segments (their
places are listed in `raw_shredded`, so a compaction to reclaim space stays possible).

What someone holding an old backup of the segments can and cannot do:
- segments alone: nothing but sizes and times. Bodies and arrivals (envelope, peer) are
  ciphertext; no plaintext hash is written in a sealed record.
- segments and the keyring of the time (keys/raw.key), but not the database: only the
  records of segments that were still open when the backup was taken (their segment key
  file was beside them); a sealed segment's data keys exist only in the database.
- segments, keyring and a database backup from before a disposal: they can read what that
  backup held, disposed messages included. Crypto-shredding cannot reach a copy of the key
  table taken earlier; such backups must expire on the council's backup schedule, and a
  rotation (`cme keys rotate`) then makes the old master key, and so any older copy of the
  key table, useless.
- anything from after the disposal: the message is gone; its data key is in no database,
  no keyring and no segment key file. (A segment is sealed when full, when its writer
  stops, and at the latest a day after it was opened, so a message disposed of while its
  segment was still open stays in that segment's key file until then; retention periods
  are months and years, so in practice the segment was sealed long before.)
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from gateway import jobs
from gateway.db import session_scope, utcnow
from gateway.intake import rawkeys
from gateway.intake.rawkeys import RawKeyError
from gateway.models.intake import IntakeChannel, RawMessage, RawStatus
from gateway.models.ops import Job
from gateway.models.rawkeys import RawMessageKey, RawShred

log = logging.getLogger(__name__)

DISPATCH_JOB = "intake.dispatch"
MAGIC = b"CMERAW1\n"  # a plaintext record (written before encryption at rest)
SEALED_MAGIC = b"CMERAW2\n"  # a sealed record: header {"k": key, "a": arrival}, body sealed
_PREFIX = struct.Struct(">8sIQ")  # magic, header length, body length
SEGMENT_LIMIT = 256 * 1024 * 1024
# A segment is sealed after this long even when not full, so its key file (the second
# copy of its data keys) does not outlive it by more than a day (see the docstring).
SEGMENT_MAX_AGE = 24 * 3600.0
# How often an idle writer looks at the age of its open segment.
IDLE_CHECK = 60.0
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
    key: bytes  # the segment key (its wrapped copy is the <segment>.key file)
    opened: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Entry:
    data: bytes
    sha256: str
    arrival: Arrival
    segment: str
    offset: int
    # The message's data key; None for a plaintext record found by recover().
    data_key: bytes | None = None

    def values(self, message_id: str | None, repeat: bool) -> dict[str, Any]:
        a = self.arrival
        return {
            "sha256": self.sha256, "size": len(self.data), "segment": self.segment,
            "offset": self.offset, "encrypted": self.data_key is not None,
            "channel": a.channel.value, "envelope_from": a.mail_from,
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
        self.keys_dir = home / "keys"
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
                try:
                    first = self._queue.get(timeout=IDLE_CHECK)
                except queue.Empty:
                    self._roll_if_old()
                    continue
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
        places = {
            sha: self._append(segment, item.data, item.arrival) for sha, item in fresh.items()
        }
        os.fdatasync(segment.fh.fileno())
        written = _Written(
            [
                (item, _Entry(item.data, sha, item.arrival, segment.name, *places[sha]))
                for sha, item in fresh.items()
            ],
            followers,
        )
        if segment.size >= SEGMENT_LIMIT or self._too_old(segment):
            # Sealed by the indexer once this last batch of it is committed.
            written.seal = segment
            self._segment = None
        return written

    def _too_old(self, segment: _Segment) -> bool:
        return time.monotonic() - segment.opened >= SEGMENT_MAX_AGE

    def _roll_if_old(self) -> None:
        """An idle writer's old segment: sealed by the indexer after what came before it."""
        segment = self._segment
        if segment is not None and not self._unindexed and self._too_old(segment):
            self._segment = None
            self._written.put(_Written([], [], seal=segment))

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
        results = self._index_with_retry(list(entries.values())) if entries else {}
        if results is None:
            # Closing while the database is unreachable: the records stay on disk in an
            # unsealed segment, and recover() at the next start indexes them.
            self._unindexed = True
            _fail(items + followers, RawStoreError("stored on disk but not indexed yet"))
            return
        if any(not r.duplicate for r in results.values()):
            jobs.notify()  # their dispatch jobs are committed: wake this process's worker
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
            sealing = rawkeys.sealing_key(conn, self.keys_dir)
            try:
                with conn.begin_nested():
                    return _index_many(conn, entries, sealing)
            except IntegrityError:
                return {entry.sha256: _index_one(conn, entry, sealing) for entry in entries}

    def _append(self, segment: _Segment, data: bytes, arrival: Arrival) -> tuple[int, bytes]:
        """Append one sealed record; returns where its body starts and its data key."""
        data_key = rawkeys.new_key()
        start = segment.size
        header = json.dumps(
            {
                "k": rawkeys.seal(
                    segment.key, data_key, rawkeys.record_aad(segment.name, start)
                ).hex(),
                "a": rawkeys.seal(
                    data_key, json.dumps(arrival.to_json()).encode(), rawkeys.ARRIVAL_AAD
                ).hex(),
            }
        ).encode()
        body = rawkeys.seal(data_key, data, rawkeys.BODY_AAD)
        prefix = _PREFIX.pack(SEALED_MAGIC, len(header), len(body))
        segment.fh.write(prefix + header)
        segment.fh.write(body)
        segment.fh.flush()
        body_offset = start + len(prefix) + len(header)
        segment.size = body_offset + len(body)
        return body_offset, data_key

    def _open_segment(self) -> _Segment:
        if self._segment is not None:
            return self._segment
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}.seg"
        # Locked under a name recover() does not look at, then renamed: another process's
        # recover() must never find a live writer's new segment unlocked and seal it. (The
        # rename is made durable by the folder fsync that writes the segment key below.)
        fresh = self.dir / f".{name}.new"
        fh = open(fresh, "xb")  # noqa: SIM115 (held open for the segment's life)
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(fresh, self.dir / name)
        key = rawkeys.new_key()
        # The segment key is durable (with the segment's name, both fsync'd in the folder)
        # before the segment holds a record: recover() needs it to read them.
        self._write_segment_key(name, key)
        self._segment = _Segment(name, fh, 0, key)
        return self._segment

    def _write_segment_key(self, name: str, key: bytes) -> None:
        """Write the segment key under the current master key, and again if a rotation
        changed the keyring meanwhile (the rotation re-wraps only the files it sees)."""
        ring = rawkeys.load(self.keys_dir, fresh=True, create_missing=True)
        while True:
            rawkeys.write_sidecar(self.dir, name, key, ring)
            now = rawkeys.load(self.keys_dir, fresh=True)
            if now.current == ring.current:
                return
            ring = now

    def _seal(self, segment: _Segment) -> None:
        # Marked while still locked: another process's recover() never opens it half-sealed.
        self._seal_name(segment.name)
        with contextlib.suppress(OSError):
            segment.fh.close()

    def _seal_name(self, name: str) -> None:
        # Marked sealed first: a rotation that re-wraps the key file meanwhile sees the
        # mark and deletes what it wrote. Then every data key is in the database only.
        (self.dir / (name + ".sealed")).touch()
        rawkeys.drop_sidecar(self.dir, name)
        _fsync_dir(self.dir)

    def _abandon_segment(self) -> None:
        # Left unsealed on purpose: recover() at the next start re-checks every record.
        if self._segment is not None:
            with contextlib.suppress(OSError):
                self._segment.fh.close()
            self._segment = None

    # -- reading and recovery ---------------------------------------------------------------

    def read(self, row: RawMessage) -> bytes:
        """The exact bytes of a stored message, checked against their SHA-256.

        Reads through the row's own session (on SQLite a second connection would wait on
        the caller's write lock). A row that `cme keys rotate` moved meanwhile (a plaintext
        record re-encrypted elsewhere) is looked up again and read where it is now.
        """
        session = object_session(row)
        place = (row.segment, row.offset, bool(row.encrypted))
        try:
            return self._read_at(session, row.id, row.sha256, row.size, place)
        except RawStoreError:
            # Once more from what the database says now: moved, or its key re-wrapped by
            # a rotation that finished between reading the key row and the keyring.
            now = self._place(session, row.id)
            if now is None:
                raise
            return self._read_at(session, row.id, row.sha256, row.size, now)

    def read_many(self, rows: Sequence[RawMessage]) -> Iterator[bytes | RawStoreError]:
        """Each row's bytes as `read` gives them, or the error it raises, one by one (the
        caller can start on the first before the last is read): the rows' keys read in
        one query (the rows of one session), not one query a message."""
        if not rows:
            return
        session = object_session(rows[0])
        wanted = [row.id for row in rows if row.encrypted]
        keys: dict[int, tuple[int, bytes]] = {}
        for i in range(0, len(wanted), 500):
            found = self._query(
                session,
                select(RawMessageKey.raw_id, RawMessageKey.version, RawMessageKey.wrapped).where(
                    RawMessageKey.raw_id.in_(wanted[i : i + 500])
                ),
                every=True,
            )
            keys.update((int(k[0]), (int(k[1]), bytes(k[2]))) for k in found)
        for row in rows:
            place = (row.segment, row.offset, bool(row.encrypted))
            try:
                key = keys.get(row.id) if row.encrypted else None
                data = self._read_at(session, row.id, row.sha256, row.size, place, key)
            except RawStoreError:
                try:
                    data = self.read(row)  # as read() does: again from what is there now
                except RawStoreError as exc:
                    yield exc
                    continue
            yield data

    def _query(self, session: Session | None, stmt: Any, *, every: bool = False) -> Any:
        """The statement's first row (`every`: all its rows), through `session` if given."""
        if session is not None:
            result = session.execute(stmt)
            return result.all() if every else result.first()
        with self.engine.connect() as conn:
            result = conn.execute(stmt)
            return result.all() if every else result.first()

    def _place(self, session: Session | None, raw_id: int) -> tuple[str, int, bool] | None:
        found = self._query(
            session,
            select(RawMessage.segment, RawMessage.offset, RawMessage.encrypted).where(
                RawMessage.id == raw_id
            ),
        )
        return None if found is None else (found[0], int(found[1]), bool(found[2]))

    def _read_at(
        self,
        session: Session | None,
        raw_id: int,
        sha256: str,
        size: int,
        place: tuple[str, int, bool],
        key: tuple[int, bytes] | None = None,
    ) -> bytes:
        """`key`: the message's wrapped key (version, wrapped) when the caller read it."""
        segment, offset, encrypted = place
        data_key = None
        if encrypted:
            wrapped = key or self._query(
                session,
                select(RawMessageKey.version, RawMessageKey.wrapped).where(
                    RawMessageKey.raw_id == raw_id
                ),
            )
            if wrapped is None:
                raise RawStoreError(
                    f"raw message {raw_id} was disposed of: its key no longer exists"
                )
            try:
                ring = rawkeys.load(self.keys_dir, need=int(wrapped[0]))
                data_key = rawkeys.unseal(
                    ring.key(int(wrapped[0])), bytes(wrapped[1]),
                    rawkeys.data_key_aad(raw_id), f"the key of raw message {raw_id}",
                )  # fmt: skip
            except RawKeyError as exc:
                raise RawStoreError(f"raw message {raw_id}: {exc}") from None
        path = self.dir / segment
        length = size + rawkeys.OVERHEAD if encrypted else size
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        except OSError as exc:
            raise RawStoreError(f"raw message {raw_id}: cannot read {path}: {exc}") from None
        if data_key is not None:
            try:
                data = rawkeys.unseal(data_key, data, rawkeys.BODY_AAD, f"raw message {raw_id}")
            except RawKeyError as exc:
                raise RawStoreError(str(exc)) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise RawStoreError(f"raw message {raw_id}: stored bytes do not match their SHA-256")
        return data

    def append_sealed(self, data: bytes, arrival: Arrival) -> tuple[str, int, bytes]:
        """Append one sealed record to this store's own segment (not fsync'd, not indexed):
        for a rotation re-encrypting plaintext records; call sync() before using the place."""
        segment = self._open_segment()
        offset, data_key = self._append(segment, data, arrival)
        return segment.name, offset, data_key

    def sync(self) -> None:
        if self._segment is not None:
            os.fdatasync(self._segment.fh.fileno())

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
                if (self.dir / (path.name + ".sealed")).exists():
                    continue  # sealed by its writer or another recovery meanwhile
                try:
                    recovered += self._recover_segment(path.name, fh)
                except RawKeyError as exc:
                    # Left unsealed and untouched: nothing is cut without its key to check it.
                    log.error(
                        "raw store segment cannot be recovered without its key",
                        extra={"segment": path.name, "error": str(exc)},
                    )
                    continue
                self._seal_name(path.name)
        self._drop_stale_segment_keys()
        if recovered:
            log.warning("raw store recovered messages", extra={"messages": recovered})
        return recovered

    def _drop_stale_segment_keys(self) -> None:
        """Key files of sealed segments that a crash left behind (sealing drops them), and
        empty new segments a writer died before naming (nothing was ever written to one)."""
        for fresh in self.dir.glob(".*.seg.new"):
            with contextlib.suppress(OSError), fresh.open("rb") as fh:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer is naming it
                if os.fstat(fh.fileno()).st_size == 0:
                    fresh.unlink(missing_ok=True)
        for key_file in self.dir.glob("*.seg" + rawkeys.SIDECAR_SUFFIX):
            name = key_file.name.removesuffix(rawkeys.SIDECAR_SUFFIX)
            if (self.dir / (name + ".sealed")).exists():
                key_file.unlink(missing_ok=True)

    def _recover_segment(self, name: str, fh: BinaryIO) -> int:
        recovered = 0
        pos = 0
        end = os.fstat(fh.fileno()).st_size
        segment_key: bytes | None = None
        with self.engine.connect() as conn:
            shredded = set(
                conn.execute(select(RawShred.offset).where(RawShred.segment == name)).scalars()
            )
        while pos < end:
            fh.seek(pos)
            prefix = fh.read(_PREFIX.size)
            valid = len(prefix) == _PREFIX.size
            if valid:
                magic, header_len, body_len = _PREFIX.unpack(prefix)
                body_offset = pos + _PREFIX.size + header_len
                valid = magic in (MAGIC, SEALED_MAGIC) and body_offset + body_len <= end
            record: tuple[bytes, str, Arrival, bytes | None] | None = None
            if valid:
                if magic == SEALED_MAGIC and segment_key is None:
                    segment_key = rawkeys.read_sidecar(self.dir, name, self.keys_dir)
                    if segment_key is None:
                        raise RawKeyError(f"the key file of segment {name} is missing")
                record = _read_record(fh, magic, header_len, body_len, name, pos, segment_key)
            if record is None:
                # A torn tail: never acknowledged (the fsync comes before any reply).
                fh.truncate(pos)
                os.fsync(fh.fileno())
                break
            data, sha256, arrival, data_key = record
            if body_offset not in shredded:  # a disposed message is never brought back
                with session_scope(self.engine) as session:
                    exists = session.execute(
                        select(RawMessage.id).where(RawMessage.sha256 == sha256)
                    ).scalar_one_or_none()
                    if exists is None:
                        entry = _Entry(data, sha256, arrival, name, body_offset, data_key)
                        _index(session, entry, self.keys_dir)
                        recovered += 1
            pos = body_offset + body_len
        return recovered


def _read_record(
    fh: BinaryIO,
    magic: bytes,
    header_len: int,
    body_len: int,
    segment: str,
    start: int,
    segment_key: bytes | None,
) -> tuple[bytes, str, Arrival, bytes | None] | None:
    """One whole record (bytes, SHA-256, arrival, data key), or None if it is not whole."""
    try:
        header = json.loads(fh.read(header_len))
        body = fh.read(body_len)
        if magic == MAGIC:
            valid = hashlib.sha256(body).hexdigest() == header["sha256"]
            return (
                (body, header["sha256"], Arrival.from_json(header["arrival"]), None)
                if valid
                else None
            )
        assert segment_key is not None
        data_key = rawkeys.unseal(
            segment_key, bytes.fromhex(header["k"]), rawkeys.record_aad(segment, start), "record"
        )
        data = rawkeys.unseal(data_key, body, rawkeys.BODY_AAD, "record")
        arrival = json.loads(
            rawkeys.unseal(data_key, bytes.fromhex(header["a"]), rawkeys.ARRIVAL_AAD, "record")
        )
        return data, hashlib.sha256(data).hexdigest(), Arrival.from_json(arrival), data_key
    except (ValueError, KeyError, TypeError, RawKeyError):
        return None


def shred(conn: Connection, places: list[tuple[int, str, int]]) -> int:
    """Dispose of raw messages' bytes (id, segment, offset): destroy their data keys and
    note their places, so recovery never re-indexes them. The caller deletes the rows
    (and what refers to them) in the same transaction. Returns the keys destroyed."""
    if not places:
        return 0
    ids = [raw_id for raw_id, _, _ in places]
    destroyed = 0
    for chunk in _chunks(ids):
        destroyed += conn.execute(
            delete(RawMessageKey).where(RawMessageKey.raw_id.in_(chunk))
        ).rowcount
    now = utcnow()
    conn.execute(
        insert(RawShred), [{"segment": seg, "offset": off, "at": now} for _, seg, off in places]
    )
    return int(destroyed)


def _chunks(values: list[int], size: int = 500) -> list[list[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _job_values(raw_id: int, sha256: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "kind": DISPATCH_JOB, "payload": {"raw_id": raw_id}, "key": sha256,
        "status": "queued", "run_at": now, "attempts": 0, "created_at": now,
    }  # fmt: skip


def key_values(raw_id: int, data_key: bytes, sealing: tuple[int, bytes]) -> dict[str, Any]:
    """A `raw_message_keys` row: the data key wrapped by the current master key."""
    version, master = sealing
    wrapped = rawkeys.seal(master, data_key, rawkeys.data_key_aad(raw_id))
    return {"raw_id": raw_id, "version": version, "wrapped": wrapped}


def _index_many(
    conn: Connection, entries: list[_Entry], sealing: tuple[int, bytes]
) -> dict[str, Stored]:
    """The batch's rows, their keys and their dispatch jobs in three multi-row inserts."""
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
    keys = [
        key_values(rid, e.data_key, sealing)
        for rid, e in zip(inserted, entries, strict=True)
        if e.data_key is not None
    ]
    if keys:
        conn.execute(insert(RawMessageKey), keys)
    conn.execute(
        insert(Job), [_job_values(rid, e.sha256) for rid, e in zip(inserted, entries, strict=True)]
    )
    return {
        e.sha256: Stored(rid, e.sha256, duplicate=False, message_id_repeat=p["message_id_repeat"])
        for rid, e, p in zip(inserted, entries, params, strict=True)
    }


def _index_one(conn: Connection, entry: _Entry, sealing: tuple[int, bytes]) -> Stored:
    """One row, losing gracefully to a concurrent writer that indexed the same bytes."""
    existing = conn.execute(
        select(RawMessage.id).where(RawMessage.sha256 == entry.sha256)
    ).scalar_one_or_none()
    if existing is not None:
        return Stored(existing, entry.sha256, duplicate=True)
    try:
        with conn.begin_nested():
            return _index_many(conn, [entry], sealing)[entry.sha256]
    except IntegrityError:
        other = conn.execute(
            select(RawMessage.id).where(RawMessage.sha256 == entry.sha256)
        ).scalar_one()
        return Stored(other, entry.sha256, duplicate=True)


def _index(session: Session, entry: _Entry, keys_dir: Path) -> Stored:
    """Insert the row, its key and its dispatch job; a concurrent writer's row wins a race."""
    message_id = header_message_id(entry.data)
    repeat = False
    if message_id is not None:
        repeat = (
            session.execute(
                select(RawMessage.id).where(RawMessage.message_id == message_id).limit(1)
            ).scalar_one_or_none()
            is not None
        )
    values = entry.values(message_id, repeat)
    values["envelope_to"] = list(values["envelope_to"])
    row = RawMessage(**values)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
            if entry.data_key is not None:
                sealing = rawkeys.sealing_key(session.connection(), keys_dir)
                session.add(RawMessageKey(**key_values(row.id, entry.data_key, sealing)))
                session.flush()
    except IntegrityError:
        other = session.execute(
            select(RawMessage.id).where(RawMessage.sha256 == entry.sha256)
        ).scalar_one()
        return Stored(other, entry.sha256, duplicate=True)
    jobs.enqueue(session, DISPATCH_JOB, {"raw_id": row.id}, key=entry.sha256)
    return Stored(row.id, entry.sha256, duplicate=False, message_id_repeat=repeat)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
