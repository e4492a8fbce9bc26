"""CSRF: every state-changing form needs the session's token; nothing changes without it."""

from __future__ import annotations

import pytest
from flask import Blueprint
from sqlalchemy import func, select

from gateway.models.case import Case
from tests.web.conftest import PASSWORD, WebClient, WebEnv
from web.access import public
from web.csrf import csrf_exempt


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP-level behaviour: one engine is enough (the case pages run on both)."""
    return sqlite_url


def test_sign_in_without_token_is_refused(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    client.get("/sign-in")
    page = client.post(
        "/sign-in", {"username": "olivia", "password": PASSWORD}, status=400, csrf=False
    )
    assert "expired" in page.text("//main")
    assert client.raw.get("/cases").status_code == 302


def test_wrong_token_is_refused(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    client.get("/sign-in")
    client.post(
        "/sign-in",
        {"username": "olivia", "password": PASSWORD, "csrf_token": "forged"},
        status=400,
    )


def test_token_from_another_session_is_refused(web: WebEnv) -> None:
    web.add_user("olivia")
    attacker = WebClient(web.app)
    victim = WebClient(web.app)
    token = attacker.get("/sign-in").csrf()
    victim.get("/sign-in")
    victim.post(
        "/sign-in", {"username": "olivia", "password": PASSWORD, "csrf_token": token}, status=400
    )


def test_token_rotates_at_sign_in(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    before = client.get("/sign-in").csrf()
    client.sign_in("olivia")
    after = client.get("/cases").csrf()
    assert before != after


def test_move_without_token_changes_nothing(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    officer.post(f"/cases/{case_id}/move", {"status": "locating"}, status=400, csrf=False)
    with web.session() as s:
        assert s.get(Case, case_id).status == "logged"


def test_header_token_is_accepted(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    resp = officer.raw.post(
        f"/cases/{case_id}/move",
        data={"status": "locating"},
        headers={"X-CSRF-Token": officer.token()},
    )
    assert resp.status_code == 302
    with web.session() as s:
        assert s.get(Case, case_id).status == "locating"
        assert s.execute(select(func.count(Case.id))).scalar_one() == 1


def test_exempt_view_skips_the_check(web: WebEnv, client: WebClient) -> None:
    bp = Blueprint("exchange_probe", __name__)

    @bp.route("/exchange-probe", methods=["POST"])
    @public
    @csrf_exempt
    def probe() -> str:
        return "ok"

    web.app.register_blueprint(bp)
    assert client.raw.post("/exchange-probe", data=b"x").status_code == 200
