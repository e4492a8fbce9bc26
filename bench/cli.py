"""CLI start-up: the wall time of `cme --help` and of a database command (`cme cases list`,
in a data home made by `cme init` with a few cases in it), each beside bare
`python -c "import click"` measured in the same run; and, for reference, `python -c
"import click, sqlalchemy.orm"`: what any database command pays before our code runs.
Each is a fresh process; they are run in turn, the order rotated every round, so a busy
moment falls on all of them alike. Median of N rounds (BENCH_CLI_ROUNDS, default 21).
Goals: `--help` within 4x of bare click, a database command within 8x. Beside each wall
time, the CPU time (user + system) of the same processes: on a loaded machine a longer
process is preempted more often, so the wall ratio grows with the load while the CPU
ratio stays put.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_CLI_ROUNDS", "21"))
N_CASES = int(os.environ.get("BENCH_CLI_CASES", "20"))
GOALS = {"help": 4.0, "cases_list": 8.0}


def emit(**fields: object) -> None:
    print(json.dumps({"bench": "cli", **fields}), flush=True)


def _cme() -> list[str]:
    """The installed `cme` script beside this interpreter (as a user runs it)."""
    script = Path(sys.executable).parent / "cme"
    if script.exists():
        return [str(script)]
    code = "import sys; from gateway.cli.entry import main; sys.exit(main())"
    return [sys.executable, "-c", code]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process (the runs are one at a time)."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, _children_cpu() - cpu


def seed(cme: list[str], env: dict[str, str], tmp: Path) -> None:
    """`cme init`, a first admin, and N_CASES referrals keyed in (each a case)."""

    def cme_run(*args: str) -> None:
        subprocess.run([*cme, *args], env=env, check=True, stdout=subprocess.DEVNULL)

    password = tmp / "password"
    password.write_text("timing-only-Kestrel-47-lantern\n", encoding="utf-8")
    cme_run("init")
    cme_run("users", "add", "bench", "--name", "Bench", "--role", "admin",
            "--password-file", str(password))  # fmt: skip
    for n in range(N_CASES):
        cme_run(
            "--as", "bench", "referral", "add", "--forename", f"Child{n:02d}",
            "--surname", f"Benchmark{chr(65 + n % 26)}x",
            "--dob", f"201{n % 10}-0{1 + n % 9}-1{n % 9}", "--sex", "MF"[n % 2],
            "--postcode", f"TS10 {n % 9}AB", "--address-line1", f"{n} Invented Row",
            "--reason", "Not seen at school since September.",
            "--referrer-name", "A Teacher", "--referrer-email", "teacher@school.example",
        )  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cme-bench-cli-") as tmp:
        # As a user's shell has it: byte code is written on the first run and read after
        # (PYTHONDONTWRITEBYTECODE, set in some sandboxes, would recompile every run).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CME_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env["CME_HOME"] = str(Path(tmp) / "home")
        cme = _cme()
        seed(cme, env, Path(tmp))
        commands = {
            "click": [sys.executable, "-c", "import click"],
            # What any command that opens the database pays before our code runs: click
            # and SQLAlchemy's ORM imported, nothing else (a reference, not a goal).
            "sqlalchemy_orm": [sys.executable, "-c", "import click, sqlalchemy.orm"],
            "help": [*cme, "--help"],
            "cases_list": [*cme, "cases", "list"],
        }
        for argv in commands.values():  # warm: byte code written, files in the page cache
            _run(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for r in range(ROUNDS):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                wall, cpu = _run(commands[name], env)
                times[name].append(wall)
                cpus[name].append(cpu)
    floor = statistics.median(times["click"])
    cpu_floor = statistics.median(cpus["click"])
    emit(figure="bare_click_s", value=round(floor, 4), best=round(min(times["click"]), 4),
         cpu_s=round(cpu_floor, 4), rounds=ROUNDS, cases=N_CASES,
         load_1min=round(os.getloadavg()[0], 1))  # fmt: skip
    orm = statistics.median(times["sqlalchemy_orm"])
    emit(figure="import_click_and_sqlalchemy_orm_s", value=round(orm, 4),
         bare_click_s=round(floor, 4), ratio=round(orm / floor, 2),
         cpu_ratio=round(statistics.median(cpus["sqlalchemy_orm"]) / cpu_floor, 2),
         rounds=ROUNDS)  # fmt: skip
    for name, goal in GOALS.items():
        median = statistics.median(times[name])
        ratio = median / floor
        cpu = statistics.median(cpus[name])
        emit(figure=f"{name}_s", value=round(median, 4), best=round(min(times[name]), 4),
             bare_click_s=round(floor, 4), ratio=round(ratio, 2), goal_ratio=goal,
             within_goal=ratio <= goal, cpu_s=round(cpu, 4),
             cpu_ratio=round(cpu / cpu_floor, 2),
             best_ratio=round(min(times[name]) / min(times["click"]), 2),
             rounds=ROUNDS)  # fmt: skip


if __name__ == "__main__":
    main()
