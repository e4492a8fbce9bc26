"""Blocking recall: the share of true pairs that blocking lets the engine compare at all.
Reads the answer key, so it lives here beside the scorer, never in the engine."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from pathlib import Path

from gateway.matching.bench import read_queries, read_store
from gateway.matching.decisions import Thresholds
from gateway.matching.engine import MatchEngine


def main(data: Path) -> None:
    store = read_store(data / "store.csv")
    queries = read_queries(data / "queries.csv")
    engine = MatchEngine(store, thresholds=Thresholds(0.95, 0.5), as_of=date(2026, 11, 1))
    with (data / "truth.csv").open(newline="", encoding="utf-8") as fh:
        truth = {r["query_id"]: r["store_id"] for r in csv.DictReader(fh)}
    pos_of = {f.record.record_id: i for i, f in enumerate(engine.features)}
    found = total = pairs = 0
    for q in queries:
        block = engine.block(engine.prepare_query(q))
        pairs += len(block)
        want = truth.get(q.record_id)
        if want:
            total += 1
            found += pos_of.get(want, -1) in block
    print(
        json.dumps(
            {
                "blocking_recall": round(found / total, 4) if total else None,
                "pairs_per_query": round(pairs / max(len(queries), 1), 1),
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
