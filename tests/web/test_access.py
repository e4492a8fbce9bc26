"""Deny by default: walk the URL map; nothing but the allow-list answers a stranger."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint

from gateway.users import Role
from tests.web.conftest import PASSWORD, WebClient, WebEnv
from web.access import is_public, requires_role, safe_next
from web.csrf import is_exempt


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP-level behaviour: one engine is enough (the case pages run on both)."""
    return sqlite_url


#: Every endpoint anyone may reach without signing in. Adding one is a security decision:
#: it must be added here too, where a reviewer sees it.
PUBLIC_ENDPOINTS = {
    "static",
    "auth.sign_in",
    "auth.sign_in_code",
    "refer.refer_form",
    "health.healthz",
}
#: Machine endpoints with their own authentication (partner exchange, school upload API).
PUBLIC_BLUEPRINTS = {"exchange", "school_upload"}
#: Only token- or signature-authenticated endpoints may skip the CSRF check.
CSRF_EXEMPT_BLUEPRINTS = PUBLIC_BLUEPRINTS


def _fill(rule: str) -> str:
    # Any value: the gate must refuse before the view looks the thing up.
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "1" if m.group(1) == "int" else "x", rule)


def _allowed_public(endpoint: str) -> bool:
    return endpoint in PUBLIC_ENDPOINTS or endpoint.split(".", 1)[0] in PUBLIC_BLUEPRINTS


def test_public_endpoints_are_only_the_allow_list(web: WebEnv) -> None:
    with web.app.app_context():
        endpoints = {r.endpoint for r in web.app.url_map.iter_rules()}
        public = {e for e in endpoints if is_public(web.app, e)}
    escaped = sorted(e for e in public if not _allowed_public(e))
    assert not escaped, f"public endpoints not on the allow-list: {escaped}"
    assert {"auth.sign_in", "refer.refer_form", "static"} <= public


def test_csrf_exemptions_are_only_machine_endpoints(web: WebEnv) -> None:
    with web.app.test_request_context():
        exempt = {r.endpoint for r in web.app.url_map.iter_rules() if is_exempt(r.endpoint)}
    assert all(e.split(".", 1)[0] in CSRF_EXEMPT_BLUEPRINTS for e in exempt), exempt


def test_every_other_route_refuses_a_stranger(web: WebEnv, client: WebClient) -> None:
    checked = 0
    for rule in web.app.url_map.iter_rules():
        if _allowed_public(rule.endpoint):
            continue
        url = _fill(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = client.raw.open(url, method=method, data={})
            assert resp.status_code in (302, 401), (method, url, resp.status_code)
            if resp.status_code == 302:
                assert resp.headers["Location"].startswith("/sign-in"), (method, url)
            checked += 1
    assert checked >= 6


def test_signed_in_user_reaches_pages(officer: WebClient) -> None:
    page = officer.get("/cases")
    assert page.h1 == "Cases"


def test_role_needed_is_enforced(web: WebEnv, client: WebClient) -> None:
    bp = Blueprint("admin_probe", __name__)

    @bp.route("/admin-probe")
    @requires_role(Role.ADMIN)
    def probe() -> str:
        return "<html><head><title>x</title></head><body><h1>probe</h1></body></html>"

    web.app.register_blueprint(bp)
    web.add_user("olivia")
    web.add_user("adam", Role.ADMIN)
    client.sign_in("olivia")
    assert client.raw.get("/admin-probe").status_code == 403
    client.raw.post("/sign-out", data={"csrf_token": client.token()})
    client.sign_in("adam")
    assert client.raw.get("/admin-probe").status_code == 200


NEXT_TARGETS = [
    ("/cases/3", "/cases/3"),
    ("https://evil.example/", None),
    ("//evil.example/x", None),
    ("/\\evil.example", None),
    ("cases", None),
    ("javascript:alert(1)", None),
    ("", None),
]


def test_next_only_goes_to_this_site() -> None:
    for target, safe in NEXT_TARGETS:
        assert safe_next(target) == safe, target


def test_stranger_is_sent_back_after_signing_in(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    case_id = web.add_case()
    resp = client.raw.get(f"/cases/{case_id}")
    assert resp.headers["Location"] == f"/sign-in?next=/cases/{case_id}"
    client.get(resp.headers["Location"])
    page = client.post(
        "/sign-in",
        {"username": "olivia", "password": PASSWORD, "next": f"/cases/{case_id}"},
    )
    assert page.response.headers["Location"] == f"/cases/{case_id}"


def test_users_page_is_for_admins_only(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    web.add_user("adam", Role.ADMIN)
    client.sign_in("olivia")
    cases = client.get("/cases")
    assert not cases.doc.xpath("//a[@href='/admin/users']")
    client.get("/admin/users", status=403)
    client.post("/sign-out", {})
    client.sign_in("adam")
    page = client.get("/admin/users")
    assert page.doc.xpath("//nav//a[@href='/admin/users']")
    rows = page.doc.xpath("//table[@id='users']/tbody/tr")
    assert [r.xpath("string(td[1])") for r in rows] == ["adam", "olivia"]
    assert "Never" not in rows[1].text_content()  # olivia signed in above
    assert "None" in rows[1].text_content()  # no authenticator app
