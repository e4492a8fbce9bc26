"""Matching engine: the dev set, the dev store tiled to 100,000 records and FEBRL4 through
`cme match bench`, scored by the data set's own score.py. Beside each of our runs, Splink 5
on the same files in the same bench run, the two alternated (ours, Splink, Splink, ours...)
so that a busy machine weighs on both alike; each wall-time ratio is of runs next to each
other. Splink is not a dependency: it runs under BENCH_SPLINK_PYTHON (a Python that has
splink 5 installed) or from var/bench-splink (BENCH_SPLINK_INSTALL=1 makes it); without
it, the README's published figures are shown instead.
Then single-referral latency against 1,000,000 store records; BENCH_MATCH_SCALE=1 adds how
wall time and memory grow from 20k to 100k to 1M store records (the dev store tiled)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("CME_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
DEV = SHARED / "ukchild-dev"
FEBRL = SHARED / "febrl"
SCORER = DEV / "score.py"
CME = Path(sys.executable).with_name("cme")
# Splink in its own virtualenv, never the project's: BENCH_SPLINK_PYTHON names its Python;
# else var/bench-splink is used when present, made first when BENCH_SPLINK_INSTALL=1.
SPLINK_VENV = Path(__file__).resolve().parents[1] / "var" / "bench-splink"


def _splink_python() -> str:
    given = os.environ.get("BENCH_SPLINK_PYTHON", "")
    if given:
        return given
    python = SPLINK_VENV / "bin" / "python"
    if not python.exists() and os.environ.get("BENCH_SPLINK_INSTALL") == "1":
        subprocess.run([sys.executable, "-m", "venv", str(SPLINK_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "splink==5.0.0"], check=True)
    return str(python) if python.exists() else ""


SPLINK_PYTHON = ""  # set by main()
ROUNDS = int(os.environ.get("BENCH_MATCH_ROUNDS", "2"))
AS_OF = os.environ.get("CME_BENCH_AS_OF", "2026-11-01")

# Splink 5.0.0 as published in each data set's README (same 2-core class of machine): shown
# only when Splink cannot be run beside ours.
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
    if peer is not None and isinstance(value, int | float) and "splink_measured" not in extra:
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


def tile(data: Path, out: Path, times: int) -> Path:
    """The dev store repeated `times` times with new ids (copy k of LPn is LPn-k), the same
    referrals, and an answer key that takes any copy of the right child as right."""
    out.mkdir(parents=True, exist_ok=True)
    with (data / "store.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with (out / "store.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(rows[0])
        for k in range(times):
            for row in rows[1:]:
                w.writerow([f"{row[0]}-{k}" if k else row[0], *row[1:]])
    for name in ("queries.csv", "truth.csv"):
        (out / name).write_bytes((data / name).read_bytes())
    return out


def _untile(path: Path) -> None:
    """Copies of a store record back to the record's own id, for the scorer."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(rows[0])
        seen: set[tuple[str, str]] = set()
        for row in rows[1:]:
            row[1] = row[1].split("-")[0]
            if (row[0], row[1]) not in seen:  # two copies in one top 5 count once
                seen.add((row[0], row[1]))
                w.writerow(row)


def _measured(cmd: list[str]) -> dict[str, float]:
    """Wall time, CPU and peak memory of one command, through a small wrapper process so
    that they are that command's alone."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr.strip()[-2000:]}")
    usage = json.loads(proc.stderr.strip().splitlines()[-1])
    return {"wall_s": round(wall, 2), **usage, "load_average": round(os.getloadavg()[0], 2)}


def _ours(data: Path, pred: Path, cand: Path) -> dict[str, float]:
    return _measured(
        [
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
            AS_OF,
        ]
    )


def _splink(data: Path, pred: Path, cand: Path) -> dict[str, float]:
    script = Path(__file__).with_name("matching_splink.py")
    return _measured(
        [
            SPLINK_PYTHON,
            str(script),
            str(data / "store.csv"),
            str(data / "queries.csv"),
            str(pred),
            str(cand),
        ]
    )


def _score(data: Path, pred: Path, cand: Path, tiled: bool) -> dict[str, Any]:
    if tiled:
        _untile(pred)
        _untile(cand)
    out: dict[str, Any] = json.loads(
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
    return out


_FIGURES = ("precision", "recall", "f1", "false_match_rate", "recall_at_5", "wrong_match_rate")


def run_dataset(
    name: str, data: Path, work: Path, *, tiled: bool = False, peer: bool = True
) -> None:
    pred, cand = work / f"{name}-pred.csv", work / f"{name}-cand.csv"
    peer = peer and bool(SPLINK_PYTHON)
    ours_runs: list[dict[str, float]] = []
    peer_runs: list[dict[str, float]] = []
    scored: dict[str, Any] = {}
    peer_scored: dict[str, Any] = {}
    for r in range(ROUNDS if peer else 1):
        # Alternate which goes first, so neither always gets the quieter half of a round.
        order = ("ours", "splink") if r % 2 == 0 else ("splink", "ours")
        for who in order if peer else ("ours",):
            if who == "ours":
                ours_runs.append(_ours(data, pred, cand))
                scored = _score(data, pred, cand, tiled)
            else:
                sp, sc = work / f"{name}-splink-pred.csv", work / f"{name}-splink-cand.csv"
                peer_runs.append(_splink(data, sp, sc))
                peer_scored = _score(data, sp, sc, tiled)
    for fig in _FIGURES:
        if scored.get(fig) is None:
            continue
        if peer:
            emit(name, fig, scored[fig], splink_measured=peer_scored.get(fig))
        else:
            emit(name, fig, scored[fig])
    if peer:
        ratios = [
            round(o["wall_s"] / p["wall_s"], 3) for o, p in zip(ours_runs, peer_runs, strict=True)
        ]
        print(
            json.dumps(
                {
                    "bench": "matching",
                    "dataset": name,
                    "figure": "wall_s",
                    "value": _median([o["wall_s"] for o in ours_runs]),
                    "splink_measured": _median([p["wall_s"] for p in peer_runs]),
                    "ratio": _median(ratios),
                    "ratio_each_round": ratios,
                    "ours_each_round": [o["wall_s"] for o in ours_runs],
                    "splink_each_round": [p["wall_s"] for p in peer_runs],
                    "cpu_s": _median([o["cpu_s"] for o in ours_runs]),
                    "splink_cpu_s": _median([p["cpu_s"] for p in peer_runs]),
                    "load_average": ours_runs[-1]["load_average"],
                }
            ),
            flush=True,
        )
        print(
            json.dumps(
                {
                    "bench": "matching",
                    "dataset": name,
                    "figure": "peak_mib",
                    "value": max(o["peak_mib"] for o in ours_runs),
                    "splink_measured": max(p["peak_mib"] for p in peer_runs),
                }
            ),
            flush=True,
        )
    else:
        usage = ours_runs[0]
        emit(
            name,
            "wall_s",
            usage["wall_s"],
            cpu_s=usage["cpu_s"],
            load_average=usage["load_average"],
        )
        emit(name, "peak_mib", usage["peak_mib"])
    if tiled:
        return
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


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else round((ordered[mid - 1] + ordered[mid]) / 2, 3)


def scale(work: Path) -> None:
    """How our wall time and peak memory grow with the store: the dev store tiled 1x, 5x
    and 50x (20k, 100k, 1M records), the same 2,000 referrals."""
    base: dict[str, float] | None = None
    for times in (1, 5, 50):
        data = tile(DEV, work / f"scale-{times}", times)
        run = _ours(data, work / "scale-pred.csv", work / "scale-cand.csv")
        base = base or run
        print(
            json.dumps(
                {
                    "bench": "matching",
                    "dataset": "dev-scale",
                    "figure": "wall_s",
                    "store": 20_000 * times,
                    "value": run["wall_s"],
                    "peak_mib": run["peak_mib"],
                    "cpu_s": run["cpu_s"],
                    "wall_vs_20k": round(run["wall_s"] / base["wall_s"], 2),
                    "peak_vs_20k": round(run["peak_mib"] / base["peak_mib"], 2),
                    "load_average": run["load_average"],
                }
            ),
            flush=True,
        )
        (data / "store.csv").unlink()


def main() -> int:
    global SPLINK_PYTHON
    if not SCORER.exists():
        print(json.dumps({"bench": "matching", "skipped": f"no data at {SHARED}"}))
        return 0
    SPLINK_PYTHON = _splink_python()
    if not SPLINK_PYTHON:
        print(
            json.dumps(
                {
                    "bench": "matching",
                    "note": "no Splink (BENCH_SPLINK_PYTHON, or BENCH_SPLINK_INSTALL=1):"
                    " Splink's published figures instead",
                }
            )
        )
    with tempfile.TemporaryDirectory(prefix="cme-match-bench-") as tmp:
        work = Path(tmp)
        run_dataset("dev", DEV, work)
        run_dataset("dev-100k", tile(DEV, work / "dev-100k", 5), work, tiled=True)
        # FEBRL4 beside the published figures only (its files have no sex column).
        run_dataset("febrl4", febrl_to_bench(work / "febrl4"), work, peer=False)
        if os.environ.get("BENCH_MATCH_SCALE", "0") == "1":
            scale(work)
    if os.environ.get("BENCH_MATCH_LATENCY", "1") != "0":
        subprocess.run([sys.executable, "-m", "bench.matching_latency"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
