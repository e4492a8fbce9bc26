"""The Flask app factory for the officer console, the public referral form and partner APIs."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import Engine

from gateway.cases.describe import long_date
from gateway.cases.workflow import load_workflow
from gateway.demo.marker import is_demo_home
from gateway.home import HomeError, open_engine
from gateway.settings import Settings
from gateway.totp import TotpVault
from web import (
    access,
    account,
    admin,
    allocation,
    audit_views,
    auth,
    cases,
    casework,
    csrf,
    dashboard,
    disclosures,
    enquiries,
    errors,
    exchange,
    exchange_console,
    headers,
    health,
    lost_pupil,
    matches,
    monitoring,
    printing,
    quarantine,
    refer,
    reports,
    sar,
    triage,
)
from web.db import close_db

log = logging.getLogger(__name__)


def load_secret_key(settings: Settings) -> bytes:
    """The signing key for session cookies, from the data home (made by `cme init`)."""
    path = settings.keys_dir / "flask_secret"
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise HomeError(f"no session key at {path}: run `cme init` first") from None
    if len(key) < 32:
        raise HomeError(f"the session key at {path} is too short; delete it and run `cme init`")
    return key


def create_app(settings: Settings, engine: Engine | None = None) -> Flask:
    """The console app; `engine` defaults to the data home's database."""
    from gateway.claims import install

    install()
    app = Flask(__name__)
    secure = settings.web.https
    app.config.update(
        SECRET_KEY=load_secret_key(settings),
        # __Host- cookies are only accepted over HTTPS, for this host, for every path.
        SESSION_COOKIE_NAME="__Host-cme_session" if secure else "cme_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PREFERRED_URL_SCHEME="https" if secure else "http",
        # The largest legitimate body is a school's CTF upload; forms are far smaller.
        MAX_CONTENT_LENGTH=settings.lost_pupil.max_upload_bytes,
        MAX_FORM_MEMORY_SIZE=512 * 1024,
        CME_IDLE_SECONDS=settings.web.session_idle_minutes * 60,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["cme.settings"] = settings
    app.extensions["cme.engine"] = engine if engine is not None else open_engine(settings)
    app.extensions["cme.totp"] = TotpVault.load(settings.keys_dir)
    workflow = load_workflow(settings.workflow.file)

    app.before_request(access.gate)
    app.before_request(csrf.check_csrf)
    app.after_request(headers.add_security_headers)
    app.teardown_appcontext(close_db)

    zone = ZoneInfo(settings.core.timezone)

    @app.template_filter("local")
    def _local(value: datetime | None, fmt: str = "%-d %b %Y %H:%M") -> str:
        # Stored in UTC; officers read the local authority's own clock time.
        return value.astimezone(zone).strftime(fmt) if value else ""

    @app.template_filter("govuk_date")
    def _govuk_date(value: date | str | None) -> str:
        # "3 December 2026", as GOV.UK writes dates; a time is first put on the local clock.
        if isinstance(value, datetime):
            value = value.astimezone(zone).date()
        return long_date(value)

    @app.template_filter("govuk_time")
    def _govuk_time(value: datetime | None) -> str:
        # "3 December 2026 at 2:05pm" on the local clock.
        if value is None:
            return ""
        local = value.astimezone(zone)
        return f"{long_date(local.date())} at {local:%-I:%M}{'am' if local.hour < 12 else 'pm'}"

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "current_user": access.current_user(),
            "csrf_token": csrf.csrf_token,
            "la_name": settings.core.la_name,
            "status_labels": workflow.statuses,
            "demo_home": is_demo_home(settings.home),
        }

    errors.register(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(quarantine.bp)
    app.register_blueprint(refer.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(exchange.bp)
    app.register_blueprint(lost_pupil.bp)
    app.register_blueprint(lost_pupil.school_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(matches.bp)
    app.register_blueprint(triage.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(allocation.bp)
    app.register_blueprint(monitoring.bp)
    app.register_blueprint(printing.bp)
    app.register_blueprint(disclosures.bp)
    app.register_blueprint(exchange_console.bp)
    app.register_blueprint(enquiries.bp)
    app.register_blueprint(casework.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(sar.bp)
    app.register_blueprint(reports.bp)
    # Blueprints of other areas register here, one line each.
    return app
