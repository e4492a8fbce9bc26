"""School roll and EHE register imports: the CSV columns of docs/roll-csv.md into rows."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.errors import UserError
from gateway.matching.candidates import queue_source_refresh
from gateway.models.matching import Register, RegisterEntry
from parsers.identifiers import normalise_postcode, normalise_upn

REQUIRED = ("surname", "forename", "dob")
OPTIONAL = (
    "upn",
    "former_upns",
    "middle_names",
    "former_surnames",
    "preferred_forename",
    "sex",
    "year_group",
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
    "from_date",
    "to_date",
)
_YEAR_GROUP = re.compile(r"^(R|N|[1-9]|1[0-4])$")
_LAESTAB = re.compile(r"^\d{7}$")
_UPN_SHAPE = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")
MAX_ROWS = 200_000


class RegisterImportError(UserError):
    """A register file that cannot be imported; nothing from it was stored."""


@dataclass(frozen=True)
class ImportResult:
    register: Register
    rows: int
    batch_sha256: str


def _date(value: str, where: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RegisterImportError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _row(raw: dict[str, str], where: str) -> dict[str, Any]:
    r = {k: (raw.get(k) or "").strip() for k in (*REQUIRED, *OPTIONAL)}
    for col in ("surname", "forename"):
        if not r[col]:
            raise RegisterImportError(f"{where}, column {col}: empty; every child needs one")
    dob = _date(r["dob"], f"{where}, column dob")
    if dob is None:
        raise RegisterImportError(f"{where}, column dob: empty; every child needs one")
    sex = r["sex"].upper()
    if sex not in ("", "M", "F"):
        raise RegisterImportError(f"{where}, column sex: {r['sex']!r} is not M, F or empty")
    upns = [normalise_upn(u) for u in [r["upn"], *r["former_upns"].split(";")] if u.strip()]
    for u in upns:
        if not _UPN_SHAPE.match(u):
            raise RegisterImportError(
                f"{where}: UPN {u!r} is not 13 characters (a letter, 11 digits, a digit or letter)"
            )
    yg = r["year_group"].upper()
    if yg and not _YEAR_GROUP.match(yg):
        raise RegisterImportError(f"{where}, column year_group: {yg!r} is not R, N or 1-14")
    school = r["school_laestab"]
    if school and not _LAESTAB.match(school):
        raise RegisterImportError(f"{where}, column school_laestab: {school!r} is not 7 digits")
    contacts = [
        {
            "forename": r[f"contact{i}_forename"],
            "surname": r[f"contact{i}_surname"],
            "relationship": r[f"contact{i}_relationship"],
        }
        for i in (1, 2)
        if r[f"contact{i}_forename"] or r[f"contact{i}_surname"]
    ]
    return {
        "upn": normalise_upn(r["upn"]) or None,
        "former_upns": upns[1:] if r["upn"].strip() else upns,
        "surname": r["surname"],
        "forename": r["forename"],
        "middle_names": r["middle_names"] or None,
        "former_surnames": [s.strip() for s in r["former_surnames"].split(";") if s.strip()],
        "preferred_forename": r["preferred_forename"] or None,
        "dob": dob,
        "sex": sex or None,
        "year_group": yg or None,
        "address": r["address"] or None,
        "town": r["town"] or None,
        "postcode": normalise_postcode(r["postcode"]) or (r["postcode"].upper() or None),
        "contacts": contacts,
        "school_laestab": school or None,
        "from_date": _date(r["from_date"], f"{where}, column from_date"),
        "to_date": _date(r["to_date"], f"{where}, column to_date"),
    }


def parse_register_csv(data: bytes, name: str) -> list[dict[str, Any]]:
    """Every row checked before any is stored: one bad row refuses the file, naming it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegisterImportError(f"{name}: not UTF-8 text; save it as CSV UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RegisterImportError(f"{name}: missing column(s) {', '.join(missing)}")
    unknown = [h for h in header if h and h not in (*REQUIRED, *OPTIONAL)]
    if unknown:
        raise RegisterImportError(
            f"{name}: unknown column(s) {', '.join(unknown)} (see docs/roll-csv.md)"
        )
    reader.fieldnames = header
    rows = []
    try:
        for line, raw in enumerate(reader, start=2):
            if None in raw:
                raise RegisterImportError(f"{name} line {line}: more fields than the header")
            rows.append(_row(raw, f"{name} line {line}"))
            if len(rows) > MAX_ROWS:
                raise RegisterImportError(f"{name}: more than {MAX_ROWS} rows; split the file")
    except csv.Error as exc:
        raise RegisterImportError(f"{name}: not a readable CSV file ({exc})") from None
    if not rows:
        raise RegisterImportError(f"{name}: no rows after the header")
    return rows


def import_register(
    session: Session, register: Register, data: bytes, *, name: str, actor: str
) -> ImportResult:
    """Store a school roll or EHE register file (all rows or none), audited."""
    sha = hashlib.sha256(data).hexdigest()
    already = session.execute(
        select(RegisterEntry.id)
        .where(RegisterEntry.batch_sha256 == sha, RegisterEntry.register == register.value)
        .limit(1)
    ).first()
    if already:
        raise RegisterImportError(f"{name}: this file was already imported (sha256 {sha[:12]})")
    rows = parse_register_csv(data, name)
    for line, row in enumerate(rows, start=2):
        session.add(
            RegisterEntry(
                register=register.value,
                batch_sha256=sha,
                source_name=name,
                line=line,
                imported_by=actor,
                **row,
            )
        )
    audit.record(
        session,
        actor=actor,
        action=f"{register.value}_import",
        entity="register_entries",
        entity_id=sha,
        detail={"rows": len(rows), "file": name},
    )
    session.flush()
    # The referrals and cases these children may be: their candidates are recomputed.
    queue_source_refresh(session, "register", sha)
    return ImportResult(register, len(rows), sha)
