"""The one XML parser factory: no entities, no DTD, no network, bounded size."""

from __future__ import annotations

from typing import Any

from lxml import etree

from parsers.errors import ParseError

#: Largest XML document read in one piece (bytes). Streaming readers (CTF) cap per element.
MAX_XML_BYTES = 64 * 1024 * 1024


def safe_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A parser that never expands entities, loads a DTD or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=remove_blank_text,
        remove_comments=True,
        remove_pis=True,
    )


def reject_doctype(data: bytes) -> None:
    """Refuse any document that declares a DTD: that is where XML bombs and XXE live."""
    # A DOCTYPE can only stand in the prolog; 64 KiB is far more than any real prolog.
    prolog = data[:65536].upper()
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise ParseError(
            "the XML declares a DOCTYPE or entities, which are refused for safety; "
            "send the document without them"
        )


def parse_xml(data: bytes, *, max_bytes: int = MAX_XML_BYTES, what: str = "XML") -> Any:
    """Parse a whole document safely; refuses DTDs, entities and oversized input."""
    if len(data) > max_bytes:
        raise ParseError(f"the {what} is {len(data)} bytes, over the limit of {max_bytes}")
    reject_doctype(data)
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"the {what} is not well-formed XML: {exc.msg}") from None
    # The byte scan above misses a DOCTYPE in UTF-16 and other encodings; the parsed
    # document does not. Nothing was expanded (entities off), but refuse it all the same.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # type: ignore[union-attr]
        raise ParseError(
            f"the {what} declares a DOCTYPE or entities, which are refused for safety; "
            "send the document without them"
        )
    return root
