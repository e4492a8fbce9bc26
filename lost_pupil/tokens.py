"""Per-school upload tokens: issued once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lost_pupil.db import utcnow
from lost_pupil.errors import LostPupilError
from lost_pupil.models import SchoolToken

_LAESTAB = re.compile(r"^\d{7}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, laestab: str) -> str:
    """A new token for the school (shown once; only its hash is kept)."""
    if not _LAESTAB.match(laestab):
        raise LostPupilError(f"{laestab!r} is not a LAESTAB (7 digits)")
    token = "lp_" + secrets.token_urlsafe(32)
    session.add(SchoolToken(laestab=laestab, token_sha256=_digest(token)))
    session.flush()
    return token


def school_for_token(session: Session, token: str) -> str | None:
    """The LAESTAB the token was issued to, or None if unknown or revoked."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        select(SchoolToken).where(
            SchoolToken.token_sha256 == _digest(token), SchoolToken.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    return row.laestab if row else None


def revoke_tokens(session: Session, laestab: str, now: datetime | None = None) -> int:
    result = session.execute(
        update(SchoolToken)
        .where(SchoolToken.laestab == laestab, SchoolToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
