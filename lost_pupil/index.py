"""The pupil index: normalised names, blocking keys and batched insertion of CTF pupils."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any, cast

import jellyfish
from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.orm import Session

from lost_pupil.models import KeyKind, LostPupil, PupilKey, PupilStatus
from parsers.ctf import CtfPupil

_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ -")
# Plain strings, looked up once: an enum member's .value costs a descriptor call per use.
_UPN, _SURNAME, _FORENAME = KeyKind.UPN.value, KeyKind.SURNAME.value, KeyKind.FORENAME.value
_OPEN = PupilStatus.OPEN.value
#: Entries per name cache: common names are most of any file, and the caches (with the
#: import's page cache) must keep an import of the largest file well under 200 MB.
_NAME_CACHE = 16384


@lru_cache(maxsize=_NAME_CACHE)
def normalise_name(raw: str | None) -> str:
    """'Zoë O'Neil-Smith ' -> 'ZOE ONEIL-SMITH': accents off, letters, spaces, hyphens."""
    if not raw:
        return ""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().upper()
    kept = "".join(ch for ch in folded if ch in _KEEP)
    return " ".join(kept.split())


@lru_cache(maxsize=_NAME_CACHE)
def name_parts(norm: str) -> tuple[str, ...]:
    """A name and, for hyphenated or double names, each part: 'SMITH-JONES' -> 3 forms."""
    if not norm:
        return ()
    whole = norm.replace("-", "").replace(" ", "")
    parts = [p for p in norm.replace("-", " ").split() if p]
    return (whole, *(p for p in parts if p != whole)) if len(parts) > 1 else (whole,)


@lru_cache(maxsize=_NAME_CACHE)
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


#: The lp_pupils columns an ingest writes, in this order (the rest keep their defaults).
PUPIL_COLUMNS = (
    "id",
    "file_id",
    "position",
    "upn",
    "upn_valid",
    "surname",
    "forename",
    "surname_norm",
    "forename_norm",
    "middle_names",
    "other_names",
    "former_upns",
    "dob",
    "sex",
    "postcode",
    "source_laestab",
    "leaving_date",
    "removal_grounds",
    "dest_kind",
    "status",
    "problems",
)
KEY_COLUMNS = ("kind", "key", "pupil_id")
#: The written columns that may be NULL: one that is NULL in every row of a batch is left
#: out of that batch's INSERT (it has no default, so the row is the same), because
#: sqlite3 binds None through its adapter look-up, which costs more than any other value.
_NULLABLE = tuple(
    i
    for i, c in enumerate(PUPIL_COLUMNS)
    if cast(Table, LostPupil.__table__).c[c].nullable
    and cast(Table, LostPupil.__table__).c[c].default is None
    and cast(Table, LostPupil.__table__).c[c].server_default is None
)
#: Pupils per executemany (and per reservation of ids from the sequence on PostgreSQL).
BATCH = 5000
#: SQLite page cache (KiB) while a file is indexed: the random inserts into the key, DOB
#: and postcode indexes stay in memory instead of spilling pages to the WAL mid-import.
#: A 100k-pupil file dirties about 35 MB of pages: at 32 MB it spilled 9 MB to the WAL
#: and each later batch went slower; at 48 MB it spills none, and peak RSS grew 3 MB.
_INGEST_CACHE_KIB = 48 * 1024
_Names = tuple[str | None, str | None, tuple[str, ...], tuple[str, ...]]


@lru_cache(maxsize=_NAME_CACHE)
def _cached_name_keys(
    surnames: tuple[str, ...], forenames: tuple[str, ...]
) -> tuple[tuple[str, str, str], ...]:
    # Names repeat across pupils (siblings, common names): the phonetic keys of a set of
    # names are worked out once, each as (kind + key, kind, key): kind + key sorts as
    # (kind, key) does, the kind being one character, and a string sorts far faster.
    return tuple((kind + key, kind, key) for kind, key in name_keys(surnames, forenames))


def _other_names(names: _Names) -> tuple[list[dict[str, str]], tuple[str, ...], tuple[str, ...]]:
    """The other_names value and the extra surnames and forenames it gives the keys."""
    pref_s, pref_f, former_s, former_f = names
    others: list[dict[str, str]] = []
    if pref_s or pref_f:
        others.append(
            {
                "kind": "preferred",
                "surname": normalise_name(pref_s),
                "forename": normalise_name(pref_f),
            }
        )
    for s in former_s:
        others.append({"kind": "former", "surname": normalise_name(s), "forename": ""})
    for f in former_f:
        others.append({"kind": "former", "surname": "", "forename": normalise_name(f)})
    surnames = tuple(o["surname"] for o in others if o["surname"])
    forenames = tuple(o["forename"] for o in others if o["forename"])
    return others, surnames, forenames


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


def _identity(value: Any) -> Any:
    return value


_first, _key_row = itemgetter(0), itemgetter(1, 2, 3)


def _insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """rows into table's columns, in order, by one executemany of a one-row INSERT.

    (A multi-row VALUES statement runs fewer instructions under callgrind but took more
    CPU time on this machine's SQLite, measured side by side: not used.)
    """
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


class IndexWriter:
    """Index rows and blocking keys of one file's pupils, written in batches.

    On SQLite the rows go to the driver as plain tuples, each value through its column
    type's bind processor exactly as a Core insert would pass it, and the key rows
    sorted so each batch lands in the key index in order; on PostgreSQL through a Core
    executemany. Call close() whatever happens: it restores the connection's settings.
    """

    def __init__(
        self, session: Session, file_id: int, *, source_laestab: str, dest_kind: str
    ) -> None:
        self._session = session
        self._conn = session.connection()
        self._file_id, self._source, self._dest_kind = file_id, source_laestab, dest_kind
        dialect = self._conn.dialect
        self._sqlite = dialect.name == "sqlite" and dialect.paramstyle == "qmark"
        table = cast(Table, LostPupil.__table__)

        def proc(column: str) -> Callable[[Any], Any]:
            if not self._sqlite:
                return _identity  # Core applies the processors itself
            found = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
            return found or _identity

        self._date, self._bool, self._json = proc("dob"), proc("upn_valid"), proc("other_names")
        self._empty = self._json([])
        self._valid, self._invalid = self._bool(True), self._bool(False)
        # Dates repeat (a few thousand birthdays, fewer leaving days): each is bound once.
        self._dates: dict[date | None, Any] = {None: None}
        self._others: dict[_Names, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
        self._rows: list[tuple[Any, ...]] = []
        # (kind + key, kind, key, pupil): distinct per pupil, in pupil order in a batch.
        self._keys: list[tuple[str, str, str, int]] = []
        self._next_id = 0
        self._cache_kib: int | None = None
        if self._sqlite:
            # One writer holds the file (this runs inside the write transaction), so the
            # ids after the largest are ours: no RETURNING, no reservation per batch.
            self._next_id = _reserve_ids(session, 1)[0]
            self._cache_kib = self._conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
            self._conn.exec_driver_sql(f"PRAGMA cache_size=-{_INGEST_CACHE_KIB}")
        self.count = 0

    def add(self, pupil: CtfPupil) -> None:
        """Queue one pupil's row and keys (written every BATCH pupils)."""
        # On SQLite the row's own id; elsewhere its place in the batch, swapped for an id
        # from the sequence at flush (so a one-pupil file takes one id, not a batch's).
        if self._sqlite:
            pid = self._next_id
            self._next_id += 1
        else:
            pid = len(self._rows)
        names = (
            pupil.preferred_surname,
            pupil.preferred_forename,
            pupil.former_surnames,
            pupil.former_forenames,
        )
        other = self._others.get(names)
        if other is None:
            if len(self._others) >= _NAME_CACHE:
                self._others.clear()
            others, extra_s, extra_f = _other_names(names)
            value = self._json(others) if others else self._empty
            other = self._others[names] = (value, extra_s, extra_f)
        others_value, extra_s, extra_f = other
        surname_norm = normalise_name(pupil.surname)
        forename_norm = normalise_name(pupil.forename)
        keys = self._keys
        upn = pupil.upn
        if upn:
            keys.append((_UPN + upn, _UPN, upn, pid))
        former = pupil.former_upns
        if former:
            # A former UPN given twice, or equal to the current one, is one key.
            seen = {upn}
            for f in former:
                if f and f not in seen:
                    seen.add(f)
                    keys.append((_UPN + f, _UPN, f, pid))
        surnames = (surname_norm, *extra_s) if surname_norm else extra_s
        forenames = (forename_norm, *extra_f) if forename_norm else extra_f
        if surnames and forenames:
            keys += [
                (kk, kind, key, pid) for kk, kind, key in _cached_name_keys(surnames, forenames)
            ]
        last = pupil.last_school
        dates = self._dates
        dob = pupil.dob
        dob_value = dates.get(dob)
        if dob_value is None and dob is not None:
            dob_value = dates[dob] = self._date(dob)
        leaving = last.leaving_date if last else None
        leaving_value = dates.get(leaving)
        if leaving_value is None and leaving is not None:
            leaving_value = dates[leaving] = self._date(leaving)
        address = pupil.address
        upn_check = pupil.upn_check
        problems = pupil.problems
        self._rows.append(
            (
                pid,
                self._file_id,
                pupil.position,
                upn,
                self._valid if upn_check and upn_check.valid else self._invalid,
                pupil.surname,
                pupil.forename,
                surname_norm,
                forename_norm,
                pupil.middle_names,
                others_value,
                self._json(list(former)) if former else self._empty,
                dob_value,
                pupil.sex,
                address.postcode if address else None,
                self._source,
                leaving_value,
                last.removal_grounds if last else None,
                self._dest_kind,
                _OPEN,
                self._json([p.message for p in problems]) if problems else self._empty,
            )
        )
        self.count += 1
        if len(self._rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        rows, keys = self._rows, self._keys
        self._rows, self._keys = [], []
        if not rows:
            return
        # Sorted by kind + key (the sort is stable, so by pupil within a key: the order
        # of (kind, key, pupil_id)), they go into the primary-key index in order.
        keys.sort(key=_first)
        pupils = cast(Table, LostPupil.__table__)
        key_table = cast(Table, PupilKey.__table__)
        if self._sqlite:
            keep = [
                i
                for i in range(len(PUPIL_COLUMNS))
                if i not in _NULLABLE or any(r[i] is not None for r in rows)
            ]
            if len(keep) < len(PUPIL_COLUMNS):
                rows = list(map(itemgetter(*keep), rows))
            _insert_rows(self._conn, pupils.name, [PUPIL_COLUMNS[i] for i in keep], rows)
            if keys:
                _insert_rows(self._conn, key_table.name, KEY_COLUMNS, list(map(_key_row, keys)))
            return
        ids = _reserve_ids(self._session, len(rows))
        self._conn.execute(
            insert(pupils),
            [dict(zip(PUPIL_COLUMNS, (ids[r[0]], *r[1:]), strict=True)) for r in rows],
        )
        if keys:
            self._conn.execute(
                insert(key_table),
                [{"kind": kind, "key": key, "pupil_id": ids[at]} for _, kind, key, at in keys],
            )

    def close(self) -> None:
        """Restore the connection's page cache (the connection goes back to the pool)."""
        if self._cache_kib is not None:
            self._conn.exec_driver_sql(f"PRAGMA cache_size={int(self._cache_kib)}")
            self._cache_kib = None
