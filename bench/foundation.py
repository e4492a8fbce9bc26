"""Referrals logged per second through the public API (SQLite, PostgreSQL), and
`cme cases list` with 50,000 cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import insert

from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.db import make_engine, migrate, session_scope
from gateway.models.case import Case
from gateway.models.child import Child
from gateway.settings import load_settings

N_LOG = int(os.environ.get("BENCH_REFERRALS", "1000"))
N_LIST = 50_000


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "foundation", **fields}), flush=True)


def referral_values(i: int) -> dict[str, object]:
    return {
        "forename": f"Child{i}",
        "surname": f"Family{i % 977}",
        "dob": date(2012 + i % 10, 1 + i % 12, 1 + i % 28).isoformat(),
        "sex": "MF"[i % 2],
        "postcode": "TS10 1AA",
        "reason": "moved away",
        "referrer_name": "A Referrer",
        "referrer_email": "ref@school.example",
        "channel": "email",
        "received": "2026-11-02",
    }


def log_rate(url: str) -> float:
    engine = make_engine(url)
    migrate(engine)
    s = load_settings()
    today = date(2026, 11, 28)
    inputs = [build_referral_input(referral_values(i), today=today) for i in range(N_LOG)]
    started = time.perf_counter()
    for data in inputs:  # one transaction per referral, as the API does
        with session_scope(engine) as session:
            service.log_referral(session, s, data, "bench")
    elapsed = time.perf_counter() - started
    engine.dispose()
    return N_LOG / elapsed


def cases_list_time(home: Path) -> float:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CME_")},
        "CME_HOME": str(home),
    }
    cme = str(Path(sys.executable).parent / "cme")
    subprocess.run([cme, "init"], env=env, check=True, capture_output=True)
    engine = make_engine(f"sqlite:///{home / 'cme.db'}")
    with session_scope(engine) as session:
        session.execute(
            insert(Child),
            [
                {
                    "id": i + 1,
                    "forenames": f"Child{i}",
                    "surname": f"Family{i % 977}",
                    "dob": date(2012 + i % 10, 1 + i % 12, 1 + i % 28),
                    "other_names": [],
                    "former_upns": [],
                    "languages": [],
                    "interpreter_needed": False,
                }
                for i in range(N_LIST)
            ],
        )
        session.execute(
            insert(Case),
            [
                {
                    "id": i + 1,
                    "child_id": i + 1,
                    "status": "logged",
                    "escalations": {},
                    "opened_on": date(2026, 11, 2),
                    "version": 1,
                }
                for i in range(N_LIST)
            ],
        )
    engine.dispose()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        out = subprocess.run(
            [cme, "cases", "list", "--json"], env=env, check=True, capture_output=True
        )
        best = min(best, time.perf_counter() - started)
    assert len(json.loads(out.stdout)) == N_LIST
    started = time.perf_counter()
    subprocess.run([cme, "--help"], env=env, check=True, capture_output=True)
    return best, time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rate = log_rate(f"sqlite:///{tmp}/bench.db")
        emit(figure="referrals_logged_per_s", engine="sqlite", value=round(rate, 1), n=N_LOG)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.support.postgres import Unavailable, start_cluster

    try:
        cluster = start_cluster()
    except Unavailable as exc:
        emit(figure="referrals_logged_per_s", engine="postgresql", skipped=str(exc))
    else:
        try:
            rate = log_rate(cluster.url)
            emit(
                figure="referrals_logged_per_s",
                engine="postgresql",
                value=round(rate, 1),
                n=N_LOG,
                note="throwaway cluster, fsync off",
            )
        finally:
            cluster.stop()
    with tempfile.TemporaryDirectory() as tmp:
        listed, startup = cases_list_time(Path(tmp) / "home")
        emit(
            figure="cases_list_json_s",
            cases=N_LIST,
            value=round(listed, 3),
            floor_cli_startup_s=round(startup, 3),
            ratio=round(listed / startup, 2),
        )


if __name__ == "__main__":
    main()
