"""`cme cases` and `cme due`: list and show cases, and the deadlines falling due.

These are reads: this module imports the case queries and the audit log but nothing that
changes a case (gateway.cases.service pulls in matching, letters and the exchange's XML),
so `cme cases list` starts fast. Logging a referral is gateway/cli/referral.py, working
a case gateway/cli/casework.py.
"""

from __future__ import annotations

import click

from gateway import audit
from gateway.cases import queries
from gateway.cli.acting import reads
from gateway.cli.context import actor, echo_json, unit_of_work
from gateway.db import utcnow


@click.group()
def cases() -> None:
    """List and show cases."""


@cases.command("list")
@click.option("--status", help="Only cases in this status.")
@click.option("--open", "open_only", is_flag=True, help="Only cases not closed.")
@click.option("--limit", type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def list_cases(status: str | None, open_only: bool, limit: int | None, as_json: bool) -> None:
    """List cases (id, status, child, date of birth)."""
    with unit_of_work() as (_s, session):
        rows = queries.list_cases(session, status=status, open_only=open_only, limit=limit)
        audit.record(
            session,
            actor=actor(),
            action="cases.list",
            entity="case",
            entity_id=None,
            detail={"count": len(rows), "status": status},
        )
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    for r in rows:
        dob = r.dob.isoformat() if r.dob else "-"
        click.echo(f"{r.id:>6}  {r.status:<28} {r.surname}, {r.forename}  {dob}")


@cases.command("show")
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def show_case(case_id: int, as_json: bool) -> None:
    """Show one case: child, referrals, tasks and timeline."""
    with unit_of_work() as (_s, session):
        case = queries.case_detail(session, case_id)
        child = case.child
        out = {
            "id": case.id,
            "tag": case.tag,
            "status": case.status,
            "outcome": case.outcome,
            "escalations": sorted(case.escalations),
            "child": {
                "forename": child.forenames,
                "surname": child.surname,
                "dob": child.dob.isoformat() if child.dob else None,
                "sex": child.sex,
                "upn": child.upn,
                "postcode": child.current_address.postcode if child.current_address else None,
            },
            "referrals": [
                {
                    "id": r.id,
                    "channel": r.channel,
                    "received": r.received_on.isoformat(),
                    "referrer": r.referrer_name,
                    "reason": r.reason,
                    "gaps": r.gaps,
                }
                for r in case.referrals
            ],
            "tasks": [
                {"id": t.id, "kind": t.kind, "due": t.due.isoformat(), "status": t.status}
                for t in case.tasks
            ],
            "timeline": [
                {"at": e.at.isoformat(), "kind": e.kind, "summary": e.summary}
                for e in queries.timeline(session, case_id)
            ],
        }
        audit.record(session, actor=actor(), action="case.view", entity="case", entity_id=case_id)
    if as_json:
        echo_json(out)
        return
    c = out["child"]
    assert isinstance(c, dict)
    click.echo(f"{out['tag']}  {out['status']}  {c['surname']}, {c['forename']}  {c['dob']}")
    for t in out["tasks"]:  # type: ignore[attr-defined]
        click.echo(f"  task {t['kind']} due {t['due']} ({t['status']})")
    for e in out["timeline"]:  # type: ignore[attr-defined]
        click.echo(f"  {e['at'][:16]}  {e['summary']}")


@click.command()
@click.option(
    "--days",
    type=int,
    default=7,
    show_default=True,
    help="Also list what falls due within this many days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def due(days: int, as_json: bool) -> None:
    """Deadlines due and overdue."""
    from gateway.timers import local_today

    with unit_of_work() as (s, session):
        items = queries.due_items(session, local_today(s, utcnow()).date(), within_days=days)
    if as_json:
        echo_json([i.as_dict() for i in items])
        return
    for i in items:
        flag = "OVERDUE" if i.overdue else "due"
        click.echo(f"case {i.case_id:>6}  {i.kind:<20} {flag} {i.due.isoformat()}")
