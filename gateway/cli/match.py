"""`cme match bench`, `cme roll import` and `cme ehe import`: the matching engine's commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.acting import acting_user, no_user, reads
from gateway.matching.bench import BenchFileError, run_bench
from gateway.matching.decisions import Thresholds
from gateway.settings import load_settings

if TYPE_CHECKING:
    from gateway.models.matching import Register

# The database side (models, sessions, audit) is imported by the commands that use it, so
# `cme match bench` (files in, files out) does not pay for it.


@click.group()
def match() -> None:
    """Match referrals against lost pupils, cases, school rolls and the EHE register."""


@match.command("bench")
@click.option(
    "--store",
    "store_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Store CSV (one row per lost-pupil record).",
)
@click.option(
    "--queries",
    "queries_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Queries CSV (one referral per row).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Predictions CSV to write: query_id,store_id,score (proposed matches).",
)
@click.option(
    "--candidates",
    "cand_path",
    type=click.Path(path_type=Path),
    help="Candidates CSV to write: query_id,store_id,rank (top N per query).",
)
@click.option("--top", default=5, show_default=True, help="Candidates per query.")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Date the referrals were received (for year groups); default today.",
)
@click.option("--upper", type=float, help="Override matching.upper_threshold.")
@no_user
def bench(
    store_path: Path,
    queries_path: Path,
    out_path: Path,
    cand_path: Path | None,
    top: int,
    as_of: object,
    upper: float | None,
) -> None:
    """Run the engine on benchmark CSVs (no answer key is read) and write its decisions."""
    s = load_settings()
    try:
        thresholds = Thresholds(
            upper if upper is not None else s.matching.upper_threshold, s.matching.lower_threshold
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    day = as_of.date() if as_of is not None else date.today()  # type: ignore[attr-defined]
    try:
        run = run_bench(
            store_path, queries_path, out_path, cand_path, thresholds=thresholds, as_of=day, top=top
        )
    except BenchFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(
            {
                "queries": run.queries,
                "store": run.store,
                "proposed": run.decisions,
                "fit_and_compare_s": round(run.fit_s, 2),
                "write_s": round(run.score_s, 2),
            }
        )
    )


def _import(register: Register, path: Path) -> None:
    from gateway.cli.context import actor, unit_of_work
    from gateway.errors import UserError
    from gateway.matching.registers import import_register

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    with unit_of_work() as (_, session):
        result = import_register(session, register, data, name=path.name, actor=actor())
    click.echo(f"imported {result.rows} {register.value} entries from {path.name}")


@click.group()
def roll() -> None:
    """School rolls: who is on which school's roll (step 3: educational status)."""


@roll.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@acting_user()
def roll_import(file: Path) -> None:
    """Import a school roll CSV (columns in docs/roll-csv.md); all rows or none."""
    from gateway.models.matching import Register

    _import(Register.ROLL, file)


@click.group()
def ehe() -> None:
    """The elective home education register."""


@ehe.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@acting_user()
def ehe_import(file: Path) -> None:
    """Import an EHE register CSV (columns in docs/roll-csv.md); all rows or none."""
    from gateway.models.matching import Register

    _import(Register.EHE, file)


@match.command("case")
@click.argument("case_id", type=int)
@click.option("--limit", default=10, show_default=True)
@reads
def match_case(case_id: int, limit: int) -> None:
    """Candidates for a case's child in the other sources, with per-field evidence."""
    from gateway.cli.context import actor, echo_json, unit_of_work
    from gateway.errors import UserError
    from gateway.matching.service import find_candidates, record_from_child
    from gateway.models.case import Case

    with unit_of_work() as (s, session):
        case = session.get(Case, case_id)
        if case is None:
            raise UserError(f"no case {case_id}")
        query = record_from_child(case.child, f"case:{case_id}")
        found = find_candidates(
            session,
            query,
            query_ref=f"case:{case_id}",
            actor=actor(),
            limit=limit + 1,
            thresholds=Thresholds(s.matching.upper_threshold, s.matching.lower_threshold),
        )
        echo_json(
            [
                {
                    "ref": c.ref,
                    "decision": c.candidate.decision.value,
                    "probability": round(c.candidate.probability, 4),
                    "score": c.candidate.score,
                    "evidence": [e.__dict__ for e in c.candidate.evidence],
                }
                for c in found
                if c.ref != f"case:{case_id}"
            ][:limit]
        )


@match.command("decide")
@click.argument("query_ref")
@click.argument("target_ref")
@click.argument("verdict", type=click.Choice(["confirmed", "rejected", "not_sure"]))
@acting_user()
def match_decide(query_ref: str, target_ref: str, verdict: str) -> None:
    """Decide a pair (e.g. case:12 lost_pupil:345 confirmed) and carry out what it means:
    a referral joins the case, a duplicate case is merged, a lost pupil's UPN and school
    go onto the case, a roll or EHE match marks or closes it. Never proposed again."""
    from gateway.cli.context import actor, unit_of_work
    from gateway.matching.confirm import Verdict, decide

    with unit_of_work() as (s, session):
        done = decide(session, s, query_ref, target_ref, Verdict(verdict), actor())
    click.echo(done.message)


COMMANDS: tuple[click.Command, ...] = (match, roll, ehe)
