"""Findings: what a check reports, and where in the stream it happened."""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any


class Severity(str, enum.Enum):
    """MUST breaks clients (a failure); SHOULD is a deviation worth knowing (a warning)."""

    MUST = "must"
    SHOULD = "should"

    def __str__(self) -> str:  # "MUST" in reports, "must" in JSON
        return self.name


@dataclass(frozen=True)
class Finding:
    """What a check function yields: only what the check itself knows.

    The checker stamps the check's severity and the event's coordinates on it, so that
    checks never compute event indexes or their own ids (jsonschema's iter_errors habit).
    """

    check: str
    message: str
    path: str = "$"


@dataclass(frozen=True)
class Violation:
    check: str
    severity: Severity
    message: str
    path: str = "$"
    event_index: int | None = None
    event_type: str | None = None
    sequence_number: int | None = None
    excerpt: str | None = None  # the offending event's data, shortened
    step: str | None = None  # the step of a multi-step scenario it happened in

    @property
    def category(self) -> str:
        return self.check.split(".", 1)[0]

    def where(self) -> str:
        """'event #6 response.output_text.delta (sequence_number 7), at $.sequence_number'."""
        prefix = f"step {self.step}: " if self.step else ""
        return prefix + self._where()

    def _where(self) -> str:
        if self.event_index is None:
            return f"at {self.path}"
        label = f"event #{self.event_index}"
        if self.event_type:
            label += f" {self.event_type}"
        if self.sequence_number is not None:
            label += f" (sequence_number {self.sequence_number})"
        return f"{label}, at {self.path}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["category"] = self.category
        return data


def excerpt(text: str, limit: int = 400) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text
