"""POST /exchange: a partner LA's signed, encrypted message, answered with a signed receipt.

Authenticated by the S/MIME signature against the pinned partner, not by a login, so it
is public to the access gate and exempt from CSRF (no cookies are involved).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from gateway.db import session_scope
from gateway.exchange.records import Verdict
from gateway.exchange.service import handle_inbound_https
from web.access import public
from web.csrf import csrf_exempt
from web.db import engine, settings

bp = Blueprint("exchange", __name__)

#: An exchange message is a few kilobytes; anything near this is not one of ours.
MAX_BODY = 2 * 1024 * 1024
RECEIPT_TYPE = "application/pkcs7-mime; smime-type=signed-data"


@bp.post("/exchange")
@public
@csrf_exempt
def receive() -> Response:
    length = request.content_length
    if length is not None and length > MAX_BODY:
        return Response("message too large\n", status=413, mimetype="text/plain")
    body = request.get_data(cache=False)
    if not body or len(body) > MAX_BODY:
        return Response("empty or oversized message\n", status=400, mimetype="text/plain")
    with session_scope(engine()) as session:
        outcome = handle_inbound_https(session, settings(), body)
    if outcome.verdict in {Verdict.ACCEPTED, Verdict.DUPLICATE} and outcome.receipt:
        return Response(outcome.receipt, status=200, mimetype=None, content_type=RECEIPT_TYPE)
    if outcome.verdict is Verdict.RECEIPT:
        return Response(status=204)
    # One answer for every refusal: the sender learns nothing about why.
    return Response(outcome.detail + "\n", status=400, mimetype="text/plain")
