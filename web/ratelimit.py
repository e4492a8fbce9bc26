"""The web side of the rate limiter: one limiter per app, the client's key, wait phrases."""

from __future__ import annotations

import math
import threading

from flask import current_app, request
from werkzeug.exceptions import ServiceUnavailable

from gateway.ratelimit import Decision, Limiter, RateLimitUnavailable, client_key
from web.db import engine, settings

_lock = threading.Lock()


def limiter() -> Limiter:
    """The app's limiter, made on first use; its counters live in the app's database."""
    with _lock:
        found: Limiter | None = current_app.extensions.get("cme.limiter")
        if found is None:
            found = Limiter(engine(), settings().limits)
            current_app.extensions["cme.limiter"] = found
        return found


def client() -> str:
    """The client this request counts against (its address; an IPv6 client by its /64)."""
    return client_key(request.remote_addr)


def hit(rule: str, identifier: str) -> Decision:
    """Count one attempt; if the counters cannot be reached, answer 503, never 500."""
    try:
        return limiter().hit(rule, identifier)
    except RateLimitUnavailable:
        raise ServiceUnavailable(
            "The service cannot take this now. Nothing was sent. Try again in a few minutes."
        ) from None


def peek(rule: str, identifier: str) -> Decision:
    """Would one more attempt be allowed? Counts nothing."""
    try:
        return limiter().test(rule, identifier)
    except RateLimitUnavailable:
        raise ServiceUnavailable(
            "The service cannot take this now. Nothing was sent. Try again in a few minutes."
        ) from None


def wait_phrase(seconds: int) -> str:
    """'a minute', '25 minutes', 'an hour', '3 hours': how long to wait, rounded up."""
    if seconds <= 60:
        return "a minute"
    if seconds < 3600 - 60:
        return f"{math.ceil(seconds / 60)} minutes"
    if seconds <= 3600:
        return "an hour"
    return f"{math.ceil(seconds / 3600)} hours"
