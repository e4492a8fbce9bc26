"""The people around the child as prose names them: carers, siblings, and the writer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from parsers.identifiers import find_emails, find_phones, parse_person_name
from parsers.phrases import (
    CARER_NOUN_RE,
    CARER_NOUNS,
    REFERRER_ROLES,
    SIBLING_NOUNS,
    alternation,
    lookup,
)
from parsers.prefilter import gated
from parsers.sentences import NAME_WORD, Found, Sentence, name_words

_POSS = (
    r"(?:her|his|their|the\s+(?:child|girl|boy|kid|lad|lass|pupil)['’]s|(?-i:"
    + NAME_WORD
    + r")['’]s)"
)
_CARER = gated(
    r"\b(?P<poss>" + _POSS + r"|the)\s+(?P<rel>" + CARER_NOUN_RE + r")\b"
    r"(?!['’]s\s+(?:partner|boyfriend|girlfriend|husband|wife|friend|sister|brother|mum|dad))",
    re.IGNORECASE,
)
# What may stand between "her mum" and her name: "her mum, Jo Rowe", "her mum is called Jo".
_CARER_NAME = re.compile(
    r"(?:\s*,\s*|\s*\(\s*|\s+(?:who\s+is\s+|who's\s+|is\s+)?(?:called|named)\s+|['’]s\s+name\s+is\s+|"
    r"\s+is\s+(?=\S+\s+(?-i:[A-Z]))|\s+(?=(?-i:[A-Z])))",
    re.IGNORECASE,
)
_LIVES_WITH = gated(
    r"\b(?:lives?|living|stays?|staying)\s+with\s+(?:(?:her|his|their|the)\s+)?(?P<rel>"
    + CARER_NOUN_RE
    + r")\b(?:\s+(?:and|&)\s+(?:(?:her|his|their)\s+)?(?P<rel2>"
    + CARER_NOUN_RE
    + r")\b)?",
    re.IGNORECASE,
)
_SIB_WORDS = alternation([*SIBLING_NOUNS, *(f"{w}s" for w in SIBLING_NOUNS)])
_SIBLING = gated(
    r"\b(?P<poss>" + _POSS + r"|a|an|and|two|three|four)\s+"
    r"(?:(?:little|big|older|younger|elder|baby|twin)\s+)?(?P<rel>" + _SIB_WORDS + r")\b"
    r"(?P<gap>\s*,\s*|\s*\(\s*|\s+(?:called|named|is\s+called)\s+|\s+)?",
    re.IGNORECASE,
)
_MY_CONTACT = re.compile(
    r"\b(?:(?:call|ring|phone|text|contact|reach|email|e-mail)\s+me|get\s+me|i'?m|i\s+am)\s+(?:on|at)\s+$|"
    r"\b(?:my|(?:the\s+)?(?:caller|referrer)['’]?s?)\s+(?:mobile|number|phone|phone\s+number|"
    r"mobile\s+number|contact\s+number|e-?mail|e-?mail\s+address)\s*(?:is\s+|:\s*)?$",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"(?:.*[.!?]\s+)?(?:many\s+)?(?:thanks|thank\s+you|cheers|regards|best\s+wishes|kind\s+regards)"
    r"[,!.]?\s+(?:from\s+)?",
    re.IGNORECASE,
)
_MY_NAME = gated(r"\bmy\s+name(?:'s|’s|\s+is)\s+", re.IGNORECASE)
_ROLE = gated(
    r"\bI(?:'m|’m|\s+am)\s+(?:(?:her|his|their|the\s+(?:child|family|girl|boy|kids)['’]s)\s+|an?\s+|"
    r"the\s+)?(?P<role>"
    + alternation([*REFERRER_ROLES, *CARER_NOUNS])
    + r")\b|\bI\s+live\s+next\s+door",
    re.IGNORECASE,
)


def _relationship(word: str) -> str:
    return lookup(CARER_NOUNS, word) or lookup(SIBLING_NOUNS, word.rstrip("s")) or word.title()


def _name_after(text: str, pos: int) -> tuple[str, int, int] | None:
    words = name_words(text, pos)
    if not words:
        return None
    return " ".join(w for w, _, _ in words), words[0][1], words[-1][2]


def find_carers(found: Iterable[Sentence], child_names: Sequence[str]) -> list[Found]:
    """'her mum, Jo Rowe', 'lives with her dad': one record per carer, with phone or email."""
    out: list[Found] = []
    for s in found:
        conf = 0.45 if s.quoted else 0.55
        here: list[Found] = []
        for m in _CARER.finditer(s.text):
            rec: dict[str, Any] = {"relationship": _relationship(m.group("rel"))}
            end = m.end()
            gap = _CARER_NAME.match(s.text, m.end())
            named = _name_after(s.text, gap.end()) if gap else None
            if named is not None and named[0] not in child_names:
                name = parse_person_name(named[0])
                bare_is = gap is not None and re.fullmatch(r"\s+is\s+", gap.group(0)) is not None
                if name is not None and (name.surname or not bare_is):  # "her mum is Polish"
                    rec["name"] = name.full
                    end = named[2]
            here.append(Found("carer", rec, s.start + m.start(), s.start + end, s, conf))
        for m in _LIVES_WITH.finditer(s.text):
            for group in ("rel", "rel2"):
                if m.group(group) is None:
                    continue
                rel = _relationship(m.group(group))
                same = next((f for f in here if f.value["relationship"] == rel), None)
                if same is not None:
                    same.value["lives_with"] = True
                    continue
                rec = {"relationship": rel, "lives_with": True}
                here.append(
                    Found("carer", rec, s.start + m.start(group), s.start + m.end(group), s, conf)
                )
        _contacts(s, here)
        out.extend(here)
    return _merge(out)


def _contacts(s: Sentence, here: list[Found]) -> None:
    """A phone number or email after a carer in the sentence is theirs, unless the writer's."""
    if not here:
        return
    for value, start, _ in [*find_phones(s.text), *find_emails(s.text)]:
        if _MY_CONTACT.search(s.text[max(0, start - 40) : start]):
            continue
        owner = next((f for f in reversed(here) if f.start - s.start <= start), None)
        if owner is not None:
            owner.value.setdefault("email" if "@" in value else "phone", value)


def _merge(found: list[Found]) -> list[Found]:
    """One record per carer: 'her mum, Jo Rowe' and later 'her mum' are the same person."""
    out: list[Found] = []
    for f in found:
        same = next(
            (o for o in out if o.value["relationship"] == f.value["relationship"]
             and (o.value.get("name") in (None, f.value.get("name")) or "name" not in f.value)),
            None,
        )  # fmt: skip
        if same is None:
            out.append(f)
            continue
        for k, v in f.value.items():
            same.value.setdefault(k, v)
    return out


def find_siblings(found: Iterable[Sentence], child_names: Sequence[str]) -> list[Found]:
    """'her brother Sam', 'two sisters, Amy and Lou': one record per sibling named or not."""
    out: list[Found] = []
    for s in found:
        conf = 0.45 if s.quoted else 0.55
        for m in _SIBLING.finditer(s.text):
            rel = _relationship(m.group("rel").lower())
            names = _names_list(s.text, m.end()) if m.group("gap") else []
            names = [n for n in names if n[0] not in child_names]
            if not names:
                rec: dict[str, Any] = {"relationship": rel}
                out.append(
                    Found("sibling", rec, s.start + m.start("rel"), s.start + m.end("rel"), s, conf)
                )
            for name, ns, ne in names:
                rec = {"name": name, "relationship": rel}
                out.append(Found("sibling", rec, s.start + ns, s.start + ne, s, conf))
    return out


def _names_list(text: str, pos: int) -> list[tuple[str, int, int]]:
    """'Sam', 'Sam Rowe', 'Amy and Lou', 'Amy, Lou and Kai' starting at pos."""
    out: list[tuple[str, int, int]] = []
    at = pos
    while len(out) < 6:
        got = _name_after(text, at)
        if got is None:
            break
        out.append(got)
        sep = re.match(r"\s*(?:,|and|&)\s*", text[got[2] :])
        if sep is None:
            break
        at = got[2] + sep.end()
    return out


def find_writer(found: Iterable[Sentence]) -> list[Found]:
    """What the writer says of themself: 'my name is Jo', 'call me on...', 'I'm a neighbour'."""
    out: list[Found] = []
    for s in found:
        conf = 0.45 if s.quoted else 0.55
        for m in _MY_NAME.finditer(s.text):
            got = _name_after(s.text, m.end())
            if got is not None:
                out.append(
                    Found("referrer_name", got[0], s.start + got[1], s.start + got[2], s, conf)
                )
        for value, start, end in [*find_phones(s.text), *find_emails(s.text)]:
            if _MY_CONTACT.search(s.text[max(0, start - 40) : start]):
                key = "referrer_email" if "@" in value else "referrer_phone"
                out.append(Found(key, value, s.start + start, s.start + end, s, conf))
        thanks = _THANKS.match(s.text)
        got = _name_after(s.text, thanks.end()) if thanks is not None else None
        if got is not None and not s.text[got[2] :].strip(" .!"):  # "Thanks, Pat"
            out.append(Found("referrer_name", got[0], s.start + got[1], s.start + got[2], s, 0.5))
        for m in _ROLE.finditer(s.text):
            word = m.group("role")
            role = (
                (lookup(REFERRER_ROLES, word) or lookup(CARER_NOUNS, word)) if word else "Neighbour"
            )
            out.append(
                Found("referrer_role", role, s.start + m.start(), s.start + m.end(), s, conf)
            )
    return out
