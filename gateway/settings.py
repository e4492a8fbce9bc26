"""Typed, frozen settings: config/default.toml, then CME_CONFIG, then CME_* variables."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class Core:
    home: Path
    database_url: str
    la_code: str
    la_name: str
    mode: str
    inbox_addresses: tuple[str, ...]
    officer_email: str
    timezone: str
    log_level: str


@dataclass(frozen=True)
class Deadlines:
    progress_update_days: int
    working_days: bool
    bank_holiday_division: str
    further_enquiries_days: int
    # Safeguarding and urgent referrals: first contact within this many (working) days;
    # 0 is the same day.
    first_contact_days: int


@dataclass(frozen=True)
class Workflow:
    file: str


@dataclass(frozen=True)
class Jobs:
    poll_seconds: float
    max_attempts: int
    lease_seconds: int
    parser_processes: int


@dataclass(frozen=True)
class Outbox:
    from_address: str
    max_attempts: int
    backoff_seconds: int
    backoff_max_seconds: int


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    max_message_size: int
    require_starttls: bool
    tls_cert: str
    tls_key: str
    auth_required: bool
    auth_users_file: str
    max_connections_per_peer: int
    max_messages_per_minute_per_peer: int
    relay: str
    relay_starttls: bool
    relay_user: str
    relay_password: str


@dataclass(frozen=True)
class Imap:
    enabled: bool
    host: str
    port: int
    ssl: bool
    user: str
    password: str
    oauth2_token: str
    oauth2_token_file: str
    folder: str
    processed_folder: str
    quarantine_folder: str
    idle: bool
    poll_seconds: float


@dataclass(frozen=True)
class Web:
    host: str
    port: int
    session_idle_minutes: int
    https: bool
    #: The reverse proxy's address (waitress trusted_proxy); its X-Forwarded-For then gives
    #: the client's address. Empty: no proxy is trusted and the header is ignored.
    trusted_proxy: str


@dataclass(frozen=True)
class Matching:
    upper_threshold: float
    lower_threshold: float


@dataclass(frozen=True)
class Teams:
    """Where onward referrals go: a team's address (sent through the outbox), or empty to
    print the referral as a letter instead."""

    attendance_welfare: str
    admissions: str
    social_care: str
    police: str
    vemt: str
    ehe_team: str
    choice_advice: str


@dataclass(frozen=True)
class Casework:
    # Agencies the enquiry log must show before a police referral, and before "no trace".
    police_after: tuple[str, ...]
    no_trace_after: tuple[str, ...]
    # No evidence of education: contact the parents within this many (working) days.
    parent_contact_days: int
    # While enquiries stay open, the referrer's progress update repeats this often.
    progress_repeat_days: int


@dataclass(frozen=True)
class Triage:
    # A complete referral that resembles no record (no candidate at the review threshold)
    # opens its case at once; false: every referral waits for an officer in triage.
    open_complete: bool


@dataclass(frozen=True)
class LostPupil:
    retention_days: int
    max_upload_bytes: int


@dataclass(frozen=True)
class Retention:
    """How long records are kept before the daily disposal (gateway.retention.policy)."""

    # A closed case: until the child's birthday of this age ...
    case_age: int
    # ... or a later one when a referral on the case carries the flag.
    looked_after_age: int
    child_protection_age: int
    sen_ehcp_age: int
    # A closed case with no date of birth: this many years after it closed.
    no_dob_years: int
    # Never sooner than this many years after closing (a mistyped date of birth).
    min_years_after_close: int
    # A referral dismissed at triage (it never became a case): days after the dismissal.
    dismissed_referral_days: int
    # A quarantined message an officer discarded: days after the discard; one still held
    # (never resolved): days after it was quarantined.
    quarantine_discarded_days: int
    quarantine_held_days: int


@dataclass(frozen=True)
class Exchange:
    time_window_seconds: int
    retry_base_seconds: int
    retry_max_seconds: int
    max_attempts: int
    mail_resend_hours: int
    mail_max_sends: int
    monitoring_interval_days: int
    cert_expiry_warning_days: int
    partners_file: str


@dataclass(frozen=True)
class Limits:
    """Abuse limits (see gateway.ratelimit): rate strings like "5 per hour; 20 per day"."""

    refer_per_client: str
    refer_per_referrer: str
    refer_token_hours: int
    exchange_per_peer: str
    exchange_refusals_per_peer: str


@dataclass(frozen=True)
class Reports:
    """The reports' local choices (gateway/reports, docs/returns.md)."""

    # "Missing longer than": the briefing's count and the VEMT list's long-term cases.
    long_term_days: int
    # Term boundaries as MM-DD; each term runs to the day before the next one starts.
    autumn_start: str
    spring_start: str
    summer_start: str
    # Upper bounds (days) of the "time missing" bands of the DfE return and the briefing.
    time_missing_bands: tuple[int, ...]
    # Open cases in these statuses are not counted as missing education (placed, moved out).
    not_missing_statuses: tuple[str, ...]
    # The briefing lists at most this many complex cases (by reference).
    complex_cases_max: int
    # The rules that give a referral's free-text reason its category; empty: the packaged
    # gateway/reports/reasons.toml.
    reasons_file: str


@dataclass(frozen=True)
class Settings:
    core: Core
    deadlines: Deadlines
    workflow: Workflow
    jobs: Jobs
    outbox: Outbox
    smtp: Smtp
    imap: Imap
    web: Web
    matching: Matching
    triage: Triage
    teams: Teams
    casework: Casework
    lost_pupil: LostPupil
    exchange: Exchange
    limits: Limits
    reports: Reports
    retention: Retention
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def home(self) -> Path:
        return self.core.home

    @property
    def keys_dir(self) -> Path:
        return self.core.home / "keys"

    @property
    def production(self) -> bool:
        return self.core.mode == "production"


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # Each call evaluates every (string) annotation of the class anew: once per class.
    return typing.get_type_hints(cls)


_SECTIONS: dict[str, type] = {
    f.name: _hints(Settings)[f.name] for f in dataclasses.fields(Settings) if f.name != "sources"
}


def _env_name(section: str, key: str) -> str:
    return f"CME_{key.upper()}" if section == "core" else f"CME_{section.upper()}_{key.upper()}"


def _coerce(value: Any, kind: Any, where: str) -> Any:
    """Turn a TOML value or an environment string into the field's type, or say why not."""
    origin = typing.get_origin(kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{where} must be true or false, not {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise SettingsError(f"{where} must be a whole number, not {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where} must be a whole number, not {value!r}") from None
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where} must be a number, not {value!r}") from None
    if kind is str:
        if not isinstance(value, str):
            raise SettingsError(f"{where} must be text, not {value!r}")
        return value
    if kind is Path:
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{where} must be a folder path")
        return Path(value).expanduser().resolve()
    if origin is tuple:
        if isinstance(value, str):
            items = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, list):
            items = value
        else:
            raise SettingsError(f"{where} must be a list (comma-separated in the environment)")
        inner = (typing.get_args(kind) or (str,))[0]
        return tuple(_coerce(item, inner, where) for item in items)
    if isinstance(kind, types.UnionType):  # pragma: no cover - no optional keys yet
        return value
    raise SettingsError(f"{where}: unsupported setting type {kind!r}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist (CME_CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, dict[str, Any]], extra: dict[str, Any], source: str) -> None:
    for section, values in extra.items():
        if section not in _SECTIONS:
            raise SettingsError(f"{source}: unknown section [{section}]")
        if not isinstance(values, dict):
            raise SettingsError(f"{source}: [{section}] must be a table")
        for key, value in values.items():
            if key not in base[section]:
                raise SettingsError(f"{source}: unknown key {section}.{key}")
            base[section][key] = value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings, failing fast with a message that names the bad key."""
    env = os.environ if env is None else env
    raw = _read_toml(DEFAULT_FILE)
    sources = [str(DEFAULT_FILE)]
    if env.get("CME_CONFIG"):
        path = Path(env["CME_CONFIG"])
        _merge(raw, _read_toml(path), str(path))
        sources.append(str(path))

    # CME_USER is not a setting: it names who the CLI acts as (`cme --as`).
    known_env = {"CME_CONFIG", "CME_USER"}
    for section, keys in raw.items():
        for key in keys:
            name = _env_name(section, key)
            known_env.add(name)
            if name in env:
                raw[section][key] = env[name]
                sources.append(name)
    unknown = sorted(
        k
        for k in env
        if k.startswith("CME_") and k not in known_env and not k.startswith("CME_TEST_")
    )
    if unknown:
        raise SettingsError(
            f"unknown setting {unknown[0]} in the environment; remove it or fix the name"
        )

    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        hints = _hints(cls)
        values = raw.get(section, {})
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in values]
        if missing:
            raise SettingsError(f"config/default.toml lacks {section}.{missing[0]}")
        built[section] = cls(
            **{
                f.name: _coerce(values[f.name], hints[f.name], f"{section}.{f.name}")
                for f in dataclasses.fields(cls)
            }
        )
    settings = Settings(**built, sources=tuple(sources))
    _validate(settings)
    return settings


def database_url(settings: Settings) -> str:
    """The configured URL, or the embedded SQLite database in the data home."""
    return settings.core.database_url or f"sqlite:///{settings.core.home / 'cme.db'}"


def _validate(s: Settings) -> None:
    if s.core.mode not in {"development", "production"}:
        raise SettingsError("core.mode must be 'development' or 'production'")
    if not (len(s.core.la_code) == 3 and s.core.la_code.isdigit()):
        raise SettingsError(f"core.la_code must be a 3-digit LA code, not {s.core.la_code!r}")
    if s.core.database_url:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(s.core.database_url)
        except ArgumentError:
            raise SettingsError(
                "CME_DATABASE_URL is not a database URL; expected e.g. "
                "sqlite:///var/cme.db or postgresql+psycopg://user@host/db"
            ) from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise SettingsError("CME_DATABASE_URL must be an sqlite or postgresql URL")
    for port, name in (
        (s.smtp.port, "smtp.port"),
        (s.web.port, "web.port"),
        (s.imap.port, "imap.port"),
    ):
        if not 0 <= port <= 65535:
            raise SettingsError(f"{name} must be between 0 and 65535")
    if s.deadlines.progress_update_days < 1:
        raise SettingsError("deadlines.progress_update_days must be at least 1")
    from gateway.cases.labels import AGENCIES

    for key in ("police_after", "no_trace_after"):
        for agency in getattr(s.casework, key):
            if agency not in AGENCIES:
                raise SettingsError(
                    f"casework.{key} names {agency!r}, not an agency; use: {', '.join(AGENCIES)}"
                )
    if s.casework.progress_repeat_days < 1 or s.casework.parent_contact_days < 0:
        raise SettingsError(
            "casework.progress_repeat_days must be 1 or more, parent_contact_days 0 or more"
        )
    if s.deadlines.first_contact_days < 0:
        raise SettingsError("deadlines.first_contact_days must be 0 (the same day) or more")
    if not 0 <= s.jobs.parser_processes <= 16:
        raise SettingsError("jobs.parser_processes must be from 0 (parse in the worker) to 16")
    if not 0 <= s.matching.lower_threshold <= s.matching.upper_threshold <= 1:
        raise SettingsError("matching thresholds must satisfy 0 <= lower <= upper <= 1")
    _validate_limits(s.limits)
    _validate_reports(s.reports)
    _validate_retention(s.retention)
    if s.smtp.relay and ":" not in s.smtp.relay:
        raise SettingsError("smtp.relay (CME_SMTP_RELAY) must be HOST:PORT")
    if s.smtp.require_starttls and not (s.smtp.tls_cert and s.smtp.tls_key):
        raise SettingsError("smtp.require_starttls needs smtp.tls_cert and smtp.tls_key")
    if s.production:
        if s.smtp.relay_user and not s.smtp.relay_password:
            raise SettingsError(
                "production mode: smtp.relay_password (CME_SMTP_RELAY_PASSWORD) is missing"
            )
        if s.imap.enabled and not (
            s.imap.password or s.imap.oauth2_token or s.imap.oauth2_token_file
        ):
            raise SettingsError(
                "production mode: imap.password, imap.oauth2_token or imap.oauth2_token_file "
                "is missing"
            )
        if not s.web.https:
            raise SettingsError(
                "production mode: web.https must be true (serve the console over TLS)"
            )


#: "N per unit" with N >= 1, ";"-separated: a strict subset of what `limits` parses, so a
#: value of this shape needs no `limits` import to be accepted (every command loads the
#: settings; only the web app uses the limits).
_PLAIN_LIMITS = re.compile(
    r"\s*[1-9][0-9]* per (?:second|minute|hour|day)s?\s*(?:;\s*[1-9][0-9]* per "
    r"(?:second|minute|hour|day)s?\s*)*"
)


def _limits_ok(value: str) -> bool:
    if _PLAIN_LIMITS.fullmatch(value):
        return True
    from limits import parse_many  # anything else: the library that will enforce it decides

    try:
        items = parse_many(value)
    except ValueError:
        return False
    return bool(items) and all(item.amount >= 1 for item in items)


def _validate_limits(limits: Limits) -> None:
    for f in dataclasses.fields(limits):
        value = getattr(limits, f.name)
        if not isinstance(value, str):
            continue
        env = _env_name("limits", f.name)
        if not _limits_ok(value):
            raise SettingsError(
                f"limits.{f.name} ({env}) must be like '5 per hour' or '5 per hour; 20 per day', "
                f"not {value!r}"
            )
    if limits.refer_token_hours < 1:
        raise SettingsError(
            "limits.refer_token_hours (CME_LIMITS_REFER_TOKEN_HOURS) must be at least 1"
        )


def _validate_reports(r: Reports) -> None:
    starts = []
    for key in ("spring_start", "summer_start", "autumn_start"):
        value = getattr(r, key)
        try:
            month, day = (int(part) for part in value.split("-"))
            starts.append(date(2001, month, day))  # a year with no 29 February
        except ValueError:
            raise SettingsError(
                f"reports.{key} (CME_REPORTS_{key.upper()}) must be MM-DD, e.g. 09-01, "
                f"not {value!r}"
            ) from None
    if not starts[0] < starts[1] < starts[2]:
        raise SettingsError(
            "reports term starts must fall in the order spring_start < summer_start < "
            "autumn_start within a calendar year"
        )
    bands = r.time_missing_bands
    if not bands or bands[0] < 1 or any(a >= b for a, b in itertools.pairwise(bands)):
        raise SettingsError(
            "reports.time_missing_bands must be whole numbers of days, 1 or more, increasing"
        )
    if r.long_term_days < 1 or r.complex_cases_max < 0:
        raise SettingsError(
            "reports.long_term_days must be 1 or more and reports.complex_cases_max 0 or more"
        )


def _validate_retention(r: Retention) -> None:
    if not 1 <= r.case_age <= 120:
        raise SettingsError(
            f"retention.case_age (CME_RETENTION_CASE_AGE) must be an age in years, 1 to 120, "
            f"not {r.case_age}"
        )
    for key in ("looked_after_age", "child_protection_age", "sen_ehcp_age"):
        age = getattr(r, key)
        if not r.case_age <= age <= 120:
            raise SettingsError(
                f"retention.{key} (CME_RETENTION_{key.upper()}) keeps a flagged case longer: "
                f"an age from retention.case_age ({r.case_age}) to 120, not {age}"
            )
    if not 1 <= r.no_dob_years <= 120 or not 0 <= r.min_years_after_close <= 120:
        raise SettingsError(
            "retention.no_dob_years must be 1 to 120 years and retention.min_years_after_close "
            "0 to 120"
        )
    for key in ("dismissed_referral_days", "quarantine_discarded_days", "quarantine_held_days"):
        days = getattr(r, key)
        if not 1 <= days <= 36_500:
            raise SettingsError(
                f"retention.{key} (CME_RETENTION_{key.upper()}) must be 1 to 36500 days, not {days}"
            )
