"""A database command starts light: `cme cases list` imports the case queries, the models
it reads and the audit log, never the libraries only other commands need (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Loaded by commands that change cases, match, render letters, speak the exchange or
#: serve the web; a read of the case list needs none of them.
NOT_FOR_A_READ = (
    "lxml",
    "jinja2",
    "rapidfuzz",
    "jellyfish",
    "limits",
    "requests",
    "flask",
    "pygal",
    "weasyprint",
    "alembic",
    "argon2",
    "pyotp",
    "gateway.cases.service",
    "gateway.matching",
    "gateway.triage",
    "gateway.letters",
    "gateway.users",
    "parsers.exchange",
    "parsers.ctf",
    "lost_pupil.index",
    "lost_pupil.store",
    "cryptography",
    "gateway.audit_anchor",
    "gateway.exchange",
)


def test_cases_list_imports_only_what_it_reads(cme_home: Path) -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gateway.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['cases', 'list'], catch_exceptions=False)\n"
        "assert result.exit_code == 0, result.output\n"
        f"heavy = {NOT_FOR_A_READ!r}\n"
        "loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') "
        "for h in heavy))\n"
        "assert not loaded, f'cme cases list imported {loaded}'\n"
        "assert 'sqlalchemy' in sys.modules  # it did open the database\n"
    )
    env = {**os.environ, "CME_HOME": str(cme_home)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_the_script_pauses_the_collector_only_for_start_up(cme_home: Path, tmp_path: Path) -> None:
    """`cme` starts with the cyclic collector paused, and every kind of command (a read, a
    change, one that touches no records) switches it back on as its body begins."""
    code = (
        "import gc, sys\n"
        "import gateway.cli.acting as acting\n"
        "from gateway.cli import entry\n"
        "seen = []\n"
        "real = acting.resume_collection\n"
        "def spy():\n"
        "    seen.append(gc.isenabled())\n"
        "    real()\n"
        "acting.resume_collection = spy\n"
        "sys.argv = ['cme', *sys.argv[1:]]\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "assert seen == [False], seen  # paused until the command began, then back on\n"
        "assert gc.isenabled()\n"
    )
    password = tmp_path / "password"
    password.write_text("synthetic-Kestrel-47-lantern\n", encoding="utf-8")
    referral = tmp_path / "referral.txt"
    referral.write_text("Child's name: Ava Testperson\nDate of birth: 1 March 2015\n")
    env = {**os.environ, "CME_HOME": str(cme_home)}
    for argv in (
        ["cases", "list"],
        ["users", "add", "firstadmin", "--name", "First Admin", "--role", "admin",
         "--password-file", str(password)],
        ["parse", str(referral)],
    ):  # fmt: skip
        subprocess.run([sys.executable, "-c", code, *argv], check=True, env=env)
