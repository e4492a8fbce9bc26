"""The `cme` command group; each area registers its commands here."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from gateway.cli.acting import AS_USER, AS_USER_FROM_ENV

#: command name -> "module:attribute"; each area's commands load only when used, so a
#: command does not pay for importing every other area (the CLI starts fast).
COMMANDS: dict[str, str] = {
    "init": "gateway.cli.core:init",
    "run": "gateway.cli.core:run",
    "demo": "gateway.cli.demo:demo",
    "referral": "gateway.cli.referral:referral",
    "cases": "gateway.cli.cases:cases",
    "case": "gateway.cli.casework:case",
    "due": "gateway.cli.cases:due",
    "audit": "gateway.cli.audit_cmd:audit",
    "disclosures": "gateway.cli.disclosures:disclosures",
    "sar": "gateway.cli.sar:sar",
    "outbox": "gateway.cli.outbox_cmd:outbox",
    "users": "gateway.cli.users:users",
    "parse": "gateway.cli.parse:parse",
    "intake": "gateway.cli.intake:intake",
    "quarantine": "gateway.cli.intake:quarantine",
    "ctf": "gateway.cli.ctf:ctf",
    "lost-pupils": "gateway.cli.lost_pupils:lost_pupils",
    "triage": "gateway.cli.triage:triage_group",
    "match": "gateway.cli.match:match",
    "roll": "gateway.cli.match:roll",
    "ehe": "gateway.cli.match:ehe",
    "keys": "gateway.cli.raw_keys:keys",  # the exchange's group, plus `keys rotate`
    "partners": "gateway.cli.exchange:partners",
    "enquiry": "gateway.cli.exchange:enquiry",
    "exchange": "gateway.cli.exchange:exchange",
    "monitoring": "gateway.cli.exchange:monitoring_group",
    "report": "gateway.cli.report:report",
    "retention": "gateway.cli.retention:retention",
}

#: Each command's one-line help, so `cme --help` lists them without importing any.
SUMMARIES: dict[str, str] = {
    "init": "Create the data home (CME_HOME, default ./var): database, keys, stores.",
    "run": "Run the service: job worker, SMTP intake, IMAP poller (if on), web console.",
    "demo": "Load a demo caseload of invented children (LA 807 and its neighbours) and...",
    "referral": "Log referrals.",
    "cases": "List and show cases.",
    "case": "Work one case: move, close, reopen, escalate, record enquiries.",
    "due": "Deadlines due and overdue.",
    "audit": "The audit log.",
    "disclosures": "What child data left the system: to whom, on what basis, by which channel.",
    "sar": "Subject access requests.",
    "outbox": "Letters and messages waiting to be sent.",
    "users": "Console users: who may sign in, with which role.",
    "parse": "Read a referral FILE (.eml, .html, .txt or .docx) and print the draft as JSON.",
    "intake": "Push raw messages (.eml) through the intake path; one JSON line per file.",
    "quarantine": "Messages held back for an officer: list, show, retry, release.",
    "ctf": "Common Transfer Files: the lost-pupil store's input.",
    "lost-pupils": "The lost-pupil store: find where a missing child went.",
    "triage": "Referrals awaiting triage: list, show, open, attach, dismiss.",
    "match": "Match referrals against lost pupils, cases, school rolls and the EHE register.",
    "roll": "School rolls: who is on which school's roll (step 3: educational status).",
    "ehe": "The elective home education register.",
    "keys": "Our LA's exchange key and S/MIME certificate.",
    "partners": "The directory of partner LAs and their pinned certificates.",
    "enquiry": "Enquiries to other LAs' CME leads.",
    "exchange": "Exchange messages: deliveries, proposals waiting for you, dead letters.",
    "monitoring": "Children who moved to another LA, monitored until registered at a school.",
    "report": "Print or save a report: the weekly caseload, the vulnerable pupils list, the...",
    "retention": "How long records are kept ([retention]): what is due, legal holds, disposal.",
}


class CmeGroup(click.Group):
    """Loads commands on demand; turns every error a person can fix into one line and a
    non-zero exit, never a trace."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # From the summaries: listing the commands imports none of them (a fast --help).
        rows = [(name, SUMMARIES.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            # Imported only once something failed: gateway.errors gathers every area's
            # exception classes, and a command that succeeds should not pay to load them.
            from gateway.errors import USER_ERRORS

            if isinstance(exc, USER_ERRORS):
                raise click.ClickException(str(exc)) from None
            # An internal fault: say so in one line, log the detail.
            logging.getLogger("gateway.cli").debug("internal error", exc_info=True)
            click.echo(
                f"Error: internal error ({type(exc).__name__}); nothing was changed "
                "by the failing step. Please report it.",
                err=True,
            )
            sys.exit(70)


@click.group(cls=CmeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cme-gateway")
@click.option(
    "--as",
    "as_user",
    metavar="USERNAME",
    envvar="CME_USER",
    show_envvar=True,
    help="Act as this console user. Every command that changes data needs one (checked: "
    "active, with the role it needs) and the audit log and timeline name them.",
)
@click.pass_context
def cli(ctx: click.Context, as_user: str | None) -> None:
    """CME Gateway: referrals, cases, lost pupils and the secure exchange.

    Commands that change data run as a named user: cme --as USERNAME ..., --as after the
    command, or CME_USER. Lists, searches and views need none."""
    # Checked only by a command that needs it (gateway/cli/acting.py): --help, and the
    # commands that open no database, never look the name up. A command's own --as (given
    # after it, `cme case close 12 ... --as mo`) may replace a name from CME_USER.
    ctx.meta[AS_USER] = as_user
    ctx.meta[AS_USER_FROM_ENV] = (
        ctx.get_parameter_source("as_user") is click.core.ParameterSource.ENVIRONMENT
    )
