"""The `cme` command group; each area registers its commands here."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from gateway.errors import USER_ERRORS


class CmeGroup(click.Group):
    """Turns every error a person can fix into one line and a non-zero exit, never a trace."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:  # an internal fault: say so in one line, log the detail
            logging.getLogger("gateway.cli").debug("internal error", exc_info=True)
            click.echo(
                f"Error: internal error ({type(exc).__name__}); nothing was changed "
                "by the failing step. Please report it.",
                err=True,
            )
            sys.exit(70)


@click.group(cls=CmeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cme-gateway")
def cli() -> None:
    """CME Gateway: referrals, cases, lost pupils and the secure exchange."""


# Command registration (one line per area).
from gateway.cli import audit_cmd, cases, core, outbox_cmd  # noqa: E402

cli.add_command(core.init)
cli.add_command(core.run)
cli.add_command(cases.referral)
cli.add_command(cases.cases)
cli.add_command(cases.case)
cli.add_command(cases.due)
cli.add_command(audit_cmd.audit)
cli.add_command(outbox_cmd.outbox)

from gateway.cli.users import users as users_group  # noqa: E402

cli.add_command(users_group)

from gateway.cli import ctf as ctf_cmd  # noqa: E402
from gateway.cli import lost_pupils as lost_pupils_cmd  # noqa: E402

cli.add_command(ctf_cmd.ctf)
cli.add_command(lost_pupils_cmd.lost_pupils)

from gateway.cli import intake as intake_cmd  # noqa: E402

cli.add_command(intake_cmd.intake)
cli.add_command(intake_cmd.quarantine)

from gateway.cli.exchange import COMMANDS as exchange_commands  # noqa: E402

for _command in exchange_commands:
    cli.add_command(_command)

from gateway.cli.match import COMMANDS as match_commands  # noqa: E402

for _command in match_commands:
    cli.add_command(_command)

from gateway.cli.parse import parse as parse_cmd  # noqa: E402

cli.add_command(parse_cmd)
