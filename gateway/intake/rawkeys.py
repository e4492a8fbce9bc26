"""The raw store's keys: the master keyring in keys/raw.key, data keys and segment keys.

Three layers, each AES-256-GCM:
- a **data key** per message seals its bytes and its arrival (envelope, peer, time);
- the data key is **wrapped by a master key** version and kept in `raw_message_keys`
  (the database): deleting that row destroys the message (crypto-shredding);
- so that a crash between the fsync and the commit loses nothing, each record also
  carries its data key wrapped by its segment's **segment key**, and the segment key,
  wrapped by the master key, lives beside the open segment in `<segment>.key`. Once the
  segment is sealed (every record indexed) that file is deleted, and from then on the
  database row is the only copy of each data key.

`keys/raw.key` is JSON: `{"current": N, "keys": {"N": "<hex>", ...}}`, mode 0600. It
holds more than one version only while `cme keys rotate` runs (gateway.intake.rotation).
It is read once per process and again only when it changes (a stat per new segment) or
when a row names a version this process has not seen. Back it up with the database and
apart from it: the segments and the database are unreadable without it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.db import utcnow
from gateway.models.rawkeys import MasterState, RawMasterKey

KEY_FILE = "raw.key"
SIDECAR_SUFFIX = ".key"
NONCE = 12
TAG = 16
#: What sealing adds to a message's length: the nonce and the tag.
OVERHEAD = NONCE + TAG


class RawKeyError(RuntimeError):
    """A raw store key is missing or does not open what it should; the message says why."""


@dataclass(frozen=True)
class Keyring:
    """The master key versions this process knows, and which one new keys go under."""

    path: Path
    current: int
    keys: dict[int, bytes]
    stamp: tuple[int, int, int]

    def key(self, version: int) -> bytes:
        try:
            return self.keys[version]
        except KeyError:
            raise RawKeyError(
                f"{self.path} does not hold raw store master key version {version}: restore "
                "keys/raw.key from the backup taken with the database"
            ) from None


_RINGS: dict[Path, Keyring] = {}
_LOCK = threading.Lock()


def key_path(keys_dir: Path) -> Path:
    return keys_dir / KEY_FILE


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(current: int, keys: dict[int, bytes]) -> bytes:
    body = {"current": current, "keys": {str(v): k.hex() for v, k in sorted(keys.items())}}
    return (json.dumps(body, indent=1) + "\n").encode()


def _write_temp(folder: Path, data: bytes) -> Path:
    tmp = folder / f".{KEY_FILE}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def create(keys_dir: Path) -> bool:
    """Make keys/raw.key with master key version 1 unless it exists; True if made.

    Atomic (a whole file appears or none), so two processes starting on a fresh data home
    both end up with the one that won.
    """
    path = key_path(keys_dir)
    if path.exists():
        return False
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _write_temp(keys_dir, _encode(1, {1: AESGCM.generate_key(bit_length=256)}))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    _fsync_dir(keys_dir)
    return True


def write(keys_dir: Path, current: int, keys: dict[int, bytes]) -> Keyring:
    """Replace keys/raw.key atomically (fsync'd, renamed into place, folder fsync'd)."""
    if current not in keys:
        raise RawKeyError("the current master key version must be in the keyring")
    tmp = _write_temp(keys_dir, _encode(current, keys))
    os.replace(tmp, key_path(keys_dir))
    _fsync_dir(keys_dir)
    return load(keys_dir, fresh=True)


def _read(path: Path) -> Keyring:
    stamp = _stamp(path)
    try:
        body = json.loads(path.read_bytes())
        keys = {int(v): bytes.fromhex(k) for v, k in body["keys"].items()}
        current = int(body["current"])
    except FileNotFoundError:
        raise RawKeyError(
            f"no raw store key at {path}: run `cme init` (or restore keys/raw.key)"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise RawKeyError(
            f"{path} is not a raw store keyring; restore keys/raw.key from the backup"
        ) from None
    if current not in keys or any(len(k) != 32 for k in keys.values()) or stamp is None:
        raise RawKeyError(f"{path} is damaged; restore keys/raw.key from the backup")
    return Keyring(path, current, keys, stamp)


def load(
    keys_dir: Path, *, fresh: bool = False, need: int | None = None, create_missing: bool = False
) -> Keyring:
    """The keyring, read once per process; again when `fresh` and the file changed, or
    when it lacks the version `need`. `create_missing` makes it on a home without one."""
    path = key_path(keys_dir)
    with _LOCK:
        ring = _RINGS.get(path)
        stale = ring is None or (need is not None and need not in ring.keys)
        if not stale and fresh and ring is not None:
            stale = _stamp(path) != ring.stamp
        if stale:
            if create_missing and not path.exists():
                create(keys_dir)
            ring = _read(path)
            _RINGS[path] = ring
        assert ring is not None
        return ring


def forget(keys_dir: Path) -> None:
    """Drop this process's copy (after a rotation, or in tests)."""
    with _LOCK:
        _RINGS.pop(key_path(keys_dir), None)


# -- sealing ---------------------------------------------------------------------------------


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plain: bytes, aad: bytes) -> bytes:
    """Nonce, then ciphertext and tag."""
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plain, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes, what: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], aad)
    except (InvalidTag, ValueError):
        raise RawKeyError(
            f"{what} does not open with its key (damaged, or the wrong key)"
        ) from None


def data_key_aad(raw_id: int) -> bytes:
    """A wrapped data key is bound to its row: moved to another row, it does not open."""
    return b"cme-raw-dk:%d" % raw_id


def record_aad(segment: str, start: int) -> bytes:
    """A record's data key (wrapped by its segment key) is bound to where the record starts."""
    return b"cme-raw-rec:%s:%d" % (segment.encode(), start)


BODY_AAD = b"cme-raw-body"
ARRIVAL_AAD = b"cme-raw-arrival"


# -- segment keys (the <segment>.key file beside an open segment) ----------------------------


def sidecar_path(segments: Path, segment: str) -> Path:
    return segments / (segment + SIDECAR_SUFFIX)


def write_sidecar(segments: Path, segment: str, segment_key: bytes, ring: Keyring) -> None:
    """Keep the segment key, wrapped under the current master key, durably beside it."""
    body = {
        "v": ring.current,
        "k": seal(ring.key(ring.current), segment_key, b"cme-raw-seg:" + segment.encode()).hex(),
    }
    path = sidecar_path(segments, segment)
    tmp = segments / f".{segment}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(json.dumps(body).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(segments)


def sidecar_version(segments: Path, segment: str) -> int | None:
    """The master key version a segment key is wrapped under; None: no file."""
    try:
        return int(json.loads(sidecar_path(segments, segment).read_bytes())["v"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise RawKeyError(f"the segment key of {segment} is damaged") from None


def read_sidecar(segments: Path, segment: str, keys_dir: Path) -> bytes | None:
    """The segment key of an unsealed segment; None when the file is gone (sealed)."""
    path = sidecar_path(segments, segment)
    try:
        body = json.loads(path.read_bytes())
        version, sealed = int(body["v"]), bytes.fromhex(body["k"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise RawKeyError(f"the segment key of {segment} is damaged") from None
    ring = load(keys_dir, need=version)
    return unseal(
        ring.key(version), sealed, b"cme-raw-seg:" + segment.encode(), f"segment key {segment}"
    )


def drop_sidecar(segments: Path, segment: str) -> None:
    sidecar_path(segments, segment).unlink(missing_ok=True)


# -- the database side: which version is current ---------------------------------------------


def current_version(conn: Connection, ring: Keyring) -> int:
    """The master key version new data keys go under, read in the caller's transaction.

    On PostgreSQL the row is read under a share lock: a rotation's switch to a new version
    (an UPDATE of this row) waits for every transaction that read it to commit, so no key
    can be wrapped under a version after the rotation began re-wrapping it. SQLite runs
    one writer at a time (BEGIN IMMEDIATE), which gives the same order. The first writer
    of a home registers the keyring's current version.
    """
    stmt = select(RawMasterKey.version).where(RawMasterKey.state == MasterState.CURRENT.value)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True)
    version = conn.execute(stmt).scalar_one_or_none()
    if version is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(RawMasterKey).values(
                        version=ring.current, state=MasterState.CURRENT.value, created_at=utcnow()
                    )
                )
        except IntegrityError:
            pass  # registered meanwhile (or a rotation is switching): read it again
        version = conn.execute(stmt).scalar_one_or_none()
    if version is None:
        raise RawKeyError("no current raw store master key version; run `cme keys rotate`")
    return int(version)


def sealing_key(conn: Connection, keys_dir: Path) -> tuple[int, bytes]:
    """The current master key version and key, for wrapping data keys in this transaction."""
    ring = load(keys_dir, create_missing=True)
    version = current_version(conn, ring)
    return version, load(keys_dir, need=version).key(version)
