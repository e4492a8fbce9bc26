"""The layout a form reader hands to the referral parser: lines of text and table rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextBlock:
    """A paragraph or line of text; `where` names it for a person ("paragraph 4")."""

    text: str
    where: str


@dataclass(frozen=True)
class TableBlock:
    """A table as rows of cell texts; merged cells repeat nothing, empty cells are ''."""

    rows: tuple[tuple[str, ...], ...]
    where: str


Block = TextBlock | TableBlock
