"""A referral (email text, HTML or a .docx form) into a draft the officer only has to check."""

from __future__ import annotations

import re
import time
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

from parsers.docx import read_docx
from parsers.draft import FLAGS, FLAT_KEYS, Field, Origin, ReferralDraft, SourceKind
from parsers.errors import ParseError
from parsers.form_lines import ProseLine, Reading, Span, block_lines, read_lines, text_lines
from parsers.html import html_blocks, looks_like_html
from parsers.labelled import LabelledBuilder
from parsers.mime import ParsedMessage, decode_text, parse_message
from parsers.prefilter import gated
from parsers.prose import ProseReading, age_range_of_year, read_notes, read_prose
from parsers.sentences import Found

__all__ = [
    "FLAGS", "FLAT_KEYS", "Field", "Origin", "ReferralDraft", "SourceKind", "parse_referral",
    "parse_referral_message",
]  # fmt: skip

#: Largest referral text read; a long one is 20 KB.
MAX_TEXT_CHARS = 2_000_000
#: Wall-clock budget for one referral; past it, what was read so far is returned.
MAX_SECONDS = 5.0
_DOCX_TYPES = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
_ADDRESS = ("address_line1", "address_line2", "town", "postcode")
_REASON = gated(
    r"\b(moved|not attended|absent|left the area|whereabouts|missing|unable to contact|"
    r"no contact|not returned|did not (?:start|take up)|removed from roll|"
    r"off[- ]rolled|has not been seen|unknown|left (?:us|the school|the area)|"
    r"moving (?:to|away|abroad)|leaving)\b", re.IGNORECASE,
)  # fmt: skip
# Said of a child out of school by someone who does not write "reason for referral".
_REASON_PLAIN = gated(
    r"\b(?:(?:not|never|isn'?t|hasn'?t|doesn'?t|does not|has not)\s+(?:been\s+)?(?:at|in|to|"
    r"go(?:es|ing)?\s+to|attend(?:s|ing)?)\s+(?:any\s+|a\s+)?school|school place|"
    r"(?:never|not|hasn'?t|has not|didn'?t|did not)\s+(?:yet\s+)?started\s+(?:at\s+)?school|"
    r"taken\s+out\s+of\s+(?:\w+\s+){0,4}?school|last\s+seen|not\s+been\s+seen|"
    r"left\s+(?:[A-Z][\w']*\s+){1,4}(?:Academy|School|Primary|College)|(?:off|out of)\s+school|"
    r"during school hours|home all day|no school place|not on (?:a |the )?(?:school )?roll|"
    r"(?:hasn'?t|has not|haven'?t|have not) been in (?:since|for)|"
    r"(?:never|don'?t|do not|not)\s+see(?:n)?\s+(?:them|her|him)\s+(?:go|going)\s+to\s+school)\b",
    re.IGNORECASE,
)
_LABELS = {"date_last_attended": "date last attended", "date_last_seen": "date last seen"}


class _Builder(LabelledBuilder):
    """Labelled fields first; then what the prose says, for the fields no label gave."""

    def __init__(
        self, reading: Reading, kind: SourceKind, received: date | None, deadline: float
    ) -> None:
        super().__init__(reading, Origin.DOCX if kind is SourceKind.DOCX else Origin.LABEL)
        self.kind = kind
        self.received = received
        self.deadline = deadline
        self.extra_carers: list[dict[str, Any]] = []
        self.extra_siblings: list[dict[str, Any]] = []

    def found(self, f: Found, name: str | None = None, value: Any = None) -> None:
        span = Span(f.start, f.end, f.sentence.where, None)
        raw = self.r.text[f.start : f.end]
        self.put(name or f.name, f.value if value is None else value, f.confidence, span, raw,
                 Origin.PROSE, f.sentence.text)  # fmt: skip

    def prose(self, subject: str) -> None:
        """Fields a sentence carries when no label did: lower confidence, a person checks."""
        blocks = self.kind in (SourceKind.HTML, SourceKind.DOCX)
        reading = read_prose(self.r.text, self.r.prose, blocks=blocks, received=self.received,
                             deadline=self.deadline)  # fmt: skip
        notes = read_notes(self.r.text, self._notes(), deadline=self.deadline)
        labelled_address = any(k in self.values for k in _ADDRESS)
        for f in reading.values:
            if f.name in _ADDRESS and labelled_address:
                continue  # one address, from one place: never a label's street with prose's town
            if f.name == "age_range" or f.name.endswith("_text"):
                continue
            self.found(f)
        self.ages(reading, notes)
        for name, label in _LABELS.items():
            said = reading.value(name + "_text")
            if name not in self.values and name + "_text" not in self.values and said is not None:
                self.found(said)
                self.gaps.append(f"{label} is not a date: the referral says {said.value!r}")
        self.gaps.extend(reading.gaps)
        self.r.defects.extend(
            d for d in (*reading.defects, *notes.defects) if d not in self.r.defects
        )
        self.flags(reading, notes, subject)
        self.family(reading)
        if "reason" not in self.values:
            lines = [p for p in self.r.prose if not p.quoted] + [
                p for p in self.r.prose if p.quoted
            ]
            for p in lines:
                if (_REASON.search(p.text) or _REASON_PLAIN.search(p.text)) and len(p.text) > 25:
                    para = self._paragraph(p)
                    text = " ".join(x.text for x in para)
                    span = Span(para[0].start, para[-1].end, p.where)
                    raw = self.r.text[span.start : span.end]
                    conf = 0.4 if p.quoted else 0.5
                    self.put("reason", text, conf, span, raw, Origin.PROSE, text)
                    break

    def _paragraph(self, line: ProseLine) -> list[ProseLine]:
        """The wrapped lines a prose line belongs to (a form's blocks are paragraphs already)."""
        if self.kind in (SourceKind.HTML, SourceKind.DOCX):
            return [line]
        lines = self.r.prose
        i = lines.index(line)
        start, end = i, i
        joined = re.compile(r"[ \t]*\n[ \t>]*")
        while start > 0 and joined.fullmatch(
            self.r.text[lines[start - 1].end : lines[start].start]
        ):
            start -= 1
        while end + 1 < len(lines) and joined.fullmatch(
            self.r.text[lines[end].end : lines[end + 1].start]
        ):
            end += 1
        return [x for x in lines[start : end + 1] if x.quoted == line.quoted]

    def _notes(self) -> list[ProseLine]:
        """A form's free text, read for cues: the reason, the actions, a DOB written in words."""
        out = []
        for e in self.r.entries:
            if e.entity == "child" and e.attr in ("reason", "actions", "dob", "safeguarding"):
                s = e.span
                out.append(
                    ProseLine(self.r.text[s.start : s.end], s.start, s.end, e.quoted, s.where)
                )
        return out

    def ages(self, reading: ProseReading, notes: ProseReading) -> None:
        """An age range only stands in for a date of birth: none is kept beside one."""
        if "dob" in self.values:
            return
        for f in (*notes.values, *reading.values):
            if f.name == "age_range":
                origin = Origin.PROSE if f in reading.values else self.origin
                span = Span(f.start, f.end, f.sentence.where, None)
                self.put("age_range", f.value, f.confidence, span, self.r.text[f.start : f.end],
                         origin, f.sentence.text)  # fmt: skip
        year = self.values.get("year_group")
        ages = age_range_of_year(str(year.value)) if year is not None else None
        if year is not None and ages is not None:
            self.put("age_range", ages, round(year.confidence * 0.8, 2), year.source, year.raw,
                     year.origin, year.context)  # fmt: skip

    def flags(self, reading: ProseReading, notes: ProseReading, subject: str) -> None:
        cues = sorted((*notes.safeguarding, *reading.safeguarding), key=lambda f: f.start)
        if cues:
            first = cues[0]
            self.found(first, "safeguarding", True)
            listed = [
                {"phrase": self.r.text[c.start : c.end], "start": c.start, "end": c.end,
                 "where": c.sentence.where, "sentence": c.sentence.text}
                for c in cues
            ]  # fmt: skip
            self.found(first, "safeguarding_cues", listed)
            self.found(first, "urgency", "safeguarding")
        urgent = [*notes.urgent, *reading.urgent]
        if urgent:
            self.found(urgent[0], "urgency", "urgent")
        if re.search(r"\burgent\b", subject, re.IGNORECASE):
            self.put("urgency", "urgent", 0.6, None, subject, Origin.SUBJECT)
        anonymous = [*notes.anonymous, *reading.anonymous]
        if anonymous:
            self.found(anonymous[0], "anonymous", True)
        elif re.search(r"\banonymous(?:ly)?\b", subject, re.IGNORECASE):
            self.put("anonymous", True, 0.5, None, subject, Origin.SUBJECT)

    def family(self, reading: ProseReading) -> None:
        for found, out in (
            (reading.carers, self.extra_carers),
            (reading.siblings, self.extra_siblings),
        ):
            for f in found:
                rec = dict(f.value)
                span = {"start": f.start, "end": f.end, "where": f.sentence.where}
                rec["source"] = {**span, "origin": Origin.PROSE.value, "sentence": f.sentence.text}
                out.append(rec)

    def people_with_prose(self, entity: str) -> tuple[dict[str, Any], ...]:
        """The form's people, then the ones only the prose names (a form's record wins)."""
        labelled = list(self.people(entity))
        extra = self.extra_carers if entity == "carer" else self.extra_siblings
        for rec in extra:
            same = next((p for p in labelled if _same_person(p, rec)), None)
            if same is None:
                labelled.append(rec)
                continue
            for k, v in rec.items():
                if k != "source":
                    same.setdefault(k, v)
        return tuple(labelled)

    def check_gaps(self) -> None:
        v = self.values
        required = (
            ("forename", "child's forename is missing"),
            ("surname", "child's surname is missing"),
        )
        missing = [msg for key, msg in required if key not in v]
        if "dob" not in v and not any(g.startswith("date of birth") for g in self.gaps):
            missing.append("date of birth is missing")
        if (
            "postcode" not in v
            and "address_line1" not in v
            and not any(g.startswith("postcode") for g in self.gaps)
        ):
            missing.append("home address and postcode are missing")
        elif "postcode" not in v and not any(g.startswith("postcode") for g in self.gaps):
            missing.append("postcode is missing")
        if "school" not in v:
            missing.append("school (current or last attended) is missing")
        if "reason" not in v:
            missing.append("reason for referral is missing")
        if "referrer_name" not in v:
            missing.append("referrer's name is missing")
        if "referrer_email" not in v and "referrer_phone" not in v:
            missing.append("referrer's email or phone is missing")
        self.gaps = missing + self.gaps


def _same_person(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.get("name") and b.get("name"):
        return str(a["name"]).lower() == str(b["name"]).lower()
    return bool(a.get("relationship")) and a.get("relationship") == b.get("relationship")


def _message_date(msg: ParsedMessage) -> date | None:
    if not msg.date:
        return None
    try:
        return parsedate_to_datetime(msg.date).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _build(
    kind: SourceKind,
    reading: Reading,
    *,
    subject: str = "",
    sender_name: str | None = None,
    sender_email: str | None = None,
    defects: tuple[str, ...] = (),
    received: date | None = None,
    deadline: float = float("inf"),
) -> ReferralDraft:
    b = _Builder(reading, kind, received, deadline)
    b.child()
    b.referrer(None, None)
    b.prose(subject)
    b.referrer(sender_name, sender_email)
    b.check_gaps()
    return ReferralDraft(
        kind=kind,
        text=reading.text,
        values=tuple(b.values.values()),
        carers=b.people_with_prose("carer"),
        siblings=b.people_with_prose("sibling"),
        actions=b.actions(),
        gaps=tuple(dict.fromkeys(b.gaps)),
        defects=tuple(dict.fromkeys((*defects, *reading.defects))),
    )


def _read_text(text: str, deadline: float) -> tuple[SourceKind, Reading]:
    if looks_like_html(text):
        body, lines = block_lines(html_blocks(text))
        return SourceKind.HTML, read_lines(body, lines, deadline)
    return SourceKind.TEXT, read_lines(text, text_lines(text), deadline)


def _looks_like_email(data: bytes) -> bool:
    head = data[:4096]
    return bool(
        re.match(rb"^(?:[!-9;-~]{1,60}:[^\n]*\r?\n(?:[ \t][^\n]*\r?\n)*){2,}", head)
        and re.search(rb"(?im)^(from|received|message-id|subject|mime-version):", head)
    )


def parse_referral(
    source: str | bytes,
    *,
    kind: SourceKind | str | None = None,
    subject: str = "",
    sender_name: str | None = None,
    sender_email: str | None = None,
    received: date | None = None,
) -> ReferralDraft:
    """Text, HTML, a .docx form or a whole email (bytes) into a draft with its gaps.

    `kind` says what the source is; without it, it is sniffed (a zip is a .docx, headers an
    email, tags HTML). `received` is the day it arrived: it gives '14 October' its year (an
    email's Date header does that for a whole message). Raises ParseError only when the
    input cannot be read at all.
    """
    deadline = time.monotonic() + MAX_SECONDS
    defects: list[str] = []
    kind = SourceKind(kind) if kind is not None else None
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        if kind is SourceKind.DOCX or (kind is None and data.startswith(b"PK\x03\x04")):
            body, lines = block_lines(read_docx(data).blocks)
            reading = read_lines(body, lines, deadline)
            return _build(SourceKind.DOCX, reading, subject=subject, sender_name=sender_name,
                          sender_email=sender_email, received=received,
                          deadline=deadline)  # fmt: skip
        if kind is SourceKind.EMAIL or (kind is None and _looks_like_email(data)):
            return parse_referral_message(parse_message(data), received=received)
        text, note = decode_text(data, None)
        if note:
            defects.append(note)
    elif isinstance(source, str):
        text = source
    else:
        raise ParseError("a referral must be given as text or bytes")
    if kind is SourceKind.DOCX:
        raise ParseError("a .docx form must be given as bytes")
    if len(text) > MAX_TEXT_CHARS:
        defects.append(f"only the first {MAX_TEXT_CHARS} characters were read")
        text = text[:MAX_TEXT_CHARS]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if kind is SourceKind.HTML:
        body, lines = block_lines(html_blocks(text))
        found_kind, reading = SourceKind.HTML, read_lines(body, lines, deadline)
    else:
        found_kind, reading = _read_text(text, deadline)
    return _build(found_kind, reading, subject=subject, sender_name=sender_name,
                  sender_email=sender_email, defects=tuple(defects), received=received,
                  deadline=deadline)  # fmt: skip


def _innermost(msg: ParsedMessage) -> ParsedMessage:
    """The forwarded message that carries the content: follow attached forwards down."""
    current = msg
    while current.forwarded:
        inner = current.forwarded[-1]
        if not (inner.text.strip() or inner.html or inner.attachments):
            break
        current = inner
    return current


def _docx_of(msg: ParsedMessage) -> bytes | None:
    for att in msg.attachments:
        name = (att.filename or "").lower()
        if name.endswith(".docx") or att.content_type in _DOCX_TYPES:
            return att.data
    return None


def parse_referral_message(msg: ParsedMessage, *, received: date | None = None) -> ReferralDraft:
    """A referral email: an attached .docx form if there is one, else the (forwarded) body."""
    deadline = time.monotonic() + MAX_SECONDS
    received = received or _message_date(_innermost(msg)) or _message_date(msg)
    source = _innermost(msg)
    sender_name, sender_email = source.from_name, source.from_address
    defects = list(msg.defects)
    docx = _docx_of(source) or _docx_of(msg)
    if docx is not None:
        try:
            body, lines = block_lines(read_docx(docx).blocks)
        except ParseError as exc:
            defects.append(f"attached form not read: {exc}")
        else:
            reading = read_lines(body, lines, deadline)
            # The covering email often signs off with the referrer's details the form lacks,
            # or asks not to be named: its text follows the form's in the draft's text.
            cover_text = source.text[:MAX_TEXT_CHARS]
            cover = read_lines(cover_text, text_lines(cover_text), deadline)
            shift = len(body) + 1
            reading.text = f"{body}\n{cover_text}"
            reading.signature.extend((t, s + shift, e + shift) for t, s, e in cover.signature)
            reading.prose.extend(
                p._replace(
                    start=p.start + shift, end=p.end + shift, where=f"covering email, {p.where}"
                )
                for p in cover.prose
            )
            return _build(SourceKind.DOCX, reading, subject=msg.subject, sender_name=sender_name,
                          sender_email=sender_email, defects=tuple(defects), received=received,
                          deadline=deadline)  # fmt: skip
    html = source.html
    if html and "<table" in html.lower():
        body, lines = block_lines(html_blocks(html))
        reading = read_lines(body, lines, deadline)
    else:
        text = source.text[:MAX_TEXT_CHARS]
        reading = read_lines(text, text_lines(text), deadline)
    return _build(SourceKind.EMAIL, reading, subject=msg.subject, sender_name=sender_name,
                  sender_email=sender_email, defects=tuple(defects), received=received,
                  deadline=deadline)  # fmt: skip
