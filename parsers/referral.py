"""A referral (email text, HTML or a .docx form) into a draft the officer only has to check."""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from typing import Any

from parsers.docx import read_docx
from parsers.errors import ParseError
from parsers.form_lines import Entry, Reading, Span, block_lines, read_lines, text_lines
from parsers.html import html_blocks, looks_like_html
from parsers.identifiers import (
    check_upn,
    find_dates,
    find_emails,
    find_phones,
    find_postcodes,
    find_upns,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    parse_person_name,
    parse_uk_date,
    tidy_name,
)
from parsers.mime import ParsedMessage, decode_text, parse_message

#: Largest referral text read; a long one is 20 KB.
MAX_TEXT_CHARS = 2_000_000
#: Wall-clock budget for one referral; past it, what was read so far is returned.
MAX_SECONDS = 5.0
FLAGS = ("looked_after", "social_care", "child_protection", "sen_ehcp", "traveller")
_DOCX_TYPES = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)


class SourceKind(enum.StrEnum):
    TEXT = "text"
    HTML = "html"
    DOCX = "docx"
    EMAIL = "email"


@dataclass(frozen=True)
class Field:
    """One value of the draft: how sure the parser is, and where in the text it was read."""

    name: str
    value: Any
    confidence: float
    source: Span | None = None
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        src = None
        if self.source is not None:
            s = self.source
            src = {"start": s.start, "end": s.end, "where": s.where, "label": s.label}
        return {"value": self.value, "confidence": self.confidence, "source": src, "raw": self.raw}


@dataclass(frozen=True)
class ReferralDraft:
    """The referral as read: fields with confidence and source, people, actions, and gaps."""

    kind: SourceKind
    text: str
    values: tuple[Field, ...]
    carers: tuple[dict[str, Any], ...]
    siblings: tuple[dict[str, Any], ...]
    actions: tuple[dict[str, Any], ...]
    gaps: tuple[str, ...]
    defects: tuple[str, ...] = ()

    def field(self, name: str) -> Field | None:
        """The field of that name (forename, dob, upn, referrer_email, looked_after...)."""
        return next((f for f in self.values if f.name == name), None)

    def value(self, name: str) -> Any:
        f = self.field(name)
        return f.value if f is not None else None

    @property
    def forename(self) -> str | None:
        return self.value("forename")

    @property
    def surname(self) -> str | None:
        return self.value("surname")

    @property
    def dob(self) -> str | None:
        return self.value("dob")

    @property
    def fields(self) -> dict[str, Any]:
        """Flat values shaped as the gateway's ReferralInput takes them (invalid ones left out)."""
        flat = {k: v for k, v in self.to_dict().items() if v not in (None, [], {}, "")}
        for key in ("source", "detail", "defects", "new_address", "new_school", "interpreter"):
            flat.pop(key, None)
        flat.pop("actions_taken", None)
        flat.pop("referral_date", None)
        flat["draft"] = self.to_dict()
        return flat

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON of `cme parse` plus `detail` (value, confidence, source per field)."""
        out: dict[str, Any] = {name: self.value(name) for name in FLAT_KEYS}
        out["aliases"] = out["aliases"] or []
        out["former_upns"] = out["former_upns"] or []
        out["languages"] = out["languages"] or []
        out["flags"] = {f: self.value(f) for f in FLAGS if self.value(f) is not None}
        out["urgency"] = self.value("urgency") or "routine"
        out["carers"] = [dict(c) for c in self.carers]
        out["siblings"] = [dict(s) for s in self.siblings]
        out["actions_taken"] = [dict(a) for a in self.actions]
        out["gaps"] = list(self.gaps)
        out["source"] = self.kind.value
        out["detail"] = {f.name: f.to_dict() for f in self.values}
        out["defects"] = list(self.defects)
        return out


FLAT_KEYS = (
    "forename", "surname", "middle_names", "aliases", "dob", "sex", "upn", "former_upns",
    "year_group", "address_line1", "address_line2", "town", "postcode", "new_address",
    "languages", "interpreter", "school", "new_school", "date_last_attended", "date_last_seen",
    "reason", "referrer_name", "referrer_role", "referrer_organisation", "referrer_email",
    "referrer_phone", "referral_date",
)  # fmt: skip


def _yes_no(value: str) -> bool | None:
    low = value.lower()
    boxed = re.findall(r"\[(x| )\]\s*(yes|no|y|n)\b|\b(yes|no|y|n)\s*\[(x| )\]", low)
    for a, b, c, d in boxed:
        mark, word = (a, b) if b else (d, c)
        if mark == "x":
            return word.startswith("y")
    if boxed:
        return None
    low = low.strip(" .")
    if re.match(r"^(\[x\]|yes|y|true|ticked|x)\b", low):
        return True
    if re.match(r"^(\[ \]|no|n|false|none|nil|n/a)\b", low):
        return False
    if not low or re.match(r"^(not known|unknown|unsure|don'?t know|tbc|\?)", low):
        return None
    return True  # "EHCP in place", "SW: J. Doe": a positive answer in words


def _sex(value: str) -> str | None:
    low = value.lower()
    boxed = re.findall(r"\[x\]\s*(male|female|boy|girl|m|f)\b", low)
    word = boxed[0] if boxed else low.strip(" .")
    if re.match(r"^(f|female|girl|woman)\b", word):
        return "F"
    if re.match(r"^(m|male|boy|man)\b", word):
        return "M"
    return None


def _year_group(value: str) -> str:
    low = value.lower().strip()
    if re.match(r"^(r|rec|reception)\b", low):
        return "R"
    if re.match(r"^(n|nursery)\b", low):
        return "N"
    m = re.match(r"^(?:year|yr|y|ncy)?\s*(\d{1,2})\b", low)
    return m.group(1) if m else value.strip()


def _urgency(value: str) -> str | None:
    low = value.lower()
    if "safeguard" in low:
        return "safeguarding"
    if re.search(r"\b(urgent|high|immediate|yes)\b", low):
        return "urgent"
    if re.search(r"\b(routine|low|normal|standard|medium|no)\b", low):
        return "routine"
    return None


_PLACEHOLDER = re.compile(
    r"^\W*(not known|unknown|n/?a|none|nil|tbc|tba|not applicable|not given|awaiting)\b|^\W*$",
    re.IGNORECASE,
)
_YES_NO_ATTRS = frozenset({*FLAGS, "urgency", "safeguarding", "interpreter"})


def _first(entries: list[Entry], entity: str, attr: str) -> Entry | None:
    """The value a person wrote: unquoted lines win over quoted ones, earlier over later."""
    found = [
        e
        for e in entries
        if e.entity == entity
        and e.attr == attr
        and e.value.strip()
        and (attr in _YES_NO_ATTRS or not _PLACEHOLDER.match(e.value))
    ]
    found.sort(key=lambda e: e.quoted)
    return found[0] if found else None


def _conf(e: Entry, base: float | None = None) -> float:
    c = base if base is not None else e.confidence
    return round(c * (0.8 if e.quoted else 1.0), 2)


class _Builder:
    def __init__(self, reading: Reading) -> None:
        self.r = reading
        self.values: dict[str, Field] = {}
        self.gaps: list[str] = []

    def put(
        self, name: str, value: Any, conf: float, span: Span | None, raw: str | None = None
    ) -> None:
        if value in (None, "", [], ()) or name in self.values:
            return
        self.values[name] = Field(name, value, conf, span, raw)

    def child(self) -> None:
        es = self.r.entries
        for attr in ("forename", "surname", "middle_names"):
            e = _first(es, "child", attr)
            if e is None:
                continue
            if attr == "forename":
                # Every word under a forename label is a forename: "Archie Lee" has no surname.
                name = parse_person_name(e.value + " X")
                if name and name.forenames:
                    self.put("forename", name.forename, _conf(e), e.span, e.value)
                    self.put("middle_names", name.middle_names, _conf(e, 0.9), e.span, e.value)
                    if name.aliases:
                        self.put("aliases", list(name.aliases), _conf(e, 0.85), e.span, e.value)
            elif attr == "surname":
                name = parse_person_name("X " + e.value)
                if name and name.surname:
                    self.put("surname", name.surname, _conf(e), e.span, e.value)
                    if name.aliases:
                        self.put("aliases", list(name.aliases), _conf(e, 0.85), e.span, e.value)
            else:
                self.put(attr, tidy_name(e.value), _conf(e), e.span, e.value)
        e = _first(es, "child", "name")
        if e is not None:
            name = parse_person_name(e.value)
            if name is not None:
                self.put("forename", name.forename, _conf(e, 0.9), e.span, e.value)
                self.put("middle_names", name.middle_names, _conf(e, 0.85), e.span, e.value)
                self.put("surname", name.surname, _conf(e, 0.9), e.span, e.value)
                self.put("aliases", list(name.aliases), _conf(e, 0.85), e.span, e.value)
        e = _first(es, "child", "aliases")
        if e is not None:
            # Aliases stay as written: "JJ" is a name, not a shout.
            parts = re.split(r"\s*(?:,|;|/|\bor\b|\n)\s*", e.value)
            aliases = [" ".join(a.split()) for a in parts if a.strip()]
            existing = self.values.pop("aliases", None)
            merged = list(dict.fromkeys([*(existing.value if existing else []), *aliases]))
            self.put("aliases", merged, _conf(e), e.span, e.value)
        self.dates(es)
        e = _first(es, "child", "sex")
        if e is not None:
            self.put("sex", _sex(e.value), _conf(e), e.span, e.value)
        self.upns(es)
        e = _first(es, "child", "year_group")
        if e is not None:
            self.put("year_group", _year_group(e.value), _conf(e), e.span, e.value)
        self.address(es)
        for attr in ("school", "new_school", "new_address", "interpreter"):
            e = _first(es, "child", attr)
            if e is not None:
                self.put(attr, " ".join(e.value.split()), _conf(e), e.span, e.value)
        e = _first(es, "child", "languages")
        if e is not None:
            langs = [x.strip().title() for x in re.split(r",|/|;|\band\b", e.value) if x.strip()]
            self.put("languages", langs, _conf(e), e.span, e.value)
        e = _first(es, "child", "reason")
        if e is not None:
            self.put("reason", " ".join(e.value.split()), _conf(e, 0.9), e.span, e.value)
        for flag in FLAGS:
            e = _first(es, "child", flag)
            if e is not None:
                self.put(flag, _yes_no(e.value), _conf(e), e.span, e.value)
        e = _first(es, "child", "urgency")
        if e is not None:
            self.put("urgency", _urgency(e.value), _conf(e), e.span, e.value)
        e = _first(es, "child", "safeguarding")
        if e is not None and _yes_no(e.value):
            self.values.pop("urgency", None)
            self.put("urgency", "safeguarding", _conf(e), e.span, e.value)

    def dates(self, es: list[Entry]) -> None:
        labels = {"dob": "date of birth", "date_last_attended": "date last attended",
                  "date_last_seen": "date last seen"}  # fmt: skip
        for attr, label in labels.items():
            e = _first(es, "child", attr)
            if e is None:
                continue
            found = parse_uk_date(e.value)
            if found is None:
                self.gaps.append(f"{label} {e.value.strip()[:40]!r} is not a date that can be read")
                continue
            self.put(attr, found.isoformat(), _conf(e), e.span, e.value)

    def upns(self, es: list[Entry]) -> None:
        e = _first(es, "child", "upn")
        if e is not None and e.value.strip().lower() not in ("n/a", "unknown", "not known", "-"):
            check = check_upn(e.value)
            if check.valid:
                self.put("upn", check.value, _conf(e), e.span, e.value)
            else:
                self.gaps.extend(f"{p} (UPN given: {e.value.strip()[:20]})" for p in check.problems)
        e = _first(es, "child", "former_upns")
        if e is not None:
            valid = [u for u, _, _ in find_upns(e.value) if check_upn(u).valid]
            self.put("former_upns", valid, _conf(e), e.span, e.value)

    def address(self, es: list[Entry]) -> None:
        e = _first(es, "child", "postcode")
        if e is not None:
            pc = normalise_postcode(e.value)
            if pc is None:
                self.gaps.append(f"postcode {e.value.strip()[:20]!r} is not a valid UK postcode")
            self.put("postcode", pc, _conf(e), e.span, e.value)
        e = _first(es, "child", "address")
        if e is None:
            return
        lines = [x.strip(" ,.") for x in re.split(r"\n|,", e.value) if x.strip(" ,.")]
        found = find_postcodes(e.value)
        if found:
            self.put("postcode", found[0][0], _conf(e, 0.9), e.span, e.value)
        rest = []
        for line in lines:
            if found and normalise_postcode(line) == found[0][0]:
                continue
            if found:
                line = re.sub(re.escape(found[0][0]).replace(r"\ ", r"\s*"), "", line, flags=re.I)
                line = line.strip(" ,")
            if line:
                rest.append(line)
        if rest:
            self.put("address_line1", rest[0], _conf(e, 0.9), e.span, e.value)
        if len(rest) >= 2:
            self.put("town", rest[-1], _conf(e, 0.8), e.span, e.value)
        if len(rest) >= 3:
            self.put("address_line2", ", ".join(rest[1:-1]), _conf(e, 0.8), e.span, e.value)

    def people(self, entity: str) -> tuple[dict[str, Any], ...]:
        records: dict[int, dict[str, Any]] = {}
        for e in self.r.entries:
            if e.entity != entity or not e.value.strip():
                continue
            rec = records.setdefault(e.record, {})
            if e.relationship and "relationship" not in rec:
                rec["relationship"] = e.relationship.title()
            if e.attr in rec:
                continue
            value: Any = " ".join(e.value.split())
            if e.attr == "phone":
                value = normalise_phone(value) or value
            elif e.attr == "email":
                value = normalise_email(value) or value
            elif e.attr == "dob":
                found = parse_uk_date(value)
                value = found.isoformat() if found else None
            elif e.attr == "name":
                for phone, _, _ in find_phones(value)[:1]:
                    rec.setdefault("phone", phone)
                for email, _, _ in find_emails(value)[:1]:
                    rec.setdefault("email", email)
                rel = re.search(r"\(([^)]{2,30})\)", value)
                if rel and not re.search(r"\d", rel.group(1)) and entity == "carer":
                    rec.setdefault("relationship", rel.group(1).strip().title())
                value = re.split(r"\s*[(,]|\s+[-–]\s+|\s+(?:tel|mob|phone|email)\b", value)[0]
                value = tidy_name(value)
            if value:
                rec[e.attr] = value
        return tuple(r for _, r in sorted(records.items()) if r.get("name") or r.get("phone"))

    def actions(self) -> tuple[dict[str, Any], ...]:
        e = _first(self.r.entries, "child", "actions")
        if e is None:
            return ()
        items = [x.strip(" -*•") for x in re.split(r"\n|;|•", e.value) if x.strip(" -*•")]
        out = []
        for item in items:
            dates = find_dates(item)
            out.append({"date": dates[0].value.isoformat() if dates else None, "action": item})
        return tuple(out)

    def referrer(self, sender_name: str | None, sender_email: str | None) -> None:
        es = self.r.entries
        for attr in ("name", "role", "organisation", "phone", "email", "referral_date"):
            e = _first(es, "referrer", attr)
            if e is None:
                continue
            value: Any = " ".join(e.value.split())
            if attr == "phone":
                value = normalise_phone(value) or value
            elif attr == "email":
                value = normalise_email(value)
            elif attr == "name":
                for email, _, _ in find_emails(value)[:1]:
                    self.put("referrer_email", email, _conf(e, 0.9), e.span, e.value)
                for phone, _, _ in find_phones(value)[:1]:
                    self.put("referrer_phone", phone, _conf(e, 0.9), e.span, e.value)
                value = tidy_name(re.split(r"\s*[(,]|\s+[-–]\s+", value)[0])
            elif attr == "referral_date":
                found = parse_uk_date(value)
                value = found.isoformat() if found else None
            key = "referral_date" if attr == "referral_date" else f"referrer_{attr}"
            self.put(key, value, _conf(e), e.span, e.value)
        e = _first(es, "child", "referral_date")
        if e is not None and (found := parse_uk_date(e.value)):
            self.put("referral_date", found.isoformat(), _conf(e), e.span, e.value)
        self.signature()
        for text, s, end in reversed(self.r.forward_from):
            # The author of the innermost forwarded message, which holds the referral.
            m = re.match(r"^\s*\"?([^\"<]*?)\"?\s*<([^>]+)>", text)
            name: str | None = m.group(1) if m else None
            address = m.group(2) if m else normalise_email(text)
            span = Span(s, end, "forwarded message header", "From")
            self.put("referrer_email", normalise_email(address), 0.7, span, text)
            if name and name.strip():
                self.put("referrer_name", tidy_name(name), 0.7, span, text)
        self.put("referrer_email", normalise_email(sender_email), 0.6, None, sender_email)
        if sender_name:
            self.put("referrer_name", tidy_name(sender_name.strip('" ')), 0.6, None, sender_name)

    def signature(self) -> None:
        sig = self.r.signature or self._closing_lines()
        if not sig:
            return
        rest: list[tuple[str, int, int]] = []
        for text, s, e in sig:
            span = Span(s, e, "signature", None)
            emails = find_emails(text)
            phones = find_phones(text)
            if emails:
                self.put("referrer_email", emails[0][0], 0.75, span, text)
            if phones:
                self.put("referrer_phone", phones[0][0], 0.75, span, text)
            if not emails and not phones:
                rest.append((text, s, e))
        keys = ("referrer_name", "referrer_role", "referrer_organisation")
        for key, (text, s, e) in zip(keys, rest, strict=False):
            value = tidy_name(text) if key == "referrer_name" else text.strip()
            self.put(key, value, 0.7, Span(s, e, "signature", None), text)

    def _closing_lines(self) -> list[tuple[str, int, int]]:
        """A sign-off without "Regards": the short unlabelled lines that end the message."""
        last = max((e.span.end for e in self.r.entries), default=-1)
        tail = [(t, s, e) for t, s, e, quoted in self.r.prose if s > last and not quoted]
        block: list[tuple[str, int, int]] = []
        for item in tail:
            if block and item[1] - block[-1][2] > 2:
                block = []  # a blank line between: only the last block counts
            block.append(item)
        short = all(len(t.split()) <= 6 and not re.search(r"[.?!]$", t) for t, _, _ in block)
        return block if 1 <= len(block) <= 5 and short else []

    def prose(self, subject: str) -> None:
        """Fields a sentence carries when no label did: lower confidence, a person checks."""
        lines = [p for p in self.r.prose if not p[3]] + [p for p in self.r.prose if p[3]]
        for text, s, _e, quoted in lines:
            conf = 0.4 if quoted else 0.5
            m = re.search(
                r"\b(?:d\.?o\.?b\.?|date of birth|born(?: on)?)\s*[:\-]?\s*", text, re.IGNORECASE
            )
            if m and (dates := find_dates(text[m.end() : m.end() + 40])):
                d = dates[0]
                at = s + m.end() + d.start
                self.put("dob", d.value.isoformat(), conf, Span(at, at + d.end - d.start, "text"))
            m = re.search(
                r"\b(?:last attended|not attended (?:school )?since|absent since|last in school)"
                r"\s*(?:on\s*)?", text, re.IGNORECASE,
            )  # fmt: skip
            if m and (dates := find_dates(text[m.end() : m.end() + 40])):
                d = dates[0]
                at = s + m.end() + d.start
                self.put("date_last_attended", d.value.isoformat(), conf, Span(at, at, "text"))
            for upn, us, ue in find_upns(text):
                if "upn" not in self.values and check_upn(upn).valid:
                    self.put("upn", upn, conf, Span(s + us, s + ue, "text"))
            if "postcode" not in self.values and "address_line1" not in self.values:
                for pc, ps, pe in find_postcodes(text):
                    self.put("postcode", pc, conf - 0.1, Span(s + ps, s + pe, "text"))
            m = re.search(
                r"\b(?:refer(?:ring)?|referral (?:for|regarding)|regarding|concerning|"
                r"concerns? about)"
                r"\s+(?:the\s+)?(?:child|pupil|young person)?\s*"
                r"((?:[A-Z][a-z']+(?:-[A-Z]?[a-z']+)*|[A-Z][A-Z'-]+)"
                r"(?:\s+(?:[A-Z][a-z']+(?:-[A-Z]?[a-z']+)*|[A-Z][A-Z'-]+)){1,3})",
                text,
            )
            if m and "forename" not in self.values:
                name = parse_person_name(m.group(1))
                if name and name.forename and name.surname:
                    span = Span(s + m.start(1), s + m.end(1), "text")
                    self.put("forename", name.forename, conf, span, m.group(1))
                    self.put("surname", name.surname, conf, span, m.group(1))
            m = re.search(
                r"((?:[A-Z][\w'&.-]*\s+){1,5}(?:Primary School|Primary Academy|Infant School|"
                r"Junior School|Academy|High School|School|College))",
                text,
            )
            if m and "school" not in self.values:
                at = s + m.start(1)
                self.put(
                    "school", m.group(1).strip(), conf - 0.1, Span(at, at + len(m.group(1)), "text")
                )
        if re.search(r"\burgent\b", subject, re.IGNORECASE):
            self.put("urgency", "urgent", 0.6, None, subject)
        if "reason" not in self.values:
            keywords = re.compile(
                r"\b(moved|not attended|absent|left the area|whereabouts|missing|unable to contact|"
                r"no contact|not returned|did not (?:start|take up)|removed from roll|"
                r"off[- ]rolled|has not been seen|unknown|left (?:us|the school|the area)|"
                r"moving (?:to|away|abroad)|leaving)\b", re.IGNORECASE,
            )  # fmt: skip
            for text, s, e, quoted in lines:
                if keywords.search(text) and len(text) > 25:
                    self.put("reason", text, 0.4 if quoted else 0.5, Span(s, e, "text"), text)
                    break

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


def _build(
    kind: SourceKind,
    reading: Reading,
    *,
    subject: str = "",
    sender_name: str | None = None,
    sender_email: str | None = None,
    defects: tuple[str, ...] = (),
) -> ReferralDraft:
    b = _Builder(reading)
    b.child()
    b.referrer(None, None)
    b.prose(subject)
    b.referrer(sender_name, sender_email)
    b.check_gaps()
    return ReferralDraft(
        kind=kind,
        text=reading.text,
        values=tuple(b.values.values()),
        carers=b.people("carer"),
        siblings=b.people("sibling"),
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
) -> ReferralDraft:
    """Text, HTML, a .docx form or a whole email (bytes) into a draft with its gaps.

    `kind` says what the source is; without it, it is sniffed (a zip is a .docx, headers an
    email, tags HTML). Raises ParseError only when the input cannot be read at all.
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
                          sender_email=sender_email)  # fmt: skip
        if kind is SourceKind.EMAIL or (kind is None and _looks_like_email(data)):
            return parse_referral_message(parse_message(data))
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
                  sender_email=sender_email, defects=tuple(defects))  # fmt: skip


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


def parse_referral_message(msg: ParsedMessage) -> ReferralDraft:
    """A referral email: an attached .docx form if there is one, else the (forwarded) body."""
    deadline = time.monotonic() + MAX_SECONDS
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
            # The covering email often signs off with the referrer's details the form lacks.
            cover = read_lines(source.text, text_lines(source.text), deadline)
            reading.signature.extend(
                (t, s + len(body) + 1, e + len(body) + 1) for t, s, e in cover.signature
            )
            return _build(SourceKind.DOCX, reading, subject=msg.subject, sender_name=sender_name,
                          sender_email=sender_email, defects=tuple(defects))  # fmt: skip
    html = source.html
    if html and "<table" in html.lower():
        body, lines = block_lines(html_blocks(html))
        reading = read_lines(body, lines, deadline)
    else:
        text = source.text[:MAX_TEXT_CHARS]
        reading = read_lines(text, text_lines(text), deadline)
    return _build(SourceKind.EMAIL, reading, subject=msg.subject, sender_name=sender_name,
                  sender_email=sender_email, defects=tuple(defects))  # fmt: skip
