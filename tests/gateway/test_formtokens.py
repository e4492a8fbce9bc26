"""One-time form tokens: signed when shown, spent once when sent, whichever process answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from gateway import formtokens
from gateway.db import make_engine
from gateway.formtokens import FormTokenInvalid

SECRET = b"s" * 32
NOW = 1_900_000_000.0
DAY = 86400


@pytest.fixture
def second_engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def test_a_token_reads_back_only_for_its_form_secret_and_age() -> None:
    token = formtokens.issue(SECRET, "refer", now=NOW)
    read = formtokens.read(SECRET, "refer", token, max_age_seconds=DAY, now=NOW + 60)
    assert read.form == "refer" and read.issued_at == int(NOW)
    for bad, form, secret, at in (
        (token, "refer", b"t" * 32, NOW),  # signed elsewhere
        (token, "upload", SECRET, NOW),  # another form's token
        (token, "refer", SECRET, NOW + DAY + 1),  # too old
        (token.replace(".", "x", 1), "refer", SECRET, NOW),
        ("", "refer", SECRET, NOW),
        ("a.b.c", "refer", SECRET, NOW),
    ):
        with pytest.raises(FormTokenInvalid):
            formtokens.read(secret, form, bad, max_age_seconds=DAY, now=at)
    nonce, issued, mac = token.split(".")
    with pytest.raises(FormTokenInvalid):  # an altered time is an altered token
        formtokens.read(SECRET, "refer", f"{nonce}.{int(issued) + DAY}.{mac}", max_age_seconds=DAY,
                        now=NOW + DAY + 10)  # fmt: skip


def test_a_token_is_spent_once_across_engines(engine: Engine, second_engine: Engine) -> None:
    token = formtokens.read(SECRET, "refer", formtokens.issue(SECRET, "refer"), max_age_seconds=DAY)
    assert formtokens.spent(engine, token) is None
    assert formtokens.claim(engine, token).claimed
    formtokens.complete(engine, token, "WEB-1234ABCD")
    again = formtokens.claim(second_engine, token)
    assert (again.claimed, again.reference) == (False, "WEB-1234ABCD")
    assert formtokens.spent(second_engine, token) == again


def test_concurrent_claims_have_one_winner(engine: Engine, second_engine: Engine) -> None:
    token = formtokens.read(SECRET, "refer", formtokens.issue(SECRET, "refer"), max_age_seconds=DAY)
    wins: list[bool] = []
    lock = threading.Lock()

    def send(eng: Engine) -> None:
        won = formtokens.claim(eng, token).claimed
        with lock:
            wins.append(won)

    threads = [
        threading.Thread(target=send, args=((engine, second_engine)[i % 2],)) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(wins) == [False] * 7 + [True]


def test_a_released_token_can_be_sent_again(engine: Engine) -> None:
    token = formtokens.read(SECRET, "refer", formtokens.issue(SECRET, "refer"), max_age_seconds=DAY)
    assert formtokens.claim(engine, token).claimed
    formtokens.release(engine, token)  # storing the submission failed
    assert formtokens.claim(engine, token).claimed
