"""framing: what the bytes and frames of a stream look like, before any meaning."""
from __future__ import annotations

from typing import Iterator

from .. import grammar as g
from ..registry import MUST, SHOULD, STREAM, check, declare
from ..sse import WireNote
from ..state import NO_SSE, Event, StreamState
from ..violations import Finding

# Wire notes from the SSE decoder that break clients; comments and unknown fields are legal SSE.
BAD_WIRE_NOTES = frozenset({"invalid_utf8", "unterminated_event", "event_too_large"})


@check("framing.sse_well_formed", MUST, STREAM,
       "The event stream is valid UTF-8 and every event ends with a blank line.",
       "WHATWG SSE: an unterminated last event is discarded by clients; SDK decoders are WHATWG decoders (A-07, G-05).",
       http_only=True)
def on_wire_note(note: WireNote) -> list[Finding]:
    """A note of the SSE decoder about the bytes between events."""
    if note.kind not in BAD_WIRE_NOTES:
        return []
    return [Finding("framing.sse_well_formed", note.message, f"byte {note.offset}")]


declare("framing.data_is_json_object", MUST, STREAM,
        "Every `data:` payload is exactly one JSON object.",
        "SDK-PY/SDK-JS json-decode every data payload; `data: null`, raw text and two objects in one event break them (A-07, A-09, G-05).")
declare("framing.event_name_matches_type", MUST, STREAM,
        "The SSE `event:` name equals the payload's `type`.",
        "OR: 'The event field MUST match the type in the event body'; OBS: OpenAI sends event == type on every event (A-03).",
        http_only=True)
# OR: "The event field MUST match the type in the event body."
declare("framing.event_name_present", {"openai": SHOULD, "openai-strict": SHOULD, "openresponses": MUST}, STREAM,
        "Every event carries an `event:` line naming its type.",
        "OBS: OpenAI names every event; clients that dispatch on the SSE event name see nothing otherwise (A-03).",
        http_only=True)
declare("framing.type_present", MUST, STREAM,
        "Every payload has a string `type`.",
        "SPEC: `type` is required on all 58 events; Codex dispatches on data.type (A-03).")
declare("framing.no_foreign_frames", MUST, STREAM,
        "A Responses stream carries no Chat Completions chunks or other APIs' frames.",
        "SPEC ResponseStreamEvent union; Codex retried and billed six calls on chat chunks (A-01, A-02).")
# OR: "The terminal event MUST be the literal string [DONE]": the openresponses profile has the opposite rule.
declare("framing.no_done_sentinel", {"openai": SHOULD, "openai-strict": SHOULD}, STREAM,
        "The stream ends after the terminal event, without a `data: [DONE]` sentinel.",
        "OBS: OpenAI sends no [DONE] on Responses streams; strict JSON-per-frame parsers choke on it (A-11). The Open Responses profile requires it instead.",
        http_only=True)
declare("framing.done_sentinel_present", {"openresponses": MUST}, STREAM,
        "The stream ends with a `data: [DONE]` event after the terminal event.",
        "OR: 'The terminal event MUST be the literal string [DONE]'. OpenAI does not send it, so this check "
        "belongs to the openresponses profile only.",
        http_only=True)
declare("framing.no_sse_id", {"openresponses": SHOULD}, STREAM,
        "Events carry no SSE `id:` field.",
        "OR: 'Servers SHOULD NOT use id'; resumption goes through sequence_number.",
        http_only=True)


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
    etype = event.type  # the payload's `type` when it is a string
    obj = payload.get("object")
    # Only strings are looked up: a target may send any JSON value here (an object, a list).
    if (obj is not None and isinstance(obj, str) and obj in g.FOREIGN_OBJECTS) or "choices" in payload or \
            etype in g.FOREIGN_TYPES:
        label = obj if isinstance(obj, str) and obj else etype if etype is not None else "a frame with `choices`"
        found.append(Finding("framing.no_foreign_frames", f"foreign frame in a Responses stream: {label}"))
    if etype is None:
        raw = payload.get("type")
        found.append(Finding("framing.type_present",
                             "payload has no `type`" if raw is None else f"`type` is {raw!r}, not a string",
                             "$.type"))
    if event.sse_id is not None and not state.sse_id_seen:
        # Reported once: the id persists over the following events by the SSE rules.
        found.append(Finding("framing.no_sse_id", f"the stream uses SSE ids (first: {event.sse_id[:40]!r})"))
    if event.name is NO_SSE:
        return found
    if event.name is None:
        found.append(Finding("framing.event_name_present", "event has no `event:` line"))
    elif etype is not None and event.name != etype:
        found.append(Finding("framing.event_name_matches_type",
                             f"event: {event.name!r} but data.type is {etype!r}", "$.type"))
    return found


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def on_close(state: StreamState) -> Iterator[Finding]:
    if state.terminal is not None and not state.done_sentinel:
        yield Finding("framing.done_sentinel_present", f"the stream ended after {state.terminal} without data: [DONE]")
