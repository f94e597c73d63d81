"""The JSON Schemas in schemas/ and the engine that applies them.

Five kinds of test:
  * the schema files themselves: valid 2020-12, ids, references, names;
  * real traffic: every real event in tests/fixtures validates (real traffic is conformant by
    definition), and the official SDK's typed models agree;
  * what strict clients choke on is rejected, at the right path;
  * the engine: messages, paths, limits, and the fast path agreeing with jsonschema;
  * the profile overlays (schemas/profiles/): openai-strict, the published spec as written, which
    real OpenAI traffic fails in known ways; openresponses, the Open Responses spec.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import pytest
from jsonschema import Draft202012Validator

from responses_conformance.engine import schemas as schemas_module
from responses_conformance.engine.schemas import BASE_URI, MAX_ERRORS, SchemaError, SchemaSet

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CAPTURE = FIXTURES / "openai" / "openai-capture-2026-01.txt"
RECORDED = sorted((FIXTURES / "recorded").glob("*.chunks.txt"))

SCHEMA_FILES = sorted(p for kind in ("events", "objects") for p in (SCHEMAS / kind).glob("*.json"))
DOCS = {p.relative_to(SCHEMAS).as_posix(): json.loads(p.read_text(encoding="utf-8")) for p in SCHEMA_FILES}
DOCS_BY_ID = {doc["$id"]: doc for doc in DOCS.values()}
ANNOTATIONS = {"description", "$comment", "title"}

TEXT_EVENTS = {
    "response.created", "response.queued", "response.in_progress", "response.completed",
    "response.incomplete", "response.failed", "response.output_item.added",
    "response.output_item.done", "response.content_part.added", "response.content_part.done",
    "response.output_text.delta", "response.output_text.done",
    "response.output_text.annotation.added", "response.refusal.delta", "response.refusal.done",
    "error", "keepalive",
}


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet.load()


# ---- fixtures: real traffic --------------------------------------------------------------------

def _capture() -> tuple[str, list[dict[str, Any]]]:
    """The capture's 401 body (text before the first `event:` line) and its event payloads."""
    text = CAPTURE.read_text(encoding="utf-8")
    head, _, _ = text.partition("\nevent:")
    payloads = [json.loads(line[len("data:"):]) for line in text.splitlines() if line.startswith("data:")]
    return head, payloads


def _recorded(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sources() -> dict[str, list[dict[str, Any]]]:
    sources = {CAPTURE.name: _capture()[1]}
    sources.update({path.name: _recorded(path) for path in RECORDED})
    return sources


SOURCES = _sources()
REAL_EVENTS = [(name, i, event) for name, events in SOURCES.items() for i, event in enumerate(events)]


def _first(event_type: str, source: str | None = None) -> dict[str, Any]:
    """A deep copy of the first real event of a type (from one source, if given)."""
    for name, _, event in REAL_EVENTS:
        if event.get("type") == event_type and (source is None or name == source):
            return copy.deepcopy(event)
    raise LookupError(event_type)


def _first_item(item_type: str) -> dict[str, Any]:
    """The first real `output_item.done` whose item has this type."""
    for _, _, event in REAL_EVENTS:
        if event.get("type") == "response.output_item.done" and event["item"]["type"] == item_type:
            return copy.deepcopy(event)
    raise LookupError(item_type)


def test_fixtures_are_where_the_tests_expect_them():
    assert len(SOURCES) == 8
    assert len(SOURCES[CAPTURE.name]) == 108  # seven streams, per spec-notes section 1
    assert all(events for events in SOURCES.values())


# ---- the schema files ------------------------------------------------------------------------

@pytest.mark.parametrize("rel", sorted(DOCS))
def test_schema_is_valid_draft_2020_12(rel: str):
    doc = DOCS[rel]
    assert doc.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    assert isinstance(doc.get("title"), str) and doc["title"].strip()
    assert isinstance(doc.get("description"), str) and len(doc["description"]) > 20


def test_ids_are_unique_and_match_file_paths():
    ids = [doc["$id"] for doc in DOCS.values()]
    assert len(ids) == len(set(ids))
    for rel, doc in DOCS.items():
        assert doc["$id"] == BASE_URI + rel


def _refs(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield where, node
        for key, value in node.items():
            yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{where}/{i}")


def _resolve(base: str, ref: str) -> Any:
    target, fragment = urldefrag(urljoin(base, ref))
    node = DOCS_BY_ID[target]  # KeyError: the file does not exist
    for part in (p for p in fragment.split("/") if p):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.mark.parametrize("rel", sorted(DOCS))
def test_every_ref_resolves_and_stands_alone(rel: str):
    doc = DOCS[rel]
    for where, node in _refs(doc):
        ref = node["$ref"]
        assert not ref.startswith("http"), f"{rel}{where}: use a relative $ref"
        assert isinstance(_resolve(doc["$id"], ref), dict), f"{rel}{where}: {ref} does not resolve"
        # the engine steps through a $ref when the next schema-path segment is not a sibling
        assert set(node) - ANNOTATIONS == {"$ref"}, f"{rel}{where}: $ref with sibling keywords"


def test_event_file_name_is_the_type_const():
    for rel, doc in DOCS.items():
        if rel.startswith("events/"):
            assert doc["properties"]["type"] == {"const": rel[len("events/"):-len(".json")]}
            assert {"type", "sequence_number"} <= set(doc["required"])
            assert doc["properties"]["sequence_number"]["type"] == "integer"


def test_no_schema_closes_an_object():
    """Servers may extend: additionalProperties false is never used (spec-notes section 1)."""
    for rel, doc in DOCS.items():
        assert '"additionalProperties": false' not in json.dumps(doc), rel
        assert "unevaluatedProperties" not in json.dumps(doc), rel


def test_the_text_event_set_and_the_published_union_are_covered(schemas: SchemaSet):
    assert TEXT_EVENTS <= schemas.event_types
    assert schemas.event_types == {rel[len("events/"):-len(".json")] for rel in DOCS if rel.startswith("events/")}
    sdk_types = _sdk_event_classes()
    if sdk_types:
        assert set(sdk_types) <= schemas.event_types


def test_every_schema_gets_a_fast_check(schemas: SchemaSet):
    assert {name for name, fast in schemas._fast.items() if fast is None} == set()


# ---- real traffic validates --------------------------------------------------------------------

@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_real_event_validates(schemas: SchemaSet, source: str):
    failures = []
    for i, event in enumerate(SOURCES[source]):
        errors = schemas.validate_event(event)
        assert errors is not None, f"event #{i}: no schema for {event.get('type')!r}"
        if errors:
            failures.append(f"event #{i} {event['type']}: {errors}")
    assert not failures, "\n".join(failures)


def test_every_real_event_type_has_a_schema(schemas: SchemaSet):
    assert {event["type"] for _, _, event in REAL_EVENTS} <= schemas.event_types


def test_final_responses_validate_as_objects(schemas: SchemaSet):
    for _, _, event in REAL_EVENTS:
        if event["type"] in ("response.completed", "response.failed"):
            assert schemas.validate("objects/response", event["response"]) == []


def test_the_captured_401_body_is_an_error_envelope(schemas: SchemaSet):
    head, _ = _capture()
    body = json.loads(head + "\n}")  # the capture lost the final brace
    assert body["error"]["code"] == "invalid_api_key"
    assert schemas.validate("objects/error_envelope", body) == []
    assert schemas.validate("objects/error_envelope", body["error"])  # not nested: rejected


# ---- second opinion: the official SDK's typed models ---------------------------------------

def _sdk_event_classes() -> dict[str, Any]:
    try:
        from openai.types.responses import ResponseStreamEvent
    except ImportError:
        return {}
    union = typing.get_args(ResponseStreamEvent)[0]  # Annotated[Union[...], discriminator]
    classes = {}
    for cls in typing.get_args(union):
        for literal in typing.get_args(cls.model_fields["type"].annotation):
            classes[literal] = cls
    return classes


def _patch_known_wire_departures(event: dict[str, Any]) -> dict[str, Any] | None:
    """Undo, on a copy, the wire facts that openai-python's strict models do not know.

    These are exactly the departures listed in schemas/README.md; None means the SDK never
    parses such an event as a typed model.
    """
    event = copy.deepcopy(event)
    if event["type"] == "error" and "error" in event:
        return None  # openai-python raises APIError on a top-level `error` key before parsing
    response = event.get("response")
    if isinstance(response, dict):
        details = (response.get("usage") or {}).get("input_tokens_details")
        if isinstance(details, dict):
            details.setdefault("cache_write_tokens", 0)  # 2026-07 SPEC addition, never on the wire
        if isinstance(response.get("error"), dict):
            response["error"]["code"] = "server_error"  # SDK enum; OpenAI sends insufficient_quota
    if event["type"] == "response.output_text.done":
        event.setdefault("logprobs", [])  # xAI omits it
    item = event.get("item")
    if isinstance(item, dict) and item.get("type") == "web_search_call":
        item.setdefault("action", {"type": "search"})  # in-progress call at output_item.added
    return event


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_accepted_events_also_parse_with_the_openai_sdk(schemas: SchemaSet, source: str):
    pytest.importorskip("openai")
    from pydantic import ValidationError

    classes = _sdk_event_classes()
    failures = []
    for i, event in enumerate(SOURCES[source]):
        if schemas.validate_event(event) != []:
            continue
        cls = classes.get(event["type"])
        patched = _patch_known_wire_departures(event)
        if cls is None or patched is None:  # keepalive, extensions; nested error events
            continue
        try:
            cls.model_validate(patched)
        except ValidationError as exc:
            failures.append(f"event #{i} {event['type']}: {exc.errors()[:3]}")
    assert not failures, "\n".join(failures)


# ---- must accept ---------------------------------------------------------------------------------

def _extend_everywhere(node: Any) -> None:
    if isinstance(node, dict):
        for value in list(node.values()):
            _extend_everywhere(value)
        node["x_vendor_extension"] = {"anything": [1, None]}
    elif isinstance(node, list):
        for value in node:
            _extend_everywhere(value)


def _accept_cases() -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    def with_response(event_type: str, **changes: Any) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            event = _first(event_type)
            event["response"].update(changes)
            return event
        return build

    def without(event_type: str, *keys: str) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            event = _first(event_type)
            for key in keys:
                event["response"].pop(key, None)
            return event
        return build

    def no_cache_write() -> dict[str, Any]:
        event = _first("response.completed")
        event["response"]["usage"]["input_tokens_details"] = {"cached_tokens": 0}
        return event

    def extended() -> dict[str, Any]:
        event = _first("response.completed", "openai-web-search-tool.1.chunks.txt")
        _extend_everywhere(event)
        return event

    return [
        ("usage null in created", with_response("response.created", usage=None)),
        ("usage null in in_progress", with_response("response.in_progress", usage=None)),
        ("usage null in failed", with_response("response.failed", usage=None)),
        ("user null", with_response("response.completed", user=None)),
        ("cache_write_tokens missing", no_cache_write),
        ("cache_write_tokens present", lambda: _set(_first("response.completed"),
                                                      ("response", "usage", "input_tokens_details", "cache_write_tokens"), 3)),
        ("temperature and top_p 1", with_response("response.created", temperature=1, top_p=1)),
        ("temperature and top_p 1.0", with_response("response.created", temperature=1.0, top_p=1.0)),
        ("temperature and top_p null", with_response("response.created", temperature=None, top_p=None)),
        ("completed_at absent", without("response.completed", "completed_at")),
        ("completed_at null", with_response("response.in_progress", completed_at=None)),
        ("error and instructions absent (xAI)", without("response.completed", "error", "instructions")),
        ("any response.error.code", with_response("response.failed", error={"code": "insufficient_quota", "message": "m"})),
        ("status queued", with_response("response.created", status="queued")),
        ("unknown fields everywhere", extended),
        ("flat error event", lambda: {"type": "error", "sequence_number": 2, "code": "server_error",
                                      "message": "boom", "param": None}),
        ("flat error event, code null", lambda: {"type": "error", "sequence_number": 2, "code": None,
                                                 "message": "boom", "param": None}),
        ("nested error event", lambda: _first("error")),
        ("nested error event, code null", lambda: _set(_first("error"), ("error", "code"), None)),
        ("keepalive", lambda: {"type": "keepalive", "sequence_number": 7}),
        ("delta with obfuscation", lambda: _first("response.output_text.delta", CAPTURE.name)),
        ("delta without obfuscation", lambda: _drop(_first("response.output_text.delta"), ("obfuscation",))),
        ("text done without logprobs (xAI)", lambda: _first("response.output_text.done",
                                                            "xai-text-with-reasoning-streaming.1.chunks.txt")),
        ("function_call_arguments.done without name", lambda: _first("response.function_call_arguments.done")),
        ("web_search_call added without action", lambda: _set(_first_item("web_search_call"), ("item",),
                                                             {"type": "web_search_call", "id": "ws_1", "status": "in_progress"})),
        ("function_call without id", lambda: _drop(_first_item("function_call"), ("item", "id"))),
        ("reasoning with empty summary, no status", lambda: _first_item("reasoning")),
        ("unknown item kind", lambda: _set(_first_item("message"), ("item",), {"type": "shell_call_output", "id": "x"})),
        ("unknown annotation kind", lambda: _set(_first("response.output_text.annotation.added"), ("annotation",),
                                                 {"type": "page_citation", "page": 3})),
        ("annotation null", lambda: _set(_first("response.output_text.annotation.added"), ("annotation",), None)),
        ("refusal part", lambda: _set(_first("response.content_part.added"), ("part",),
                                      {"type": "refusal", "refusal": ""})),
        ("refusal delta", lambda: {"type": "response.refusal.delta", "sequence_number": 4, "item_id": "msg_1",
                                   "output_index": 0, "content_index": 0, "delta": "I can't"}),
        ("incomplete with reason", lambda: _set(_set(_first("response.completed"), ("type",), "response.incomplete"),
                                                ("response", "incomplete_details"), {"reason": "max_output_tokens"})),
    ]


def _set(event: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return event


def _drop(event: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    node = event
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return event


@pytest.mark.parametrize("build", [b for _, b in _accept_cases()], ids=[n for n, _ in _accept_cases()])
def test_wire_compatible_tier_accepts(schemas: SchemaSet, build: Callable[[], dict[str, Any]]):
    assert schemas.validate_event(build()) == []


# ---- must reject -------------------------------------------------------------------------------

def _reject_cases() -> list[tuple[str, Callable[[], dict[str, Any]], str, str]]:
    """(name, build the bad event, expected error path, text the message must contain)."""
    created = lambda: _first("response.created", CAPTURE.name)
    completed = lambda: _first("response.completed", CAPTURE.name)
    delta = lambda: _first("response.output_text.delta", CAPTURE.name)
    text_done = lambda: _first("response.output_text.done", CAPTURE.name)
    message_done = lambda: _first_item("message")
    message_added = lambda: _first("response.output_item.added", CAPTURE.name)
    part_added = lambda: _first("response.content_part.added", CAPTURE.name)

    def unnested() -> dict[str, Any]:
        event = created()
        response = event.pop("response")
        response.pop("object")
        event.update(response)
        return event

    def usage(key: str, value: Any = ..., detail: str | None = None) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            event = completed()
            node = event["response"]["usage"]
            if detail:
                node = node[detail]
            if value is ...:
                del node[key]
            else:
                node[key] = value
            return event
        return build

    return [
        ("sequence_number missing", lambda: _drop(delta(), ("sequence_number",)), "$",
         "'sequence_number' is a required property"),
        ("sequence_number float", lambda: _set(delta(), ("sequence_number",), 4.0), "$.sequence_number",
         "'sequence_number' 4.0 is not of type 'integer'"),
        ("sequence_number string", lambda: _set(created(), ("sequence_number",), "0"), "$.sequence_number",
         "is not of type 'integer'"),
        ("sequence_number bool", lambda: _set(created(), ("sequence_number",), False), "$.sequence_number",
         "is not of type 'integer'"),
        ("created_at float", lambda: _set(created(), ("response", "created_at"), 1756892755.0),
         "$.response.created_at", "'created_at' 1756892755.0 is not of type 'integer'"),
        ("created_at missing", lambda: _drop(completed(), ("response", "created_at")), "$.response",
         "'created_at' is a required property"),
        ("output null", lambda: _set(completed(), ("response", "output"), None), "$.response.output",
         "'output' null is not of type 'array'"),
        ("output missing", lambda: _drop(created(), ("response", "output")), "$.response",
         "'output' is a required property"),
        ("response not nested", unnested, "$", "'response' is a required property"),
        ("response null", lambda: _set(completed(), ("response",), None), "$.response", "not of type 'object'"),
        ("status not a status", lambda: _set(completed(), ("response", "status"), "done"), "$.response.status",
         "is not one of"),
        ("item status null", lambda: _set(message_added(), ("item", "status"), None), "$.item.status",
         "'status' null is not one of"),
        ("message id null", lambda: _set(message_done(), ("item", "id"), None), "$.item.id",
         "'id' null is not of type 'string'"),
        ("message content null", lambda: _set(message_done(), ("item", "content"), None), "$.item.content",
         "'content' null is not of type 'array'"),
        ("message content missing", lambda: _drop(message_added(), ("item", "content")), "$.item",
         "'content' is a required property"),
        ("final output message content null",
         lambda: _set(completed(), ("response", "output", 0, "content"), None), "$.response.output[0].content",
         "not of type 'array'"),
        ("function_call status null", lambda: _set(_first_item("function_call"), ("item", "status"), None),
         "$.item.status", "is not one of"),
        ("function_call arguments an object",
         lambda: _set(_first_item("function_call"), ("item", "arguments"), {"location": "SF"}),
         "$.item.arguments", "is not of type 'string'"),
        ("reasoning without summary", lambda: _drop(_first_item("reasoning"), ("item", "summary")), "$.item",
         "'summary' is a required property"),
        ("usage input_tokens null", usage("input_tokens", None), "$.response.usage.input_tokens",
         "'input_tokens' null is not of type 'integer'"),
        ("usage input_tokens missing", usage("input_tokens"), "$.response.usage",
         "'input_tokens' is a required property"),
        ("usage output_tokens null", usage("output_tokens", None), "$.response.usage.output_tokens",
         "is not of type 'integer'"),
        ("usage total_tokens missing", usage("total_tokens"), "$.response.usage",
         "'total_tokens' is a required property"),
        ("usage total_tokens float", usage("total_tokens", 12.0), "$.response.usage.total_tokens",
         "12.0 is not of type 'integer'"),
        ("cached_tokens null", usage("cached_tokens", None, "input_tokens_details"),
         "$.response.usage.input_tokens_details.cached_tokens", "is not of type 'integer'"),
        ("cached_tokens missing", usage("cached_tokens", ..., "input_tokens_details"),
         "$.response.usage.input_tokens_details", "'cached_tokens' is a required property"),
        ("reasoning_tokens null", usage("reasoning_tokens", None, "output_tokens_details"),
         "$.response.usage.output_tokens_details.reasoning_tokens", "is not of type 'integer'"),
        ("reasoning_tokens missing", usage("reasoning_tokens", ..., "output_tokens_details"),
         "$.response.usage.output_tokens_details", "'reasoning_tokens' is a required property"),
        ("input_tokens_details missing", usage("input_tokens_details"), "$.response.usage",
         "'input_tokens_details' is a required property"),
        ("usage a string", lambda: _set(completed(), ("response", "usage"), "n/a"), "$.response.usage",
         "is not of type 'object' or 'null'"),
        ("delta logprobs missing", lambda: _drop(delta(), ("logprobs",)), "$", "'logprobs' is a required property"),
        ("delta logprobs null", lambda: _set(delta(), ("logprobs",), None), "$.logprobs", "not of type 'array'"),
        ("text done logprobs null", lambda: _set(text_done(), ("logprobs",), None), "$.logprobs",
         "not of type 'array'"),
        ("delta not a string", lambda: _set(delta(), ("delta",), None), "$.delta", "'delta' null is not of type 'string'"),
        ("delta an object", lambda: _set(delta(), ("delta",), {"text": "Hi"}), "$.delta", "is not of type 'string'"),
        ("delta item_id missing", lambda: _drop(delta(), ("item_id",)), "$", "'item_id' is a required property"),
        ("delta output_index missing", lambda: _drop(delta(), ("output_index",)), "$",
         "'output_index' is a required property"),
        ("delta content_index missing", lambda: _drop(delta(), ("content_index",)), "$",
         "'content_index' is a required property"),
        ("text done text missing", lambda: _drop(text_done(), ("text",)), "$", "'text' is a required property"),
        ("part added content_index missing", lambda: _drop(part_added(), ("content_index",)), "$",
         "'content_index' is a required property"),
        ("part of unknown type", lambda: _set(part_added(), ("part", "type"), "text"), "$.part.type", "is not one of"),
        ("item added output_index missing", lambda: _drop(message_added(), ("output_index",)), "$",
         "'output_index' is a required property"),
        ("item added item missing", lambda: _drop(message_added(), ("item",)), "$", "'item' is a required property"),
        ("item without type", lambda: _drop(message_added(), ("item", "type")), "$.item", "'type' is a required property"),
        ("url_citation without title",
         lambda: _drop(_first("response.output_text.annotation.added", "openai-web-search-tool.1.chunks.txt"),
                       ("annotation", "title")), "$.annotation", "'title' is a required property"),
        ("error event without message", lambda: {"type": "error", "sequence_number": 2, "code": "x", "param": None},
         "$", "'message' is a required property"),
        ("nested error without message", lambda: _drop(_first("error"), ("error", "message")), "$.error",
         "'message' is a required property"),
        ("nested error event without sequence_number", lambda: _drop(_first("error"), ("sequence_number",)), "$",
         "'sequence_number' is a required property"),
        ("response.error.code not a string",
         lambda: _set(_first("response.failed"), ("response", "error", "code"), 429), "$.response.error.code",
         "is not of type 'string'"),
        ("response.error without message",
         lambda: _drop(_first("response.failed"), ("response", "error", "message")), "$.response.error",
         "'message' is a required property"),
        ("keepalive without sequence_number", lambda: {"type": "keepalive"}, "$",
         "'sequence_number' is a required property"),
        ("negative output_index", lambda: _set(delta(), ("output_index",), -1), "$.output_index", "less than the minimum"),
    ]


@pytest.mark.parametrize("build,path,text", [c[1:] for c in _reject_cases()], ids=[c[0] for c in _reject_cases()])
def test_wire_compatible_tier_rejects(schemas: SchemaSet, build: Callable[[], dict[str, Any]], path: str, text: str):
    errors = schemas.validate_event(build())
    assert errors, "accepted"
    assert any(e.path == path and text in e.message for e in errors), errors


def test_an_event_without_type_fails_its_schema(schemas: SchemaSet):
    event = _drop(_first("response.output_text.delta"), ("type",))
    assert schemas.validate_event(event) is None  # no type, no schema: framing.type_present reports it
    errors = schemas.validate("events/response.output_text.delta", event)
    assert [(e.path, e.message) for e in errors] == [("$", "'type' is a required property")]


def test_a_failed_response_with_a_non_object_error_is_not_a_schema_concern(schemas: SchemaSet):
    """`error` stays nullable; that a failed response carries one is another check's job."""
    event = _set(_first("response.failed"), ("response", "error"), None)
    assert schemas.validate_event(event) == []


# ---- the engine ---------------------------------------------------------------------------------

def test_unknown_or_missing_types_have_no_schema(schemas: SchemaSet):
    assert schemas.validate_event({"type": "acme:trace", "sequence_number": 3}) is None
    assert schemas.validate_event({"type": "response.done", "sequence_number": 3}) is None
    assert schemas.validate_event({"sequence_number": 3}) is None
    assert schemas.validate_event({"type": 7}) is None


def test_an_error_names_the_value_the_path_and_the_rule(schemas: SchemaSet):
    event = _set(_first("response.created"), ("response", "created_at"), 1756892755.0)
    assert schemas.validate_event(event) == [SchemaError(
        message="'created_at' 1756892755.0 is not of type 'integer'",
        path="$.response.created_at",
        schema_path="objects/response.json#/properties/created_at/type",
    )]


def test_json_parsed_floats_are_not_integers_but_are_numbers(schemas: SchemaSet):
    text = json.dumps(_first("response.created", CAPTURE.name))
    assert '"created_at": 1767340552,' in text
    event = json.loads(text.replace('"created_at": 1767340552,', '"created_at": 1767340552.0,'))
    assert [e.path for e in schemas.validate_event(event)] == ["$.response.created_at"]
    exponent = _set(_first("response.created"), ("response", "created_at"), json.loads("1.7e9"))
    assert [e.path for e in schemas.validate_event(exponent)] == ["$.response.created_at"]
    assert schemas.validate_event(_set(_first("response.created"), ("response", "temperature"), 1.0)) == []


def test_schema_paths_point_into_the_file_that_holds_the_rule(schemas: SchemaSet):
    event = _first_item("message")
    event["item"]["content"][0]["annotations"] = [{"type": "url_citation", "url": "https://example.com"}]
    errors = schemas.validate_event(event)
    assert errors[0].schema_path == "objects/annotation.json#/$defs/url_citation/required"
    for error in errors:
        rel, _, pointer = error.schema_path.partition("#")
        node: Any = DOCS[rel]
        for part in pointer.strip("/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node is not None


def test_nullable_objects_report_the_object_errors_not_the_anyof(schemas: SchemaSet):
    event = _first("response.completed")
    event["response"]["usage"] = {"input_tokens": None}
    messages = [e.message for e in schemas.validate_event(event)]
    assert "'input_tokens' null is not of type 'integer'" in messages
    assert "'total_tokens' is a required property" in messages
    assert not any("any of the given schemas" in m for m in messages)


def test_at_most_a_few_errors_most_relevant_first_and_deterministic(schemas: SchemaSet):
    event = {"type": "response.completed", "sequence_number": 1.5, "response": {"created_at": "now"}}
    errors = schemas.validate_event(event)
    assert len(errors) == MAX_ERRORS
    assert errors[0].path == "$.sequence_number"  # the event's own fields first
    assert errors == schemas.validate_event(copy.deepcopy(event))


def test_one_defect_seen_by_two_rules_is_reported_once(schemas: SchemaSet):
    event = _set(_first_item("message"), ("item", "id"), None)
    errors = schemas.validate_event(event)
    assert [e.path for e in errors] == ["$.item.id"]
    assert errors[0].schema_path == "objects/message.json#/properties/id/type"


def test_validate_takes_names_with_or_without_json(schemas: SchemaSet):
    body = {"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}}
    assert schemas.validate("objects/error_envelope", body) == []
    assert schemas.validate("objects/error_envelope.json", body) == []
    assert schemas.validate("events/error", {"type": "error", "sequence_number": 0, "error": body["error"]}) == []
    with pytest.raises(KeyError):
        schemas.validate("objects/nope", {})


def test_the_default_set_is_loaded_once():
    assert SchemaSet.load() is SchemaSet.load()
    assert SchemaSet.load(SCHEMAS) is not SchemaSet.load()
    assert SchemaSet.load(SCHEMAS) is SchemaSet.load(SCHEMAS)  # one instance per (root, profile)


def test_the_engine_imports_neither_httpx_nor_pytest():
    code = (
        "import sys, responses_conformance.engine.schemas as s; s.SchemaSet.load();"
        "s.SchemaSet.load(profile='openai-strict'); s.SchemaSet.load(profile='openresponses');"
        "bad = {'httpx', 'pytest'} & set(sys.modules); assert not bad, bad"
    )
    env_path = str(REPO / "suite")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                            env={"PYTHONPATH": env_path, "PATH": ""}, cwd=REPO)
    assert result.returncode == 0, result.stderr


# ---- the fast path agrees with jsonschema ----------------------------------------------------

def _mutations(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Copies of an event with one leaf or key broken: dropped, nulled, retyped."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if path:
            paths.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node[:2]):
                walk(value, path + (i,))

    walk(event, ())
    for path in paths[:: max(1, len(paths) // 80)]:
        for value in (..., None, 1.0, 7, "x", True, [], {}):
            mutated = copy.deepcopy(event)
            parent = mutated
            for key in path[:-1]:
                parent = parent[key]
            if value is ...:
                if isinstance(parent, dict):
                    del parent[path[-1]]
                else:
                    continue
            else:
                parent[path[-1]] = value
            yield mutated


def _samples() -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    samples = []
    for _, _, event in REAL_EVENTS:
        if seen.get(event["type"], 0) < 2:
            seen[event["type"]] = seen.get(event["type"], 0) + 1
            samples.append(event)
    return samples


@pytest.mark.parametrize("event", _samples(), ids=lambda e: e["type"])
def test_fast_path_agrees_with_jsonschema(schemas: SchemaSet, event: dict[str, Any]):
    name = "events/" + event["type"]
    fast, slow = schemas._fast[name], schemas._validators[name]
    for mutated in [event, *_mutations(event)]:
        expected = next(slow.iter_errors(mutated), None) is None
        assert fast(mutated) is expected, json.dumps(mutated)[:500]


# ---- profile overlays: the files ---------------------------------------------------------------
#
# schemas/profiles/<overlay>/{events,objects}/*.json replace the base file of the same relative
# name when that profile is loaded (same `$id`), or add a schema the base does not have.

PROFILES_DIR = SCHEMAS / "profiles"
OVERLAY_DOCS = {
    overlay.name: {
        p.relative_to(overlay).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for kind in ("events", "objects")
        for p in sorted((overlay / kind).glob("*.json"))
    }
    for overlay in sorted(PROFILES_DIR.iterdir())
    if overlay.is_dir()
}
OVERLAY_FILES = sorted((name, rel) for name, docs in OVERLAY_DOCS.items() for rel in docs)
# files an overlay adds rather than replaces: Open Responses' own names for raw reasoning events
NEW_IN_OVERLAY = {
    "openai-strict": set(),
    "openresponses": {"events/response.reasoning.delta.json", "events/response.reasoning.done.json"},
}


def _merged(overlay: str) -> dict[str, dict[str, Any]]:
    return {**DOCS, **OVERLAY_DOCS[overlay]}


@pytest.fixture(scope="module")
def strict() -> SchemaSet:
    return SchemaSet.load(profile="openai-strict")


@pytest.fixture(scope="module")
def openresponses() -> SchemaSet:
    return SchemaSet.load(profile="openresponses")


def test_the_overlay_folders_are_the_profiles_overlays():
    from responses_conformance.engine.profiles import PROFILES

    wanted = {p.schema_overlay for p in PROFILES.values() if p.schema_overlay is not None}
    assert set(OVERLAY_DOCS) == wanted == {"openai-strict", "openresponses"}
    assert PROFILES["openai"].schema_overlay is None


@pytest.mark.parametrize("overlay,rel", OVERLAY_FILES, ids=[f"{o}/{r}" for o, r in OVERLAY_FILES])
def test_overlay_file_is_valid_draft_2020_12(overlay: str, rel: str):
    doc = OVERLAY_DOCS[overlay][rel]
    assert doc.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    assert isinstance(doc.get("title"), str) and doc["title"].strip()
    assert isinstance(doc.get("description"), str) and len(doc["description"]) > 20
    assert '"additionalProperties": false' not in json.dumps(doc)
    assert "unevaluatedProperties" not in json.dumps(doc)


@pytest.mark.parametrize("overlay", sorted(OVERLAY_DOCS))
def test_overlay_ids_are_the_ids_of_the_files_they_replace(overlay: str):
    docs = OVERLAY_DOCS[overlay]
    assert {rel for rel in docs if rel not in DOCS} == NEW_IN_OVERLAY[overlay]
    for rel, doc in docs.items():
        assert doc["$id"] == BASE_URI + rel  # replaced: the base file's id; new: the same scheme
        if rel.startswith("events/"):
            assert doc["properties"]["type"] == {"const": rel[len("events/"):-len(".json")]}
            assert {"type", "sequence_number"} <= set(doc["required"])
            assert doc["properties"]["sequence_number"]["type"] == "integer"


def _strip_annotations(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_annotations(v) for k, v in node.items() if k not in ANNOTATIONS}
    if isinstance(node, list):
        return [_strip_annotations(v) for v in node]
    return node


@pytest.mark.parametrize("overlay", sorted(OVERLAY_DOCS))
def test_overlays_are_minimal(overlay: str):
    """An overlay file exists only to say something else than the file it replaces."""
    for rel, doc in OVERLAY_DOCS[overlay].items():
        if rel in DOCS:
            assert _strip_annotations(doc) != _strip_annotations(DOCS[rel]), f"{overlay}/{rel} changes nothing"


@pytest.mark.parametrize("overlay", sorted(OVERLAY_DOCS))
def test_every_ref_resolves_under_each_profile(overlay: str):
    merged = _merged(overlay)
    by_id = {doc["$id"]: doc for doc in merged.values()}
    for rel, doc in merged.items():
        for where, node in _refs(doc):
            ref = node["$ref"]
            assert not ref.startswith("http"), f"{overlay}: {rel}{where}: use a relative $ref"
            target, fragment = urldefrag(urljoin(doc["$id"], ref))
            assert target in by_id, f"{overlay}: {rel}{where}: {ref} names no file"
            found: Any = by_id[target]
            for part in (p for p in fragment.split("/") if p):
                found = found[part.replace("~1", "/").replace("~0", "~")]
            assert isinstance(found, dict), f"{overlay}: {rel}{where}: {ref} does not resolve"
            assert set(node) - ANNOTATIONS == {"$ref"}, f"{overlay}: {rel}{where}: $ref with sibling keywords"


# ---- profile overlays: the loader ----------------------------------------------------------------

def test_a_profile_loads_base_plus_overlay(strict: SchemaSet, openresponses: SchemaSet, schemas: SchemaSet):
    assert schemas.overlay is None and strict.overlay == "openai-strict" and openresponses.overlay == "openresponses"
    assert strict.names == schemas.names
    assert openresponses.names == schemas.names | {"events/response.reasoning.delta", "events/response.reasoning.done"}
    assert openresponses.event_types == schemas.event_types | {"response.reasoning.delta", "response.reasoning.done"}
    for loaded, overlay in ((strict, "openai-strict"), (openresponses, "openresponses")):
        for name in loaded.names:
            rel = name + ".json"
            expected = OVERLAY_DOCS[overlay].get(rel, DOCS.get(rel))
            assert loaded._documents[name] == expected, name  # replaced by the overlay, else the base


def test_profiles_are_cached_per_root_and_profile(strict: SchemaSet, schemas: SchemaSet):
    assert SchemaSet.load(profile=None) is schemas
    assert SchemaSet.load(profile="openai") is schemas
    assert SchemaSet.load(profile="openai-strict") is strict
    assert SchemaSet.load(SCHEMAS, profile="openai-strict") is SchemaSet.load(SCHEMAS, profile="openai-strict")
    assert SchemaSet.load(SCHEMAS, profile="openai-strict") is not strict  # another root key
    assert SchemaSet.load(profile="openresponses") is not strict


def test_an_unknown_profile_is_a_value_error():
    with pytest.raises(ValueError, match="unknown profile"):
        SchemaSet.load(profile="anthropic")


def test_a_root_without_the_overlay_folder_is_an_error(tmp_path: Path):
    for kind in ("events", "objects"):
        (tmp_path / kind).mkdir()
    assert SchemaSet.load(tmp_path).names == frozenset()
    with pytest.raises(FileNotFoundError, match="overlay"):
        SchemaSet.load(tmp_path, profile="openresponses")


def test_an_overlay_file_must_keep_the_id_of_the_file_it_replaces(tmp_path: Path):
    for kind in ("events", "objects"):
        (tmp_path / kind).mkdir()
    (tmp_path / "objects" / "thing.json").write_text(json.dumps({"type": "object"}), encoding="utf-8")
    overlay = tmp_path / "profiles" / "openresponses" / "objects"
    overlay.mkdir(parents=True)
    (overlay / "thing.json").write_text(json.dumps({"$id": BASE_URI + "objects/other.json"}), encoding="utf-8")
    with pytest.raises(ValueError, match="is not the \\$id of the file it replaces"):
        SchemaSet.load(tmp_path, profile="openresponses")
    (overlay / "thing.json").write_text(json.dumps({"type": "string"}), encoding="utf-8")  # $id by its name
    loaded = SchemaSet.load(tmp_path, profile="openresponses")  # the failed load was not cached
    assert loaded.validate("objects/thing", "x") == [] and loaded.validate("objects/thing", {})


@pytest.mark.parametrize("profile", ["openai-strict", "openresponses"])
def test_every_schema_gets_a_fast_check_under_each_profile(profile: str):
    loaded = SchemaSet.load(profile=profile)
    assert {name for name, fast in loaded._fast.items() if fast is None} == set()


def test_an_overlay_rule_is_located_in_the_overlay_file(openresponses: SchemaSet):
    event = _first("response.created", CAPTURE.name)
    errors = openresponses.validate_event(event)
    assert [(e.path, e.message, e.schema_path) for e in errors] == [
        ("$.response", "'presence_penalty' is a required property",
         "profiles/openresponses/objects/response.json#/required"),
        ("$.response", "'frequency_penalty' is a required property",
         "profiles/openresponses/objects/response.json#/required"),
    ]
    # a rule the overlay does not replace still names the base file
    event["response"]["output"] = [{"type": "message", "id": "m", "status": "completed", "role": "assistant"}]
    event["response"].update(presence_penalty=0, frequency_penalty=0)
    [error] = openresponses.validate_event(event)
    assert error.schema_path == "objects/message.json#/required"


# ---- openai-strict: the published schema as written, and what real OpenAI traffic does to it -------
#
# Each reason is one documented relaxation of the base tier (schemas/README.md), i.e. one finding of
# spec-notes section 7, with the events it may hit: (event types, error path, message text).

STRICT_REASONS: dict[str, tuple[set[str], str, str]] = {
    "user null": (
        {"response.created", "response.in_progress", "response.completed", "response.failed"},
        "$.response.user", "'user' null is not of type 'string'"),
    "usage null in a snapshot": (
        {"response.created", "response.in_progress", "response.failed"},
        "$.response.usage", "'usage' null is not of type 'object'"),
    "cache_write_tokens missing": (
        {"response.completed"}, "$.response.usage.input_tokens_details", "'cache_write_tokens' is a required property"),
    "function_call_arguments.done without name": (
        {"response.function_call_arguments.done"}, "$", "'name' is a required property"),
    "in-progress web_search_call without action": (
        {"response.output_item.added"}, "$.item", "'action' is a required property"),
    "response.error.code outside ResponseErrorCode": (
        {"response.failed"}, "$.response.error.code", "'code' \"insufficient_quota\" is not one of"),
    "nested error event": ({"error"}, "$", "is a required property"),  # code, message, param
    "error missing (xAI)": (
        {"response.created", "response.in_progress", "response.completed"}, "$.response", "'error' is a required property"),
    "instructions missing (xAI)": (
        {"response.created", "response.in_progress", "response.completed"}, "$.response",
        "'instructions' is a required property"),
    "output_text.done without logprobs (xAI)": (
        {"response.output_text.done"}, "$", "'logprobs' is a required property"),
}

STRICT_EXPECTED: dict[str, set[str]] = {
    CAPTURE.name: {"user null", "usage null in a snapshot", "cache_write_tokens missing"},
    "openai-code-interpreter-tool.1.chunks.txt": {"user null", "usage null in a snapshot", "cache_write_tokens missing"},
    "openai-file-search-tool.1.chunks.txt": {"user null", "usage null in a snapshot", "cache_write_tokens missing"},
    "openai-mcp-tool.1.chunks.txt": {"user null", "usage null in a snapshot", "cache_write_tokens missing"},
    "openai-web-search-tool.1.chunks.txt": {"user null", "usage null in a snapshot", "cache_write_tokens missing",
                                            "in-progress web_search_call without action"},
    "openai-error.1.chunks.txt": {"user null", "usage null in a snapshot", "nested error event",
                                  "response.error.code outside ResponseErrorCode"},
    # LM Studio: no `user` at all, but null usage snapshots and no `name` on arguments.done
    "lmstudio-tool-call.1.chunks.txt": {"usage null in a snapshot", "cache_write_tokens missing",
                                        "function_call_arguments.done without name"},
    # xAI: usage is an object from the start; no error/instructions; a done without logprobs
    "xai-text-with-reasoning-streaming.1.chunks.txt": {"user null", "cache_write_tokens missing",
                                                       "error missing (xAI)", "instructions missing (xAI)",
                                                       "output_text.done without logprobs (xAI)"},
}


def _all_errors(loaded: SchemaSet, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[SchemaError]:
    monkeypatch.setattr(schemas_module, "MAX_ERRORS", 100)  # every error, not the first few
    errors = loaded.validate_event(event)
    assert errors is not None, event["type"]
    return errors


def _reasons(table: dict[str, tuple[set[str], str, str]], event: dict[str, Any], error: SchemaError) -> list[str]:
    return [reason for reason, (types, path, text) in table.items()
            if event["type"] in types and error.path == path and text in error.message]


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_real_traffic_under_openai_strict_fails_exactly_as_spec_notes_say(
        strict: SchemaSet, schemas: SchemaSet, source: str, monkeypatch: pytest.MonkeyPatch):
    seen: set[str] = set()
    for i, event in enumerate(SOURCES[source]):
        errors = _all_errors(strict, event, monkeypatch)
        for error in errors:
            reasons = _reasons(STRICT_REASONS, event, error)
            assert len(reasons) == 1, f"event #{i} {event['type']}: unexpected {error}"
            seen.update(reasons)
        if errors:
            assert schemas.validate_event(event) == [], f"event #{i} must pass the wire-compatible tier"
    assert seen == STRICT_EXPECTED[source]


def test_openai_strict_accepts_real_events_once_the_departures_are_undone(strict: SchemaSet):
    """Patch exactly the section-7 departures on a copy: what is left passes the published schema."""
    for _, _, event in REAL_EVENTS:
        event = copy.deepcopy(event)
        response = event.get("response")
        if isinstance(response, dict):
            response.setdefault("error", None)
            response.setdefault("instructions", None)
            if response.get("user", "") is None:
                response["user"] = "user-1234"
            if response.get("usage", "") is None:
                response.pop("usage")  # SPEC: not nullable, but not required either
            details = (response.get("usage") or {}).get("input_tokens_details")
            if isinstance(details, dict):
                details.setdefault("cache_write_tokens", 0)
            if isinstance(response.get("error"), dict):
                response["error"]["code"] = "server_error"
        if event["type"] == "error" and "error" in event:
            nested = event.pop("error")
            event.update(code=nested["code"], message=nested["message"], param=nested["param"])
        if event["type"] == "response.function_call_arguments.done":
            event.setdefault("name", "weather")
        if event["type"] == "response.output_text.done":
            event.setdefault("logprobs", [])
        item = event.get("item")
        if isinstance(item, dict) and item.get("type") == "web_search_call":
            item.setdefault("action", {"type": "search"})
        assert strict.validate_event(event) == [], event["type"]


def _strict_reject_cases() -> list[tuple[str, Callable[[], dict[str, Any]], str, str]]:
    return [
        ("unknown item kind", lambda: _set(_first_item("message"), ("item",), {"type": "acme_call", "id": "x"}),
         "$.item.type", "is not one of"),
        ("unknown annotation kind", lambda: _set(_first("response.output_text.annotation.added"), ("annotation",),
                                                 {"type": "page_citation", "page": 3}), "$.annotation.type",
         "is not one of"),
        ("output_text part without logprobs", lambda: _drop(_first("response.content_part.added", CAPTURE.name),
                                                            ("part", "logprobs")), "$.part",
         "'logprobs' is a required property"),
        ("audio.done without response_id", lambda: {"type": "response.audio.done", "sequence_number": 3}, "$",
         "'response_id' is a required property"),
        ("nested error event", lambda: _first("error"), "$", "'code' is a required property"),
        ("usage null", lambda: _set(_first("response.completed"), ("response", "usage"), None), "$.response.usage",
         "'usage' null is not of type 'object'"),
    ]


@pytest.mark.parametrize("build,path,text", [c[1:] for c in _strict_reject_cases()],
                         ids=[c[0] for c in _strict_reject_cases()])
def test_openai_strict_rejects_what_the_base_tier_accepts(strict: SchemaSet, schemas: SchemaSet,
                                                          build: Callable[[], dict[str, Any]], path: str, text: str):
    event = build()
    assert schemas.validate_event(event) == []
    errors = strict.validate_event(event)
    assert any(e.path == path and text in e.message for e in errors), errors


def test_openai_strict_keeps_every_base_rule(strict: SchemaSet):
    """Strict is base plus the published requirements: what the base rejects, strict rejects too."""
    for build, path, text in [c[1:] for c in _reject_cases()]:
        event = build()
        assert strict.validate_event(event), (path, text)


# ---- openresponses: the Open Responses spec ----------------------------------------------------

def _or_response(status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None,
                 completed_at: int | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ResponseResource with all 31 required fields (OR release 2026-04-24), built by hand."""
    return {
        "id": "resp_or_1", "object": "response", "created_at": 1769008929, "completed_at": completed_at,
        "status": status, "incomplete_details": None, "model": "acme-1", "previous_response_id": None,
        "instructions": None, "output": output, "error": error,
        "tools": [{"type": "function", "name": "weather", "description": "Weather in a place",
                   "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
                   "strict": False}],
        "tool_choice": "auto", "truncation": "disabled", "parallel_tool_calls": True,
        "text": {"format": {"type": "text"}}, "top_p": 1, "presence_penalty": 0, "frequency_penalty": 0,
        "top_logprobs": 0, "temperature": 0.7, "reasoning": {"effort": None, "summary": None}, "usage": usage,
        "max_output_tokens": None, "max_tool_calls": None, "store": True, "background": False,
        "service_tier": "default", "metadata": {}, "safety_identifier": None, "prompt_cache_key": None,
    }


def _or_stream() -> list[dict[str, Any]]:
    """A small Open Responses stream: a reasoning item with raw reasoning content, a message with a
    url_citation, a function call; every item with id, type and status; no logprobs anywhere."""
    rs, msg, fc = "rs_1", "msg_1", "fc_1"
    thought, text = "The user wants the weather.", "Checking the weather [1]."
    citation = {"type": "url_citation", "url": "https://example.com/weather", "start_index": 21,
                "end_index": 24, "title": "Weather"}
    reasoning_done = {"id": rs, "type": "reasoning", "status": "completed", "summary": [],
                      "content": [{"type": "reasoning_text", "text": thought}]}
    part_done = {"type": "output_text", "text": text, "annotations": [citation]}
    message_done = {"id": msg, "type": "message", "status": "completed", "role": "assistant", "content": [part_done]}
    call_done = {"id": fc, "type": "function_call", "status": "completed", "call_id": "call_1", "name": "weather",
                 "arguments": '{"location":"Paris"}'}
    usage = {"input_tokens": 20, "output_tokens": 12, "total_tokens": 32,
             "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 5}}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _or_response("in_progress", [], None)},
        {"type": "response.in_progress", "response": _or_response("in_progress", [], None)},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"id": rs, "type": "reasoning", "status": "in_progress", "summary": [], "content": []}},
        {"type": "response.content_part.added", "item_id": rs, "output_index": 0, "content_index": 0,
         "part": {"type": "reasoning_text", "text": ""}},
        {"type": "response.reasoning.delta", "item_id": rs, "output_index": 0, "content_index": 0, "delta": thought},
        {"type": "response.reasoning.done", "item_id": rs, "output_index": 0, "content_index": 0, "text": thought},
        {"type": "response.content_part.done", "item_id": rs, "output_index": 0, "content_index": 0,
         "part": {"type": "reasoning_text", "text": thought}},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning_done},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {"id": msg, "type": "message", "status": "in_progress", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "item_id": msg, "output_index": 1, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        {"type": "response.output_text.delta", "item_id": msg, "output_index": 1, "content_index": 0,
         "delta": text[:9]},
        {"type": "response.output_text.delta", "item_id": msg, "output_index": 1, "content_index": 0,
         "delta": text[9:]},
        {"type": "response.output_text.annotation.added", "item_id": msg, "output_index": 1, "content_index": 0,
         "annotation_index": 0, "annotation": citation},
        {"type": "response.output_text.done", "item_id": msg, "output_index": 1, "content_index": 0, "text": text},
        {"type": "response.content_part.done", "item_id": msg, "output_index": 1, "content_index": 0,
         "part": part_done},
        {"type": "response.output_item.done", "output_index": 1, "item": message_done},
        {"type": "response.output_item.added", "output_index": 2,
         "item": {**call_done, "status": "in_progress", "arguments": ""}},
        {"type": "response.function_call_arguments.delta", "item_id": fc, "output_index": 2,
         "delta": call_done["arguments"]},
        {"type": "response.function_call_arguments.done", "item_id": fc, "output_index": 2,
         "arguments": call_done["arguments"]},
        {"type": "response.output_item.done", "output_index": 2, "item": call_done},
        {"type": "response.completed",
         "response": _or_response("completed", [reasoning_done, message_done, call_done], usage, 1769008931)},
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def _or_error_stream() -> list[dict[str, Any]]:
    """created, in_progress, the nested OR `error` event, failed."""
    failed = _or_response("failed", [], None, error={"code": "server_error", "message": "The model crashed."})
    events = [
        {"type": "response.created", "response": _or_response("in_progress", [], None)},
        {"type": "response.in_progress", "response": _or_response("in_progress", [], None)},
        {"type": "error", "error": {"type": "model_error", "code": None, "message": "The model crashed.",
                                    "param": None}},
        {"type": "response.failed", "response": failed},
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


OR_STREAM = _or_stream() + _or_error_stream()


def test_an_open_responses_stream_passes_under_openresponses(openresponses: SchemaSet):
    from responses_conformance.engine.profiles import PROFILES

    profile = PROFILES["openresponses"]
    for event in OR_STREAM:
        assert profile.is_known_event(event["type"]), event["type"]
        assert openresponses.validate_event(event) == [], event["type"]
    for event in OR_STREAM:
        if event["type"] in ("response.completed", "response.failed"):
            assert openresponses.validate("objects/response", event["response"]) == []
            assert len(event["response"]) == 31


def test_the_same_stream_is_not_plain_openai(schemas: SchemaSet):
    """What sets the tiers apart: OR's deltas carry no logprobs, its reasoning events have OR names."""
    failing = {e["type"] for e in OR_STREAM if schemas.validate_event(e)}
    unknown = {e["type"] for e in OR_STREAM if schemas.validate_event(e) is None}
    assert failing == {"response.output_text.delta"}  # H-08: openai-python requires logprobs
    assert unknown == {"response.reasoning.delta", "response.reasoning.done"}


def test_the_january_capture_fails_response_resource(openresponses: SchemaSet):
    """spec-notes section 7: OpenAI's 2026-01-02 responses lack the penalties OR requires."""
    errors = openresponses.validate_event(_first("response.created", CAPTURE.name))
    assert [(e.path, e.message) for e in errors] == [
        ("$.response", "'presence_penalty' is a required property"),
        ("$.response", "'frequency_penalty' is a required property"),
    ]


OR_REASONS: dict[str, tuple[set[str], str, str]] = {
    "penalties missing": (
        {"response.created", "response.in_progress", "response.completed", "response.failed"}, "$.response",
        "_penalty' is a required property"),
    "completed_at missing (older servers)": (
        {"response.created", "response.in_progress", "response.completed", "response.failed"}, "$.response",
        "'completed_at' is a required property"),
    "item without status (OpenAI reasoning, mcp_list_tools)": (
        {"response.output_item.added", "response.output_item.done"}, "$.item", "'status' is a required property"),
    "final output item without status": ({"response.completed"}, "$.response.output[", "'status' is a required"),
    "error type outside the OR table": ({"error"}, "$.error.type", "'type' \"insufficient_quota\" is not one of"),
    "response fields missing (xAI)": (
        {"response.created", "response.in_progress", "response.completed"}, "$.response", "is a required property"),
    "temperature/top_p null (xAI)": (
        {"response.created", "response.in_progress", "response.completed"}, "$.response.t", "null is not of type 'number'"),
}

OR_EXPECTED: dict[str, set[str]] = {
    CAPTURE.name: {"penalties missing"},
    "openai-code-interpreter-tool.1.chunks.txt": {"penalties missing", "completed_at missing (older servers)",
                                                  "item without status (OpenAI reasoning, mcp_list_tools)",
                                                  "final output item without status"},
    "openai-file-search-tool.1.chunks.txt": {"penalties missing", "completed_at missing (older servers)",
                                             "item without status (OpenAI reasoning, mcp_list_tools)",
                                             "final output item without status"},
    "openai-mcp-tool.1.chunks.txt": {"penalties missing", "completed_at missing (older servers)",
                                     "item without status (OpenAI reasoning, mcp_list_tools)",
                                     "final output item without status"},
    "openai-web-search-tool.1.chunks.txt": {"penalties missing", "completed_at missing (older servers)",
                                            "item without status (OpenAI reasoning, mcp_list_tools)",
                                            "final output item without status"},
    "openai-error.1.chunks.txt": {"penalties missing", "completed_at missing (older servers)",
                                  "error type outside the OR table"},
    "xai-text-with-reasoning-streaming.1.chunks.txt": {"penalties missing", "completed_at missing (older servers)",
                                                       "response fields missing (xAI)", "temperature/top_p null (xAI)"},
    "lmstudio-tool-call.1.chunks.txt": set(),
}


def _or_reasons(event: dict[str, Any], error: SchemaError) -> list[str]:
    found = [reason for reason, (types, path, text) in OR_REASONS.items()
             if event["type"] in types and error.path.startswith(path) and text in error.message]
    if len(found) > 1 and "response fields missing (xAI)" in found:  # the specific reason wins
        found.remove("response fields missing (xAI)")
    return found


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_real_traffic_under_openresponses(openresponses: SchemaSet, source: str, monkeypatch: pytest.MonkeyPatch):
    seen: set[str] = set()
    for i, event in enumerate(SOURCES[source]):
        for error in _all_errors(openresponses, event, monkeypatch):
            reasons = _or_reasons(event, error)
            assert len(reasons) == 1, f"event #{i} {event['type']}: unexpected {error}"
            seen.update(reasons)
    assert seen == OR_EXPECTED[source]


def test_lm_studio_an_open_responses_implementer_under_openresponses(openresponses: SchemaSet):
    """What LM Studio's recorded stream does under the openresponses profile.

    Every payload passes the OR schemas: all 31 Response fields, items with id/type/status, OR
    `LogProb`s (with `bytes`) on its deltas, usage without cache_write_tokens. But it streams raw
    reasoning as OpenAI's `response.reasoning_text.delta/.done`, not OR's `response.reasoning.*`:
    those 49 events are outside OR's event set, which the profile (not the schemas) reports as
    unknown event types (check schema.known_event_type). It also sends no argument deltas for its
    function call, which OR allows.
    """
    from responses_conformance.engine.profiles import PROFILES

    events = SOURCES["lmstudio-tool-call.1.chunks.txt"]
    assert all(openresponses.validate_event(e) == [] for e in events)
    unknown = Counter(e["type"] for e in events if not PROFILES["openresponses"].is_known_event(e["type"]))
    assert unknown == {"response.reasoning_text.delta": 48, "response.reasoning_text.done": 1}
    assert not any(e["type"] == "response.function_call_arguments.delta" for e in events)


def _or_reject_cases() -> list[tuple[str, Callable[[], dict[str, Any]], str, str]]:
    def at(n: int) -> Callable[[], dict[str, Any]]:
        return lambda: copy.deepcopy(OR_STREAM[n])

    created, reasoning_delta, message_added, delta = at(0), at(4), at(8), at(10)
    completed, error = at(20), at(23)
    return [
        ("presence_penalty missing", lambda: _drop(created(), ("response", "presence_penalty")), "$.response",
         "'presence_penalty' is a required property"),
        ("completed_at missing", lambda: _drop(created(), ("response", "completed_at")), "$.response",
         "'completed_at' is a required property"),
        ("top_p null", lambda: _set(created(), ("response", "top_p"), None), "$.response.top_p",
         "'top_p' null is not of type 'number'"),
        ("instructions an item list", lambda: _set(created(), ("response", "instructions"), []),
         "$.response.instructions", "is not of type 'string' or 'null'"),
        ("truncation null", lambda: _set(created(), ("response", "truncation"), None), "$.response.truncation",
         "is not one of"),
        ("usage with a null counter", lambda: _set(completed(), ("response", "usage", "input_tokens"), None),
         "$.response.usage.input_tokens", "is not of type 'integer'"),
        ("item without status", lambda: _drop(message_added(), ("item", "status")), "$.item",
         "'status' is a required property"),
        ("function_call without id", lambda: _drop(completed(), ("response", "output", 2, "id")),
         "$.response.output[2]", "'id' is a required property"),
        ("flat error event", lambda: {"type": "error", "sequence_number": 2, "code": None, "message": "boom",
                                      "param": None}, "$", "'error' is a required property"),
        ("nested error without param", lambda: _drop(error(), ("error", "param")), "$.error",
         "'param' is a required property"),
        ("nested error without type", lambda: _drop(error(), ("error", "type")), "$.error",
         "'type' is a required property"),
        ("error type not in the OR table", lambda: _set(error(), ("error", "type"), "invalid_request_error"),
         "$.error.type", "is not one of"),
        ("delta logprob without bytes",
         lambda: _set(delta(), ("logprobs",), [{"token": "Hi", "logprob": -0.1, "top_logprobs": []}]),
         "$.logprobs[0]", "'bytes' is a required property"),
        ("reasoning delta without content_index", lambda: _drop(reasoning_delta(), ("content_index",)), "$",
         "'content_index' is a required property"),
        ("url_citation without title", lambda: _drop(at(12)(), ("annotation", "title")), "$.annotation",
         "'title' is a required property"),
    ]


@pytest.mark.parametrize("build,path,text", [c[1:] for c in _or_reject_cases()], ids=[c[0] for c in _or_reject_cases()])
def test_openresponses_rejects(openresponses: SchemaSet, build: Callable[[], dict[str, Any]], path: str, text: str):
    errors = openresponses.validate_event(build())
    assert any(e.path == path and text in e.message for e in errors), errors


def test_openresponses_accepts_unknown_annotation_kinds_and_optional_logprobs(openresponses: SchemaSet):
    """Decisions: OR defines url_citation only; other kinds are accepted with only `type` checked
    (as the base tier accepts unknown kinds); logprobs are optional on both text events."""
    annotation = copy.deepcopy(OR_STREAM[12])
    for kind in ({"type": "file_citation", "file_id": "f", "filename": "a.pdf", "index": 0},
                 {"type": "file_citation"}, {"type": "acme:page_citation", "page": 3}):
        annotation["annotation"] = kind
        assert openresponses.validate_event(annotation) == []
    done = copy.deepcopy(OR_STREAM[13])
    assert "logprobs" not in done and "logprobs" not in OR_STREAM[10]
    done["logprobs"] = [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}]
    assert openresponses.validate_event(done) == []


def test_the_http_error_envelope_under_openresponses(openresponses: SchemaSet):
    head, _ = _capture()
    body = json.loads(head + "\n}")
    [error] = openresponses.validate("objects/error_envelope", body)  # OpenAI's invalid_request_error
    assert (error.path, error.schema_path) == ("$.error.type", "profiles/openresponses/objects/api_error.json#/properties/type/enum")
    body["error"]["type"] = "invalid_request"
    assert openresponses.validate("objects/error_envelope", body) == []


# ---- the fast path agrees with jsonschema under every profile ------------------------------------

@pytest.mark.parametrize("profile", ["openai-strict", "openresponses"])
def test_fast_path_agrees_with_jsonschema_under_each_profile(profile: str):
    loaded = SchemaSet.load(profile=profile)
    samples = _samples() + [e for e in OR_STREAM if e["type"] in ("response.reasoning.delta", "response.completed",
                                                                 "error", "response.output_text.annotation.added")]
    for event in samples:
        name = "events/" + event["type"]
        if name not in loaded.names:
            continue  # OR's reasoning events have no schema outside the openresponses overlay
        fast, slow = loaded._fast[name], loaded._validators[name]
        for mutated in [event, *_mutations(event)]:
            expected = next(slow.iter_errors(mutated), None) is None
            assert fast(mutated) is expected, (profile, json.dumps(mutated)[:500])


# ---- lenient `added`, strict `done` ----------------------------------------------------------

def _in_progress_added(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": item}


# OBS (issue class 5): OpenAI opens hosted-tool items with only {id, type, status}.
PARTIAL_HOSTED_ITEMS = [
    {"id": "ig_1", "type": "image_generation_call", "status": "in_progress"},
    {"id": "ws_1", "type": "web_search_call", "status": "in_progress"},
    {"id": "fs_1", "type": "file_search_call", "status": "in_progress"},
    {"id": "ci_1", "type": "code_interpreter_call", "status": "in_progress"},
    {"id": "mcp_1", "type": "mcp_call", "status": "in_progress"},
    {"id": "mcpl_1", "type": "mcp_list_tools", "status": "in_progress"},
]


@pytest.mark.parametrize("item", PARTIAL_HOSTED_ITEMS, ids=lambda i: i["type"])
def test_a_partial_item_is_accepted_at_added(schemas: SchemaSet, item: dict[str, Any]):
    assert schemas.validate_event(_in_progress_added(item)) == []


@pytest.mark.parametrize("item", PARTIAL_HOSTED_ITEMS[:1] + PARTIAL_HOSTED_ITEMS[2:], ids=lambda i: i["type"])
def test_the_same_partial_item_fails_at_done(schemas: SchemaSet, item: dict[str, Any]):
    done = dict(_in_progress_added(item), type="response.output_item.done")
    assert schemas.validate_event(done), "a finished item must carry its kind's required fields"


def test_fields_carried_at_added_keep_their_types(schemas: SchemaSet):
    bad = _in_progress_added({"id": "ig_1", "type": "image_generation_call", "status": "in_progress", "result": 7})
    assert [e.path for e in schemas.validate_event(bad)] == ["$.item.result"]


def test_what_clients_append_to_is_required_at_added(schemas: SchemaSet):
    # SDK accumulators append deltas to these fields of the added item (spec-notes section 8).
    for item, field in (({"id": "fc_1", "type": "function_call", "status": "in_progress", "call_id": "c", "name": "f"},
                         "arguments"),
                        ({"id": "rs_1", "type": "reasoning"}, "summary")):
        errors = schemas.validate_event(_in_progress_added(item))
        assert errors and f"'{field}' is a required property" in errors[0].message


def test_openai_strict_wants_the_full_item_at_added():
    strict = SchemaSet.load(profile="openai-strict")
    assert strict.validate_event(_in_progress_added(PARTIAL_HOSTED_ITEMS[0]))


def test_an_optional_reasoning_content_sent_as_null_is_absent(schemas: SchemaSet):
    # Seen from fastresponses: the SDK model dumped with its unset optional field as null.
    done = {"type": "response.output_item.done", "sequence_number": 3, "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": [], "content": None}}
    assert schemas.validate_event(done) == []
    assert SchemaSet.load(profile="openai-strict").validate_event(done)


def test_the_defaults_table_knows_which_defaulted_fields_the_schema_requires():
    from responses_conformance.engine import defaults

    required = set(DOCS["objects/response.json"]["required"])
    assert defaults.REQUIRED_DEFAULTED == required & set(defaults.RESPONSE_DEFAULTS)
