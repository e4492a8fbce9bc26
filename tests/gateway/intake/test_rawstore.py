"""The raw store: durable, exact, deduplicated, and recoverable after a crash."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.intake.rawstore import _PREFIX, MAGIC, Arrival, RawStore, header_message_id
from gateway.models.intake import IntakeChannel, RawMessage
from gateway.models.ops import Job
from tests.fixtures import mail


def _rows(engine: Engine) -> list[RawMessage]:
    with Session(engine) as s:
        return list(s.execute(select(RawMessage).order_by(RawMessage.id)).scalars())


def test_bytes_come_back_exactly_with_envelope_and_a_dispatch_job(
    store: RawStore, engine: Engine
) -> None:
    data = mail.referral(1) + b"\x00\xff 8-bit \xe9\r\n"
    arrival = Arrival(IntakeChannel.SMTP, "a@school-807.example", ("cme@x.example",), "10.0.0.7")
    stored = store.store(data, arrival)
    assert not stored.duplicate
    (row,) = _rows(engine)
    assert row.sha256 == hashlib.sha256(data).hexdigest() == stored.sha256
    assert store.read(row) == data
    assert (row.envelope_from, row.envelope_to, row.peer) == (
        "a@school-807.example",
        ["cme@x.example"],
        "10.0.0.7",
    )
    assert row.message_id == "<referral-1@school-807.example>"
    with Session(engine) as s:
        job = s.execute(select(Job)).scalar_one()
    assert job.kind == "intake.dispatch" and job.payload == {"raw_id": row.id}


def test_same_bytes_are_stored_once_other_bytes_same_message_id_flagged(
    store: RawStore, engine: Engine
) -> None:
    a = mail.referral(1)
    first = store.store(a, Arrival(IntakeChannel.SMTP))
    again = store.store(a, Arrival(IntakeChannel.IMAP))
    assert again.duplicate and again.raw_id == first.raw_id
    altered = a.replace(b"Ava", b"Eva")
    other = store.store(altered, Arrival(IntakeChannel.SMTP))
    assert not other.duplicate and other.message_id_repeat
    assert [r.message_id_repeat for r in _rows(engine)] == [False, True]


def test_concurrent_submissions_are_grouped_and_all_durable(
    store: RawStore, engine: Engine
) -> None:
    futures = [store.submit(mail.referral(n), Arrival(IntakeChannel.SMTP)) for n in range(60)]
    futures += [store.submit(mail.referral(3), Arrival(IntakeChannel.SMTP)) for _ in range(5)]
    results = [f.result(timeout=30) for f in futures]
    assert len({r.raw_id for r in results}) == 60
    with Session(engine) as s:
        assert s.execute(select(func.count(RawMessage.id))).scalar_one() == 60


def test_durable_only_submissions_are_indexed_once_each_with_one_job(
    store: RawStore, engine: Engine
) -> None:
    # SMTP's path: the sender has its 250 once the bytes are fsync'd; the rows follow in
    # lingering group commits. Repeats land in other fsync batches and still count once.
    durable = []
    for n in range(40):
        durable.append(store.submit_durable(mail.referral(n), Arrival(IntakeChannel.SMTP)))
        if n % 10 == 9:
            durable.append(store.submit_durable(mail.referral(0), Arrival(IntakeChannel.SMTP)))
    shas = [f.result(timeout=30) for f in durable]
    assert shas[10] == hashlib.sha256(mail.referral(0)).hexdigest()
    # An urgent store behind them is answered with its row, not left to linger.
    assert not store.store(mail.referral(99), Arrival(IntakeChannel.FILE)).duplicate
    store.close()
    with Session(engine) as s:
        assert s.execute(select(func.count(RawMessage.id))).scalar_one() == 41
        jobs = s.execute(select(Job.key)).scalars().all()
    assert len(jobs) == len(set(jobs)) == 41


def test_recover_indexes_records_a_crashed_writer_fsynced_and_drops_a_torn_tail(
    store: RawStore, engine: Engine
) -> None:
    segment = store.dir / "20260101T000000-1-dead.seg"
    records = b""
    bodies = [mail.referral(n) for n in (7, 8)]
    for body in bodies:
        header = json.dumps(
            {
                "sha256": hashlib.sha256(body).hexdigest(),
                "arrival": Arrival(IntakeChannel.SMTP, "x@school-805.example").to_json(),
            }
        ).encode()
        records += _PREFIX.pack(MAGIC, len(header), len(body)) + header + body
    complete = len(records)
    segment.write_bytes(records + _PREFIX.pack(MAGIC, 10, 999) + b"{torn")
    assert store.recover() == 2
    assert segment.stat().st_size == complete
    rows = _rows(engine)
    assert [store.read(r) for r in rows] == bodies
    assert rows[0].envelope_from == "x@school-805.example"
    assert store.recover() == 0  # sealed now: nothing twice


def test_message_id_read_from_folded_header_without_a_full_parse() -> None:
    assert (
        header_message_id(b"Subject: x\r\nMessage-ID:\r\n <a@b>\r\n\r\nMessage-ID: <no>") == "<a@b>"
    )
    assert header_message_id(b"no headers at all") is None
