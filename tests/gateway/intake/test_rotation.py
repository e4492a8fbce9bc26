"""`cme keys rotate`: every data key re-wrapped under a new master key while messages keep
arriving, plaintext records re-encrypted, and the old key deleted only at the end."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.db import session_scope
from gateway.intake import rawkeys
from gateway.intake.rawstore import Arrival, RawStore
from gateway.intake.rotation import Rotation, rotate
from gateway.models.intake import IntakeChannel, RawMessage
from gateway.models.rawkeys import MasterState, RawMasterKey, RawMessageKey, RawShred
from tests.gateway.intake.test_encryption import SECRET, _message, legacy_segment


def _home(store: RawStore) -> Path:
    return store.dir.parent.parent


def _versions(engine: Engine) -> dict[int, str]:
    with Session(engine) as s:
        return dict(s.execute(select(RawMasterKey.version, RawMasterKey.state)).all())


def _key_versions(engine: Engine) -> dict[int, int]:
    with Session(engine) as s:
        return dict(s.execute(select(RawMessageKey.raw_id, RawMessageKey.version)).all())


def _read_all_fresh(home: Path, engine: Engine) -> dict[int, bytes]:
    """What a process started now reads (its own keyring from the file, nothing cached)."""
    rawkeys.forget(home / "keys")
    reader = RawStore(home, engine)
    with Session(engine) as s:
        return {r.id: reader.read(r) for r in s.execute(select(RawMessage)).scalars()}


def test_rotation_rewraps_in_batches_and_a_message_arriving_midway_uses_the_new_key(
    store: RawStore, engine: Engine
) -> None:
    home = _home(store)
    sent = {store.store(_message(n), Arrival(IntakeChannel.SMTP)).raw_id: _message(n)
            for n in range(5)}  # fmt: skip
    (segment,) = store.dir.glob("*.seg")  # still open: its key file is under version 1
    assert rawkeys.sidecar_version(store.dir, segment.name) == 1
    seen: list[tuple[str, dict[int, int], tuple[int, ...]]] = []
    before = rawkeys.load(home / "keys")  # what the running service loaded at its start

    def between(step: str, rotation: Rotation) -> None:
        if step == "begun":
            # The service keeps taking mail, with the keyring it loaded before the rotation
            # began (as another process would); the message is wrapped under the new version.
            rawkeys._RINGS[rawkeys.key_path(home / "keys")] = before
            stored = store.store(_message(99), Arrival(IntakeChannel.SMTP))
            sent[stored.raw_id] = _message(99)
            assert _key_versions(engine)[stored.raw_id] == 2
        ring = rawkeys.load(home / "keys", fresh=True)
        versions = {k: v for k, v in _key_versions(engine).items() if k in sent and k != max(sent)}
        seen.append((step, versions, tuple(sorted(ring.keys))))
        # Readers open old and new keys throughout.
        assert _read_all_fresh(home, engine) == sent

    report = rotate(home, engine, batch=2, between=between)

    assert report.version == 2 and report.retired == (1,) and not report.resumed
    assert report.rewrapped == 5 and report.segment_keys == 1
    steps = [step for step, _, _ in seen]
    assert steps == ["begun", "rewrapped", "rewrapped", "rewrapped", "segments"]
    # Batches of two, under both keys until the end.
    assert [sorted(set(v.values())) for _, v, _ in seen[:4]] == [[1], [1, 2], [1, 2], [2]]
    assert all(keys == (1, 2) for _, _, keys in seen)
    # Only now is version 1 gone: from the file, and retired in the database.
    ring = rawkeys.load(home / "keys", fresh=True)
    assert (ring.current, sorted(ring.keys)) == (2, [2])
    assert _versions(engine) == {1: MasterState.RETIRED.value, 2: MasterState.CURRENT.value}
    assert set(_key_versions(engine).values()) == {2}
    assert _read_all_fresh(home, engine) == sent
    # The open segment's key file is under version 2: a crash now is still recoverable
    # with the new key alone, and the live writer keeps writing to that segment.
    assert rawkeys.sidecar_version(store.dir, segment.name) == 2
    late = store.store(_message(100), Arrival(IntakeChannel.SMTP))
    assert _key_versions(engine)[late.raw_id] == 2
    store._abandon_segment()  # the writer "dies" without sealing its segment
    assert RawStore(home, engine).recover() == 0  # every record read, none missing
    assert (store.dir / (segment.name + ".sealed")).exists()


def test_an_interrupted_rotation_is_finished_by_the_next_one(
    store: RawStore, engine: Engine
) -> None:
    home = _home(store)
    for n in range(4):
        store.store(_message(n), Arrival(IntakeChannel.SMTP))
    first = Rotation(home, engine, batch=3)
    assert first.begin() == 2
    assert first.rewrap_batch() == 3  # ... and the process stops here
    assert set(_key_versions(engine).values()) == {1, 2}
    report = rotate(home, engine)
    assert report.resumed and report.version == 2 and report.rewrapped == 1
    assert set(_key_versions(engine).values()) == {2}
    assert rotate(home, engine).version == 3  # the next rotation is a new one


def test_rotation_reencrypts_plaintext_records_and_removes_the_plaintext_segment(
    store: RawStore, engine: Engine
) -> None:
    home = _home(store)
    old = [_message(n) for n in (61, 62, 63)]
    path = legacy_segment(store.dir, [*old, old[0]])  # the first twice (a harmless orphan)
    assert store.recover() == 3
    with Session(engine, expire_on_commit=False) as s:
        rows = list(s.execute(select(RawMessage).order_by(RawMessage.id)).scalars())
        s.expunge_all()
    # The third was disposed of before the rotation: its place is noted, its row gone.
    with session_scope(engine) as session:
        session.add(RawShred(segment=rows[2].segment, offset=rows[2].offset))
        session.delete(session.get(RawMessage, rows[2].id))
    assert SECRET in path.read_bytes()

    report = rotate(home, engine)

    assert report.reencrypted == 2 and report.segments_removed == 1 and not report.unreadable
    assert not path.exists() and not (store.dir / (path.name + ".sealed")).exists()
    assert all(SECRET not in p.read_bytes() for p in store.dir.iterdir())
    # A reader holding the row as it was before the move still gets the bytes.
    assert store.read(rows[0]) == old[0]
    assert _read_all_fresh(home, engine) == {rows[0].id: old[0], rows[1].id: old[1]}
    with Session(engine) as s:
        assert (
            s.execute(
                select(func.count()).select_from(RawMessage).where(RawMessage.encrypted.is_(False))
            ).scalar_one()
            == 0
        )
        assert hashlib.sha256(old[1]).hexdigest() in set(
            s.execute(select(RawMessage.sha256)).scalars()
        )


def test_a_plaintext_segment_with_a_record_nothing_accounts_for_is_kept(
    store: RawStore, engine: Engine
) -> None:
    home = _home(store)
    path = legacy_segment(store.dir, [_message(71)])
    (store.dir / (path.name + ".sealed")).touch()  # sealed, yet its record was never indexed
    report = rotate(home, engine)
    assert report.segments_kept == (path.name,) and path.exists()


def test_cme_keys_rotate_needs_an_admin_and_is_audited(cme_home: Path, cli: object) -> None:
    from gateway.models.audit import AuditEntry
    from gateway.settings import load_settings
    from tests.conftest import CliCall

    assert isinstance(cli, CliCall)
    assert json.loads((cme_home / "keys" / "raw.key").read_text())["current"] == 1
    refused = cli("keys", "rotate")
    assert refused.exit_code != 0 and "admin" in refused.output
    CliCall.add_user("ada", "admin")
    done = cli("keys", "rotate", as_user="ada")
    assert done.exit_code == 0, done.output
    assert "version 2" in done.output and "Deleted master key version(s) 1" in done.output
    assert json.loads((cme_home / "keys" / "raw.key").read_text())["current"] == 2
    from gateway.home import open_engine

    with Session(open_engine(load_settings())) as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "raw_keys.rotate")
        ).scalar_one()
        assert entry.actor == "ada" and entry.detail["version"] == 2
