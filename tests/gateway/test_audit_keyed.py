"""The keyed audit chain and its anchors: cuts, rewrites and edits show; old chains verify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update

from gateway import audit, audit_anchor, jobs
from gateway.cli.context import unit_of_work
from gateway.db import make_engine, session_scope
from gateway.home import init_home, open_engine
from gateway.models.audit import AuditEntry
from gateway.settings import Settings, load_settings
from tests.conftest import CliCall


@pytest.fixture
def home(cme_home: Path) -> Iterator[tuple[Settings, Engine]]:
    settings = load_settings()
    yield settings, open_engine(settings)


def _fill(engine: Engine, n: int = 5, start: int = 0) -> list[int]:
    with session_scope(engine) as session:
        entries = [
            audit.record(
                session,
                actor="officer:a",
                action="case.view",
                entity="case",
                entity_id=i,
                detail={"i": i},
            )
            for i in range(start, start + n)
        ]
        session.flush()  # an entry is written with the transaction's next flush
        return [e.id for e in entries]


def _check(settings: Settings, engine: Engine) -> audit.VerifyResult:
    with session_scope(engine) as session:
        return audit_anchor.verify_home(session, settings).result


def _anchor(settings: Settings, engine: Engine) -> audit.Anchor:
    with session_scope(engine) as session:
        return audit_anchor.write_anchor(session, settings)


def _entries(session: object) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    return list(session.execute(stmt).scalars())  # type: ignore[attr-defined]


def test_a_home_keys_its_chain_and_verifies(home: tuple[Settings, Engine]) -> None:
    settings, engine = home
    ids = _fill(engine)
    with session_scope(engine) as session:
        assert {e.scheme for e in _entries(session)} == {audit.KEYED}
    _anchor(settings, engine)
    result = _check(settings, engine)
    assert result.ok, result.problem
    assert result.entries == 5 and result.keyed_from == ids[0] and result.anchors == 2


def test_deleting_the_newest_entries_is_detected(home: tuple[Settings, Engine]) -> None:
    settings, engine = home
    ids = _fill(engine)
    _anchor(settings, engine)
    with session_scope(engine) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id >= ids[3]))
    result = _check(settings, engine)
    assert not result.ok and result.first_bad_id == ids[4]
    assert result.problem and "newest entries were deleted" in result.problem


def _recompute(engine: Engine, scheme: str, key: bytes) -> int:
    """Rewrite every entry (a forged detail) and rehash the whole chain as `scheme`."""
    with session_scope(engine) as session:
        entries = _entries(session)
        prev = audit.GENESIS
        for entry in entries:
            entry.detail = {**entry.detail, "forged": True}
            entry.prev_hash, entry.scheme = prev, scheme
            fields = (
                prev,
                entry.at,
                entry.actor,
                entry.action,
                entry.entity,
                entry.entity_id,
                entry.detail,
            )
            entry.hash = (
                audit._digest(*fields) if scheme == audit.LEGACY else audit._mac(key, *fields)
            )
            prev = entry.hash
        return entries[0].id


@pytest.mark.parametrize(
    ("scheme", "problem"),
    [
        (audit.LEGACY, "unkeyed but was written after the audit key was made"),
        (audit.KEYED, "was altered"),  # HMAC, but with a guessed key
    ],
)
def test_recomputing_the_chain_without_the_key_is_detected(
    home: tuple[Settings, Engine], scheme: str, problem: str
) -> None:
    settings, engine = home
    _fill(engine)
    _anchor(settings, engine)
    first = _recompute(engine, scheme, b"\x01" * 32)
    result = _check(settings, engine)
    assert not result.ok and result.first_bad_id == first
    assert result.problem and problem in result.problem


def test_an_edited_entry_is_named(home: tuple[Settings, Engine]) -> None:
    settings, engine = home
    ids = _fill(engine)
    with session_scope(engine) as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.id == ids[2]).values(actor="someone:else")
        )
    result = _check(settings, engine)
    assert not result.ok and result.first_bad_id == ids[2]
    assert result.problem == f"entry {ids[2]} was altered"


def test_an_edited_anchor_line_is_refused(home: tuple[Settings, Engine]) -> None:
    settings, engine = home
    ids = _fill(engine)
    _anchor(settings, engine)
    path = audit_anchor.anchor_path(settings)
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    last["entry_id"] = ids[1]  # point the anchor back, to hide a cut
    path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    result = _check(settings, engine)
    assert not result.ok and result.problem and "anchor line 2" in result.problem


def test_a_legacy_unkeyed_chain_still_verifies_and_is_keyed_from_then_on(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _fill(engine, 3)  # written before the key existed: no data home at all
    with session_scope(engine) as session:
        assert {e.scheme for e in _entries(session)} == {audit.LEGACY}
        result = audit.verify(session)
    assert result.ok and result.entries == 3 and result.keyed_from is None

    # The home is (re)initialised: `cme init` makes the key and anchors the old head.
    monkeypatch.setenv("CME_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CME_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    settings = load_settings()
    assert "keys/audit.key" in init_home(settings).created
    new = _fill(engine, 2, start=3)
    result = _check(settings, engine)
    assert result.ok, result.problem
    assert result.entries == 5 and result.keyed_from == new[0] and result.anchors == 1
    assert audit_anchor.read_anchors(audit_anchor.anchor_path(settings))[0][0].entry_id == old[-1]

    # A process with no key loaded cannot add an unkeyed entry to a keyed chain.
    audit.use_key(engine.url, None)
    with pytest.raises(audit.AuditKeyError, match="no audit key loaded"):
        _fill(engine, 1)
    # And an unkeyed entry slipped in after the key was made is refused by verify.
    key = audit.load_key(audit_anchor.key_path(settings))
    assert key is not None
    with session_scope(engine) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(new)))
    _fill(engine, 1, start=9)
    result = _check(settings, engine)
    assert not result.ok and result.problem and "unkeyed but was written after" in result.problem


def test_the_worker_anchors_a_growing_log(home: tuple[Settings, Engine]) -> None:
    import gateway.timers  # noqa: F401  (registers the periodic work)

    settings, engine = home
    job = jobs._PERIODIC["audit_anchor"]
    path = audit_anchor.anchor_path(settings)
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert len(path.read_text().splitlines()) == 1  # written by `cme init`

    job(engine, settings, at)  # nothing new since `cme init` anchored the empty log
    assert len(path.read_text().splitlines()) == 1
    ids = _fill(engine)
    job(engine, settings, at)
    anchors, _ = audit_anchor.read_anchors(path)
    assert [(a.entry_id, a.at) for a in anchors[1:]] == [(ids[-1], at.isoformat())]

    more = _fill(engine, 1, start=5)
    job(engine, settings, at + timedelta(minutes=1))  # too soon after the last one
    assert len(audit_anchor.read_anchors(path)[0]) == 2
    job(engine, settings, at + audit_anchor.ANCHOR_EVERY)
    anchors, _ = audit_anchor.read_anchors(path)
    assert anchors[-1].entry_id == more[0] and len(anchors) == 3
    assert _check(settings, engine).ok

    # Another database seen with this home's settings is not anchored into its file.
    other = make_engine(f"sqlite:///{settings.home / 'other.db'}")
    assert audit_anchor.anchor_due(other, settings, at + timedelta(hours=1)) is None
    other.dispose()
    assert len(audit_anchor.read_anchors(path)[0]) == 3


def test_cli_anchor_then_verify_detects_a_cut(cme_home: Path, cli: CliCall) -> None:
    s = load_settings()
    engine = open_engine(s)
    ids = _fill(engine, 4)
    anchored = cli("audit", "anchor")
    assert anchored.exit_code == 0 and f"anchored entry {ids[-1]}" in anchored.output
    ok = cli("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert f"4 entries, keyed from entry {ids[0]}, 2 anchor(s)" in ok.output
    with unit_of_work() as (_s, session):
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[-1]))
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert f"the log ends at entry {ids[-2]} but entry {ids[-1]} was anchored" in broken.output


def test_a_torn_last_anchor_line_is_skipped_with_a_note(home: tuple[Settings, Engine]) -> None:
    settings, engine = home
    _fill(engine, 2)
    path = audit_anchor.anchor_path(settings)
    with path.open("ab") as fh:
        fh.write(b'{"entry_id": 2, "he')  # a crash mid-write
    with session_scope(engine) as session:
        checked = audit_anchor.verify_home(session, settings)
    assert checked.result.ok and any("incomplete" in n for n in checked.notes)
    # The next anchor does not join the torn line: it is dropped, and the file reads.
    _anchor(settings, engine)
    anchors, torn = audit_anchor.read_anchors(path)
    assert torn is None and [a.entry_id for a in anchors] == [0, 2]
    assert _check(settings, engine).ok


@pytest.mark.parametrize(
    ("column", "value"), [("hash", "é" * 64), ("scheme", "none"), ("prev_hash", "0" * 63 + "1")]
)
def test_any_tampered_column_is_named_not_a_crash(
    home: tuple[Settings, Engine], column: str, value: str
) -> None:
    settings, engine = home
    ids = _fill(engine, 3)
    with session_scope(engine) as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values({column: value}))
    result = _check(settings, engine)
    assert not result.ok and result.first_bad_id == ids[1] and result.problem
