"""Where `cme run`'s log records go: everything, with its structured fields, to the log file
(`$CME_HOME/cme.log`, rotated); only warnings and errors to the terminal, in a plain line.

With `log_level = "DEBUG"` (CME_LOG_LEVEL=DEBUG) the terminal gets every record too, in the
log file's form. No child's data is ever logged (the services log ids and types, not values).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path

from gateway.settings import Settings

LOG_FILE = "cme.log"
#: Attributes every LogRecord has; anything else on a record came from `extra={...}`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class StructuredFormatter(logging.Formatter):
    """`time LEVEL logger message {"extra": ...}`: one line a machine can split, per record."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extra:
            line += " " + json.dumps(extra, default=str, sort_keys=True, ensure_ascii=False)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class PlainFormatter(logging.Formatter):
    """`cme: warning: message` for the person at the terminal; the detail is in the file."""

    def format(self, record: logging.LogRecord) -> str:
        return f"cme: {record.levelname.lower()}: {record.getMessage()}"


def configure(settings: Settings) -> Path:
    """Send the process's logging to the log file and the terminal; returns the file."""
    level = logging.getLevelName(settings.core.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = settings.home / LOG_FILE
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    to_file.setFormatter(StructuredFormatter())
    to_file.setLevel(level)
    terminal = logging.StreamHandler()
    if level <= logging.DEBUG:
        terminal.setFormatter(StructuredFormatter())
        terminal.setLevel(level)
    else:
        terminal.setFormatter(PlainFormatter())
        terminal.setLevel(logging.WARNING)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(to_file)
    root.addHandler(terminal)
    root.setLevel(level)
    return path
