"""`cme triage`: referrals awaiting an officer; open a case, attach to one, or dismiss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gateway import audit
from gateway.cases.inputs import InputError
from gateway.cases.labels import DISMISS_REASONS, SOURCES, URGENCIES, label
from gateway.cli.acting import acting_user, reads
from gateway.cli.context import actor, echo_json, unit_of_work
from gateway.triage import queries
from gateway.triage import service as triage


@click.group("triage")
def triage_group() -> None:
    """Referrals awaiting triage: list, show, open, attach, dismiss."""


@triage_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--limit", type=int, default=200, show_default=True, help="At most this many.")
@reads
def list_cmd(as_json: bool, limit: int) -> None:
    """Referrals awaiting triage, safeguarding and urgent first, with their candidates."""
    with unit_of_work() as (_s, session):
        rows = queries.list_awaiting(session, limit=limit)
        audit.record(
            session, actor=actor(), action="triage.list", entity="referral", entity_id=None,
            detail={"referrals": [r.id for r in rows]},
        )  # fmt: skip
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    if not rows:
        click.echo("No referrals are awaiting triage.")
    for r in rows:
        name = " ".join(str(r.draft.get(k) or "") for k in ("forename", "surname")).strip()
        best = r.candidates[0] if r.candidates else None
        hint = f"  may be {label(SOURCES, best.target_kind)} {best.target_ref}" if best else ""
        flag = f"  [{URGENCIES[r.urgency]}]" if r.urgent else ""
        click.echo(
            f"{r.id:>6}  {r.received.isoformat()}  {name or '(no name)'}{flag}"
            f"  {len(r.gaps)} gaps{hint}"
        )


@triage_group.command("show")
@click.argument("referral_id", type=int)
@reads
def show_cmd(referral_id: int) -> None:
    """One referral: its details, gaps and candidates (JSON)."""
    with unit_of_work() as (s, session):
        from gateway.cli.context import engine

        item = queries.triage_item(session, s, engine(s), referral_id)
        if item is None:
            raise InputError(f"there is no referral {referral_id}")
        audit.record(
            session, actor=actor(), action="referral.view", entity="referral",
            entity_id=referral_id,
        )  # fmt: skip
        echo_json(
            {
                **item.row.as_dict(),
                "status": item.referral.triage_status,
                "case_id": item.referral.case_id,
                "details": item.referral.details,
                "reason": item.referral.reason,
            }
        )


def _values(json_file: Path | None) -> dict[str, Any]:
    if json_file is None:
        return {}
    try:
        loaded = json.loads(json_file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {json_file} as JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise InputError(f"{json_file} must hold one JSON object of referral fields")
    return loaded


@triage_group.command("open")
@click.argument("referral_id", type=int)
@click.option(
    "--json",
    "json_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Corrections to the referral's details (field names as `cme referral add --json`).",
)
@acting_user()
def open_cmd(referral_id: int, json_file: Path | None) -> None:
    """Open a new case from the referral; prints the case id."""
    with unit_of_work() as (s, session):
        case = triage.open_case(session, s, referral_id, actor(), _values(json_file))
        case_id = case.id
    click.echo(case_id)


@triage_group.command("attach")
@click.argument("referral_id", type=int)
@click.option("--case", "case_id", type=int, required=True, help="The child's case.")
@acting_user()
def attach_cmd(referral_id: int, case_id: int) -> None:
    """Add the referral to the child's existing case (a closed case is reopened)."""
    with unit_of_work() as (s, session):
        case = triage.attach(session, s, referral_id, case_id, actor())
        tag = case.tag
    click.echo(f"Referral {referral_id} added to case {tag}.")


@triage_group.command("dismiss")
@click.argument("referral_id", type=int)
@click.option(
    "--reason",
    required=True,
    type=click.Choice(list(DISMISS_REASONS)),
    help="Why it is not CME: " + "; ".join(f"{k}: {v}" for k, v in DISMISS_REASONS.items()),
)
@click.option("--note", help="Anything the next officer should know.")
@acting_user()
def dismiss_cmd(referral_id: int, reason: str, note: str | None) -> None:
    """Mark the referral as not CME; no case is opened, nothing is deleted."""
    with unit_of_work() as (s, session):
        triage.dismiss(session, s, referral_id, reason, actor(), note)
    click.echo(f"Referral {referral_id}: not CME ({DISMISS_REASONS[reason]}).")
