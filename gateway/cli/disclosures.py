"""`cme disclosures list`: the disclosure register (manager and above)."""

from __future__ import annotations

import click

from gateway import audit
from gateway.cli.acting import acting_user
from gateway.cli.context import actor, echo_json, unit_of_work
from gateway.disclosures import BASES, KINDS, LawfulBasis, list_disclosures


@click.group("disclosures")
def disclosures() -> None:
    """What child data left the system: to whom, on what basis, by which channel."""


@disclosures.command("list")
@click.option("--case", "case_id", type=int, help="Only disclosures about this case.")
@click.option("--limit", type=int, default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@acting_user("manager")
def list_cmd(case_id: int | None, limit: int, as_json: bool) -> None:
    """The register, newest first (reading it is audited: it describes children's data)."""
    with unit_of_work() as (_s, session):
        rows, total = list_disclosures(session, case_id=case_id, limit=limit)
        audit.record(
            session, actor=actor(), action="disclosures.list", entity="disclosure",
            entity_id=None, detail={"case": case_id, "rows": len(rows)},
        )  # fmt: skip
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    if not rows:
        click.echo("No disclosures recorded.")
    for r in rows:
        basis = BASES.get(LawfulBasis(r.basis), r.basis).split(":")[0]
        click.echo(
            f"{r.at:%Y-%m-%d %H:%M}  {KINDS.get(r.kind, r.kind):<32} "
            f"{'CME-' + str(r.case_id) if r.case_id else '-':<9} {r.channel:<8} "
            f"{basis:<18} {r.recipient}"
        )
    if total > len(rows):
        click.echo(f"({total - len(rows)} older not shown: use --limit)")
