"""The benchmark file format (store, queries) in and out: `cme match bench`."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from gateway.matching.decisions import Decision, Thresholds
from gateway.matching.records import Contact, PersonRecord, parse_partial_date
from gateway.matching.sharded import drop_caches, gc_paused, match_batch

STORE_COLUMNS = ("store_id", "surname", "forename", "dob")
QUERY_COLUMNS = ("query_id", "surname", "forename", "dob")


class BenchFileError(ValueError):
    """A benchmark CSV that cannot be read; the message names the file, row and column."""


def _table(path: Path, required: tuple[str, ...]) -> tuple[dict[str, int], Iterator[list[str]]]:
    """The header's column positions and the rows (each padded to the header's width).

    A plain csv.reader: the per-row dict of DictReader was most of the cost of reading."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise BenchFileError(f"cannot open {path}: {exc.strerror}") from None
    reader = csv.reader(fh)
    try:
        header = [h.strip() for h in next(reader, [])]
    except UnicodeDecodeError:
        fh.close()
        raise BenchFileError(f"{path}: not UTF-8 text") from None
    missing = [c for c in required if c not in header]
    if missing:
        fh.close()
        raise BenchFileError(f"{path}: missing column(s) {', '.join(missing)}")
    width = len(header)

    def rows() -> Iterator[list[str]]:
        with fh:
            try:
                for row in reader:
                    if not row:
                        continue  # a blank line is no record
                    if len(row) < width:
                        row += [""] * (width - len(row))
                    yield row
            except UnicodeDecodeError:
                raise BenchFileError(f"{path}: not UTF-8 text") from None

    # A repeated column name: the last one wins, as it did with DictReader.
    cols = {h: i for i, h in enumerate(header) if h}
    return cols, rows()


def _getter(cols: dict[str, int]) -> Callable[[list[str], str], str]:
    def get(row: list[str], name: str) -> str:
        i = cols.get(name)
        return row[i].strip() if i is not None else ""

    return get


@lru_cache(maxsize=65_536)
def _parse_dob(raw: str) -> object:
    return parse_partial_date(raw)


def _dob(path: Path, line: int, raw: str) -> object:
    try:
        return _parse_dob(raw)
    except ValueError as exc:
        raise BenchFileError(f"{path} line {line}: dob: {exc}") from None


@lru_cache(maxsize=65_536)
def _contact(forename: str, surname: str, relationship: str) -> Contact:
    # One object per distinct contact: siblings share their parents.
    return Contact(forename, surname, relationship)


def _contacts(
    get: Callable[[list[str], str], str], row: list[str], prefix: str
) -> tuple[Contact, ...]:
    out = []
    for i in (1, 2):
        fn, sn = get(row, f"{prefix}{i}_forename"), get(row, f"{prefix}{i}_surname")
        if fn or sn:
            out.append(_contact(fn, sn, get(row, f"{prefix}{i}_relationship")))
    return tuple(out)


def _columns(cols: dict[str, int], names: tuple[str, ...]) -> list[int]:
    """Each named column's position; -1 for a column the file lacks, which reads the empty
    cell appended to each row."""
    return [cols.get(n, -1) for n in names]


_STORE_FIELDS = (
    "store_id",
    "upn",
    "surname",
    "forename",
    "middle_names",
    "preferred_forename",
    "preferred_surname",
    "former_surname",
    "dob",
    "sex",
    "address",
    "town",
    "postcode",
    "contact1_forename",
    "contact1_surname",
    "contact1_relationship",
    "contact2_forename",
    "contact2_surname",
    "contact2_relationship",
    "school_laestab",
)


@lru_cache(maxsize=65_536)
def _contact_pair(
    fn1: str, sn1: str, rel1: str, fn2: str, sn2: str, rel2: str
) -> tuple[Contact, ...]:
    # One tuple per distinct pair of contacts: siblings share both parents.
    if fn1 or sn1:
        if fn2 or sn2:
            return (_contact(fn1, sn1, rel1), _contact(fn2, sn2, rel2))
        return (_contact(fn1, sn1, rel1),)
    if fn2 or sn2:
        return (_contact(fn2, sn2, rel2),)
    return ()


def read_store(path: Path) -> list[PersonRecord]:
    """store.csv (lost-pupil records) into person records."""
    cols, rows = _table(path, STORE_COLUMNS)
    at = _columns(cols, _STORE_FIELDS)
    out = []
    record = PersonRecord
    contacts = _contact_pair
    for line, r in enumerate(rows, start=2):
        r.append("")
        (
            sid,
            upn,
            sn,
            fn,
            mid,
            pfn,
            psn,
            former,
            dob,
            sex,
            addr,
            town,
            pc,
            c1f,
            c1s,
            c1r,
            c2f,
            c2s,
            c2r,
            school,
        ) = [r[i].strip() for i in at]
        out.append(
            record(
                sid,
                fn,
                sn,
                mid,
                (),
                pfn,
                psn,
                (former,) if former else (),
                _dob(path, line, dob),  # type: ignore[arg-type]
                sex,
                upn,
                (),
                addr,
                town,
                pc,
                contacts(c1f, c1s, c1r, c2f, c2s, c2r),
                school,
            )
        )
    return out


def read_queries(path: Path) -> list[PersonRecord]:
    """queries.csv (referrals) into person records."""
    cols, rows = _table(path, QUERY_COLUMNS)
    get = _getter(cols)
    out = []
    for line, r in enumerate(rows, start=2):
        out.append(
            PersonRecord(
                record_id=get(r, "query_id"),
                upn=get(r, "upn"),
                surname=get(r, "surname"),
                forename=get(r, "forename"),
                middle_names=get(r, "middle_names"),
                aliases=tuple(a.strip() for a in get(r, "aliases").split(";") if a.strip()),
                dob=_dob(path, line, get(r, "dob")),  # type: ignore[arg-type]
                sex=get(r, "sex"),
                year_group=get(r, "year_group"),
                address=get(r, "address"),
                town=get(r, "town"),
                postcode=get(r, "postcode"),
                contacts=_contacts(get, r, "parent"),
                school=get(r, "previous_school"),
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
    with gc_paused():  # the records hold no reference cycles: no collector passes over them
        store = read_store(store_path)
        queries = read_queries(queries_path)
    t0 = time.perf_counter()
    ranked = match_batch(store, queries, thresholds=thresholds, as_of=as_of, limit=top)
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
    drop_caches()
    for cached in (_parse_dob, _contact, _contact_pair):
        cached.cache_clear()
    return BenchRun(len(queries), len(store), decisions, t1 - t0, time.perf_counter() - t1, pairs)
