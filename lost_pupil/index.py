"""The pupil index: normalised names, blocking keys and bulk insertion of CTF pupils."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any, cast

import jellyfish
from sqlalchemy import JSON, Connection, Table, func, insert, select, text
from sqlalchemy.orm import Session

from lost_pupil.models import KeyKind, LostPupil, PupilKey, PupilStatus
from parsers.ctf import CtfHeader, CtfPupil

_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ -")
# Plain strings, looked up once: an enum member's .value costs a descriptor call per use.
_UPN, _SURNAME, _FORENAME = KeyKind.UPN.value, KeyKind.SURNAME.value, KeyKind.FORENAME.value
_OPEN = PupilStatus.OPEN.value


@lru_cache(maxsize=65536)
def normalise_name(raw: str | None) -> str:
    """'Zoë O'Neil-Smith ' -> 'ZOE ONEIL-SMITH': accents off, letters, spaces, hyphens."""
    if not raw:
        return ""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().upper()
    kept = "".join(ch for ch in folded if ch in _KEEP)
    return " ".join(kept.split())


@lru_cache(maxsize=65536)
def name_parts(norm: str) -> tuple[str, ...]:
    """A name and, for hyphenated or double names, each part: 'SMITH-JONES' -> 3 forms."""
    if not norm:
        return ()
    whole = norm.replace("-", "").replace(" ", "")
    parts = [p for p in norm.replace("-", " ").split() if p]
    return (whole, *(p for p in parts if p != whole)) if len(parts) > 1 else (whole,)


@lru_cache(maxsize=65536)
def phonetic(norm_part: str) -> str:
    return jellyfish.metaphone(norm_part)[:8] or norm_part[:4]


def swap_day_month(d: date) -> date | None:
    """The date with day and month exchanged, when that is a different real date."""
    if d.day == d.month or d.day > 12:
        return None
    return date(d.year, d.day, d.month)


def name_keys(surnames: Iterable[str], forenames: Iterable[str]) -> set[tuple[str, str]]:
    """Blocking keys for every (surname, forename) a child is known by, both ways round."""
    snames = {p for s in surnames for p in name_parts(s)}
    fnames = {p for f in forenames for p in name_parts(f)}
    keys: set[tuple[str, str]] = set()
    for s in snames:
        for f in fnames:
            keys.add((_SURNAME, f"{phonetic(s)}:{f[0]}"))
            keys.add((_FORENAME, f"{phonetic(f)}:{s[0]}"))
    return keys


def pupil_row(
    pupil: CtfPupil,
    header: CtfHeader,
    file_id: int,
    *,
    source_laestab: str | None = None,
    dest_kind: str | None = None,
) -> dict[str, Any]:
    """The index row for one pupil (no key rows: those need the row's id).

    source_laestab and dest_kind, when given, are the header's own (a caller indexing a
    whole file works them out once rather than per pupil).
    """
    last = pupil.last_school
    others: list[dict[str, str]] = []
    if pupil.preferred_surname or pupil.preferred_forename:
        others.append(
            {
                "kind": "preferred",
                "surname": normalise_name(pupil.preferred_surname),
                "forename": normalise_name(pupil.preferred_forename),
            }
        )
    for s in pupil.former_surnames:
        others.append({"kind": "former", "surname": normalise_name(s), "forename": ""})
    for f in pupil.former_forenames:
        others.append({"kind": "former", "surname": "", "forename": normalise_name(f)})
    return {
        "file_id": file_id,
        "position": pupil.position,
        "upn": pupil.upn,
        "upn_valid": bool(pupil.upn_check and pupil.upn_check.valid),
        "surname": pupil.surname,
        "forename": pupil.forename,
        "surname_norm": normalise_name(pupil.surname),
        "forename_norm": normalise_name(pupil.forename),
        "middle_names": pupil.middle_names,
        "other_names": others,
        "former_upns": list(pupil.former_upns),
        "dob": pupil.dob,
        "sex": pupil.sex,
        "postcode": pupil.address.postcode if pupil.address else None,
        "source_laestab": header.source.laestab if source_laestab is None else source_laestab,
        "leaving_date": last.leaving_date if last else None,
        "removal_grounds": last.removal_grounds if last else None,
        "dest_kind": header.dest_kind.value if dest_kind is None else dest_kind,
        "status": _OPEN,
        "problems": [p.message for p in pupil.problems] if pupil.problems else [],
    }


def row_keys(row: dict[str, Any]) -> set[tuple[str, str]]:
    """Every blocking key of an index row (UPNs and phonetic name keys)."""
    keys: set[tuple[str, str]] = set()
    for upn in (row["upn"], *row["former_upns"]):
        if upn:
            keys.add((_UPN, upn))
    surnames = [row["surname_norm"]]
    forenames = [row["forename_norm"]]
    for other in row["other_names"]:
        if other["surname"]:
            surnames.append(other["surname"])
        if other["forename"]:
            forenames.append(other["forename"])
    keys |= name_keys([s for s in surnames if s], [f for f in forenames if f])
    return keys


def _reserve_ids(session: Session, n: int) -> list[int]:
    """Ids for n new rows, so the bulk insert needs no RETURNING (which is slow in bulk)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        stmt = text(
            "SELECT nextval(pg_get_serial_sequence('lp_pupils', 'id')) FROM generate_series(1, :n)"
        )
        return [int(v) for v in conn.execute(stmt, {"n": n}).scalars()]
    # SQLite has one writer at a time and this runs inside the write transaction.
    start = conn.execute(select(func.coalesce(func.max(LostPupil.id), 0))).scalar_one()
    return list(range(start + 1, start + 1 + n))


def _positional_marker(conn: Connection) -> str | None:
    """The DBAPI's positional placeholder when rows can go to it as plain tuples."""
    if conn.dialect.name == "sqlite" and conn.dialect.paramstyle == "qmark":
        return "?"
    return None


def _executemany(
    conn: Connection, table: Table, cols: list[str], rows: list[tuple[Any, ...]], marker: str
) -> None:
    """executemany of plain tuples, each value passed through its column type's bind
    processor exactly as a Core insert would, without Core's per-row parameter dicts."""
    dialect = conn.dialect
    procs = [
        (i, proc)
        for i, c in enumerate(cols)
        if (proc := table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    if procs:
        # Column by column (map runs the loop in C); most JSON lists are empty, so an
        # empty one is serialised once, through the same processor.
        columns = list(zip(*rows, strict=True))
        for i, proc in procs:
            if isinstance(table.c[cols[i]].type, JSON):
                empty = proc([])
                columns[i] = tuple(empty if v == [] else proc(v) for v in columns[i])
            else:
                columns[i] = tuple(map(proc, columns[i]))
        rows = list(zip(*columns, strict=True))
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join(marker for _ in cols)})"
    conn.exec_driver_sql(sql, rows)


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert index rows and their keys (plain executemany); returns the new ids."""
    if not rows:
        return []
    ids = _reserve_ids(session, len(rows))
    for pid, row in zip(ids, rows, strict=True):
        row["id"] = pid
    conn = session.connection()
    pupils = cast(Table, LostPupil.__table__)
    keys = cast(Table, PupilKey.__table__)
    key_rows = [
        (kind, key, pid) for pid, row in zip(ids, rows, strict=True) for kind, key in row_keys(row)
    ]
    marker = _positional_marker(conn)
    cols = list(rows[0])
    same = rows[0].keys()
    if marker is not None and all(row.keys() == same for row in rows):
        get = itemgetter(*cols)
        _executemany(conn, pupils, cols, [get(row) for row in rows], marker)
        if key_rows:
            _executemany(conn, keys, ["kind", "key", "pupil_id"], key_rows, marker)
        return ids
    conn.execute(insert(pupils), rows)
    if key_rows:
        conn.execute(insert(keys), [{"kind": k, "key": v, "pupil_id": p} for k, v, p in key_rows])
    return ids
