"""Tests of the embedded reference server: over real sockets, with httpx and the official
`openai` SDK as a second opinion, the suite's own checker on every scripted behaviour, plus
one test per deliberate fault."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pydantic
import pytest
from responses_conformance.engine.checker import StreamChecker, check_response_body
from responses_conformance.engine.checks.consistency import shape_differences
from responses_conformance.engine.schemas import SchemaSet
from ._servers import running
from responses_conformance.reference import (
    DEFAULT_API_KEY,
    FAULTS,
    FLAVOURS,
    ReferenceServer,
    create_app,
)
from responses_conformance.reference.__main__ import main as reference_main
from responses_conformance.reference.errors import mask_key
from responses_conformance.reference.model import (
    FunctionTool,
    Options,
    count_tokens,
    generate,
    messages_from_input,
    reply_text,
    select_tools,
    split_deltas,
    split_json_deltas,
    value_for_schema,
)
from starlette.testclient import TestClient

MODEL = "ref-model-1"
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]
LONG_INPUT = "Tell me, please: " + " ".join(f"w{i}," for i in range(60))


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ReferenceServer]]:
    """Every live server the module needs, started once and stopped in parallel (a uvicorn
    shutdown takes ~0.2 s): "default", "slow" (events 4 ms apart), "openresponses" (that
    flavour), and one per fault."""
    specs: dict[str, dict[str, Any]] = {
        "default": {},
        "slow": {"event_delay": 0.004},
        "openresponses": {"flavour": "openresponses"},
    }
    specs.update({name: {"faults": {name}} for name in sorted(FAULTS - STATE_FAULTS)})
    with running(specs) as started:
        yield started


@pytest.fixture(scope="module")
def server(servers: dict[str, ReferenceServer]) -> ReferenceServer:
    return servers["default"]


@pytest.fixture(scope="module")
def fault_servers(servers: dict[str, ReferenceServer]) -> dict[str, ReferenceServer]:
    return {name: srv for name, srv in servers.items() if name in FAULTS}


@pytest.fixture(scope="module")
def http(server: ReferenceServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def plain() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def client(server: ReferenceServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0) as c:
        yield c


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event line, decoded data) for each SSE event of a body."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) == {"event", "data"}, block
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def stream(http: httpx.Client, **body: Any) -> tuple[httpx.Response, list[tuple[str, dict]]]:
    payload = {"model": MODEL, "input": "Hello there, reference!", "stream": True, **body}
    response = http.post("/responses", json=payload)
    assert response.status_code == 200, response.text
    return response, parse_sse(response.text)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


# ----------------------------------------------------------------------------- model


def test_model_is_deterministic_and_reflects_input() -> None:
    plain = reply_text(MODEL, None, messages_from_input("hi  there\n"))
    assert plain == 'You said: "hi there". I am the reference model.'
    marked = reply_text(MODEL, "Be terse.", messages_from_input("hi"))
    assert marked.startswith("[instructions:") and marked != plain
    assert reply_text(MODEL, "Be terse.", messages_from_input("hi")) == marked
    turns = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]},
    ]
    assert reply_text(MODEL, None, messages_from_input(turns)) == (
        'You said: "two". Earlier you said: "one". This is turn 2. I am the reference model.')
    assert '"two"' in reply_text(MODEL, None, messages_from_input(turns))
    assert "mini" in reply_text("ref-model-mini", None, messages_from_input("hi"))
    quoted = reply_text(MODEL, None, messages_from_input("x" * 500))
    assert "x" * 200 in quoted and "x" * 201 not in quoted


def test_model_deltas_and_token_accounting() -> None:
    text = "Hey! I'm an AI, developed here.  Ok "
    assert "".join(split_deltas(text)) == text
    assert split_deltas("Hey! I'm ok.") == ["Hey", "!", " I'm", " ok", "."]
    assert count_tokens("Hey! I'm ok.") == 5
    done = generate(MODEL, "Be terse.", messages_from_input("Hello, world"))
    assert done.output_tokens == len(done.deltas) > 3 and "".join(done.deltas) == done.text
    assert done.input_tokens == count_tokens("Be terse.") + count_tokens("Hello, world")
    assert generate(MODEL, None, messages_from_input("")).input_tokens == 1
    cut = generate(MODEL, None, messages_from_input("Hello"), max_output_tokens=2)
    assert cut.truncated and cut.output_tokens == 2 and cut.text == "You said"


def test_mask_key() -> None:
    assert mask_key("sk-reference-local") == "sk-r***cal"
    assert mask_key("short-key-12") == "***"


# ----------------------------------------------------------------------------- SDK


def test_sdk_stream_create_consumes_every_event_in_order(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model=MODEL, input="Hello SDK", stream=True))
    kinds = [e.type for e in events]
    collapsed = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
    assert collapsed == TEXT_EVENTS
    assert kinds.count("response.output_text.delta") > 3
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert final.status == "completed" and final.output_text.startswith('You said: "Hello SDK"')


def test_sdk_stream_helper_final_response(client: openai.OpenAI) -> None:
    deltas = []
    with client.responses.stream(model=MODEL, input="Helper test", instructions="Be nice.") as s:
        for event in s:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = s.get_final_response()
    assert final.output_text == "".join(deltas)
    assert final.output_text.startswith("[instructions:") and final.instructions == "Be nice."
    usage = final.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens == len(deltas)


def test_sdk_non_stream_and_retrieve(client: openai.OpenAI) -> None:
    created = client.responses.create(
        model="ref-model-mini", input="Retrieve me", temperature=0.5, metadata={"k": "v"}
    )
    assert re.fullmatch(r"resp_[0-9a-f]{50}", created.id)
    assert re.fullmatch(r"msg_[0-9a-f]{50}", created.output[0].id)
    assert created.status == "completed" and created.model == "ref-model-mini"
    assert created.temperature == 0.5 and created.top_p == 1.0 and created.metadata == {"k": "v"}
    assert created.output_text == reply_text(
        "ref-model-mini", None, messages_from_input("Retrieve me")
    )
    assert isinstance(created.completed_at, (int, float)) and created.completed_at
    again = client.responses.retrieve(created.id)
    assert again.model_dump() == created.model_dump()


def test_sdk_unknown_id_and_wrong_key(server: ReferenceServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve("resp_does_not_exist")
    assert missing.value.body["message"] == "No response found with id 'resp_does_not_exist'."
    wrong = "sk-this-key-is-wrong-123456"
    bad = openai.OpenAI(base_url=server.base_url, api_key=wrong, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        bad.responses.create(model=MODEL, input="hi")
    assert denied.value.code == "invalid_api_key"
    assert wrong not in denied.value.response.text
    assert "sk-t***456" in denied.value.response.text


# ----------------------------------------------------------------------------- wire shape


def test_stream_wire_shape(http: httpx.Client) -> None:
    response, events = stream(http, instructions="Mind the shape.")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in response.headers
    assert "[DONE]" not in response.text
    assert all(name == data["type"] for name, data in events)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    created, in_progress = events[0][1]["response"], events[1][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    assert created["usage"] is None and in_progress["usage"] is None
    final = events[-1][1]["response"]
    assert list(final) == list(created)  # same fields, same order
    assert final["status"] == "completed" and isinstance(final["completed_at"], int)
    item = events[-2][1]["item"]
    assert final["output"] == [item] and item["status"] == "completed"
    deltas = [d for _, d in events if d["type"] == "response.output_text.delta"]
    assert all(d["logprobs"] == [] and d["item_id"] == item["id"] for d in deltas)
    joined = "".join(d["delta"] for d in deltas)
    done = next(d for _, d in events if d["type"] == "response.output_text.done")
    assert done["text"] == joined == item["content"][0]["text"]
    added_part = events[3][1]["part"]
    assert added_part == {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    assert final["instructions"] == "Mind the shape."
    assert final["text"] == {"format": {"type": "text"}, "verbosity": "medium"}


def test_stream_without_obfuscation(http: httpx.Client) -> None:
    _, events = stream(http, stream_options={"include_obfuscation": False})
    assert not any("obfuscation" in d for _, d in events)


def test_stream_and_non_stream_have_the_same_shape(http: httpx.Client) -> None:
    _, events = stream(http)
    body = http.post("/responses", json={"model": MODEL, "input": "Hello there, reference!"})
    assert body.headers["content-type"].startswith("application/json")
    streamed, direct = events[-1][1]["response"], body.json()
    assert list(streamed) == list(direct)
    assert streamed["output"][0]["content"] == direct["output"][0]["content"]
    assert streamed["usage"] == direct["usage"]


def test_max_output_tokens_gives_incomplete(http: httpx.Client) -> None:
    _, events = stream(http, max_output_tokens=3)
    assert events[-1][0] == "response.incomplete"
    final = events[-1][1]["response"]
    assert final["status"] == "incomplete" and final["completed_at"] is None
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["usage"]["output_tokens"] == 3
    assert final["output"][0]["status"] == "incomplete"
    deltas = [d["delta"] for _, d in events if d["type"] == "response.output_text.delta"]
    assert len(deltas) == 3 and final["output"][0]["content"][0]["text"] == "".join(deltas)


def test_store_previous_response_and_lru(http: httpx.Client) -> None:
    first = http.post("/responses", json={"model": MODEL, "input": "first"}).json()
    second = http.post(
        "/responses",
        json={"model": MODEL, "input": "second", "previous_response_id": first["id"]},
    ).json()
    assert second["previous_response_id"] == first["id"]
    assert "This is turn 2." in second["output"][0]["content"][0]["text"]
    assert second["usage"]["input_tokens"] > first["usage"]["input_tokens"]
    unstored = http.post("/responses", json={"model": MODEL, "input": "x", "store": False})
    assert unstored.json()["store"] is False
    error_of(http.get(f"/responses/{unstored.json()['id']}"), 404)
    chained = http.post(
        "/responses", json={"model": MODEL, "input": "x", "previous_response_id": "resp_nope"}
    )
    assert error_of(chained, 400)["code"] == "previous_response_not_found"
    assert http.delete(f"/responses/{first['id']}").json()["deleted"] is True
    error_of(http.get(f"/responses/{first['id']}"), 404)

    small = create_app(store_limit=2)
    with TestClient(small, base_url="http://ref/v1",
                    headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}) as local:
        ids = [local.post("/responses", json={"model": MODEL, "input": str(i)}).json()["id"]
               for i in range(3)]
        assert local.get(f"/responses/{ids[0]}").status_code == 404
        assert all(local.get(f"/responses/{i}").status_code == 200 for i in ids[1:])


# ----------------------------------------------------------------------------- errors


def test_auth_errors(server: ReferenceServer, plain: httpx.Client) -> None:
    url = f"{server.base_url}/responses"
    missing = error_of(plain.post(url, json={"model": MODEL, "input": "x"}), 401)
    assert missing["message"].startswith("You didn't provide an API key.")
    assert missing["code"] is None and missing["type"] == "invalid_request_error"
    wrong = plain.post(url, content=b"not json", headers={"Authorization": "Bearer sk-nope"})
    assert error_of(wrong, 401)["code"] == "invalid_api_key"  # auth before parsing
    assert "sk-nope" not in wrong.text
    get = plain.get(f"{url}/resp_x", headers={"Authorization": "Bearer sk-nope"})
    error_of(get, 401)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (b"{not json", None, None),
        (b"", None, None),
        (b"[1, 2]", None, "invalid_type"),
        (b'{"model": "ref-model-1", "input": NaN}', None, None),
        ({"input": "x"}, "model", "missing_required_parameter"),
        ({"model": 7, "input": "x"}, "model", "invalid_type"),
        ({"model": "gpt-nope", "input": "x"}, "model", "model_not_found"),
        ({"model": MODEL}, "input", "missing_required_parameter"),
        ({"model": MODEL, "input": 5}, "input", "invalid_type"),
        ({"model": MODEL, "input": "x", "instructions": 1}, "instructions", "invalid_type"),
        ({"model": MODEL, "input": "x", "stream": "yes"}, "stream", "invalid_type"),
        ({"model": MODEL, "input": "x", "store": 1}, "store", "invalid_type"),
        ({"model": MODEL, "input": "x", "temperature": "hot"}, "temperature", "invalid_type"),
        ({"model": MODEL, "input": "x", "top_p": True}, "top_p", "invalid_type"),
        ({"model": MODEL, "input": "x", "max_output_tokens": 2.5}, "max_output_tokens",
         "invalid_type"),
        ({"model": MODEL, "input": "x", "metadata": []}, "metadata", "invalid_type"),
        ({"model": MODEL, "input": "x", "previous_response_id": 3}, "previous_response_id",
         "invalid_type"),
        ({"model": MODEL, "input": "x", "temperature": 3}, "temperature",
         "integer_above_max_value"),
        ({"model": MODEL, "input": "x", "bogus": 1}, "bogus", "unknown_parameter"),
        ({"model": MODEL, "input": [{"content": "x"}]}, "input[0].role",
         "missing_required_parameter"),
        ({"model": MODEL, "input": [{"role": "robot", "content": "x"}]}, "input[0].role",
         "invalid_value"),
        ({"model": MODEL, "input": [{"role": "user", "content": 1}]}, "input[0].content",
         "invalid_type"),
        ({"model": MODEL, "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
         "input[0].content[0].text", "missing_required_parameter"),
    ],
)
def test_bad_requests(http: httpx.Client, body: Any, param: str | None, code: str | None) -> None:
    if isinstance(body, bytes):
        response = http.post("/responses", content=body,
                             headers={"Content-Type": "application/json"})
    else:
        response = http.post("/responses", json=body)
    error = error_of(response, 400)
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    if body in (b"{not json", b""):
        assert error["message"].startswith("We could not parse the JSON body of your request.")
    if code == "model_not_found":
        assert error["message"] == "The requested model 'gpt-nope' does not exist."


def test_unknown_path_and_wrong_method(http: httpx.Client) -> None:
    missing = error_of(http.get("/nothing/here"), 404)
    assert missing["message"] == "Invalid URL (GET /v1/nothing/here)"
    assert "Invalid method" in error_of(http.get("/responses"), 405)["message"]
    error_of(http.put("/responses/resp_x"), 405)


def test_auth_can_be_disabled() -> None:
    with TestClient(create_app(api_key=None), base_url="http://ref/v1") as local:
        response = local.post("/responses", json={"model": MODEL, "input": "no key"})
    assert response.status_code == 200 and response.json()["status"] == "completed"


def test_fault_names() -> None:
    assert FAULTS == {
        "sequence_gap", "sequence_repeat", "event_name_mismatch", "content_type_json_on_stream",
        "created_at_float", "no_output_text_done", "item_id_rotates", "final_output_empty",
        "usage_total_wrong", "error_status_200", "error_envelope_flat", "text_mismatch",
        "call_id_changes", "arguments_mismatch", "reasoning_id_rotates", "error_without_failed",
        "refusal_in_text", "context_lost", "retrieve_differs", "call_id_mismatch_output",
        "unknown_param_500", "resume_from_zero", "delete_keeps",
    }


def test_unknown_fault_name_is_rejected() -> None:
    with pytest.raises(ValueError):
        create_app(faults=frozenset({"no_such_fault"}))
    with pytest.raises(ValueError):
        create_app(faults="sequence_gap")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- incremental


def test_stream_is_sent_event_by_event() -> None:
    """At the ASGI level every event is its own body message, sent before the next exists."""
    app = create_app()
    body = json.dumps({"model": MODEL, "input": LONG_INPUT, "stream": True}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/responses", "raw_path": b"/v1/responses",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "headers": [(b"authorization", f"Bearer {DEFAULT_API_KEY}".encode()),
                    (b"content-type", b"application/json")],
    }
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    chunks = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    events = parse_sse(b"".join(chunks).decode())
    assert len(events) > 40 and len(chunks) == len(events)


def test_live_stream_arrives_incrementally_and_fast(
    servers: dict[str, ReferenceServer], http: httpx.Client, plain: httpx.Client
) -> None:
    slow = servers["slow"]
    headers = {"Authorization": f"Bearer {slow.api_key}"}
    payload = {"model": MODEL, "input": "one two three four five six", "stream": True}
    with plain.stream("POST", f"{slow.base_url}/responses", json=payload, headers=headers) as r:
        arrivals = [(time.perf_counter(), chunk) for chunk in r.iter_raw()]
    first_event_at = next(t for t, chunk in arrivals if b"\n\n" in chunk)
    assert len(arrivals) > 5
    assert arrivals[-1][0] - first_event_at > 0.03  # the rest was still being produced

    durations = []
    for _ in range(3):
        start = time.perf_counter()
        response, events = stream(http, input=LONG_INPUT)
        durations.append(time.perf_counter() - start)
        assert len(events) > 40
    assert min(durations) < 0.1


# ----------------------------------------------------------------------------- scripted behaviours

SCHEMAS = SchemaSet.load()
WEATHER = {
    "type": "function", "name": "get_weather", "description": "Get the weather in a location",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"},
                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                       "days": {"type": "integer", "minimum": 1}},
        "required": ["location", "unit"], "additionalProperties": False,
    },
}
TIME = {
    "type": "function", "name": "get_time", "description": "Current clock for a timezone",
    "parameters": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}, "precise": {"type": "boolean"},
                       "offset": {"type": "number"}, "zones": {"type": "array",
                                                               "items": {"type": "string"}}},
        "required": ["timezone", "precise", "offset", "zones"], "additionalProperties": False,
    },
}
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"}, "age": {"type": "integer"}, "score": {"type": "number"},
        "ok": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
        "kind": {"type": "string", "enum": ["friend", "foe"]},
        "address": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"], "additionalProperties": False},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["name", "age", "score", "ok", "tags", "kind", "address", "nickname"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT = {"type": "json_schema", "name": "person", "schema": PERSON, "strict": True}
TOOL_HISTORY = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"type": "function_call", "call_id": "call_prior", "name": "get_weather",
     "arguments": '{"location":"Paris","unit":"celsius"}'},
    {"type": "function_call_output", "call_id": "call_prior", "output": "sunny, 21 C"},
]

#: Every scripted behaviour: the request (besides model and stream), and its event kinds
#: with runs collapsed.
BEHAVIOURS: dict[str, dict[str, Any]] = {
    "text": {"input": "Hello there, reference!"},
    "function_call": {"input": "What is the weather in Paris?", "tools": [WEATHER]},
    "named_tool_choice": {"input": "Hello", "tools": [WEATHER, TIME],
                          "tool_choice": {"type": "function", "name": "get_time"}},
    "parallel_calls": {"input": "Use get_weather and get_time for Paris.",
                       "tools": [WEATHER, TIME], "tool_choice": "required"},
    "tool_output_answer": {"input": TOOL_HISTORY, "tools": [WEATHER]},
    "reasoning": {"input": "Think first.", "reasoning": {"effort": "low", "summary": "detailed"},
                  "include": ["reasoning.encrypted_content"]},
    "reasoning_then_call": {"input": "Weather in Paris?", "tools": [WEATHER],
                            "reasoning": {"effort": "minimal", "summary": "auto"}},
    "refusal": {"input": "Please REFUSE this one."},
    "json_schema": {"input": "Describe Ann.", "text": {"format": JSON_SCHEMA_FORMAT}},
    "json_object": {"input": "Answer in JSON.", "text": {"format": {"type": "json_object"}}},
    "incomplete_text": {"input": "Hello there, reference!", "max_output_tokens": 3},
    "incomplete_reasoning": {"input": "Think hard.", "reasoning": {"effort": "high"},
                             "max_output_tokens": 6},
    "incomplete_call": {"input": "Weather in Paris?", "tools": [WEATHER],
                        "reasoning": {"effort": "minimal"}, "max_output_tokens": 12},
    "fail_midstream": {"input": "Please FAIL_MIDSTREAM now."},
}
EXPECTED_KINDS = {
    "text": TEXT_EVENTS,
    "function_call": ["created", "in_progress", "output_item.added",
                      "function_call_arguments.delta", "function_call_arguments.done",
                      "output_item.done", "completed"],
    "reasoning": ["created", "in_progress", "output_item.added",
                  *["reasoning_summary_part.added", "reasoning_summary_text.delta",
                    "reasoning_summary_text.done", "reasoning_summary_part.done"] * 2,
                  "output_item.done", *TEXT_EVENTS[2:]],
    "refusal": ["created", "in_progress", "output_item.added", "content_part.added",
                "refusal.delta", "refusal.done", "content_part.done", "output_item.done",
                "completed"],
    "incomplete_reasoning": ["created", "in_progress", "output_item.added", "output_item.done",
                             "incomplete"],
    "fail_midstream": ["created", "in_progress", "error", "failed"],
}


def kinds_of(events: list[tuple[str, dict]]) -> list[str]:
    kinds = [d["type"].removeprefix("response.") for _, d in events]
    return [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]


def stream_checker_violations(raw: bytes, profile: str | None = None) -> list[Any]:
    checker = StreamChecker(schemas=SCHEMAS, profile=profile)
    for i in range(0, len(raw), 97):  # arbitrary chunk boundaries, like a network
        checker.feed_bytes(raw[i:i + 97])
    checker.close()
    return checker.violations


def items_of(events: list[tuple[str, dict]]) -> list[dict]:
    return [d["item"] for _, d in events if d["type"] == "response.output_item.done"]


def sdk_knows(event: Any) -> bool:
    """The SDK parsed the event into the class made for its type (unknown types are coerced
    into some other event class instead)."""
    annotation = type(event).model_fields["type"].annotation
    return event.type in getattr(annotation, "__args__", ())


def same_shape(streamed: dict, plain: dict) -> None:
    """A non-streamed Response matches the streamed final one, run-specific values aside."""
    assert shape_differences(streamed, plain) == []
    one, two = normalize([("x", {"response": streamed})]), normalize([("x", {"response": plain})])
    for response in (one[0][1]["response"], two[0][1]["response"]):
        for item in response["output"]:
            item.pop("id", None)
            item.pop("call_id", None)
        response.pop("id")
    assert one == two


@pytest.mark.parametrize("name", sorted(BEHAVIOURS))
def test_behaviour_passes_the_checker_streamed_and_not(name: str, http: httpx.Client) -> None:
    body = BEHAVIOURS[name]
    response, events = stream(http, **body)
    assert stream_checker_violations(response.content) == []
    if name in EXPECTED_KINDS:
        assert kinds_of(events) == [k.removeprefix("response.") for k in EXPECTED_KINDS[name]]
    plain = http.post("/responses", json={"model": MODEL, **body})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")
    assert check_response_body(plain.json(), schemas=SCHEMAS) == []
    same_shape(events[-1][1]["response"], plain.json())


@pytest.mark.parametrize("name", sorted(BEHAVIOURS))
def test_behaviour_through_the_sdk(name: str, client: openai.OpenAI) -> None:
    body = {"model": MODEL, **BEHAVIOURS[name]}
    if name == "fail_midstream":
        with pytest.raises(openai.APIError) as raw_failure:
            list(client.responses.create(stream=True, **body))
        assert not isinstance(raw_failure.value, openai.APIStatusError)  # in band, after 200
        assert raw_failure.value.body["code"] == "server_error"
        with pytest.raises(openai.APIError), client.responses.stream(**body) as failing:
            failing.get_final_response()
        plain = client.responses.create(**body)
        assert plain.status == "failed" and plain.error.code == "server_error"
        assert plain.output == [] and plain.usage is None
        return
    events = list(client.responses.create(stream=True, **body))
    assert all(sdk_knows(e) for e in events), [e.type for e in events if not sdk_knows(e)]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    last = events[-1].response
    with client.responses.stream(**body) as helper:
        seen = [e.type for e in helper]
        if last.status == "incomplete":  # the SDK helper only ever accepts response.completed
            with pytest.raises(RuntimeError, match="response.completed"):
                helper.get_final_response()
            final = None
        else:
            final = helper.get_final_response()
    assert seen[-1] == events[-1].type and len(seen) == len(events)
    if final is not None:
        assert [o.type for o in final.output] == [o.type for o in last.output]
        assert final.output_text == last.output_text and final.usage == last.usage
    plain = client.responses.create(**body)
    assert plain.status == last.status
    assert [o.type for o in plain.output] == [o.type for o in last.output]
    assert plain.output_text == last.output_text


def test_function_call_stream_shape(http: httpx.Client) -> None:
    _, events = stream(http, **BEHAVIOURS["function_call"])
    added = events[2][1]["item"]
    assert list(added) == ["id", "type", "status", "arguments", "call_id", "name"]
    assert re.fullmatch(r"fc_[0-9a-f]{50}", added["id"])
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", added["call_id"])
    assert added["status"] == "in_progress" and added["arguments"] == ""
    assert added["name"] == "get_weather"
    deltas = [d for _, d in events if d["type"] == "response.function_call_arguments.delta"]
    done = next(d for _, d in events if d["type"] == "response.function_call_arguments.done")
    assert len(deltas) > 3 and all(d["item_id"] == added["id"] for d in deltas)
    assert all("obfuscation" in d for d in deltas)
    assert set(done) == {"type", "sequence_number", "item_id", "output_index", "arguments"}
    assert done["arguments"] == "".join(d["delta"] for d in deltas)
    arguments = json.loads(done["arguments"])
    jsonschema.validate(arguments, WEATHER["parameters"])
    assert arguments == {"location": "What is the weather in Paris?", "unit": "celsius"}
    item = events[-2][1]["item"]
    assert item == {**added, "status": "completed", "arguments": done["arguments"]}
    final = events[-1][1]["response"]
    assert final["output"] == [item]
    assert final["tools"][0] == {**WEATHER, "strict": True}  # echoed the way OpenAI does
    assert final["usage"]["output_tokens"] == len(deltas)


def test_parallel_calls_are_emitted_one_after_another(http: httpx.Client) -> None:
    _, events = stream(http, **BEHAVIOURS["parallel_calls"])
    spans: dict[int, list[int]] = {}
    for position, (_, data) in enumerate(events):
        if "output_index" in data:
            spans.setdefault(data["output_index"], []).append(position)
    assert sorted(spans) == [0, 1] and max(spans[0]) < min(spans[1])
    calls = items_of(events)
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["call_id"] for c in calls}) == 2 and len({c["id"] for c in calls}) == 2
    jsonschema.validate(json.loads(calls[1]["arguments"]), TIME["parameters"])
    serial = http.post("/responses", json={"model": MODEL, **BEHAVIOURS["parallel_calls"],
                                           "parallel_tool_calls": False}).json()
    assert [o["name"] for o in serial["output"]] == ["get_weather"]


def test_tool_selection_rules() -> None:
    weather = FunctionTool("get_weather", "Get the weather in a location", WEATHER["parameters"])
    clock = FunctionTool("get_time", "Current clock for a timezone", TIME["parameters"])
    tools = (weather, clock)

    def chosen(text: str, **options: Any) -> list[str]:
        return [t.name for t in select_tools(Options(tools=tools, **options), text)]

    assert chosen("Hello there") == []  # auto: nothing mentioned
    assert chosen("How is the WEATHER?") == ["get_weather"]  # a description word
    assert chosen("call get_time") == ["get_time"]  # the name
    assert chosen("forget_time is no word of ours") == []  # whole words only
    assert chosen("Hello there", tool_choice="required") == ["get_weather"]
    assert chosen("weather and clock", tool_choice="required") == ["get_weather", "get_time"]
    assert chosen("weather and clock", parallel_tool_calls=False) == ["get_weather"]
    assert chosen("weather", tool_choice="none") == []
    assert chosen("weather", tool_choice={"type": "function", "name": "get_time"}) == ["get_time"]
    turn = generate(MODEL, None, messages_from_input(TOOL_HISTORY),
                    options=Options(tools=tools, tool_choice="required"))
    assert turn.calls == [] and turn.text == (
        'The function get_weather returned: "sunny, 21 C". I am the reference model.')


def test_value_for_schema_and_json_deltas() -> None:
    value = value_for_schema(PERSON, "Ann")
    jsonschema.validate(value, PERSON)
    assert value == {"name": "Ann", "age": 1, "score": 1, "ok": True, "tags": ["Ann"],
                     "kind": "friend", "address": {"city": "Ann"}, "nickname": "Ann"}
    assert value_for_schema({"type": "object", "properties": {"a": {"type": "string"}}}, "x") == {
        "a": "x"}  # no `required`: every property
    bounded = {"type": "object", "required": ["n", "s", "l"], "properties": {
        "n": {"type": "integer", "minimum": 5}, "s": {"type": "string", "maxLength": 2},
        "l": {"type": "array", "items": {"$ref": "#/$defs/flag"}, "minItems": 2}},
        "$defs": {"flag": {"type": "boolean"}}}
    assert value_for_schema(bounded, "long text") == {"n": 5, "s": "lo", "l": [True, True]}
    text = '{"city":"Beijing","n":12,"tags":["a b"]}'
    assert split_json_deltas(text)[:3] == ['{"', "city", '":"']
    assert "".join(split_json_deltas(text)) == text


def test_tool_round_trip_with_the_sdk(client: openai.OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="What is the weather in Paris?",
                                 tools=[WEATHER]) as s:
        first = s.get_final_response()
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments)["unit"] == "celsius"
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}
    stateless = client.responses.create(
        model=MODEL, tools=[WEATHER],
        input=[{"role": "user", "content": "What is the weather in Paris?"}, *first.output, output],
    )
    assert stateless.output_text == (
        'The function get_weather returned: "sunny, 21 C". I am the reference model.')
    with client.responses.stream(model=MODEL, tools=[WEATHER], previous_response_id=first.id,
                                 input=[{**output, "output": "rainy"}]) as s:
        chained = s.get_final_response()
    assert chained.output_text == (
        'The function get_weather returned: "rainy". I am the reference model.')
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(model=MODEL, input=[{**output, "call_id": "call_unknown"}])
    assert unknown.value.body == {
        "message": "No tool call found for function call output with call_id call_unknown.",
        "type": "invalid_request_error", "param": "input", "code": None}
    with pytest.raises(openai.BadRequestError):  # the output must come after its call
        client.responses.create(model=MODEL, input=[output, *first.output])


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter"),
        ({"tools": [{"type": "no_such_tool_type"}]}, "tools[0].type", "invalid_value"),
        ({"tools": [{"type": "function", "name": "f", "parameters": "x"}]}, "tools[0].parameters",
         "invalid_type"),
        ({"tool_choice": "required"}, "tool_choice", "invalid_value"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice",
         "invalid_value"),
        ({"text": {"format": {"type": "json_schema", "name": "x", "schema": "object"}}},
         "text.format.schema", "invalid_type"),
        ({"text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "array"}}}},
         "text.format.schema", "invalid_json_schema"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema",
         "missing_required_parameter"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type", "invalid_value"),
        ({"reasoning": {"effort": "huge"}}, "reasoning.effort", "invalid_value"),
        ({"model": "ref-model-mini", "reasoning": {"effort": "low"}}, "reasoning.effort",
         "unsupported_parameter"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id",
         "missing_required_parameter"),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
         "input[0].arguments", "missing_required_parameter"),
    ],
)
def test_bad_scripted_requests(http: httpx.Client, body: dict, param: str, code: str) -> None:
    error = error_of(http.post("/responses", json={"model": MODEL, "input": "x", **body}), 400)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


def test_reasoning_stream_shape(http: httpx.Client) -> None:
    _, events = stream(http, **BEHAVIOURS["reasoning"])
    added, done = events[2][1]["item"], items_of(events)[0]
    assert list(added) == ["id", "type", "encrypted_content", "summary"]  # no status, like OpenAI
    assert re.fullmatch(r"rs_[0-9a-f]{50}", added["id"]) and added["summary"] == []
    summaries = [d["text"] for _, d in events
                 if d["type"] == "response.reasoning_summary_text.done"]
    assert len(summaries) == 2 and summaries[0].startswith("**Planning the reply**")
    assert done == {**added, "summary": [{"type": "summary_text", "text": t} for t in summaries]}
    indexes = [d["summary_index"] for _, d in events if "summary_index" in d]
    assert indexes == sorted(indexes) and set(indexes) == {0, 1}
    final = events[-1][1]["response"]
    usage = final["usage"]
    assert 0 < usage["output_tokens_details"]["reasoning_tokens"] < usage["output_tokens"]
    message_deltas = [d for _, d in events if d["type"] == "response.output_text.delta"]
    assert usage["output_tokens"] == usage["output_tokens_details"]["reasoning_tokens"] + len(
        message_deltas)
    assert final["reasoning"] == {"effort": "low", "summary": "detailed"}
    again = http.post("/responses", json={"model": MODEL, **BEHAVIOURS["reasoning"]}).json()
    assert again["output"][0]["encrypted_content"] == added["encrypted_content"]  # deterministic
    plain = http.post("/responses", json={"model": MODEL, "input": "Think first.",
                                          "reasoning": {"effort": "high"}}).json()
    assert "encrypted_content" not in plain["output"][0] and plain["output"][0]["summary"] == []
    assert plain["usage"]["output_tokens_details"]["reasoning_tokens"] > usage[
        "output_tokens_details"]["reasoning_tokens"]  # more effort, more reasoning
    for body in ({}, {"reasoning": {"effort": "none"}}):
        text_only = http.post("/responses", json={"model": MODEL, "input": "x", **body}).json()
        assert [o["type"] for o in text_only["output"]] == ["message"]


def test_refusal_stream_shape(http: httpx.Client) -> None:
    _, events = stream(http, **BEHAVIOURS["refusal"])
    part = next(d for _, d in events if d["type"] == "response.content_part.added")["part"]
    assert part == {"type": "refusal", "refusal": ""}
    deltas = [d["delta"] for _, d in events if d["type"] == "response.refusal.delta"]
    done = next(d for _, d in events if d["type"] == "response.refusal.done")
    assert len(deltas) > 3 and done["refusal"] == "".join(deltas)
    assert items_of(events)[0]["content"] == [{"type": "refusal", "refusal": done["refusal"]}]


def test_structured_output(http: httpx.Client, client: openai.OpenAI) -> None:
    _, events = stream(http, **BEHAVIOURS["json_schema"])
    text = next(d for _, d in events if d["type"] == "response.output_text.done")["text"]
    document = json.loads(text)
    jsonschema.validate(document, PERSON)
    assert document["name"] == "Describe Ann."
    plain = http.post("/responses", json={"model": MODEL, **BEHAVIOURS["json_object"]}).json()
    assert json.loads(plain["output"][0]["content"][0]["text"]) == {
        "reply": 'You said: "Answer in JSON.". I am the reference model.'}

    class Person(pydantic.BaseModel):
        name: str
        age: int
        tags: list[str]
        friend: bool | None

    parsed = client.responses.parse(model=MODEL, input="Ann", text_format=Person).output_parsed
    assert parsed == Person(name="Ann", age=1, tags=["Ann"], friend=True)
    with client.responses.stream(model=MODEL, input="Bob", text_format=Person) as s:
        assert s.get_final_response().output_parsed.name == "Bob"


@pytest.mark.parametrize(
    ("name", "kinds", "budget_in"),
    [
        ("incomplete_text", ["message"], "message"),
        ("incomplete_reasoning", ["reasoning"], "reasoning"),
        ("incomplete_call", ["reasoning", "function_call"], "function_call"),
    ],
)
def test_max_output_tokens_cuts_the_last_item(
    http: httpx.Client, name: str, kinds: list[str], budget_in: str
) -> None:
    body = BEHAVIOURS[name]
    _, events = stream(http, **body)
    final = events[-1][1]["response"]
    assert events[-1][0] == "response.incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["completed_at"] is None
    assert [o["type"] for o in final["output"]] == kinds
    assert final["output"][-1]["status"] == "incomplete"
    assert all(o.get("status", "completed") == "completed" for o in final["output"][:-1])
    assert final["usage"]["output_tokens"] == body["max_output_tokens"]
    if budget_in == "function_call":
        arguments = final["output"][-1]["arguments"]
        streamed = [d["delta"] for _, d in events
                    if d["type"] == "response.function_call_arguments.delta"]
        assert arguments == "".join(streamed) and arguments.startswith('{"')
    if budget_in == "reasoning":
        assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 6


def test_fail_midstream(http: httpx.Client) -> None:
    response, events = stream(http, **BEHAVIOURS["fail_midstream"])
    assert response.status_code == 200
    error, failed = events[2][1], events[3][1]["response"]
    assert error == {"type": "error", "sequence_number": 2, "error": {
        "type": "server_error", "code": "server_error", "message": error["error"]["message"],
        "param": None}}
    assert failed["status"] == "failed" and failed["usage"] is None and failed["output"] == []
    assert failed["error"] == {"code": "server_error", "message": error["error"]["message"]}
    assert failed["id"] == events[0][1]["response"]["id"]
    plain = http.post("/responses", json={"model": MODEL, **BEHAVIOURS["fail_midstream"]})
    assert plain.status_code == 200 and plain.json()["status"] == "failed"
    retrieved = http.get(f"/responses/{failed['id']}").json()
    assert retrieved["status"] == "failed" and retrieved["error"] == failed["error"]


# ----------------------------------------------------------------------------- flavours


def test_openresponses_flavour(servers: dict[str, ReferenceServer], plain: httpx.Client) -> None:
    srv = servers["openresponses"]
    url, headers = f"{srv.base_url}/responses", {"Authorization": f"Bearer {srv.api_key}"}
    for name, body in BEHAVIOURS.items():
        response = plain.post(url, json={"model": MODEL, "stream": True, **body}, headers=headers)
        assert response.text.endswith("\n\ndata: [DONE]\n\n"), name
        assert stream_checker_violations(response.content, "openresponses") == [], name
        assert stream_checker_violations(response.content) != []  # [DONE] breaks the openai profile
        body_only = plain.post(url, json={"model": MODEL, **body}, headers=headers).json()
        assert check_response_body(body_only, schemas=SCHEMAS, profile="openresponses") == []
    response = plain.post(url, headers=headers, json={
        "model": MODEL, "stream": True, **BEHAVIOURS["reasoning"]})
    events = parse_sse(response.text.removesuffix("data: [DONE]\n\n"))
    kinds = {d["type"] for _, d in events}
    assert {"response.reasoning.delta", "response.reasoning.done"} <= kinds
    assert not any(k.startswith("response.reasoning_text.") for k in kinds)
    reasoning = items_of(events)[0]
    assert reasoning["status"] == "completed"
    assert reasoning["content"][0]["type"] == "reasoning_text"
    assert all("status" in item for item in items_of(events))
    final = events[-1][1]["response"]
    assert final["presence_penalty"] == 0 and final["frequency_penalty"] == 0
    failing = plain.post(url, headers=headers, json={
        "model": MODEL, "stream": True, **BEHAVIOURS["fail_midstream"]})
    error = parse_sse(failing.text.removesuffix("data: [DONE]\n\n"))[2][1]
    assert set(error["error"]) == {"type", "code", "message", "param"}
    sdk = openai.OpenAI(base_url=srv.base_url, api_key=srv.api_key, max_retries=0)
    streamed = list(sdk.responses.create(model=MODEL, stream=True, **BEHAVIOURS["reasoning"]))
    assert streamed[-1].type == "response.completed"  # the SDK stops at [DONE]
    assert {e.type for e in streamed if not sdk_knows(e)} == {
        "response.reasoning.delta", "response.reasoning.done"}  # OR's names, unknown to OpenAI


def test_flavour_is_validated_and_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert FLAVOURS == ("openai", "openresponses", "openai-strict")
    with pytest.raises(ValueError, match="flavour"):
        create_app(flavour="anthropic")
    assert create_app().state.flavour == "openai"
    assert "flavour=openresponses" in repr(ReferenceServer(flavour="openresponses"))
    with pytest.raises(SystemExit):
        reference_main(["--flavour", "nope"])
    assert "--flavour" in capsys.readouterr().err


# ----------------------------------------------------------------------------- faults

_ID = re.compile(r"\b(resp|msg|rs|fc)_[0-9a-f]{50}\b|\b(call)_[A-Za-z0-9]{24}\b")


def normalize(events: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Replace run-specific values (ids, times, obfuscation) so two runs compare equal."""
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"{match.group(1) or match.group(2)}#{len(names)}")

    out = []
    for name, data in events:
        data = json.loads(_ID.sub(rename, json.dumps(data)))
        data.pop("obfuscation", None)
        response = data.get("response")
        if response:
            response["created_at"] = type(response["created_at"]).__name__
            if response["completed_at"] is not None:
                response["completed_at"] = "set"
        out.append((name, data))
    return out


def _renumber(events: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    for i, (_, data) in enumerate(events):
        data["sequence_number"] = i
    return events


def _final_texts(events: list[tuple[str, dict]], text: str) -> None:
    for _, data in events:
        kind = data["type"]
        if kind == "response.output_text.done":
            data["text"] = text
        elif kind == "response.content_part.done":
            data["part"]["text"] = text
        elif kind == "response.output_item.done":
            data["item"]["content"][0]["text"] = text
        elif kind == "response.completed":
            data["response"]["output"][0]["content"][0]["text"] = text


def _expect(fault: str, base: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """What the normalized baseline stream becomes under `fault`."""
    ev = copy.deepcopy(base)
    kinds = [d["type"] for _, d in ev]
    first_delta = kinds.index("response.output_text.delta")
    deltas = [d["delta"] for _, d in ev if d["type"] == "response.output_text.delta"]
    if fault == "sequence_gap":
        for _, data in ev[first_delta + 1:]:
            data["sequence_number"] += 1
    elif fault == "sequence_repeat":
        for _, data in ev[first_delta + 1:]:
            data["sequence_number"] -= 1
    elif fault == "event_name_mismatch":
        ev = [(name + ".x" if name == "response.output_text.delta" else name, d) for name, d in ev]
    elif fault == "created_at_float":
        for _, data in ev:
            if "response" in data:
                data["response"]["created_at"] = "float"
    elif fault == "no_output_text_done":
        ev = _renumber([e for e in ev if e[1]["type"] != "response.output_text.done"])
    elif fault == "final_output_empty":
        ev[-1][1]["response"]["output"] = []
    elif fault == "usage_total_wrong":
        ev[-1][1]["response"]["usage"]["total_tokens"] += 1
    elif fault == "text_mismatch":
        _final_texts(ev, "".join(deltas[1:]))
    return ev


# Faults of the scripted behaviours beyond plain text: tested with their own requests below.
BEHAVIOUR_FAULTS = {"call_id_changes", "arguments_mismatch", "reasoning_id_rotates",
                    "error_without_failed", "refusal_in_text"}
# Faults of state, tools and validation: tested in test_reference_state.py.
STATE_FAULTS = {"context_lost", "retrieve_differs", "call_id_mismatch_output", "unknown_param_500",
                "resume_from_zero", "delete_keeps"}
STREAM_FAULTS = sorted(FAULTS - {"error_status_200", "error_envelope_flat"} - BEHAVIOUR_FAULTS
                       - STATE_FAULTS)


def _post(plain: httpx.Client, srv: ReferenceServer, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("headers", {"Authorization": f"Bearer {srv.api_key}"})
    return plain.post(f"{srv.base_url}/responses", **kwargs)


@pytest.mark.parametrize("fault", STREAM_FAULTS)
def test_stream_fault_changes_only_what_it_says(
    fault: str,
    fault_servers: dict[str, ReferenceServer],
    http: httpx.Client,
    plain: httpx.Client,
) -> None:
    payload = {"model": MODEL, "input": "Fault finding, step by step.", "stream": True}
    base_response, base = stream(http, **{k: v for k, v in payload.items() if k != "model"})
    response = _post(plain, fault_servers[fault], json=payload)
    assert response.status_code == 200
    got = normalize(parse_sse(response.text))
    if fault == "item_id_rotates":
        item_id = got[2][1]["item"]["id"]
        rotated = [d["item_id"] for _, d in got if d["type"] == "response.output_text.delta"]
        assert item_id not in rotated and len(set(rotated)) == len(rotated)
        for _, data in got:
            if data["type"] == "response.output_text.delta":
                data["item_id"] = item_id
    if fault == "content_type_json_on_stream":
        assert response.headers["content-type"].startswith("application/json")
    else:
        assert response.headers["content-type"].startswith("text/event-stream")
    assert got == _expect(fault, normalize(base))
    if fault not in {"content_type_json_on_stream", "item_id_rotates"}:
        assert got != normalize(base)


def test_faults_in_non_stream_responses(
    fault_servers: dict[str, ReferenceServer], plain: httpx.Client
) -> None:
    payload = {"model": MODEL, "input": "Plain request"}
    usage = _post(plain, fault_servers["usage_total_wrong"], json=payload).json()["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] + 1
    floaty = _post(plain, fault_servers["created_at_float"], json=payload)
    assert re.search(r'"created_at": \d+\.0,', floaty.text)
    assert isinstance(floaty.json()["completed_at"], int)  # only created_at changes
    empty = _post(plain, fault_servers["final_output_empty"], json=payload).json()
    assert len(empty["output"]) == 1  # streams only


def test_error_faults(fault_servers: dict[str, ReferenceServer], plain: httpx.Client) -> None:
    lenient = fault_servers["error_status_200"]
    wrong = _post(plain, lenient, json={"model": MODEL, "input": "x"},
                  headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 200 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert _post(plain, lenient, json={"model": MODEL}).status_code == 400  # others unchanged

    flat = fault_servers["error_envelope_flat"]
    bad = _post(plain, flat, json={"model": MODEL})
    assert bad.status_code == 400
    assert bad.json() == {"detail": "Missing required parameter: 'input'."}
    denied = _post(plain, flat, json={}, headers={})
    assert denied.status_code == 401 and set(denied.json()) == {"detail"}
    ok = _post(plain, flat, json={"model": MODEL, "input": "x"})
    assert ok.status_code == 200 and ok.json()["status"] == "completed"


#: Each behaviour fault: the request it shows on, and the check that must catch it.
BEHAVIOUR_FAULT_CASES: dict[str, tuple[str, str]] = {
    "call_id_changes": ("function_call", "ids.item_identity_stable"),
    "arguments_mismatch": ("function_call", "consistency.deltas_match_done"),
    "reasoning_id_rotates": ("reasoning", "ids.item_id_matches"),
    "error_without_failed": ("fail_midstream", "error.event_followed_by_failed"),
    "refusal_in_text": ("refusal", "grammar.event_matches_item_type"),
}
SUMMARY_EVENTS = {"response.reasoning_summary_part.added", "response.reasoning_summary_part.done",
                  "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done"}


def _expect_behaviour_fault(fault: str, base: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """What the normalized clean stream becomes under one of the behaviour faults."""
    ev = copy.deepcopy(base)
    if fault == "arguments_mismatch":
        deltas = [d["delta"] for _, d in ev
                  if d["type"] == "response.function_call_arguments.delta"]
        cut = "".join(deltas[1:])
        for _, data in ev:
            if data["type"] == "response.function_call_arguments.done":
                data["arguments"] = cut
            elif data["type"] == "response.output_item.done":
                data["item"]["arguments"] = cut
            elif data["type"] == "response.completed":
                data["response"]["output"][0]["arguments"] = cut
    elif fault == "error_without_failed":
        ev = ev[:-1]
    elif fault == "refusal_in_text":
        for i, (name, data) in enumerate(ev):
            if data["type"] == "response.refusal.delta":
                data = {**data, "type": "response.output_text.delta", "logprobs": []}
                ev[i] = ("response.output_text.delta", data)
    return ev


@pytest.mark.parametrize("fault", sorted(BEHAVIOUR_FAULTS))
def test_behaviour_fault_changes_only_what_it_says_and_is_caught(
    fault: str,
    fault_servers: dict[str, ReferenceServer],
    http: httpx.Client,
    plain: httpx.Client,
) -> None:
    behaviour, check = BEHAVIOUR_FAULT_CASES[fault]
    payload = {"model": MODEL, "stream": True, **BEHAVIOURS[behaviour]}
    _, clean = stream(http, **BEHAVIOURS[behaviour])
    response = _post(plain, fault_servers[fault], json=payload)
    assert response.status_code == 200
    raw = parse_sse(response.text)
    if fault == "call_id_changes":  # undo the change, so the rest can be compared
        announced, final = raw[2][1]["item"]["call_id"], raw[-2][1]["item"]["call_id"]
        assert announced != final == raw[-1][1]["response"]["output"][0]["call_id"]
        raw[-2][1]["item"]["call_id"] = raw[-1][1]["response"]["output"][0]["call_id"] = announced
    if fault == "reasoning_id_rotates":
        item_id = raw[2][1]["item"]["id"]
        rotated = [d["item_id"] for _, d in raw if d["type"] in SUMMARY_EVENTS]
        assert rotated and item_id not in rotated and len(set(rotated)) == len(rotated)
        assert all(re.fullmatch(r"rs_[0-9a-f]{50}", r) for r in rotated)
        for _, data in raw:
            if data["type"] in SUMMARY_EVENTS:
                data["item_id"] = item_id
    got = normalize(raw)
    expected = _expect_behaviour_fault(fault, normalize(clean))
    assert got == expected
    if fault not in {"call_id_changes", "reasoning_id_rotates"}:
        assert got != normalize(clean)
    found = {v.check for v in stream_checker_violations(response.content)}
    assert check in found
    assert found - {check} <= {"grammar.terminal_event_present"}  # error_without_failed: no end
