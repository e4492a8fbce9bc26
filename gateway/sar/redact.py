"""Redaction and review marks for the archive.

An anonymous referrer (Referral.anonymous) is redacted by default, everywhere: their name
(as written, surname first, and each distinctive part of it on its own), email address
and phone number, in every string of the archive: fields, raw messages' text, letters,
drafts, audit details. A part of the name that the child or the family also bear (a
shared surname) is not redacted on its own, or the child's own name would go; the whole
name still is. Parts are matched as written (capitalised), whole names, emails and
phones in any case and spacing (a phone with or without spaces, +44 or 0).

Other third parties we know by name (referrers who did not ask to be anonymous, carers,
siblings, staff) are marked for review wherever their name, email, phone or username
appears in a string; the fields that are theirs are marked by the collector.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from gateway.sar.marks import REDACTED, Category, Flag, Redacted, Text

#: Words of a name too common or too short to redact on their own.
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})
_MIN_PART = 3
_SEP = r"[\s\-().]*"


def _name_parts(name: str) -> list[str]:
    return [t for t in re.findall(r"[^\W\d_][\w'’-]*", name) if t.lower() not in _TITLES]


def name_patterns(name: str) -> list[str]:
    """The whole name as written and surname first, in any spacing and case."""
    parts = _name_parts(name)
    if not parts:
        return []
    out = [r"(?i:(?<!\w)" + r"\s+".join(re.escape(p) for p in parts) + r"(?!\w))"]
    if len(parts) > 1:
        rest = r"\s+".join(re.escape(p) for p in parts[:-1])
        out.append(r"(?i:(?<!\w)" + re.escape(parts[-1]) + r",?\s+" + rest + r"(?!\w))")
    return out


def email_pattern(email: str) -> str | None:
    email = email.strip()
    if "@" not in email:
        return None
    return r"(?i:(?<![\w.+-])" + re.escape(email) + r"(?![\w-]))"


def phone_pattern(phone: str) -> str | None:
    """The number with any separators, from +44, 0044 or 0."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return None
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44") and len(digits) > 10:
        digits = "0" + digits[2:]
    if digits.startswith("0"):
        core = _SEP.join(digits[1:])
        return rf"(?<!\d)(?:(?:\+|00)44{_SEP}(?:\(0\){_SEP})?|0){_SEP}{core}(?!\d)"
    return rf"(?<!\d){_SEP.join(digits)}(?!\d)"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.lower()))


def _digits(phone: str) -> str:
    """The digits a phone pattern needs in a text: the number without its 0 or +44."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("0044"):
        return digits[4:]
    if digits.startswith("44") and len(digits) > 10:
        return digits[2:]
    return digits[1:] if digits.startswith("0") else digits


@dataclass(frozen=True)
class Term:
    """One pattern, and what a text must contain for it to be worth trying: all its words,
    or its digits (a text without them is skipped without running the pattern)."""

    pattern: str
    words: frozenset[str] = frozenset()
    digits: str = ""


@dataclass
class Person:
    """Someone other than the child whose name, email or phone the archive may hold."""

    category: Category
    names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    #: Usernames (staff): matched as whole words, in any case.
    usernames: list[str] = field(default_factory=list)

    def terms(self) -> list[Term]:
        out: list[Term] = []
        for name in self.names:
            words = frozenset(w for part in _name_parts(name) for w in _words(part))
            out += [Term(p, words) for p in name_patterns(name)]
        for email in self.emails:
            pattern = email_pattern(email)
            if pattern:
                out.append(Term(pattern, frozenset(_words(email.partition("@")[0]))))
        for phone in self.phones:
            pattern = phone_pattern(phone)
            if pattern:
                out.append(Term(pattern, digits=_digits(phone)))
        out += [
            Term(r"(?i:(?<![\w.:-])" + re.escape(u) + r"(?![\w-]))", frozenset(_words(u)))
            for u in self.usernames
            if len(u) >= _MIN_PART
        ]
        return out


class _Matcher:
    """Many patterns over many strings: each string is tried only against the patterns
    whose words (or digits) it contains, combined into one expression, longest first."""

    def __init__(self, terms: list[tuple[Term, Category]]) -> None:
        unique: dict[str, tuple[Term, Category]] = {}
        for term, category in sorted(terms, key=lambda t: len(t[0].pattern), reverse=True):
            unique.setdefault(term.pattern, (term, category))
        self.terms = list(unique.values())
        self._by_word: dict[str, list[int]] = {}
        self._by_digits: list[tuple[str, int]] = []
        for index, (term, _category) in enumerate(self.terms):
            for word in term.words:
                self._by_word.setdefault(word, []).append(index)
            if term.digits:
                self._by_digits.append((term.digits, index))
        self._compiled: dict[tuple[int, ...], re.Pattern[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.terms)

    def pattern_for(self, text: str) -> tuple[re.Pattern[str] | None, tuple[int, ...]]:
        if not text or not self.terms:
            return None, ()
        words = _words(text)
        found: set[int] = set()
        for word in words & self._by_word.keys():
            # Every word of the pattern must be there (a whole name, not one of its parts).
            found.update(i for i in self._by_word[word] if self.terms[i][0].words <= words)
        if self._by_digits:
            digits = re.sub(r"\D", "", text)
            if len(digits) >= 6:
                found.update(i for d, i in self._by_digits if d in digits)
        if not found:
            return None, ()
        key = tuple(sorted(found))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = re.compile("|".join(f"(?P<g{i}>{self.terms[i][0].pattern})" for i in key))
            self._compiled[key] = compiled
        return compiled, key


class Redactor:
    """Replaces every trace of the anonymous referrers we can find by pattern."""

    def __init__(self, anonymous: list[Person], protected_names: Iterable[str]) -> None:
        protected = {p.lower() for name in protected_names for p in _name_parts(name)}
        terms: list[tuple[Term, Category]] = []
        for person in anonymous:
            terms += [(t, person.category) for t in person.terms()]
            for name in person.names:
                for part in _name_parts(name):
                    if len(part) >= _MIN_PART and part.lower() not in protected:
                        # As written: a capitalised part, so "Head" is not every "head".
                        pattern = r"(?<!\w)" + re.escape(part) + r"(?!\w)"
                        terms.append((Term(pattern, frozenset(_words(part))), person.category))
        self._matcher = _Matcher(terms)
        self.replacements = 0

    @property
    def active(self) -> bool:
        return bool(self._matcher)

    def apply(self, text: str) -> str:
        pattern, _key = self._matcher.pattern_for(text)
        if pattern is None:
            return text
        out, n = pattern.subn(REDACTED, text)
        self.replacements += n
        return out

    def finds(self, text: str | None) -> bool:
        pattern, _key = self._matcher.pattern_for(text or "")
        return bool(pattern is not None and text and pattern.search(text))


class Spotter:
    """Finds the third parties we know of in a string, for the review marks."""

    def __init__(self, people: list[Person]) -> None:
        self._matcher = _Matcher([(t, p.category) for p in people for t in p.terms()])

    def find(self, text: str) -> list[dict[str, Any]]:
        pattern, _key = self._matcher.pattern_for(text)
        if pattern is None:
            return []
        found = []
        for m in pattern.finditer(text):
            index = int((m.lastgroup or "g0")[1:])
            found.append(
                {
                    "category": self._matcher.terms[index][1].value,
                    "text": m.group(0),
                    "start": m.start(),
                    "end": m.end(),
                }
            )
        return found


@dataclass
class Counts:
    flagged: int = 0
    redacted_fields: int = 0
    mentions: int = 0


def finish(node: Any, redactor: Redactor, spotter: Spotter, counts: Counts) -> Any:
    """The collected tree as JSON values: redacted, and marked for review."""
    if isinstance(node, Redacted):
        counts.redacted_fields += 1
        return {"value": REDACTED, "redacted": True, "category": node.category.value}
    if isinstance(node, Flag):
        counts.flagged += 1
        inner = finish(node.value, redactor, _NO_SPOTTER, counts)
        return {"value": inner, "redaction_review": True, "category": node.category.value}
    if isinstance(node, Text):
        text = redactor.apply(node.text)
        mentions = spotter.find(text)
        counts.mentions += len(mentions)
        return {"text": text, "redaction_review": bool(mentions), "mentions": mentions}
    if isinstance(node, str):
        text = redactor.apply(node)
        mentions = spotter.find(text)
        if not mentions:
            return text
        counts.mentions += len(mentions)
        return {"text": text, "redaction_review": True, "mentions": mentions}
    if isinstance(node, dict):
        return {str(k): finish(v, redactor, spotter, counts) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [finish(v, redactor, spotter, counts) for v in node]
    if isinstance(node, enum.Enum):
        return node.value
    if isinstance(node, datetime | date):
        return node.isoformat()
    if isinstance(node, bytes):  # pragma: no cover - the collector decodes what it keeps
        raise TypeError("bytes in the archive tree")
    return node


_NO_SPOTTER = Spotter([])
