"""`cme ctf import` and `cme lost-pupils ...` against a real data home."""

from __future__ import annotations

import json

from sqlalchemy import select

from gateway.db import make_engine
from gateway.models.audit import AuditEntry
from tests.fixtures import ctf_gen as g


def test_import_search_show_claim_download(cme_home, cli, tmp_path, db_url):
    good = tmp_path / "8073000_CTF_XXXXXXX_001.xml"
    good.write_bytes(g.ctf_bytes([g.sample_pupil()]))
    other = tmp_path / "8073000_CTF_MMMMMMM_002.xml"
    other.write_bytes(
        g.ctf_bytes(list(g.many_pupils(40)), g.CtfOptions(dest="MMMMMMM", sex_tag="Gender"))
    )
    hostile = tmp_path / "bomb.xml"
    hostile.write_bytes(g.BILLION_LAUGHS)
    xxe = tmp_path / "xxe.xml"
    xxe.write_bytes(g.external_entity())

    result = cli("ctf", "import", good, other, hostile, xxe, good, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["pupils"], summary["duplicates"]) == (3, 41, 1)
    assert sorted(r["file"] for r in summary["rejected"]) == sorted([str(hostile), str(xxe)])
    assert all("DOCTYPE" in r["reason"] for r in summary["rejected"])

    found = json.loads(cli("lost-pupils", "search", "--upn", "H80730002307A", "--json").stdout)
    assert found[0]["surname"] == "Featherstone"
    assert {"id", "upn", "forename", "surname", "dob", "score"} <= set(found[0])
    pid = found[0]["id"]
    typo = cli(
        "lost-pupils",
        "search",
        "--forename",
        "Amelia",
        "--surname",
        "Featherstnoe",
        "--dob",
        "2014-07-03",
        "--json",
    )
    assert json.loads(typo.stdout)[0]["id"] == pid

    shown = cli("lost-pupils", "show", pid)
    assert "Carer1 Featherstone" in shown.stdout and "9(1)(i)" in shown.stdout
    out = tmp_path / "copy.xml"
    assert cli("lost-pupils", "download", pid, "--out", out).exit_code == 0
    assert out.read_bytes() == good.read_bytes()

    ok = cli("lost-pupils", "claim", pid, "--school", "8063001", "--date", "2025-11-03")
    assert ok.exit_code == 0
    again = cli("lost-pupils", "claim", pid, "--school", "8063001", "--date", "2025-11-03")
    assert again.exit_code != 0 and "not open" in again.output
    assert "Traceback" not in again.output

    engine = make_engine(db_url)
    with engine.connect() as conn:
        actions = [a for (a,) in conn.execute(select(AuditEntry.action)) if "lost_pupil" in a]
    engine.dispose()
    assert actions.count("lost_pupil.import") == 2
    assert {
        "lost_pupil.search",
        "lost_pupil.view",
        "lost_pupil.download",
        "lost_pupil.claim",
    } <= set(actions)


def test_bad_input_is_one_line_and_non_zero(cme_home, cli):
    result = cli("lost-pupils", "search", "--dob", "07/03/2014")
    assert result.exit_code != 0 and "--dob" in result.output
    assert cli("lost-pupils", "search").exit_code != 0
    missing = cli("lost-pupils", "show", "999")
    assert missing.exit_code != 0 and "no lost-pupil record 999" in missing.output
