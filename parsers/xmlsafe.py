"""The one XML parser factory: no entities, no DTD, no network, bounded size."""

from __future__ import annotations

from typing import Any, Literal

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


def safe_pull_parser(
    *, events: tuple[Literal["start", "end"], ...], tag: tuple[str, ...]
) -> etree.XMLPullParser:
    """The streaming twin of safe_parser(), for readers fed in chunks (CTF).

    A DTD declared in an encoding the byte scan cannot see (UTF-16) is still parsed;
    call check_parsed() on the first element it yields, and on the root at close().
    """
    return etree.XMLPullParser(
        events=events,
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def check_parsed(
    el: Any, *, what: str = "XML", fix: str = "send the document without them"
) -> None:
    """Refuse a parsed document that declared a DTD, in whatever encoding it came.

    Any element will do: the document's DOCTYPE is known once its root has started.
    Nothing was expanded (entities off), but such a file is hostile to the next tool.
    """
    docinfo = el.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ParseError(
            f"the {what} declares a DOCTYPE or entities, which are refused for safety; {fix}"
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
    # document does not.
    check_parsed(root, what=what)
    return root
