"""Scenarios as data: one JSON file per scenario in `scenarios/`.

A scenario is one HTTP request and what the target must answer: a stream, a Response
object, or an error envelope with a fitting status. `{model}` in the request is replaced by
the model under test; `auth` says which credentials to send (valid, wrong, none).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .engine import registry
from .engine.exchange import Expectation

WRONG_KEY = "sk-responses-conformance-wrong-key-0000"


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    method: str
    path: str
    expect: Expectation
    json_body: Any = None
    raw_body: str | None = None
    auth: str = "valid"  # valid | wrong | none
    exercises: tuple[str, ...] = ()
    compare_shape_with: str | None = None
    data: dict = field(default_factory=dict, repr=False, compare=False)

    def body(self, model: str) -> tuple[Any, bytes | None]:
        """(json_body, raw_body) with the model substituted."""
        if self.raw_body is not None:
            return None, self.raw_body.replace("{model}", model).encode()
        return _substitute(self.json_body, model), None

    @property
    def streams(self) -> bool:
        return isinstance(self.json_body, dict) and self.json_body.get("stream") is True

    def checks(self, profile: str = "openai") -> tuple[registry.Check, ...]:
        """The checks this scenario is judged by in a profile."""
        checks = registry.for_kind(self.expect.kind, profile)
        if self.compare_shape_with is None:
            checks = tuple(c for c in checks if c.id != "consistency.nonstream_matches_stream")
        return checks


def _substitute(value: Any, model: str) -> Any:
    if isinstance(value, str):
        return value.replace("{model}", model)
    if isinstance(value, list):
        return [_substitute(v, model) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, model) for k, v in value.items()}
    return value


def from_data(data: dict) -> Scenario:
    request = data["request"]
    expect = data["expect"]
    return Scenario(
        id=data["id"],
        description=data["description"],
        method=request.get("method", "POST"),
        path=request["path"],
        json_body=request.get("json"),
        raw_body=request.get("raw_body"),
        auth=data.get("auth", "valid"),
        exercises=tuple(data.get("exercises", ())),
        compare_shape_with=data.get("compare_shape_with"),
        expect=Expectation(
            kind=expect["kind"],
            statuses=tuple(expect.get("statuses", (200,))),
            error_type=expect.get("error_type"),
            error_param=expect.get("error_param"),
        ),
        data=data,
    )


def load_all() -> list[Scenario]:
    folder = resources.files(__package__) / "scenarios"
    scenarios = [from_data(json.loads(entry.read_text(encoding="utf-8")))
                 for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".json")]
    ids = [s.id for s in scenarios]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate scenario ids: {ids}")
    return scenarios
