"""Anchors of the audit chain, kept outside the database: the newest entry's id and hash.

The file is `audit/anchors.jsonl` in the data home: append-only, one JSON line per
anchor (`entry_id`, `head`, `at`, `mac`: HMAC-SHA256 with keys/audit.key), each line
fsync'd. `cme init` writes the first line when it makes the key (the switch-over to a
keyed chain); the job worker adds one every few minutes while the log grows, and
`cme audit anchor` adds one on demand. gateway/audit.py `verify` reads them: an
anchored entry that is gone, or whose hash differs, means the chain was cut or
rewritten. Back the file up with the database; it holds no child data.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db import session_scope, utcnow
from gateway.settings import Settings, database_url

log = logging.getLogger(__name__)

#: How often the worker anchors a growing log. Deleting entries newer than the last
#: anchor is the one cut that stays invisible, so this is that window.
ANCHOR_EVERY = timedelta(minutes=5)
#: anchor file -> (when this process's worker last anchored, if it has, and the entry
#: last anchored there), so a tick reads neither the file nor the clock's history.
_written: dict[Path, tuple[datetime | None, int | None]] = {}


class AnchorError(RuntimeError):
    """The anchor file cannot be read or written; the message says what to do."""


def anchor_path(settings: Settings) -> Path:
    return settings.home / "audit" / "anchors.jsonl"


def key_path(settings: Settings) -> Path:
    return settings.keys_dir / audit.KEY_FILE


def _require_key(settings: Settings) -> bytes:
    key = audit.load_key(key_path(settings))
    if key is None:
        raise audit.AuditKeyError(
            f"no audit key at {key_path(settings)}: run `cme init` to make one"
        )
    return key


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _drop_torn_tail(fd: int) -> None:
    """Cut a line a crash left half-written (it never was an anchor), so the next line
    does not join it and make the file unreadable."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = max(0, size - 4096)
    tail = os.pread(fd, size - start, start)
    os.ftruncate(fd, start + tail.rfind(b"\n") + 1)  # rfind -1: the whole file was torn


def _append(path: Path, line: bytes) -> None:
    """One write() of one whole line, O_APPEND, fsync'd (and its folder when new)."""
    new_dir = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new_file = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        _drop_torn_tail(fd)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new_file:
        _fsync_dir(path.parent)
    if new_dir:
        _fsync_dir(path.parent.parent)


def write_anchor(session: Session, settings: Settings, now: datetime | None = None) -> audit.Anchor:
    """Anchor the log's newest entry now (`cme audit anchor`, `cme init`, the worker)."""
    key = _require_key(settings)
    now = now or utcnow()
    entry_id, head = audit.head(session)
    at = now.replace(microsecond=0).isoformat()
    mac = audit.anchor_mac(key, entry_id, head, at)
    record = {"entry_id": entry_id, "head": head, "at": at, "mac": mac}
    path = anchor_path(settings)
    _append(path, (json.dumps(record, separators=(",", ":")) + "\n").encode())
    return audit.Anchor(0, entry_id, head, at, mac)


def _parse(line: bytes, number: int) -> audit.Anchor:
    try:
        obj = json.loads(line)
        entry_id, head, at, mac = obj["entry_id"], obj["head"], obj["at"], obj["mac"]
        if not (
            isinstance(entry_id, int)
            and all(isinstance(v, str) for v in (head, at, mac))
            and entry_id >= 0
        ):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise AnchorError(f"line {number} is not an anchor: the file was altered") from None
    return audit.Anchor(number, entry_id, head, at, mac)


def read_anchors(path: Path) -> tuple[list[audit.Anchor], str | None]:
    """Every anchor in file order, and a note if the last line was cut short (a crash
    mid-write leaves a line without its newline; it is skipped, not trusted)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], None
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline, as every write does
    anchors = [_parse(line, n) for n, line in enumerate(lines, 1)]
    note = f"the last line of {path} is incomplete and was skipped" if torn else None
    return anchors, note


@dataclass(frozen=True)
class HomeVerify:
    result: audit.VerifyResult
    notes: tuple[str, ...] = ()


def verify_home(session: Session, settings: Settings) -> HomeVerify:
    """`cme audit verify`: the chain, with the data home's key and anchors."""
    key = audit.load_key(key_path(settings))
    path = anchor_path(settings)
    notes: list[str] = []
    try:
        anchors, torn = read_anchors(path)
    except AnchorError as exc:
        return HomeVerify(audit.VerifyResult(False, 0, None, f"{path}: {exc}"))
    if torn:
        notes.append(torn)
    if key is not None and not anchors:
        notes.append(
            f"no anchors in {path} yet: deleting the newest entries would not show; "
            "run `cme audit anchor` (the job worker writes them every few minutes)"
        )
    if key is None:
        notes.append(f"no audit key at {key_path(settings)}: only unkeyed entries can verify")
    result = audit.verify(session, key=key, anchors=anchors)
    return HomeVerify(result, tuple(notes))


def _last_anchored(path: Path) -> int | None:
    """The entry id of the file's last complete anchor (read once per process)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            tail = fh.read()
    except FileNotFoundError:
        return None
    lines = tail.split(b"\n")[:-1]
    if not lines:
        return None
    try:
        return _parse(lines[-1], 0).entry_id
    except AnchorError:
        return None


def anchor_due(engine: Engine, settings: Settings, now: datetime) -> audit.Anchor | None:
    """The worker's tick: anchor the head if it moved and the last anchor is old enough."""
    if engine.url != make_url(database_url(settings)):
        return None  # not this data home's database: its anchors are not ours to write
    if audit.load_key(key_path(settings)) is None:
        return None  # a home made before the key existed: `cme init` makes one
    path = anchor_path(settings)
    if path not in _written:
        _written[path] = (None, _last_anchored(path))
    last_at, last_entry = _written[path]
    if last_at is not None and now - last_at < ANCHOR_EVERY:
        return None
    with session_scope(engine) as session:
        entry_id, _ = audit.head(session)
        if entry_id == last_entry:
            return None
        anchor = write_anchor(session, settings, now)
    _written[path] = (now, anchor.entry_id)
    log.info("audit chain anchored", extra={"entry_id": anchor.entry_id})
    return anchor


def start_anchors(engine: Engine, settings: Settings) -> bool:
    """`cme init`: write the first anchor (the switch-over to a keyed chain) unless the
    home has anchors already; True when it was written."""
    if anchor_path(settings).exists() or audit.load_key(key_path(settings)) is None:
        return False
    with session_scope(engine) as session:
        write_anchor(session, settings)
    return True
