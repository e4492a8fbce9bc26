"""The data home: database, keys and stores, created by `cme init`."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Engine

from gateway import audit
from gateway.db import make_engine, migrate
from gateway.errors import UserError
from gateway.settings import Settings, database_url


class HomeError(UserError, RuntimeError):
    """The data home is missing or unusable; the message says how to fix it."""


@dataclass(frozen=True)
class HomeReport:
    home: Path
    database: str
    created: tuple[str, ...]


def write_secret_file(path: Path, data: bytes) -> bool:
    """Create a secret file readable by its owner only; never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def init_home(settings: Settings) -> HomeReport:
    """Make (or bring up to date) the data home. Safe to run again: nothing is replaced."""
    home = settings.home
    created: list[str] = []
    for sub in ("", "keys", "raw", "lost_pupil", "exchange"):
        folder = home / sub
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
            created.append(str(folder))
    os.chmod(settings.keys_dir, 0o700)
    if write_secret_file(settings.keys_dir / "flask_secret", secrets.token_hex(32).encode()):
        created.append("keys/flask_secret")
    # Imported here, as below: only `cme init` makes keys and anchors, and every other
    # command opens the engine through this module (start-up time).
    from gateway import audit_anchor
    from lost_pupil import store as lost_pupil_store

    if lost_pupil_store.create_key(settings.keys_dir / "lost_pupil.key"):
        created.append("keys/lost_pupil.key")
    from gateway.intake import rawkeys  # the raw store's master key (encryption at rest)

    if rawkeys.create(settings.keys_dir):
        created.append(f"keys/{rawkeys.KEY_FILE}")
    if write_secret_file(settings.keys_dir / audit.KEY_FILE, secrets.token_hex(32).encode()):
        created.append(f"keys/{audit.KEY_FILE}")
    # Imported here: only `cme init` needs them (start-up time of every other command).
    from gateway import totp, users

    if write_secret_file(totp.key_path(settings.keys_dir), totp.new_key()):
        created.append(f"keys/{totp.KEY_FILE}")
    engine = make_engine(database_url(settings))
    try:
        migrate(engine)
        users.seal_clear_totp_secrets(engine, totp.TotpVault.load(settings.keys_dir))
        audit.use_home_key(settings.keys_dir, engine.url)
        if audit_anchor.start_anchors(engine, settings):
            created.append("audit/anchors.jsonl")
    finally:
        engine.dispose()
    return HomeReport(home, _redact(database_url(settings)), tuple(created))


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cache
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def open_engine(settings: Settings) -> Engine:
    """The engine of an initialised home; a clear error if `cme init` was not run."""
    url = database_url(settings)
    if (
        url.startswith("sqlite:///")
        and not (settings.home / "cme.db").exists()
        and (not settings.core.database_url)
    ):
        raise HomeError(f"no data home at {settings.home}: run `cme init` first")
    audit.use_home_key(settings.keys_dir, url)  # read once; audit.record() needs it
    return _engine_for(url)
