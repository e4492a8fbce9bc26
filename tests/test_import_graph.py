"""The import graph runs one way: import-linter's contracts hold; no modules import in a circle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "lost_pupil", "parsers", "web")

#: Circles known and owned elsewhere, each to be broken by its owner; the test fails when one
#: is gone too, so this list only shrinks.
KNOWN_CYCLES: set[frozenset[str]] = set()


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of two or more modules that reach one another (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    imports = graph.find_modules_directly_imported_by
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(imports(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def describe(graph: grimp.ImportGraph, group: list[str]) -> str:
    members = set(group)
    lines = [f"cycle among {len(group)} modules:"]
    for importer in group:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            details = graph.get_import_details(importer=importer, imported=imported)
            at = ", ".join(str(d["line_number"]) for d in details)
            lines.append(f"  {importer} -> {imported} (line {at})")
    return "\n".join(lines)


def test_no_module_imports_in_a_circle() -> None:
    # grimp sees every import statement, a function's deferred ones included: moving an
    # import into a function hides a circle from Python, not from this test.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    groups = strongly_connected(graph)
    new = [g for g in groups if frozenset(g) not in KNOWN_CYCLES]
    assert not new, "\n\n".join(describe(graph, g) for g in new)
    gone = KNOWN_CYCLES - {frozenset(g) for g in groups}
    assert not gone, f"broken already, take them off KNOWN_CYCLES: {sorted(map(sorted, gone))}"


def test_the_finder_sees_a_circle_through_a_deferred_import(tmp_path: Path) -> None:
    pkg = tmp_path / "circle_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circle_pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from circle_pkg import c\n")
    (pkg / "c.py").write_text("import circle_pkg.a\n")
    (pkg / "d.py").write_text("from circle_pkg import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("circle_pkg", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert strongly_connected(graph) == [["circle_pkg.a", "circle_pkg.b", "circle_pkg.c"]]


def test_import_linter_contracts_are_kept() -> None:
    # The contracts live in pyproject.toml: web -> gateway -> lost_pupil -> parsers, parsers
    # importing nothing of ours, and no circles among sibling packages.
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
