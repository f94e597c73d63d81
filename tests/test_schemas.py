"""The JSON Schemas in schemas/ and the engine that applies them.

Four kinds of test:
  * the schema files themselves: valid 2020-12, ids, references, names;
  * real traffic: every real event in tests/fixtures validates (real traffic is conformant by
    definition), and the official SDK's typed models agree;
  * what strict clients choke on is rejected, at the right path;
  * the engine: messages, paths, limits, and the fast path agreeing with jsonschema.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import pytest
from jsonschema import Draft202012Validator

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


def test_the_engine_imports_neither_httpx_nor_pytest():
    code = (
        "import sys, responses_conformance.engine.schemas as s; s.SchemaSet.load();"
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
