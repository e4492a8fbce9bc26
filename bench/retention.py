"""Retention: one disposal run over 50,000 closed cases holding 200,000 raw messages (four a
case), on SQLite and on PostgreSQL when one can be started: wall time and peak memory.

The cases, children, referrals, timelines and tasks are bulk-inserted rows; the raw
messages go through the real raw store writer in batches, so each is sealed under its own
data key and disposal really shreds 200,000 keys. About one case in ten is kept: a flag
(looked after, child protection) keeps it to a later birthday, or a legal hold. The run is
measured in a process of its own (its peak RSS, and its RSS once the imports and the
engine are in), after the preview of the same day is timed there too. The SMTP intake
ratio before and after encryption is bench/intake.py's.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

N_CASES = int(os.environ.get("BENCH_RETENTION_CASES", "50000"))
N_RAW = int(os.environ.get("BENCH_RETENTION_RAW", str(4 * N_CASES)))
RAW_BATCH = 2000
#: The day of the run: every unflagged child is past 25, no flagged one past 35 or 75.
ON = datetime(2031, 6, 2, 9, 0, tzinfo=UTC)


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "retention", **fields}), flush=True)


def _rss_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not carried over from
    the parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def seed(settings: Any, engine: Any, rng: random.Random) -> dict[str, int]:
    from sqlalchemy import insert, text

    from gateway.db import session_scope
    from gateway.intake.rawstore import Arrival, RawStore
    from gateway.models.case import Case, Task, TimelineEntry
    from gateway.models.child import Child, ChildAddress
    from gateway.models.intake import IntakeChannel
    from gateway.models.referral import Referral

    children, cases, referrals, addresses, timeline, tasks = [], [], [], [], [], []
    kept = 0
    for i in range(1, N_CASES + 1):
        dob = date(1997, 1, 1) + timedelta(days=rng.randrange(0, 365 * 8))  # 1997-2004
        closed = datetime(2016, 1, 4, tzinfo=UTC) + timedelta(days=rng.randrange(0, 1500))
        # Kept past the run's day: looked after (75th birthday), child protection (35th).
        flags = rng.choice([{}] * 18 + [{"looked_after": True}, {"child_protection": True}])
        hold = i % 100 == 0
        kept += bool(flags) or hold
        children.append({"id": i, "forenames": f"Forename{i}", "surname": f"Surname{i}",
                         "dob": dob, "sex": rng.choice("MF"), "other_names": [],
                         "former_upns": [], "languages": [],
                         "interpreter_needed": False})  # fmt: skip
        cases.append({"id": i, "child_id": i, "status": "closed", "escalations": {},
                      "opened_on": closed.date() - timedelta(days=60), "closed_at": closed,
                      "outcome": "on_roll_this_la", "version": 1, "urgency_rank": 0,
                      "legal_hold": hold, "hold_reason": "bench" if hold else None})  # fmt: skip
        referrals.append({"id": i, "case_id": i, "channel": "email",
                          "received_on": closed.date() - timedelta(days=60), "urgency": "routine",
                          "flags": flags, "actions_taken": [], "gaps": [], "details": {},
                          "anonymous": False, "triage_status": "opened", "created_by": "bench",
                          "referrer_email": f"school{i % 300}@example.org"})  # fmt: skip
        addresses.append({"child_id": i, "line1": f"{1 + i % 200} Synthetic Street",
                          "town": "Redcar", "postcode": f"TS{10 + i % 9} 1AB",
                          "source": "r"})  # fmt: skip
        timeline.append({"case_id": i, "kind": "referral", "summary": "Referral received",
                         "actor": "bench", "at": closed - timedelta(days=60),
                         "unread": False})  # fmt: skip
        tasks.append({"case_id": i, "kind": "progress_update", "status": "done", "detail": {},
                      "due": closed.date() - timedelta(days=50)})  # fmt: skip
    started = time.perf_counter()
    with session_scope(engine) as session:
        for model, rows in ((Child, children), (Case, cases), (Referral, referrals),
                            (ChildAddress, addresses), (TimelineEntry, timeline),
                            (Task, tasks)):  # fmt: skip
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start : start + 5000])
    emit(
        figure="seed_rows_s",
        engine=engine.dialect.name,
        value=round(time.perf_counter() - started, 1),
    )

    started = time.perf_counter()
    store = RawStore(settings.home, engine)
    arrival = Arrival(IntakeChannel.SMTP, "attendance@school-807.example")
    for start in range(0, N_RAW, RAW_BATCH):
        futures = [
            store.submit(
                f"From: a@school-807.example\r\nMessage-ID: <bench-{n}@x>\r\nSubject: r\r\n\r\n"
                f"Child: Forename{1 + n // 4} Surname{1 + n // 4}\r\n".encode(),
                arrival,
            )
            for n in range(start, min(start + RAW_BATCH, N_RAW))
        ]
        for f in futures:
            f.result()
    store.close()
    emit(figure="seed_raw_messages_per_s", engine=engine.dialect.name,
         value=round(N_RAW / (time.perf_counter() - started), 1), messages=N_RAW)  # fmt: skip
    with engine.begin() as conn:
        first = conn.execute(text("SELECT MIN(id) FROM raw_messages")).scalar_one()
        conn.execute(text("UPDATE raw_messages SET case_id = (id - :f) / 4 + 1"), {"f": first})
        conn.execute(text("UPDATE jobs SET status = 'done'"))
    return {"kept": kept}


def measure(home: str, url: str) -> None:
    """The child process: preview, then the run, each timed; peak RSS of this process."""
    os.environ["CME_HOME"] = home
    os.environ["CME_DATABASE_URL"] = url
    import time_machine

    from gateway.db import session_scope
    from gateway.home import open_engine
    from gateway.retention import dispose
    from gateway.settings import load_settings

    settings = load_settings()
    engine = open_engine(settings)
    before = _rss_mb()
    with time_machine.travel(ON, tick=True):
        started = time.perf_counter()
        with session_scope(engine) as session:
            items = dispose.preview(session, settings, dispose.local_today(settings, ON))
        preview_s = time.perf_counter() - started
        started = time.perf_counter()
        report = dispose.run(engine, settings)
        run_s = time.perf_counter() - started
    print(json.dumps({"preview_s": round(preview_s, 2), "items": len(items),
                      "run_s": round(run_s, 2), "rss_start_mb": before,
                      "rss_peak_mb": _rss_mb(), "report": report.as_dict()}))  # fmt: skip


def run_home(url: str | None, label: str) -> None:
    from sqlalchemy import func, select

    from gateway.db import make_engine, session_scope
    from gateway.home import init_home
    from gateway.models.case import Case
    from gateway.models.rawkeys import RawMessageKey
    from gateway.settings import load_settings

    with tempfile.TemporaryDirectory(
        prefix="cme-bench-retention-", dir=os.environ.get("BENCH_DIR")
    ) as tmp:
        home = Path(tmp) / "home"
        os.environ["CME_HOME"] = str(home)
        if url:
            os.environ["CME_DATABASE_URL"] = url
        settings = load_settings()
        init_home(settings)
        url = url or f"sqlite:///{home / 'cme.db'}"
        engine = make_engine(url)
        seeded = seed(settings, engine, random.Random(16))
        engine.dispose()
        out = subprocess.run(
            [sys.executable, "-m", "bench.retention", "measure", str(home), url],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
        engine = make_engine(url)
        with session_scope(engine) as session:
            cases_left = session.execute(select(func.count(Case.id))).scalar_one()
            keys_left = session.execute(
                select(func.count()).select_from(RawMessageKey)
            ).scalar_one()
        engine.dispose()
        report = result["report"]
        emit(figure="retention_run_s", engine=label, value=result["run_s"], cases=N_CASES,
             raw_messages=N_RAW, disposed=report["disposed"].get("case", 0),
             held=report["held"], raw_keys_shredded=report["counts"].get("raw_keys_shredded", 0),
             cases_left=cases_left, keys_left=keys_left, expected_kept=seeded["kept"],
             deferred=report["deferred"])  # fmt: skip
        emit(figure="retention_preview_s", engine=label, value=result["preview_s"],
             items=result["items"])  # fmt: skip
        emit(figure="retention_peak_rss_mb", engine=label, value=result["rss_peak_mb"],
             at_start_mb=result["rss_start_mb"])  # fmt: skip
        os.environ.pop("CME_DATABASE_URL", None)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "measure":
        measure(sys.argv[2], sys.argv[3])
        return
    run_home(None, "sqlite")
    from tests.support.postgres import Unavailable, start_cluster

    try:
        cluster = start_cluster()
    except Unavailable as exc:
        emit(figure="postgresql", skipped=str(exc))
        return
    try:
        run_home(cluster.url, "postgresql")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
