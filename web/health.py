"""`/healthz`: whether this instance can serve, for a load balancer or a monitor."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from gateway.health import check
from web.access import public, sessionless
from web.db import engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
@sessionless
def healthz() -> Response:
    health = check(engine())
    response = jsonify(health.as_dict())
    response.status_code = 200 if health.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
