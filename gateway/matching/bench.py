"""The benchmark file format (store, queries) in and out: `cme match bench`."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from gateway.matching.decisions import Decision, Thresholds
from gateway.matching.engine import MatchEngine
from gateway.matching.records import Contact, PersonRecord, parse_partial_date

STORE_COLUMNS = ("store_id", "surname", "forename", "dob")
QUERY_COLUMNS = ("query_id", "surname", "forename", "dob")


class BenchFileError(ValueError):
    """A benchmark CSV that cannot be read; the message names the file, row and column."""


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise BenchFileError(f"cannot open {path}: {exc.strerror}") from None
    with fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise BenchFileError(f"{path}: missing column(s) {', '.join(missing)}")
        try:
            for line, row in enumerate(reader, start=2):
                yield line, {k: (v or "").strip() for k, v in row.items() if k}
        except UnicodeDecodeError:
            raise BenchFileError(f"{path}: not UTF-8 text") from None


def _dob(path: Path, line: int, raw: str) -> object:
    try:
        return parse_partial_date(raw)
    except ValueError as exc:
        raise BenchFileError(f"{path} line {line}: dob: {exc}") from None


def _contacts(row: dict[str, str], prefix: str) -> tuple[Contact, ...]:
    out = []
    for i in (1, 2):
        c = Contact(
            row.get(f"{prefix}{i}_forename", ""),
            row.get(f"{prefix}{i}_surname", ""),
            row.get(f"{prefix}{i}_relationship", ""),
        )
        if c.forename or c.surname:
            out.append(c)
    return tuple(out)


def read_store(path: Path) -> list[PersonRecord]:
    """store.csv (lost-pupil records) into person records."""
    out = []
    for line, r in _rows(path, STORE_COLUMNS):
        out.append(
            PersonRecord(
                record_id=r["store_id"],
                upn=r.get("upn", ""),
                surname=r["surname"],
                forename=r["forename"],
                middle_names=r.get("middle_names", ""),
                preferred_forename=r.get("preferred_forename", ""),
                preferred_surname=r.get("preferred_surname", ""),
                former_surnames=tuple(x for x in [r.get("former_surname", "")] if x),
                dob=_dob(path, line, r["dob"]),  # type: ignore[arg-type]
                sex=r.get("sex", ""),
                address=r.get("address", ""),
                town=r.get("town", ""),
                postcode=r.get("postcode", ""),
                contacts=_contacts(r, "contact"),
                school=r.get("school_laestab", ""),
            )
        )
    return out


def read_queries(path: Path) -> list[PersonRecord]:
    """queries.csv (referrals) into person records."""
    out = []
    for line, r in _rows(path, QUERY_COLUMNS):
        out.append(
            PersonRecord(
                record_id=r["query_id"],
                upn=r.get("upn", ""),
                surname=r["surname"],
                forename=r["forename"],
                middle_names=r.get("middle_names", ""),
                aliases=tuple(a.strip() for a in r.get("aliases", "").split(";") if a.strip()),
                dob=_dob(path, line, r["dob"]),  # type: ignore[arg-type]
                sex=r.get("sex", ""),
                year_group=r.get("year_group", ""),
                address=r.get("address", ""),
                town=r.get("town", ""),
                postcode=r.get("postcode", ""),
                contacts=_contacts(r, "parent"),
                school=r.get("previous_school", ""),
            )
        )
    return out


@dataclass(frozen=True)
class BenchRun:
    queries: int
    store: int
    decisions: int
    fit_s: float
    score_s: float
    compared_pairs: int


def run_bench(
    store_path: Path,
    queries_path: Path,
    pred_path: Path,
    cand_path: Path | None,
    *,
    thresholds: Thresholds,
    as_of: date | None = None,
    top: int = 5,
) -> BenchRun:
    """Fit on the given data (no labels), then write one decision per query and the top N."""
    store = read_store(store_path)
    queries = read_queries(queries_path)
    t0 = time.perf_counter()
    engine = MatchEngine(store, thresholds=thresholds, as_of=as_of)
    ranked = engine.match_all(queries, limit=top)
    t1 = time.perf_counter()
    decisions = 0
    pairs = 0
    with pred_path.open("w", newline="", encoding="utf-8") as pf:
        pw = csv.writer(pf)
        pw.writerow(["query_id", "store_id", "score"])
        cw = None
        cf = cand_path.open("w", newline="", encoding="utf-8") if cand_path else None
        try:
            if cf is not None:
                cw = csv.writer(cf)
                cw.writerow(["query_id", "store_id", "rank"])
            for q, cands in zip(queries, ranked, strict=True):
                pairs += len(cands)
                if cands and cands[0].decision is Decision.PROPOSED:
                    pw.writerow([q.record_id, cands[0].record_id, f"{cands[0].probability:.6f}"])
                    decisions += 1
                if cw is not None:
                    for rank, c in enumerate(cands, start=1):
                        cw.writerow([q.record_id, c.record_id, rank])
        finally:
            if cf is not None:
                cf.close()
    return BenchRun(len(queries), len(store), decisions, t1 - t0, time.perf_counter() - t1, pairs)
