"""Baselines: the known failures a project accepts today, kept in the project's own repository.

A baseline file has one entry a line, a check id or `scenario:check`, and the reason after a
`#` (required: an entry nobody can explain is not a known failure, it is a hidden one):

    # Our gateway re-numbers events after filtering; tracked in #123.
    sequence.contiguous                      # gaps after the guardrail filter (#123)
    text-nonstream:usage.total_is_sum        # upstream counts cached tokens twice (#130)

Listed failures do not fail the run and are reported as "known". An entry that no longer
fails anywhere is stale and fails the run: remove it. An id the registry does not know is a
usage error. Blank lines and lines starting with `#` are comments.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .engine import registry


class BaselineError(ValueError):
    """The baseline file cannot be used (a usage error, not a test failure)."""


@dataclass(frozen=True)
class Entry:
    scenario: str | None  # None: every scenario
    check: str
    reason: str
    line: int

    @property
    def key(self) -> str:
        return f"{self.scenario}:{self.check}" if self.scenario else self.check

    def matches(self, scenario: str, check: str) -> bool:
        return self.check == check and (self.scenario is None or self.scenario == scenario)


@dataclass
class Baseline:
    path: Path
    entries: list[Entry]

    def find(self, scenario: str, check: str) -> Entry | None:
        # A scenario-specific entry wins over a check-wide one.
        specific = [e for e in self.entries if e.scenario == scenario and e.check == check]
        if specific:
            return specific[0]
        return next((e for e in self.entries if e.matches(scenario, check)), None)


def parse(text: str, path: Path, scenario_ids: set[str]) -> Baseline:
    entries: list[Entry] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        spec, hash_, reason = line.partition("#")
        spec, reason = spec.strip(), reason.strip()
        where = f"{path}:{number}"
        if not hash_ or not reason:
            raise BaselineError(f"{where}: entry {spec!r} has no reason (write it after a '#')")
        scenario, colon, check = spec.rpartition(":")
        if not colon:
            scenario, check = "", spec
        if len(spec.split()) != 1:
            raise BaselineError(f"{where}: one entry a line, got {spec!r}")
        if check not in registry.BY_ID:
            raise BaselineError(f"{where}: unknown check id {check!r}")
        if scenario and scenario not in scenario_ids:
            raise BaselineError(f"{where}: unknown scenario {scenario!r}")
        entry = Entry(scenario or None, check, reason, number)
        if entry.key in seen:
            raise BaselineError(f"{where}: {entry.key} is listed twice")
        seen.add(entry.key)
        entries.append(entry)
    return Baseline(path, entries)


def load(path: Path, scenario_ids: set[str]) -> Baseline:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"baseline {path} is not UTF-8 text") from None
    return parse(text, path, scenario_ids)


def render(failures: list[tuple[str, str, str]]) -> str:
    """A baseline listing (scenario, check, first message) for every failing pair of a run."""
    lines = [
        "# responses-conformance baseline: known failures of this target.",
        "# Each entry needs a reason after '#'. Entries that stop failing make the run fail: remove them.",
        "",
    ]
    first: dict[tuple[str, str], str] = {}
    for scenario, check, message in failures:
        first.setdefault((scenario, check), message)  # one entry per pair, however many steps broke it
    for (scenario, check), message in sorted(first.items()):
        seen = " ".join(message.split())[:100]
        lines.append(f"{scenario}:{check}  # TODO: why this is accepted (seen: {seen})")
    return "\n".join(lines) + "\n"
