"""`cme referral add`: log a referral keyed in by an officer (phone notes, a form)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gateway.cases.inputs import InputError, build_referral_input
from gateway.cli.acting import acting_user
from gateway.cli.context import actor, unit_of_work
from gateway.db import utcnow
from gateway.models.referral import Channel
from gateway.triage.service import receive
from gateway.users import Role

_REFERRAL_OPTIONS = [
    ("forename", "Child's forename(s)."),
    ("surname", "Child's surname."),
    ("dob", "Date of birth, YYYY-MM-DD."),
    ("sex", "M or F."),
    ("upn", "Unique Pupil Number (13 characters)."),
    ("postcode", "Postcode of the child's last known address."),
    ("address-line1", "First line of the child's last known address."),
    ("town", "Town of that address."),
    ("reason", "Why the child is thought to be missing education."),
    ("referrer-name", "Who referred."),
    ("referrer-role", "Their role."),
    ("referrer-organisation", "Their organisation."),
    ("referrer-email", "Their email (letters go there)."),
    ("referrer-phone", "Their phone."),
    ("school", "Current or last school."),
    ("received", "Date the referral was received, YYYY-MM-DD (default today)."),
    ("urgency", "routine, urgent or safeguarding."),
]


@click.group()
def referral() -> None:
    """Log referrals."""


@acting_user(Role.OFFICER)
def _referral_add(json_file: Path | None, channel: str | None, **flags: Any) -> None:
    values: dict[str, Any] = {}
    if json_file is not None:
        try:
            loaded = json.loads(json_file.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {json_file}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{json_file} is not valid JSON: {exc.msg} at line {exc.lineno}"
            ) from None
        if not isinstance(loaded, dict):
            raise InputError(f"{json_file} must hold one JSON object of referral fields")
        values.update(loaded)
    values.update({k: v for k, v in flags.items() if v is not None})
    if channel is not None:
        values["channel"] = channel
    with unit_of_work() as (s, session):
        # Checked whole first: a referral keyed in by hand must be complete enough to log.
        build_referral_input(values, today=utcnow().date())
        routed = receive(session, s, values, actor=actor(), keyed_by_officer=True)
    if routed.case_id is not None:
        click.echo(routed.case_id)
    else:
        click.echo(
            f"Referral {routed.referral_id} is waiting in triage: it may be about a child we "
            f"already know. See `cme triage show {routed.referral_id}`."
        )


_add = click.command("add")(_referral_add)
_add = click.option(
    "--json",
    "json_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A JSON object with the same field names (underscores).",
)(_add)
_add = click.option(
    "--channel",
    type=click.Choice([c.value for c in Channel]),
    help="How the referral arrived (default phone).",
)(_add)
for _name, _help in reversed(_REFERRAL_OPTIONS):
    _add = click.option(f"--{_name}", _name.replace("-", "_"), help=_help)(_add)
_add.help = (
    "Log a new referral and print its case id: a new case, or the child's case when the match "
    "is certain. A referral that may be about a child we already know waits in triage."
)
referral.add_command(_add)
