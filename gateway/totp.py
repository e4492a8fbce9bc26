"""TOTP second factor: secrets sealed with the data home's keys/totp.key, and code checks."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pyotp
from cryptography.fernet import Fernet, InvalidToken

from gateway.errors import UserError

KEY_FILE = "totp.key"
ISSUER = "CME Gateway"
# A secret as authenticator apps take it; a sealed one (a Fernet token) never looks like this.
_CLEAR_SECRET = re.compile(r"^[A-Z2-7]+=*$")


class TotpKeyError(UserError):
    """The TOTP key is missing or does not open a stored secret; the message says what to do."""


def new_key() -> bytes:
    """The contents of a new keys/totp.key (made by `cme init`)."""
    return Fernet.generate_key()


def key_path(keys_dir: Path) -> Path:
    return keys_dir / KEY_FILE


class TotpVault:
    """Seals and opens TOTP secrets, so a copy of the database alone cannot mint codes."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def load(cls, keys_dir: Path) -> TotpVault:
        path = key_path(keys_dir)
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            raise TotpKeyError(f"no TOTP key at {path}: run `cme init` to create it") from None
        try:
            return cls(key)
        except ValueError:
            raise TotpKeyError(
                f"the TOTP key at {path} is not a valid key; restore it from the backup"
            ) from None

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("ascii")).decode("ascii")

    def open(self, stored: str, *, username: str) -> str:
        if is_clear(stored):
            raise TotpKeyError(
                f"the TOTP secret of {username!r} is still stored in clear: run `cme init`"
            )
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise TotpKeyError(
                f"the TOTP secret of {username!r} does not open with keys/{KEY_FILE}: "
                "was the key replaced? Restore it from the backup"
            ) from None


def is_clear(stored: str) -> bool:
    """A secret written before secrets were sealed (sealed ones contain lower case)."""
    return bool(_CLEAR_SECRET.match(stored))


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code matches, allowing one step of clock drift either way."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
