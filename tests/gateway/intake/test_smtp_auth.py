"""SMTP AUTH: an unknown name costs the same argon2 check as a wrong password."""

from __future__ import annotations

from typing import Any

from aiosmtpd.smtp import LoginPassword
from argon2 import PasswordHasher, extract_parameters

from gateway.intake.smtp import Authenticator

# Cheaper than the default, so the dummy must follow the file's parameters, not argon2's.
FILE_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class CountingHasher:
    """Stands in for the authenticator's hasher and counts the hashes it checks."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.checked: list[str] = []

    def verify(self, hashed: str, password: bytes) -> bool:
        self.checked.append(hashed)
        return self.real.verify(hashed, password)


def _login(auth: Authenticator, user: bytes, password: bytes) -> Any:
    return auth(None, None, None, "LOGIN", LoginPassword(user, password))  # type: ignore[arg-type]


def test_unknown_user_runs_the_hasher_like_a_known_one() -> None:
    users = {"relay": FILE_HASHER.hash("relay-secret")}
    auth = Authenticator(users)
    counting = CountingHasher(auth.hasher)
    auth.hasher = counting  # type: ignore[assignment]

    assert not _login(auth, b"ghost", b"relay-secret").success
    assert not _login(auth, b"relay", b"wrong").success
    assert _login(auth, b"relay", b"relay-secret").success
    assert len(counting.checked) == 3
    ghost_hash = counting.checked[0]
    assert ghost_hash != users["relay"]
    # As costly as the accounts' own hashes.
    assert extract_parameters(ghost_hash) == extract_parameters(users["relay"])
