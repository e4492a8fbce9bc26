"""Form labels into referral fields, through the synonym table in parsers/data/labels.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

ENTITIES = ("child", "carer", "sibling", "referrer")
# A school-details section holds these; its phone or address are the school's, not the child's.
_SCHOOL_SECTION_FIELDS = frozenset(
    {"school", "date_last_attended", "date_last_seen", "year_group", "upn", "new_school"}
)
_FILLER = re.compile(r"\b(if known|if applicable|if any|optional|please specify|please state)\b")
_POSSESSIVE = re.compile(r"(?<=\w)'s\b|(?<=s)'")
_NUMBERING = re.compile(r"^\s*(?:q?\d{1,2}[.)]|[a-h]\))\s+")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_PARENS = re.compile(r"\([^)]*\)")


@dataclass(frozen=True)
class LabelMatch:
    """Whose field a label names (child, carer, sibling, referrer) and which one."""

    entity: str
    attr: str
    relationship: str | None = None


@dataclass(frozen=True)
class _Tables:
    index: dict[str, dict[str, str]]
    prefixes: tuple[tuple[str, str], ...]
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    relationships: dict[str, str]
    #: Per section, one pattern for " key " anywhere in a padded phrase (any of its keys).
    section_keys: tuple[tuple[str, re.Pattern[str]], ...] = ()


@cache
def _tables() -> _Tables:
    raw = tomllib.loads(resources.files("parsers.data").joinpath("labels.toml").read_text("utf-8"))
    index: dict[str, dict[str, str]] = {}
    for entity in ENTITIES:
        for attr, phrases in raw[entity].items():
            for phrase in phrases:
                index.setdefault(normalise_label(phrase), {})[entity] = attr
    prefixes = sorted(
        ((normalise_label(p), entity) for entity, ps in raw["prefixes"].items() for p in ps),
        key=lambda pe: -len(pe[0]),
    )
    order = ("referrer", "sibling", "carer", "school", "child")
    sections = tuple(
        (name, tuple(normalise_label(k) for k in raw["sections"][name])) for name in order
    )
    relationships = {
        normalise_label(word): entity
        for entity, words in raw["relationships"].items()
        for word in words
    }
    section_keys = tuple(
        (name, re.compile(" (?:" + "|".join(map(re.escape, keys)) + ") "))
        for name, keys in sections
    )
    return _Tables(index, tuple(prefixes), sections, relationships, section_keys)


def normalise_label(label: str) -> str:
    """'Child’s D.O.B.*' -> 'child d o b': lower case, possessives and punctuation dropped."""
    text = label.lower().replace("\u2019", "'").replace("`", "'")
    text = _POSSESSIVE.sub("", text)
    text = _NUMBERING.sub("", text)
    text = _NOT_WORD.sub(" ", text)
    return " ".join(text.split())


def _lookup(phrase: str, section: str | None) -> LabelMatch | None:
    tables = _tables()
    rel = tables.relationships.get(phrase)
    if rel is not None:
        return LabelMatch(rel, "name", phrase)
    cands = tables.index.get(phrase)
    if cands:
        if section == "school":
            attr = cands.get("child")
            if phrase in ("name", "establishment") or attr == "school":
                return LabelMatch("child", "school")
            if attr is None or (len(cands) > 1 and attr not in _SCHOOL_SECTION_FIELDS):
                return None  # the school's own address or phone, not the child's
            return LabelMatch("child", attr)
        if section in cands:
            return LabelMatch(section, cands[section])
        if len(cands) == 1:
            ((entity, attr),) = cands.items()
            return LabelMatch(entity, attr)
        if "child" in cands and section in (None, "child"):
            return LabelMatch("child", cands["child"])
        return None
    for prefix, entity in tables.prefixes:
        rest = None
        if phrase.startswith(prefix + " "):
            rest = phrase[len(prefix) + 1 :]
        elif phrase.endswith(" " + prefix):
            rest = phrase[: -len(prefix) - 1]
        if rest:
            attr = tables.index.get(rest, {}).get(entity)
            if attr is not None:
                return LabelMatch(entity, attr)
    return None


@lru_cache(maxsize=8192)  # forms repeat the same few hundred labels; the answer is immutable
def resolve_label(label: str, section: str | None = None) -> LabelMatch | None:
    """The field a label names, read in the section it stands in; None for an unknown label."""
    if len(label) > 80:
        return None
    no_parens = _PARENS.sub(" ", label)
    for candidate in (no_parens, label):
        phrase = normalise_label(candidate)
        if not phrase:
            continue
        found = _lookup(phrase, section)
        if found is None:
            shorter = " ".join(_FILLER.sub(" ", phrase).split())
            if shorter != phrase and shorter:
                found = _lookup(shorter, section)
        if found is not None:
            return found
    return None


@cache
def _action_headers() -> dict[str, str]:
    raw = tomllib.loads(resources.files("parsers.data").joinpath("labels.toml").read_text("utf-8"))
    return {normalise_label(p): attr for attr, phrases in raw["action"].items() for p in phrases}


def action_header(label: str) -> str | None:
    """The column of an actions-taken table a header names: date, action, outcome or by."""
    if len(label) > 80:
        return None
    return _action_headers().get(normalise_label(_PARENS.sub(" ", label)))


@lru_cache(maxsize=8192)  # asked of every short line of a message; the answer is immutable
def section_of(heading: str) -> str | None:
    """The section a heading line starts (child, carer, sibling, referrer, school) or None."""
    phrase = normalise_label(_PARENS.sub(" ", heading))
    if not phrase or len(phrase) > 60:
        return None
    padded = f" {phrase} "
    for name, keys in _tables().section_keys:
        if keys.search(padded):  # " key " somewhere in the phrase, for any of the keys
            return name
    return None
