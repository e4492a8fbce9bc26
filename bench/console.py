"""Server time of the console's working pages at a council's scale, beside the floor of the
same stack in the same run (a static file through the same server and middleware).

Issue 13: `/triage`, a triage page and a match-review page with 50,000 cases and 100,000
lost pupils on SQLite (goal: p95 under 150 ms). Issue 14: the dashboard, the case list
filtered by officer and the monitoring list with 50,000 cases, on SQLite and PostgreSQL
(goal: p95 under 100 ms). The cases are bulk-inserted rows; the lost
pupils are a real CTF through the real ingest; the referrals awaiting triage and their
stored candidates come from the real intake path (triage.receive runs the matcher), so the
pages read what they would read in service. Server time is measured inside the WSGI stack
(request in to last byte out), one keep-alive client, so load from the client is not in it.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

N_CASES = int(os.environ.get("BENCH_CONSOLE_CASES", "50000"))
N_LOST = int(os.environ.get("BENCH_CONSOLE_LOST_PUPILS", "100000"))
N_TRIAGE = int(os.environ.get("BENCH_CONSOLE_TRIAGE", "200"))
REQUESTS = int(os.environ.get("BENCH_CONSOLE_REQUESTS", "300"))
PASSWORD = "load-test-password-not-secret"
GOALS_MS = {"triage_list": 150.0, "triage_page": 150.0, "match_review": 150.0,
            "dashboard": 100.0, "case_list_officer": 100.0, "monitoring": 100.0}  # fmt: skip
OFFICERS = ("bench", "oscar", "olga", "omar")
N_MONITORED = int(os.environ.get("BENCH_CONSOLE_MONITORED", "500"))


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "console", **fields}), flush=True)


class ServerTimer:
    """WSGI middleware: the time from a request arriving to its last byte, per path kind,
    and the CPU time the serving thread spent on it (SQLite runs in that thread, so on SQLite
    this is nearly all the work; on a loaded machine it is the steadier figure, since the
    wall time also counts the waits for a core)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.samples: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        self.kind = "other"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started, cpu = time.perf_counter(), time.thread_time()
        body = self.app(environ, start_response)
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        self.samples.setdefault(self.kind, []).append(time.perf_counter() - started)
        self.cpu.setdefault(self.kind, []).append(time.thread_time() - cpu)
        return [data]


def _names(rng: random.Random) -> tuple[str, str]:
    from tests.fixtures.ctf_gen import FORENAMES_F, FORENAMES_M, SURNAMES

    return rng.choice(FORENAMES_F + FORENAMES_M), rng.choice(SURNAMES)


def seed_cases(engine: Any, rng: random.Random) -> None:
    """N_CASES children, cases, referrals, addresses and open tasks, bulk-inserted."""
    from sqlalchemy import insert

    from gateway.db import session_scope
    from gateway.models.case import Case, Task
    from gateway.models.child import Child, ChildAddress
    from gateway.models.referral import Referral

    statuses = ["logged", "checking_status", "locating", "assessing_needs", "securing_place",
                "moved_out_tracking", "closed"]  # fmt: skip
    children, cases, referrals, addresses, tasks = [], [], [], [], []
    for i in range(1, N_CASES + 1):
        forename, surname = _names(rng)
        dob = date(2010, 9, 1) + timedelta(days=rng.randrange(0, 365 * 11))
        opened = date(2025, 9, 1) + timedelta(days=rng.randrange(0, 450))
        children.append({"id": i, "forenames": forename, "surname": surname, "dob": dob,
                         "sex": rng.choice("MF"), "other_names": [], "former_upns": [],
                         "languages": [], "interpreter_needed": False})  # fmt: skip
        cases.append({"id": i, "child_id": i, "status": rng.choice(statuses), "escalations": {},
                      "opened_on": opened, "version": 1,
                      "urgency_rank": rng.choice((0,) * 18 + (1, 2)),
                      "allocated_to": OFFICERS[i % len(OFFICERS)] if i % 7 else None})  # fmt: skip
        referrals.append({"id": i, "case_id": i, "channel": "email", "received_on": opened,
                          "urgency": "routine", "flags": {}, "actions_taken": [], "gaps": [],
                          "details": {}, "anonymous": False, "triage_status": "opened",
                          "created_by": "bench",
                          "referrer_email": f"school{i % 300}@example.org"})  # fmt: skip
        addresses.append({"child_id": i, "line1": f"{1 + i % 200} Synthetic Street",
                          "town": "Redcar", "postcode": f"TS{10 + i % 9} {1 + i % 9}AB",
                          "source": "referral"})  # fmt: skip
        tasks.append({"case_id": i, "kind": "progress_update", "status": "open", "detail": {},
                      "due": opened + timedelta(days=14)})  # fmt: skip
    with session_scope(engine) as session:
        for model, rows in ((Child, children), (Case, cases), (Referral, referrals),
                            (ChildAddress, addresses), (Task, tasks)):  # fmt: skip
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start : start + 5000])


def seed_monitoring(settings: Any, engine: Any) -> None:
    """N_MONITORED children monitored out of area with two partner LAs (real certificates)."""
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import insert

    from gateway.db import session_scope, utcnow
    from gateway.exchange.keys import new_key, self_signed
    from gateway.exchange.partners import add_partner
    from gateway.models.exchange import Monitoring

    now = utcnow()
    with session_scope(engine) as session:
        for la in ("806", "808"):
            cert = self_signed(new_key(), la_code=la, la_name=f"Bench LA {la}",
                               email=f"cme@la{la}.example", not_before=now, days=400)  # fmt: skip
            add_partner(session, settings, la_code=la, name=f"Bench LA {la}",
                        email=f"cme@la{la}.example",
                        cert_bytes=cert.public_bytes(serialization.Encoding.PEM))  # fmt: skip
        session.execute(insert(Monitoring), [
            {"case_id": 1 + i * (N_CASES // N_MONITORED), "partner_la": ("806", "808")[i % 2],
             "status": "active", "started_at": now - timedelta(days=40 + i % 30),
             "next_check_at": now + timedelta(days=(i % 40) - 10)}
            for i in range(N_MONITORED)])  # fmt: skip


def seed_lost_pupils(settings: Any, engine: Any, work: Path, rng: random.Random) -> None:
    """N_LOST pupils in one real CTF through the real ingest (encrypted store, index)."""
    from gateway.db import session_scope
    from lost_pupil.ingest import import_ctf
    from lost_pupil.store import FileStore
    from tests.fixtures import ctf_gen

    path = ctf_gen.write_ctf(
        work / "8073000_CTF_XXXXXXX_001.xml",
        (ctf_gen.random_pupil(rng, n) for n in range(N_LOST)),
        ctf_gen.CtfOptions(),
    )
    store = FileStore(settings.home / "lost_pupil", settings.keys_dir / "lost_pupil.key")
    with path.open("rb") as fh, session_scope(engine) as session:
        import_ctf(session, store, fh, uploader="bench", retention_days=30)


def seed_triage(settings: Any, engine: Any, rng: random.Random) -> None:
    """Referrals awaiting triage through the real path (each runs the matcher), half of
    them about children already on a case so that they carry candidates."""
    from gateway.db import session_scope
    from gateway.models.child import Child
    from gateway.triage.service import receive

    with session_scope(engine) as session:
        for n in range(N_TRIAGE):
            values: dict[str, Any] = {
                "reason": "Not seen at school since half term",
                "channel": "email",
                "referrer_email": "gp@example.org",
            }
            if n % 2 == 0:
                child = session.get(Child, 1 + rng.randrange(N_CASES))
                assert child is not None
                values.update(forename=child.forenames[:3] + "ie", surname=child.surname,
                              dob=child.dob.isoformat() if child.dob else None)  # fmt: skip
            else:
                forename, surname = _names(rng)
                values.update(forename=forename, surname=surname, age_range=[9, 10])
            receive(session, settings, values, actor="bench", triage_only=True)


def sign_in(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/sign-in")
    resp = conn.getresponse()
    page = resp.read().decode()
    cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    body = urlencode({"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)})
    conn.request("POST", "/sign-in", body=body, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302, resp.status
    conn.close()
    return resp.headers["Set-Cookie"].split(";", 1)[0]


def measure(port: int, timer: ServerTimer, kind: str, paths: list[str], cookie: str) -> None:
    timer.kind = kind
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in paths:
        conn.request("GET", path, headers={"Cookie": cookie})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status}")
    conn.close()


def report(timer: ServerTimer, kind: str, engine: str, floor: str = "floor") -> None:
    samples = sorted(timer.samples.get(kind, []))
    if not samples:
        return
    p50 = statistics.median(samples) * 1000
    p95 = samples[int(0.95 * (len(samples) - 1))] * 1000
    base = sorted(timer.samples[floor])
    base95 = base[int(0.95 * (len(base) - 1))] * 1000
    goal = GOALS_MS[kind]
    cpu = sorted(timer.cpu.get(kind, []))
    cpu50, cpu95 = statistics.median(cpu) * 1000, cpu[int(0.95 * (len(cpu) - 1))] * 1000
    emit(figure=f"{kind}_server_ms", engine=engine, p50=round(p50, 1), p95=round(p95, 1),
         n=len(samples), floor_p95_ms=round(base95, 2), ratio_p95=round(p95 / base95, 1),
         cpu_p50_ms=round(cpu50, 1), cpu_p95_ms=round(cpu95, 1),
         goal_p95_ms=goal, within_goal=p95 < goal, cases=N_CASES,
         load_average=round(os.getloadavg()[0], 1))  # fmt: skip


def serve_and_measure(
    settings: Any, engine: Any, label: str, pages: list[tuple[str, list[str]]]
) -> None:
    from web.app import create_app
    from web.server import WebServer

    app = create_app(settings, engine)
    timer = ServerTimer(app.wsgi_app)
    app.wsgi_app = timer  # type: ignore[method-assign]
    server = WebServer(app, "127.0.0.1", 0).start()
    try:
        cookie = sign_in(server.port)
        for kind, paths in [("floor", ["/static/js/init.js"] * REQUESTS), *pages]:
            measure(server.port, timer, kind, paths, cookie)
        for kind, _paths in pages:
            report(timer, kind, label)
    finally:
        server.stop()


def add_users(engine: Any) -> None:
    from gateway.db import session_scope
    from gateway.users import Role, add_user

    with session_scope(engine) as session:
        for name in OFFICERS:
            add_user(session, username=name, password=PASSWORD, role=Role.OFFICER,
                     display_name=f"{name.title()} Bench", totp=False, actor="bench")  # fmt: skip


def casework_pages() -> list[tuple[str, list[str]]]:
    # Each officer holds about 6 cases in 7 (every 7th is unallocated): stay within them.
    pages = max(1, (N_CASES * 6 // 7 // len(OFFICERS)) // 25 - 1)
    return [
        ("dashboard", ["/"] * REQUESTS),
        ("case_list_officer", [f"/cases?officer={OFFICERS[i % len(OFFICERS)]}&page={1 + i % pages}"
                               for i in range(REQUESTS)]),
        ("monitoring", ["/monitoring"] * REQUESTS),
    ]  # fmt: skip


def run_home(url: str | None, label: str, *, triage: bool) -> None:
    """Seed a fresh home (SQLite in it, or the given PostgreSQL database) and measure."""
    from sqlalchemy import func, select

    from gateway.db import make_engine, session_scope
    from gateway.home import init_home
    from gateway.models.matching import MatchCandidate
    from gateway.models.referral import Referral
    from gateway.settings import load_settings

    rng = random.Random(13)
    with tempfile.TemporaryDirectory(prefix="cme-bench-console-") as tmp:
        os.environ["CME_HOME"] = str(Path(tmp) / "home")
        if url:
            os.environ["CME_DATABASE_URL"] = url
        settings = load_settings()
        init_home(settings)
        engine = make_engine(url or f"sqlite:///{settings.home / 'cme.db'}")
        started = time.perf_counter()
        seed_cases(engine, rng)
        seed_monitoring(settings, engine)
        add_users(engine)
        pages = casework_pages()
        if triage:
            seed_lost_pupils(settings, engine, Path(tmp), rng)
            seed_triage(settings, engine, rng)
            with session_scope(engine) as session:
                waiting = select(Referral.id).where(Referral.triage_status == "awaiting")
                awaiting = list(session.execute(waiting).scalars())
                candidates = list(session.execute(select(MatchCandidate.id)).scalars())
                total = session.execute(select(func.count(MatchCandidate.id))).scalar_one()
            emit(figure="stored_candidates", engine=label, awaiting=len(awaiting), value=total)
            pages = [
                ("triage_list", [f"/triage?page={1 + i % max(1, len(awaiting) // 25)}"
                                 for i in range(REQUESTS)]),
                ("triage_page", [f"/triage/{awaiting[i % len(awaiting)]}"
                                 for i in range(REQUESTS)]),
                ("match_review", [f"/matches/{candidates[i % len(candidates)]}"
                                  for i in range(REQUESTS)]),
                *pages,
            ]  # fmt: skip
        emit(figure="seed_s", engine=label, value=round(time.perf_counter() - started, 1))
        try:
            serve_and_measure(settings, engine, label, pages)
        finally:
            engine.dispose()
            os.environ.pop("CME_DATABASE_URL", None)


def main() -> None:
    run_home(None, "sqlite", triage=True)
    from tests.support.postgres import Unavailable, start_cluster

    try:
        cluster = start_cluster()
    except Unavailable as exc:
        emit(figure="postgresql", skipped=str(exc))
        return
    try:
        run_home(cluster.url, "postgresql", triage=False)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
