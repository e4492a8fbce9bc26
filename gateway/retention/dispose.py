"""Disposal: removing what retention says is due, with a disposal record and an audit entry.

A case goes with everything under it: the cases merged into it, the child (addresses,
carers, siblings), referrals, timeline, tasks, facts, enquiries, steps, onward referrals,
printed letters, letters in the outbox, match candidates and decisions that name the case
or its referrals, exchange messages and their proposals, monitoring, disclosure register
rows, and its raw messages (crypto-shredded: gateway.intake.rawstore). Exchange messages
are deleted, not kept as stubs with their bodies emptied: a stub would still be listed
(dead letters, answers) by code that expects a body, and the replay defence does not need
it (a message created outside the time window is refused anyway). The audit log is never
touched: the disposal's own entry and its `retention_disposals` row say what went (counts
per kind and a digest of the ids), when and under which rule.

Work is done in batches, each one transaction: the batch is checked again inside it
(a case reopened or put on hold since the preview stays), then removed. On SQLite the
newest case, referral and raw message are deferred to a later run, because SQLite gives a
deleted highest id to the next row and the audit entries of the old one would then seem
to be about the new. After a run on SQLite the WAL is checkpointed and truncated, so the
pages that held the removed rows are not left in it (secure_delete zeroes them in the
file; gateway.db).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from gateway import audit, jobs
from gateway.db import session_scope, utcnow
from gateway.intake import rawstore
from gateway.models.case import Case, CaseFact, EnquiryLogEntry, Task, TimelineEntry
from gateway.models.casework import CaseStep, OnwardReferral, PrintedLetter
from gateway.models.child import Carer, Child, ChildAddress, Sibling
from gateway.models.exchange import (
    Disclosure,
    ExchangeMessage,
    Monitoring,
    Proposal,
    QuarantinedMessage,
)
from gateway.models.intake import QuarantineEntry, RawMessage
from gateway.models.matching import MatchCandidate, MatchDecision
from gateway.models.ops import Job, OutboxMessage
from gateway.models.referral import Referral
from gateway.models.retention import RetentionDisposal
from gateway.retention.due import (
    Item,
    Subject,
    case_items,
    chunks,
    exchange_quarantine_items,
    find_due,
    quarantine_items,
    referral_items,
)
from gateway.settings import Settings

log = logging.getLogger(__name__)

ACTOR = "system:retention"
BATCH = 200

#: Deletion order (children of a foreign key before their parents); each table's name is
#: the kind a disposal record counts.
_ORDER: list[Any] = [
    Proposal, ExchangeMessage, OnwardReferral, PrintedLetter, OutboxMessage, QuarantineEntry,
    QuarantinedMessage, MatchCandidate, MatchDecision, Job, Task, TimelineEntry,
    EnquiryLogEntry, CaseFact, CaseStep, Monitoring, Disclosure, Referral, RawMessage, Case,
    ChildAddress, Carer, Sibling, Child,
]  # fmt: skip


@dataclass(frozen=True)
class RunReport:
    on: date
    disposed: dict[str, int]
    held: int
    deferred: int
    counts: dict[str, int]
    # Raw messages from before encryption: rows gone, bytes still in a plaintext segment
    # until `cme keys rotate` re-encrypts the store and drops that segment.
    raw_plaintext: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(), "disposed": self.disposed, "held": self.held,
            "deferred": self.deferred, "counts": self.counts,
            "raw_plaintext": self.raw_plaintext,
        }  # fmt: skip


@dataclass
class _Plan:
    """What one batch removes, unit by unit (unit: (subject, id))."""

    rows: dict[str, dict[tuple[str, int], set[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    # raw id -> (unit, sha256, segment, offset, encrypted)
    raw: dict[int, tuple[tuple[str, int], str, str, int, bool]] = field(default_factory=dict)
    # Rows that stay but lose their link: raw messages another referral uses (case_id),
    # printed letters naming a dismissed referral (referral_id).
    unlink_raw: dict[tuple[str, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    unlink_letters: dict[tuple[str, int], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def add(self, model: Any, unit: tuple[str, int], ids: Any) -> None:
        self.rows[model.__tablename__][unit].update(int(i) for i in ids)

    def ids(self, model: Any) -> list[int]:
        return sorted({i for ids in self.rows[model.__tablename__].values() for i in ids})

    def raw_of(self) -> dict[tuple[str, int], list[tuple[str, bool]]]:
        """Unit -> its raw messages' (sha256, encrypted)."""
        out: dict[tuple[str, int], list[tuple[str, bool]]] = defaultdict(list)
        for unit, sha, _seg, _off, enc in self.raw.values():
            out[unit].append((sha, enc))
        return out

    def counts(self, unit: tuple[str, int], raw: list[tuple[str, bool]]) -> dict[str, int]:
        out = {t: len(units[unit]) for t, units in self.rows.items() if units.get(unit)}
        keys = sum(1 for _sha, enc in raw if enc)
        if keys:
            out["raw_keys_shredded"] = keys
        return dict(sorted(out.items()))

    def digest(self, unit: tuple[str, int], raw: list[tuple[str, bool]]) -> str:
        lines = sorted(
            f"{t}:{i}" for t, units in self.rows.items() for i in units.get(unit, ())
        ) + sorted(f"raw:{sha}" for sha, _enc in raw)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def preview(session: Session, settings: Settings, on: date) -> list[Item]:
    """What a run on `on` would dispose of (and what a legal hold keeps)."""
    return find_due(session, settings, on)


def local_today(settings: Settings, now: datetime) -> date:
    return now.astimezone(ZoneInfo(settings.core.timezone)).date()


def run(
    engine: Engine,
    settings: Settings,
    *,
    actor: str = ACTOR,
    now: datetime | None = None,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> RunReport:
    """Dispose of everything due today (local date), batch by batch."""
    now = now or utcnow()
    on = local_today(settings, now)
    with session_scope(engine) as session:
        due = find_due(session, settings, on)
    held = sum(1 for item in due if item.held)
    disposed: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    deferred = plaintext = 0
    todo: dict[str, list[int]] = defaultdict(list)
    for item in due:
        if not item.held:
            todo[item.subject].append(item.subject_id)
    total = sum(len(ids) for ids in todo.values())
    for subject, ids in todo.items():
        for ids_batch in chunks(ids, batch):
            with session_scope(engine) as session:
                result = _dispose_batch(session, settings, subject, ids_batch, on, actor, now)
            if result.disposed:
                disposed[subject] += result.disposed
            deferred += result.deferred
            plaintext += result.plaintext
            for kind, n in result.counts.items():
                counts[kind] += n
            if progress is not None:
                progress(len(ids_batch), total)
    if engine.dialect.name == "sqlite" and disposed:
        checkpoint(engine)
    report = RunReport(on, dict(disposed), held, deferred, dict(sorted(counts.items())), plaintext)
    log.info("retention run", extra=report.as_dict())
    return report


def checkpoint(engine: Engine) -> bool:
    """Copy the WAL into the database file and truncate it (best effort: a reader that
    holds an old snapshot makes it wait for the next run)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cursor.fetchone()
        busy = bool(row and row[0])
        cursor.close()
    finally:
        raw.close()
    return not busy


@dataclass
class _BatchResult:
    disposed: int = 0
    deferred: int = 0
    plaintext: int = 0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _dispose_batch(
    session: Session,
    settings: Settings,
    subject: str,
    ids: list[int],
    on: date,
    actor: str,
    now: datetime,
) -> _BatchResult:
    # Checked again inside the transaction: reopened, put on hold or changed since.
    finder = {
        Subject.CASE: lambda: case_items(session, settings, on, ids=ids, lock=True),
        Subject.REFERRAL: lambda: referral_items(session, settings, on, ids=ids),
        Subject.QUARANTINE: lambda: quarantine_items(session, settings, on, ids=ids),
        Subject.EXCHANGE_QUARANTINE: lambda: exchange_quarantine_items(
            session, settings, on, ids=ids
        ),
    }[subject]
    items = [item for item in finder() if not item.held]
    plan = _Plan()
    units = {(item.subject, item.subject_id): item for item in items}
    if subject == Subject.CASE:
        _plan_cases(session, plan, items)
    elif subject == Subject.REFERRAL:
        _plan_referrals(session, plan, items)
    elif subject == Subject.QUARANTINE:
        _plan_raw(session, plan, {item.subject_id: (subject, item.subject_id) for item in items})
    else:
        for item in items:
            plan.add(QuarantinedMessage, (subject, item.subject_id), [item.subject_id])
    result = _BatchResult()
    newest = _newest_ids(session)
    for unit in list(units):
        if any(newest.get(t) in plan.rows[t].get(unit, ()) for t in newest):
            result.deferred += 1
            del units[unit]
            _drop_unit(plan, unit)
    _execute(session, plan, result)
    raw_of = plan.raw_of()
    records = []
    for unit, item in units.items():
        counts = plan.counts(unit, raw_of.get(unit, []))
        digest = plan.digest(unit, raw_of.get(unit, []))
        records.append(
            {
                "at": now, "actor": actor, "subject": item.subject, "subject_id": item.subject_id,
                "rule": item.due.label, "counts": counts, "digest": digest,
            }
        )  # fmt: skip
        audit.record(
            session,
            actor=actor,
            action="retention.dispose",
            entity=item.subject,
            entity_id=item.subject_id,
            detail={
                "rule": item.due.label, "counts": counts, "digest": digest,
            },
        )  # fmt: skip
        result.disposed += 1
        for kind, n in counts.items():
            result.counts[kind] += n
    if records:
        session.execute(insert(RetentionDisposal), records)
    return result


def _newest_ids(session: Session) -> dict[str, int]:
    """SQLite only: the highest id of each table whose ids the audit log names."""
    if session.get_bind().dialect.name != "sqlite":
        return {}
    out = {}
    for model in (Case, Referral, RawMessage, QuarantinedMessage):
        top = session.execute(select(func.max(model.id))).scalar_one_or_none()
        if top is not None:
            out[model.__tablename__] = int(top)
    return out


def _drop_unit(plan: _Plan, unit: tuple[str, int]) -> None:
    for units in plan.rows.values():
        units.pop(unit, None)
    plan.unlink_raw.pop(unit, None)
    plan.unlink_letters.pop(unit, None)
    for raw_id in [r for r, (u, *_) in plan.raw.items() if u == unit]:
        del plan.raw[raw_id]


def _rows(session: Session, stmt: Any, column: Any, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(values), 500):
        out.extend(session.execute(stmt.where(column.in_(values[i : i + 500]))).all())
    return out


def _plan_cases(session: Session, plan: _Plan, items: list[Item]) -> None:
    unit_of: dict[int, tuple[str, int]] = {}
    for item in items:
        for cid in item.cases:
            unit_of[cid] = (Subject.CASE, item.subject_id)
    case_ids = sorted(unit_of)
    if not case_ids:
        return
    refs: dict[str, tuple[str, int]] = {f"case:{cid}": u for cid, u in unit_of.items()}
    for cid, u in unit_of.items():
        plan.add(Case, u, [cid])
    # The child, unless another case (outside this batch) is about the same child row.
    children = _rows(session, select(Case.id, Case.child_id), Case.id, case_ids)
    child_ids = sorted({child for _, child in children})
    shared = {
        child
        for (child,) in _rows(
            session, select(Case.child_id).where(Case.id.not_in(case_ids)), Case.child_id, child_ids
        )
    }
    child_unit: dict[int, tuple[str, int]] = {}
    for cid, child in children:
        if child not in shared:
            child_unit[child] = unit_of[cid]
            plan.add(Child, unit_of[cid], [child])
    about_child: tuple[Any, ...] = (ChildAddress, Carer, Sibling)
    for model in about_child:
        for row_id, child in _rows(
            session, select(model.id, model.child_id), model.child_id, sorted(child_unit)
        ):
            plan.add(model, child_unit[child], [row_id])
    under_case: tuple[Any, ...] = (
        Task, TimelineEntry, EnquiryLogEntry, CaseFact, CaseStep, Monitoring, Disclosure,
        OutboxMessage,
    )  # fmt: skip
    for model in under_case:
        for row_id, cid in _rows(session, select(model.id, model.case_id), model.case_id, case_ids):
            plan.add(model, unit_of[cid], [row_id])
    referrals = _rows(
        session, select(Referral.id, Referral.case_id, Referral.raw_id), Referral.case_id, case_ids
    )
    referral_unit = {rid: unit_of[cid] for rid, cid, _ in referrals}
    for rid, u in referral_unit.items():
        plan.add(Referral, u, [rid])
        refs[f"referral:{rid}"] = u
    for row_id, cid, outbox_id in _rows(
        session,
        select(OnwardReferral.id, OnwardReferral.case_id, OnwardReferral.outbox_id),
        OnwardReferral.case_id,
        case_ids,
    ):
        plan.add(OnwardReferral, unit_of[cid], [row_id])
        if outbox_id is not None:
            plan.add(OutboxMessage, unit_of[cid], [outbox_id])
    for row_id, cid in _rows(
        session, select(PrintedLetter.id, PrintedLetter.case_id), PrintedLetter.case_id, case_ids
    ):
        plan.add(PrintedLetter, unit_of[cid], [row_id])
    # Exchange messages about the case, and those its proposals point at.
    raw_by_unit: dict[tuple[str, int], set[int]] = defaultdict(set)
    exchange: dict[int, tuple[str, int]] = {}
    for mid, cid in _rows(
        session, select(ExchangeMessage.id, ExchangeMessage.case_id), ExchangeMessage.case_id,
        case_ids,
    ):  # fmt: skip
        exchange[mid] = unit_of[cid]
    for pid, cid, mid in _rows(
        session, select(Proposal.id, Proposal.case_id, Proposal.message_id), Proposal.case_id,
        case_ids,
    ):  # fmt: skip
        plan.add(Proposal, unit_of[cid], [pid])
        exchange.setdefault(mid, unit_of[cid])
    for pid, mid in _rows(
        session, select(Proposal.id, Proposal.message_id), Proposal.message_id, sorted(exchange)
    ):
        plan.add(Proposal, exchange[mid], [pid])
    wires: dict[str, tuple[str, int]] = {}
    for mid, direction, wire in _rows(
        session,
        select(ExchangeMessage.id, ExchangeMessage.direction, ExchangeMessage.wire),
        ExchangeMessage.id,
        sorted(exchange),
    ):
        plan.add(ExchangeMessage, exchange[mid], [mid])
        if direction == "in" and wire:  # an inbound mail's bytes are a raw message too
            wires[hashlib.sha256(bytes(wire)).hexdigest()] = exchange[mid]
    for raw_id, sha in _rows(
        session, select(RawMessage.id, RawMessage.sha256), RawMessage.sha256, sorted(wires)
    ):
        raw_by_unit[wires[sha]].add(raw_id)
    for raw_id, cid in _rows(
        session, select(RawMessage.id, RawMessage.case_id), RawMessage.case_id, case_ids
    ):
        raw_by_unit[unit_of[cid]].add(raw_id)
    for rid, _cid, raw_id in referrals:
        if raw_id is not None:
            raw_by_unit[referral_unit[rid]].add(raw_id)
    _plan_raw(
        session,
        plan,
        {raw_id: u for u, raw_ids in raw_by_unit.items() for raw_id in raw_ids},
        keep_referrals=set(referral_unit),
    )
    _plan_matches(session, plan, refs)


def _plan_referrals(session: Session, plan: _Plan, items: list[Item]) -> None:
    refs: dict[str, tuple[str, int]] = {}
    raw: dict[int, tuple[str, int]] = {}
    ids = [item.subject_id for item in items]
    for rid, raw_id in _rows(session, select(Referral.id, Referral.raw_id), Referral.id, ids):
        u = (Subject.REFERRAL, rid)
        plan.add(Referral, u, [rid])
        refs[f"referral:{rid}"] = u
        if raw_id is not None:
            raw[raw_id] = u
        # A printed letter belongs to a case; one naming this referral only loses the link.
        plan.unlink_letters[u].add(rid)
    _plan_raw(session, plan, raw, keep_referrals=set(ids))
    _plan_matches(session, plan, refs)


def _plan_raw(
    session: Session,
    plan: _Plan,
    units: dict[int, tuple[str, int]],
    *,
    keep_referrals: set[int] | None = None,
) -> None:
    """Raw messages (raw id -> its unit), with their quarantine entries, refused-exchange
    records and dispatch jobs; one another referral still uses stays, unlinked from the case."""
    if not units:
        return
    raw_ids = sorted(units)
    mine = keep_referrals or set()
    used = {
        raw_id
        for rid, raw_id in _rows(
            session, select(Referral.id, Referral.raw_id), Referral.raw_id, raw_ids
        )
        if rid not in mine
    }
    stmt: Any = select(
        RawMessage.id, RawMessage.sha256, RawMessage.segment, RawMessage.offset,
        RawMessage.encrypted,
    )  # fmt: skip
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # a rotation moving a plaintext record waits, or wins
    gone = [r for r in _rows(session, stmt, RawMessage.id, raw_ids) if r.id not in used]
    for raw_id in used:
        plan.unlink_raw[units[raw_id]].add(raw_id)
    by_sha: dict[str, tuple[str, int]] = {}
    for r in gone:
        unit = units[int(r.id)]
        plan.raw[int(r.id)] = (unit, r.sha256, r.segment, int(r.offset), bool(r.encrypted))
        plan.add(RawMessage, unit, [r.id])
        by_sha[r.sha256] = unit
    ids = [int(r.id) for r in gone]
    for qid, raw_id in _rows(
        session, select(QuarantineEntry.id, QuarantineEntry.raw_id), QuarantineEntry.raw_id, ids
    ):
        plan.add(QuarantineEntry, units[raw_id], [qid])
    for qid, ref in _rows(
        session,
        select(QuarantinedMessage.id, QuarantinedMessage.raw_ref),
        QuarantinedMessage.raw_ref,
        [f"raw:{i}" for i in ids],
    ):
        plan.add(QuarantinedMessage, units[int(ref.removeprefix("raw:"))], [qid])
    for jid, key in _rows(
        session,
        select(Job.id, Job.key).where(Job.kind == rawstore.DISPATCH_JOB),
        Job.key,
        sorted(by_sha),
    ):
        plan.add(Job, by_sha[key], [jid])


def _plan_matches(session: Session, plan: _Plan, refs: dict[str, tuple[str, int]]) -> None:
    names = sorted(refs)
    for model in (MatchCandidate, MatchDecision):
        for row_id, query_ref, target_ref in _rows(
            session, select(model.id, model.query_ref, model.target_ref), model.query_ref, names
        ) + _rows(
            session, select(model.id, model.query_ref, model.target_ref), model.target_ref, names
        ):
            plan.add(model, refs.get(query_ref) or refs[target_ref], [row_id])


def _execute(session: Session, plan: _Plan, result: _BatchResult) -> None:
    result.plaintext += sum(1 for *_, enc in plan.raw.values() if not enc)
    # Every disposed place is noted, plaintext ones too: a rotation then knows the record
    # in a plaintext segment is accounted for, and the segment can go.
    places = [(rid, seg, off) for rid, (_u, _sha, seg, off, _enc) in sorted(plan.raw.items())]
    rawstore.shred(session.connection(), places)
    for chunk in chunks(sorted({i for ids in plan.unlink_raw.values() for i in ids})):
        session.execute(update(RawMessage).where(RawMessage.id.in_(chunk)).values(case_id=None))
    for chunk in chunks(sorted({i for ids in plan.unlink_letters.values() for i in ids})):
        session.execute(
            update(PrintedLetter)
            .where(PrintedLetter.referral_id.in_(chunk))
            .values(referral_id=None)
        )
    case_ids = plan.ids(Case)
    for chunk in chunks(case_ids):
        session.execute(update(Case).where(Case.id.in_(chunk)).values(merged_into_id=None))
    for model in _ORDER:
        ids = plan.ids(model)
        for chunk in chunks(ids):
            session.execute(delete(model).where(model.id.in_(chunk)))
    session.expire_all()


def run_if_due(engine: Engine, settings: Settings, now: datetime) -> RunReport | None:
    """The daily job: the first tick of each local day runs the disposal."""
    today = local_today(settings, now)
    if _last_run and _last_run[-1] >= today:
        return None
    _last_run[:] = [today]
    return run(engine, settings, now=now)


_last_run: list[date] = []


@jobs.periodic("retention")
def daily_disposal(engine: Engine, settings: Settings, now: datetime) -> None:
    """Dispose of closed cases, dismissed referrals and quarantined messages past their
    retention (config [retention]), once a day; lost-pupil files have their own job."""
    run_if_due(engine, settings, now)
