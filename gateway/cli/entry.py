"""The `cme` script's entry point: start-up with the cyclic garbage collector paused.

Starting a command imports click, SQLAlchemy and the models: tens of thousands of objects
that live until the process ends, none of them garbage. Left on, the collector walks them
again and again while they are made (a sixth of `cme cases list`'s time). It is paused
for the start-up and, as each command's body begins (`resume_collection` in
gateway/cli/collector.py, called by the marks in gateway/cli/acting.py), the start-up's
objects are frozen out of its sight and it is switched back on, so the command's own
work, `cme run` for days, is collected as usual. `cme --help` ends before any command
runs. Code that runs the commands in-process (tests, CliRunner) never pauses it, and
resume_collection then changes nothing.
"""

from __future__ import annotations

from gateway.cli.collector import pause_collection


def main() -> int | None:
    pause_collection()
    from gateway.cli.main import cli

    result: int | None = cli()
    return result
