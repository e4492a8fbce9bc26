"""The audit log: every view and change of a child's record, chained by a keyed hash.

How the chain is protected
- Each entry stores the hash of the one before it (`prev_hash`) and its own `hash` over
  its fields and `prev_hash`, so an edited or deleted entry breaks the next link.
- Entries are keyed: `hash` is HMAC-SHA256 with the data home's `keys/audit.key` (made
  by `cme init`, never stored in the database), so someone who can write to the
  database but cannot read the key cannot recompute a chain that verifies.
- Each entry carries its scheme (`scheme`): "hmac-sha256", or "sha256" for entries
  written before the key existed (the old unkeyed chain: plain SHA-256 of the same
  fields). Old entries verify as they were written. Once a keyed entry exists, every
  later entry must be keyed; `record()` refuses to write an unkeyed entry after a keyed
  one (a process that has no key loaded fails loudly instead of weakening the chain).
- Anchors (gateway/audit_anchor.py) are written outside the database: the newest entry
  id and hash, the time, HMAC'd. `cme init` writes the first one when it makes the key:
  it is the switch-over record. Entries after the first anchor's entry must be keyed (so
  a chain recomputed as plain SHA-256 is refused), and every anchored entry must still
  be there with the anchored hash (so deleting the newest entries shows, as does any
  rewrite of an anchored stretch).

The key reaches `record()` through a per-database registry (`use_key`), filled when a
data home's engine is opened (gateway/home.py `open_engine`, `init_home`): `record()`
is called on every view and must not read a file each time. A database used without a
data home (most unit tests, benches) has no key and writes unkeyed entries until its
chain is keyed. Every process that writes to one database must load the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.models.audit import AuditEntry

GENESIS = "0" * 64
#: The scheme of entries written before the chain was keyed (and of keyless databases).
LEGACY = "sha256"
KEYED = "hmac-sha256"
#: The key's file in the data home's keys folder.
KEY_FILE = "audit.key"
#: The advisory lock id that serialises appends on PostgreSQL (SQLite serialises writers).
_PG_LOCK = 807_436_001
_MIN_KEY_BYTES = 32

#: database URL -> the audit key of the data home that owns it.
_KEYS: dict[URL, bytes] = {}
#: key file -> its key, once read (a key file is never rewritten).
_FILES: dict[Path, bytes] = {}


class AuditKeyError(RuntimeError):
    """The audit key is missing or unusable; the message says how to put it right."""


def load_key(path: Path) -> bytes | None:
    """The key in a key file (hex), read once per process; None if there is no file."""
    cached = _FILES.get(path)
    if cached is not None:
        return cached
    try:
        raw = path.read_bytes().strip()
    except FileNotFoundError:
        return None
    try:
        key = bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) < _MIN_KEY_BYTES:
        raise AuditKeyError(
            f"the audit key {path} is not a {2 * _MIN_KEY_BYTES}-character hex key; "
            "restore it from the backup of the data home's keys folder"
        )
    _FILES[path] = key
    return key


def _url(url: str | URL) -> URL:
    return make_url(url) if isinstance(url, str) else url


def use_key(url: str | URL, key: bytes | None) -> None:
    """Make `record()` and `verify()` on this database use `key` (None: no key)."""
    if key is None:
        _KEYS.pop(_url(url), None)
    else:
        _KEYS[_url(url)] = key


def use_home_key(keys_dir: Path, url: str | URL) -> bytes | None:
    """Load the data home's audit key (if it has one) for its database; returns it."""
    key = load_key(keys_dir / KEY_FILE)
    if key is not None:
        use_key(url, key)
    return key


def key_for(session: Session) -> bytes | None:
    """The key registered for the session's database, if any."""
    return _KEYS.get(session.get_bind().engine.url)


def _body(
    scheme: str,
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: dict[str, Any],
) -> bytes:
    fields: list[Any] = [prev_hash, at.isoformat(), actor, action, entity, entity_id, detail]
    if scheme == KEYED:
        fields.insert(0, KEYED)  # the scheme is covered too; legacy bodies stay as they were
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def _digest(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: dict[str, Any],
) -> str:
    """The unkeyed (legacy) hash of an entry: plain SHA-256."""
    body = _body(LEGACY, prev_hash, at, actor, action, entity, entity_id, detail)
    return hashlib.sha256(body).hexdigest()


def _mac(
    key: bytes,
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: dict[str, Any],
) -> str:
    """The keyed hash of an entry: HMAC-SHA256 with the audit key."""
    body = _body(KEYED, prev_hash, at, actor, action, entity, entity_id, detail)
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def entry_hash(entry: AuditEntry, key: bytes | None) -> str | None:
    """What the entry's hash should be under its own scheme (None: keyed, but no key)."""
    fields = (
        entry.prev_hash,
        entry.at,
        entry.actor,
        entry.action,
        entry.entity,
        entry.entity_id,
        entry.detail,
    )
    if entry.scheme == LEGACY:
        return _digest(*fields)
    if entry.scheme == KEYED and key is not None:
        return _mac(key, *fields)
    return None


def anchor_mac(key: bytes, entry_id: int, head: str, at: str) -> str:
    """The MAC of an anchor line (a different body shape from any entry's)."""
    body = json.dumps(["anchor", entry_id, head, at], separators=(",", ":")).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (so it commits with the change)."""
    key = key_for(session)
    prev: _Head | Row[str, str] | None = _own_head(session)
    if prev is None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        prev = session.execute(
            select(AuditEntry.hash, AuditEntry.scheme).order_by(AuditEntry.id.desc()).limit(1)
        ).first()
    if key is None and prev is not None and prev.scheme != LEGACY:
        raise AuditKeyError(
            "the audit log is keyed but this process has no audit key loaded; open the "
            "database through its data home (keys/audit.key) so entries stay keyed"
        )
    prev_hash = prev.hash if prev is not None else GENESIS
    # Microseconds dropped: both engines then store and return the same instant.
    at = utcnow().replace(microsecond=0)
    detail = json.loads(json.dumps(detail or {}, default=str))
    ident = None if entity_id is None else str(entity_id)
    fields = (prev_hash, at, actor, action, entity, ident, detail)
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=ident,
        detail=detail,
        prev_hash=prev_hash,
        scheme=LEGACY if key is None else KEYED,
        hash=_digest(*fields) if key is None else _mac(key, *fields),
    )
    # Not flushed here: it goes with the transaction's next flush, in the order entries were
    # added (the unit of work inserts one table's new rows in that order, so ids follow the
    # chain). Every read of the log is an ORM query, which flushes it first.
    session.add(entry)
    session.info[_HEAD] = (session.get_transaction(), entry, _Head(entry.hash, entry.scheme))
    return entry


#: session.info key: the entry this transaction appended last, with its hash and scheme.
_HEAD = "audit.head"


@dataclass(frozen=True)
class _Head:
    hash: str
    scheme: str


def _own_head(session: Session) -> _Head | None:
    """The chain's head when this transaction appended it: its own last entry, still there.

    Appending takes the chain for the rest of the transaction (PostgreSQL: the advisory
    lock, taken in the same savepoint as the entry; SQLite: the one write lock), so while
    that entry stands no other writer can have appended after it, and it is still the head.
    An entry undone with its savepoint leaves the session (and so does the lock with it);
    a new transaction (after a commit or rollback) reads the head again."""
    held = session.info.get(_HEAD)
    if held is None:
        return None
    txn, entry, head = held
    if txn is not session.get_transaction() or entry not in session:
        del session.info[_HEAD]
        return None
    state = inspect(entry)
    if not (state.pending or state.persistent):  # deleted, or undone with its savepoint
        del session.info[_HEAD]
        return None
    return head


def head(session: Session) -> tuple[int, str]:
    """The newest entry's id and hash; (0, GENESIS) for an empty log."""
    row = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (row.id, row.hash)


@dataclass(frozen=True)
class Anchor:
    """One anchor line: the entry that was newest at `at`, and its hash."""

    line: int
    entry_id: int
    head: str
    at: str
    mac: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str | None = None
    #: The first keyed entry, if any; entries before it are the old unkeyed chain.
    keyed_from: int | None = None
    anchors: int = 0
    last_anchor: Anchor | None = None


def verify(
    session: Session, *, key: bytes | None = None, anchors: Sequence[Anchor] = ()
) -> VerifyResult:
    """Walk the chain; name the first entry that was edited, forged, or follows a deleted
    one, and check it against the anchors (given in the order they were written).

    `key` defaults to the key registered for the session's database.
    """
    key = key if key is not None else key_for(session)
    by_entry: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        if key is None:
            return VerifyResult(
                False,
                0,
                None,
                "there are anchors but no audit key (keys/audit.key) to check them with; "
                "restore the key from the backup of the data home's keys folder",
            )
        expected_mac = anchor_mac(key, anchor.entry_id, anchor.head, anchor.at)
        if not hmac.compare_digest(anchor.mac.encode(), expected_mac.encode()):
            return VerifyResult(
                False,
                0,
                anchor.entry_id,
                f"anchor line {anchor.line} (entry {anchor.entry_id}, {anchor.at}) was "
                "altered or not made with this audit key",
            )
        by_entry.setdefault(anchor.entry_id, []).append(anchor)
    # Entries after the first anchor's were written once the key existed: keyed only.
    legacy_until = anchors[0].entry_id if anchors else None
    last = anchors[-1] if anchors else None
    n_anchors = len(anchors)
    keyed_from: int | None = None

    def broken(count: int, entry_id: int | None, problem: str) -> VerifyResult:
        return VerifyResult(False, count, entry_id, problem, keyed_from, n_anchors, last)

    prev_hash = GENESIS
    prev_id = 0
    count = 0
    stmt = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    for entry in session.execute(stmt).scalars():
        count += 1
        if entry.prev_hash != prev_hash:
            return broken(
                count,
                entry.id,
                f"entry {entry.id} does not follow entry {prev_id}: "
                "an entry before it was deleted or altered",
            )
        if entry.scheme == LEGACY:
            if keyed_from is not None:
                return broken(
                    count,
                    entry.id,
                    f"entry {entry.id} is unkeyed but follows keyed entries: it was forged "
                    "or the chain was rewritten",
                )
            if legacy_until is not None and entry.id > legacy_until:
                return broken(
                    count,
                    entry.id,
                    f"entry {entry.id} is unkeyed but was written after the audit key was "
                    f"made (anchor of {anchors[0].at}): it was forged or the chain was "
                    "rewritten",
                )
        elif entry.scheme != KEYED:
            return broken(count, entry.id, f"entry {entry.id} was altered (unknown scheme)")
        elif keyed_from is None:
            keyed_from = entry.id
        expected = entry_hash(entry, key)
        if expected is None:
            return broken(
                count,
                entry.id,
                f"entry {entry.id} is keyed but no audit key was given; "
                "restore keys/audit.key from the backup of the data home's keys folder",
            )
        if not hmac.compare_digest(entry.hash.encode(), expected.encode()):
            return broken(count, entry.id, f"entry {entry.id} was altered")
        for anchor in by_entry.pop(entry.id, ()):
            if anchor.head != entry.hash:
                return broken(
                    count,
                    entry.id,
                    f"entry {entry.id} is not the entry anchored at {anchor.at}: the "
                    "chain was rewritten",
                )
        prev_hash, prev_id = entry.hash, entry.id
    by_entry.pop(0, None)  # an anchor of the empty log
    if by_entry:
        missing = min(by_entry)
        anchor = by_entry[missing][0]
        if missing > prev_id:
            problem = (
                f"the log ends at entry {prev_id} but entry {missing} was anchored at "
                f"{anchor.at}: the newest entries were deleted"
            )
        else:
            problem = f"entry {missing}, anchored at {anchor.at}, was deleted"
        return broken(count, missing, problem)
    return VerifyResult(True, count, None, None, keyed_from, n_anchors, last)
