"""Names, addresses and postcodes folded to comparable forms, and the name-equivalence tables."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources

import jellyfish

# Letters NFKD leaves whole; without this 'Łukasz' and 'Lukasz' would differ.
_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"})
_NON_LETTER = re.compile(r"[^a-z\s-]")
_SPLIT = re.compile(r"[\s-]+")
# Particles that a referrer may or may not write ("da Silva" -> "Silva", "Al-Hashimi").
_PARTICLES = frozenset({"al", "el", "da", "de", "do", "dos", "das", "di", "van", "von", "le", "la"})
# Gendered endings: Polish -ski/-ska, Lithuanian -as/-aitė/-ienė, so 'Kowalska' ~ 'Kowalski'.
_GENDER_ENDINGS = (
    "iene",
    "aite",
    "ute",
    "yte",
    "ska",
    "ski",
    "cka",
    "cki",
    "dzka",
    "dzki",
    "as",
    "is",
    "ys",
    "us",
)


@lru_cache(maxsize=200_000)
def fold(raw: str) -> str:
    """'  Zoë O'Neil-Smith' -> 'zoe oneil-smith': lower case, no accents or punctuation."""
    if not raw:
        return ""
    text = raw.lower().translate(_FOLD).replace("'", "").replace("’", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = _NON_LETTER.sub(" ", text)
    return " ".join(text.split())


@lru_cache(maxsize=200_000)
def tokens(raw: str) -> tuple[str, ...]:
    """Name parts: 'Lily-Mae' -> ('lily', 'mae'); 'Costa Ferreira' -> ('costa', 'ferreira')."""
    return tuple(t for t in _SPLIT.split(fold(raw)) if t)


@lru_cache(maxsize=200_000)
def joined(raw: str) -> str:
    """The whole name run together: 'Lily-Mae', 'Lily Mae' and 'Lilymae' -> 'lilymae'."""
    return "".join(tokens(raw))


@lru_cache(maxsize=200_000)
def core_tokens(raw: str) -> tuple[str, ...]:
    """Name parts without particles ('da Silva' -> ('silva',)); the name itself if all particles."""
    parts = tokens(raw)
    kept = tuple(t for t in parts if t not in _PARTICLES)
    return kept or parts


@lru_cache(maxsize=200_000)
def surname_stem(part: str) -> str:
    """A surname part without its gendered ending, when the rest is long enough to be a stem."""
    for end in _GENDER_ENDINGS:
        if part.endswith(end) and len(part) - len(end) >= 4:
            return part[: -len(end)]
    return part


@lru_cache(maxsize=200_000)
def phonetic(part: str) -> str:
    """A sound key (metaphone) for blocking and comparison."""
    return jellyfish.metaphone(part)[:6] or part[:4]


def _load_groups(name: str) -> dict[str, frozenset[int]]:
    text = resources.files("gateway.matching.data").joinpath(name).read_text("utf-8")
    groups: dict[str, set[int]] = {}
    for gid, row in enumerate(csv.reader(io.StringIO(text))):
        if gid == 0 or not row:
            continue
        names = {joined(row[0]), *(joined(v) for v in (row[1] if len(row) > 1 else "").split())}
        for n in names - {""}:
            groups.setdefault(n, set()).add(gid)
    return {k: frozenset(v) for k, v in groups.items()}


@cache
def nickname_groups() -> dict[str, frozenset[int]]:
    """Name -> ids of the nickname / other-language-form groups it belongs to."""
    return _load_groups("nicknames.csv")


@cache
def variant_groups() -> dict[str, frozenset[int]]:
    """Name -> ids of its spelling / transliteration groups."""
    return _load_groups("name_variants.csv")


@lru_cache(maxsize=200_000)
def canonical_variant(part: str) -> str:
    """One spelling for each transliteration group ('mohamed' -> 'muhammad'), else the part."""
    ids = variant_groups().get(part)
    if not ids:
        return part
    return f"#v{min(ids)}"


@lru_cache(maxsize=500_000)
def nickname_equivalent(a: str, b: str) -> bool:
    """True when a and b are a formal name and its short form, or two forms of one name."""
    ga = nickname_groups().get(a)
    gb = nickname_groups().get(b)
    if ga and gb and ga & gb:
        return True
    va = variant_groups().get(a)
    vb = variant_groups().get(b)
    return bool(va and vb and va & vb)


_STREET_WORDS = {
    "rd": "road",
    "st": "street",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "dr": "drive",
    "cl": "close",
    "ct": "court",
    "cres": "crescent",
    "cr": "crescent",
    "gdns": "gardens",
    "gr": "grove",
    "pl": "place",
    "sq": "square",
    "tce": "terrace",
    "terr": "terrace",
    "pk": "park",
    "wy": "way",
    "hl": "hill",
}


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")


def address_key(raw: str) -> str:
    """'Flat 2, 14 Queen St.' -> 'flat 2 14 queen street' for fuzzy comparison."""
    words = _NOT_ALNUM.sub(" ", (raw or "").lower()).split()
    return " ".join(_STREET_WORDS.get(w, w) for w in words)


def house_number(addr_key: str) -> str:
    """The house number of a folded address (after any 'flat n'), or ''."""
    words = addr_key.split()
    for i, w in enumerate(words):
        if w[0].isdigit() and not (i > 0 and words[i - 1] in ("flat", "apartment", "unit")):
            return w
    return ""


def postcode_key(raw: str) -> str:
    """Upper case, no spaces: 'ts10 1aa' -> 'TS101AA' (any country's postcode)."""
    return _SPACE.sub("", raw or "").upper()
