"""The errors a person can act on, across the gateway; the CLI prints them in one line."""

from __future__ import annotations

from gateway.audit import AuditKeyError
from gateway.audit_anchor import AnchorError
from gateway.cases.inputs import InputError
from gateway.cases.queries import NotFound
from gateway.cases.workflow import WorkflowError
from gateway.exchange.errors import ExchangeError
from gateway.settings import SettingsError
from lost_pupil.errors import LostPupilError
from parsers.errors import ParseError


class UserError(ValueError):
    """Any other input a person must correct (gateway.home's HomeError is one)."""


USER_ERRORS: tuple[type[Exception], ...] = (
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
