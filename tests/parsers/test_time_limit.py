"""The wall-clock guard: with the limit already passed, reading stops and says so (the
limit is set in the past, so nothing here depends on how fast the machine is)."""

from __future__ import annotations

import pytest

import parsers.mime
import parsers.referral
from parsers.mime import parse_message
from parsers.referral import parse_referral


def test_a_referral_past_its_time_limit_stops_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parsers.referral, "MAX_SECONDS", -1.0)
    text = "Name: Ava Grey\n" + "Reason: x y z\n" * 2_000
    draft = parse_referral(text)
    assert any("time limit" in d for d in draft.defects)


def test_a_message_past_its_time_limit_stops_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parsers.mime, "MAX_SECONDS", -1.0)
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(600))
    head = (b"From: a@b.example\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n')  # fmt: skip
    raw = head + parts + b"--B--\r\n"
    msg = parse_message(raw)
    assert msg.subject == "parts"
    assert any("the rest was skipped" in d for d in msg.defects)
