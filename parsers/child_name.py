"""The child's name in prose: only after words that give one ('a girl called Maisie')."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from parsers.identifiers import tidy_name
from parsers.phrases import CHILD_NOUN_RE, CHILD_NOUNS, MONTH_WORDS, lookup
from parsers.prefilter import Gated, gated
from parsers.sentences import (
    NAME_WORD,
    Found,
    Sentence,
    clause_start,
    name_words,
    person_before,
)

# Each cue ends where the name starts; the name itself must be capitalised (never a cue's word).
_NAME_CUES: tuple[tuple[Gated, float, str], ...] = tuple(
    (gated(p, re.IGNORECASE), c, kind)
    for p, c, kind in (
        (r"\b(?P<noun>" + CHILD_NOUN_RE + r")\s*,?\s+(?:who(?:['’]s|\s+is|\s+was)\s+|that(?:['’]s|"
         r"\s+is)\s+)?(?:called|named|by\s+the\s+name\s+of)\s+", 0.7, "noun"),
        (r"\b(?P<pron>she|he)(?:['’]s|\s+is|\s+was)\s+(?:called|named)\s+", 0.65, "pronoun"),
        (r"\b(?P<poss>her|his|their|the\s+(?:child|girl|boy|kid|lad|lass|pupil|young\s+person)['’]s)"
         r"\s+(?:first\s+|full\s+|real\s+|christian\s+|proper\s+)?name(?:['’]s|\s+is|\s+was)\s+"
         r"(?:I\s+think\s+|possibly\s+|maybe\s+|probably\s+)?", 0.65, "name is"),
        (r"\b(?:is|was|are|were|be|been|who['’]s|one|['’]s)\s+(?:called|named)\s+", 0.55, "called"),
        (r"\b(?P<noun>" + CHILD_NOUN_RE + r")(?:\s*,\s*|\s+)(?=(?-i:[A-Z]))", 0.55, "noun"),
        (r"\b(?:refer(?:ring)?|referral\s+(?:for|regarding)|regarding|concerning|concerns?\s+"
         r"about|worried\s+about)\s+(?:the\s+)?(?:child|pupil|young\s+person)?\s*(?=(?-i:[A-Z]))",
         0.5, "full"),
    )
)  # fmt: skip
_ALIAS_CUE = gated(r"\b(?:goes\s+by|known\s+as|also\s+called|calls\s+(?:her|him)self)\s+", re.I)
_SURNAME_CUE = gated(
    r"\b(?:surname|last\s+name|second\s+name|family\s+name)(?:['’]s|\s+is|\s+was|\s*:|\s+might\s+be|"
    r"\s+could\s+be)?\s+(?:I\s+think\s+|possibly\s+|maybe\s+|probably\s+)?",
    re.IGNORECASE,
)
# "Noah Pemberton has not been in school": a name opening a clause about school.
_ABSENT = re.compile(
    r"(?:['’]s)?\s+(?:has|have|had|is|was|does|did)?(?:n['’]?t|\s+not|\s+never)?\s*(?:been\s+)?"
    r"(?:in|at|to|attended|attending|going\s+to|gone\s+to|off|out\s+of|back\s+at|missing\s+from|"
    r"left|stopped\s+(?:going\s+to|attending))\s+(?:school|lessons|us)\b",
    re.IGNORECASE,
)
# A name word starts with a capital: the lookahead skips to one (the same matches, found
# without trying the whole name pattern at each character).
_BORN_AFTER = gated(
    r"(?=[A-Z])(?P<name>" + NAME_WORD + r"(?:\s+" + NAME_WORD + r"){1,2})\s*(?:,\s*|\(\s*)?"
    r"(?i:born\b|"
    r"d\.?o\.?b\b|date\s+of\s+birth|aged?\s+\d)"
)
# A clause opens at the sentence's start, or after one of these words (gated: searched for
# only in a sentence holding one of them).
_CLAUSE_WORD = gated(r"\b(?:that|as|because|and|but|think|believe|says|said|know)\s+", re.I)
_CHILD_SEX = {k: v or "" for k, v in CHILD_NOUNS.items()}
# "Coast" of "Coast Road", "Redcar" of "Redcar Primary": not a name.
_BEFORE_PLACE = re.compile(
    r"\s+(?:Road|Street|Lane|Avenue|Close|Drive|Primary|Academy|School|College)\b"
)
# A name followed by a place word, or "Jo Rowe's daughter": not the child's name.
_NOT_THE_NAME = re.compile(
    _BEFORE_PLACE.pattern + r"|['’]s\s+(?:friend|mum|mam|mother|dad|father|brother|sister|son|"
    r"daughter|partner|nan|gran|aunt|uncle|children|kids)\b"
)
# confidence, where, sentence, name words, the sex its noun gives and that noun's span
_Candidate = tuple[
    float, int, Sentence, list[tuple[str, int, int]], str | None, tuple[int, int] | None
]


@dataclass(frozen=True)
class ChildName:
    """The child's name as read: forename, surname, middle names and aliases, each with its
    words; the words themselves (to tell the child's clauses from others'); and the sex the
    naming words give ('a girl called', 'her name is')."""

    values: tuple[Found, ...]
    names: tuple[str, ...]
    sex: Found | None


class _Names:
    def __init__(self, found: Sequence[Sentence]) -> None:
        self.ss = found
        self.best: dict[str, Found] = {}
        self.names: list[str] = []
        self.sex: Found | None = None

    def put(self, f: Found) -> None:
        if f.sentence.quoted:
            f = Found(f.name, f.value, f.start, f.end, f.sentence, round(f.confidence - 0.1, 2))
        old = self.best.get(f.name)
        if old is None or f.confidence > old.confidence:
            self.best[f.name] = f

    @staticmethod
    def at(s: Sentence, name: str, value: object, start: int, end: int, conf: float) -> Found:
        return Found(name, value, s.start + start, s.start + end, s, conf)

    def who(self, s: Sentence, pos: int) -> str | None:
        return person_before(s.text, clause_start(s.text, pos), pos, self.names)

    def name_at(self, text: str, pos: int) -> list[tuple[str, int, int]]:
        words = name_words(text, pos)
        while words and _BEFORE_PLACE.match(text, words[-1][2]):
            words.pop()  # "Coast" of "Coast Road", "Redcar" of "Redcar Primary"
        return words

    def child_name(self) -> None:
        cands: list[_Candidate] = []
        for s in self.ss:
            # Each cue is gated: a sentence without "called" or "name" is searched only for
            # the last two (what its prefilter works out for itself).
            for pattern, conf, kind in _NAME_CUES:
                for m in pattern.finditer(s.text):
                    words = self.name_at(s.text, m.end())
                    g = m.groupdict()
                    if not words or _NOT_THE_NAME.match(s.text, words[-1][2]):
                        continue
                    if kind == "full" and len(words) < 2:
                        continue  # "regarding Friday": a referral names the child in full
                    if kind == "called" and self.who(s, m.start()) not in ("child", None):
                        continue  # "her mum, who is called Jo"
                    cue = next((k for k in ("noun", "pron", "poss") if g.get(k)), None)
                    said = (m.start(cue), m.end(cue)) if cue else None
                    cands.append((conf, s.start + m.end(), s, words, _sex_of(g), said))
            for m in _BORN_AFTER.finditer(s.text):  # "Lily Grange, born 3 March 2015"
                words = self.name_at(s.text, m.start())
                if len(words) >= 2 and words[-1][2] == m.end("name"):
                    cands.append((0.5, s.start + words[0][1], s, words, None, None))
            for opens in _clause_opens(s.text):
                words = self.name_at(s.text, opens)
                if (
                    words
                    and words[0][0].lower() not in MONTH_WORDS
                    and _ABSENT.match(s.text, words[-1][2])
                ):
                    conf = 0.5 if len(words) >= 2 else 0.45
                    cands.append((conf, s.start + words[0][1], s, words, None, None))
        if not cands:
            return
        conf, _, s, words, sex, said = max(cands, key=lambda c: (c[0], -c[1]))
        first, last = words[0], words[-1]
        self.put(self.at(s, "forename", tidy_name(first[0]), first[1], first[2], conf))
        self.names.append(first[0])
        if len(words) >= 2:
            self.put(self.at(s, "surname", tidy_name(last[0]), last[1], last[2], conf))
            self.names.append(last[0])
        if len(words) >= 3:
            middle = " ".join(w for w, _, _ in words[1:-1])
            self.put(self.at(s, "middle_names", tidy_name(middle), words[1][1], words[-2][2], conf))
        if sex is not None and said is not None:
            self.sex = self.at(s, "sex", sex, said[0], said[1], 0.7)
        self.surname_and_aliases(first[0])

    def surname_and_aliases(self, forename: str) -> None:
        then = re.compile(r"\b" + re.escape(forename) + r"\s+")
        for s in self.ss:
            for m in _SURNAME_CUE.finditer(s.text):
                if self.who(s, m.start()) in ("carer", "sibling", "other", "writer"):
                    continue  # "her mum's surname is Smith"
                words = self.name_at(s.text, m.end())[:2]
                if words:
                    value = tidy_name(" ".join(w for w, _, _ in words))
                    self.put(self.at(s, "surname", value, words[0][1], words[-1][2], 0.6))
            for m in then.finditer(s.text):
                w = self.name_at(s.text, m.end())[:1]
                if w and w[0][0] != forename and not _NOT_THE_NAME.match(s.text, w[0][2]):
                    self.put(self.at(s, "surname", tidy_name(w[0][0]), w[0][1], w[0][2], 0.45))
            for m in _ALIAS_CUE.finditer(s.text):
                if self.who(s, m.start()) in ("carer", "sibling", "other", "writer"):
                    continue  # "her mum, known as Jo"
                words = self.name_at(s.text, m.end())[:2]
                value = " ".join(w for w, _, _ in words)
                if words and value != forename:
                    self.put(self.at(s, "aliases", [value], words[0][1], words[-1][2], 0.5))


def _clause_opens(text: str) -> Iterator[int]:
    """Where clauses open: the start, then after each opening word (as `^|\\b(?:that|...)\\s+`
    would find them, one search fewer for a sentence without those words)."""
    yield 0
    for m in _CLAUSE_WORD.finditer(text):
        yield m.end()


def _sex_of(groups: dict[str, str | None]) -> str | None:
    if groups.get("noun"):
        return lookup(_CHILD_SEX, groups["noun"] or "") or None
    word = (groups.get("pron") or groups.get("poss") or "").lower()
    return {"she": "F", "her": "F", "he": "M", "his": "M"}.get(word)


def find_child_name(found: Sequence[Sentence]) -> ChildName:
    """The best-cued name of the child in the sentences, with its surname and aliases."""
    n = _Names(found)
    n.child_name()
    return ChildName(tuple(n.best.values()), tuple(n.names), n.sex)
