"""`cme keys|partners|enquiry|exchange|monitoring`: the secure exchange on the command line."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography.hazmat.primitives import serialization

from gateway.cli.acting import acting_user, no_user, reads
from gateway.cli.context import actor, echo_json, engine, settings, unit_of_work
from gateway.db import utcnow
from gateway.exchange import dead_letters as dead_queue
from gateway.exchange import monitoring as monitoring_service
from gateway.exchange import partners as partner_service
from gateway.exchange import service, working
from gateway.exchange.errors import ExchangeError
from gateway.exchange.keys import init_keys, load_anchor, load_identity
from gateway.exchange.outbound import dead_letters
from gateway.users import Role

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(fn: F) -> F:
    """An ExchangeError is something the user can fix: one line, non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ExchangeError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group()
def keys() -> None:
    """Our LA's exchange key and S/MIME certificate."""


@keys.command("init")
@click.option("--csr", is_flag=True, help="Also write a certificate signing request.")
@click.option("--days", default=825, show_default=True, help="Certificate lifetime.")
@one_line_errors
@acting_user(Role.ADMIN)
def keys_init(csr: bool, days: int) -> None:
    """Make an RSA 3072 key and an S/MIME certificate in $CME_HOME/keys/, issued by a
    one-off anchor (exchange-ca.crt) that partners' mail clients can trust."""
    s = settings()
    email = s.outbox.from_address
    cert = init_keys(
        s.keys_dir, la_code=s.core.la_code, la_name=s.core.la_name, email=email, csr=csr, days=days
    )
    identity = load_identity(s.keys_dir)
    click.echo(f"certificate: {cert}")
    click.echo(f"SHA-256 fingerprint: {identity.fingerprint}")
    if csr:
        click.echo(f"certificate signing request: {s.keys_dir / 'exchange.csr'}")


@keys.command("export-cert")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@click.option(
    "--anchor",
    is_flag=True,
    help="Also the anchor that issued it, for a partner's mail client to trust (docs/partners.md).",
)
@one_line_errors
@no_user
def keys_export(out: Path | None, anchor: bool) -> None:
    """Print (or write) our certificate in PEM, for partners to pin (with --anchor, the
    issuing anchor too, as a mail client imports it)."""
    s = settings()
    identity = load_identity(s.keys_dir)
    pem = identity.certificate.public_bytes(serialization.Encoding.PEM)
    if anchor:
        issuer = load_anchor(s.keys_dir)
        if issuer is None:
            raise click.ClickException(
                "our certificate was not issued by a local anchor (it is self-signed or "
                "from a CA): give partners the certificate alone"
            )
        pem += issuer.public_bytes(serialization.Encoding.PEM)
    days_left = (identity.certificate.not_valid_after_utc - utcnow()).days
    if days_left <= s.exchange.cert_expiry_warning_days:
        click.echo(f"warning: our certificate expires in {days_left} days", err=True)
    if out:
        out.write_bytes(pem)
        click.echo(f"wrote {out} (SHA-256 {identity.fingerprint})")
    else:
        click.echo(pem.decode("ascii"), nl=False)


@click.group()
def partners() -> None:
    """The directory of partner LAs and their pinned certificates."""


@partners.command("add")
@click.option("--la", "la_code", required=True, help="The partner's 3-digit LA code.")
@click.option("--name", required=True)
@click.option("--email", required=True, help="The partner's CME lead mailbox.")
@click.option("--cert", "cert_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", help="The partner's https://.../exchange endpoint, if they run CME Gateway.")
@click.option("--fingerprint", help="The SHA-256 fingerprint confirmed with the partner.")
@one_line_errors
@acting_user(Role.ADMIN)
def partners_add(
    la_code: str, name: str, email: str, cert_file: str, url: str | None, fingerprint: str | None
) -> None:
    """Add or update a partner, pinning its certificate by SHA-256 fingerprint."""
    with unit_of_work() as (s, session):
        partner = partner_service.add_partner(
            session,
            s,
            la_code=la_code,
            name=name,
            email=email,
            cert_bytes=Path(cert_file).read_bytes(),
            url=url,
            expected_fingerprint=fingerprint,
        )
        warnings = partner_service.expiry_warnings(
            [partner], utcnow(), s.exchange.cert_expiry_warning_days
        )
    click.echo(f"LA {partner.la_code} pinned: SHA-256 {partner.fingerprint}")
    for line in warnings:
        click.echo(f"warning: {line}", err=True)


@partners.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@one_line_errors
@acting_user(Role.ADMIN)
def partners_import(file: Path) -> None:
    """Load a partners.toml directory (each certificate must match its fingerprint)."""
    with unit_of_work() as (s, session):
        added = partner_service.import_directory(session, s, file)
    click.echo(f"{len(added)} partners loaded")


@partners.command("list")
@click.option("--json", "as_json", is_flag=True)
@one_line_errors
@reads
def partners_list(as_json: bool) -> None:
    """The partner directory, with certificate expiry warnings."""
    with unit_of_work() as (s, session):
        found = partner_service.list_partners(session)
        warnings = partner_service.expiry_warnings(
            found, utcnow(), s.exchange.cert_expiry_warning_days
        )
    rows: list[dict[str, Any]] = [
        {
            "la": p.la_code,
            "name": p.name,
            "email": p.email,
            "url": p.url,
            "fingerprint": p.fingerprint,
            "not_after": p.not_after.isoformat(),
        }
        for p in found
    ]
    if as_json:
        echo_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['la']}  {r['name']:<30} {r['email']:<35} {r['url'] or '-'}")
            click.echo(f"     SHA-256 {r['fingerprint']}  expires {r['not_after'][:10]}")
    for line in warnings:
        click.echo(f"warning: {line}", err=True)


@click.group()
def enquiry() -> None:
    """Enquiries to other LAs' CME leads."""


@enquiry.command("send")
@click.option("--case", "case_id", required=True, type=int)
@click.option("--to-la", required=True, help="The partner LA's 3-digit code.")
@click.option("--note", help="A short note for the partner (no more child data than needed).")
@one_line_errors
@acting_user()
def enquiry_send(case_id: int, to_la: str, note: str | None) -> None:
    """Build an enquiry from the case, seal it and queue it (sent by `cme exchange run`)."""
    with unit_of_work() as (s, session):
        row = working.send_enquiry(session, s, case_id, to_la, actor(), note)
        message_id, channel = row.message_id, row.channel
    click.echo(f"enquiry {message_id} queued for LA {to_la} by {channel}")


@click.group()
def exchange() -> None:
    """Exchange messages: deliveries, proposals waiting for you, dead letters."""


@exchange.command("run")
@one_line_errors
@acting_user()
def exchange_run() -> None:
    """Send what is due now (HTTPS now; mail via the outbox), queue status requests, exit."""
    s = settings()
    report = service.tick(engine(s), s)
    click.echo(json.dumps(report))


@exchange.command("pending")
@click.option("--json", "as_json", is_flag=True)
@reads
def exchange_pending(as_json: bool) -> None:
    """Proposals waiting for an officer: replies to send and answers to confirm."""
    with unit_of_work() as (_s, session):
        rows: list[dict[str, Any]] = [
            {
                "id": p.id,
                "kind": p.kind,
                "case_id": p.case_id,
                "from_la": p.detail.get("from_la"),
                "detail": p.detail,
                "created_at": p.created_at.isoformat(),
            }
            for p in working.pending(session)
        ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        d = r["detail"]
        summary = d.get("proposed", {}).get("status") or d.get("status") or "free text"
        click.echo(
            f"{r['id']:>5} {r['kind']:<12} from LA {r['from_la']} case {r['case_id'] or '-'}: "
            f"{summary} ({len(d.get('candidates', []))} candidates)"
        )


@exchange.command("approve")
@click.argument("proposal_id", type=int)
@click.option("--status", help="Change the answer: not-known, on-roll, known-at-address, ...")
@click.option("--laestab", help="School LAESTAB (on-roll).")
@click.option("--start-date", help="School start date YYYY-MM-DD (on-roll).")
@click.option("--note")
@one_line_errors
@acting_user()
def exchange_approve(
    proposal_id: int,
    status: str | None,
    laestab: str | None,
    start_date: str | None,
    note: str | None,
) -> None:
    """Approve a proposal: send the reply, or apply the partner's answer to the case."""
    override = {
        k: v
        for k, v in {
            "status": status,
            "laestab": laestab,
            "start_date": start_date,
            "note": note,
        }.items()
        if v
    }
    with unit_of_work() as (s, session):
        proposal = working.approve(session, s, proposal_id, actor(), override=override)
        kind = proposal.kind
    click.echo(f"proposal {proposal_id} approved ({kind})")


@exchange.command("reject")
@click.argument("proposal_id", type=int)
@click.option("--reason", required=True)
@one_line_errors
@acting_user()
def exchange_reject(proposal_id: int, reason: str) -> None:
    """Reject a proposal; nothing is sent and the case is not changed."""
    with unit_of_work() as (_s, session):
        working.reject(session, proposal_id, actor(), reason)
    click.echo(f"proposal {proposal_id} rejected")


@exchange.command("resend")
@click.argument("source", type=click.Choice([x.value for x in dead_queue.Source]))
@click.argument("item_id", type=int)
@one_line_errors
@acting_user()
def exchange_resend(source: str, item_id: int) -> None:
    """Put a dead letter (an exchange message or an outbox email) back in the queue."""
    with unit_of_work() as (s, session):
        letter = dead_queue.resend(session, s, dead_queue.Source(source), item_id, actor())
    click.echo(f"{letter.what} to {letter.to}: back in the queue")


@exchange.command("abandon")
@click.argument("source", type=click.Choice([x.value for x in dead_queue.Source]))
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="Why it will not be sent (it stays on record).")
@one_line_errors
@acting_user()
def exchange_abandon(source: str, item_id: int, reason: str) -> None:
    """Give up on a dead letter, with the reason (on the case's timeline, audited)."""
    with unit_of_work() as (_s, session):
        letter = dead_queue.abandon(session, dead_queue.Source(source), item_id, reason, actor())
    click.echo(f"{letter.what} to {letter.to}: abandoned")


@exchange.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--dead", is_flag=True, help="Only the dead-letter list.")
@reads
def exchange_list(as_json: bool, dead: bool) -> None:
    """Exchange messages sent and received (never their contents)."""
    from sqlalchemy import select

    from gateway.models.exchange import ExchangeMessage

    with unit_of_work() as (_s, session):
        found = (
            dead_letters(session)
            if dead
            else session.execute(select(ExchangeMessage).order_by(ExchangeMessage.id)).scalars()
        )
        rows = [
            {
                "id": m.id,
                "direction": m.direction,
                "message_id": m.message_id,
                "partner_la": m.partner_la,
                "doc_type": m.doc_type,
                "channel": m.channel,
                "status": m.status,
                "attempts": m.attempts,
                "case_id": m.case_id,
                "wire_sha256": m.wire_sha256,
                "last_error": m.last_error,
            }
            for m in found
        ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(
            f"{r['id']:>5} {r['direction']:<3} LA {r['partner_la']} {r['doc_type']:<14} "
            f"{r['channel']:<5} {r['status']:<16} attempts {r['attempts']}"
        )


@click.group("monitoring")
def monitoring_group() -> None:
    """Children who moved to another LA, monitored until registered at a school."""


@monitoring_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@reads
def monitoring_list(as_json: bool) -> None:
    """Children monitored out of area, overdue first: partner, last confirmed, next request."""
    with unit_of_work() as (s, session):
        rows = monitoring_service.monitoring_list(session, s)
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    if not rows:
        click.echo("No child is being monitored.")
    for r in rows:
        last = r.last_confirmation_at.date().isoformat() if r.last_confirmation_at else "never"
        flag = "  OVERDUE" if r.overdue else ""
        click.echo(
            f"CME-{r.case_id:<6} {r.partner_name} ({r.partner_la})  last confirmed {last}  "
            f"next request {r.next_check_at.date().isoformat()}{flag}"
        )


@monitoring_group.command("stop")
@click.argument("case_id", type=int)
@click.option("--reason", required=True, help="Why monitoring stops (the case stays open).")
@one_line_errors
@acting_user()
def monitoring_stop(case_id: int, reason: str) -> None:
    """Stop monitoring a child with the reason; it goes on the case's timeline."""
    with unit_of_work() as (_s, session):
        monitoring_service.stop(session, case_id, reason, actor())
    click.echo(f"Monitoring of case CME-{case_id} stopped: {reason.strip()}")


@monitoring_group.command("start")
@click.option("--case", "case_id", required=True, type=int)
@click.option("--la", "la_code", required=True)
@one_line_errors
@acting_user()
def monitoring_start(case_id: int, la_code: str) -> None:
    """Put a case on the monitoring list with a partner LA."""
    with unit_of_work() as (s, session):
        monitoring_service.start(session, s, case_id, la_code, actor())
    click.echo(f"case {case_id} monitored with LA {la_code}")


COMMANDS = (keys, partners, enquiry, exchange, monitoring_group)
