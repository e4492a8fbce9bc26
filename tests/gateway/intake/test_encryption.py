"""The raw store encrypted at rest: sealed on disk, exact when read, one key per message,
recoverable after a crash, and records from before encryption still read."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from gateway.db import session_scope
from gateway.intake import rawkeys, rawstore
from gateway.intake.rawstore import _PREFIX, MAGIC, Arrival, RawStore, RawStoreError, _Entry
from gateway.models.intake import IntakeChannel, RawMessage
from gateway.models.ops import Job
from gateway.models.rawkeys import MasterState, RawMasterKey, RawMessageKey, RawShred
from tests.fixtures import mail

SECRET = b"Ottoline Brackenwhistle"


def _message(n: int) -> bytes:
    return mail.referral(n).replace(b"Ava Testperson", SECRET + b" ")


def _row(engine: Engine, raw_id: int) -> RawMessage:
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(RawMessage, raw_id)
        assert row is not None
        s.expunge(row)
        return row


def _segment_bytes(store: RawStore) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store.dir.glob("*.seg")))


def test_a_message_is_sealed_on_disk_and_comes_back_exactly(
    store: RawStore, engine: Engine
) -> None:
    data = _message(1) + b"\x00\xff 8-bit\r\n"
    stored = store.store(
        data, Arrival(IntakeChannel.SMTP, "head@school-807.example", peer="10.0.0.9")
    )
    assert stored.sha256 == hashlib.sha256(data).hexdigest()  # of the plaintext
    on_disk = _segment_bytes(store)
    assert SECRET not in on_disk and b"head@school-807.example" not in on_disk
    assert stored.sha256.encode() not in on_disk  # no plaintext hash to confirm a guess
    row = _row(engine, stored.raw_id)
    assert row.encrypted and row.size == len(data)
    assert store.read(row) == data
    with Session(engine) as s:
        key = s.get(RawMessageKey, row.id)
        assert key is not None and key.version == 1 and len(key.wrapped) == 60
    # Deduplication still works on the plaintext's hash.
    again = store.store(data, Arrival(IntakeChannel.IMAP))
    assert again.duplicate and again.raw_id == stored.raw_id
    # The segment key file exists while the segment is open, and goes when it is sealed.
    (segment,) = store.dir.glob("*.seg")
    assert rawkeys.sidecar_path(store.dir, segment.name).exists()
    store.close()
    assert not rawkeys.sidecar_path(store.dir, segment.name).exists()
    assert RawStore(store.dir.parent.parent, engine).read(row) == data


def test_every_message_has_its_own_data_key(store: RawStore, engine: Engine) -> None:
    ids = [store.store(_message(n), Arrival(IntakeChannel.SMTP)).raw_id for n in range(3)]
    ring = rawkeys.load(store.keys_dir)
    with Session(engine) as s:
        keys = {
            rawkeys.unseal(ring.key(k.version), k.wrapped, rawkeys.data_key_aad(k.raw_id), "k")
            for k in s.execute(select(RawMessageKey)).scalars()
        }
    assert len(keys) == len(ids) == 3
    # A wrapped key moved to another row does not open there.
    with session_scope(engine) as s:
        first, second = (s.get(RawMessageKey, i) for i in ids[:2])
        assert first is not None and second is not None
        first.wrapped = second.wrapped
    with pytest.raises(RawStoreError, match="does not open"):
        store.read(_row(engine, ids[0]))


def test_a_batch_reads_each_message_as_one_read_would(store: RawStore, engine: Engine) -> None:
    """One key query for the batch; each message's bytes, or the error reading it alone
    gives (a disposed message, a key moved to another row), the rest read all the same."""
    bodies = [_message(20 + n) for n in range(4)]
    ids = [store.store(body, Arrival(IntakeChannel.SMTP)).raw_id for body in bodies]
    with session_scope(engine) as s:
        s.execute(delete(RawMessageKey).where(RawMessageKey.raw_id == ids[1]))
        moved, other = s.get(RawMessageKey, ids[2]), s.get(RawMessageKey, ids[3])
        assert moved is not None and other is not None
        moved.wrapped = other.wrapped
    with Session(engine) as s:
        rows = [s.get(RawMessage, i) for i in ids]
        assert all(rows)
        read = list(store.read_many([r for r in rows if r is not None]))
    assert read[0] == bodies[0] and read[3] == bodies[3]
    assert isinstance(read[1], RawStoreError) and "disposed of" in str(read[1])
    assert isinstance(read[2], RawStoreError) and "does not open" in str(read[2])
    assert list(store.read_many([])) == []


def _crashed_segment(store: RawStore, bodies: list[bytes]) -> tuple[str, list[int]]:
    """Records fsync'd by a writer that died before indexing them (no row, no seal)."""
    segment = store._open_segment()
    offsets = [store._append(segment, body, Arrival(IntakeChannel.SMTP, "x@school-805.example"))[0]
               for body in bodies]  # fmt: skip
    os.fdatasync(segment.fh.fileno())
    store._abandon_segment()
    return segment.name, offsets


def test_recover_indexes_sealed_records_a_crashed_writer_left_and_cuts_a_torn_tail(
    store: RawStore, engine: Engine
) -> None:
    bodies = [_message(n) for n in (7, 8)]
    name, _ = _crashed_segment(store, bodies)
    path = store.dir / name
    complete = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(_PREFIX.pack(rawstore.SEALED_MAGIC, 10, 999) + b"{torn")
    assert RawStore(store.dir.parent.parent, engine).recover() == 2
    assert path.stat().st_size == complete
    with Session(engine) as s:
        rows = list(s.execute(select(RawMessage).order_by(RawMessage.id)).scalars())
        assert [store.read(r) for r in rows] == bodies
        assert rows[0].envelope_from == "x@school-805.example" and rows[0].encrypted
    assert (store.dir / (name + ".sealed")).exists()
    assert not rawkeys.sidecar_path(store.dir, name).exists()


def test_recovery_never_brings_back_a_disposed_message(store: RawStore, engine: Engine) -> None:
    bodies = [_message(n) for n in (11, 12)]
    name, offsets = _crashed_segment(store, bodies)
    segment_key = rawkeys.read_sidecar(store.dir, name, store.keys_dir)
    assert segment_key is not None
    # The first was indexed before the crash, then disposed of while its segment was open.
    with session_scope(engine) as session:
        data_key = rawkeys.unseal(
            segment_key,
            bytes.fromhex(_header(store.dir / name, 0)["k"]),
            rawkeys.record_aad(name, 0),
            "record",
        )
        entry = _Entry(bodies[0], hashlib.sha256(bodies[0]).hexdigest(),
                       Arrival(IntakeChannel.SMTP), name, offsets[0], data_key)  # fmt: skip
        stored = rawstore._index(session, entry, store.keys_dir)
    with session_scope(engine) as session:
        conn = session.connection()
        rawstore.shred(conn, [(stored.raw_id, name, offsets[0])])
        conn.execute(delete(Job))
        conn.execute(delete(RawMessage).where(RawMessage.id == stored.raw_id))
    assert RawStore(store.dir.parent.parent, engine).recover() == 1  # only the second
    with Session(engine) as s:
        (row,) = s.execute(select(RawMessage)).scalars()
        assert store.read(row) == bodies[1]
        assert s.execute(select(RawShred.offset)).scalar_one() == offsets[0]


def _header(path: Path, start: int) -> dict[str, str]:
    with path.open("rb") as fh:
        fh.seek(start)
        _magic, header_len, _body_len = _PREFIX.unpack(fh.read(_PREFIX.size))
        return dict(json.loads(fh.read(header_len)))


def legacy_segment(
    folder: Path, bodies: list[bytes], name: str = "20250101T000000-1-old.seg"
) -> Path:
    """A segment as the raw store wrote it before encryption: plaintext records, sealed."""
    records = b""
    for body in bodies:
        header = json.dumps(
            {
                "sha256": hashlib.sha256(body).hexdigest(),
                "arrival": Arrival(IntakeChannel.SMTP, "old@school-805.example").to_json(),
            }
        ).encode()
        records += _PREFIX.pack(MAGIC, len(header), len(body)) + header + body
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(records)
    return folder / name


def test_plaintext_records_from_before_encryption_still_read(
    store: RawStore, engine: Engine
) -> None:
    old = [_message(n) for n in (21, 22)]
    legacy_segment(store.dir, old)
    assert store.recover() == 2
    new = store.store(_message(23), Arrival(IntakeChannel.SMTP))
    with Session(engine) as s:
        rows = list(s.execute(select(RawMessage).order_by(RawMessage.id)).scalars())
        assert [r.encrypted for r in rows] == [False, False, True]
        assert [store.read(r) for r in rows] == [*old, _message(23)]
        assert s.get(RawMessageKey, rows[0].id) is None
        assert s.get(RawMessageKey, new.raw_id) is not None


def test_an_open_segment_is_sealed_a_day_after_it_was_opened(
    store: RawStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rawstore, "SEGMENT_MAX_AGE", 0.0)  # every segment is "a day old"
    first = store.store(_message(31), Arrival(IntakeChannel.SMTP))
    second = store.store(_message(32), Arrival(IntakeChannel.SMTP))
    assert _row(engine, first.raw_id).segment != _row(engine, second.raw_id).segment
    store.close()
    for path in store.dir.glob("*.seg"):
        assert (store.dir / (path.name + ".sealed")).exists()
    assert list(store.dir.glob("*.key")) == []


def test_a_home_without_a_raw_key_gets_one_and_the_first_writer_registers_it(
    store: RawStore, engine: Engine
) -> None:
    assert not rawkeys.key_path(store.keys_dir).exists()
    store.store(_message(41), Arrival(IntakeChannel.SMTP))
    assert rawkeys.key_path(store.keys_dir).stat().st_mode & 0o777 == 0o600
    with Session(engine) as s:
        assert s.execute(select(RawMasterKey.version, RawMasterKey.state)).one() == (
            1, MasterState.CURRENT.value,
        )  # fmt: skip


def test_a_missing_keyring_is_a_clear_error_for_readers(store: RawStore, engine: Engine) -> None:
    raw_id = store.store(_message(51), Arrival(IntakeChannel.SMTP)).raw_id
    store.close()
    rawkeys.key_path(store.keys_dir).rename(store.keys_dir / "elsewhere")
    rawkeys.forget(store.keys_dir)
    with pytest.raises(RawStoreError, match=r"restore keys/raw\.key"):
        RawStore(store.dir.parent.parent, engine).read(_row(engine, raw_id))


def test_the_current_version_is_registered_once(engine: Engine, tmp_path: Path) -> None:
    rawkeys.create(tmp_path)
    ring = rawkeys.load(tmp_path)
    with engine.begin() as conn:
        assert rawkeys.current_version(conn, ring) == 1
        assert rawkeys.current_version(conn, ring) == 1
    with engine.begin() as conn:
        conn.execute(insert(RawMasterKey).values(version=5, state="old"))
        assert rawkeys.current_version(conn, ring) == 1
