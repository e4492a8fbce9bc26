"""Finding a child's name where it must never be (URLs, logs, mail headers, environment):
the names a test database holds, and a search for them in text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.models.child import Child, Sibling
from lost_pupil.models import LostPupil

#: Shorter name parts ("Ben", "Ava") are too likely to be a piece of a word or a path.
MIN_PART = 4


def name_parts(names: Iterable[str | None]) -> set[str]:
    """Each part of each name, lower-cased, long enough to mean something when found."""
    parts: set[str] = set()
    for name in names:
        parts |= {p.lower() for p in re.findall(r"[^\W\d_]+", name or "") if len(p) >= MIN_PART}
    return parts


def children_named_in(engine: Engine) -> set[str]:
    """The parts of every child's name the database holds: cases' children, siblings and
    lost pupils."""
    with Session(engine) as s:
        rows: list[str | None] = []
        for forenames, surname, middle in s.execute(
            select(Child.forenames, Child.surname, Child.middle_names)
        ):
            rows += [forenames, surname, middle]
        rows += list(s.execute(select(Sibling.name)).scalars())
        for lp_forename, lp_surname in s.execute(select(LostPupil.forename, LostPupil.surname)):
            rows += [lp_forename, lp_surname]
    return name_parts(rows)


def found_in(text: str, parts: Iterable[str]) -> list[str]:
    """The name parts that appear in `text` as words (URL-decoded, any case)."""
    plain = unquote_plus(text).lower()
    return sorted(p for p in parts if re.search(rf"(?<![^\W\d_]){re.escape(p)}(?![^\W\d_])", plain))
