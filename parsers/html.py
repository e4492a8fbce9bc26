"""HTML (an email body, a page pasted from a case system) into text and table blocks."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree, html

from parsers.blocks import Block, TableBlock, TextBlock
from parsers.errors import ParseError

#: Largest HTML body read; a referral is a few kilobytes, a pasted report a few hundred.
MAX_HTML_BYTES = 8 * 1024 * 1024
MAX_CELLS = 20_000

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "caption",
    ]
)
# A table holding tables is layout: its cells are read as lines, the inner tables as tables.
_CELL_TAGS = frozenset({"td", "th", "tr"})
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template", "object"})
_SPACES = re.compile(r"[ \r\f\v\u00a0\u200b]+")
_TABS = re.compile(r"\s*\t[\s\t]*")


def _document(data: str | bytes) -> Any:
    size = len(data)
    if size > MAX_HTML_BYTES:
        raise ParseError(f"the HTML is {size} bytes, over the limit of {MAX_HTML_BYTES}")
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    # Stray NULs and control characters make libxml2 stop early; they carry nothing.
    data = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", data)
    if not data.strip():
        return None
    parser = html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)
    try:
        return html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError):
        return None


def _tag(el: Any) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


def _checkbox(el: Any) -> str | None:
    if _tag(el) == "input" and (el.get("type") or "").lower() in ("checkbox", "radio"):
        return "[x]" if el.get("checked") is not None else "[ ]"
    return None


def _flatten(el: Any, out: list[str]) -> None:
    """Text of an element with a newline at each block boundary and <br>."""
    stack: list[tuple[Any, bool]] = [(el, False)]
    while stack:
        node, closing = stack.pop()
        tag = _tag(node)
        if closing:
            if tag in _BLOCK_TAGS:
                out.append("\n")
            elif tag in ("td", "th"):
                out.append("\t")
            if node.tail:
                out.append(node.tail)
            continue
        if tag in _SKIP_TAGS or not isinstance(node.tag, str):
            if node.tail:
                out.append(node.tail)
            continue
        if tag == "br":
            out.append("\n")
            if node.tail:
                out.append(node.tail)
            continue
        box = _checkbox(node)
        if box:
            out.append(box + " ")
        if tag in _BLOCK_TAGS:
            out.append("\n")
        if node.text:
            out.append(node.text)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))


def _clean_lines(text: str) -> list[str]:
    lines = (_TABS.sub("\t", _SPACES.sub(" ", raw)).strip() for raw in text.split("\n"))
    return [line for line in lines if line]


def html_to_text(data: str | bytes) -> str:
    """The readable text of an HTML body: one line per block, table cells tab-separated."""
    doc = _document(data)
    if doc is None:
        return ""
    out: list[str] = []
    _flatten(doc, out)
    return "\n".join(_clean_lines("".join(out)))


def _cell_text(cell: Any) -> str:
    out: list[str] = []
    _flatten(cell, out)
    return "\n".join(_clean_lines("".join(out).replace("\t", " ")))


def html_blocks(data: str | bytes) -> tuple[Block, ...]:
    """Text lines and tables in document order; a table inside a cell becomes that cell's text."""
    doc = _document(data)
    if doc is None:
        return ()
    blocks: list[Block] = []
    pending: list[str] = []
    n_tables = 0
    cells = 0

    def flush() -> None:
        for line in _clean_lines("".join(pending)):
            blocks.append(TextBlock(line, f"line {len(blocks) + 1}"))
        pending.clear()

    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        node, closing = stack.pop()
        tag = _tag(node)
        if closing:
            if tag in _BLOCK_TAGS or tag in _CELL_TAGS:
                pending.append("\n")
            if node.tail:
                pending.append(node.tail)
            continue
        if tag in _SKIP_TAGS or not isinstance(node.tag, str):
            if node.tail:
                pending.append(node.tail)
            continue
        if tag == "table" and node.find(".//table") is None:
            flush()
            n_tables += 1
            rows: list[tuple[str, ...]] = []
            for tr in node.iter("tr"):
                # Only this table's own rows: a nested table is read as its cell's text.
                if next(tr.iterancestors("table"), None) is not node:
                    continue
                row = tuple(_cell_text(c) for c in tr if _tag(c) in ("td", "th"))
                cells += len(row)
                if cells > MAX_CELLS:
                    raise ParseError(f"the HTML has over {MAX_CELLS} table cells; is it a report?")
                if any(row):
                    rows.append(row)
            blocks.append(TableBlock(tuple(rows), f"table {n_tables}"))
            if node.tail:
                pending.append(node.tail)
            continue
        if tag == "br":
            pending.append("\n")
            if node.tail:
                pending.append(node.tail)
            continue
        box = _checkbox(node)
        if box:
            pending.append(box + " ")
        if tag in _BLOCK_TAGS:
            pending.append("\n")
        if node.text:
            pending.append(node.text)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    flush()
    return tuple(blocks)


def looks_like_html(text: str) -> bool:
    """Whether a body handed over as text is really HTML."""
    head = text[:2000].lower()
    return bool(re.search(r"<(html|body|table|div|p|br|span|td)[\s>/]", head))
