"""Dispatch: one idempotent job per raw message that decides what it is and acts on it.

Order matters: unreadable or suspicious mail is held first (nothing in it is trusted),
then S/MIME goes to the exchange, bounces and auto-replies are recorded and never
answered, replies are threaded onto their case (our own Message-ID first, the subject
tag only from a sender already on the case), and anything else is a new referral.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import audit, jobs, outbox
from gateway.db import utcnow
from gateway.intake.message import MessageFacts
from gateway.intake.parsing import ParserPool, Reading, parser_pool, read_mail
from gateway.intake.quarantine import Reason, hold
from gateway.intake.rawstore import DISPATCH_JOB, RawStore, RawStoreError
from gateway.models.case import Case, TimelineEntry
from gateway.models.intake import Outcome, RawMessage, RawStatus
from gateway.models.ops import Job, OutboxMessage
from gateway.models.referral import Referral
from gateway.settings import Settings
from gateway.sqltext import same_address

log = logging.getLogger(__name__)

ACTOR = "intake"


@dataclass(frozen=True)
class DispatchResult:
    raw_id: int
    outcome: Outcome
    case_id: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "raw_id": self.raw_id,
            "outcome": self.outcome.value,
            "case_id": self.case_id,
            "reason": self.reason,
        }


def result_of(row: RawMessage) -> DispatchResult:
    """What dispatch decided earlier for this row (for replays and duplicates)."""
    outcome = Outcome(row.outcome) if row.outcome else Outcome.QUARANTINED
    return DispatchResult(row.id, outcome, row.case_id, row.reason)


def dispatch_raw(
    session: Session, settings: Settings, raw_id: int, *, release: bool = False
) -> DispatchResult:
    """Classify and act on one stored message; a second run of a done message changes nothing.

    `release` is the officer's decision that a held message is safe: the suspicion checks
    are skipped, everything else applies.
    """
    # Locked on PostgreSQL: should two workers ever hold the same message (a lease taken
    # over from a worker that was only slow), the second waits, then sees it done.
    prepared = session.info.get(_PREPARED, {})
    if raw_id in prepared:  # read and locked with its batch
        row = session.get(RawMessage, raw_id)
    else:
        row = session.get(RawMessage, raw_id, with_for_update=True)
    if row is None:
        raise LookupError(f"there is no raw message {raw_id}")
    if row.status != RawStatus.STORED.value:
        return result_of(row)
    ready = prepared.pop(raw_id, None)
    _LEFTOVERS.drop(raw_id)  # reached: a batch that did not run out of time got this far
    if ready is None or ready.sha256 != row.sha256:
        ready = _read_stored(settings, session, row)
    ready = ready.resolved()
    if isinstance(ready.data, RawStoreError):
        return _quarantine(session, row, Reason.DISPATCH_ERROR, str(ready.data))
    data = ready.data
    if isinstance(ready.facts, Exception):  # the parser must not crash the pipeline: hold it
        return _quarantine(
            session, row, Reason.PARSE_DEFECTS, f"cannot be parsed ({type(ready.facts).__name__})"
        )
    facts = ready.facts
    assert facts is not None  # read when the bytes were
    held = None if release else _suspicion(settings, facts)
    if held is not None:
        return _quarantine(session, row, *held)
    if facts.smime:
        return _exchange(session, settings, row, data)
    if facts.bounce:
        return _bounce(session, row, facts)
    if facts.auto_reply:
        return _auto_reply(session, row, facts)
    case = _thread_case(session, row, facts)
    if case is not None:
        return _reply(session, settings, row, facts, case)
    return _new_referral(session, settings, row, facts, data, ready.referral)


#: session.info key: what `prepare_dispatch` read and parsed for the batch, by raw id.
_PREPARED = "intake.dispatch.prepared"
_PREPARED_ROWS = "intake.dispatch.prepared_rows"


@dataclass(frozen=True)
class _Ready:
    """A stored message read and parsed before its dispatch: each step's result, or the
    exception it raised (raised again, or held, where dispatch reaches that step). While
    a parser process still reads it, `pending` is its reading to come."""

    sha256: str
    data: bytes | RawStoreError
    facts: MessageFacts | Exception | None = None
    referral: dict[str, Any] | Exception | None = None
    pending: tuple[ParserPool, Future[Reading]] | None = None

    def resolved(self) -> _Ready:
        """This reading complete: waits for a parser process still at work on it."""
        if self.pending is None or not isinstance(self.data, bytes):
            return self
        pool, future = self.pending
        facts, referral = pool.outcome(future, self.data)
        return dataclasses.replace(self, facts=facts, referral=referral, pending=None)


def _read_bytes(settings: Settings, session: Session, row: RawMessage) -> bytes | RawStoreError:
    try:
        return _store(settings, session).read(row)
    except RawStoreError as exc:
        return exc


def _read_stored(settings: Settings, session: Session, row: RawMessage) -> _Ready:
    """Read and parse in this thread (a single dispatch: the referral is read later)."""
    data = _read_bytes(settings, session, row)
    if isinstance(data, RawStoreError):
        return _Ready(row.sha256, data)
    facts, _ = read_mail(data, referral=False)
    return _Ready(row.sha256, data, facts)


def _read_for_batch(
    row: RawMessage, data: bytes | RawStoreError, pool: ParserPool | None
) -> _Ready:
    """The bytes were read here (the keys stay in the worker): parse them in a parser
    process when there is one (the worker does not wait for it until it needs it)."""
    if isinstance(data, RawStoreError):
        return _Ready(row.sha256, data)
    if pool is not None:
        return _Ready(row.sha256, data, pending=(pool, pool.submit(data)))
    facts, referral = read_mail(data)
    return _Ready(row.sha256, data, facts, referral)


def prepare_dispatch(session: Session, settings: Settings, payloads: list[dict[str, Any]]) -> None:
    """Read, decrypt and parse a batch of messages before any of it is dispatched: the
    work that needs no lock. On PostgreSQL the dispatch itself serialises on the audit
    log's lock (the case store's order), so this is the part that workers share out."""
    ids = [int(p["raw_id"]) for p in payloads]
    # Locked together on PostgreSQL (see dispatch_raw), ordered so workers never deadlock.
    rows = (
        session.execute(
            select(RawMessage)
            .where(RawMessage.id.in_(ids))
            .order_by(RawMessage.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    # Held for the batch: the session's identity map keeps rows only while they are used,
    # and each dispatch then finds its row there instead of reading it again.
    session.info[_PREPARED_ROWS] = rows
    pool = parser_pool(settings.jobs.parser_processes)
    ready = session.info.setdefault(_PREPARED, {})
    unread = []
    for row in rows:
        if row.status == RawStatus.STORED.value:
            kept = _LEFTOVERS.get(row.id, row.sha256)
            if kept is not None:
                ready[row.id] = kept
            else:
                unread.append(row)
    ready.update(_read_and_keep(session, settings, unread, pool))
    if pool is not None and session.get_bind().dialect.name == "sqlite":
        _read_ahead(session, settings, pool, set(ids))


def _read_ahead(session: Session, settings: Settings, pool: ParserPool, claimed: set[int]) -> None:
    """Give the parser process the next batch's messages too, kept for that batch: it
    reads them while this batch is dispatched, instead of waiting idle for the next claim.

    SQLite only: there the one worker that can write takes every batch, so the messages
    read ahead are the ones it claims next. PostgreSQL's workers share the queue (SKIP
    LOCKED), and each reading ahead the same next jobs would parse them twice over.
    """
    due = session.execute(
        select(Job.payload)
        .where(Job.kind == DISPATCH_JOB, Job.status == "queued", Job.run_at <= utcnow())
        .order_by(Job.run_at, Job.id)
        .limit(DISPATCH_BATCH)
    ).scalars()
    wanted = sorted({int(p["raw_id"]) for p in due if "raw_id" in p} - claimed)
    if not wanted:
        return
    rows = session.execute(
        select(RawMessage)
        .where(RawMessage.id.in_(wanted), RawMessage.status == RawStatus.STORED.value)
        .order_by(RawMessage.id)
    ).scalars()
    unread, size = [], 0
    for row in rows:
        size += row.size
        if size > READ_AHEAD_BYTES:
            break  # a batch of large messages is read when it is claimed
        if _LEFTOVERS.get(row.id, row.sha256) is None:
            unread.append(row)
    _read_and_keep(session, settings, unread, pool)


def _read_and_keep(
    session: Session, settings: Settings, rows: list[RawMessage], pool: ParserPool | None
) -> dict[int, _Ready]:
    """The rows' bytes read here (the keys stay in the worker) and each reading begun,
    kept with the leftovers for whichever batch dispatches it; by raw id."""
    out = {}
    for row, data in zip(rows, _store(settings, session).read_many(rows), strict=True):
        out[row.id] = _leftover(row.id, _read_for_batch(row, data, pool))
    return out


class _Leftovers:
    """Messages read and parsed ahead of their batch (`_read_ahead`), or for a batch that
    ran out of time before reaching them (its rest is given back and claimed again, most
    often by this same worker): kept, a few batches' worth, so the batch that dispatches
    them does not read and parse them a second time. Only
    readings whose bytes were read are kept (parsed, or still being parsed), by raw id and
    the stored bytes' digest; the reading is a pure function of those bytes, so a kept one
    is what reading them again would give."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept: dict[int, _Ready] = {}
        self._lock = threading.Lock()

    def keep(self, raw_id: int, ready: _Ready) -> None:
        with self._lock:
            self._kept.pop(raw_id, None)
            self._kept[raw_id] = ready
            while len(self._kept) > self._limit:
                del self._kept[next(iter(self._kept))]  # the oldest first

    def get(self, raw_id: int, sha256: str) -> _Ready | None:
        with self._lock:
            ready = self._kept.get(raw_id)
        return ready if ready is not None and ready.sha256 == sha256 else None

    def drop(self, raw_id: int) -> None:
        with self._lock:
            self._kept.pop(raw_id, None)


def _leftover(raw_id: int, ready: _Ready) -> _Ready:
    """`ready`, also kept for a later batch when it is a complete reading (bytes read)."""
    if isinstance(ready.data, bytes):
        _LEFTOVERS.keep(raw_id, ready)
    return ready


_STORES: dict[tuple[str, int], RawStore] = {}


def _store(settings: Settings, session: Session) -> RawStore:
    """A reader on the raw store (kept: dispatch reads one message per job)."""
    engine: Any = session.get_bind()
    key = (str(settings.home), id(engine))
    store = _STORES.get(key)
    if store is None or store.engine is not engine:
        store = _STORES[key] = RawStore(settings.home, engine)
    return store


def _suspicion(settings: Settings, facts: MessageFacts) -> tuple[Reason, str] | None:
    if facts.too_large:
        return Reason.MESSAGE_TOO_LARGE, "; ".join(facts.defects)
    if not facts.has_headers:
        return Reason.NO_HEADERS, "the message has no readable headers (From, Subject, Date)"
    if facts.too_nested:
        return Reason.TOO_DEEP, "MIME parts nest too deeply to read all of the content"
    for att in facts.attachments:
        if att.executable:
            return Reason.EXECUTABLE_ATTACHMENT, f"executable attachment {att.filename!r}"
    cap = settings.smtp.max_message_size
    for att in facts.attachments:
        if att.size > cap:
            return Reason.ATTACHMENT_TOO_LARGE, (
                f"attachment {att.filename!r} is {att.size} bytes; the cap is {cap}"
            )
    if facts.tnef_only:
        return Reason.UNREADABLE_TNEF, "the content is only in a winmail.dat (TNEF) attachment"
    readable = facts.text.strip() or facts.html.strip() or facts.attachments or facts.smime
    if facts.defects and not readable:
        return Reason.PARSE_DEFECTS, "parse defects hide the content: " + ", ".join(
            facts.defects[:5]
        )
    return None


def _finish(
    row: RawMessage, outcome: Outcome, case_id: int | None, reason: str | None = None
) -> DispatchResult:
    row.status = RawStatus.DISPATCHED.value
    row.outcome = outcome.value
    row.case_id = case_id
    row.reason = reason
    row.dispatched_at = utcnow()
    # Ids and codes only: the reason can quote the message.
    log.info(
        "intake: message dispatched",
        extra={"raw_id": row.id, "outcome": outcome.value, "case_id": case_id},
    )
    return DispatchResult(row.id, outcome, case_id, reason)


def _quarantine(session: Session, row: RawMessage, reason: Reason, detail: str) -> DispatchResult:
    hold(session, row, reason, detail)
    row.outcome = Outcome.QUARANTINED.value
    row.dispatched_at = utcnow()
    log.info("intake: message quarantined", extra={"raw_id": row.id, "reason": reason.value})
    return DispatchResult(row.id, Outcome.QUARANTINED, None, reason.value)


def _timeline(
    session: Session,
    case_id: int,
    kind: str,
    summary: str,
    row: RawMessage,
    *,
    unread: bool = False,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        TimelineEntry(
            case_id=case_id, kind=kind, summary=summary, ref=f"raw:{row.id}", actor=ACTOR,
            unread=unread, detail=detail,
        )
    )  # fmt: skip
    audit.record(
        session,
        actor=ACTOR,
        action=f"intake.{kind}",
        entity="case",
        entity_id=case_id,
        detail={"raw_id": row.id},
    )


def _case_of_ids(session: Session, ids: tuple[str, ...], exclude: int) -> int | None:
    """The case that one of these Message-IDs belongs to: our letters first, then mail in."""
    for mid in ids:
        ours = session.execute(
            select(OutboxMessage.case_id).where(OutboxMessage.message_id == mid)
        ).scalar_one_or_none()
        if ours is not None:
            return int(ours)
    if ids:
        theirs = session.execute(
            select(RawMessage.case_id)
            .where(
                RawMessage.message_id.in_(ids),
                RawMessage.case_id.is_not(None),
                RawMessage.id != exclude,
            )
            .order_by(RawMessage.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if theirs is not None:
            return int(theirs)
    return None


def _sender_on_case(session: Session, case_id: int, sender: str) -> bool:
    """Whether this address already took part in the case: a referrer, a sender of mail
    filed on it, or a recipient of our letters. Exact addresses only, never a pattern."""
    address = sender.strip().lower()
    if not address:
        return False
    referrer = session.execute(
        select(Referral.id).where(
            Referral.case_id == case_id, same_address(Referral.referrer_email, address)
        )
    ).first()
    if referrer is not None:
        return True
    previous = session.execute(
        select(RawMessage.id).where(
            RawMessage.case_id == case_id, same_address(RawMessage.envelope_from, address)
        )
    ).first()
    if previous is not None:
        return True
    for (to_addrs,) in session.execute(
        select(OutboxMessage.to_addrs).where(OutboxMessage.case_id == case_id)
    ):
        if address in {str(a).strip().lower() for a in to_addrs or ()}:
            return True
    return False


def _thread_case(session: Session, row: RawMessage, facts: MessageFacts) -> Case | None:
    case_id = _case_of_ids(session, facts.thread_ids, row.id)
    if case_id is None and facts.sender:
        for tag in facts.case_tags:
            if session.get(Case, tag) is not None and _sender_on_case(session, tag, facts.sender):
                case_id = tag
                break
    return session.get(Case, case_id) if case_id is not None else None


def _reply(
    session: Session, settings: Settings, row: RawMessage, facts: MessageFacts, case: Case
) -> DispatchResult:
    # Readable on the case (the text is read from the raw store when shown), marked new
    # until an officer has read it.
    _timeline(
        session, case.id, "email_reply", "Email reply received", row, unread=True,
        detail={
            "from": facts.sender,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in facts.attachments
            ],
        },
    )  # fmt: skip
    outbox.queue(
        session,
        settings,
        kind="officer_notice",
        to=[settings.core.officer_email],
        subject=f"[{case.tag}] Reply received",
        body=(
            f"A reply has arrived on case {case.tag} (raw message {row.id}).\n"
            "Open the case in the CME console to read it.\n"
        ),
        case_id=case.id,
    )
    return _finish(row, Outcome.REPLY, case.id)


def _auto_reply(session: Session, row: RawMessage, facts: MessageFacts) -> DispatchResult:
    case_id = _case_of_ids(session, facts.thread_ids, row.id)
    if case_id is None:
        for tag in facts.case_tags:
            if session.get(Case, tag) is not None:
                case_id = tag
                break
    if case_id is not None:
        _timeline(session, case_id, "auto_reply", "Automatic reply received (not answered)", row)
    return _finish(row, Outcome.AUTO_REPLY, case_id)


def _bounce(session: Session, row: RawMessage, facts: MessageFacts) -> DispatchResult:
    ids = facts.bounced_message_ids or facts.thread_ids
    case_id: int | None = None
    undelivered = None
    for mid in ids:
        undelivered = outbox.mark_undelivered(session, mid, f"bounced (raw message {row.id})")
        if undelivered is not None:
            case_id = undelivered.case_id
            break
    if case_id is None:
        case_id = _case_of_ids(session, ids, row.id)
    if case_id is not None:
        what = "one of our letters" if undelivered is not None else "a message"
        _timeline(session, case_id, "bounce", f"Delivery failure for {what}", row)
    return _finish(row, Outcome.BOUNCE, case_id)


def _exchange(session: Session, settings: Settings, row: RawMessage, data: bytes) -> DispatchResult:
    try:
        from gateway.exchange.service import handle_inbound_mail
    except ImportError:
        return _quarantine(session, row, Reason.EXCHANGE_NOT_CONFIGURED, "exchange not configured")
    try:
        with session.begin_nested():
            outcome = handle_inbound_mail(session, settings, data)
    except Exception as exc:  # e.g. no keys yet: hold it until the exchange is set up
        return _quarantine(
            session, row, Reason.EXCHANGE_NOT_CONFIGURED, f"exchange failed: {type(exc).__name__}"
        )
    if str(outcome.verdict) == "refused":
        return _quarantine(session, row, Reason.EXCHANGE_REFUSED, outcome.detail or "refused")
    return _finish(row, Outcome.EXCHANGE, None, str(outcome.verdict))


def _new_referral(
    session: Session,
    settings: Settings,
    row: RawMessage,
    facts: MessageFacts,
    data: bytes,
    read: dict[str, Any] | Exception | None = None,
) -> DispatchResult:
    from gateway.intake.referral import ReferralUnreadable, log_email_referral

    try:
        if isinstance(read, Exception):
            raise read  # as if the parser had raised it here
        routed = log_email_referral(session, settings, row, facts, data, read)
    except ReferralUnreadable as exc:
        return _quarantine(session, row, Reason.REFERRAL_UNREADABLE, str(exc))
    outcome = Outcome.CASE if routed.outcome == "case" else Outcome.TRIAGE
    return _finish(row, outcome, routed.case_id)


def dispatch_safely(
    session: Session, settings: Settings, raw_id: int, *, release: bool = False
) -> DispatchResult:
    """Dispatch; a fault in any step is undone and the message held with the reason, so
    every stored message ends in a case or in the quarantine an officer sees."""
    try:
        with session.begin_nested():
            return dispatch_raw(session, settings, raw_id, release=release)
    except Exception as exc:
        # The type only: an exception's text may quote a child's details.
        log.error(
            "intake: dispatch failed; message quarantined",
            extra={"raw_id": raw_id, "error_type": type(exc).__name__},
        )
        row = session.get(RawMessage, raw_id)
        if row is None:
            raise
        session.refresh(row)
        return _quarantine(
            session, row, Reason.DISPATCH_ERROR, f"dispatch failed: {type(exc).__name__}: {exc}"
        )


#: Messages dispatched in one transaction (each in dispatch_safely's savepoint, so the
#: batch adds none of its own: jobs.register's `isolated`):
#: enough to spread a commit and a claim over many messages, few enough that the write
#: lock SQLite's intake indexer also needs is held only briefly.
DISPATCH_BATCH = 32
#: The most bytes of stored mail read ahead for the next batch (held until it runs).
READ_AHEAD_BYTES = 4 * 1024 * 1024
#: Three batches' worth: the one being dispatched, the rest of one given back, and the
#: next one read ahead.
_LEFTOVERS = _Leftovers(limit=3 * DISPATCH_BATCH)


@jobs.register(DISPATCH_JOB, batch=DISPATCH_BATCH, prepare=prepare_dispatch, isolated=True)
def dispatch_job(session: Session, settings: Settings, payload: dict[str, Any]) -> None:
    dispatch_safely(session, settings, int(payload["raw_id"]))


#: How often a worker looks for segments a dead writer left unindexed (another `cme run`
#: on the same data home that was killed): cheap (a flock try per open segment).
RECOVER_EVERY = 5.0
_last_recovery: dict[str, float] = {}


@jobs.periodic("intake.recover_segments")
def recover_segments(engine: Engine, settings: Settings, now: datetime) -> None:
    """Index what a writer that died (SIGKILL, power cut) fsync'd and acknowledged but never
    indexed, without waiting for it to be restarted: its segment lock died with it."""
    key = str(settings.home)
    if time.monotonic() - _last_recovery.get(key, float("-inf")) < RECOVER_EVERY:
        return
    _last_recovery[key] = time.monotonic()
    if not (settings.home / "raw" / "segments").is_dir():
        return
    if RawStore(settings.home, engine).recover():
        jobs.notify()
