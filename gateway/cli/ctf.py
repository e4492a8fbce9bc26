"""`cme ctf import FILE...`: store and index Common Transfer Files, one transaction each."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gateway import audit
from gateway.cli.acting import acting_user
from gateway.cli.context import actor, echo_json, engine, settings
from gateway.db import session_scope
from gateway.settings import Settings
from lost_pupil.errors import LostPupilError
from lost_pupil.ingest import import_ctf
from lost_pupil.store import FileStore
from parsers.errors import ParseError


def open_store(s: Settings) -> FileStore:
    try:
        return FileStore(s.home / "lost_pupil", s.keys_dir / "lost_pupil.key")
    except LostPupilError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def ctf() -> None:
    """Common Transfer Files: the lost-pupil store's input."""
    from gateway.claims import install

    install()  # new pupils send the matching job after the cases they may be


@ctf.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@acting_user()
def import_files(files: tuple[Path, ...], as_json: bool) -> None:
    """Store and index each CTF; a file that cannot be read is rejected with its reason."""
    s = settings()
    store = open_store(s)
    eng = engine(s)
    who = actor()
    summary: dict[str, Any] = {
        "files": 0,
        "pupils": 0,
        "duplicates": 0,
        "rejected": [],
        "with_problems": 0,
    }
    total = sum(f.stat().st_size for f in files if f.is_file())
    with click.progressbar(length=total, label="Importing CTFs", file=sys.stderr) as bar:
        for path in files:
            try:
                with path.open("rb") as fh, session_scope(eng) as session:
                    result = import_ctf(
                        session,
                        store,
                        fh,
                        uploader=who,
                        retention_days=s.lost_pupil.retention_days,
                        original_name=path.name,
                        max_bytes=s.lost_pupil.max_upload_bytes,
                        progress=bar.update,
                    )
                    if not result.duplicate:
                        audit.record(
                            session,
                            actor=who,
                            action="lost_pupil.import",
                            entity="ctf_file",
                            entity_id=result.file_id,
                            detail={"pupils": result.pupils, "source": result.source_laestab},
                        )
            except (ParseError, LostPupilError) as exc:
                summary["rejected"].append({"file": str(path), "reason": str(exc)})
                continue
            except OSError as exc:
                reason = f"cannot read the file: {exc.strerror or exc}"
                summary["rejected"].append({"file": str(path), "reason": reason})
                continue
            summary["files"] += 1
            summary["duplicates"] += int(result.duplicate)
            summary["pupils"] += 0 if result.duplicate else result.pupils
            summary["with_problems"] += len(result.pupil_problems)
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"{summary['files']} file(s) stored ({summary['duplicates']} already held), "
        f"{summary['pupils']} pupil(s) indexed, {summary['with_problems']} with gaps, "
        f"{len(summary['rejected'])} rejected"
    )
    for item in summary["rejected"]:
        click.echo(f"rejected {item['file']}: {item['reason']}", err=True)
    sys.stdout.flush()
