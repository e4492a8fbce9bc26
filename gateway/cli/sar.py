"""`cme sar export --case ID --out FILE`: everything held about a child, in one archive for
a subject access request (a manager's command; recorded as a disclosure and audited)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from gateway.cli.acting import acting_user
from gateway.cli.context import actor, engine, unit_of_work


@click.group("sar")
def sar() -> None:
    """Subject access requests."""


def _write_private(out: Path, data: bytes) -> Path:
    """The bytes in a new file beside OUT, readable by this account only (renamed into
    place once the export is on record)."""
    tmp = out.with_name(f".{out.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


@sar.command("export")
@click.option("--case", "case_id", type=int, required=True, help="The case (its number).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The zip to write (it must not exist yet).",
)
@click.option("--reference", help="The council's own reference for the request.")
@acting_user("manager")
def export(case_id: int, out: Path, reference: str | None) -> None:
    """Write one zip (index.html to read, data.json) with everything held about the child:
    the case, timeline, referrals, messages, letters, enquiries, exchange documents,
    onward referrals, disclosures, match decisions and audit entries. Third parties' data
    is marked for review; a referrer who asked not to be named is withheld."""
    from gateway.errors import UserError
    from gateway.sar.export import export_case

    if out.exists():
        raise UserError(f"{out} already exists: give a new file name")
    if not out.parent.is_dir():
        raise UserError(f"there is no folder {out.parent} to write {out.name} into")
    tmp: Path | None = None
    try:
        with unit_of_work() as (s, session):
            done = export_case(
                session, s, engine(s), case_id, actor=actor(), channel="file",
                reference=reference,
            )  # fmt: skip
            tmp = _write_private(out, done.data)
        os.replace(tmp, out)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    click.echo(f"Wrote {out} ({len(done.data):,} bytes, SHA-256 {done.sha256[:16]}...).")
    held = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in done.counts.items() if n)
    click.echo(f"Holds: {held}.")
    click.echo(
        f"{done.marked} item(s) of other people's data marked for review; "
        f"{done.withheld} withheld (a referrer who asked not to be named)."
    )
    if done.attachments_left_out:
        click.echo(
            f"{len(done.attachments_left_out)} attachment(s) listed but not included: "
            "review them by hand."
        )
    click.echo(f"Recorded in the disclosure register (entry {done.disclosure_id}).")
    click.echo("Review index.html before anything is sent: it is a draft, not a reply.")
