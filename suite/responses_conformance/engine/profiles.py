"""Profiles: which rules apply, and how hard, for one flavour of the protocol.

The same finding can be MUST in one profile and SHOULD, or absent, in another (spec-notes §10):

  openai         what the real API sends and its official SDKs accept (the default)
  openai-strict  the published OpenAPI description as written: its schemas without the
                 relaxations real traffic needs
  openresponses  the Open Responses specification: `[DONE]` required, its event names,
                 its required fields, no SSE `id:` lines

A profile is data: its severity table keyed by check id (`severities`: the checks it runs and
how hard), the schema overlay it validates with, and the event names it knows. The table is
read from the checks' declarations (registry.py: a check's severity in each profile is said
once, where the check is declared), never written here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

from . import grammar as g
from . import registry
from .violations import Severity

MUST = Severity.MUST
SHOULD = Severity.SHOULD

# Open Responses' own names for the raw reasoning events (OpenAI: response.reasoning_text.*).
OPENRESPONSES_EVENT_TYPES = frozenset({
    "response.created", "response.queued", "response.in_progress", "response.completed", "response.failed",
    "response.incomplete", "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.content_part.done", "response.output_text.delta",
    "response.output_text.done", "response.output_text.annotation.added", "response.refusal.delta",
    "response.refusal.done", "response.function_call_arguments.delta", "response.function_call_arguments.done",
    "response.reasoning_summary_part.added", "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
    "response.reasoning.delta", "response.reasoning.done", "error",
})


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    schema_overlay: str | None  # folder under schemas/profiles/, layered over schemas/
    known_event_types: frozenset[str]
    # Event types of the form `<slug>:<name>` are extensions the spec allows clients to ignore.
    extension_events_allowed: bool = False

    @cached_property
    def severities(self) -> Mapping[str, Severity | None]:
        """The profile's severity table: every check id, with None for a check it does not run."""
        return {check.id: check.severities.get(self.name) for check in registry.CHECKS}

    def severity(self, check_id: str) -> Severity | None:
        return self.severities[check_id]

    def enabled(self, check_id: str) -> bool:
        return self.severity(check_id) is not None

    def checks_for(self, kind: str) -> tuple[registry.Check, ...]:
        """The checks of this profile that apply to one kind of exchange (stream, response, error)."""
        return tuple(c for c in registry.CHECKS if kind in c.applies and self.enabled(c.id))

    def is_known_event(self, event_type: str) -> bool:
        if event_type in self.known_event_types:
            return True
        return self.extension_events_allowed and ":" in event_type


PROFILES: dict[str, Profile] = {
    "openai": Profile(
        name="openai",
        description="What the real OpenAI API sends and its official SDKs accept.",
        schema_overlay=None,
        known_event_types=g.KNOWN_EVENT_TYPES,
    ),
    "openai-strict": Profile(
        name="openai-strict",
        description="The published OpenAPI description as written (real OpenAI traffic departs from it).",
        schema_overlay="openai-strict",
        known_event_types=g.KNOWN_EVENT_TYPES - {g.KEEPALIVE, "response.apply_patch_call_operation_diff.delta",
                                                 "response.apply_patch_call_operation_diff.done"},
    ),
    "openresponses": Profile(
        name="openresponses",
        description="The Open Responses specification (openresponses.org).",
        schema_overlay="openresponses",
        known_event_types=OPENRESPONSES_EVENT_TYPES,
        extension_events_allowed=True,
    ),
}
assert tuple(PROFILES) == registry.PROFILE_NAMES, "the checks' severity tables name these profiles"

DEFAULT = "openai"


def get(name: str | Profile | None) -> Profile:
    if isinstance(name, Profile):
        return name
    if name is None:
        return PROFILES[DEFAULT]
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
