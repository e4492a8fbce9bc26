"""Roll and EHE imports, candidates across sources and stored decisions, through the CLI
and the service on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.cli.context import unit_of_work
from gateway.matching.decisions import OfficerVerdict, Thresholds
from gateway.matching.records import PartialDate, PersonRecord
from gateway.matching.service import find_candidates, record_decision
from gateway.models.audit import AuditEntry
from gateway.models.matching import RegisterEntry
from parsers.identifiers import upn_check_letter

HEADER = (
    "upn,surname,forename,middle_names,dob,sex,year_group,address,town,postcode,"
    "contact1_forename,contact1_surname,contact1_relationship,school_laestab,from_date\n"
)
UPN = upn_check_letter("807123456789") + "807123456789"
ROWS = (
    f"{UPN},Hartley,Oliver,James,2014-05-03,M,8,14 Queen Street,Redcar,TS10 1AA,"
    "Karen,Hartley,Mother,8074001,2024-09-04\n"
    ",Hartley,Maisie,,2016-02-11,F,5,14 Queen Street,Redcar,TS10 1AA,"
    "Karen,Hartley,Mother,8074001,2024-09-04\n"
    ",Okonjo,Emeka,,2012-10-30,M,,3 Elm Road,Redcar,TS10 2BD,,,,8074001,\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_roll_import_then_candidates_and_decisions(cme_home: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = write(tmp_path, "roll.csv", HEADER + ROWS)
    res = cli("roll", "import", str(f))
    assert res.exit_code == 0, res.output
    assert "imported 3 roll entries" in res.output
    again = cli("roll", "import", str(f))
    assert again.exit_code != 0 and "already imported" in again.output
    ehe = cli(
        "ehe", "import", str(write(tmp_path, "ehe.csv", HEADER + ROWS.splitlines()[2] + "\n"))
    )
    assert ehe.exit_code == 0, ehe.output

    referral = PersonRecord(
        record_id="r",
        forename="Ollie",
        surname="Hartley",
        dob=PartialDate(2014, 3, 5),
        postcode="NE1 4XF",
    )
    t = Thresholds(0.95, 0.5)
    with unit_of_work() as (_, session):
        found = find_candidates(
            session,
            referral,
            query_ref="referral:1",
            thresholds=t,
            actor="test",
            as_of=date(2026, 11, 1),
        )
        top = found[0]
        assert top.source == "roll"
        ev = {e.field: e for e in top.candidate.evidence}
        assert ev["forename"].level == "variant" and ev["dob"].level == "day_month_swap"
        # Maisie, the sister at the same address, is not proposed.
        for c in found[1:]:
            assert c.candidate.decision.value != "proposed"
        record_decision(
            session,
            query_ref="referral:1",
            target_ref=top.ref,
            verdict=OfficerVerdict.REJECTED,
            actor="test",
        )
    with unit_of_work() as (_, session):
        again_found = find_candidates(
            session,
            referral,
            query_ref="referral:1",
            thresholds=t,
            actor="test",
            as_of=date(2026, 11, 1),
        )
        assert top.ref not in {c.ref for c in again_found}
        actions = set(session.execute(select(AuditEntry.action)).scalars())
        assert {"roll_import", "ehe_import", "match_search", "match_rejected"} <= actions
    dup = cli("match", "decide", "referral:1", top.ref, "confirmed")
    assert dup.exit_code != 0 and "already rejected" in dup.output


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (HEADER + ",Hartley,Oliver,,2014-13-03,M,,,,,,,,,\n", "line 2, column dob"),
        (HEADER + ",Hartley,,,2014-05-03,M,,,,,,,,,\n", "line 2, column forename"),
        (HEADER + ",Hartley,Oliver,,2014-05-03,X,,,,,,,,,\n", "line 2, column sex"),
        (HEADER + "BAD,Hartley,Oliver,,2014-05-03,M,,,,,,,,,\n", "UPN 'BAD'"),
        ("surname,forename\nA,B\n", "missing column(s) dob"),
        ("surname,forename,dob,shoe_size\nA,B,2014-01-01,4\n", "unknown column(s) shoe_size"),
        (HEADER, "no rows"),
    ],
)
def test_bad_register_file_is_refused_whole(
    cme_home: Path,
    cli,
    tmp_path: Path,
    body: str,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    res = cli("roll", "import", str(write(tmp_path, "bad.csv", body)))
    assert res.exit_code != 0
    assert message in res.output
    assert "Traceback" not in res.output
    with unit_of_work() as (_, session):
        assert session.execute(select(func.count()).select_from(RegisterEntry)).scalar() == 0


def test_match_bench_cli_writes_predictions_and_candidates(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = write(
        tmp_path,
        "store.csv",
        "store_id,upn,surname,forename,middle_names,dob,sex,postcode\n"
        "LP1,,Hartley,Oliver,James,2014-05-03,M,TS10 1AA\n"
        "LP2,,Hartley,Maisie,,2016-02-11,F,TS10 1AA\n"
        "LP3,,Okonjo,Emeka,,2012-10-30,M,TS10 2BD\n",
    )
    queries = write(
        tmp_path,
        "queries.csv",
        "query_id,upn,surname,forename,middle_names,aliases,dob,sex,postcode\n"
        "R1,,Hartley,Oliver,,,2014-05-03,M,NE1 4XF\n"
        "R2,,Pellow,Ava,,,2015,F,\n",
    )
    pred, cand = tmp_path / "pred.csv", tmp_path / "cand.csv"
    res = cli(
        "match",
        "bench",
        "--store",
        str(store),
        "--queries",
        str(queries),
        "--out",
        str(pred),
        "--candidates",
        str(cand),
        "--as-of",
        "2026-11-01",
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["queries"] == 2
    assert pred.read_text().splitlines()[0] == "query_id,store_id,score"
    assert cand.read_text().splitlines()[1].startswith("R1,LP1,1")
    bad = write(tmp_path, "bad.csv", "query_id,surname,forename,dob\nR9,A,B,2014-99-01\n")
    res = cli("match", "bench", "--store", str(store), "--queries", str(bad), "--out", str(pred))
    assert res.exit_code != 0 and "line 2: dob" in res.output and "Traceback" not in res.output
