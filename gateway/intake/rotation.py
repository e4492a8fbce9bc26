"""`cme keys rotate`: a new raw store master key, every data key re-wrapped under it, the
service running throughout.

The steps, each safe to interrupt (running the command again finishes the rotation):
1. `begin`: the new version is added to keys/raw.key as current (the old ones stay, so
   every reader opens both), then made current in the database. On PostgreSQL that switch
   waits for any indexer that read the old version to commit (gateway.intake.rawkeys
   `current_version`); from then on every message arriving is wrapped under the new key.
2. `rewrap_batch`, until none is left: the data keys still under an older version, in
   batches of `batch` rows, each batch one transaction.
3. `reencrypt_batch`, until none is left: plaintext records from before encryption are
   sealed into a new segment and their rows moved there (a reader that had the old place
   reads the new one, see RawStore.read); `drop_legacy_segments` then deletes each
   plaintext segment that no row uses and whose every record is accounted for (a copy
   indexed elsewhere, or a disposed message's place).
4. `finish`: segment key files of open segments are re-wrapped, the old versions marked
   retired in the database, and only then deleted from keys/raw.key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, update

from gateway.db import utcnow
from gateway.intake import rawkeys
from gateway.intake.rawkeys import RawKeyError
from gateway.intake.rawstore import (
    _PREFIX,
    MAGIC,
    Arrival,
    RawStore,
    RawStoreError,
    key_values,
)
from gateway.models.intake import IntakeChannel, RawMessage
from gateway.models.rawkeys import MasterState, RawMasterKey, RawMessageKey, RawShred

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True)
class RotationReport:
    version: int
    retired: tuple[int, ...]
    resumed: bool
    rewrapped: int
    reencrypted: int
    segment_keys: int
    segments_removed: int
    # Plaintext segments kept: still used, or holding a record nothing accounts for.
    segments_kept: tuple[str, ...]
    # Plaintext rows whose bytes could not be read (left as they are, and reported).
    unreadable: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "retired": list(self.retired), "resumed": self.resumed,
            "rewrapped": self.rewrapped, "reencrypted": self.reencrypted,
            "segment_keys": self.segment_keys, "segments_removed": self.segments_removed,
            "segments_kept": list(self.segments_kept), "unreadable": list(self.unreadable),
        }  # fmt: skip


@dataclass
class Rotation:
    """One rotation, step by step (the tests step through it; `rotate` runs it whole)."""

    home: Path
    engine: Engine
    batch: int = BATCH
    version: int = 0
    resumed: bool = False
    rewrapped: int = 0
    reencrypted: int = 0
    segment_keys: int = 0
    segments_removed: int = 0
    segments_kept: list[str] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    _last_plain: int = 0
    _store: RawStore | None = None

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def segments(self) -> Path:
        return self.home / "raw" / "segments"

    def _raw_store(self) -> RawStore:
        if self._store is None:
            self._store = RawStore(self.home, self.engine)
        return self._store

    # -- 1 ---------------------------------------------------------------------------------

    def begin(self) -> int:
        """Add the new version (or pick up an unfinished rotation) and make it current."""
        ring = rawkeys.load(self.keys_dir, fresh=True, create_missing=True)
        with self.engine.connect() as conn:
            states = dict(conn.execute(select(RawMasterKey.version, RawMasterKey.state)).all())
        if len(ring.keys) > 1 or MasterState.OLD.value in states.values():
            self.resumed = True
            target = max(ring.keys)
            if states and max(states) > target:
                raise RawKeyError(
                    f"the database knows master key version {max(states)}, which "
                    f"{ring.path} lacks: restore keys/raw.key from the backup"
                )
        else:
            target = max([*ring.keys, *states]) + 1
            ring = rawkeys.write(self.keys_dir, target, {**ring.keys, target: rawkeys.new_key()})
        if ring.current != target:
            ring = rawkeys.write(self.keys_dir, target, ring.keys)
        with self.engine.begin() as conn:
            # On PostgreSQL this waits for indexers holding the current row (FOR SHARE).
            conn.execute(
                update(RawMasterKey)
                .where(
                    RawMasterKey.state == MasterState.CURRENT.value,
                    RawMasterKey.version != target,
                )
                .values(state=MasterState.OLD.value)
            )
            state = conn.execute(
                select(RawMasterKey.state).where(RawMasterKey.version == target)
            ).scalar_one_or_none()
            if state is None:
                conn.execute(
                    insert(RawMasterKey).values(
                        version=target, state=MasterState.CURRENT.value, created_at=utcnow()
                    )
                )
            elif state != MasterState.CURRENT.value:
                conn.execute(
                    update(RawMasterKey)
                    .where(RawMasterKey.version == target)
                    .values(state=MasterState.CURRENT.value, retired_at=None)
                )
        self.version = target
        log.info("raw store key rotation begun", extra={"version": target})
        return target

    # -- 2 ---------------------------------------------------------------------------------

    def rewrap_batch(self) -> int:
        """Re-wrap one batch of data keys under the new version; 0 when none is left."""
        target = self._target()
        with self.engine.begin() as conn:
            # No lock: the update below changes a row only if it is still as read (a
            # disposal that deleted it meanwhile wins).
            rows = conn.execute(
                select(RawMessageKey.raw_id, RawMessageKey.version, RawMessageKey.wrapped)
                .where(RawMessageKey.version < target)
                .order_by(RawMessageKey.raw_id)
                .limit(self.batch)
            ).all()
            if not rows:
                return 0
            new_key = rawkeys.load(self.keys_dir, need=target).key(target)
            params = []
            for raw_id, version, wrapped in rows:
                old_key = rawkeys.load(self.keys_dir, need=int(version)).key(int(version))
                aad = rawkeys.data_key_aad(int(raw_id))
                data_key = rawkeys.unseal(old_key, bytes(wrapped), aad, f"the key of raw {raw_id}")
                params.append(
                    {
                        "b_id": raw_id,
                        "b_old": version,
                        "b_wrapped": rawkeys.seal(new_key, data_key, aad),
                    }
                )
            conn.execute(
                update(RawMessageKey)
                .where(
                    RawMessageKey.raw_id == bindparam("b_id"),
                    RawMessageKey.version == bindparam("b_old"),
                )
                .values(version=target, wrapped=bindparam("b_wrapped")),
                params,
            )
        self.rewrapped += len(rows)
        return len(rows)

    # -- 3 ---------------------------------------------------------------------------------

    def reencrypt_batch(self) -> int:
        """Seal one batch of plaintext records into the rotation's own segment and move
        their rows there; 0 when none is left."""
        self._target()
        store = self._raw_store()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    RawMessage.id,
                    RawMessage.segment,
                    RawMessage.offset,
                    RawMessage.size,
                    RawMessage.sha256,
                    RawMessage.channel,
                    RawMessage.envelope_from,
                    RawMessage.envelope_to,
                    RawMessage.peer,
                    RawMessage.source_ref,
                    RawMessage.received_at,
                )
                .where(RawMessage.encrypted.is_(False), RawMessage.id > self._last_plain)
                .order_by(RawMessage.id)
                .limit(self.batch)
            ).all()
        if not rows:
            return 0
        self._last_plain = int(rows[-1].id)
        moved: list[tuple[Any, tuple[str, int, bytes]]] = []
        for row in rows:
            try:
                data = store._read_at(
                    None, row.id, row.sha256, row.size, (row.segment, row.offset, False)
                )
            except RawStoreError:
                self.unreadable.append(int(row.id))
                continue
            moved.append((row, store.append_sealed(data, _arrival(row))))
        store.sync()  # the sealed copies are durable before any row points at them
        with self.engine.begin() as conn:
            sealing = rawkeys.sealing_key(conn, self.keys_dir)
            for row, (segment, offset, data_key) in moved:
                changed = conn.execute(
                    update(RawMessage)
                    .where(
                        RawMessage.id == row.id,
                        RawMessage.encrypted.is_(False),
                        RawMessage.segment == row.segment,
                        RawMessage.offset == row.offset,
                    )
                    .values(segment=segment, offset=offset, encrypted=True)
                ).rowcount
                if changed:  # not disposed of meanwhile
                    conn.execute(insert(RawMessageKey), [key_values(row.id, data_key, sealing)])
                    self.reencrypted += 1
        return len(rows)

    def drop_legacy_segments(self) -> int:
        """Delete plaintext segments no row uses and every record of which is accounted for."""
        store = self._raw_store()
        store.recover()  # a crashed writer's records are indexed (and moved) first
        removed = 0
        for path in sorted(self.segments.glob("*.seg")):
            if not (self.segments / (path.name + ".sealed")).exists():
                continue
            with path.open("rb") as fh:
                if fh.read(len(MAGIC)) != MAGIC:
                    continue  # sealed records: crypto-shredded, never rewritten
            with self.engine.connect() as conn:
                used = conn.execute(
                    select(RawMessage.id).where(RawMessage.segment == path.name).limit(1)
                ).first()
            if used is not None or not self._accounted(path):
                self.segments_kept.append(path.name)
                continue
            path.unlink()
            (self.segments / (path.name + ".sealed")).unlink(missing_ok=True)
            removed += 1
        if removed:
            _fsync_dir(self.segments)
        self.segments_removed += removed
        return removed

    def _accounted(self, path: Path) -> bool:
        """Every record is a message indexed elsewhere or one that was disposed of."""
        records: list[tuple[int, str]] = []
        with path.open("rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            pos = 0
            while pos < end:
                fh.seek(pos)
                prefix = fh.read(_PREFIX.size)
                if len(prefix) != _PREFIX.size:
                    return False
                magic, header_len, body_len = _PREFIX.unpack(prefix)
                if magic != MAGIC:
                    return False
                try:
                    sha = str(json.loads(fh.read(header_len))["sha256"])
                except (ValueError, KeyError, TypeError):
                    return False
                body = pos + _PREFIX.size + header_len
                records.append((body, sha))
                pos = body + body_len
        with self.engine.connect() as conn:
            shredded = set(
                conn.execute(select(RawShred.offset).where(RawShred.segment == path.name)).scalars()
            )
            shas = [sha for offset, sha in records if offset not in shredded]
            indexed: set[str] = set()
            for i in range(0, len(shas), 500):
                indexed.update(
                    conn.execute(
                        select(RawMessage.sha256).where(RawMessage.sha256.in_(shas[i : i + 500]))
                    ).scalars()
                )
        missing = [
            offset for offset, sha in records if offset not in shredded and sha not in indexed
        ]
        if missing:
            log.warning(
                "plaintext segment kept: records not indexed anywhere",
                extra={"segment": path.name, "records": len(missing)},
            )
        return not missing

    # -- 4 ---------------------------------------------------------------------------------

    def rewrap_segment_keys(self) -> int:
        """Re-wrap the key files of open segments under the new version (sealed ones go)."""
        target = self._target()
        ring = rawkeys.load(self.keys_dir, fresh=True)
        if ring.current != target:
            raise RawKeyError(f"{ring.path} no longer has version {target} as current")
        done = 0
        for key_file in sorted(self.segments.glob("*.seg" + rawkeys.SIDECAR_SUFFIX)):
            name = key_file.name.removesuffix(rawkeys.SIDECAR_SUFFIX)
            if self._sealed(name):
                rawkeys.drop_sidecar(self.segments, name)
                continue
            if rawkeys.sidecar_version(self.segments, name) in (None, target):
                continue
            segment_key = rawkeys.read_sidecar(self.segments, name, self.keys_dir)
            if segment_key is None:
                continue
            rawkeys.write_sidecar(self.segments, name, segment_key, ring)
            if self._sealed(name):  # sealed while we wrote: its key must not come back
                rawkeys.drop_sidecar(self.segments, name)
            done += 1
        self.segment_keys += done
        return done

    def finish(self) -> RotationReport:
        """Re-wrap what is left, retire the old versions, then delete them from the file."""
        target = self._target()
        retired: tuple[int, ...] = ()
        for _attempt in range(3):
            while self.rewrap_batch():
                pass
            while self.reencrypt_batch():
                pass
            if self._store is not None:
                self._store.close()  # sealed: the re-encrypted records' keys are in rows only
                self._store = None
            self.rewrap_segment_keys()
            with self.engine.begin() as conn:
                left = conn.execute(
                    select(func.count())
                    .select_from(RawMessageKey)
                    .where(RawMessageKey.version != target)
                ).scalar_one()
                if left:
                    continue
                retired = tuple(
                    conn.execute(
                        update(RawMasterKey)
                        .where(
                            RawMasterKey.version != target,
                            RawMasterKey.state != MasterState.RETIRED.value,
                        )
                        .values(state=MasterState.RETIRED.value, retired_at=utcnow())
                        .returning(RawMasterKey.version)
                    ).scalars()
                )
            break
        else:
            raise RawKeyError("data keys under an old master key keep appearing; nothing deleted")
        self.rewrap_segment_keys()  # a segment opened meanwhile (its writer re-wraps it too)
        ring = rawkeys.load(self.keys_dir, fresh=True)
        old = tuple(sorted(v for v in ring.keys if v != target))
        rawkeys.write(self.keys_dir, target, {target: ring.key(target)})
        log.info("raw store key rotation finished", extra={"version": target, "deleted": old})
        return RotationReport(
            version=target,
            retired=tuple(sorted({*retired, *old})),
            resumed=self.resumed,
            rewrapped=self.rewrapped,
            reencrypted=self.reencrypted,
            segment_keys=self.segment_keys,
            segments_removed=self.segments_removed,
            segments_kept=tuple(self.segments_kept),
            unreadable=tuple(self.unreadable),
        )

    def _target(self) -> int:
        if not self.version:
            raise RawKeyError("the rotation has not begun")
        return self.version

    def _sealed(self, name: str) -> bool:
        return (self.segments / (name + ".sealed")).exists()


def rotate(
    home: Path,
    engine: Engine,
    *,
    batch: int = BATCH,
    between: Callable[[str, Rotation], None] | None = None,
) -> RotationReport:
    """The whole rotation; `between(step, rotation)` runs after each step and batch."""
    step = between or (lambda _step, _rotation: None)
    rotation = Rotation(home, engine, batch=batch)
    try:
        rotation.begin()
        step("begun", rotation)
        while rotation.rewrap_batch():
            step("rewrapped", rotation)
        while rotation.reencrypt_batch():
            step("reencrypted", rotation)
        rotation.drop_legacy_segments()
        step("segments", rotation)
        return rotation.finish()
    finally:
        if rotation._store is not None:
            with contextlib.suppress(RawStoreError):
                rotation._store.close()


def _arrival(row: Any) -> Arrival:
    try:
        channel = IntakeChannel(row.channel)
    except ValueError:
        channel = IntakeChannel.FILE
    return Arrival(
        channel=channel,
        mail_from=row.envelope_from,
        rcpt_tos=tuple(row.envelope_to or ()),
        peer=row.peer,
        source_ref=row.source_ref,
        received_at=row.received_at,
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
