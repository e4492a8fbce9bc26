"""Intake: messages/s durably stored over SMTP (4 connections) beside the floor of a bare
aiosmtpd handler that only writes and fsyncs each message to a file, measured in the same
run on the same disk; then dispatch, SMTP to case: labelled referrals sent over SMTP to a
listener with one job worker beside it (as `cme run` has them) on SQLite, timed until every
one is a case or in triage, beside that floor; and dispatch alone on PostgreSQL with one,
two and four worker processes sharing the job table (SKIP LOCKED), beside the one-worker
figure of the same run."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import smtplib
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.db import make_engine, migrate, session_scope
from gateway.intake import dispatch  # noqa: F401  (registers the dispatch job)
from gateway.intake.dispatch import DISPATCH_BATCH
from gateway.intake.rawstore import Arrival, RawStore
from gateway.intake.smtp import SmtpListener
from gateway.models.intake import IntakeChannel, RawMessage
from gateway.settings import load_settings
from tests.fixtures import mail
from tests.support.dovecot import free_port
from tests.support.postgres import Unavailable, start_cluster

N = int(os.environ.get("BENCH_INTAKE_MESSAGES", "2000"))
DISPATCH_N = int(os.environ.get("BENCH_DISPATCH_MESSAGES", "300"))
PG_WORKERS = (1, 2, 4)
CONNECTIONS = 4
ROUNDS = int(os.environ.get("BENCH_INTAKE_ROUNDS", "5"))
BODY = 8_900  # bytes, as in FIELD-NOTES' floor measurement


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "intake", **fields}), flush=True)


class FsyncHandler:
    """The floor: write each message to its own file and fsync it, off the event loop."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _write(self, data: bytes) -> None:
        with open(self.folder / uuid.uuid4().hex, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.get_running_loop().run_in_executor(None, self._write, envelope.content)
        return "250 OK"


def _client(port: int, chunk: list[bytes], ready: Any, go: Any) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        ready.release()
        go.wait()
        for data in chunk:
            smtp.sendmail("bench@school-807.example", [mail.INBOX], data)


def blast(port: int, payloads: list[bytes]) -> float:
    """Clients in their own processes (as real senders are), so they do not share the
    server's interpreter lock; timed from the common start to the last 250."""
    ctx = multiprocessing.get_context("fork")
    ready, go = ctx.Semaphore(0), ctx.Event()
    chunks = [payloads[i::CONNECTIONS] for i in range(CONNECTIONS)]
    procs = [ctx.Process(target=_client, args=(port, c, ready, go)) for c in chunks]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a bench client failed (exit {p.exitcode})")
    return len(payloads) / (time.perf_counter() - started)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="cme-bench-intake-", dir=os.environ.get("BENCH_DIR")))
    per_round = max(N // ROUNDS, 1)
    warm = [mail.referral(900_000 + n, size=BODY) for n in range(100)]

    floor_dir = work / "floor"
    floor_dir.mkdir()
    controller = Controller(FsyncHandler(floor_dir), hostname="127.0.0.1", port=free_port(),
                            data_size_limit=30_000_000, enable_SMTPUTF8=True)  # fmt: skip
    controller.start()
    home = work / "home"
    settings = load_settings(
        {"CME_HOME": str(home), "CME_SMTP_MAX_MESSAGES_PER_MINUTE_PER_PEER": "0"}
    )
    engine = make_engine(f"sqlite:///{home / 'cme.db'}")
    migrate(engine)
    store = RawStore(home, engine)
    listener = SmtpListener(settings, store, port=0)
    _, port = listener.start()
    blast(controller.port, warm)
    blast(port, warm)
    # Alternate floor and ours round by round: the machine's load drifts, and each pair is
    # measured under the same conditions; the medians are reported.
    floors, ours = [], []
    for r in range(ROUNDS):
        payloads = [mail.referral(r * per_round + n, size=BODY) for n in range(per_round)]
        floors.append(blast(controller.port, payloads))
        ours.append(blast(port, payloads))
    controller.stop()
    listener.stop(grace=1)
    store.close()
    engine.dispose()
    floor, mine = statistics.median(floors), statistics.median(ours)
    emit(figure="smtp_stored_messages_per_s", value=round(mine, 1), floor=round(floor, 1),
         ratio=round(mine / floor, 3), goal_ratio=0.8, connections=CONNECTIONS,
         message_bytes=len(warm[0]), messages=per_round * ROUNDS, rounds=ROUNDS,
         pair_ratios=[round(o / f, 2) for o, f in zip(ours, floors, strict=True)],
         engine="sqlite")  # fmt: skip

    # One worker with its parser process beside it (as `cme run` has it), then the same
    # worker parsing in its own thread: the parser process's share, in the same run.
    for processes in (1, 0):
        smtp_to_case(work / f"e2e-{processes}", floor, parser_processes=processes)
    postgres_workers(work / "pg", floor)


def _dispatched(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(RawMessage).where(RawMessage.status != "stored")
            ).scalar_one()
        )


def _wait_dispatched(engine: Any, count: int) -> float:
    """Wait (on the database's state, with a generous limit) until `count` rows are done."""
    deadline = time.monotonic() + 1800
    while _dispatched(engine) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("dispatch made no progress for 30 minutes")
        time.sleep(0.02)
    return time.perf_counter()


class _Writes:
    """ORM flushes and the rows they insert, counted during a run (the cost per referral)."""

    def __init__(self) -> None:
        self.flushes = 0
        self.rows = 0
        event.listen(Session, "after_flush", self._after_flush)

    def _after_flush(self, session: Session, _context: Any) -> None:
        self.flushes += 1
        self.rows += len(session.new)

    def close(self) -> None:
        event.remove(Session, "after_flush", self._after_flush)


def _children_cpu() -> float:
    """CPU seconds of this process's running multiprocessing children (the parser
    processes: the senders have finished when it is read), from /proc; 0.0 elsewhere."""
    total = 0.0
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def smtp_to_case(home: Path, floor: float, *, parser_processes: int) -> None:
    """SMTP in, one worker dispatching beside the listener (woken by each index commit),
    timed from the first message sent to the last one dispatched."""
    settings = load_settings(
        {"CME_HOME": str(home), "CME_SMTP_MAX_MESSAGES_PER_MINUTE_PER_PEER": "0",
         "CME_JOBS_PARSER_PROCESSES": str(parser_processes)}
    )  # fmt: skip
    engine = make_engine(f"sqlite:///{home / 'cme.db'}")
    migrate(engine)
    store = RawStore(home, engine)
    listener = SmtpListener(settings, store, port=0)
    _, port = listener.start()
    stop = threading.Event()
    worker = threading.Thread(target=jobs.run_worker, args=(engine, settings, stop), daemon=True)
    worker.start()
    warm = [mail.referral(800_000 + n, size=BODY) for n in range(50)]
    blast(port, warm)
    _wait_dispatched(engine, len(warm))
    payloads = [mail.referral(700_000 + n, size=BODY) for n in range(DISPATCH_N)]
    writes = _Writes()
    cpu = time.process_time()  # this process: listener, indexer and worker (not the senders)
    parsers = _children_cpu()
    started = time.perf_counter()
    blast(port, payloads)
    finished = _wait_dispatched(engine, len(warm) + DISPATCH_N)
    cpu = time.process_time() - cpu
    parsers = _children_cpu() - parsers
    writes.close()
    stop.set()
    jobs.notify()
    worker.join(timeout=60)
    listener.stop(grace=1)
    store.close()
    with session_scope(engine) as session:
        outcomes = Counter(session.execute(select(RawMessage.outcome)).scalars())
    rate = DISPATCH_N / (finished - started)
    emit(figure="dispatch_smtp_to_case_per_s", value=round(rate, 1), floor=round(floor, 1),
         ratio=round(rate / floor, 3), goal=150, workers=1, connections=CONNECTIONS,
         messages=DISPATCH_N, message_bytes=len(payloads[0]),
         cpu_ms_per_referral=round(cpu / DISPATCH_N * 1000, 2),
         parser_processes=parser_processes,
         parser_cpu_ms_per_referral=round(parsers / DISPATCH_N * 1000, 2),
         flushes_per_referral=round(writes.flushes / DISPATCH_N, 1),
         orm_rows_per_referral=round(writes.rows / DISPATCH_N, 1),
         batch=DISPATCH_BATCH, outcomes=dict(outcomes), engine="sqlite")  # fmt: skip
    engine.dispose()


def _pg_worker(url: str, home: str, go: Any) -> None:
    from gateway.home import _engine_for

    _engine_for.cache_clear()
    engine = make_engine(url)
    settings = load_settings({"CME_HOME": home})
    go.wait()
    while jobs.drain(engine, settings):
        pass
    engine.dispose()


def postgres_workers(work: Path, floor: float) -> None:
    """The same referrals stored in PostgreSQL, then dispatched by 1, 2 and 4 worker
    processes (fresh database each); timed from the start to the last one dispatched."""
    try:
        cluster = start_cluster()
    except Unavailable as exc:
        emit(figure="dispatch_postgres_per_s", skipped=f"PostgreSQL unavailable: {exc}")
        return
    try:
        admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        rates: dict[int, float] = {}
        cpus: dict[int, float] = {}  # the workers' own CPU (not PostgreSQL's)
        for workers in PG_WORKERS:
            name = f"bench_dispatch_{workers}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = cluster.url_for(name)
            home = work / name
            engine = make_engine(url)
            migrate(engine)
            store = RawStore(home, engine)
            arrival = Arrival(channel=IntakeChannel.SMTP, mail_from="bench@school-807.example",
                              rcpt_tos=(mail.INBOX,), peer="127.0.0.1")  # fmt: skip
            futures = [
                store.submit(mail.referral(600_000 + n, size=BODY), arrival)
                for n in range(DISPATCH_N)
            ]
            for future in futures:
                future.result()
            store.close()
            ctx = multiprocessing.get_context("fork")
            go = ctx.Event()
            engine.dispose()  # no pooled connection crosses the fork
            procs = [
                ctx.Process(target=_pg_worker, args=(url, str(home), go)) for _ in range(workers)
            ]
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            for proc in procs:
                proc.start()
            started = time.perf_counter()
            go.set()
            for proc in procs:
                proc.join()
                if proc.exitcode != 0:
                    raise RuntimeError(f"a bench worker failed (exit {proc.exitcode})")
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[workers] = (after.ru_utime + after.ru_stime) - (
                children.ru_utime + children.ru_stime
            )
            if _dispatched(engine) != DISPATCH_N:
                raise RuntimeError("the workers stopped before every message was dispatched")
            engine.dispose()
            rates[workers] = DISPATCH_N / elapsed
        one = rates[PG_WORKERS[0]]
        for workers, rate in rates.items():
            emit(figure="dispatch_postgres_per_s", value=round(rate, 1), workers=workers,
                 vs_one_worker=round(rate / one, 2), smtp_floor=round(floor, 1),
                 worker_cpu_ms_per_referral=round(cpus[workers] / DISPATCH_N * 1000, 2),
                 messages=DISPATCH_N, batch=DISPATCH_BATCH, engine="postgresql",
                 # Workers and the PostgreSQL server share these cores: past the count,
                 # more workers only take turns (their CPU per referral rises instead).
                 cores=os.cpu_count())  # fmt: skip
        admin.dispose()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
