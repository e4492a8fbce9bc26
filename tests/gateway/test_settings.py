"""Settings: defaults, environment overrides, and a fast, clear failure on bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, database_url, load_settings


def test_defaults_and_overrides(tmp_path: Path) -> None:
    s = load_settings(
        {
            "CME_HOME": str(tmp_path),
            "CME_SMTP_PORT": "2600",
            "CME_INBOX_ADDRESSES": "a@x.example, b@y.example",
            "CME_LA_CODE": "806",
            "CME_DEADLINES_WORKING_DAYS": "false",
        }
    )
    assert s.home == tmp_path and s.smtp.port == 2600 and s.core.la_code == "806"
    assert s.core.inbox_addresses == ("a@x.example", "b@y.example")
    assert s.deadlines.working_days is False
    assert database_url(s) == f"sqlite:///{tmp_path / 'cme.db'}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CME_SMTP_PORTT": "1"}, "unknown setting CME_SMTP_PORTT"),
        ({"CME_SMTP_PORT": "lots"}, "smtp.port must be a whole number"),
        ({"CME_DATABASE_URL": "not a url"}, "not a database URL"),
        ({"CME_DATABASE_URL": "mysql://x/y"}, "sqlite or postgresql"),
        ({"CME_LA_CODE": "80"}, "3-digit"),
        ({"CME_MODE": "production"}, "web.https"),
        (
            {"CME_MODE": "production", "CME_WEB_HTTPS": "true", "CME_SMTP_RELAY_USER": "u"},
            "relay_password",
        ),
        ({"CME_SMTP_RELAY": "nohostport"}, "HOST:PORT"),
    ],
)
def test_bad_values_fail_fast(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_config_file_unknown_key(tmp_path: Path) -> None:
    f = tmp_path / "local.toml"
    f.write_text("[smtp]\nportt = 1\n")
    with pytest.raises(SettingsError, match=r"unknown key smtp\.portt"):
        load_settings({"CME_CONFIG": str(f)})
    f.write_text("[smtp]\nport = 2700\n")
    assert load_settings({"CME_CONFIG": str(f)}).smtp.port == 2700
