"""Every XML entry point refuses a DTD however the file is encoded: UTF-16 (LE and BE,
with a BOM, or with none and no declaration), UTF-8 with a BOM, a declared ISO-8859-1.
A scan of the raw bytes cannot see a UTF-16 DOCTYPE; the parsed document's can."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from parsers.ctf import CtfReader, parse_ctf
from parsers.docx import read_docx
from parsers.errors import ParseError
from parsers.exchange import DocType, Document, Header, Pupil, parse_document, render_document
from parsers.xmlsafe import parse_xml
from tests.fixtures import ctf_gen as g
from tests.fixtures.referrals.make_docx import W, build_docx

ENCODINGS = sorted(g.HOSTILE_ENCODINGS)
XXE = '<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def _without_declaration(data: bytes) -> str:
    text = data.decode("utf-8")
    return text.split("?>", 1)[1].lstrip() if text.startswith("<?xml") else text


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_ctf_reader_refuses_it(encoding: str) -> None:
    data = g.external_entity_in(encoding)
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_ctf(data)
    # However the stream is cut: the check does not depend on where a chunk ends.
    for size in (1, 7, 64):
        reader = CtfReader(data[i : i + size] for i in range(0, len(data), size))
        with pytest.raises(ParseError, match="DOCTYPE"):
            list(reader.pupils())


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_doctype_with_no_header_or_pupil_is_refused_at_the_end(encoding: str) -> None:
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_ctf(g.encoded(XXE.format(root="CTfile") + "<CTfile/>", encoding))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_same_ctf_without_the_doctype_reads(encoding: str) -> None:
    plain = _without_declaration(g.ctf_bytes([g.sample_pupil()]))
    (pupil,) = parse_ctf(g.encoded(plain, encoding)).pupils
    assert pupil.surname == "Featherstone"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_parse_xml_refuses_it(encoding: str) -> None:
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_xml(g.encoded(XXE.format(root="a") + "<a>&xxe;</a>", encoding))


def _enquiry() -> bytes:
    return render_document(
        Document(
            DocType.ENQUIRY,
            Header(str(uuid.uuid4()), "807", "806", datetime(2025, 3, 4, 9, 0, tzinfo=UTC)),
            case_ref="CME-12",
            lawful_basis="UK GDPR Art 6(1)(e); Education Act 1996 s.436A",
            pupil=Pupil("Testington", "Amelia", upn="R807300024001", dob=date(2014, 5, 6)),
        )
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_exchange_documents_refuse_it(encoding: str) -> None:
    body = _without_declaration(_enquiry())
    assert parse_document(g.encoded(body, encoding)).case_ref == "CME-12"
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_document(g.encoded(XXE.format(root="Document") + body, encoding))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_word_documents_refuse_it(encoding: str) -> None:
    document = (
        XXE.format(root="w:document")
        + f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&xxe;</w:t></w:r></w:p>'
        "</w:body></w:document>"
    )
    with pytest.raises(ParseError, match="DOCTYPE"):
        read_docx(build_docx([], document=g.encoded(document, encoding)))
