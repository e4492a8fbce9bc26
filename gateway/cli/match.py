"""`cme match bench`, `cme roll import` and `cme ehe import`: the matching engine's commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from gateway.cli.context import settings
from gateway.errors import UserError
from gateway.matching.bench import BenchFileError, run_bench
from gateway.matching.decisions import Thresholds


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
    s = settings()
    try:
        thresholds = Thresholds(
            upper if upper is not None else s.matching.upper_threshold, s.matching.lower_threshold
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    day = as_of.date() if as_of is not None else date.today()  # type: ignore[attr-defined]
    try:
        run = run_bench(
            store_path, queries_path, out_path, cand_path, thresholds=thresholds, as_of=day, top=top
        )
    except BenchFileError as exc:
        raise UserError(str(exc)) from None
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


COMMANDS: tuple[click.Command, ...] = (match,)
