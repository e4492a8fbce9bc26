"""Whose address a sign-in attempt counts against, through the real server (waitress)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import select

from gateway.models.users import SignInAttempt
from tests.web.conftest import WebEnv
from web.server import WebServer


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP-level behaviour: one engine is enough."""
    return sqlite_url


def _attempt_from(server: WebServer, forwarded_for: str) -> int:
    """A failed sign-in through the server, claiming to come from `forwarded_for`."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    base = f"http://127.0.0.1:{server.port}"
    with opener.open(f"{base}/sign-in", timeout=10) as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', resp.read().decode())
    assert token is not None
    body = urllib.parse.urlencode(
        {"username": "ghost", "password": "a-guess", "csrf_token": token.group(1)}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/sign-in", data=body, headers={"X-Forwarded-For": forwarded_for}
    )
    try:
        with opener.open(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:  # closes the answer's connection now, not whenever it is collected
            return exc.code


def _clients(web: WebEnv) -> list[str]:
    with web.session() as s:
        return list(s.execute(select(SignInAttempt.client).order_by(SignInAttempt.id)).scalars())


def test_a_forwarded_for_header_counts_for_nothing_without_a_trusted_proxy(web: WebEnv) -> None:
    server = WebServer(web.app, "127.0.0.1", 0).start()
    try:
        assert _attempt_from(server, "203.0.113.7") == 401
    finally:
        server.stop()
    assert _clients(web) == ["127.0.0.1"]


def test_the_trusted_proxy_s_forwarded_for_is_the_client(web: WebEnv) -> None:
    server = WebServer(web.app, "127.0.0.1", 0, trusted_proxy="127.0.0.1").start()
    try:
        assert _attempt_from(server, "203.0.113.7") == 401
    finally:
        server.stop()
    assert _clients(web) == ["203.0.113.7"]
