"""Lines of a referral (text, or HTML/.docx blocks) into labelled entries with source spans."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from parsers.blocks import Block, TextBlock
from parsers.labels import LabelMatch, action_header, resolve_label, section_of
from parsers.prefilter import gated

MAX_LINES = 20_000
#: Fields whose value runs on over the following lines until a blank line or the next label.
MULTILINE = frozenset({"reason", "actions", "address", "new_address"})
_QUOTE = re.compile(r"^(\s*>)+\s?")
_BULLET = re.compile(r"^\s*(?:[-*•·‣◦▪|]+|\d{1,2}[.)])\s+")
_COLON = re.compile(r"^\s*(?P<label>[^:\n]{1,80}?)\s*[:：]\s*(?P<value>.*)$")
_SPACED = re.compile(r"^\s*(?P<label>\S.{0,78}?)(?:\s*=\s*|\s+[-–]\s+|\s{2,})(?P<value>\S.*)$")
_SIGN_OFF = re.compile(
    r"^(kind regards|regards|best regards|warm regards|many thanks|thanks|thank you|best wishes|"
    r"yours sincerely|yours faithfully|with thanks|sincerely|cheers|thanks again)\b[\s,.!]*$",
    re.IGNORECASE,
)
FORWARD_MARK = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|forwarded message|forwarded by)[^-]*-*|"
    r"begin forwarded message:?|_{5,})\s*$",
    re.IGNORECASE,
)
_WROTE = re.compile(r"^\s*on .{5,200} wrote:\s*$", re.IGNORECASE)
# Labels that often share a line with another ("Name: Ava Smith  DOB: 3/4/15").
_INLINE = re.compile(
    r"(?:(?<=\s)|(?<=[,;|]))(?P<label>d\.?\s?o\.?\s?b\.?|date of birth|upn|sex|gender|post\s?code|"
    r"year group|school|tel(?:ephone)?|phone|mobile|e-?mail)\s*[:：]\s*",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[A-Za-z']+")
_FROM = re.compile(r"^\s*from\s*:\s*(.+)$", re.IGNORECASE)
_NOT_A_LABEL = gated(r"\d{3,}|@")
_NOT_A_HEADING = gated(r"\d{2,}|[,;!?]|\.$")
_CELL_BREAK = re.compile(r"(?<=[^\s.!?:;,])\n")


@dataclass(frozen=True)
class Span:
    """Where a value came from: offsets into the draft's text, the place, the label seen."""

    start: int
    end: int
    where: str
    label: str | None = None


@dataclass
class Entry:
    """One labelled value as read, before it is checked and normalised."""

    entity: str
    attr: str
    value: str
    span: Span
    quoted: bool = False
    record: int = 0
    relationship: str | None = None
    confidence: float = 0.95


@dataclass
class Line:
    cells: list[tuple[str, int, int]]
    where: str
    quoted: bool = False
    row: bool = False
    table: int | None = None
    first_row: bool = False


class ProseLine(NamedTuple):
    """A line no label claimed: its text, offsets into the document's text, and where it is."""

    text: str
    start: int
    end: int
    quoted: bool
    where: str


@dataclass
class Reading:
    """All the entries of one document, plus what was left as prose and what was signed."""

    text: str
    entries: list[Entry] = field(default_factory=list)
    prose: list[ProseLine] = field(default_factory=list)
    signature: list[tuple[str, int, int]] = field(default_factory=list)
    forward_from: list[tuple[str, int, int]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def text_lines(text: str) -> list[Line]:
    """Lines of plain text; tabs separate cells (as html_to_text writes table rows)."""
    lines: list[Line] = []
    pos = 0
    for n, raw in enumerate(text.split("\n"), start=1):
        start = pos
        pos += len(raw) + 1
        body = raw.rstrip("\r")
        quoted = False
        m = _QUOTE.match(body)
        if m:
            quoted = True
            start += m.end()
            body = body[m.end() :]
        b = _BULLET.match(body)
        if b:
            start += b.end()
            body = body[b.end() :]
        cells: list[tuple[str, int, int]] = []
        off = start
        for piece in body.split("\t"):
            lead = len(piece) - len(piece.lstrip())
            stripped = piece.strip()
            cells.append((stripped, off + lead, off + lead + len(stripped)))
            off += len(piece) + 1
        real = [c for c in cells if c[0]]
        lines.append(Line(real or [("", start, start)], f"line {n}", quoted, len(real) >= 2))
    return lines


def block_lines(blocks: tuple[Block, ...]) -> tuple[str, list[Line]]:
    """Render blocks to text (rows as tab-separated cells) and return it with its lines."""
    parts: list[str] = []
    lines: list[Line] = []
    pos = 0
    for table_no, block in enumerate(blocks):
        if isinstance(block, TextBlock):
            text = " ".join(block.text.split())
            lines.append(Line([(text, pos, pos + len(text))], block.where))
            parts.append(text)
            pos += len(text) + 1
            continue
        for r, row in enumerate(block.rows, start=1):
            cells: list[tuple[str, int, int]] = []
            rendered: list[str] = []
            off = pos
            for cell in row:
                flat = _CELL_BREAK.sub(", ", cell)
                flat = " ".join(flat.split())
                cells.append((flat, off, off + len(flat)))
                rendered.append(flat)
                off += len(flat) + 1
            text = "\t".join(rendered)
            real = [c for c in cells if c[0]]
            lines.append(
                Line(
                    real or [("", pos, pos)],
                    f"{block.where}, row {r}",
                    False,
                    len(real) >= 2,
                    table_no,
                    r == 1,
                )
            )
            parts.append(text)
            pos += len(text) + 1
    return "\n".join(parts), lines


def _heading_shape(text: str) -> bool:
    """Short, no sentence punctuation, no dates: 'Parent/Carer 2', 'Section B: Referrer'."""
    return len(text.split()) <= 6 and not _NOT_A_HEADING.search(text)


def _is_label(text: str, section: str | None) -> LabelMatch | None:
    if not text or len(text) > 80 or _NOT_A_LABEL.search(text):
        return None
    return resolve_label(text.rstrip(":：?*").strip(), section)


class _Reader:
    def __init__(self, reading: Reading, deadline: float) -> None:
        self.r = reading
        self.deadline = deadline
        self.section: str | None = None
        self.records = {"carer": 0, "sibling": 0, "action": 0}
        self.seen: dict[str, set[str]] = {"carer": set(), "sibling": set(), "action": set()}
        self.capture: Entry | None = None
        self.columns: tuple[int | None, list[LabelMatch | None]] | None = None
        self.signing = 0

    def set_section(self, name: str | None) -> None:
        self.section = name
        if name in self.records:
            self.records[name] += 1
            self.seen[name] = set()

    def add(
        self, match: LabelMatch, value: str, span: Span, quoted: bool, conf: float = 0.95
    ) -> Entry:
        entity = match.entity
        if entity not in ("child", "action") and self.section != entity:
            # "Referrer: Jo Bloggs" opens the referrer's section for the lines after it.
            self.section = entity
        elif entity == "child" and self.section in ("carer", "sibling", "referrer"):
            self.section = "child"
        record = 0
        if entity in self.records:
            if match.attr in self.seen[entity] or self.records[entity] == 0:
                self.records[entity] += 1
                self.seen[entity] = set()
            self.seen[entity].add(match.attr)
            record = self.records[entity]
        entry = Entry(entity, match.attr, value, span, quoted, record, match.relationship, conf)
        self.r.entries.append(entry)
        return entry

    def labelled(
        self, label: str, match: LabelMatch, value: str, vs: int, ve: int, line: Line
    ) -> None:
        """A label and its value; a value holding a second label is split there."""
        extra = None
        if match.attr not in MULTILINE:
            m = next((m for m in _INLINE.finditer(value) if m.start() > 0), None)
            if m is not None and resolve_label(m.group("label"), self.section) is not None:
                extra = (m.group("label"), value[m.end() :], vs + m.end())
                value = value[: m.start()].rstrip(" ,;|")
        value = value.strip()
        span = Span(vs, vs + len(value), line.where, label)
        entry = self.add(match, value, span, line.quoted)
        self.capture = entry if (match.attr in MULTILINE or not value) else None
        if extra is not None:
            lab, rest, start = extra
            sub = resolve_label(lab, self.section)
            if sub is not None:
                self.labelled(lab, sub, rest, start, start + len(rest), line)

    def row(self, line: Line) -> None:
        cells = line.cells
        matches = [_is_label(c[0], self.section) for c in cells]
        if self.columns is not None and self.columns[0] == line.table:
            # A row under a header row: one record, its cells under their column labels.
            headers = self.columns[1]
            for i, (text, s, e) in enumerate(cells):
                if i < len(headers) and headers[i] is not None and text:
                    match = headers[i]
                    assert match is not None
                    self.add(match, text, Span(s, e, line.where, None), line.quoted)
            return
        header = line.first_row and all(m is not None and m.relationship is None for m in matches)
        if line.first_row and len(cells) >= 2 and not header:
            columns = [action_header(c[0]) for c in cells]
            if all(columns) and {"action", "outcome"} & set(columns):
                # "Date | Action | Outcome": a table of the actions already taken, a row each.
                acts: list[LabelMatch | None] = [
                    LabelMatch("action", c) if c else None for c in columns
                ]
                self.columns = (line.table, acts)
                return
        if len(cells) >= 2 and header:
            entities = {m.entity for m in matches if m is not None}
            if len(entities) == 1 or self.section in ("sibling", "carer"):
                self.columns = (line.table, list(matches))
                return
        # A relative's name ("Mother") is a label only where a label stands: first in a pair.
        valued = [m is None or m.relationship is not None for m in matches]
        if matches[0] is not None and all(valued[1:]):
            text = " ".join(c[0] for c in cells[1:])
            self.labelled(cells[0][0], matches[0], text, cells[1][1], cells[-1][2], line)
            return
        i = 0
        while i < len(cells):
            match = matches[i]
            if match is not None:
                nxt = cells[i + 1] if i + 1 < len(cells) and valued[i + 1] else None
                if nxt is not None:
                    self.labelled(cells[i][0], match, nxt[0], nxt[1], nxt[2], line)
                    i += 2
                    continue
            i += 1

    def text(self, line: Line) -> None:
        text, s, e = line.cells[0]
        if not text:
            if self.capture is not None and self.capture.value:
                self.capture = None
            if self.r.signature:
                self.signing = 0
            return
        if FORWARD_MARK.match(text) or _WROTE.match(text):
            self.capture = None
            self.signing = 0
            self.set_section(None)
            return
        fwd = _FROM.match(text)
        if fwd and "@" in text and not line.quoted:
            self.r.forward_from.append((fwd.group(1).strip(), s, e))
            self.signing = 0
            return
        if _SIGN_OFF.match(text):
            self.capture = None
            self.signing = 6
            return
        # A colon (either width) is what _COLON needs: most prose lines have none.
        m = _COLON.match(text) if ":" in text or "：" in text else None
        match = _is_label(m.group("label"), self.section) if m else None
        if m is None or match is None:
            sm = _SPACED.match(text)
            smatch = _is_label(sm.group("label"), self.section) if sm else None
            if sm is not None and smatch is not None:
                m, match = sm, smatch
        if m is not None and match is not None:
            value = m.group("value")
            vs = s + m.start("value")
            if not value.strip():
                heading = section_of(m.group("label"))
                if heading is not None:
                    self.set_section(heading)
                    match = _is_label(m.group("label"), self.section) or match
            self.signing = 0
            self.labelled(m.group("label"), match, value, vs, vs + len(value), line)
            return
        whole = _is_label(text, self.section)
        heading = section_of(text) if _heading_shape(text) else None
        if heading is not None or whole is not None:
            if heading is not None:
                self.set_section(heading)
                whole = _is_label(text, self.section)
            self.capture = None
            if whole is not None and (heading is None or whole.entity == heading):
                self.capture = self.add(whole, "", Span(e, e, line.where, text), line.quoted)
            self.signing = 0
            return
        short_label = m is not None and len(m.group("label").split()) <= 5
        if short_label and self.capture is not None and self.capture.value:
            self.capture = None  # an unknown label ends whatever ran on before it
        if self.capture is not None:
            cap = self.capture
            cap.value = f"{cap.value}\n{text}" if cap.value else text
            start = cap.span.start if cap.span.start != cap.span.end else s
            cap.span = Span(start, e, cap.span.where, cap.span.label)
            if cap.attr not in MULTILINE:
                self.capture = None
            return
        if self.signing > 0:
            self.signing -= 1
            self.r.signature.append((text, s, e))
            return
        self.r.prose.append(ProseLine(text, s, e, line.quoted, line.where))

    def read(self, lines: list[Line]) -> None:
        if len(lines) > MAX_LINES:
            self.r.defects.append(f"only the first {MAX_LINES} lines were read")
            lines = lines[:MAX_LINES]
        last_table: int | None = None
        for n, line in enumerate(lines):
            if n % 256 == 0 and time.monotonic() > self.deadline:
                self.r.defects.append("reading stopped at the time limit; the rest was skipped")
                break
            if line.table != last_table:
                self.columns = None
                last_table = line.table
            if line.row:
                self.capture = None
                self.signing = 0
                self.row(line)
            else:
                if line.table is not None and self.columns is not None:
                    self.columns = None
                self.text(line)


def read_lines(text: str, lines: list[Line], deadline: float) -> Reading:
    """Entries, prose and signature lines of one document."""
    reading = Reading(text)
    _Reader(reading, deadline).read(lines)
    return reading
