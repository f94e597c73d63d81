"""schema: every event, and every non-streamed body, validates against our JSON Schemas."""
from __future__ import annotations

from typing import Any, Iterator

from ..state import Event, StreamState
from ..violations import Finding


def on_event(state: StreamState, event: Event, schemas: Any, profile: Any) -> list[Finding]:
    etype = event.type
    if etype is None:
        return []
    if not profile.is_known_event(etype):
        return [Finding("schema.known_event_type", f"unknown event type {etype!r} in the {profile.name} profile",
                        "$.type")]
    if schemas is None:
        return []
    errors = schemas.validate_event(event.payload)
    if not errors:  # valid, or None: no schema for this type
        return []
    found = [Finding("schema.event", f"{error.message} (schema {error.schema_path})", error.path) for error in errors
             if not (event.seq is None and _about_sequence_number(error))]
    return found


def _about_sequence_number(error: Any) -> bool:
    """A missing or non-integer sequence_number is sequence.present's finding: one cause, one failure."""
    return error.path == "$.sequence_number" or (
        error.path == "$" and error.message.startswith("'sequence_number' is a required property"))


def on_response(response: Any, schemas: Any) -> Iterator[Finding]:
    if schemas is None:
        return
    for error in schemas.validate("objects/response", response):
        yield Finding("schema.response", f"{error.message} (schema {error.schema_path})", error.path)
