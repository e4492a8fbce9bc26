"""`cme --help` lists every command from its summary, without importing the commands."""

from __future__ import annotations

import subprocess
import sys

import click

from gateway.cli.main import COMMANDS, SUMMARIES, cli


def test_every_command_has_its_own_summary() -> None:
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert SUMMARIES.get(name) == command.get_short_help_str(limit=80), (
            f"update SUMMARIES[{name!r}] in gateway/cli/main.py to the command's help"
        )


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gateway.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('gateway.cli.') "
        "and m not in ('gateway.cli.main', 'gateway.cli.acting', 'gateway.cli.collector'))\n"
        "assert not loaded, loaded\n"
        "assert 'sqlalchemy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
