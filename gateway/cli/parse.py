"""`cme parse FILE`: read a referral (.eml, .html, .txt, .docx) and print its draft as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.cli.acting import no_user
from parsers.errors import ParseError
from parsers.mime import MAX_MESSAGE_BYTES
from parsers.referral import SourceKind, parse_referral

_KINDS = {
    ".eml": SourceKind.EMAIL,
    ".msg.eml": SourceKind.EMAIL,
    ".html": SourceKind.HTML,
    ".htm": SourceKind.HTML,
    ".txt": SourceKind.TEXT,
    ".text": SourceKind.TEXT,
    ".docx": SourceKind.DOCX,
}


@click.command("parse")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--brief", is_flag=True, help="Leave out the per-field detail (confidence, source).")
@no_user
def parse(file: Path, brief: bool) -> None:
    """Read a referral FILE (.eml, .html, .txt or .docx) and print the draft as JSON.

    Exits 0 when the file was read, gaps or not; 1 with a one-line message when it cannot be.
    """
    try:
        with file.open("rb") as fh:
            data = fh.read(MAX_MESSAGE_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise click.ClickException(f"{file} is over {MAX_MESSAGE_BYTES} bytes; not a referral")
    if not data.strip():
        raise click.ClickException(f"{file} is empty")
    kind = _KINDS.get(file.suffix.lower())
    try:
        draft = parse_referral(data, kind=kind)
    except ParseError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    out = draft.to_dict()
    if brief:
        out.pop("detail", None)
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))
