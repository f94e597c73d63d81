"""The suite's layout: no import cycle among its modules, and the engine standing alone.

Every module of the package is parsed (not imported) and every import statement in it counts,
at module level and inside functions alike: a deferred import that closes a cycle is a cycle
that only waits for the right call order to break. `from . import x` is an edge to the
submodule `x` when there is one, else to the package (a name from its `__init__`).
"""
from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGE = "responses_conformance"
SOURCE = Path(__file__).resolve().parents[1] / "suite" / PACKAGE
ENGINE = f"{PACKAGE}.engine"


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its `__init__.py`)."""
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _known(name: str, known: dict[str, Path]) -> str | None:
    """The suite module `name` names: itself, else its nearest enclosing module; None outside."""
    parts = name.split(".")
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts) if parts else None


def _statements(body: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every statement, however deeply nested (functions, classes, if, try, with, match): an
    import is a statement, so expressions need no visit."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                yield from _statements(children)


def imports(name: str, path: Path, known: dict[str, Path]) -> dict[str, int]:
    """The suite modules `name` imports anywhere in its source, with the first line of each."""
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}

    def add(target: str | None, line: int) -> None:
        if target is not None and target.split(".")[0] == PACKAGE:
            found.setdefault(target, line)

    for node in _statements(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_known(alias.name, known), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            for alias in node.names:
                submodule = f"{base_name}.{alias.name}"
                add(submodule if submodule in known else _known(base_name, known), node.lineno)
    return found


@functools.cache
def import_graph() -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}, known


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (first module repeated at the end) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(root: str) -> None:  # Tarjan's algorithm, iteratively (no recursion limit to meet)
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    found = []
    for component in components:
        members = set(component)
        start = min(component)
        if len(component) == 1 and start not in graph[start]:
            continue
        # The shortest way back to `start` inside the component: a cycle to name.
        paths = {start: [start]}
        queue = [start]
        while queue:
            node = queue.pop(0)
            for target in sorted(graph[node]):
                if target == start:
                    found.append(paths[node] + [start])
                    queue = []
                    break
                if target in members and target not in paths:
                    paths[target] = paths[node] + [target]
                    queue.append(target)
    return found


def _where(graph: dict[str, dict[str, int]], known: dict[str, Path], source: str, target: str) -> str:
    return f"{known[source].relative_to(SOURCE.parent)}:{graph[source][target]} imports {target}"


def test_the_graph_sees_deferred_and_relative_imports() -> None:
    graph, _ = import_graph()
    assert f"{PACKAGE}.engine" in graph and f"{PACKAGE}.reference.routes" in graph
    # `from .routes import cancel, ...`: the submodules, not the package.
    assert f"{PACKAGE}.reference.routes.cancel" in graph[f"{PACKAGE}.reference.app"]
    # `from .reference import ReferenceServer` inside a method: the package, whose __init__ has it.
    assert f"{PACKAGE}.reference" in graph[f"{PACKAGE}.plugin"]


def test_the_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}, "e": {"e": 1}}
    assert sorted(cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_cycle_among_the_suites_modules() -> None:
    graph, known = import_graph()
    found = cycles(graph)
    if found:
        pytest.fail("import cycles among the suite's modules (deferred imports count too):\n" + "\n".join(
            "  " + " -> ".join(cycle) + "\n" + "\n".join(f"    {_where(graph, known, a, b)}" for a, b in zip(cycle, cycle[1:]))
            for cycle in found), pytrace=False)


def outside_the_engine(graph: dict[str, dict[str, int]]) -> list[tuple[str, str]]:
    """Each (engine module, suite module outside engine/) import."""
    def inside(name: str) -> bool:
        return name == ENGINE or name.startswith(ENGINE + ".")

    return [(source, target) for source in sorted(graph) if inside(source)
            for target in sorted(graph[source]) if not inside(target)]


def test_the_engine_check_names_an_import_of_the_rest() -> None:
    graph = {ENGINE: {f"{ENGINE}.sse": 1}, f"{ENGINE}.sse": {}, f"{ENGINE}.checker": {f"{PACKAGE}.http": 3},
             f"{PACKAGE}.http": {f"{ENGINE}.sse": 1}, f"{PACKAGE}.engineer": {}}
    assert outside_the_engine(graph) == [(f"{ENGINE}.checker", f"{PACKAGE}.http")]


def test_the_engine_imports_nothing_of_the_suite_outside_itself() -> None:
    graph, known = import_graph()
    outside = outside_the_engine(graph)
    if outside:
        pytest.fail("engine/ is sans-IO and stands alone, but:\n  "
                    + "\n  ".join(_where(graph, known, source, target) for source, target in outside), pytrace=False)
