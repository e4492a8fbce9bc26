"""No value from outside becomes a LIKE pattern: every `.like()`/`.ilike()` in the tree takes a
literal; comparisons of sent values go through gateway.sqltext (exact, or escaped)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "parsers", "lost_pupil", "web")
PATTERN_METHODS = {"like", "ilike", "not_like", "not_ilike", "notlike", "notilike"}


def _pattern_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in PATTERN_METHODS
            and not (node.args and isinstance(node.args[0], ast.Constant))
        ):
            found.append((node.lineno, node.func.attr))
    return found


def test_every_like_pattern_in_the_tree_is_a_literal() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            offenders += [
                f"{path.relative_to(ROOT)}:{line} .{name}()" for line, name in _pattern_calls(tree)
            ]
    assert not offenders, "LIKE patterns built from values (use gateway.sqltext): " + ", ".join(
        offenders
    )


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("Child.surname.ilike(name)", True),
        ("Child.surname.like(name + '%')", True),
        ("AuditEntry.action.like('%.view')", False),
    ],
)
def test_the_check_tells_patterns_from_literals(source: str, flagged: bool) -> None:
    assert bool(_pattern_calls(ast.parse(source))) is flagged
