"""Labelled entries (a form's fields, in text, HTML or .docx) into the draft's fields."""

from __future__ import annotations

import re
from typing import Any

from parsers.actions import action_items, read_action, read_action_columns
from parsers.draft import FLAGS, Field, Origin
from parsers.form_lines import Entry, Reading, Span
from parsers.identifiers import (
    check_upn,
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
_YES_NO_ATTRS = frozenset(
    {*FLAGS, "urgency", "safeguarding", "interpreter", "anonymous", "share_details"}
)


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


def _source(span: Span, origin: str) -> dict[str, Any]:
    return {"start": span.start, "end": span.end, "where": span.where, "origin": origin}


class LabelledBuilder:
    """The draft's fields from labelled entries; the first value put for a name wins."""

    def __init__(self, reading: Reading, origin: Origin) -> None:
        self.r = reading
        self.origin = origin
        self.values: dict[str, Field] = {}
        self.gaps: list[str] = []
        self._index: dict[tuple[str, str], list[Entry]] = {}
        self._indexed: tuple[int, int] | None = None

    def _first(self, entity: str, attr: str) -> Entry | None:
        """`_first` over the entries of that field only (a field is asked for many times)."""
        entries = self.r.entries
        if self._indexed != (id(entries), len(entries)):
            self._index = {}
            for e in entries:
                self._index.setdefault((e.entity, e.attr), []).append(e)
            self._indexed = (id(entries), len(entries))
        return _first(self._index.get((entity, attr), []), entity, attr)

    def put(
        self,
        name: str,
        value: Any,
        conf: float,
        span: Span | None,
        raw: str | None = None,
        origin: str | None = None,
        context: str | None = None,
    ) -> None:
        if value in (None, "", [], ()) or name in self.values:
            return
        how = str(origin) if origin else self.origin.value
        self.values[name] = Field(name, value, conf, span, raw, how, context)

    def child(self) -> None:
        es = self.r.entries
        for attr in ("forename", "surname", "middle_names"):
            e = self._first("child", attr)
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
        e = self._first("child", "name")
        if e is not None:
            name = parse_person_name(e.value)
            if name is not None:
                self.put("forename", name.forename, _conf(e, 0.9), e.span, e.value)
                self.put("middle_names", name.middle_names, _conf(e, 0.85), e.span, e.value)
                self.put("surname", name.surname, _conf(e, 0.9), e.span, e.value)
                self.put("aliases", list(name.aliases), _conf(e, 0.85), e.span, e.value)
        e = self._first("child", "aliases")
        if e is not None:
            # Aliases stay as written: "JJ" is a name, not a shout.
            parts = re.split(r"\s*(?:,|;|/|\bor\b|\n)\s*", e.value)
            aliases = [" ".join(a.split()) for a in parts if a.strip()]
            existing = self.values.pop("aliases", None)
            merged = list(dict.fromkeys([*(existing.value if existing else []), *aliases]))
            self.put("aliases", merged, _conf(e), e.span, e.value)
        self.dates(es)
        e = self._first("child", "sex")
        if e is not None:
            self.put("sex", _sex(e.value), _conf(e), e.span, e.value)
        self.upns(es)
        e = self._first("child", "year_group")
        if e is not None:
            self.put("year_group", _year_group(e.value), _conf(e), e.span, e.value)
        self.address(es)
        for attr in ("school", "new_school", "new_address", "interpreter"):
            e = self._first("child", attr)
            if e is not None:
                self.put(attr, " ".join(e.value.split()), _conf(e), e.span, e.value)
        e = self._first("child", "languages")
        if e is not None:
            langs = [x.strip().title() for x in re.split(r",|/|;|\band\b", e.value) if x.strip()]
            self.put("languages", langs, _conf(e), e.span, e.value)
        e = self._first("child", "reason")
        if e is not None:
            self.put("reason", " ".join(e.value.split()), _conf(e, 0.9), e.span, e.value)
        for flag in FLAGS:
            e = self._first("child", flag)
            if e is not None:
                self.put(flag, _yes_no(e.value), _conf(e), e.span, e.value)
        e = self._first("child", "urgency")
        if e is not None:
            self.put("urgency", _urgency(e.value), _conf(e), e.span, e.value)
        e = self._first("child", "safeguarding")
        if e is not None:
            self.put("safeguarding", _yes_no(e.value), _conf(e), e.span, e.value)
        if e is not None and _yes_no(e.value):
            self.values.pop("urgency", None)
            self.put("urgency", "safeguarding", _conf(e), e.span, e.value)

    def dates(self, es: list[Entry]) -> None:
        labels = {"dob": "date of birth", "date_last_attended": "date last attended",
                  "date_last_seen": "date last seen"}  # fmt: skip
        for attr, label in labels.items():
            e = self._first("child", attr)
            if e is None:
                continue
            found = parse_uk_date(e.value)
            if found is None:
                self.gaps.append(f"{label} {e.value.strip()[:40]!r} is not a date that can be read")
                if attr != "dob":
                    # "since Easter" stays as words beside the gap, never a made-up date
                    self.put(f"{attr}_text", " ".join(e.value.split()), _conf(e), e.span, e.value)
                continue
            self.put(attr, found.isoformat(), _conf(e), e.span, e.value)

    def upns(self, es: list[Entry]) -> None:
        e = self._first("child", "upn")
        if e is not None and e.value.strip().lower() not in ("n/a", "unknown", "not known", "-"):
            check = check_upn(e.value)
            if check.valid:
                self.put("upn", check.value, _conf(e), e.span, e.value)
            else:
                self.gaps.extend(f"{p} (UPN given: {e.value.strip()[:20]})" for p in check.problems)
        e = self._first("child", "former_upns")
        if e is not None:
            valid = [u for u, _, _ in find_upns(e.value) if check_upn(u).valid]
            self.put("former_upns", valid, _conf(e), e.span, e.value)

    def address(self, es: list[Entry]) -> None:
        e = self._first("child", "postcode")
        if e is not None:
            pc = normalise_postcode(e.value)
            if pc is None:
                self.gaps.append(f"postcode {e.value.strip()[:20]!r} is not a valid UK postcode")
            self.put("postcode", pc, _conf(e), e.span, e.value)
        e = self._first("child", "address")
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
        spans: dict[int, list[Span]] = {}
        for e in self.r.entries:
            if e.entity != entity or not e.value.strip():
                continue
            rec = records.setdefault(e.record, {})
            spans.setdefault(e.record, []).append(e.span)
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
        out = []
        for n, rec in sorted(records.items()):
            if rec.get("name") or rec.get("phone"):
                first = spans[n][0]
                where = Span(first.start, max(s.end for s in spans[n]), first.where, None)
                rec["source"] = _source(where, self.origin.value)
                out.append(rec)
        return tuple(out)

    def actions(self) -> tuple[dict[str, Any], ...]:
        """Actions already taken: a free-text answer split into items, or a table's rows."""
        out: list[dict[str, Any]] = []
        e = self._first("child", "actions")
        if e is not None:
            for item in action_items(e.value):
                action = read_action(item)
                at = self.r.text.find(item, e.span.start, max(e.span.end, e.span.start + len(item)))
                if at >= 0:
                    span = Span(at, at + len(item), e.span.where, e.span.label)
                    action["source"] = _source(span, self.origin.value)
                out.append(action)
        rows: dict[int, dict[str, str]] = {}
        row_spans: dict[int, Span] = {}
        for a in self.r.entries:
            if a.entity == "action" and a.value.strip():
                rows.setdefault(a.record, {})[a.attr] = a.value
                row_spans.setdefault(a.record, a.span)
        for n, cells in sorted(rows.items()):
            if cells.get("action") or cells.get("outcome"):
                action = read_action_columns(cells)
                action["source"] = _source(row_spans[n], self.origin.value)
                out.append(action)
        return tuple(out)

    def referrer(self, sender_name: str | None, sender_email: str | None) -> None:
        for attr in ("name", "role", "organisation", "phone", "email", "referral_date"):
            e = self._first("referrer", attr)
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
        e = self._first("referrer", "anonymous")
        if e is not None:
            self.put("anonymous", _yes_no(e.value), _conf(e), e.span, e.value)
        e = self._first("referrer", "share_details")
        if e is not None and (share := _yes_no(e.value)) is not None:
            self.put("anonymous", not share, _conf(e), e.span, e.value)
        e = self._first("child", "referral_date")
        if e is not None and (found := parse_uk_date(e.value)):
            self.put("referral_date", found.isoformat(), _conf(e), e.span, e.value)
        self.signature()
        for text, s, end in reversed(self.r.forward_from):
            # The author of the innermost forwarded message, which holds the referral.
            m = re.match(r"^\s*\"?([^\"<]*?)\"?\s*<([^>]+)>", text)
            name: str | None = m.group(1) if m else None
            address = m.group(2) if m else normalise_email(text)
            span = Span(s, end, "forwarded message header", "From")
            self.put("referrer_email", normalise_email(address), 0.7, span, text, Origin.HEADER)
            if name and name.strip():
                self.put("referrer_name", tidy_name(name), 0.7, span, text, Origin.HEADER)
        sent_by = normalise_email(sender_email)
        self.put("referrer_email", sent_by, 0.6, None, sender_email, Origin.HEADER)
        if sender_name:
            name = tidy_name(sender_name.strip('" '))
            self.put("referrer_name", name, 0.6, None, sender_name, Origin.HEADER)

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
                self.put("referrer_email", emails[0][0], 0.75, span, text, Origin.SIGNATURE)
            if phones:
                self.put("referrer_phone", phones[0][0], 0.75, span, text, Origin.SIGNATURE)
            if not emails and not phones:
                rest.append((text, s, e))
        keys = ("referrer_name", "referrer_role", "referrer_organisation")
        for key, (text, s, e) in zip(keys, rest, strict=False):
            value = tidy_name(text) if key == "referrer_name" else text.strip()
            self.put(key, value, 0.7, Span(s, e, "signature", None), text, Origin.SIGNATURE)

    def _closing_lines(self) -> list[tuple[str, int, int]]:
        """A sign-off without "Regards": the short unlabelled lines that end the message."""
        last = max((e.span.end for e in self.r.entries), default=-1)
        tail = [(p.text, p.start, p.end) for p in self.r.prose if p.start > last and not p.quoted]
        block: list[tuple[str, int, int]] = []
        for item in tail:
            if block and item[1] - block[-1][2] >= 2:
                block = []  # a blank line between: only the last block counts
            block.append(item)
        if not 1 <= len(block) <= 5:
            return []  # not a sign-off, however short its lines (not looked at)
        short = all(len(t.split()) <= 6 and not re.search(r"[.?!]$", t) for t, _, _ in block)
        return block if short else []
