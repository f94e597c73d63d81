"""schema: every event, and every non-streamed body, validates against our JSON Schemas."""
from __future__ import annotations

from typing import Any, Iterator

from .. import grammar as g
from ..state import Event, StreamState
from ..violations import Finding


def on_event(state: StreamState, event: Event, schemas: Any) -> Iterator[Finding]:
    etype = event.type
    if schemas is None or etype is None:
        return
    errors = schemas.validate_event(event.payload)
    if errors is None:
        if etype not in g.KNOWN_EVENT_TYPES:
            yield Finding("schema.known_event_type", f"unknown event type {etype!r}", "$.type")
        return
    for error in errors:
        yield Finding("schema.event", f"{error.message} (schema {error.schema_path})", error.path)


def on_response(response: Any, schemas: Any) -> Iterator[Finding]:
    if schemas is None:
        return
    for error in schemas.validate("objects/response", response):
        yield Finding("schema.response", f"{error.message} (schema {error.schema_path})", error.path)
