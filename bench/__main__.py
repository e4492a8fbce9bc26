"""`make bench`: run every benchmark module in turn, each in its own process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time

MODULES = [
    "foundation",
    "parse",
    "lost_pupil",
    "matching",
    "intake",
    "exchange",
    "web",
    "console",
    "reports",
    "sar",
    "retention",
    "cli",
]


def main() -> int:
    failed = []
    for name in MODULES:
        if importlib.util.find_spec(f"bench.{name}") is None:
            continue
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", f"bench.{name}"], check=False)
        if proc.returncode != 0:
            failed.append(name)
        print(
            json.dumps(
                {
                    "bench": name,
                    "figure": "bench_wall_s",
                    "value": round(time.monotonic() - started, 1),
                    "ok": proc.returncode == 0,
                }
            ),
            flush=True,
        )
    if failed:
        print(json.dumps({"bench": "all", "failed": failed}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
