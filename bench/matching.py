"""Matching engine: the dev set and FEBRL4 through `cme match bench`, scored by the data
set's own score.py, beside Splink's published figures; then single-referral latency
against 1,000,000 store records."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(os.environ.get("CME_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
DEV = SHARED / "ukchild-dev"
FEBRL = SHARED / "febrl"
SCORER = DEV / "score.py"
CME = Path(sys.executable).with_name("cme")

# Splink 5.0.0 as published in each data set's README (same 2-core class of machine).
SPLINK = {
    "dev": {
        "precision": 0.975,
        "recall": 0.905,
        "f1": 0.939,
        "false_match_rate": 0.055,
        "recall_at_5": 0.990,
        "wall_s": 7.3,
        "peak_mib": 391,
    },
    "febrl4": {"precision": 1.0, "recall": 0.997, "f1": 0.9985, "wall_s": 5.4, "peak_mib": 382},
}
_MEASURE = (
    "import json, resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:]).returncode\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'cpu_s': round(u.ru_utime + u.ru_stime, 2),"
    " 'peak_mib': round(u.ru_maxrss / 1024, 1)}), file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def emit(dataset: str, figure: str, value: object, **extra: object) -> None:
    line: dict[str, object] = {
        "bench": "matching",
        "dataset": dataset,
        "figure": figure,
        "value": value,
    }
    peer = SPLINK.get(dataset, {}).get(figure)
    if peer is not None and isinstance(value, int | float):
        line["splink"] = peer
        line["ratio"] = round(value / peer, 4) if peer else None
    line.update(extra)
    print(json.dumps(line), flush=True)


def febrl_to_bench(out: Path) -> Path:
    """FEBRL4 A (store) and B (queries) in the bench CSV format, with opaque ids; the
    answer key (from FEBRL's rec-<n> ids) goes only to truth.csv, for the scorer."""

    def rows(name: str) -> list[dict[str, str]]:
        with (FEBRL / name).open(newline="", encoding="utf-8") as fh:
            return [
                {k.strip(): (v or "").strip() for k, v in r.items()}
                for r in csv.DictReader(fh, skipinitialspace=True)
            ]

    def dob(raw: str) -> str:
        if len(raw) != 8 or not raw.isdigit():
            return ""
        y, m, d = raw[:4], raw[4:6], raw[6:]
        return f"{y}-{m}-{d}" if 1 <= int(m) <= 12 and 1 <= int(d) <= 31 else y

    def person(r: dict[str, str]) -> dict[str, str]:
        street = " ".join(x for x in (r["street_number"], r["address_1"]) if x)
        return {
            "surname": r["surname"],
            "forename": r["given_name"],
            "dob": dob(r["date_of_birth"]),
            "address": ", ".join(x for x in (street, r["address_2"]) if x),
            "town": r["suburb"],
            "postcode": r["postcode"],
        }

    a, b = rows("dataset4a.csv"), rows("dataset4b.csv")
    ent = {r["rec_id"]: r["rec_id"].split("-")[1] for r in a + b}
    store_ids = {r["rec_id"]: f"S{i:06d}" for i, r in enumerate(a)}
    query_ids = {r["rec_id"]: f"Q{i:06d}" for i, r in enumerate(b)}
    by_entity = {ent[r["rec_id"]]: store_ids[r["rec_id"]] for r in a}
    cols = ["surname", "forename", "dob", "address", "town", "postcode"]
    out.mkdir(parents=True, exist_ok=True)
    with (out / "store.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["store_id", *cols])
        for r in a:
            p = person(r)
            w.writerow([store_ids[r["rec_id"]], *(p[c] for c in cols)])
    with (
        (out / "queries.csv").open("w", newline="", encoding="utf-8") as fh,
        (out / "truth.csv").open("w", newline="", encoding="utf-8") as th,
    ):
        w, t = csv.writer(fh), csv.writer(th)
        w.writerow(["query_id", *cols])
        t.writerow(
            ["query_id", "store_id", "origin_group", "locale", "corruptions", "nonmatch_kind"]
        )
        for r in sorted(b, key=lambda r: query_ids[r["rec_id"]]):
            p = person(r)
            w.writerow([query_ids[r["rec_id"]], *(p[c] for c in cols)])
            t.writerow(
                [
                    query_ids[r["rec_id"]],
                    by_entity.get(ent[r["rec_id"]], ""),
                    "unknown",
                    "unknown",
                    "",
                    "",
                ]
            )
    return out


def run_dataset(name: str, data: Path, work: Path) -> None:
    pred, cand = work / f"{name}-pred.csv", work / f"{name}-cand.csv"
    started = time.monotonic()
    # Through a small wrapper process, so that peak memory and CPU are this run's alone.
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            str(CME),
            "match",
            "bench",
            "--store",
            str(data / "store.csv"),
            "--queries",
            str(data / "queries.csv"),
            "--out",
            str(pred),
            "--candidates",
            str(cand),
            "--as-of",
            os.environ.get("CME_BENCH_AS_OF", "2026-11-01"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"cme match bench failed on {name}: {proc.stderr.strip()}")
    usage = json.loads(proc.stderr.strip().splitlines()[-1])
    scored = json.loads(
        subprocess.run(
            [
                sys.executable,
                str(SCORER),
                "--truth",
                str(data),
                "--pred",
                str(pred),
                "--cand",
                str(cand),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    for fig in ("precision", "recall", "f1", "false_match_rate", "recall_at_5", "wrong_match_rate"):
        if scored.get(fig) is not None:
            emit(name, fig, scored[fig])
    emit(
        name,
        "wall_s",
        round(wall, 2),
        cpu_s=usage["cpu_s"],
        load_average=round(os.getloadavg()[0], 2),
    )
    emit(name, "peak_mib", usage["peak_mib"])
    for group, v in scored["recall_by_origin_group"].items():
        emit(
            name,
            "recall_by_origin",
            v["recall"],
            group=group,
            n=v["n"],
            recall_at_5=v.get("recall_at_5"),
        )
    for group, v in scored["false_match_rate_by_origin_group"].items():
        emit(name, "false_match_rate_by_origin", v["false_match_rate"], group=group, n=v["n"])
    for kind, v in scored["false_match_rate_by_nonmatch_kind"].items():
        emit(name, "false_match_rate_by_kind", v["false_match_rate"], kind=kind, n=v["n"])
    blocking = subprocess.run(
        [sys.executable, "-m", "bench.matching_blocking", str(data)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    emit(
        name,
        "blocking_recall",
        json.loads(blocking)["blocking_recall"],
        pairs_per_query=json.loads(blocking)["pairs_per_query"],
    )


def main() -> int:
    if not SCORER.exists():
        print(json.dumps({"bench": "matching", "skipped": f"no data at {SHARED}"}))
        return 0
    with tempfile.TemporaryDirectory(prefix="cme-match-bench-") as tmp:
        work = Path(tmp)
        run_dataset("dev", DEV, work)
        run_dataset("febrl4", febrl_to_bench(work / "febrl4"), work)
    if os.environ.get("BENCH_MATCH_LATENCY", "1") != "0":
        subprocess.run([sys.executable, "-m", "bench.matching_latency"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
