"""The reports' one error: a request a person must correct (an unknown term, a bad filter)."""

from __future__ import annotations

from gateway.errors import UserError


class ReportError(UserError):
    """A report asked for in a way that cannot be answered; the message says what to give."""
