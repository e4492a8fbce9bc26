"""Web fixtures: the real app on a real database, and a client that checks every page."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html as lxml_html
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import TestResponse

from gateway.cases import service
from gateway.cases.inputs import build_referral_input
from gateway.db import make_engine
from gateway.models.audit import AuditEntry
from gateway.settings import Settings, load_settings
from gateway.totp import TotpVault
from gateway.users import Role, add_user
from tests.support.browser import (  # noqa: F401 (fixtures `browser`, `live_server`, `page`)
    browser_fixture,
    live_server_fixture,
    page_fixture,
    pytest_terminal_summary,
)
from web.app import create_app

PASSWORD = "correct-horse-battery-staple"
TITLE_SUFFIX = " – CME Gateway – Redcar and Cleveland"


@dataclass(frozen=True)
class Page:
    """A response with its HTML parsed, checked as a person would see it."""

    response: TestResponse
    doc: Any

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def title(self) -> str:
        return str(self.doc.findtext(".//title")).strip()

    @property
    def h1(self) -> str:
        return " ".join(self.doc.xpath("string(//h1)").split())

    def text(self, xpath: str) -> str:
        return " ".join(self.doc.xpath(f"string({xpath})").split())

    def error_links(self) -> dict[str, str]:
        """The error summary: target id -> message."""
        return {
            a.get("href").lstrip("#"): " ".join(a.text_content().split())
            for a in self.doc.xpath("//div[contains(@class,'govuk-error-summary')]//a")
        }

    def csrf(self) -> str:
        tokens = self.doc.xpath("//input[@name='csrf_token']/@value")
        assert tokens, "the page has no CSRF token"
        return str(tokens[0])


class WebClient:
    """Flask's test client, plus checks on every HTML page it fetches."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.raw: FlaskClient = app.test_client()
        self.last: Page | None = None

    def _check(self, resp: TestResponse) -> Page:
        doc = lxml_html.fromstring(resp.get_data(as_text=True) or "<html></html>")
        page = Page(resp, doc)
        if resp.mimetype == "text/html" and not 300 <= resp.status_code < 400:
            assert page.title.endswith(TITLE_SUFFIX), f"bad title {page.title!r}"
            assert page.h1, "every page has a heading"
            if page.error_links():
                assert page.title.startswith("Error: "), "an error page title starts 'Error: '"
                for target in page.error_links():
                    assert doc.xpath(f"//*[@id='{target}']"), f"error links to missing #{target}"
            self._check_forms(doc)
        self.last = page
        return page

    def _check_forms(self, doc: Any) -> None:
        adapter = self.app.url_map.bind("localhost")
        for form in doc.xpath("//form"):
            method = (form.get("method") or "get").upper()
            action = form.get("action")
            assert action, "every form names its action"
            path = action.split("?", 1)[0]
            try:
                adapter.match(path, method=method)
            except (NotFound, MethodNotAllowed) as exc:
                raise AssertionError(f"form posts to {method} {action}: no such route") from exc
            if method == "POST":
                assert form.xpath(".//input[@name='csrf_token']"), f"POST form {action} lacks CSRF"

    def get(self, url: str, status: int = 200, **kw: Any) -> Page:
        resp = self.raw.get(url, **kw)
        assert resp.status_code == status, (resp.status_code, resp.headers.get("Location"))
        return self._check(resp)

    def post(self, url: str, data: dict[str, Any], status: int = 302, csrf: bool = True) -> Page:
        payload = dict(data)
        if csrf and "csrf_token" not in payload:
            payload["csrf_token"] = self.token()
        resp = self.raw.post(url, data=payload)
        assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:2000])
        return self._check(resp)

    def token(self) -> str:
        with self.raw.session_transaction() as sess:
            token = sess.get("csrf")
        if token is None:
            token = self.get("/refer").csrf()
        return str(token)

    def sign_in(self, username: str, password: str = PASSWORD, code: str | None = None) -> Page:
        self.get("/sign-in")
        page = self.post("/sign-in", {"username": username, "password": password}, status=302)
        location = page.response.headers["Location"]
        if location.endswith("/sign-in/code"):
            assert code is not None, "this user needs a code"
            page = self.post("/sign-in/code", {"code": code}, status=302)
        return page


@dataclass(frozen=True)
class WebEnv:
    settings: Settings
    engine: Engine
    app: Flask

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def audit(self, action: str) -> list[AuditEntry]:
        """The audit entries with this action, oldest first."""
        with self.session() as s:
            return list(
                s.execute(
                    select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
                ).scalars()
            )

    def add_user(self, username: str, role: Role = Role.OFFICER, totp: bool = False) -> str | None:
        with self.session() as s:
            new = add_user(
                s,
                username=username,
                password=PASSWORD,
                role=role,
                display_name=username.title() + " Tester",
                totp=totp,
                actor="test",
                vault=TotpVault.load(self.settings.keys_dir),
            )
            s.commit()
        return new.totp_secret

    def add_case(self, forename: str = "Amelia", surname: str = "Testwell", **extra: Any) -> int:
        values: dict[str, Any] = {
            "forename": forename,
            "surname": surname,
            "dob": "2015-04-03",
            "postcode": "TS10 1AA",
            "address_line1": "1 Synthetic Street",
            "town": "Redcar",
            "reason": "Moved, no forwarding address",
            "referrer_name": "Ann Head",
            "referrer_email": "head@school.example",
            "channel": "email",
            "received": "2026-11-02",
        }
        values.update(extra)
        data = build_referral_input(values, today=date(2026, 11, 27))
        with self.session() as s:
            case = service.log_referral(s, self.settings, data, actor="test")
            s.commit()
            return case.id


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated SQLite database, for modules that override db_url to one engine."""
    target = tmp_path / "cme.db"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def web(cme_home: Path) -> Iterator[WebEnv]:
    settings = load_settings()
    engine = make_engine(str(settings.core.database_url))
    app = create_app(settings, engine)
    app.config["TESTING"] = True
    yield WebEnv(settings, engine, app)
    from web.server import close_app

    close_app(app)
    engine.dispose()


@pytest.fixture
def client(web: WebEnv) -> WebClient:
    return WebClient(web.app)


@pytest.fixture
def officer(web: WebEnv, client: WebClient) -> WebClient:
    web.add_user("olivia")
    client.sign_in("olivia")
    return client


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def query_param(url: str, name: str) -> str | None:
    m = re.search(rf"[?&]{name}=([^&]*)", url)
    return m.group(1) if m else None
