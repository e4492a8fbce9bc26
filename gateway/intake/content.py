"""A stored message as an officer reads it: headers, text (HTML only as text), attachments
listed (never opened), and the fields of an attached .docx form. Read from the raw store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from gateway.intake.message import Attachment, read_message
from gateway.intake.rawstore import RawStore, RawStoreError
from gateway.models.intake import RawMessage
from gateway.settings import Settings
from parsers.blocks import TableBlock
from parsers.docx import read_docx
from parsers.errors import ParseError
from parsers.html import html_to_text
from parsers.mime import MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class MessageContent:
    """What a message says, or (problem) why it cannot be shown."""

    problem: str | None = None
    from_name: str | None = None
    from_address: str | None = None
    subject: str = ""
    date: str | None = None
    text: str = ""
    #: True when `text` was made from the HTML part (there was no plain text).
    from_html: bool = False
    attachments: tuple[Attachment, ...] = ()
    #: (label, value) pairs read from an attached Word form.
    form_fields: tuple[tuple[str, str], ...] = ()


def _docx_fields(data: bytes) -> tuple[tuple[str, str], ...]:
    """The form's filled-in fields: content controls, two-cell table rows, tick boxes."""
    try:
        doc = read_docx(data)
    except ParseError:
        return ()
    out: list[tuple[str, str]] = [
        (c.alias or c.tag or "Field", c.text) for c in doc.controls if c.text.strip()
    ]
    for block in doc.blocks:
        if isinstance(block, TableBlock):
            out += [(r[0], r[1]) for r in block.rows if len(r) == 2 and r[0] and r[1]]
    out += [(b.label, "Yes" if b.checked else "No") for b in doc.checkboxes if b.label]
    return tuple(out)


def read_content(settings: Settings, engine: Engine, row: RawMessage) -> MessageContent:
    """Read and parse one stored message for display; a problem never raises."""
    if row.size > MAX_MESSAGE_BYTES:
        return MessageContent("The message is too large to read here.")
    try:
        data = RawStore(settings.home, engine).read(row)
    except RawStoreError:
        return MessageContent("The stored message cannot be read: the raw store needs checking.")
    facts = read_message(data)
    parsed = facts.parsed
    if parsed is None:
        return MessageContent("The message cannot be read.")
    text, from_html = facts.text, False
    if facts.html.strip():
        # parsers.mime already makes the text of an HTML-only message from its HTML; say so.
        try:
            made = html_to_text(facts.html)
        except ParseError:
            made = ""
        if not text.strip() or text == made:
            text, from_html = made or text, True
    fields: tuple[tuple[str, str], ...] = ()
    for att in parsed.attachments:
        name = (att.filename or "").lower()
        if name.endswith(".docx") or att.content_type.endswith("wordprocessingml.document"):
            fields = _docx_fields(att.data)
            if fields:
                break
    return MessageContent(
        from_name=parsed.from_name,
        from_address=parsed.from_address,
        subject=parsed.subject,
        date=parsed.date,
        text=text,
        from_html=from_html,
        attachments=facts.attachments,
        form_fields=fields,
    )
