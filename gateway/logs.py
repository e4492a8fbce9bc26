"""Where `cme run`'s log records go: everything, with its structured fields, to the log file
(`$CME_HOME/cme.log`, rotated); only warnings and errors to the terminal, in a plain line.

With `log_level = "DEBUG"` (CME_LOG_LEVEL=DEBUG) the terminal gets every record too, in the
log file's form. No child's data is ever logged (the services log ids and types, not values):
- a traceback keeps its frames and each exception's type, never its message (an exception's
  text can quote what it failed on: a name, a line of a referral);
- libraries that log what passes through them are held at WARNING whatever the level: the
  SMTP server (aiosmtpd logs each envelope address at INFO, each line of a message at DEBUG)
  and SQLAlchemy (statements with their values at INFO).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from gateway.settings import Settings

LOG_FILE = "cme.log"
#: Attributes every LogRecord has; anything else on a record came from `extra={...}`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
#: Loggers that would write what passes through them (addresses, message lines, values).
QUIET = ("mail.log", "sqlalchemy")
_WITHHELD = "(message withheld from the log: it may quote a child's details)"


def exception_lines(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None]
    | tuple[None, None, None],
) -> str:
    """A traceback with its frames and each exception's type, without the messages."""
    exc = exc_info[1]
    if exc is None:
        return ""
    return "".join(_without_messages(traceback.TracebackException.from_exception(exc))).rstrip()


def _without_messages(te: traceback.TracebackException) -> Iterator[str]:
    if te.__cause__ is not None:
        yield from _without_messages(te.__cause__)
        yield "\nThe above exception was the direct cause of the following exception:\n\n"
    elif te.__context__ is not None and not te.__suppress_context__:
        yield from _without_messages(te.__context__)
        yield "\nDuring handling of the above exception, another exception occurred:\n\n"
    if te.stack:
        yield "Traceback (most recent call last):\n"
        yield from te.stack.format()
    kind = te.exc_type
    name = "Exception" if kind is None else f"{kind.__module__}.{kind.__qualname__}"
    yield f"{name.removeprefix('builtins.')} {_WITHHELD}\n"


class StructuredFormatter(logging.Formatter):
    """`time LEVEL logger message {"extra": ...}`: one line a machine can split, per record."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extra:
            line += " " + json.dumps(extra, default=str, sort_keys=True, ensure_ascii=False)
        if record.exc_info:
            line += "\n" + exception_lines(record.exc_info)
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
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return path
