"""The exchange documents: schema validation, round trips, and refusals."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.errors import ParseError
from parsers.exchange import (
    Address,
    Disposition,
    DocType,
    Document,
    Header,
    Outcome,
    Pupil,
    ReplyStatus,
    parse_document,
    render_document,
)

# XML 1.0 text without control characters; stripped values so whitespace survives as is.
_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
text = st.text(_chars, min_size=1, max_size=40).filter(lambda s: s.strip() == s and s)
la = st.sampled_from(["805", "806", "807", "808"])
uuids = st.uuids().map(str)
when = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
days = st.dates(min_value=date(2005, 1, 1), max_value=date(2030, 12, 31))
addresses = st.builds(
    Address,
    lines=st.lists(text, max_size=5).map(tuple),
    postcode=st.none() | st.just("TS10 1AA"),
)
pupils = st.builds(
    Pupil,
    surname=text,
    forename=text,
    upn=st.none() | st.sampled_from(["R807300024001", "Q80730002401A"]),
    middle_names=st.none() | text,
    former_surname=st.none() | text,
    dob=st.none() | days,
    sex=st.none() | st.sampled_from(["M", "F", "U"]),
    address=st.none() | addresses,
)
headers = st.builds(
    Header,
    message_id=uuids,
    sender_la=la,
    recipient_la=la,
    created_at=when,
    in_reply_to=st.none() | uuids,
)
outcomes = st.one_of(
    st.builds(Outcome, status=st.sampled_from([ReplyStatus.NOT_KNOWN,
              ReplyStatus.APPLICATION_IN_PROGRESS, ReplyStatus.EHE_NOTIFIED])),
    st.builds(Outcome, status=st.just(ReplyStatus.ON_ROLL),
              laestab=st.from_regex(r"\A80[5-8][0-9]{4}\Z"),
              school_name=st.none() | text, start_date=days),
    st.builds(Outcome, status=st.just(ReplyStatus.KNOWN_AT_ADDRESS), address=addresses),
    st.builds(Outcome, status=st.just(ReplyStatus.MOVED_ON),
              moved_to_la=st.none() | la, destination=st.none() | text),
)  # fmt: skip
requests = st.builds(
    Document,
    doc_type=st.sampled_from([DocType.ENQUIRY, DocType.STATUS_REQUEST, DocType.CASE_TRANSFER]),
    header=headers,
    case_ref=text,
    lawful_basis=text,
    pupil=pupils,
    note=st.none() | text,
)
replies = st.builds(
    Document,
    doc_type=st.just(DocType.REPLY),
    header=headers,
    case_ref=text,
    lawful_basis=text,
    outcome=outcomes,
    note=st.none() | text,
)
receipts = st.builds(
    Document,
    doc_type=st.just(DocType.RECEIPT),
    header=st.builds(Header, message_id=uuids, sender_la=la, recipient_la=la,
                     created_at=when, in_reply_to=uuids),
    received_sha256=st.from_regex(r"\A[0-9a-f]{64}\Z"),
    disposition=st.sampled_from(list(Disposition)),
)  # fmt: skip


@given(st.one_of(requests, replies, receipts))
def test_round_trip(doc: Document) -> None:
    assert parse_document(render_document(doc)) == doc


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_document(data)


@given(requests, st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=3))
def test_mangled_documents_give_parse_error_only(doc: Document, pos: int, junk: bytes) -> None:
    data = bytearray(render_document(doc))
    pos %= len(data)
    data[pos : pos + len(junk)] = junk
    with contextlib.suppress(ParseError):
        parse_document(bytes(data))


def _enquiry() -> Document:
    return Document(
        DocType.ENQUIRY,
        Header(str(uuid.uuid4()), "807", "806", datetime(2025, 3, 4, 9, 0, tzinfo=UTC)),
        case_ref="CME-12",
        lawful_basis="UK GDPR Art 6(1)(e); Education Act 1996 s.436A",
        pupil=Pupil("Testington", "Amelia", upn="R807300024001", dob=date(2014, 5, 6), sex="F"),
    )


def test_schema_refusals_name_the_problem() -> None:
    good = render_document(_enquiry())
    with pytest.raises(ParseError, match="schema"):
        parse_document(good.replace(b"<SenderLA>807<", b"<SenderLA>8070<"))
    with pytest.raises(ParseError, match="schema"):
        parse_document(good.replace(b"R807300024001", b"not-a-upn"))
    with pytest.raises(ParseError, match="schema"):
        parse_document(good.replace(b"urn:cme-gateway:exchange:1", b"urn:other"))
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_document(b'<!DOCTYPE x [<!ENTITY e "e">]>' + good.split(b"?>", 1)[1])
    with pytest.raises(ParseError, match="well-formed"):
        parse_document(good[:-10])


def test_receipt_needs_in_reply_to() -> None:
    doc = Document(
        DocType.RECEIPT,
        Header(str(uuid.uuid4()), "806", "807", datetime(2025, 3, 4, tzinfo=UTC)),
        received_sha256="a" * 64,
        disposition=Disposition.ACCEPTED,
    )
    with pytest.raises(ParseError, match="InReplyTo"):
        parse_document(render_document(doc))


def test_reply_outcomes_read_back() -> None:
    reply = Document(
        DocType.REPLY,
        Header(
            str(uuid.uuid4()), "806", "807", datetime(2025, 3, 5, tzinfo=UTC), str(uuid.uuid4())
        ),
        case_ref="CME-12",
        lawful_basis="UK GDPR Art 6(1)(e)",
        outcome=Outcome(ReplyStatus.ON_ROLL, laestab="8062001", start_date=date(2025, 2, 24)),
    )
    back = parse_document(render_document(reply))
    assert back.outcome is not None
    assert back.outcome.status is ReplyStatus.ON_ROLL
    assert back.outcome.start_date == date(2025, 2, 24)
