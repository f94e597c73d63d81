"""A check is declared once, where its findings are made (registry.py). These tests read the
suite's code and hold that together: every id a finding names is declared, exactly once, in a
module that makes it; every declared id is made by its module and has cases; and the engine
writes no set of check ids by hand (every such set is derived from the declarations)."""
from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

from responses_conformance.engine import registry

SUITE = Path(registry.__file__).resolve().parents[1]
ENGINE = SUITE / "engine"
CASES = Path(__file__).resolve().parent / "cases"
DECLARATIONS = ("check", "declare")


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SUITE.rglob("*.py"))]


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _first_literal(node: ast.Call) -> str | None:
    first = node.args[0] if node.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and registry.CHECK_ID.match(first.value):
        return first.value
    return None


def _declarations(tree: ast.Module) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _called(n) in DECLARATIONS and _first_literal(n)]


def _inside(calls: list[ast.Call]) -> set[int]:
    """The nodes within these calls (a declaration's own strings are not a use of the id)."""
    return {id(child) for call in calls for child in ast.walk(call)}


def _module_name(path: Path) -> str:
    return ".".join(("responses_conformance", *path.relative_to(SUITE).with_suffix("").parts))


def test_every_check_id_a_finding_names_is_declared() -> None:
    named: dict[str, str] = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) in ("Finding", "run") and _first_literal(node):
                named.setdefault(_first_literal(node), f"{path.relative_to(SUITE)}:{node.lineno}")
    # Most checks are named literally where they fire; far fewer would mean the scan broke.
    assert len(named) >= len(registry.CHECKS) // 2, f"only {len(named)} check ids found: the scan is broken"
    unknown = {check: where for check, where in named.items() if check not in registry.BY_ID}
    assert not unknown, f"check ids used in code but never declared (registry.declare or @check): {unknown}"


def test_every_check_is_declared_exactly_once_in_a_listed_module() -> None:
    counts: Counter[str] = Counter()
    declaring: set[str] = set()
    for path, tree in _modules():
        calls = _declarations(tree)
        counts.update(_first_literal(call) for call in calls)
        if calls:
            declaring.add(_module_name(path))
    twice = sorted(check for check, count in counts.items() if count > 1)
    assert not twice, f"checks declared more than once: {twice}"
    assert set(counts) == set(registry.BY_ID), "the registry holds exactly the declarations in the code"
    listed = {f"responses_conformance.engine.{name}" for name in registry.MODULES}
    assert declaring == listed, (f"modules that declare checks, not in registry.MODULES: {sorted(declaring - listed)}; "
                                 f"listed but declaring none: {sorted(listed - declaring)}")


def test_every_check_is_made_where_it_is_declared() -> None:
    """The declaring module names the id outside its declaration (a Finding it yields, or the
    variable its findings use): the row lives beside the code that makes the finding."""
    trees = dict(_modules())
    made: dict[str, set[str]] = {}
    for path, tree in trees.items():
        skip = _inside(_declarations(tree))
        made[_module_name(path)] = {n.value for n in ast.walk(tree) if id(n) not in skip
                                    and isinstance(n, ast.Constant) and isinstance(n.value, str)}
    elsewhere = sorted(f"{c.id} (declared in {c.module})" for c in registry.CHECKS if c.id not in made[c.module])
    assert not elsewhere, f"checks whose declaring module never makes their finding: {elsewhere}"


def test_the_engine_writes_no_set_of_check_ids_by_hand() -> None:
    """Sets of checks (HTTP-only, model behaviour, folded, ...) are derived from the declarations."""
    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _inside(_declarations(tree))
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, (ast.Set, ast.List, ast.Tuple, ast.Dict)):
                continue
            elements = node.keys if isinstance(node, ast.Dict) else node.elts
            ids = [e.value for e in elements if isinstance(e, ast.Constant) and e.value in registry.BY_ID]
            if ids:
                found.append(f"{path.relative_to(SUITE)}:{node.lineno} {ids}")
        for node in ast.walk(tree):  # table[check id] = ...
            if id(node) not in skip and isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                    and node.slice.value in registry.BY_ID and isinstance(node.ctx, ast.Store):
                found.append(f"{path.relative_to(SUITE)}:{node.lineno} [{node.slice.value!r}] = ...")
    assert not found, f"check ids listed by hand in the engine (declare the property on the check): {found}"


def test_the_catalogue_order_is_category_then_module_then_declaration() -> None:
    keys = [(registry.CATEGORIES.index(c.category), registry.MODULES.index(c.module.split(".", 2)[2])) for c in
            registry.CHECKS]
    assert keys == sorted(keys)


def test_every_declared_check_has_cases() -> None:
    """tests/test_cases.py judges them (one that fires, one that stays silent); here: they exist."""
    grouped = {group["check"] for path in CASES.glob("*.json") for group in json.loads(path.read_text(encoding="utf-8"))
               if group["cases"]}
    missing = sorted(set(registry.BY_ID) - grouped)
    assert not missing, f"declared checks without cases in tests/cases/: {missing}"


def test_declarations_are_checked() -> None:
    import pytest

    with pytest.raises(ValueError, match="category"):
        registry.declare("nothing.such", registry.MUST, registry.STREAM, "rule", "basis")
    with pytest.raises(ValueError, match="registry.MODULES does not list"):
        registry.declare("framing.elsewhere", registry.MUST, registry.STREAM, "rule", "basis")
