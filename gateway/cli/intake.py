"""`cme intake FILE.eml...` and `cme quarantine list|show|retry|release`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.cli.acting import acting_user, reads
from gateway.cli.context import actor, echo_json, engine, settings
from gateway.db import session_scope
from gateway.intake import quarantine as q
from gateway.intake.dispatch import DispatchResult, dispatch_safely, result_of
from gateway.intake.rawstore import DISPATCH_JOB, Arrival, RawStore
from gateway.models.intake import IntakeChannel, QuarantineStatus, RawMessage
from gateway.models.ops import Job
from gateway.users import Role


def _mark_job_done(session: Session, sha256: str) -> None:
    # The same job the worker would run; done here so it does not run a second time.
    session.execute(
        update(Job)
        .where(Job.kind == DISPATCH_JOB, Job.key == sha256, Job.status == "queued")
        .values(status="done", attempts=Job.attempts + 1)
    )


@click.command("intake")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@acting_user()
def intake(files: tuple[Path, ...]) -> None:
    """Push raw messages (.eml) through the intake path; one JSON line per file."""
    s = settings()
    eng = engine(s)
    store = RawStore(s.home, eng)
    failed = 0
    try:
        for path in files:
            try:
                data = path.read_bytes()
            except OSError as exc:
                click.echo(f"Error: cannot read {path}: {exc.strerror}", err=True)
                failed += 1
                continue
            stored = store.store(
                data, Arrival(IntakeChannel.FILE, source_ref=f"file:{path.name}"[:300])
            )
            with session_scope(eng) as session:
                result: DispatchResult
                if stored.duplicate:
                    # The same bytes again: what was decided the first time, said as such.
                    row = session.get(RawMessage, stored.raw_id)
                    assert row is not None
                    result = result_of(row)
                else:
                    result = dispatch_safely(session, s, stored.raw_id)
                    _mark_job_done(session, stored.sha256)
                # The pipeline acts as "intake"; this says who put the file into it.
                audit.record(
                    session,
                    actor=actor(),
                    action="intake.file",
                    entity="raw_message",
                    entity_id=stored.raw_id,
                    detail={"file": path.name, "duplicate": stored.duplicate},
                )
            click.echo(json.dumps({**result.as_dict(), "duplicate": stored.duplicate}))
    finally:
        store.close()
    if failed:
        raise SystemExit(1)


@click.group("quarantine")
def quarantine() -> None:
    """Messages held back for an officer: list, show, retry, release."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--all", "include_closed", is_flag=True, help="Include retried and released.")
@reads
def list_cmd(as_json: bool, include_closed: bool) -> None:
    """List held messages (raw id, reason)."""
    s = settings()
    with session_scope(engine(s)) as session:
        items = q.list_held(session, include_closed=include_closed)
    if as_json:
        echo_json([i.as_dict() for i in items])
        return
    if not items:
        click.echo("The quarantine is empty.")
    for i in items:
        click.echo(f"raw {i.raw_id}\t{i.reason}\t{i.channel}\t{i.size} bytes\t{i.detail}")


@quarantine.command("show")
@click.argument("raw_id", type=int)
@click.option("--raw", "show_raw", is_flag=True, help="Print the message bytes as stored.")
@reads
def show(raw_id: int, show_raw: bool) -> None:
    """Show why a message is held (and, with --raw, the message itself)."""
    s = settings()
    eng = engine(s)
    with session_scope(eng) as session:
        item = q.show(session, raw_id, actor())
        row = session.get(RawMessage, raw_id)
        assert row is not None
        data = RawStore(s.home, eng).read(row) if show_raw else None
    if data is not None:
        click.echo(data.decode("utf-8", "replace"))
        return
    echo_json(item.as_dict())


def _rerun(raw_id: int, status: QuarantineStatus) -> None:
    s = settings()
    with session_scope(engine(s)) as session:
        q.resolve(session, raw_id, status, actor())
        result = dispatch_safely(session, s, raw_id, release=status is QuarantineStatus.RELEASED)
    click.echo(json.dumps(result.as_dict()))


@quarantine.command("retry")
@click.argument("raw_id", type=int)
@acting_user()
def retry(raw_id: int) -> None:
    """Dispatch a held message again (e.g. after a fix); it may be held again."""
    _rerun(raw_id, QuarantineStatus.RETRIED)


@quarantine.command("release")
@click.argument("raw_id", type=int)
@acting_user(Role.MANAGER)
def release(raw_id: int) -> None:
    """A manager's decision that a held message is safe: dispatch it without the checks."""
    _rerun(raw_id, QuarantineStatus.RELEASED)


@quarantine.command("referral")
@click.argument("raw_id", type=int)
@acting_user()
def referral_cmd(raw_id: int) -> None:
    """Make a held message a referral awaiting triage (nothing in it is opened)."""
    s = settings()
    with session_scope(engine(s)) as session:
        referral_id = q.make_referral(session, s, raw_id, actor())
    click.echo(f"Raw message {raw_id} is now referral {referral_id}, waiting in triage.")


@quarantine.command("discard")
@click.argument("raw_id", type=int)
@click.option("--reason", required=True, help="Why: for example spam, or sent in error.")
@acting_user()
def discard_cmd(raw_id: int, reason: str) -> None:
    """Close a hold with the reason; the message itself stays in the raw store."""
    s = settings()
    with session_scope(engine(s)) as session:
        q.discard(session, raw_id, reason, actor())
    click.echo(f"Raw message {raw_id} discarded: {reason.strip()}")
