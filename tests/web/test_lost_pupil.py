"""The lost-pupil blueprint: school upload by token, officer search, view and download."""

from __future__ import annotations

from sqlalchemy import select

from gateway.models.audit import AuditEntry
from gateway.models.exchange import Disclosure
from lost_pupil.tokens import issue_token, revoke_tokens
from tests.fixtures import ctf_gen as g
from tests.web.conftest import WebClient, WebEnv


def _token(web: WebEnv, laestab: str = "8073000") -> str:
    with web.session() as s:
        token = issue_token(s, laestab)
        s.commit()
    return token


def _upload(client: WebClient, data: bytes, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.raw.post(
        "/lost-pupils/upload", data=data, headers=headers, content_type="application/xml"
    )


def _actions(web: WebEnv) -> list[tuple[str, str]]:
    with web.session() as s:
        rows = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [
            (e.action, e.actor)
            for e in rows
            if e.action.startswith(("lost_pupil.", "disclosure.ctf_download"))
        ]


def test_school_uploads_with_its_token_and_officer_finds_and_downloads(web, client):
    data = g.ctf_bytes([g.sample_pupil()])
    token = _token(web)
    resp = _upload(client, data, token)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["pupils"] == 1 and not body["duplicate"] and len(body["sha256"]) == 64
    assert _upload(client, data, token).get_json()["duplicate"] is True

    web.add_user("olivia")
    client.sign_in("olivia")
    page = client.get("/lost-pupils")
    assert page.h1 == "Search lost pupils"
    page = client.post(
        "/lost-pupils",
        {"forename": "Amelia", "surname": "Fetherstone", "dob": "2014-07-03"},
        status=200,
    )
    rows = page.doc.xpath("//table[@id='candidates']/tbody/tr")
    assert rows and "Featherstone" in rows[0].text_content()
    href = rows[0].xpath(".//a/@href")[0]
    view = client.get(href)
    assert "R807300024001" in view.text("//dl[@id='record']")
    download = client.raw.get(f"{href}/download")
    assert download.status_code == 200 and download.data == data
    assert "Featherstone" not in download.headers["Content-Disposition"]
    assert _actions(web) == [
        ("lost_pupil.upload", "school:8073000"),
        ("lost_pupil.upload", "school:8073000"),
        ("lost_pupil.search", "olivia"),
        ("lost_pupil.view", "olivia"),
        # The whole file left the system: the disclosure register says so (and audits it).
        ("disclosure.ctf_download", "olivia"),
    ]
    with web.session() as s:
        [row] = s.execute(select(Disclosure)).scalars().all()
        assert (row.kind, row.channel, row.actor) == ("ctf_download", "download", "olivia")


def test_upload_without_a_valid_token_is_refused(web, client):
    data = g.ctf_bytes([g.sample_pupil()])
    assert _upload(client, data, None).status_code == 401
    assert _upload(client, data, "lp_made_up").status_code == 401
    token = _token(web)
    with web.session() as s:
        revoke_tokens(s, "8073000")
        s.commit()
    assert _upload(client, data, token).status_code == 401


def test_a_school_cannot_upload_another_schools_file(web, client):
    token = _token(web, "8063001")
    resp = _upload(client, g.ctf_bytes([g.sample_pupil()]), token)
    assert resp.status_code == 422
    assert "8073000" in resp.get_json()["error"]


def test_hostile_upload_is_refused_and_nothing_stored(web, client):
    token = _token(web)
    resp = _upload(client, g.BILLION_LAUGHS, token)
    assert resp.status_code == 422 and "DOCTYPE" in resp.get_json()["error"]
    objects = web.settings.home / "lost_pupil" / "objects"
    assert not objects.exists() or not any(objects.iterdir())


def test_officer_pages_need_sign_in_and_search_is_not_in_the_url(web, client):
    resp = client.raw.get("/lost-pupils")
    assert resp.status_code in (302, 303)
    web.add_user("olivia")
    client.sign_in("olivia")
    page = client.post("/lost-pupils", {"dob": "not a date"}, status=400)
    assert "dob" in page.error_links()
    forms = page.doc.xpath("//form[@action='/lost-pupils']/@method")
    assert forms == ["post"]
