"""`cme parse FILE`: JSON out for every kind of referral, one line and exit 1 when unreadable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.referrals.corpus import load_corpus

ACCEPTANCE_KEYS = {"forename", "surname", "dob", "sex", "upn", "postcode", "school",
                   "referrer_name", "referrer_email", "reason", "gaps"}  # fmt: skip
BY_KIND = {}
for _f in load_corpus():
    BY_KIND.setdefault(_f.suffix, _f)


@pytest.mark.parametrize("suffix", [".txt", ".html", ".eml", ".docx"])
def test_parse_prints_the_draft(cli, tmp_path: Path, suffix: str) -> None:
    fixture = BY_KIND[suffix]
    path = tmp_path / f"referral{suffix}"
    path.write_bytes(fixture.data)
    result = cli("parse", path)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= ACCEPTANCE_KEYS
    for key in ("forename", "surname", "dob", "gaps"):
        want = fixture.expect[key]
        assert (set(out[key]) == set(want)) if key == "gaps" else out[key] == want


def test_gaps_still_exit_zero(cli, tmp_path: Path) -> None:
    path = tmp_path / "sparse.txt"
    path.write_text("Name: Ava Grey\nUPN: R807300024002\n")
    result = cli("parse", path, "--brief")
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert any(g.startswith("UPN check letter wrong") for g in out["gaps"])
    assert "detail" not in out


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("form.docx", b"PK\x03\x04 broken", "damaged"),
        ("old.docx", b"\xd0\xcf\x11\xe0" + b"\0" * 64, "old-style Word .doc"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_unreadable_input_is_one_line_and_exit_1(cli, tmp_path: Path, name: str, data: bytes,
                                                 message: str) -> None:  # fmt: skip
    path = tmp_path / name
    path.write_bytes(data)
    result = cli("parse", path)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_missing_file_through_the_real_entry_point(tmp_path: Path) -> None:
    cme = Path(sys.executable).parent / "cme"
    if not cme.exists():
        pytest.skip("the cme console script is not installed in this environment")
    proc = subprocess.run(
        [str(cme), "parse", str(tmp_path / "nope.eml")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
