"""Tests of the embedded reference server: over real sockets, with httpx and the official
`openai` SDK as a second opinion, plus one test per deliberate fault."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from responses_conformance.reference import (
    DEFAULT_API_KEY,
    FAULTS,
    ReferenceServer,
    create_app,
)
from responses_conformance.reference.errors import mask_key
from responses_conformance.reference.model import (
    count_tokens,
    generate,
    messages_from_input,
    reply_text,
    split_deltas,
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
    shutdown takes ~0.2 s): "default", "slow" (events 4 ms apart), and one per fault."""
    specs: dict[str, dict[str, Any]] = {"default": {}, "slow": {"event_delay": 0.004}}
    specs.update({name: {"faults": {name}} for name in sorted(FAULTS)})
    started: dict[str, ReferenceServer] = {}
    try:
        for name, kwargs in specs.items():
            started[name] = ReferenceServer(**kwargs).start()
        yield started
    finally:
        for srv in started.values():
            srv.request_stop()
        for srv in started.values():
            srv.stop()


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
    assert "This is turn 2." in reply_text(MODEL, None, messages_from_input(turns))
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


# ----------------------------------------------------------------------------- faults

_ID = re.compile(r"\b(resp|msg)_[0-9a-f]{50}\b")


def normalize(events: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Replace run-specific values (ids, times, obfuscation) so two runs compare equal."""
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"{match.group(1)}#{len(names)}")

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


STREAM_FAULTS = sorted(FAULTS - {"error_status_200", "error_envelope_flat"})


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
