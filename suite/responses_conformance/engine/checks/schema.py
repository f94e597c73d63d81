"""schema: every event, and every non-streamed body, validates against our JSON Schemas."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from ..registry import MUST, RESPONSE, SCENARIO, SHOULD, STREAM, check
from ..state import Event, StreamState
from ..violations import Finding

if TYPE_CHECKING:
    from ..assertions import StepView


@check("schema.event", MUST, STREAM,
       "Every event validates against the JSON Schema of its type.",
       "SPEC event schemas, relaxed where OpenAI's own traffic departs from them (spec-notes section 7); strict deserialisers (Codex, Grok CLI, async-openai) fail on the rest (H-section).")
def on_event(state: StreamState, event: Event, schemas: Any, profile: Any) -> list[Finding]:
    etype = event.type
    if etype is None:
        return []
    # profile.is_known_event(etype), its common case inline: this runs on every event
    if etype not in profile.known_event_types and not profile.is_known_event(etype):
        return [unknown_event_type(etype, profile)]
    if schemas is None:
        return []
    errors = schemas.validate_event(event.payload, etype)
    if not errors:  # valid, or None: no schema for this type
        return []
    found = [Finding("schema.event", f"{error.message} (schema {error.schema_path})", error.path) for error in errors
             if not (event.seq is None and _about_sequence_number(error))]
    return found


def _about_sequence_number(error: Any) -> bool:
    """A missing or non-integer sequence_number is sequence.present's finding: one cause, one failure."""
    return error.path == "$.sequence_number" or (
        error.path == "$" and error.message.startswith("'sequence_number' is a required property"))


@check("schema.response", MUST, RESPONSE,
       "A non-streamed body validates against the Response schema.",
       "SPEC Response object; clients deserialise it field by field (H-04, H-07).")
def on_response(response: Any, schemas: Any) -> Iterator[Finding]:
    if schemas is None:
        return
    for error in schemas.validate("objects/response", response):
        yield Finding("schema.response", f"{error.message} (schema {error.schema_path})", error.path)


@check("schema.compaction", MUST, SCENARIO,
       "`POST /responses/compact` answers with a `response.compaction` object: `id`, integer `created_at`, an "
       "`output` list holding a `compaction` item (`id`, opaque string `encrypted_content`) and a `usage` whose "
       "total is input plus output.",
       "SPEC and OR CompactResource and CompactionBody (required fields); OR compliance test compact-response; "
       "clients pass `output` on as the next request's input.",
       feature="compact")
def compaction_shape(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    """`POST /responses/compact` answered with a `response.compaction` object (SPEC/OR CompactResource)."""
    name = "schema.compaction"
    view = steps[step]
    body = view.body
    if view.status != 200 or not isinstance(body, dict):
        what = "a JSON object" if isinstance(body, dict) else "no JSON object"
        yield Finding(name, f"the compaction request answered HTTP {view.status} with {what}", "$")
        return
    if body.get("object") != "response.compaction":
        yield Finding(name, f"object is {body.get('object')!r}, not 'response.compaction'", "$.object")
    if not isinstance(body.get("id"), str) or not body["id"]:
        yield Finding(name, f"id is {body.get('id')!r}, not a non-empty string", "$.id")
    created_at = body.get("created_at")
    if not isinstance(created_at, int) or isinstance(created_at, bool):
        yield Finding(name, f"created_at is {created_at!r}, not an integer (Unix seconds)", "$.created_at")
    output = body.get("output")
    if not isinstance(output, list):
        yield Finding(name, f"output is {type(output).__name__}, not a list of items", "$.output")
    else:
        compactions = []
        for index, item in enumerate(output):
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                yield Finding(name, f"output[{index}] is not an item with a string `type`", f"$.output[{index}]")
            elif item["type"] == "compaction":
                compactions.append((index, item))
        if not compactions:
            types = [i.get("type") for i in output if isinstance(i, dict)]
            yield Finding(name, f"output holds no `compaction` item (types: {types})", "$.output")
        for index, item in compactions:
            if not isinstance(item.get("encrypted_content"), str) or not item["encrypted_content"]:
                yield Finding(name, f"the compaction item's encrypted_content is {item.get('encrypted_content')!r}, "
                                    "not a non-empty string", f"$.output[{index}].encrypted_content")
            if not isinstance(item.get("id"), str) or not item["id"]:
                yield Finding(name, f"the compaction item's id is {item.get('id')!r}", f"$.output[{index}].id")
    usage = body.get("usage")
    if not isinstance(usage, dict):
        yield Finding(name, f"usage is {usage!r}, not an object", "$.usage")
        return
    counts = {key: usage.get(key) for key in ("input_tokens", "output_tokens", "total_tokens")}
    for key, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            yield Finding(name, f"usage.{key} is {value!r}, not a non-negative integer", f"$.usage.{key}")
            return
    if counts["total_tokens"] != counts["input_tokens"] + counts["output_tokens"]:
        yield Finding(name, f"usage.total_tokens is {counts['total_tokens']}, not input_tokens + output_tokens "
                            f"({counts['input_tokens']} + {counts['output_tokens']})", "$.usage.total_tokens")


@check("schema.known_event_type", SHOULD, STREAM,
       "Every event type is one the Responses API defines.",
       "SPEC ResponseStreamEvent union plus wire-only keepalive; strict clients reject unknown variants, so extensions are worth knowing about (A-10, B-13).")
def unknown_event_type(etype: str, profile: Any) -> Finding:
    return Finding("schema.known_event_type", f"unknown event type {etype!r} in the {profile.name} profile", "$.type")
