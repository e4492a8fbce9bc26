"""One-time form tokens: a public form page can be sent once, whichever process answers.

A token is signed, not stored, when the page is shown (showing a page writes nothing);
it is recorded as spent in `form_tokens_used` when a submission claims it, in one
statement that only one submission can win.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.db import utcnow
from gateway.models.formtoken import UsedFormToken

#: A clock a little fast on the machine that signed the page is not the sender's fault.
SKEW_SECONDS = 300


class FormTokenInvalid(ValueError):
    """The form's token is missing, altered or too old: the page must be loaded again."""


@dataclass(frozen=True)
class FormToken:
    form: str
    nonce: str
    issued_at: int
    expires_at: datetime

    @property
    def token_id(self) -> str:
        return hashlib.sha256(f"{self.form}\x1f{self.nonce}".encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """Whether this submission spent the token; if not, what the first one was told."""

    claimed: bool
    reference: str | None = None


def _mac(secret: bytes, form: str, nonce: str, issued: int) -> str:
    key = hmac.new(secret, b"cme-form-token", hashlib.sha256).digest()
    digest = hmac.new(key, f"{form}\x1f{nonce}\x1f{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(secret: bytes, form: str, *, now: float | None = None) -> str:
    """A fresh token for one page of `form`, to go in a hidden field."""
    nonce = secrets.token_urlsafe(18)
    issued = int(time.time() if now is None else now)
    return f"{nonce}.{issued}.{_mac(secret, form, nonce, issued)}"


def read(
    secret: bytes, form: str, token: str, *, max_age_seconds: int, now: float | None = None
) -> FormToken:
    """The token's contents if we signed it for `form` and it is not too old."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(token) > 200:
        raise FormTokenInvalid("the form token is missing or malformed")
    nonce, issued_text, mac = parts
    issued = int(issued_text)
    if not hmac.compare_digest(mac.encode(), _mac(secret, form, nonce, issued).encode()):
        raise FormTokenInvalid("the form token was not made here")
    clock = time.time() if now is None else now
    if not issued - SKEW_SECONDS <= clock <= issued + max_age_seconds:
        raise FormTokenInvalid("the form token has expired")
    expires = datetime.fromtimestamp(issued + max_age_seconds + SKEW_SECONDS, UTC)
    return FormToken(form, nonce, issued, expires)


def spent(engine: Engine, token: FormToken) -> Claim | None:
    """The earlier claim on this token, or None if it has not been sent yet."""
    with engine.connect() as conn:
        row = conn.execute(
            select(UsedFormToken.reference).where(UsedFormToken.token_id == token.token_id)
        ).first()
    return None if row is None else Claim(False, row.reference)


def claim(engine: Engine, token: FormToken) -> Claim:
    """Spend the token: exactly one of any number of concurrent submissions wins."""
    t = cast(Table, UsedFormToken.__table__)
    now = utcnow()
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(t)
        .values(token_id=token.token_id, form=token.form, used_at=now, expires_at=token.expires_at)
        .on_conflict_do_nothing(index_elements=[t.c.token_id])
        .returning(t.c.token_id)
    )
    with engine.begin() as conn:
        # Spent tokens are kept only while the token itself could still be accepted.
        conn.execute(delete(t).where(t.c.expires_at < now - timedelta(seconds=SKEW_SECONDS)))
        won = conn.execute(stmt).first() is not None
    if won:
        return Claim(True)
    earlier = spent(engine, token)
    return earlier if earlier is not None else Claim(False)


def complete(engine: Engine, token: FormToken, reference: str) -> None:
    """Record what the winning submission was told, for any later send of the same page."""
    with engine.begin() as conn:
        conn.execute(
            update(UsedFormToken)
            .where(UsedFormToken.token_id == token.token_id)
            .values(reference=reference)
        )


def release(engine: Engine, token: FormToken) -> None:
    """Give the token back: the submission that spent it could not be stored."""
    with engine.begin() as conn:
        conn.execute(delete(UsedFormToken).where(UsedFormToken.token_id == token.token_id))
