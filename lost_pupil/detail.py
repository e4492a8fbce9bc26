"""Read one pupil's full record (contacts, addresses, history) back from the stored file."""

from __future__ import annotations

from lost_pupil.errors import NotFound
from lost_pupil.store import FileStore
from parsers.ctf import CtfHeader, CtfPupil, CtfReader


def read_pupil(store: FileStore, sha256: str, position: int) -> tuple[CtfHeader, CtfPupil]:
    """The header and the pupil at that position, decrypted and parsed in full detail."""
    reader = CtfReader(store.read(sha256), detail=True)
    header = reader.header
    for pupil in reader.pupils():
        if pupil.position == position:
            return header, pupil
    raise NotFound(f"pupil {position} is not in stored file {sha256[:12]}")
