"""A source changes (a roll imported, a CTF stored): the matching job looks again for the
referrals and cases its new records may be, and only those."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import jobs
from gateway.cli.context import unit_of_work
from gateway.db import make_engine
from gateway.models.matching import MatchCandidate
from gateway.settings import load_settings
from tests.fixtures import ctf_gen

HEADER = (
    "upn,surname,forename,middle_names,dob,sex,year_group,address,town,postcode,"
    "contact1_forename,contact1_surname,contact1_relationship,school_laestab,from_date\n"
)


def test_a_roll_import_finds_the_open_case_it_holds(cme_home: Path, cli, tmp_path: Path) -> None:
    case_id = int(
        cli(
            "referral", "add", "--forename", "Oliver", "--surname", "Hartley",
            "--dob", "2014-05-03", "--postcode", "TS10 1AA", "--reason", "not at school",
        ).output
    )  # fmt: skip
    other = int(
        cli("referral", "add", "--forename", "Zed", "--surname", "Unrelated", "--dob",
            "2010-01-01").output
    )  # fmt: skip
    roll = tmp_path / "roll.csv"
    roll.write_text(
        HEADER + ",Hartley,Oliver,,2014-05-03,M,8,14 Queen Street,Redcar,TS10 1AA,"
        "Karen,Hartley,Mother,8074001,2024-09-04\n"
    )
    assert cli("roll", "import", str(roll)).exit_code == 0
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    jobs.drain(engine, settings)
    with Session(engine) as s:
        found = s.execute(select(MatchCandidate.query_ref, MatchCandidate.target_kind)).all()
    engine.dispose()
    assert (f"case:{case_id}", "roll") in found
    assert all(q != f"case:{other}" for q, _ in found)


def test_a_stored_ctf_sends_the_job_after_the_cases_it_may_be(
    cme_home: Path, cli, tmp_path: Path
) -> None:
    pupil = ctf_gen.sample_pupil()
    case_id = int(
        cli(
            "referral", "add", "--forename", pupil.forename, "--surname", pupil.surname,
            "--dob", pupil.dob.isoformat(), "--reason", "not at school",
        ).output
    )  # fmt: skip
    path = tmp_path / "8073000_CTF_XXXXXXX_001.xml"
    path.write_bytes(ctf_gen.ctf_bytes([pupil]))
    assert cli("ctf", "import", str(path)).exit_code == 0
    with unit_of_work() as (settings, session):
        jobs.drain(session.get_bind(), settings)  # type: ignore[arg-type]
    with unit_of_work() as (_settings, session):
        kinds = session.execute(
            select(MatchCandidate.target_kind).where(MatchCandidate.query_ref == f"case:{case_id}")
        ).scalars()
        assert "lost_pupil" in set(kinds)
