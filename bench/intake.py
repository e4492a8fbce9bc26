"""Intake: messages/s durably stored over SMTP (4 connections) beside the floor of a bare
aiosmtpd handler that only writes and fsyncs each message to a file, measured in the same
run on the same disk; and the dispatch rate from raw message to outcome."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import smtplib
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from gateway import jobs
from gateway.db import make_engine, migrate, session_scope
from gateway.intake import dispatch  # noqa: F401  (registers the dispatch job)
from gateway.intake.rawstore import RawStore
from gateway.intake.smtp import SmtpListener
from gateway.models.intake import RawMessage
from gateway.settings import load_settings
from tests.fixtures import mail
from tests.support.dovecot import free_port

N = int(os.environ.get("BENCH_INTAKE_MESSAGES", "2000"))
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
    floor, mine = statistics.median(floors), statistics.median(ours)
    emit(figure="smtp_stored_messages_per_s", value=round(mine, 1), floor=round(floor, 1),
         ratio=round(mine / floor, 3), goal_ratio=0.8, connections=CONNECTIONS,
         message_bytes=len(warm[0]), messages=per_round * ROUNDS, rounds=ROUNDS,
         pair_ratios=[round(o / f, 2) for o, f in zip(ours, floors, strict=True)],
         engine="sqlite")  # fmt: skip

    started = time.perf_counter()
    ran = jobs.drain(engine, settings, limit=10 * N)
    elapsed = time.perf_counter() - started
    with session_scope(engine) as session:
        outcomes = Counter(session.execute(select(RawMessage.outcome)).scalars())
    emit(figure="dispatch_messages_per_s", value=round(ran / elapsed, 1), jobs=ran,
         outcomes=dict(outcomes), engine="sqlite")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
