"""Comparing stored text with text someone sent us: exact after normalising, never a pattern.

A value from outside (a form, an email header, a partner's document, a CTF) must never
become a `LIKE` pattern: `%` and `_` in it would match other people's records. Every
comparison of such a value goes through these functions; `tests/test_no_like_patterns.py`
fails if a `.like()`/`.ilike()` call takes anything but a literal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_


def normal_text(value: str) -> str:
    """The form both sides are compared in: trimmed, inner spaces collapsed, lower case."""
    return " ".join(value.split()).lower()


def same_text(column: Any, value: str) -> ColumnElement[bool]:
    """The column equals the value, ignoring case and surrounding spaces."""
    return func.lower(func.trim(column)) == normal_text(value)


def same_first_word(column: Any, value: str) -> ColumnElement[bool]:
    """The column is the value, or starts with it as a whole word ("Amy" matches "Amy Jo").

    The prefix is escaped (`autoescape`), so `%` or `_` in the value match only themselves.
    """
    normal = normal_text(value)
    lowered = func.lower(func.trim(column))
    return or_(lowered == normal, lowered.startswith(normal + " ", autoescape=True))


def same_address(column: Any, address: str) -> ColumnElement[bool]:
    """An email address column equal to this address (addresses compare case-insensitively)."""
    return and_(column.is_not(None), func.lower(func.trim(column)) == address.strip().lower())
