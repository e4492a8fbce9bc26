"""`cme outbox run|list`: send what is due, see what is waiting."""

from __future__ import annotations

import click
from sqlalchemy import select

from gateway import outbox as outbox_service
from gateway.cli.acting import acting_user, reads
from gateway.cli.context import echo_json, engine, settings, unit_of_work
from gateway.models.ops import OutboxMessage


@click.group()
def outbox() -> None:
    """Letters and messages waiting to be sent."""


@outbox.command("run")
@acting_user()
def run() -> None:
    """Send everything that is due now through the configured relay, then exit."""
    s = settings()
    if not s.smtp.relay:
        raise click.ClickException("no relay configured: set smtp.relay or CME_SMTP_RELAY")
    report = outbox_service.send_due(engine(s), s)
    click.echo(f"sent {report.sent}, will retry {report.failed}, gave up {report.dead}")


@outbox.command("list")
@click.option("--status", help="pending, sent, dead or undelivered.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reads
def list_(status: str | None, as_json: bool) -> None:
    """List outbox messages (never their contents)."""
    with unit_of_work() as (_s, session):
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        rows = [
            {
                "id": m.id,
                "kind": m.kind,
                "case_id": m.case_id,
                "to": m.to_addrs,
                "subject": m.subject,
                "status": m.status,
                "attempts": m.attempts,
                "message_id": m.message_id,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "last_error": m.last_error,
            }
            for m in session.execute(stmt).scalars()
        ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']:>6} {r['status']:<11} {r['kind']:<20} {r['subject']}")
