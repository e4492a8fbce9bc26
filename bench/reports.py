"""Each report over a council's year: 50,000 cases with a year of history (referrals, status
moves, allocations, escalations, closures, tasks, monitoring, a few hundred exchange
messages), bulk-inserted, on SQLite and PostgreSQL. Wall time and peak Python memory per
report, each built and written as a council would take it (the lists as CSV, the DfE return
as CSV, the briefing as a PDF). Goal (issue 15): the briefing PDF under 5 s, every other
report under 1 s.

Wall time is what the goal is about; beside it each figure gives the CPU seconds of this
process (`cpu_s`, which includes SQLite's work) and of the PostgreSQL backend (`server_cpu_s`)
and the load average, since on a shared machine the wall time says as much about the other
processes as about the report. BENCH_REPORTS_CASES, _MESSAGES, _ENGINES and _RUNS shrink or
narrow a run (for profiling).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

N_CASES = int(os.environ.get("BENCH_REPORTS_CASES", "50000"))
N_MESSAGES = int(os.environ.get("BENCH_REPORTS_MESSAGES", "400"))
ENGINES = os.environ.get("BENCH_REPORTS_ENGINES", "sqlite,postgresql").split(",")
#: Timed runs per report (best, median and worst are given: a shared machine is noisy).
RUNS = int(os.environ.get("BENCH_REPORTS_RUNS", "3"))
TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
GOALS = {"briefing_pdf": 5.0}
GOAL_OTHER = 1.0
OFFICERS = [f"officer{i}" for i in range(8)]
REASONS = [
    "Moved, destination unknown",
    "Not seen since half term, unable to contact family",
    "Removed from roll after 20 days' absence following joint enquiries",
    "Left the country during the school holidays",
    "Excluded without alternative provision",
    "Moved into the area, no school place",
    "Did not take up the offered place",
    "Family moved out; new address not confirmed",
    "Not on roll at any school",
    "Home education found unsuitable",
    "Concerns raised by the health visitor",
    None,
]
CHANNELS = ["email"] * 5 + ["form"] * 2 + ["phone", "other_la", "lost_pupil_file",
                                            "school_deletion_return"]  # fmt: skip


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "reports", **fields}), flush=True)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def seed(engine: Any, rng: random.Random) -> dict[str, int]:
    """The year, bulk-inserted: no ORM object per row."""
    from sqlalchemy import insert

    from gateway.cases.workflow import load_workflow
    from gateway.db import session_scope
    from gateway.models.case import Case, Task, TimelineEntry
    from gateway.models.casework import CaseStep
    from gateway.models.child import Child
    from gateway.models.exchange import ExchangeMessage, ExchangePartner, Monitoring
    from gateway.models.referral import Referral
    from gateway.models.users import User

    words = load_workflow().statuses
    tables: dict[Any, list[dict[str, Any]]] = {
        m: [] for m in (Child, Case, Referral, TimelineEntry, Task, CaseStep, Monitoring)
    }
    step_id = 0

    def entry(case_id: int, day: date, kind: str, summary: str, ref: str | None = None) -> None:
        tables[TimelineEntry].append({"case_id": case_id, "at": _at(day, 9 + rng.randrange(8)),
                                      "kind": kind, "summary": summary, "ref": ref,
                                      "actor": "bench", "unread": False})  # fmt: skip

    for i in range(1, N_CASES + 1):
        opened = TODAY - timedelta(days=rng.randrange(0, 365))
        case: dict[str, Any] = {"id": i, "child_id": i, "status": "logged", "escalations": {},
                                "opened_on": opened, "version": 1,
                                "allocated_to": rng.choice([*OFFICERS, None])}  # fmt: skip
        tables[Child].append({"id": i, "forenames": f"Child{i}", "surname": f"Bench{i % 997}",
                              "dob": date(2010, 9, 1) + timedelta(days=rng.randrange(365 * 11)),
                              "sex": rng.choice("MF"), "year_group": rng.choice([None, "5", "9"]),
                              "other_names": [], "former_upns": [], "languages": [],
                              "interpreter_needed": False})  # fmt: skip
        urgency = rng.choices(["routine", "urgent", "safeguarding"], [80, 15, 5])[0]
        tables[Referral].append({"case_id": i, "channel": rng.choice(CHANNELS),
                                 "received_on": opened, "reason": rng.choice(REASONS),
                                 "urgency": urgency,
                                 "flags": {"social_care": True} if rng.random() < 0.05 else {},
                                 "actions_taken": [], "gaps": [], "details": {},
                                 "anonymous": False, "triage_status": "opened",
                                 "created_by": "bench"})  # fmt: skip
        entry(i, opened, "referral", "Referral received by email", f"referral:{i}")
        # A path through the process, cut off at today.
        path = rng.choices(
            [["locating", "assessing_needs", "securing_place", "closed:on_roll_this_la"],
             ["locating", "whereabouts_unknown_tracking"],
             ["checking_status", "closed:not_cme"],
             ["checking_status", "closed:ehe_notified"],
             ["locating", "moved_out_tracking", "closed:on_roll_other_la"],
             ["locating"], ["checking_status", "securing_place", "placed_monitoring"]],
            [30, 15, 12, 5, 12, 16, 10],
        )[0]  # fmt: skip
        day = opened
        for step in path:
            day += timedelta(days=rng.randrange(1, 40))
            if day > TODAY:
                break
            if step.startswith("closed:"):
                outcome = step.partition(":")[2]
                case.update(status="closed", outcome=outcome, closed_at=_at(day, 15),
                            outcome_detail={"start_date": day.isoformat()}
                            if outcome == "on_roll_this_la" else {"la_code": "806"})  # fmt: skip
                entry(i, day, "closed", f"Closed: {outcome}")
            else:
                case["status"] = step
                entry(i, day, "status", f"Moved to {words[step]}")
                if step == "moved_out_tracking":
                    tables[Monitoring].append({"case_id": i, "partner_la": rng.choice(
                        ["805", "806", "808"]), "status": "active", "started_at": _at(day),
                        "next_check_at": _at(day + timedelta(days=28))})  # fmt: skip
        if case["status"] != "closed":
            tables[Task].append({"case_id": i, "kind": "progress_update", "status": "open",
                                 "detail": {}, "due": opened + timedelta(days=14)})  # fmt: skip
            if rng.random() < 0.05:
                flag = rng.choice(["vemt", "social_care", "police"])
                on = min(TODAY, opened + timedelta(days=rng.randrange(1, 60)))
                step_id += 1
                review = on + timedelta(days=28)
                case["escalations"] = {flag: {"since": _at(on).isoformat(), "by": "bench",
                                              "reason": "Bench concern",
                                              "review": review.isoformat()}}  # fmt: skip
                tables[CaseStep].append({"id": step_id, "case_id": i, "kind": "escalation",
                                         "on": on, "outcome": flag, "note": "Bench concern",
                                         "detail": {"review": review.isoformat()},
                                         "recorded_by": "bench"})  # fmt: skip
                entry(i, on, "escalation", f"Escalated: {flag}", f"step:{step_id}")
                tables[Task].append({"case_id": i, "kind": "escalation_review", "status": "open",
                                     "detail": {}, "due": review})  # fmt: skip
        tables[Case].append(case)
    messages = []
    asked: list[tuple[str, str, datetime]] = []
    for n in range(N_MESSAGES):
        la = rng.choice(["805", "806", "808"])
        when = NOW - timedelta(days=rng.randrange(1, 365), hours=rng.randrange(24))
        if n % 2 == 0 or not asked:
            mid, direction, doc, reply_to = (
                str(uuid.uuid4()),
                rng.choice(["out", "in"]),
                "enquiry",
                None,
            )
            asked.append((mid, direction, when))
        else:
            original, first_direction, sent = asked.pop(rng.randrange(len(asked)))
            mid, doc, reply_to = str(uuid.uuid4()), "reply", original
            direction = "in" if first_direction == "out" else "out"
            when = sent + timedelta(hours=rng.randrange(1, 24 * 10))
        messages.append({"direction": direction, "message_id": mid, "partner_la": la,
                         "doc_type": doc, "in_reply_to": reply_to, "channel": "https",
                         "status": "delivered", "document": b"-", "wire": b"-",
                         "wire_sha256": "0" * 64, "attempts": 0, "created_at": when})  # fmt: skip
    with session_scope(engine) as session:
        users = [{"username": u, "display_name": u.title(), "role": "officer",
                  "password_hash": "!", "active": True} for u in OFFICERS]  # fmt: skip
        session.execute(insert(User), users)
        session.execute(insert(ExchangePartner), [
            {"la_code": la, "name": f"Partner {la}", "email": f"cme@{la}.example",
             "cert_pem": "-", "fingerprint": la * 21 + "f", "not_after": NOW, "active": True}
            for la in ("805", "806", "808")])  # fmt: skip
        for model, rows in tables.items():
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start : start + 5000])
        session.execute(insert(ExchangeMessage), messages)
    # A database in service has its planner statistics; fresh bulk-loaded tables do not yet.
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return {"timeline": len(tables[TimelineEntry]), "messages": len(messages),
            "closed": sum(c["status"] == "closed" for c in tables[Case])}  # fmt: skip


def runs(settings: Any) -> dict[str, Callable[[Any], Any]]:
    from gateway.reports import briefing, briefing_print, caseload, dfe, vemt, vulnerable
    from gateway.reports.terms import term

    autumn = term(settings.reports, "2026-autumn")
    kw = {"actor": "bench", "today": TODAY}
    return {
        "caseload_csv": lambda s: caseload.to_csv(caseload.caseload(s, settings, **kw)),
        "caseload_one_officer_csv": lambda s: caseload.to_csv(
            caseload.caseload(s, settings, officer=OFFICERS[0], **kw)),
        "vulnerable_csv": lambda s: vulnerable.to_csv(vulnerable.vulnerable(s, settings, **kw)),
        "vemt_csv": lambda s: vemt.to_csv(vemt.vemt(s, settings, **kw)),
        "dfe_csv": lambda s: dfe.to_csv(dfe.dfe_return(s, settings, autumn, now=NOW, **kw)),
        "briefing_data": lambda s: briefing.briefing(s, settings, autumn, now=NOW, **kw),
        "briefing_pdf": lambda s: briefing_print.briefing_pdf(
            briefing.briefing(s, settings, autumn, now=NOW, **kw)),
    }  # fmt: skip


def _server_cpu(session: Any) -> float | None:
    """CPU seconds the PostgreSQL backend serving this session has used (from /proc, so only
    when the server runs on this machine and its process can be read); None otherwise. With
    the process's own CPU time it gives the work done, which a loaded machine does not
    inflate the way it inflates wall time."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_engine(url: str, label: str, settings: Any) -> None:
    from gateway.db import make_engine, migrate, session_scope

    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    counts = seed(engine, random.Random(15))
    emit(figure="seed_s", engine=label, value=round(time.perf_counter() - started, 1),
         cases=N_CASES, **counts)  # fmt: skip
    for name, fn in runs(settings).items():
        goal = GOALS.get(name, GOAL_OTHER)
        times, cpu, server = [], [], []
        for _ in range(RUNS):
            started, cpu_started = time.perf_counter(), time.process_time()
            with session_scope(engine) as session:
                server_started = _server_cpu(session)
                out = fn(session)
                server_ended = _server_cpu(session)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            if server_started is not None and server_ended is not None:
                server.append(server_ended - server_started)
        tracemalloc.start()
        with session_scope(engine) as session:
            fn(session)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = len(out) if isinstance(out, bytes | str) else None
        best = min(times)
        emit(figure=f"{name}_s", engine=label, value=round(best, 3),
             median=round(sorted(times)[len(times) // 2], 3), worst=round(max(times), 3),
             cpu_s=round(min(cpu), 3), server_cpu_s=round(min(server), 2) if server else None,
             load_1min=round(os.getloadavg()[0], 1), cpus=os.cpu_count(),
             peak_mib=round(peak / 2**20, 1), output_bytes=size, goal_s=goal,
             within_goal=best < goal, cases=N_CASES)  # fmt: skip
    engine.dispose()


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gateway.settings import load_settings

    settings = load_settings({})
    if "sqlite" in ENGINES:
        with tempfile.TemporaryDirectory(prefix="cme-bench-reports-") as tmp:
            bench_engine(f"sqlite:///{tmp}/reports.db", "sqlite", settings)
    if "postgresql" not in ENGINES:
        return
    from tests.support.postgres import Unavailable, start_cluster

    try:
        cluster = start_cluster()
    except Unavailable as exc:
        emit(figure="briefing_pdf_s", engine="postgresql", skipped=str(exc))
        return
    try:
        bench_engine(cluster.url, "postgresql", settings)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
