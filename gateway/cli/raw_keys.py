"""`cme keys rotate`: the raw store's master key, added to the exchange's `cme keys` group."""

from __future__ import annotations

import click

from gateway import audit
from gateway.cli.acting import acting_user
from gateway.cli.context import actor, engine, settings
from gateway.cli.exchange import keys
from gateway.db import session_scope


@keys.command("rotate")
@click.option("--batch", type=int, default=1000, show_default=True, help="Keys per transaction.")
@acting_user("admin")
def rotate_cmd(batch: int) -> None:
    """A new raw store master key: every message's key re-wrapped under it (and messages
    stored before encryption re-encrypted) while the service runs; then the old key goes."""
    from gateway.intake.rawkeys import RawKeyError
    from gateway.intake.rotation import rotate

    if batch < 1:
        raise click.BadParameter("must be 1 or more", param_hint="--batch")
    s = settings()
    eng = engine(s)
    try:
        report = rotate(s.home, eng, batch=batch)
    except RawKeyError as exc:
        raise click.ClickException(str(exc)) from None
    with session_scope(eng) as session:
        audit.record(
            session, actor=actor(), action="raw_keys.rotate", entity="raw_store",
            entity_id=str(report.version), detail=report.as_dict(),
        )  # fmt: skip
    verb = "finished an unfinished rotation to" if report.resumed else "rotated to"
    click.echo(f"Raw store master key {verb} version {report.version}.")
    click.echo(
        f"Re-wrapped {report.rewrapped} message keys and {report.segment_keys} open segment "
        f"keys; re-encrypted {report.reencrypted} messages stored before encryption and "
        f"removed {report.segments_removed} plaintext segments."
    )
    if report.retired:
        click.echo(f"Deleted master key version(s) {', '.join(map(str, report.retired))}.")
    if report.segments_kept:
        click.echo(f"Plaintext segments kept (see the log): {', '.join(report.segments_kept)}")
    if report.unreadable:
        click.echo(
            f"{len(report.unreadable)} plaintext message(s) could not be read and were left "
            f"as they are: raw {', '.join(map(str, report.unreadable[:20]))}"
        )


__all__ = ["keys"]
