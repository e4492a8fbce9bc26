"""The one XML parser factory refuses DTDs and entities in any encoding."""

from __future__ import annotations

import pytest

from parsers.errors import ParseError
from parsers.xmlsafe import parse_xml

XXE = '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
BOMB = (
    '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;&b;&b;</l>'
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-32"])
@pytest.mark.parametrize("doc", [XXE, BOMB])
def test_doctype_refused_in_every_encoding(doc: str, encoding: str) -> None:
    data = f'<?xml version="1.0" encoding="{encoding.upper()}"?>{doc}'.encode(encoding)
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_xml(data)


def test_plain_document_reads_and_oversize_is_refused() -> None:
    assert parse_xml(b"<a><b>x</b></a>").findtext("b") == "x"
    with pytest.raises(ParseError, match="over the limit"):
        parse_xml(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)
    with pytest.raises(ParseError, match="not well-formed"):
        parse_xml(b"<a><b></a>")
