"""framing: what the bytes and frames of a stream look like, before any meaning."""
from __future__ import annotations

from typing import Iterator

from .. import grammar as g
from ..state import NO_SSE, Event, StreamState
from ..violations import Finding

# Wire notes from the SSE decoder that break clients; comments and unknown fields are legal SSE.
BAD_WIRE_NOTES = frozenset({"invalid_utf8", "unterminated_event", "event_too_large"})


def on_event(state: StreamState, event: Event) -> list[Finding]:
    if event.is_done_sentinel:
        if state.terminal is not None:
            return [Finding("framing.no_done_sentinel", "data: [DONE] sent after the terminal event")]
        return []
    if not event.json_ok:
        return [Finding("framing.data_is_json_object", f"data is not valid JSON: {_short(event.data)!r}")]
    if not isinstance(event.payload, dict):
        kind = type(event.payload).__name__.replace("NoneType", "null").replace("dict", "object")
        return [Finding("framing.data_is_json_object", f"data is a JSON {kind}, not an object")]
    found = []
    payload = event.payload
    etype = payload.get("type")
    obj = payload.get("object")
    # Only strings are looked up: a target may send any JSON value here (an object, a list).
    if (isinstance(obj, str) and obj in g.FOREIGN_OBJECTS) or "choices" in payload or \
            (isinstance(etype, str) and etype in g.FOREIGN_TYPES):
        label = obj if isinstance(obj, str) and obj else etype if isinstance(etype, str) else "a frame with `choices`"
        found.append(Finding("framing.no_foreign_frames", f"foreign frame in a Responses stream: {label}"))
    if not isinstance(etype, str):
        found.append(Finding("framing.type_present",
                             "payload has no `type`" if etype is None else f"`type` is {etype!r}, not a string",
                             "$.type"))
    if event.sse_id is not None and not state.sse_id_seen:
        # Reported once: the id persists over the following events by the SSE rules.
        found.append(Finding("framing.no_sse_id", f"the stream uses SSE ids (first: {event.sse_id[:40]!r})"))
    if event.name is NO_SSE:
        return found
    if event.name is None:
        found.append(Finding("framing.event_name_present", "event has no `event:` line"))
    elif isinstance(etype, str) and event.name != etype:
        found.append(Finding("framing.event_name_matches_type",
                             f"event: {event.name!r} but data.type is {etype!r}", "$.type"))
    return found


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def on_close(state: StreamState) -> Iterator[Finding]:
    if state.terminal is not None and not state.done_sentinel:
        yield Finding("framing.done_sentinel_present", f"the stream ended after {state.terminal} without data: [DONE]")
