"""The encrypted, content-addressed file store."""

from __future__ import annotations

import os

import pytest

from lost_pupil.errors import StoreError
from lost_pupil.store import SEGMENT, FileStore, create_key


@pytest.fixture
def store(tmp_path):
    key = tmp_path / "keys" / "lost_pupil.key"
    assert create_key(key) is True
    assert create_key(key) is False  # never replaced
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    return FileStore(tmp_path / "store", key)


def put(store: FileStore, data: bytes) -> str:
    pending = store.begin()
    for i in range(0, len(data), 70_000):
        pending.write(data[i : i + 70_000])
    return pending.commit()


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17])
def test_round_trip_byte_for_byte_and_encrypted_at_rest(store, size):
    data = os.urandom(size // 2) + b"<Surname>Featherstone</Surname>" * (size // 62)
    sha = put(store, data)
    assert store.read_bytes(sha) == data
    raw = store.path_for(sha).read_bytes()
    assert b"Featherstone" not in raw


def test_same_file_twice_is_stored_once(store):
    a = put(store, b"<CTfile>same</CTfile>")
    b = put(store, b"<CTfile>same</CTfile>")
    assert a == b
    assert len(list((store.root / "objects").rglob("*"))) == 2  # one folder, one file
    assert not list((store.root / "tmp").iterdir())


@pytest.mark.parametrize("where", ["segment", "truncate", "swap_key"])
def test_tampering_is_detected(store, tmp_path, where):
    sha = put(store, b"x" * (2 * SEGMENT + 5))
    path = store.path_for(sha)
    raw = bytearray(path.read_bytes())
    if where == "segment":
        raw[100] ^= 1
        path.write_bytes(bytes(raw))
    elif where == "truncate":
        # Drop the last segment whole: the one before it was not sealed as last.
        path.write_bytes(bytes(raw[: 7 + 7 + 2 * (4 + SEGMENT + 16)]))
    else:
        other = tmp_path / "other.key"
        create_key(other)
        store = FileStore(store.root, other)
    with pytest.raises(StoreError):
        store.read_bytes(sha)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "objects/../../x"])
def test_paths_outside_the_store_are_refused(store, bad):
    with pytest.raises(StoreError, match="outside"):
        store.resolve(bad)


@pytest.mark.parametrize("bad", ["../" + "a" * 61, "A" * 64, "abc"])
def test_only_sha256_names(store, bad):
    with pytest.raises(StoreError):
        store.path_for(bad)


def test_symlink_escape_is_refused(store, tmp_path):
    (store.root / "objects" / "ab").symlink_to(tmp_path)
    with pytest.raises(StoreError, match="outside"):
        store.path_for("ab" + "0" * 62)


def test_discarded_upload_leaves_nothing(store):
    pending = store.begin()
    pending.write(b"half a file")
    pending.discard()
    assert not list((store.root / "tmp").iterdir())
    assert not list((store.root / "objects").iterdir())


def test_missing_or_short_key_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="cme init"):
        FileStore(tmp_path / "s", tmp_path / "nokey")
    short = tmp_path / "short.key"
    short.write_bytes(b"123")
    with pytest.raises(StoreError, match="256-bit"):
        FileStore(tmp_path / "s", short)
