"""Error pages: a plain GOV.UK page for each HTTP error, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

TITLES = {
    400: "There is a problem with your request",
    403: "You do not have permission to see this page",
    404: "Page not found",
    405: "Page not found",
    413: "The file or form you sent is too large",
    429: "Too many attempts",
    503: "Sorry, the service is unavailable",
}


def _render(code: int, message: str) -> tuple[str, int]:
    title = TITLES.get(code, "Sorry, there is a problem with the service")
    return render_template("errors/error.html", title=title, message=message, code=code), code


def handle_http(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    if code == 500:
        return handle_internal(exc)
    return _render(code, exc.description or "")


def handle_internal(exc: BaseException) -> tuple[str, int]:
    original = getattr(exc, "original_exception", None) or exc
    # The type only: an exception message could quote a child's details.
    log.error("internal error in the console", extra={"error": type(original).__name__})
    return _render(500, "Try again later. Nothing you sent has been lost.")


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_internal)
