"""The audit log and subject access in the console: a manager's pages (403 for an officer),
entries in words, the case page's viewers one row per person, the archive downloaded."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from gateway.cases import facts
from gateway.models.exchange import Disclosure
from gateway.users import Role
from tests.gateway.sar.builder import ANONYMOUS_TRACES, CHILD, RichCase, build
from tests.web.conftest import WebClient, WebEnv


@pytest.fixture
def rich(web: WebEnv) -> RichCase:
    web.add_user("olivia")
    web.add_user("mary", Role.MANAGER)
    return build(web.settings, web.engine, officer="olivia", manager="mary")


def _as(client: WebClient, username: str) -> WebClient:
    client.raw.post("/sign-out", data={"csrf_token": client.token()})
    client.sign_in(username)
    return client


def test_the_viewers_panel_has_each_person_once(
    web: WebEnv, rich: RichCase, client: WebClient
) -> None:
    _as(client, "olivia")
    for _ in range(3):
        page = client.get(f"/cases/{rich.case_id}")
    rows = page.doc.xpath("//table[@id='viewers']/tbody/tr")
    people = {r.xpath("string(td[1])"): r.xpath("string(td[3])").strip() for r in rows}
    # olivia: two views in the builder and three here; mary: one.
    assert people == {"olivia": "5", "mary": "1"}
    assert rows[0].xpath("string(td[1])") == "olivia"  # the most recent first
    # The manager's links are not offered to an officer.
    assert not page.doc.xpath("//a[@id='audit-history']")
    assert not page.doc.xpath("//a[@id='subject-access']")


def test_an_officer_may_not_read_the_audit_or_export(
    web: WebEnv, rich: RichCase, client: WebClient
) -> None:
    _as(client, "olivia")
    client.get(f"/audit/case/{rich.case_id}", status=403)
    client.get("/audit/user/olivia", status=403)
    client.get(f"/cases/{rich.case_id}/subject-access", status=403)
    resp = client.raw.post(
        f"/cases/{rich.case_id}/subject-access", data={"csrf_token": client.token()}
    )
    assert resp.status_code == 403
    with web.session() as s:
        assert not s.execute(select(Disclosure).where(Disclosure.kind == "sar_archive")).all()


def test_a_manager_reads_who_viewed_or_changed_the_record(
    web: WebEnv, rich: RichCase, client: WebClient
) -> None:
    with web.session() as s:
        facts.edit_child(s, rich.case_id, {"middle_names": "Anne"}, actor="olivia")
        s.commit()
    _as(client, "mary")
    case_page = client.get(f"/cases/{rich.case_id}")
    assert case_page.doc.xpath(f"//a[@id='audit-history'][@href='/audit/case/{rich.case_id}']")
    page = client.get(f"/audit/case/{rich.case_id}")
    assert page.h1 == "Who viewed or changed this record"
    assert CHILD[0] not in page.response.get_data(as_text=True)  # no child's name needed
    trail = page.text("//table[@id='trail']")
    assert "Viewed the case" in trail and "Changed the child's details" in trail
    assert "A referral was received" in trail and f"Referral {rich.anonymous_referral}" in trail
    rows = page.doc.xpath("//table[@id='trail']/tbody/tr")
    assert "Viewed the case" in rows[0].text_content()  # mary's view just now, newest first
    views = client.get(f"/audit/case/{rich.case_id}?views=1")
    whats = [r.xpath("string(td[3])") for r in views.doc.xpath("//table[@id='trail']/tbody/tr")]
    assert whats and all(w.startswith("View ") for w in whats)
    client.get("/audit/case/9999", status=404)
    client.get(f"/audit/case/{rich.case_id}?page=99", status=404)
    assert len(web.audit("audit.case_history")) == 2


def test_a_manager_reads_what_a_user_opened(web: WebEnv, rich: RichCase, client: WebClient) -> None:
    _as(client, "mary")
    page = client.get("/audit/user/olivia")
    assert page.h1 == "What olivia viewed or changed"
    assert "Olivia Tester" in page.text("//span[contains(@class,'govuk-caption-l')]")
    links = page.doc.xpath(f"//table[@id='trail']//a[@href='/cases/{rich.case_id}']")
    assert links and links[0].text_content() == f"Case CME-{rich.case_id}"
    assert "Recorded an enquiry" in page.text("//table[@id='trail']")
    nobody = client.get("/audit/user/nobody")
    assert nobody.text("//p[@id='no-entries']") == "The audit log has no entries by nobody."
    [entry, _other] = web.audit("audit.user_activity")
    assert entry.detail["username"] == "olivia" and entry.entity == "user"


def test_a_manager_downloads_the_subject_access_archive(
    web: WebEnv, rich: RichCase, client: WebClient
) -> None:
    _as(client, "mary")
    case_page = client.get(f"/cases/{rich.case_id}")
    assert case_page.doc.xpath(
        f"//a[@id='subject-access'][@href='/cases/{rich.case_id}/subject-access']"
    )
    confirm = client.get(f"/cases/{rich.case_id}/subject-access")
    assert confirm.h1 == f"Export everything held about {CHILD[0]} {CHILD[1]}"
    assert "the referrer who asked not to be named is withheld" in confirm.text("//body")
    too_long = client.post(
        f"/cases/{rich.case_id}/subject-access", {"reference": "x" * 101}, status=400
    )
    assert too_long.error_links() == {
        "reference": "The request reference must be at most 100 characters"
    }
    resp = client.raw.post(
        f"/cases/{rich.case_id}/subject-access",
        data={"csrf_token": client.token(), "reference": "SAR-41"},
    )
    assert resp.status_code == 200
    assert resp.mimetype == "application/zip"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="CME-{rich.case_id}-subject-access.zip"'
    )
    assert resp.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as zf:
        doc = json.loads(zf.read("data.json"))
        html = zf.read("index.html").decode()
    assert doc["reference"] == "SAR-41" and len(doc["sections"]["referrals"]) == 2
    for trace in ANONYMOUS_TRACES:
        assert trace.lower() not in html.lower()
        assert trace.lower() not in json.dumps(doc).lower()
    with web.session() as s:
        [row] = s.execute(select(Disclosure).where(Disclosure.kind == "sar_archive")).scalars()
    assert (row.channel, row.approved_by, row.basis) == ("download", "mary", "subject_access")
    assert [e.actor for e in web.audit("case.sar_export")] == ["mary"]
    assert [e.actor for e in web.audit("sar.confirm.view")] == ["mary"]
