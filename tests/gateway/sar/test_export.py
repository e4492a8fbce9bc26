"""`cme sar export`: one archive with every kind of record held about the child, opened and
read back; the anonymous referrer nowhere in it; third parties marked; on the register."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import make_engine
from gateway.models.audit import AuditEntry
from gateway.models.exchange import Disclosure
from gateway.sar.marks import REDACTED
from gateway.settings import load_settings
from tests.conftest import CliCall
from tests.gateway.sar.builder import (
    ANONYMOUS_TRACES,
    CARER,
    CHILD,
    CONTACT,
    NAMED_REFERRER,
    SIBLING,
    RichCase,
    build,
)

MANAGER = "mary"


@pytest.fixture
def rich(cme_home: Path, cli: CliCall) -> RichCase:
    cli.add_user(MANAGER, "manager")
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    try:
        return build(settings, engine, officer="tester", manager=MANAGER)
    finally:
        engine.dispose()


def _export(cli: CliCall, case_id: int, out: Path) -> tuple[dict[str, Any], str, bytes]:
    result = cli("sar", "export", "--case", case_id, "--out", out, "--reference", "SAR-2026-7",
                 as_user=MANAGER)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["data.json", "index.html"]
        doc = json.loads(zf.read("data.json"))
        html = zf.read("index.html").decode("utf-8")
    return doc, html, data


def _find(node: Any, pred: Any) -> list[Any]:
    """Every dict in the tree for which pred(dict) holds."""
    found = []
    if isinstance(node, dict):
        if pred(node):
            found.append(node)
        for v in node.values():
            found += _find(v, pred)
    elif isinstance(node, list):
        for v in node:
            found += _find(v, pred)
    return found


def _marked(doc: dict[str, Any], value: str, category: str) -> bool:
    return bool(
        _find(
            doc,
            lambda d: (
                d.get("redaction_review") is True
                and d.get("category") == category
                and isinstance(d.get("value"), str | dict)
                and value in json.dumps(d.get("value"))
            ),
        )
    )


def test_the_archive_holds_every_kind_of_record(
    rich: RichCase, cli: CliCall, tmp_path: Path
) -> None:
    doc, html, _data = _export(cli, rich.case_id, tmp_path / "sar.zip")
    assert doc["format"] == "cme-gateway/subject-access/1"
    assert doc["case"] == f"CME-{rich.case_id}"
    assert doc["reference"] == "SAR-2026-7"
    s = doc["sections"]
    assert s["case"]["reference"] == f"CME-{rich.case_id}"
    kept = s["case"]["how_long_it_is_kept"]
    assert kept["legal_hold"] is False and kept["rule"].startswith("The case is open")
    assert (s["child"]["forenames"], s["child"]["surname"]) == CHILD
    assert {r["id"] for r in s["referrals"]} == {rich.named_referral, rich.anonymous_referral}
    assert all(r["stored_details"]["surname"] == CHILD[1] for r in s["referrals"])
    assert {m["id"] for m in s["raw_messages"]} == {rich.raw_referral, rich.raw_reply}
    reply = next(m for m in s["raw_messages"] if m["id"] == rich.raw_reply)
    assert "She is in Year 6" in reply["text"]["text"]
    assert [e["kind"] for e in s["letters"]["emails"]].count("further_enquiries") == 1
    assert s["letters"]["printed"] and "Dear" in s["letters"]["printed"][0]["body"]["text"]
    assert s["enquiries"][0]["outcome"]["text"] == "Not registered with a GP"
    [sent] = s["exchange"]["messages"]
    assert sent["type"] == "enquiry" and CHILD[1] in sent["document"]["text"]
    assert s["onward_referrals"][0]["to"] == "School Admissions"
    assert {d["kind"] for d in s["disclosures"]} >= {"letter", "enquiry", "onward_referral"}
    assert s["facts"] and s["facts"][0]["from"] == f"referral:{rich.anonymous_referral}"
    assert s["match_decisions"]["decisions"]
    assert "email_reply" in {t["kind"] for t in s["timeline"]}
    actions = [a["action"] for a in s["audit"]]
    assert actions.count("case.view") == 3
    assert {"referral.receive", "case.create", "enquiry.record"} <= set(actions)
    assert "Viewed the case" in {a["what"] for a in s["audit"]}
    # Every section is in the page a person opens, with what it holds.
    for title in ("Referrals", "Messages received", "Letters and emails sent", "Audit log"):
        assert f">{title}</h2>" in html
    assert "Not registered with a GP" in html and "She is in Year 6" in html


def test_the_anonymous_referrer_appears_nowhere(
    rich: RichCase, cli: CliCall, tmp_path: Path
) -> None:
    doc, html, _data = _export(cli, rich.case_id, tmp_path / "sar.zip")
    text = json.dumps(doc, ensure_ascii=False).lower()
    for trace in ANONYMOUS_TRACES:
        assert trace.lower() not in text, trace
        assert trace.lower() not in html.lower(), trace
    anonymous = next(r for r in doc["sections"]["referrals"] if r["id"] == rich.anonymous_referral)
    assert anonymous["referrer_asked_not_to_be_named"] is True
    for name in ("name", "email", "phone", "role"):
        assert anonymous["referrer"][name] == {
            "value": REDACTED, "redacted": True, "category": "referrer",
        }  # fmt: skip
    # In the raw messages' text and headers, in the letter to them, in the register.
    first = next(m for m in doc["sections"]["raw_messages"] if m["id"] == rich.raw_referral)
    assert first["text"]["text"].count(REDACTED) == 2  # the signed name and the phone
    assert first["network_address"]["redacted"] is True
    letter = next(
        e for e in doc["sections"]["letters"]["emails"] if e["kind"] == "further_enquiries"
    )
    assert letter["body"]["text"].startswith(f"Dear {REDACTED},")
    assert doc["summary"]["redactions_in_text"] >= 8
    assert doc["summary"]["anonymous_referrals"] == [rich.anonymous_referral]
    assert f'<span class="redacted">{REDACTED}</span>' in html


def test_third_party_data_is_marked_for_review(
    rich: RichCase, cli: CliCall, tmp_path: Path
) -> None:
    doc, html, _data = _export(cli, rich.case_id, tmp_path / "sar.zip")
    s = doc["sections"]
    named = next(r for r in s["referrals"] if r["id"] == rich.named_referral)
    assert named["referrer"]["name"] == {
        "value": NAMED_REFERRER, "redaction_review": True, "category": "referrer",
    }  # fmt: skip
    assert _marked(doc, SIBLING, "other_child")
    assert _marked(doc, CARER, "carer")
    assert _marked(doc, CONTACT, "contact")
    people = [a["who"] for a in s["audit"] if isinstance(a["who"], dict)]
    assert {w["value"] for w in people} == {"tester", MANAGER}
    assert all(w["category"] == "staff" and w["redaction_review"] for w in people)
    assert not [a for a in s["audit"] if a["who"] in ("tester", MANAGER)]  # none unmarked
    # The named referrer's name in the printed letter's text is found and marked there too.
    printed = s["letters"]["printed"][0]["body"]
    assert printed["redaction_review"] is True
    assert {"category": "referrer", "text": NAMED_REFERRER} in [
        {k: m[k] for k in ("category", "text")} for m in printed["mentions"]
    ]
    mark = '<mark class="review" data-category="referrer" title="Review: referrer">'
    assert f"{mark}{NAMED_REFERRER}</mark>" in html
    # The council's own mailboxes are no one's personal data: not marked.
    reply = next(m for m in s["raw_messages"] if m["id"] == rich.raw_reply)
    assert reply["headers"]["To"] == "cme@redcar-cleveland.example"
    assert doc["summary"]["marked_for_review"] >= 10


def test_the_export_is_on_the_register_and_audited(
    rich: RichCase, cli: CliCall, tmp_path: Path
) -> None:
    out = tmp_path / "sar.zip"
    _doc, _html, data = _export(cli, rich.case_id, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*partial"))
    engine = make_engine(str(load_settings().core.database_url))
    try:
        with Session(engine) as s:
            [row] = s.execute(select(Disclosure).where(Disclosure.kind == "sar_archive")).scalars()
            assert (row.case_id, row.basis, row.channel) == (rich.case_id, "subject_access", "file")
            assert row.approved_by == MANAGER and "SAR-2026-7" in row.recipient
            assert "referrals" in row.data_items and "audit" in row.data_items
            [entry] = s.execute(
                select(AuditEntry).where(AuditEntry.action == "case.sar_export")
            ).scalars()
            assert entry.actor == MANAGER and entry.entity_id == str(rich.case_id)
            assert entry.detail["sha256"] == hashlib.sha256(data).hexdigest()
            assert entry.detail["disclosure_id"] == row.id
    finally:
        engine.dispose()


def test_only_a_manager_exports_and_nothing_is_overwritten(
    rich: RichCase, cli: CliCall, tmp_path: Path
) -> None:
    out = tmp_path / "sar.zip"
    refused = cli("sar", "export", "--case", rich.case_id, "--out", out)  # as the officer
    assert refused.exit_code != 0 and "manager" in refused.output
    assert not out.exists()
    out.write_bytes(b"someone else's file")
    again = cli("sar", "export", "--case", rich.case_id, "--out", out, as_user=MANAGER)
    assert again.exit_code != 0 and "already exists" in again.output
    assert out.read_bytes() == b"someone else's file"
    missing = cli("sar", "export", "--case", 9999, "--out", tmp_path / "x.zip", as_user=MANAGER)
    assert missing.exit_code != 0 and "there is no case 9999" in missing.output
    assert not (tmp_path / "x.zip").exists()
    engine = make_engine(str(load_settings().core.database_url))
    try:
        with Session(engine) as s:
            kinds = s.execute(select(Disclosure.kind)).scalars().all()
        assert "sar_archive" not in kinds
    finally:
        engine.dispose()


def test_a_duplicate_merged_into_the_case_is_in_its_archive_and_history(
    rich: RichCase, cli: CliCall, tmp_path: Path
) -> None:
    from gateway.cases.inputs import build_referral_input
    from gateway.cases.merge import merge_cases
    from gateway.cases.page import open_case_page
    from gateway.cases.service import log_referral

    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    try:
        data = build_referral_input(
            {"forename": "Peregrine", "surname": CHILD[1], "channel": "phone",
             "received": "2026-11-20", "reason": "Same child, spelt differently"},
            today=date(2026, 11, 27),
        )  # fmt: skip
        with Session(engine, expire_on_commit=False) as s:
            dup = log_referral(s, settings, data, actor="tester").id
            s.commit()
            open_case_page(s, settings, engine, dup, "tester")
            merge_cases(s, rich.case_id, dup, "tester")
            s.commit()
    finally:
        engine.dispose()
    doc, _html, _data = _export(cli, rich.case_id, tmp_path / "sar.zip")
    [merged] = doc["sections"]["merged_cases"]
    assert merged["reference"] == f"CME-{dup}" and merged["child"]["forenames"] == "Peregrine"
    assert len(doc["sections"]["referrals"]) == 3  # the duplicate's referral moved over
    views = {(a["record"], a["action"]) for a in doc["sections"]["audit"]}
    assert (f"Case CME-{dup}", "case.view") in views
    who = json.loads(cli("audit", "who", "--case", rich.case_id, "--json", as_user=MANAGER).output)
    assert ("case", str(dup), "case.view") in {
        (e["entity"], e["entity_id"], e["action"]) for e in who["entries"]
    }
