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
