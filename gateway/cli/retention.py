"""`cme retention`: what is due for disposal, legal holds, a disposal run and its record."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from typing import Any

import click
from sqlalchemy import select

from gateway import audit
from gateway.cli.acting import acting_user, reads
from gateway.cli.context import actor, echo_json, engine, settings, unit_of_work
from gateway.db import session_scope, utcnow


@click.group("retention")
def retention() -> None:
    """How long records are kept ([retention]): what is due, legal holds, disposal."""


@retention.command("preview")
@click.option(
    "--on", "on", type=click.DateTime(formats=["%Y-%m-%d"]), help="As of this day (YYYY-MM-DD)."
)
@click.option("--limit", type=int, default=1000, show_default=True, help="Lines to list; 0: all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def preview_cmd(on: datetime | None, limit: int, as_json: bool) -> None:
    """What a disposal run would remove (ids, rule, due date; never a name)."""
    from gateway.retention.dispose import local_today, preview

    s = settings()
    day = on.date() if on else local_today(s, utcnow())
    with session_scope(engine(s)) as session:
        items = preview(session, s, day)
        audit.record(
            session, actor=actor(), action="retention.preview", entity="retention",
            entity_id=None, detail={"on": day.isoformat(), "items": len(items)},
        )  # fmt: skip
    if as_json:
        echo_json({"on": day.isoformat(), "items": [i.as_dict() for i in items]})
        return
    if not items:
        click.echo(f"Nothing is due for disposal on {day:%d %B %Y}.")
        return
    shown = items if limit <= 0 else items[:limit]
    for item in shown:
        where = f"CME-{item.subject_id}" if item.subject == "case" else str(item.subject_id)
        merged = f"  (with merged {', '.join(f'CME-{c}' for c in item.cases[1:])})"
        click.echo(
            f"{item.subject:<20} {where:<10} {item.due.label:<30} due {item.due.on.isoformat()}"
            + ("  HELD (legal hold)" if item.held else "")
            + (merged if len(item.cases) > 1 else "")
        )
    if len(shown) < len(items):
        click.echo(f"... and {len(items) - len(shown)} more (use --limit 0 or --json)")
    by: Counter[str] = Counter(i.subject for i in items if not i.held)
    held = sum(1 for i in items if i.held)
    summary = ", ".join(f"{n} {subject}" for subject, n in sorted(by.items())) or "nothing"
    click.echo(f"On {day:%d %B %Y}: {summary} due; {held} kept by a legal hold.")


@retention.command("run")
@acting_user("manager")
def run_cmd() -> None:
    """Dispose of everything due today now (the daily job does the same)."""
    from gateway.retention.dispose import run

    s = settings()
    bar: list[Any] = []  # made at the first batch, when the total is known

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(click.progressbar(length=total, label="Disposing", file=sys.stderr))
            bar[0].__enter__()
        bar[0].update(done)

    try:
        report = run(engine(s), s, actor=actor(), progress=progress)
    finally:
        if bar:
            bar[0].__exit__(None, None, None)
    done = ", ".join(f"{n} {k}" for k, n in sorted(report.disposed.items())) or "nothing"
    click.echo(f"Disposed of {done} (due on or before {report.on.isoformat()}).")
    if report.counts:
        click.echo("Removed: " + ", ".join(f"{n} {k}" for k, n in report.counts.items()))
    if report.held:
        click.echo(f"Kept by a legal hold: {report.held}.")
    if report.deferred:
        click.echo(
            f"Deferred to a later run: {report.deferred} (the newest record of its kind, so "
            "its number is never given to a new one)."
        )
    if report.raw_plaintext:
        click.echo(
            f"{report.raw_plaintext} raw message(s) were stored before encryption: their "
            "bytes stay in a plaintext segment until `cme keys rotate` re-encrypts the store."
        )


@retention.command("hold")
@click.argument("case_id", type=int)
@click.option("--reason", help="The order or matter the hold serves.")
@click.option("--clear", is_flag=True, help="Lift the hold.")
@acting_user("manager")
def hold_cmd(case_id: int, reason: str | None, clear: bool) -> None:
    """Put a case on legal hold (kept past retention), or lift the hold with --clear."""
    from gateway.retention.holds import RetentionError, clear_hold, set_hold

    if clear and reason:
        raise RetentionError("give --reason to set a hold, or --clear to lift it, not both")
    with unit_of_work() as (_s, session):
        if clear:
            case = clear_hold(session, case_id, actor=actor())
        else:
            case = set_hold(session, case_id, reason=reason or "", actor=actor())
    state = "on legal hold" if case.legal_hold else "no longer on legal hold"
    click.echo(f"Case CME-{case.id} is {state}.")


@retention.command("log")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def log_cmd(limit: int, as_json: bool) -> None:
    """Disposal records, newest first: what went, when, under which rule (no names)."""
    from gateway.models.retention import RetentionDisposal

    with unit_of_work() as (_s, session):
        rows = session.execute(
            select(RetentionDisposal).order_by(RetentionDisposal.id.desc()).limit(limit)
        ).scalars().all()  # fmt: skip
        records: list[dict[str, Any]] = [
            {
                "at": r.at.isoformat(), "actor": r.actor, "subject": r.subject,
                "id": r.subject_id, "rule": r.rule,
                "counts": r.counts, "digest": r.digest,
            }
            for r in rows
        ]  # fmt: skip
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("No disposals recorded.")
    for r in records:
        total = sum(int(n) for n in r["counts"].values())
        click.echo(
            f"{r['at'][:16]}  {r['subject']:<20} {r['id']:<8} {r['rule']:<30} "
            f"{total} records  sha256 {r['digest'][:16]}…"
        )
