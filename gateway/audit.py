"""The audit log: every view and change of a child's record, chained by hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.models.audit import AuditEntry

GENESIS = "0" * 64
#: The advisory lock id that serialises appends on PostgreSQL (SQLite serialises writers).
_PG_LOCK = 807_436_001


def _digest(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: dict[str, Any],
) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(), actor, action, entity, entity_id, detail],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


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
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    prev = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev_hash = prev or GENESIS
    # Microseconds dropped: both engines then store and return the same instant.
    at = utcnow().replace(microsecond=0)
    detail = json.loads(json.dumps(detail or {}, default=str))
    ident = None if entity_id is None else str(entity_id)
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=ident,
        detail=detail,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, at, actor, action, entity, ident, detail),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify(session: Session) -> VerifyResult:
    """Walk the chain; name the first entry that was edited, or follows a deleted one."""
    prev_hash = GENESIS
    prev_id = 0
    count = 0
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        count += 1
        if entry.prev_hash != prev_hash:
            return VerifyResult(
                False,
                count,
                entry.id,
                f"entry {entry.id} does not follow entry {prev_id}: "
                "an entry before it was deleted or altered",
            )
        expected = _digest(
            entry.prev_hash,
            entry.at,
            entry.actor,
            entry.action,
            entry.entity,
            entry.entity_id,
            entry.detail,
        )
        if entry.hash != expected:
            return VerifyResult(False, count, entry.id, f"entry {entry.id} was altered")
        prev_hash, prev_id = entry.hash, entry.id
    return VerifyResult(True, count)
