"""The public form cannot be used to flood us or to mail someone our letterhead (issue 12, 2).

Submissions are limited per client address and per referrer address (counted in the
database, so every process agrees), each page can be sent once, and a letter to the
address typed into the form carries nothing typed into it.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.policy import default

import pytest
import time_machine
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from gateway import jobs
from gateway.db import make_engine
from gateway.models.intake import RawMessage
from gateway.models.ops import OutboxMessage
from gateway.models.referral import Referral
from gateway.ratelimit import Limiter
from tests.web.conftest import WebClient, WebEnv
from tests.web.test_refer import GOOD, form_token
from web.app import create_app


@pytest.fixture
def tight(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small limits, set the way an operator would: in the environment."""
    monkeypatch.setenv("CME_LIMITS_REFER_PER_CLIENT", "3 per hour")
    monkeypatch.setenv("CME_LIMITS_REFER_PER_REFERRER", "2 per hour")


def _stored(web: WebEnv) -> int:
    with web.session() as s:
        return int(s.execute(select(func.count()).select_from(RawMessage)).scalar_one())


def _send(client: WebClient, addr: str = "192.0.2.10", **fields: str) -> TestResponse:
    """Load the form and send it, as a browser at `addr` would."""
    page = client.get("/refer", environ_base={"REMOTE_ADDR": addr})
    data = {**GOOD, **fields, "csrf_token": page.csrf(), "form_token": form_token(page)}
    return client.raw.post("/refer", data=data, environ_base={"REMOTE_ADDR": addr})


@pytest.mark.usefixtures("tight")
def test_past_the_client_limit_429_and_nothing_stored(web: WebEnv, client: WebClient) -> None:
    for n in range(3):
        assert _send(client, referrer_email=f"person{n}@example.org").status_code == 201
    refused = _send(client, referrer_email="person9@example.org")
    assert refused.status_code == 429
    page = client._check(refused)
    assert page.h1 == "You have sent several referrals in a short time"
    assert "Wait an hour and try again, or email it to cme@redcar-cleveland.example" in page.text(
        "//p[@id='wait']"
    )
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert _stored(web) == 3
    # Another address is not held up by this one.
    assert _send(client, "192.0.2.99", referrer_email="other@example.org").status_code == 201


@pytest.mark.usefixtures("tight")
def test_one_referrer_address_is_limited_from_any_client(web: WebEnv, client: WebClient) -> None:
    assert _send(client, "192.0.2.1", referrer_email="victim@example.org").status_code == 201
    assert _send(client, "192.0.2.2", referrer_email="Victim@Example.org").status_code == 201
    assert _send(client, "192.0.2.3", referrer_email="victim@example.org").status_code == 429
    assert _stored(web) == 2


@pytest.mark.usefixtures("tight")
def test_two_processes_share_the_count(web: WebEnv, client: WebClient, db_url: str) -> None:
    engine = make_engine(db_url)
    other = create_app(web.settings, engine)
    other.config["TESTING"] = True
    other_client = WebClient(other)
    try:
        answers = [
            _send((client, other_client)[n % 2], referrer_email=f"p{n}@example.org").status_code
            for n in range(4)
        ]
    finally:
        from web.server import close_app

        close_app(other)
        engine.dispose()
    assert answers == [201, 201, 201, 429]
    assert _stored(web) == 3


def test_a_page_is_sent_once(web: WebEnv, client: WebClient) -> None:
    page = client.get("/refer")
    data = {**GOOD, "form_token": form_token(page)}
    first = client.post("/refer", data, status=201)
    reference = first.text("//strong[@id='reference']")
    again = client.post("/refer", {**data, "forename": "Another"}, status=409)
    assert again.h1 == "This referral has already been sent"
    assert again.text("//strong[@id='reference']") == reference
    assert _stored(web) == 1


def test_an_expired_page_keeps_the_answers_and_sends_nothing(
    web: WebEnv, client: WebClient
) -> None:
    shown = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(shown, tick=False):
        old = form_token(client.get("/refer"))
    hours = web.settings.limits.refer_token_hours
    with time_machine.travel(shown + timedelta(hours=hours, minutes=1), tick=False):
        page = client.post("/refer", {**GOOD, "form_token": old}, status=400)
        assert "open for too long" in page.text("//*[@id='notice']")
        assert page.doc.xpath("//input[@id='surname']/@value") == ["Inventedson"]
        assert _stored(web) == 0
        fresh = form_token(page)
        assert fresh != old
        client.post("/refer", {**GOOD, "form_token": fresh}, status=201)
    assert _stored(web) == 1


def test_a_forged_token_sends_nothing(web: WebEnv, client: WebClient) -> None:
    client.get("/refer")
    client.post("/refer", {**GOOD, "form_token": "x.1900000000.forged"}, status=400)
    assert _stored(web) == 0


def test_counters_out_of_reach_answer_503_not_500(web: WebEnv, client: WebClient) -> None:
    broken = make_engine("sqlite://")  # no tables: the counters cannot be read
    web.app.extensions["cme.limiter"] = Limiter(broken, web.settings.limits)
    try:
        token = form_token(client.get("/refer"))
        page = client.post("/refer", {**GOOD, "form_token": token}, status=503)
    finally:
        broken.dispose()
    assert "Nothing was sent" in page.text("//main")
    assert _stored(web) == 0


def _letters(web: WebEnv) -> list[str]:
    with web.session() as s:
        rows = s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    return [
        email.message_from_bytes(r.raw, policy=default).get_body().get_content()  # type: ignore[union-attr]
        for r in rows
    ]


def test_a_form_referrals_letter_echoes_nothing_typed(web: WebEnv, client: WebClient) -> None:
    import gateway.intake.dispatch  # noqa: F401  (registers the dispatch job)
    from web.server import close_app

    token = form_token(client.get("/refer"))
    gaps = {"school": ""}  # complete enough for a case at once; a letter asks for the school
    typed_name = "Visit evil.example to claim your refund"
    client.post(
        "/refer",
        {**GOOD, **gaps, "referrer_name": typed_name, "form_token": token},
        status=201,
    )
    close_app(web.app)
    assert jobs.drain(web.engine, web.settings) >= 1
    with web.session() as s:
        referral = s.execute(select(Referral)).scalar_one()
        assert referral.channel == "form"
        assert referral.referrer_name == typed_name  # the officer still sees it
    (letter,) = _letters(web)
    assert letter.startswith("Dear referrer,")
    assert "evil.example" not in letter and "refund" not in letter
    assert "school (current or last attended) is missing" in letter
