"""The `cme` command group; each area registers its commands here."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cme-gateway")
def cli() -> None:
    """CME Gateway: referrals, cases, lost pupils and the secure exchange."""


# Command registration (one line per area).
