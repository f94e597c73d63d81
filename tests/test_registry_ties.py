"""Nothing ties a check id in a check's code to its row in the registry but the string itself:
a typo would only surface as a KeyError when that finding first fires. These tests read the
suite's code and hold the two together, both ways."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from responses_conformance.engine import registry

SUITE = Path(registry.__file__).resolve().parents[1]
CHECK_ID = re.compile(r"^[a-z]+\.[a-z][a-z0-9_]*$")


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SUITE.rglob("*.py"))]


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def test_every_check_id_a_finding_names_is_registered() -> None:
    named: dict[str, str] = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) in ("Finding", "assertion", "check") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and CHECK_ID.match(first.value):
                    named.setdefault(first.value, f"{path.relative_to(SUITE)}:{node.lineno}")
    # Today every check is named literally where it fires; far fewer would mean the scan broke.
    assert len(named) >= len(registry.CHECKS) // 2, f"only {len(named)} check ids found: the scan is broken"
    unknown = {check: where for check, where in named.items() if check not in registry.BY_ID}
    assert not unknown, f"check ids used in code but not in the registry: {unknown}"


def test_every_registered_check_is_used_somewhere() -> None:
    literals: set[str] = set()
    for path, tree in _modules():
        if path.name == "registry.py" and path.parent.name == "engine":
            continue
        literals |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    unused = sorted(c.id for c in registry.CHECKS if c.id not in literals)
    assert not unused, f"registry rows whose id no code names (a check that can never fire): {unused}"
