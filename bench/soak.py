"""`make soak`: the long crash test. 2,000 messages over 8 connections while `cme run` is
killed with SIGKILL at random moments, repeated 20 times; every 250 stored once and
dispatched. One JSON line per round and a summary; exit 1 on any loss or duplicate."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from tests.support.crashload import run_crash

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "20"))
MESSAGES = int(os.environ.get("SOAK_MESSAGES", "2000"))
KILLS = int(os.environ.get("SOAK_KILLS", "5"))


def main() -> int:
    failures = 0
    for round_no in range(1, ROUNDS + 1):
        work = Path(tempfile.mkdtemp(prefix="cme-soak-"))
        try:
            report = run_crash(
                work / "home", messages=MESSAGES, connections=8, kills=KILLS, seed=round_no
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        ok = (
            report.missing == 0
            and report.stored == report.messages == report.acknowledged
            and report.dispatched == report.stored
        )
        failures += not ok
        print(json.dumps({"bench": "soak", "round": round_no, "ok": ok, **asdict(report)}),
              flush=True)  # fmt: skip
    print(json.dumps({"bench": "soak", "figure": "rounds_passed", "value": ROUNDS - failures,
                      "rounds": ROUNDS, "messages_per_round": MESSAGES}), flush=True)  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
