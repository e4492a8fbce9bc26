"""The app factory: the session key comes from the data home, or start-up fails clearly."""

from __future__ import annotations

import pytest

from gateway.home import HomeError
from tests.web.conftest import WebClient, WebEnv
from web.app import create_app


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def test_missing_session_key_fails_fast(web: WebEnv) -> None:
    key = web.settings.keys_dir / "flask_secret"
    key.unlink()
    with pytest.raises(HomeError, match="run `cme init`"):
        create_app(web.settings, web.engine)


def test_short_session_key_is_refused(web: WebEnv) -> None:
    (web.settings.keys_dir / "flask_secret").write_bytes(b"short")
    with pytest.raises(HomeError, match="too short"):
        create_app(web.settings, web.engine)


def test_key_file_is_private_and_not_in_config(web: WebEnv) -> None:
    key = web.settings.keys_dir / "flask_secret"
    assert key.stat().st_mode & 0o077 == 0
    assert web.app.config["SECRET_KEY"] == key.read_bytes().strip()


def test_signed_in_user_skips_the_sign_in_page(web: WebEnv, client: WebClient) -> None:
    web.add_user("olivia")
    client.sign_in("olivia")
    resp = client.raw.get("/sign-in?next=/cases/1")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/cases/1"
