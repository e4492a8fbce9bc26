"""What the demo's matching searches besides cases: lost-pupil files from schools (through
`lost_pupil.ingest.import_ctf`, as `cme ctf import` stores them) and a school roll and the
EHE register (through `gateway.matching.registers.import_register`, as `cme roll|ehe import`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy.orm import Session

from gateway import audit
from gateway.demo.people import Child, ctf_file_name, lost_pupil_ctf
from gateway.matching.registers import import_register
from gateway.models.matching import Register
from gateway.settings import Settings
from lost_pupil.ingest import import_ctf
from lost_pupil.store import FileStore

REGISTER_COLUMNS = (
    "upn", "surname", "forename", "dob", "sex", "year_group", "address", "town", "postcode",
    "contact1_forename", "contact1_surname", "contact1_relationship", "school_laestab",
    "from_date",
)  # fmt: skip


def import_lost_pupils(
    session: Session, settings: Settings, children: Sequence[Child], *, actor: str, today: date
) -> list[int]:
    """One lost-pupil CTF per child (destination unknown), stored and indexed; file ids."""
    from gateway.claims import install

    install()  # stored pupils queue the matching job for the cases they may be
    store = FileStore(settings.home / "lost_pupil", settings.keys_dir / "lost_pupil.key")
    ids: list[int] = []
    for n, child in enumerate(children, start=1):
        left = today - timedelta(days=14 + 9 * n)
        data = lost_pupil_ctf(child, left_on=left, made_at=left + timedelta(days=3), number=n)
        result = import_ctf(
            session,
            store,
            io.BytesIO(data),
            uploader=actor,
            retention_days=settings.lost_pupil.retention_days,
            original_name=ctf_file_name(child, n),
            max_bytes=settings.lost_pupil.max_upload_bytes,
        )
        if not result.duplicate:
            audit.record(
                session, actor=actor, action="lost_pupil.import", entity="ctf_file",
                entity_id=result.file_id,
                detail={"pupils": result.pupils, "source": result.source_laestab},
            )  # fmt: skip
        ids.append(result.file_id)
    return ids


def _register_csv(children: Sequence[Child], *, since: date, laestab: str | None) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REGISTER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for child in children:
        carer = child.carers[0] if child.carers else None
        writer.writerow(
            {
                "upn": child.upn,
                "surname": child.surname,
                "forename": child.forename,
                "dob": child.dob.isoformat(),
                "sex": child.sex,
                "year_group": child.year_group,
                "address": child.address_line1,
                "town": child.town,
                "postcode": child.postcode,
                "contact1_forename": carer.name.split()[0] if carer else "",
                "contact1_surname": carer.name.split()[-1] if carer else "",
                "contact1_relationship": "Mother" if carer else "",
                "school_laestab": laestab or "",
                "from_date": since.isoformat(),
            }
        )
    return out.getvalue().encode("utf-8")


def import_registers(
    session: Session,
    settings: Settings,
    *,
    roll: Sequence[Child],
    roll_school: str,
    ehe: Sequence[Child],
    actor: str,
    today: date,
    load: int,
) -> None:
    """A school's roll and the EHE register, each one CSV as a school or team sends it."""
    import_register(
        session, Register.ROLL,
        _register_csv(roll, since=today - timedelta(days=10), laestab=roll_school),
        name=f"roll-{roll_school}-demo-{load}.csv", actor=actor,
    )  # fmt: skip
    import_register(
        session, Register.EHE, _register_csv(ehe, since=today - timedelta(days=200), laestab=None),
        name=f"ehe-register-demo-{load}.csv", actor=actor,
    )  # fmt: skip
