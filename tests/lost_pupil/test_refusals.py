"""What the lost-pupil store refuses whole (a school-to-school transfer, a DTD in any
encoding) and how rows stored before those refusals stay out of every search; on SQLite
and PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway.exchange import working
from gateway.matching.decisions import Thresholds
from gateway.matching.records import PartialDate, PersonRecord
from gateway.matching.service import find_candidates
from lost_pupil.errors import LostPupilError
from lost_pupil.ingest import import_ctf
from lost_pupil.models import CtfFileRecord, LostPupil
from lost_pupil.search import SearchQuery, search
from lost_pupil.store import FileStore, create_key
from parsers.errors import ParseError
from parsers.exchange import Pupil
from tests.conftest import CliCall
from tests.fixtures import ctf_gen as g

S2S_REFUSAL = (
    "this CTF is addressed to school 806/3001 (a school-to-school transfer), not a "
    "lost-pupil file: send it through S2S to that school"
)
TRANSFER = g.ctf_bytes([g.sample_pupil()], g.CtfOptions(dest="8063001"))


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    create_key(tmp_path / "k.key")
    return FileStore(tmp_path / "store", tmp_path / "k.key")


def _import(session: Session, store: FileStore, data: bytes, **kw: object) -> object:
    return import_ctf(
        session,
        store,
        io.BytesIO(data),
        uploader="test",
        retention_days=30,
        **kw,  # type: ignore[arg-type]
    )


def _nothing_stored(session: Session, store: FileStore) -> None:
    session.commit()
    assert session.scalar(select(func.count()).select_from(CtfFileRecord)) == 0
    assert session.scalar(select(func.count()).select_from(LostPupil)) == 0
    for sub in ("objects", "tmp"):
        folder = store.root / sub
        assert not folder.exists() or not any(folder.iterdir())


def test_a_ctf_addressed_to_a_school_is_refused_naming_it(
    session: Session, store: FileStore
) -> None:
    with pytest.raises(LostPupilError) as refused:
        _import(session, store, TRANSFER)
    assert str(refused.value) == S2S_REFUSAL
    _nothing_stored(session, store)


@pytest.mark.parametrize("dest", ["XXXXXXX", "MMMMMMM"])
def test_lost_and_out_of_s2s_files_are_still_stored(
    session: Session, store: FileStore, dest: str
) -> None:
    _import(session, store, g.ctf_bytes([g.sample_pupil()], g.CtfOptions(dest=dest)))
    session.commit()
    assert session.scalar(select(func.count()).select_from(LostPupil)) == 1


@pytest.mark.parametrize("encoding", sorted(g.HOSTILE_ENCODINGS))
def test_a_doctype_in_any_encoding_is_refused_and_nothing_stored(
    session: Session, store: FileStore, encoding: str
) -> None:
    with pytest.raises(ParseError, match="DOCTYPE"):
        _import(session, store, g.external_entity_in(encoding))
    _nothing_stored(session, store)


@pytest.fixture
def stored_transfer(session: Session, store: FileStore) -> Session:
    """A school-to-school transfer as the store kept it before such files were refused,
    beside 30 lost pupils."""
    _import(session, store, g.ctf_bytes(list(g.many_pupils(30))))
    old = _import(session, store, g.ctf_bytes([g.sample_pupil()]))
    file_id = old.file_id  # type: ignore[attr-defined]
    session.execute(
        update(CtfFileRecord)
        .where(CtfFileRecord.id == file_id)
        .values(dest_code="8063001", dest_kind="school")
    )
    session.execute(
        update(LostPupil).where(LostPupil.file_id == file_id).values(dest_kind="school")
    )
    session.commit()
    return session


def test_rows_stored_with_a_school_destination_are_never_listed(
    stored_transfer: Session,
) -> None:
    for query in (
        SearchQuery(upn=g.sample_pupil().upn),
        SearchQuery(forename="Amelia", surname="Featherstone", dob=g.sample_pupil().dob),
        SearchQuery(postcode="TS10 1AA"),
    ):
        assert all(c.surname != "Featherstone" for c in search(stored_transfer, query, 50))
    some = stored_transfer.execute(
        select(LostPupil).where(LostPupil.dest_kind == "lost").limit(1)
    ).scalar_one()
    assert search(stored_transfer, SearchQuery(upn=some.upn or "", dob=some.dob), 5)
    # Nor offered to the officer as a match for a referral.
    hidden = stored_transfer.execute(
        select(LostPupil.id).where(LostPupil.dest_kind == "school")
    ).scalar_one()
    q = PersonRecord("r1", forename="Amelia", surname="Featherstone", dob=PartialDate(2014, 3, 7))
    found = find_candidates(
        stored_transfer, q, query_ref="referral:1", thresholds=Thresholds(0.98, 0.5), actor="t"
    )
    assert f"lost_pupil:{hidden}" not in {c.ref for c in found}
    # Nor given to a partner LA's enquiry as a lost pupil we hold.
    pupil = Pupil("Featherstone", "Amelia", upn=g.sample_pupil().upn, dob=g.sample_pupil().dob)
    held = [c for c in working.candidates(stored_transfer, pupil) if c["source"] == "lost_pupil"]
    assert hidden not in {c["lost_pupil_id"] for c in held}


def test_the_same_transfer_uploaded_again_is_refused_not_reported_as_held(
    stored_transfer: Session, store: FileStore
) -> None:
    with pytest.raises(LostPupilError, match=r"addressed to school 806/3001"):
        _import(stored_transfer, store, g.ctf_bytes([g.sample_pupil()]))


def test_cli_import_refuses_a_transfer_with_one_line(
    cme_home: Path, cli: CliCall, tmp_path: Path
) -> None:
    transfer = tmp_path / "8073000_CTF_8063001_001.xml"
    transfer.write_bytes(TRANSFER)
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes(g.external_entity_in("utf-16-le-bom"))
    result = cli("ctf", "import", transfer, utf16)
    assert f"rejected {transfer}: {S2S_REFUSAL}" in result.stderr.splitlines()
    assert any(line.startswith(f"rejected {utf16}: ") and "DOCTYPE" in line
               for line in result.stderr.splitlines())  # fmt: skip
    summary = json.loads(cli("ctf", "import", transfer, "--json").stdout)
    assert summary["files"] == 0 and summary["rejected"][0]["reason"] == S2S_REFUSAL
    listed = json.loads(cli("lost-pupils", "search", "--surname", "Featherstone", "--json").stdout)
    assert listed == []
