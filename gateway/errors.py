"""The errors a person can act on, across the gateway; the CLI prints them in one line."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING


class UserError(ValueError):
    """Any other input a person must correct (gateway.home's HomeError is one)."""


if TYPE_CHECKING:
    USER_ERRORS: tuple[type[Exception], ...]


@cache
def _user_errors() -> tuple[type[Exception], ...]:
    # Gathered on first use, not on import: every area's exceptions pull in that area's
    # libraries (the exchange's cryptography among them), and UserError is imported by
    # modules every command loads, so importing it must cost nothing (CLI start-up).
    from gateway.audit import AuditKeyError
    from gateway.audit_anchor import AnchorError
    from gateway.cases.inputs import InputError
    from gateway.cases.queries import NotFound
    from gateway.cases.workflow import WorkflowError
    from gateway.exchange.errors import ExchangeError
    from gateway.settings import SettingsError
    from lost_pupil.errors import LostPupilError
    from parsers.errors import ParseError

    return (
        UserError,
        AuditKeyError,
        AnchorError,
        InputError,
        NotFound,
        WorkflowError,
        SettingsError,
        ParseError,
        ExchangeError,
        LostPupilError,
    )


def __getattr__(name: str) -> tuple[type[Exception], ...]:
    if name == "USER_ERRORS":
        return _user_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
