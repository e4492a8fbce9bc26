"""POST /exchange cannot fill our disk (issue 12, item 3).

Anyone can post. What no pinned partner signed costs a bounded record (hash, size, peer,
reason, the first bytes); only a message whose signature verifies against a pinned
partner is kept whole. Posts and refusals are limited per peer; an exchange that is
not set up answers 503, never 500.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from gateway.db import session_scope
from gateway.exchange.envelope import seal
from gateway.exchange.keys import Identity, init_keys, load_identity
from gateway.exchange.partners import add_partner
from gateway.models.exchange import QuarantinedMessage
from gateway.ratelimit import Limiter
from parsers.exchange import DocType, Document, Header, Pupil, render_document
from tests.gateway.exchange.conftest import make_identity
from tests.web.conftest import WebClient, WebEnv

GARBAGE = b"\x30\x82" + b"\xab" * 200_000  # looks like DER for two bytes, then nothing


@pytest.fixture(scope="module")
def partner_806() -> Identity:
    return make_identity("806")


@pytest.fixture
def exchange(web: WebEnv, partner_806: Identity) -> Iterator[WebEnv]:
    """Our exchange set up (`cme keys init`), with LA 806's certificate pinned."""
    init_keys(web.settings.keys_dir, la_code="807", la_name="Redcar and Cleveland",
              email="cme@redcar-cleveland.example")  # fmt: skip
    with session_scope(web.engine) as s:
        add_partner(
            s, web.settings, la_code="806", name="Test LA 806", email="cme@la806.example",
            cert_bytes=partner_806.certificate.public_bytes(serialization.Encoding.PEM),
        )  # fmt: skip
    yield web


def _post(client: WebClient, body: bytes, peer: str = "192.0.2.50") -> TestResponse:
    return client.raw.post(
        "/exchange",
        data=body,
        content_type="application/pkcs7-mime",
        environ_base={"REMOTE_ADDR": peer},
    )


def _rows(web: WebEnv) -> list[QuarantinedMessage]:
    with web.session() as s:
        return list(s.execute(select(QuarantinedMessage).order_by(QuarantinedMessage.id)).scalars())


def _signed_by_806(web: WebEnv, partner: Identity, recipient_la: str = "808") -> bytes:
    """A real message from LA 806, sealed to us, but addressed to another LA: refused."""
    header = Header("6b1f1d5e-0000-4000-8000-000000000001", "806", recipient_la,
                    datetime.now(UTC).replace(microsecond=0))  # fmt: skip
    doc = Document(DocType.ENQUIRY, header, case_ref="CME-1",
                   lawful_basis="test", pupil=Pupil("Testington", "Amelia"))  # fmt: skip
    ours = load_identity(web.settings.keys_dir).certificate
    return seal(render_document(doc), "x", sender=partner, recipient=ours).der


def test_not_set_up_answers_503(web: WebEnv, client: WebClient) -> None:
    resp = _post(client, GARBAGE)
    assert resp.status_code == 503
    assert resp.mimetype == "text/plain"
    assert "this authority's exchange is not set up yet" in resp.get_data(as_text=True)
    assert _rows(web) == []


def test_garbage_costs_a_bounded_record(exchange: WebEnv, client: WebClient) -> None:
    resp = _post(client, GARBAGE)
    assert resp.status_code == 400
    (row,) = _rows(exchange)
    assert row.raw is None and not row.kept_whole
    assert (row.size, row.sha256) == (len(GARBAGE), hashlib.sha256(GARBAGE).hexdigest())
    assert row.prefix == GARBAGE[:256]
    assert (row.peer, row.signer_la, row.channel) == ("192.0.2.50", None, "https")
    stored = len(row.prefix) + len(row.reason) + len(row.sha256) + len(row.peer or "")
    assert stored < 700, "a few hundred bytes, whatever was posted"


def test_signed_by_a_pinned_partner_but_refused_is_kept_whole(
    exchange: WebEnv, client: WebClient, partner_806: Identity
) -> None:
    body = _signed_by_806(exchange, partner_806)
    assert _post(client, body).status_code == 400
    tampered = bytearray(body)
    tampered[len(tampered) // 2] ^= 0x01  # the outer signature no longer verifies
    assert _post(client, bytes(tampered)).status_code == 400
    assert _post(client, body).status_code == 400  # the same bytes again
    whole, forged, again = _rows(exchange)
    assert whole.raw == body and whole.signer_la == "806"
    assert "addressed to LA 808" in whole.reason
    assert forged.raw is None and forged.signer_la is None
    assert again.raw is None and again.signer_la == "806"  # one whole copy is enough


def test_an_impostor_for_a_partner_is_not_authenticated(
    exchange: WebEnv, client: WebClient
) -> None:
    impostor = make_identity("806")  # claims LA 806, but not the pinned key
    assert _post(client, _signed_by_806(exchange, impostor, "807")).status_code == 400
    (row,) = _rows(exchange)
    assert row.raw is None and row.signer_la is None
    assert "not a pinned partner" in row.reason


def _tight(web: WebEnv, **rules: str) -> None:
    limits = dataclasses.replace(web.settings.limits, **rules)
    web.app.extensions["cme.limiter"] = Limiter(web.engine, limits, clock=lambda: 1.9e9)


def test_posts_per_peer_are_limited(exchange: WebEnv, client: WebClient) -> None:
    _tight(exchange, exchange_per_peer="3 per minute")
    assert [_post(client, b"hello").status_code for _ in range(3)] == [400] * 3
    refused = _post(client, GARBAGE)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert len(_rows(exchange)) == 3  # the refused post was not even read
    assert _post(client, b"hello", peer="198.51.100.1").status_code == 400


def test_refusals_per_peer_are_limited(exchange: WebEnv, client: WebClient) -> None:
    _tight(exchange, exchange_refusals_per_peer="2 per hour")
    assert [_post(client, GARBAGE).status_code for _ in range(3)] == [400, 400, 429]
    with exchange.session() as s:
        assert s.execute(select(func.count()).select_from(QuarantinedMessage)).scalar() == 2
