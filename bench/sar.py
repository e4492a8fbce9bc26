"""A subject access export of a long case: 50 referrals (five from referrers who asked not to
be named; half by email, each stored in the raw store), the letters they caused, a reply,
and 500 audit entries about the record, on SQLite and PostgreSQL in a data home made as
`cme init` makes it. Wall time (best and median of three) and peak Python memory of one
export: collect, redact and mark, render the page and the JSON, zip, record. Goal: under
2 s (the console sends the file in one request).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

N_REFERRALS = int(os.environ.get("BENCH_SAR_REFERRALS", "50"))
N_AUDIT = int(os.environ.get("BENCH_SAR_AUDIT", "500"))
ENGINES = os.environ.get("BENCH_SAR_ENGINES", "sqlite,postgresql").split(",")
GOAL_S = 2.0
PARAGRAPH = (
    "The family have not been seen at the address since the end of term; the neighbours "
    "think they moved to the coast. The school tried the emergency contacts twice. "
)


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "sar", **fields}), flush=True)


def _mail(n: int, name: str, address: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{address}>"
    msg["To"] = "cme@redcar-cleveland.example"
    msg["Subject"] = f"Referral {n}"
    msg["Message-ID"] = f"<bench-sar-{n}@example.net>"
    msg.set_content(f"Child: Peregrina Thistlewood\n\n{PARAGRAPH * 20}\n{name}\n07700 9{n:05d}\n")
    return msg.as_bytes(policy=SMTP)


def seed(settings: Any, engine: Any) -> int:
    """The case, its referrals and raw messages, and the audit entries; returns its id."""
    from gateway import audit
    from gateway.cases import service
    from gateway.cases.inputs import build_referral_input
    from gateway.db import session_scope
    from gateway.intake.rawstore import Arrival, RawStore
    from gateway.models.intake import IntakeChannel
    from gateway.models.referral import Referral

    today = date(2026, 11, 27)
    store = RawStore(settings.home, engine)
    raws: dict[int, int] = {}
    try:
        for n in range(N_REFERRALS):
            if n % 2:
                raws[n] = store.store(
                    _mail(n, f"Referrer Number{n}", f"referrer{n}@example.net"),
                    Arrival(IntakeChannel.SMTP, mail_from=f"referrer{n}@example.net"),
                ).raw_id
    finally:
        store.close()
    case_id = 0
    for n in range(N_REFERRALS):
        values = {
            "forename": "Peregrina", "surname": "Thistlewood", "dob": "2015-04-03",
            "postcode": f"TS10 {n % 9}AA", "address_line1": f"{n} Invented Terrace",
            "reason": PARAGRAPH, "channel": "email" if n in raws else "phone",
            "received": (today - timedelta(days=N_REFERRALS - n)).isoformat(),
            "referrer_name": f"Referrer Number{n}", "referrer_email": f"referrer{n}@example.net",
            "referrer_phone": f"07700 9{n:05d}", "anonymous": n % 10 == 3,
            "carers": [{"name": f"Carer Number{n}", "relationship": "mother"}],
            "siblings": [{"name": f"Sibling Number{n}"}],
            "gaps": ["year group is missing"], "raw_ref": f"raw:{raws[n]}" if n in raws else None,
        }  # fmt: skip
        data = build_referral_input(values, today=today)
        with session_scope(engine) as s:
            if n == 0:
                case_id = service.log_referral(s, settings, data, actor="bench").id
            else:
                referral = service.attach_referral(s, settings, case_id, data, actor="bench")
                if n in raws:
                    s.get(Referral, referral.id).raw_id = raws[n]  # type: ignore[union-attr]
    with session_scope(engine) as s:
        for i in range(N_AUDIT):
            audit.record(
                s, actor=f"officer{i % 7}", action="case.view" if i % 4 else "child.view",
                entity="case", entity_id=case_id,
            )  # fmt: skip
    return case_id


def bench_engine(url: str, label: str, home: Path) -> None:
    from gateway.db import session_scope
    from gateway.home import init_home, open_engine
    from gateway.sar.export import export_case
    from gateway.settings import load_settings

    settings = load_settings({"CME_HOME": str(home), "CME_DATABASE_URL": url})
    init_home(settings)
    engine = open_engine(settings)
    started = time.perf_counter()
    case_id = seed(settings, engine)
    emit(figure="seed_s", engine=label, value=round(time.perf_counter() - started, 1),
         referrals=N_REFERRALS, audit_entries=N_AUDIT)  # fmt: skip

    def once() -> Any:
        with session_scope(engine) as s:
            return export_case(s, settings, engine, case_id, actor="bench", channel="file")

    times = []
    for _ in range(3):
        started = time.perf_counter()
        done = once()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    once()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best = min(times)
    emit(figure="sar_export_s", engine=label, value=round(best, 3),
         median=round(sorted(times)[1], 3), peak_mib=round(peak / 2**20, 1),
         archive_bytes=len(done.data), sections=done.counts, marked=done.marked,
         withheld=done.withheld, goal_s=GOAL_S, within_goal=best < GOAL_S)  # fmt: skip
    engine.dispose()


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if "sqlite" in ENGINES:
        with tempfile.TemporaryDirectory(prefix="cme-bench-sar-") as tmp:
            bench_engine(f"sqlite:///{tmp}/home/cme.db", "sqlite", Path(tmp) / "home")
    if "postgresql" not in ENGINES:
        return
    from tests.support.postgres import Unavailable, start_cluster

    try:
        cluster = start_cluster()
    except Unavailable as exc:
        emit(figure="sar_export_s", engine="postgresql", skipped=str(exc))
        return
    try:
        with tempfile.TemporaryDirectory(prefix="cme-bench-sar-") as tmp:
            bench_engine(cluster.url, "postgresql", Path(tmp) / "home")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
