"""`cme lost-pupils`: search, show, claim and download lost-pupil records (all audited)."""

from __future__ import annotations

import dataclasses
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from gateway import audit
from gateway.cli.acting import acting_user, reads
from gateway.cli.context import actor, echo_json, unit_of_work
from gateway.cli.ctf import open_store
from lost_pupil.detail import read_pupil
from lost_pupil.errors import LostPupilError
from lost_pupil.lifecycle import claim, expire_due, get_file, get_pupil, purge_disposed, set_hold
from lost_pupil.models import PupilStatus
from lost_pupil.search import SearchQuery, search

STATUSES = [s.value for s in PupilStatus]
FIELDS = ("upn", "forename", "surname", "dob", "sex", "postcode")


def _date(raw: str | None, what: str) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter(f"{what} must be a date like 2014-03-07, not {raw!r}") from None


def candidate_dict(c: Any) -> dict[str, Any]:
    out = dataclasses.asdict(c)
    out["evidence"] = [
        {"field": e.field, "outcome": e.outcome.value, "weight": e.weight, "detail": e.detail}
        for e in c.evidence
    ]
    return out


@click.group("lost-pupils")
def lost_pupils() -> None:
    """The lost-pupil store: find where a missing child went."""
    from gateway.claims import install

    install()


@lost_pupils.command("search")
@click.option("--upn")
@click.option("--forename")
@click.option("--surname")
@click.option("--dob", help="Date of birth, yyyy-mm-dd.")
@click.option("--sex", type=click.Choice(["M", "F", "U"], case_sensitive=False))
@click.option("--postcode")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(["open", "claimed", "expired"])
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@reads
def search_cmd(
    upn: str | None,
    forename: str | None,
    surname: str | None,
    dob: str | None,
    sex: str | None,
    postcode: str | None,
    statuses: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Ranked candidates by UPN (also former UPNs) or any mix of names, DOB, sex, postcode."""
    query = SearchQuery(
        upn=upn,
        forename=forename,
        surname=surname,
        dob=_date(dob, "--dob"),
        sex=sex,
        postcode=postcode,
        statuses=statuses,
    )
    if query.is_empty():
        raise click.UsageError(
            "give at least one of --upn, --forename, --surname, --dob, --postcode"
        )
    with unit_of_work() as (_s, session):
        found = search(session, query, limit)
        used = [
            f for f in ("upn", "forename", "surname", "dob", "sex", "postcode") if getattr(query, f)
        ]
        audit.record(
            session,
            actor=actor(),
            action="lost_pupil.search",
            entity="lost_pupil",
            entity_id=None,
            detail={"fields": used, "results": [c.id for c in found]},
        )
    if as_json:
        echo_json([candidate_dict(c) for c in found])
        return
    if not found:
        click.echo("no candidates")
    for c in found:
        click.echo(
            f"{c.id:>8}  {c.score:.3f}  {c.upn or '-':13}  {c.surname or '-'}, {c.forename or '-'}"
            f"  {c.dob or '-'}  {c.sex or '-'}  {c.postcode or '-'}  from {c.source_laestab}"
            f"  {c.status}"
        )


@lost_pupils.command("show")
@click.argument("pupil_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@reads
def show(pupil_id: int, as_json: bool) -> None:
    """One record in full, read back from the stored file."""
    with unit_of_work() as (s, session):
        try:
            pupil = get_pupil(session, pupil_id)
            record = get_file(session, pupil.file_id)
            header, full = read_pupil(open_store(s), record.sha256, pupil.position)
        except LostPupilError as exc:
            raise click.ClickException(str(exc)) from None
        audit.record(
            session,
            actor=actor(),
            action="lost_pupil.view",
            entity="lost_pupil",
            entity_id=pupil_id,
        )
        data = {
            "id": pupil.id,
            "status": pupil.status,
            "claimed_school": pupil.claimed_school,
            "claimed_from": pupil.claimed_from,
            "file": {
                "id": record.id,
                "sha256": record.sha256,
                "uploader": record.uploader,
                "uploaded_at": record.uploaded_at,
                "source_laestab": record.source_laestab,
                "dest_code": record.dest_code,
                "dest_kind": record.dest_kind,
                "ctf_version": header.version,
            },
            "pupil": dataclasses.asdict(full),
        }
    if as_json:
        echo_json(data)
        return
    p = full
    click.echo(f"Lost-pupil record {pupil.id} ({pupil.status})")
    click.echo(f"  {p.surname}, {p.forename}  UPN {p.upn or '-'}  DOB {p.dob}  sex {p.sex}")
    if p.former_upns:
        click.echo(f"  former UPNs: {', '.join(p.former_upns)}")
    if p.address:
        click.echo(f"  address: {', '.join(p.address.lines)} {p.address.postcode or ''}")
    for contact in p.contacts:
        phones = ", ".join(ph.number for ph in contact.phones)
        click.echo(
            f"  contact: {contact.forename} {contact.surname} ({contact.relationship}) {phones}"
        )
    for spell in p.school_history:
        click.echo(
            f"  school {spell.lea}{spell.estab} {spell.entry_date} to {spell.leaving_date}"
            f" grounds {spell.removal_grounds or '-'}"
        )
    for problem in p.problems:
        click.echo(f"  gap: {problem.message}")
    click.echo(f"  from {record.source_laestab} to {record.dest_code} ({record.dest_kind})")


@lost_pupils.command("claim")
@click.argument("pupil_id", type=int)
@click.option("--school", required=True, help="LAESTAB of the school the child is on roll at.")
@click.option("--date", "on_roll", required=True, help="On roll from (yyyy-mm-dd).")
@acting_user()
def claim_cmd(pupil_id: int, school: str, on_roll: str) -> None:
    """Close a record: the child is on roll at SCHOOL from DATE; searching LAs are told."""
    when = _date(on_roll, "--date")
    assert when is not None
    with unit_of_work() as (_s, session):
        try:
            claim(session, pupil_id, school_laestab=school, on_roll_from=when, actor=actor())
        except LostPupilError as exc:
            raise click.ClickException(str(exc)) from None
        audit.record(
            session,
            actor=actor(),
            action="lost_pupil.claim",
            entity="lost_pupil",
            entity_id=pupil_id,
            detail={"school": school, "from": when.isoformat()},
        )
    click.echo(f"record {pupil_id} claimed: on roll at {school} from {when.isoformat()}")


@lost_pupils.command("download")
@click.argument("pupil_id", type=int)
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write here (default: stdout).")
@reads
def download(pupil_id: int, out: Path | None) -> None:
    """The original CTF bytes of the file the record came from, exactly as uploaded."""
    with unit_of_work() as (s, session):
        try:
            record = get_file(session, get_pupil(session, pupil_id).file_id)
            data = open_store(s).read_bytes(record.sha256)
        except LostPupilError as exc:
            raise click.ClickException(str(exc)) from None
        audit.record(
            session,
            actor=actor(),
            action="lost_pupil.download",
            entity="ctf_file",
            entity_id=record.id,
            detail={"pupil": pupil_id},
        )
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        click.echo(f"wrote {len(data)} bytes to {out}", err=True)


@lost_pupils.command("hold")
@click.argument("file_id", type=int)
@click.option("--reason", help="Why the file must be kept (required to set a hold).")
@click.option("--release", is_flag=True, help="Lift the hold instead.")
@acting_user()
def hold(file_id: int, reason: str | None, release: bool) -> None:
    """Put a stored file on legal hold (kept past retention), or release it."""
    with unit_of_work() as (_s, session):
        try:
            set_hold(session, file_id, hold=not release, reason=reason)
        except LostPupilError as exc:
            raise click.ClickException(str(exc)) from None
        audit.record(
            session,
            actor=actor(),
            action="lost_pupil.release" if release else "lost_pupil.hold",
            entity="ctf_file",
            entity_id=file_id,
            detail={"reason": reason},
        )
    click.echo(f"file {file_id} {'released from' if release else 'placed on'} legal hold")


@lost_pupils.command("expire")
@acting_user()
def expire() -> None:
    """Dispose of files past retention (not on hold), logging each disposal."""
    with unit_of_work() as (s, session):
        report = expire_due(session, actor=actor())
        for sha in report.shas:
            audit.record(
                session,
                actor=actor(),
                action="lost_pupil.dispose",
                entity="ctf_file",
                entity_id=sha[:16],
            )
    with unit_of_work() as (s, session):
        removed = purge_disposed(session, open_store(s))
    click.echo(
        f"{report.files} file(s) disposed ({report.pupils} pupils), "
        f"{report.held_back} kept on legal hold, {removed} encrypted file(s) deleted"
    )
