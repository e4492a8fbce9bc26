"""POST /exchange: a partner LA's signed, encrypted message, answered with a signed receipt.

Authenticated by the S/MIME signature against the pinned partner, not by a login, so it
is public to the access gate and exempt from CSRF (no cookies are involved). Anyone can
post, so posts are rate-limited per peer address, and so are refusals (far tighter).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from gateway.db import session_scope
from gateway.exchange.errors import ExchangeNotConfigured
from gateway.exchange.records import Verdict
from gateway.exchange.service import handle_inbound_https
from gateway.ratelimit import Decision
from web import ratelimit
from web.access import public
from web.csrf import csrf_exempt
from web.db import engine, settings

bp = Blueprint("exchange", __name__)

#: An exchange message is a few kilobytes; anything near this is not one of ours.
MAX_BODY = 2 * 1024 * 1024
RECEIPT_TYPE = "application/pkcs7-mime; smime-type=signed-data"
NOT_SET_UP = "this authority's exchange is not set up yet; try again later\n"


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status=status, mimetype="text/plain", headers=headers)


def _too_many(decision: Decision) -> Response:
    return _plain(
        f"too many messages from this address; try again in {decision.retry_after} seconds\n",
        429,
        {"Retry-After": str(decision.retry_after)},
    )


@bp.post("/exchange")
@public
@csrf_exempt
def receive() -> Response:
    peer = ratelimit.client()
    # Every post counts; a peer past its refusals is turned away before anything is read.
    refusals = ratelimit.peek("exchange_refusals_per_peer", peer)
    posts = ratelimit.hit("exchange_per_peer", peer)
    for decision in (refusals, posts):
        if not decision.allowed:
            return _too_many(decision)
    length = request.content_length
    if length is not None and length > MAX_BODY:
        return _plain("message too large\n", 413)
    body = request.get_data(cache=False)
    if not body or len(body) > MAX_BODY:
        return _plain("empty or oversized message\n", 400)
    try:
        with session_scope(engine()) as session:
            outcome = handle_inbound_https(session, settings(), body, peer=request.remote_addr)
    except ExchangeNotConfigured:
        return _plain(NOT_SET_UP, 503, {"Retry-After": "3600"})
    if outcome.verdict in {Verdict.ACCEPTED, Verdict.DUPLICATE} and outcome.receipt:
        return Response(outcome.receipt, status=200, mimetype=None, content_type=RECEIPT_TYPE)
    if outcome.verdict is Verdict.RECEIPT:
        return Response(status=204)
    ratelimit.hit("exchange_refusals_per_peer", peer)
    # One answer for every refusal: the sender learns nothing about why.
    return _plain(outcome.detail + "\n", 400)
