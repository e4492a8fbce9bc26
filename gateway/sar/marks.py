"""How the archive marks what needs a person's judgement: third-party data to review, free
text to search for third parties, and what was redacted."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

#: What replaces an anonymous referrer's name, email and phone, wherever they appear.
REDACTED = "[redacted: the referrer asked not to be named]"


class Category(enum.StrEnum):
    """Whose personal data a value is, when it is not the child's."""

    REFERRER = "referrer"
    OTHER_CHILD = "other_child"
    CARER = "carer"
    STAFF = "staff"
    CONTACT = "contact"
    CORRESPONDENT = "correspondent"


CATEGORY_WORDS = {
    Category.REFERRER: "a referrer (the person who told us about the child)",
    Category.OTHER_CHILD: "another child (a sibling, or a child whose record was not this one)",
    Category.CARER: "a parent or carer",
    Category.STAFF: "a member of staff (an officer or manager named as doing something)",
    Category.CONTACT: "a named contact at an agency or another authority",
    Category.CORRESPONDENT: "someone who wrote to us or whom we wrote to",
}


@dataclass(frozen=True)
class Flag:
    """A whole value that is third-party personal data: marked for redaction review."""

    value: Any
    category: Category


@dataclass(frozen=True)
class Text:
    """Free text (a message, a letter, a note): searched for the third parties we know of."""

    text: str


@dataclass(frozen=True)
class Redacted:
    """A value withheld by default (an anonymous referrer's details)."""

    category: Category = Category.REFERRER


def flag(value: Any, category: Category) -> Any:
    """`value` marked for review; nothing to mark when there is no value."""
    if value in (None, "", [], {}):
        return value
    return Flag(value, category)
