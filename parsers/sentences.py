"""Sentences of a referral's unlabelled text, offsets kept, and who a clause is about."""

from __future__ import annotations

import itertools
import re
import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parsers.form_lines import ProseLine
from parsers.phrases import (
    CARER_NOUNS,
    CHILD_NOUNS,
    MONTH_WORDS,
    NOT_NAMES,
    OTHER_PEOPLE,
    SIBLING_NOUNS,
)

#: Unlabelled text read at most; a long referral has a few thousand characters of it.
MAX_PROSE_CHARS = 100_000
MAX_SENTENCE_CHARS = 2_000

# A name as people write one: Maisie, Lily-Mae, O'Neill, McAllister, MAISIE.
NAME_WORD = r"(?:(?:Mc|Mac|O['’]|D['’])?[A-Z][a-z]+(?:-[A-Z][a-z]+)*|[A-Z]{2,}(?:-[A-Z]{2,})?)"
_NAME_WORD = re.compile(NAME_WORD + r"(?:['’]s\b)?")
_PARTICLE = re.compile(r"(?:(?:van|von|der|den|de|da|di|del|la|le|du|bin|al|el|ap)\s+)+")
_ABBREVIATIONS = MONTH_WORDS | {
    "mr", "mrs", "ms", "mx", "dr", "st", "no", "nos", "approx", "tel", "mob", "ref", "dept", "rd",
    "ave", "yr", "yrs", "etc", "eg", "ie", "vs",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+")
_CLAUSE_BREAK = re.compile(
    r"[,;:()\[\]]|\s[-–—]\s|\b(?:and|but|because|although|though|while|whereas|so|as|then)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_LINE_JOIN = re.compile(r"[ \t]*\n[ \t>]*")
_WORD_BEFORE_STOP = re.compile(r"([A-Za-z]+)[.!?]+[\"'”’)\]]*\s+$")
_POSSESSIVE_END = re.compile(r"['’]s$")
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Sentence:
    """One sentence: offsets into the draft's text and its text (line breaks as spaces)."""

    start: int
    end: int
    text: str
    where: str
    quoted: bool


@dataclass(frozen=True)
class Found:
    """A value read from a sentence, the words it was read from and how sure the reading is."""

    name: str
    value: Any
    start: int
    end: int
    sentence: Sentence
    confidence: float


def sentences(
    text: str, lines: Sequence[ProseLine], *, blocks: bool, deadline: float
) -> tuple[list[Sentence], list[str]]:
    """The sentences of the prose lines, and what was left unread (past the caps).

    A wrapped line runs on into the next unless `blocks` (HTML and .docx paragraphs).
    """
    paragraphs: list[list[ProseLine]] = []
    defects: list[str] = []
    budget = MAX_PROSE_CHARS
    for line in sorted(lines, key=lambda p: p.start):
        if budget <= 0 or len(line.text) > budget:
            defects.append(f"only the first {MAX_PROSE_CHARS} characters of prose were read")
            if budget <= 0:
                break
            line = line._replace(text=line.text[:budget], end=line.start + budget)
        budget -= len(line.text)
        prev = paragraphs[-1][-1] if paragraphs else None
        joins = (
            prev is not None
            and not blocks
            and prev.quoted == line.quoted
            and _LINE_JOIN.fullmatch(text[prev.end : line.start]) is not None
        )
        if joins:
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    out: list[Sentence] = []
    for para in paragraphs:
        if time.monotonic() > deadline:
            defects.append("prose reading stopped at the time limit; the rest was skipped")
            break
        start, end = para[0].start, para[-1].end
        buf = [" "] * (end - start)
        for line in para:
            buf[line.start - start : line.end - start] = text[line.start : line.end]
        flat = "".join(buf).replace("\n", " ").replace("\t", " ")
        out.extend(_split(flat, start, para))
    return out, defects


def _split(flat: str, base: int, para: list[ProseLine]) -> list[Sentence]:
    cuts = [0]
    for m in _BOUNDARY.finditer(flat):
        before = _WORD_BEFORE_STOP.search(flat[max(0, m.start() - 40) : m.end()])
        word = before.group(1).lower() if before else ""
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha() and word != "i"):
            continue  # "St. Hilda's", "J. Rowe"
        cuts.append(m.end())
    cuts.append(len(flat))
    out = []
    starts = [p.start for p in para]  # in order: the lines were sorted by where they start
    for a, b in itertools.pairwise(cuts):
        piece = flat[a:b]
        lead = len(piece) - len(piece.lstrip())
        body = piece.strip()
        at = base + a + lead
        while body:  # a run-on without full stops is read in pieces, cut at a space
            cut = (
                len(body)
                if len(body) <= MAX_SENTENCE_CHARS
                else body.rfind(" ", 0, MAX_SENTENCE_CHARS)
            )
            cut = cut if cut > 0 else MAX_SENTENCE_CHARS
            chunk = body[:cut].rstrip()
            # The last line starting at or before the sentence (a bisection, not a scan of
            # the paragraph's lines for each of its sentences).
            line = para[max(bisect_right(starts, at) - 1, 0)]
            out.append(Sentence(at, at + len(chunk), chunk, line.where, line.quoted))
            rest = body[cut:]
            at += cut + len(rest) - len(rest.lstrip())
            body = rest.lstrip()
    return out


def clause_start(text: str, pos: int) -> int:
    """Where the clause holding `pos` begins (after a comma, 'and', 'but'...)."""
    last = 0
    for m in _CLAUSE_BREAK.finditer(text, 0, pos):
        last = m.end()
    return last


def clause_end(text: str, pos: int) -> int:
    """Where the clause holding `pos` ends."""
    m = _CLAUSE_BREAK.search(text, pos)
    return m.start() if m else len(text)


# "they live at", "the family moved": the child's household speaks for the child.
_CHILD_HOUSEHOLD = frozenset(
    {"she", "he", "she's", "he's", "they", "they're", "them", "family", "children", "kids"}
)
# "lives with his dad and his nan at ...": a person after "with" is the child's company.
_COMPANY = re.compile(r"\bwith\s+(?:[\w'’-]+\s+){0,5}$", re.IGNORECASE)
_WRITER = frozenset({"i", "i'm", "i've", "i'd", "me", "my", "we", "our", "us", "myself", "we're"})
_CHILD_WORDS = frozenset(w.split()[-1] for w in CHILD_NOUNS)
_CARER_WORDS = frozenset(w.split()[-1] for w in CARER_NOUNS)
_SIBLING_WORDS = frozenset(
    {w.split()[-1] for w in SIBLING_NOUNS} | {w.split()[-1] + "s" for w in SIBLING_NOUNS}
)


def person_before(text: str, start: int, end: int, child_names: Sequence[str] = ()) -> str | None:
    """Who the words text[start:end] last speak of: child, carer, sibling, writer, other or None.

    "lives with her mum at ..." still speaks of the child: a person after "with" is company.
    """
    words = list(_WORD.finditer(text, start, end))
    names = {n.lower() for n in child_names}
    for i in range(len(words) - 1, -1, -1):
        w = words[i].group(0).lower().replace("’", "'")
        w = w[:-2] if w.endswith("'s") else w
        kind = None
        if w in _CHILD_WORDS or w in names or w in _CHILD_HOUSEHOLD:
            kind = "child"
        elif w in _CARER_WORDS:
            kind = "carer"
        elif w in _SIBLING_WORDS:
            kind = "sibling"
        elif w in _WRITER:
            kind = "writer"
        elif w in OTHER_PEOPLE:
            kind = "other"
        if kind is None:
            continue
        if kind != "child" and _COMPANY.search(
            text[max(0, words[i].start() - 60) : words[i].start()]
        ):
            continue
        return kind
    return None


def name_words(text: str, pos: int, *, most: int = 3) -> list[tuple[str, int, int]]:
    """The name words that start at `pos` (particles join a surname): [(word, start, end)]."""
    out: list[tuple[str, int, int]] = []
    at = pos
    while len(out) < most:
        particle = _PARTICLE.match(text, at) if out else None
        m = _NAME_WORD.match(text, particle.end() if particle else at)
        if m is None or not is_name(m.group(0)):
            break
        word = m.group(0)
        possessive = _POSSESSIVE_END.search(word) is not None
        if possessive:
            word = word[:-2]
        start = particle.start() if particle else m.start()
        value = " ".join((text[start : m.start()] + word).split())
        out.append((value, start, m.start() + len(word)))
        if possessive:
            break
        nxt = _SPACES.match(text, m.end())
        if nxt is None:
            break
        at = nxt.end()
    return out


def is_name(word: str) -> bool:
    """Not a word that only looks like a name because it is capitalised."""
    low = word.lower().replace("’", "'")
    low = low[:-2] if low.endswith("'s") else low
    return low not in NOT_NAMES and len(low) >= 2
