"""Security headers on every page, no caching of child data, and no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.conftest import WebClient, WebEnv


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP-level behaviour: one engine is enough (the case pages run on both)."""
    return sqlite_url


TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def test_headers_on_a_case_page(web: WebEnv, officer: WebClient) -> None:
    case_id = web.add_case()
    resp = officer.get(f"/cases/{case_id}").response
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_headers_on_public_and_error_pages(client: WebClient) -> None:
    for url, status in (("/sign-in", 200), ("/refer", 200), ("/no-such-page", 404)):
        resp = client.get(url, status=status).response
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "Content-Security-Policy" in resp.headers


def test_templates_have_no_inline_script_or_style() -> None:
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text("utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{path.name}: inline <script> breaks the CSP"
        assert not re.search(r"\sstyle=", text), f"{path.name}: inline style breaks the CSP"
        assert not re.search(r"\son[a-z]+=", text), f"{path.name}: inline event handler"


def test_404_page_is_plain(client: WebClient) -> None:
    page = client.get("/definitely/not/here", status=404)
    assert page.h1 == "Page not found"
