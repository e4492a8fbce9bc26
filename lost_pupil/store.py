"""Content-addressed, encrypted-at-rest file store for CTFs, kept byte for byte as sent."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lost_pupil.errors import StoreError

MAGIC = b"CMELP1\n"
#: Plaintext per AES-GCM segment: bounds memory whatever the file size.
SEGMENT = 1024 * 1024
_NONCE_PREFIX = 7
_SHA = re.compile(r"^[0-9a-f]{64}$")
_LEN = struct.Struct(">I")


def create_key(path: Path) -> bool:
    """Make the store's 256-bit key file (mode 0600) unless it exists; True if made."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(AESGCM.generate_key(bit_length=256))
        fh.flush()
        os.fsync(fh.fileno())
    return True


def load_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise StoreError(
            f"the lost-pupil key file {path} is missing; run `cme init` to create it"
        ) from None
    if len(key) != 32:
        raise StoreError(f"the lost-pupil key file {path} is not a 256-bit key")
    return key


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    # STREAM construction: counter plus a last-segment flag, so reordering, dropping or
    # truncating segments fails authentication.
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


class PendingObject:
    """A file being written: plaintext in, encrypted segments to a temp file, SHA-256 kept."""

    def __init__(self, store: FileStore) -> None:
        self._store = store
        self._aead = AESGCM(store.key)
        self._prefix = secrets.token_bytes(_NONCE_PREFIX)
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._index = 0
        self.size = 0
        self.tmp_path = store.root / "tmp" / f"{secrets.token_hex(16)}.part"
        self._fh: BinaryIO | None = self.tmp_path.open("xb")
        self._fh.write(MAGIC + self._prefix)

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        self._buffer += data
        # Keep at least one byte back: the last segment must be sealed as last.
        while len(self._buffer) > SEGMENT:
            self._seal(bytes(self._buffer[:SEGMENT]), last=False)
            del self._buffer[:SEGMENT]

    def _seal(self, plain: bytes, *, last: bool) -> None:
        assert self._fh is not None
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), plain, MAGIC)
        self._fh.write(_LEN.pack(len(sealed)) + sealed)
        self._index += 1

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> str:
        """Seal, fsync and move into place under the SHA-256; the same file twice is kept once."""
        if self._fh is None:
            raise StoreError("this upload was already committed or discarded")
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        sha = self.sha256
        final = self._store.path_for(sha)
        if final.exists():
            self.tmp_path.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp_path, final)
            dir_fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return sha

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self.tmp_path.unlink(missing_ok=True)


class FileStore:
    """Files under root/objects/<aa>/<sha256>; any path outside root is refused."""

    def __init__(self, root: Path, key_path: Path) -> None:
        self.root = root.resolve()
        self.key = load_key(key_path)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise StoreError("a stored file is named by its SHA-256 (64 hex characters)")
        return self.resolve(Path("objects") / sha256[:2] / sha256)

    def resolve(self, relative: Path | str) -> Path:
        """A path inside the store, or StoreError: no '..', no absolute, no symlink escape."""
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root):
            raise StoreError(f"the path {relative} is outside the lost-pupil store; refused")
        return candidate

    def begin(self) -> PendingObject:
        return PendingObject(self)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def read(self, sha256: str) -> Iterator[bytes]:
        """The original bytes, segment by segment; StoreError if anything was tampered with."""
        path = self.path_for(sha256)
        aead = AESGCM(self.key)
        digest = hashlib.sha256()
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise StoreError(f"stored file {sha256[:12]}… is not in the store") from None
        with fh:
            head = fh.read(len(MAGIC) + _NONCE_PREFIX)
            if head[: len(MAGIC)] != MAGIC:
                raise StoreError(f"stored file {sha256[:12]}… is not in the store's format")
            prefix = head[len(MAGIC) :]
            index = 0
            while True:
                raw_len = fh.read(_LEN.size)
                if len(raw_len) != _LEN.size:
                    raise StoreError(f"stored file {sha256[:12]}… is truncated")
                sealed = fh.read(_LEN.unpack(raw_len)[0])
                last = not fh.peek(1)
                try:
                    plain = aead.decrypt(_nonce(prefix, index, last), sealed, MAGIC)
                except InvalidTag:
                    raise StoreError(
                        f"stored file {sha256[:12]}… failed its integrity check"
                    ) from None
                digest.update(plain)
                index += 1
                if last:
                    if digest.hexdigest() != sha256:
                        raise StoreError(f"stored file {sha256[:12]}… does not match its hash")
                    yield plain
                    return
                yield plain

    def read_bytes(self, sha256: str) -> bytes:
        return b"".join(self.read(sha256))

    def delete(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def sweep_tmp(self) -> int:
        """Remove half-written uploads left by a crash; they were never acknowledged."""
        count = 0
        for part in (self.root / "tmp").glob("*.part"):
            part.unlink(missing_ok=True)
            count += 1
        return count
