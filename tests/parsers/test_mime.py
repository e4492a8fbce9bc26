"""The MIME reader on real shapes of mail and on hostile bytes."""

from __future__ import annotations

import base64
import hashlib
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.errors import ParseError
from parsers.mime import MAX_MESSAGE_BYTES, MAX_PARTS, parse_message
from tests.fixtures import mail
from tests.fixtures.referrals.corpus import load_corpus

EMAILS = [f.data for f in load_corpus() if f.kind == "email"]


def test_threading_ids_and_case_tag() -> None:
    msg = parse_message(mail.tagged(123, sender="x@school-806.example"))
    assert msg.case_tag == 123 and msg.message_id == "<tagged-123-x@school-806.example>"
    reply = parse_message(mail.reply("<ack-9@redcar-cleveland.example>"))
    assert reply.in_reply_to == ("<ack-9@redcar-cleveland.example>",)
    assert reply.references == ("<ack-9@redcar-cleveland.example>",)
    assert not reply.auto_reply and not reply.bounce


def test_auto_reply_and_bounce_signals() -> None:
    auto = parse_message(mail.auto_reply("<a@b>"))
    assert auto.auto_reply and "Auto-Submitted: auto-replied" in auto.auto_signals
    bounce = parse_message(mail.bounce("<q@r>"))
    assert bounce.bounce and not bounce.auto_reply
    assert "delivery-status report" in bounce.auto_signals
    ooo = EmailMessage()
    ooo["From"] = "head@school-805.example"
    ooo["Subject"] = "Out of Office: back Monday"
    ooo["Return-Path"] = "<>"
    ooo.set_content("Away")
    got = parse_message(ooo.as_bytes(policy=SMTP))
    assert got.auto_reply and "out-of-office subject" in got.auto_signals
    assert "empty return path" in got.auto_signals


def test_attachments_have_their_hash_and_forwards_are_read() -> None:
    payload = b"PK\x03\x04 not really a form"
    msg = parse_message(mail.with_attachment("form.docx", payload))
    (att,) = msg.attachments
    assert att.filename == "form.docx" and att.sha256 == hashlib.sha256(payload).hexdigest()
    fwd = next(f for f in load_corpus() if f.name == "18-email-forwarded-rfc822")
    outer = parse_message(fwd.data)
    assert outer.forwarded[0].from_address == "m.tennant@kirkleatham-807.example"
    assert "Darcey Milburn" in outer.forwarded[0].text


def test_charsets_decode_to_the_right_text() -> None:
    by_name = {f.name: f for f in load_corpus()}
    cp = parse_message(by_name["14-email-cp1252-qp"].data)
    assert "Siobhán O’Connor" in cp.text and "£40" in cp.text
    latin = parse_message(by_name["15-email-latin1-really-cp1252"].data)
    assert "Parent’s mobile" in latin.text
    html = parse_message(by_name["16-email-html-only-table"].data)
    assert html.html and "Reuben ASHCROFT" in html.text


def test_an_eml_attachment_is_a_forwarded_message() -> None:
    msg = EmailMessage()
    msg["From"] = "a@council.example"
    msg["Subject"] = "see attached"
    msg.set_content("attached")
    msg.add_attachment(mail.referral(4), maintype="application", subtype="octet-stream",
                       filename="original.eml")  # fmt: skip
    got = parse_message(msg.as_bytes(policy=SMTP))
    assert got.forwarded and got.forwarded[0].message_id == "<referral-4@school-807.example>"


def test_over_the_size_cap_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ParseError, match="over the limit"):
        parse_message(b"x" * (MAX_MESSAGE_BYTES + 1))


def _nested(levels: int) -> bytes:
    inner = b"Content-Type: text/plain\r\n\r\nhello\r\n"
    for i in range(levels):
        b = b"b%d" % i
        inner = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n"
                 + inner + b"\r\n--" + b + b"--\r\n")  # fmt: skip
    return b"From: deep@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n" + inner


@pytest.mark.parametrize("levels", [5, 40, 500, 3000])
def test_deep_nesting_is_bounded(levels: int) -> None:
    msg = parse_message(_nested(levels))
    assert msg.subject == "deep"
    if levels > 40:
        assert msg.defects


def test_ten_thousand_attachments() -> None:
    parts = [b"--B\r\nContent-Type: application/octet-stream\r\n"
             b'Content-Disposition: attachment; filename="f%d.bin"\r\n\r\nxx\r\n' % i
             for i in range(10_000)]  # fmt: skip
    head = (b"From: many@example.org\r\nSubject: many\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n')  # fmt: skip
    raw = head + b"".join(parts) + b"--B--\r\n"
    msg = parse_message(raw)
    assert len(msg.attachments) < MAX_PARTS
    assert any("more than" in d for d in msg.defects)


def test_huge_headers_and_invalid_base64() -> None:
    raw = (b"From: x@example.org\r\nSubject: " + b"A" * 200_000 + b"\r\n"
           + b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
           + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + b"!!!not base64@@@\r\n")  # fmt: skip
    msg = parse_message(raw)
    assert len(msg.subject) <= 16_384
    assert any("headers" in d for d in msg.defects)


def test_a_base64_body_decodes() -> None:
    body = base64.b64encode("Name: Zoë Ward\n".encode())
    raw = (b"From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n")  # fmt: skip
    assert "Zoë Ward" in parse_message(raw).text


@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    msg = parse_message(data)
    assert isinstance(msg.text, str)


@given(st.sampled_from(EMAILS), st.data())
def test_truncated_and_mutated_real_messages(raw: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(raw)))
    parse_message(raw[:cut])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)),
                               max_size=20))  # fmt: skip
    mutated = bytearray(raw)
    for pos, value in flips:
        mutated[pos] = value
    parse_message(bytes(mutated))
