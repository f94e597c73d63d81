"""Tests of the reference server's state, background mode, feature switches, state faults,
request delay, the openai-strict flavour and the upstream mode (Chat Completions, models,
journal): over real sockets with httpx and the official SDK, or in-process with Starlette's
TestClient where a server of its own per case is cheaper."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from responses_conformance.engine.checker import StreamChecker, check_response_body
from responses_conformance.engine.schemas import SchemaSet
from ._servers import running
from responses_conformance.reference import (
    DEFAULT_API_KEY,
    FEATURES,
    ReferenceServer,
    create_app,
)
from responses_conformance.reference.__main__ import main as reference_main
from responses_conformance.reference.model import (
    call_id_for,
    generate,
    messages_from_input,
    model_input_digest,
    reply_text,
)
from responses_conformance.reference.validation import INCLUDE_VALUES
from starlette.testclient import TestClient

MODEL = "ref-model-1"
STEP = 0.02  # background_step of the test servers: a background response is done in 40 ms
SCHEMAS = SchemaSet.load()
STRICT_SCHEMAS = SchemaSet.load(profile="openai-strict")
WEATHER = {
    "type": "function", "name": "get_weather", "description": "Get the weather in a location",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["location", "unit"], "additionalProperties": False},
}
CHAT_WEATHER = {"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ReferenceServer]]:
    specs: dict[str, dict[str, Any]] = {
        "default": {"background_step": STEP},
        "strict": {"flavour": "openai-strict", "background_step": STEP},
        "openresponses": {"flavour": "openresponses", "background_step": STEP},
        "delay": {"request_delay": 0.3},
    }
    with running(specs) as started:
        yield started


@pytest.fixture(scope="module")
def server(servers: dict[str, ReferenceServer]) -> ReferenceServer:
    return servers["default"]


def _client(srv: ReferenceServer) -> httpx.Client:
    return httpx.Client(base_url=srv.base_url, timeout=5,
                        headers={"Authorization": f"Bearer {srv.api_key}"})


@pytest.fixture(scope="module")
def http(server: ReferenceServer) -> Iterator[httpx.Client]:
    with _client(server) as client:
        yield client


@pytest.fixture(scope="module")
def sdk(server: ReferenceServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0) as c:
        yield c


def local(**kwargs: Any) -> TestClient:
    """An in-process server of its own (no socket): for faults and feature switches."""
    kwargs.setdefault("background_step", STEP)
    return TestClient(create_app(**kwargs), base_url="http://ref/v1",
                      headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})


def parse_sse(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append(fields["data"] if fields["data"] == "[DONE]" else json.loads(fields["data"]))
    return events


def violations(raw: bytes, *, strict: bool = False, profile: str | None = None,
               starting_after: int | None = None) -> list[tuple[str, str]]:
    schemas = STRICT_SCHEMAS if strict else SCHEMAS
    if strict:
        profile = "openai-strict"
    checker = StreamChecker(schemas=schemas, profile=profile, starting_after=starting_after)
    for i in range(0, len(raw), 97):
        checker.feed_bytes(raw[i:i + 97])
    checker.close()
    return [(v.check, v.message) for v in checker.violations]


def post(http: httpx.Client | TestClient, **body: Any) -> httpx.Response:
    return http.post("/responses", json={"model": MODEL, **body})


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def text_of(response: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for item in response["output"]
                   if item["type"] == "message" for part in item["content"])


def poll(http: httpx.Client | TestClient, response_id: str, until: str = "completed",
         timeout: float = 2.0) -> list[str]:
    """The statuses GET shows, in order, until `until` (each listed once)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"/responses/{response_id}").json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == until:
            return seen
        time.sleep(0.002)
    raise AssertionError(f"{response_id} never reached {until}: {seen}")


# ----------------------------------------------------------------------------- the model


def test_system_messages_are_instructions_and_call_ids_are_derived() -> None:
    as_param = reply_text(MODEL, "Be terse.", messages_from_input("hi"))
    as_message = reply_text(MODEL, None, messages_from_input(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]))
    assert as_param == as_message and as_param.startswith("[instructions:")
    both = reply_text(MODEL, "A", messages_from_input(
        [{"role": "developer", "content": "B"}, {"role": "user", "content": "hi"}]))
    assert both == reply_text(MODEL, "A\nB", messages_from_input("hi"))
    one = model_input_digest(MODEL, "Be terse.", messages_from_input("hi"))
    assert one == model_input_digest(MODEL, None, messages_from_input(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]))
    assert one != model_input_digest(MODEL, None, messages_from_input("hi"))
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call_id_for(one, 0, "f"))
    assert call_id_for(one, 0, "f") == call_id_for(one, 0, "f") != call_id_for(one, 1, "f")


# ----------------------------------------------------------------------------- store and GET


def test_previous_response_id_keeps_the_context(http: httpx.Client) -> None:
    first = post(http, input="Remember this: my secret word is heliotrope.").json()
    second = post(http, input="What is my secret word?", stream=True,
                  previous_response_id=first["id"])
    final = parse_sse(second.text)[-1]["response"]
    assert text_of(final) == (
        'You said: "What is my secret word?". Earlier you said: "Remember this: my secret word '
        'is heliotrope.". This is turn 2. I am the reference model.')
    third = post(http, input="And now?", previous_response_id=final["id"]).json()
    assert 'Earlier you said: "Remember this' in text_of(third) and "turn 3" in text_of(third)
    hosted = post(http, input="x", tools=[{"type": "web_search"}, WEATHER]).json()
    assert hosted["tools"][0] == {"type": "web_search"}  # accepted and echoed, never called



def test_store_false_is_neither_retrievable_nor_continuable(http: httpx.Client) -> None:
    unstored = post(http, input="keep nothing", store=False).json()
    assert unstored["store"] is False and unstored["status"] == "completed"
    for path in ("", "/input_items"):
        error = error_of(http.get(f"/responses/{unstored['id']}{path}"), 404)
        assert error["message"] == f"No response found with id '{unstored['id']}'."
    error_of(http.delete(f"/responses/{unstored['id']}"), 404)
    chained = post(http, input="and now?", previous_response_id=unstored["id"])
    error = error_of(chained, 400)
    assert error["param"] == "previous_response_id"
    assert error["code"] == "previous_response_not_found"
    streamed = post(http, input="x", stream=True, previous_response_id=unstored["id"])
    assert error_of(streamed, 400)["code"] == "previous_response_not_found"  # before any byte


@pytest.mark.parametrize("flavour", ["default", "strict", "openresponses"])
def test_get_equals_the_final_streamed_response(
    flavour: str, servers: dict[str, ReferenceServer]
) -> None:
    with _client(servers[flavour]) as client:
        for body in ({"input": "Retrieve me"}, {"input": "weather in Paris?", "tools": [WEATHER]},
                     {"input": "FAIL_MIDSTREAM"}, {"input": "cut", "max_output_tokens": 2}):
            streamed = post(client, stream=True, **body)
            events = [e for e in parse_sse(streamed.text) if e != "[DONE]"]
            final = events[-1]["response"]
            assert client.get(f"/responses/{final['id']}").json() == final


def test_replay_of_a_stream(http: httpx.Client) -> None:
    original = post(http, input="Replay this, please.", stream=True)
    events = parse_sse(original.text)
    response_id = events[0]["response"]["id"]
    whole = http.get(f"/responses/{response_id}", params={"stream": "true"})
    assert whole.headers["content-type"].startswith("text/event-stream")
    assert whole.text == original.text  # obfuscation is derived from (id, sequence_number)
    after = 5
    resumed = http.get(f"/responses/{response_id}",
                       params={"stream": "true", "starting_after": after})
    assert parse_sse(resumed.text) == events[after + 1:]
    bare = http.get(f"/responses/{response_id}", params={
        "stream": "true", "starting_after": after, "include_obfuscation": "false"})
    assert parse_sse(bare.text) == [{k: v for k, v in e.items() if k != "obfuscation"}
                                    for e in events[after + 1:]]
    assert any("obfuscation" in e for e in events[after + 1:])
    last = events[-1]["sequence_number"]
    error = error_of(http.get(f"/responses/{response_id}",
                              params={"stream": "true", "starting_after": last}), 400)
    assert error["param"] == "starting_after" and str(last) in error["message"]
    for bad in ("x", "1.5"):
        error = error_of(http.get(f"/responses/{response_id}",
                                  params={"stream": "true", "starting_after": bad}), 400)
        assert (error["param"], error["code"]) == ("starting_after", "invalid_type")
    error = error_of(http.get(f"/responses/{response_id}",
                              params={"stream": "true", "starting_after": -1}), 400)
    assert error["code"] == "integer_below_min_value"
    assert error_of(http.get(f"/responses/{response_id}", params={"stream": "maybe"}),
                    400)["param"] == "stream"


def test_a_non_streamed_response_can_be_replayed(http: httpx.Client) -> None:
    for body in ({"input": "Not streamed."}, {"input": "FAIL_MIDSTREAM"},
                 {"input": "Weather in Paris?", "tools": [WEATHER],
                  "reasoning": {"effort": "low", "summary": "auto"}}):
        created = post(http, **body).json()
        replay = http.get(f"/responses/{created['id']}", params={"stream": "true"})
        assert violations(replay.content) == []
        events = parse_sse(replay.text)
        assert events[-1]["response"] == created
        streamed = parse_sse(post(http, stream=True, **body).text)
        assert [e["type"] for e in events] == [e["type"] for e in streamed]


#: What the checker (StreamChecker(starting_after=N)) still reports on a correct resumed
#: stream: it numbers it right but wants response.created first and every item opened in
#: the stream. A checker that understands resumed streams reports none of these.
RESUME_GAPS = {"grammar.created_first", "grammar.item_open",
               "consistency.final_output_matches_items"}


def test_the_checker_on_a_resumed_stream(http: httpx.Client) -> None:
    created = post(http, input="Resume me.").json()
    resumed = http.get(f"/responses/{created['id']}", params={"stream": "true",
                                                             "starting_after": 5})
    found = {check for check, _ in violations(resumed.content, starting_after=5)}
    assert found <= RESUME_GAPS


def test_delete(http: httpx.Client, sdk: openai.OpenAI) -> None:
    created = post(http, input="Delete me").json()
    deleted = http.delete(f"/responses/{created['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created["id"], "object": "response.deleted", "deleted": True}
    error_of(http.get(f"/responses/{created['id']}"), 404)
    error_of(http.get(f"/responses/{created['id']}/input_items"), 404)
    again = error_of(http.delete(f"/responses/{created['id']}"), 404)
    assert again["message"] == f"No response found with id '{created['id']}'."
    error_of(http.delete("/responses/resp_unknown"), 404)
    other = sdk.responses.create(model=MODEL, input="Delete me too")
    assert sdk.responses.delete(other.id) is None
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(other.id)


# ----------------------------------------------------------------------------- input items

IMAGE = "data:image/png;base64,iVBORw0KGgo="
INPUT = [
    {"role": "developer", "content": "Be brief."},
    {"id": "msg_client_given", "type": "message", "role": "user",
     "content": [{"type": "input_text", "text": "Look:"},
                 {"type": "input_image", "image_url": IMAGE}]},
    {"role": "assistant", "content": "Seen."},
    {"role": "user", "content": "What is it?"},
]


def test_input_items_ids_shapes_and_pagination(http: httpx.Client) -> None:
    created = post(http, input=INPUT).json()
    listing = http.get(f"/responses/{created['id']}/input_items").json()
    assert set(listing) == {"object", "data", "first_id", "last_id", "has_more"}
    assert listing["object"] == "list" and listing["has_more"] is False
    data = listing["data"]
    assert [i["role"] for i in data] == ["user", "assistant", "user", "developer"]  # desc
    assert (listing["first_id"], listing["last_id"]) == (data[0]["id"], data[-1]["id"])
    assert data[2]["id"] == "msg_client_given"
    assert all(re.fullmatch(r"msg_[0-9a-f]{50}", i["id"]) for i in data if i is not data[2])
    assert len({i["id"] for i in data}) == 4
    assert data[0] == {"id": data[0]["id"], "type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "What is it?"}],
                       "status": "completed"}
    assert data[1]["content"] == [{"type": "output_text", "text": "Seen.", "annotations": []}]
    image = data[2]["content"][1]
    assert image == {"type": "input_image", "detail": "auto", "file_id": None, "image_url": None}
    included = http.get(f"/responses/{created['id']}/input_items",
                        params={"include": "message.input_image.image_url"}).json()
    assert included["data"][2]["content"][1]["image_url"] == IMAGE

    asc = http.get(f"/responses/{created['id']}/input_items", params={"order": "asc"}).json()
    assert asc["data"] == data[::-1]
    pages, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, "order": "asc"}
        if after:
            params["after"] = after
        chunk = http.get(f"/responses/{created['id']}/input_items", params=params).json()
        pages.append([i["id"] for i in chunk["data"]])
        after = chunk["last_id"]
        if not chunk["has_more"]:
            break
    assert pages == [[i["id"] for i in asc["data"][:3]], [asc["data"][3]["id"]]]

    url = f"/responses/{created['id']}/input_items"
    for params, param, code in (
        ({"limit": 0}, "limit", "integer_below_min_value"),
        ({"limit": 101}, "limit", "integer_above_max_value"),
        ({"limit": "many"}, "limit", "invalid_type"),
        ({"order": "sideways"}, "order", "invalid_value"),
        ({"after": "msg_nope"}, "after", "invalid_value"),
        ({"include": "bogus.value"}, "include[0]", "invalid_value"),
    ):
        error = error_of(http.get(url, params=params), 400)
        assert (error["param"], error["code"]) == (param, code), params


def test_input_items_of_a_continued_response_include_the_earlier_turns(
    http: httpx.Client, sdk: openai.OpenAI
) -> None:
    first = post(http, input="What is the weather in Paris?", tools=[WEATHER]).json()
    call = first["output"][0]
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
    second = post(http, input=[output], tools=[WEATHER], previous_response_id=first["id"]).json()
    items = http.get(f"/responses/{second['id']}/input_items", params={"order": "asc"}).json()
    kinds = [(i["type"], i.get("role")) for i in items["data"]]
    assert kinds == [("message", "user"), ("function_call", None), ("function_call_output", None)]
    assert items["data"][1] == call  # the earlier output item, as the response showed it
    assert re.fullmatch(r"fco_[0-9a-f]{50}", items["data"][2]["id"])
    assert items["data"][2]["status"] == "completed"
    listed = list(sdk.responses.input_items.list(second["id"], limit=1))  # auto-paginates
    assert [i.id for i in listed] == [i["id"] for i in reversed(items["data"])]
    assert listed[0].type == "function_call_output" and listed[0].output == "sunny"


# ----------------------------------------------------------------------------- background


def test_background_response_progresses_and_is_polled(http: httpx.Client) -> None:
    created = post(http, input="Work in the background.", background=True)
    body = created.json()
    assert created.status_code == 200 and body["status"] == "queued" and body["background"]
    assert body["output"] == [] and body["usage"] is None and body["completed_at"] is None
    assert check_response_body(body, schemas=SCHEMAS) == []
    assert poll(http, body["id"]) == ["queued", "in_progress", "completed"]
    final = http.get(f"/responses/{body['id']}").json()
    assert final["background"] is True and isinstance(final["completed_at"], int)
    assert text_of(final) == reply_text(MODEL, None, messages_from_input("Work in the background."))
    replay = http.get(f"/responses/{body['id']}", params={"stream": "true"})
    assert violations(replay.content) == []
    assert parse_sse(replay.text)[-1]["response"] == final
    error = error_of(post(http, input="x", background=True, store=False), 400)
    assert error["param"] == "background"


def test_background_stream_starts_queued(
    http: httpx.Client, sdk: openai.OpenAI, servers: dict[str, ReferenceServer]
) -> None:
    started = time.perf_counter()
    response = post(http, input="Stream in the background.", background=True, stream=True)
    took = time.perf_counter() - started
    assert took >= 2 * STEP * 0.9  # paced: queued, then in progress, then done
    events = parse_sse(response.text)
    assert [e["type"] for e in events[:3]] == [
        "response.created", "response.queued", "response.in_progress"]
    assert [e["response"]["status"] for e in events[:3]] == ["queued", "queued", "in_progress"]
    assert events[-1]["type"] == "response.completed"
    assert violations(response.content) == []
    typed = list(sdk.responses.create(model=MODEL, input="SDK in the background.",
                                      background=True, stream=True))
    assert typed[1].type == "response.queued" and typed[-1].response.status == "completed"
    strict = post(_client(servers["strict"]), input="x", background=True, stream=True)
    assert violations(strict.content, strict=True) == []
    with _client(servers["openresponses"]) as client:
        ors = post(client, input="x", background=True, stream=True)
    assert violations(ors.content, profile="openresponses") == []


def test_resume_a_running_background_stream(
    server: ReferenceServer, http: httpx.Client, sdk: openai.OpenAI
) -> None:
    """Drop the connection after a few events, then resume after the last one seen: the
    replay waits for the events still to come and ends with response.completed."""
    payload = {"model": MODEL, "input": "one two three four five six seven", "background": True,
               "stream": True}
    seen: list[dict[str, Any]] = []
    with http.stream("POST", "/responses", json=payload) as live:
        for line in live.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
            if len(seen) == 4:
                break
    response_id, last = seen[0]["response"]["id"], seen[-1]["sequence_number"]
    assert http.get(f"/responses/{response_id}").json()["status"] in ("in_progress", "completed")
    rest = list(sdk.responses.retrieve(response_id, stream=True, starting_after=last))
    assert rest[0].sequence_number == last + 1 and rest[-1].type == "response.completed"
    numbers = [e["sequence_number"] for e in seen] + [e.sequence_number for e in rest]
    assert numbers == list(range(len(numbers)))


def test_cancel(http: httpx.Client, sdk: openai.OpenAI) -> None:
    queued = post(http, input="Cancel me.", background=True).json()
    cancelled = http.post(f"/responses/{queued['id']}/cancel")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["id"] == queued["id"] and body["output"] == []
    assert check_response_body(body, schemas=SCHEMAS) == []
    again = http.post(f"/responses/{queued['id']}/cancel")
    assert again.status_code == 200 and again.json() == body  # idempotent
    time.sleep(3 * STEP)
    assert http.get(f"/responses/{queued['id']}").json() == body  # it never completes
    replay = parse_sse(http.get(f"/responses/{queued['id']}", params={"stream": "true"}).text)
    assert [e["type"] for e in replay] == ["response.created", "response.queued"]
    chained = post(http, input="next", previous_response_id=queued["id"]).json()
    assert "This is turn 2." in text_of(chained)  # its input is kept, no answer to it

    running = sdk.responses.create(model=MODEL, input="Cancel me later.", background=True)
    time.sleep(STEP * 1.3)
    assert sdk.responses.cancel(running.id).status == "cancelled"

    done = post(http, input="Finish first.", background=True).json()
    poll(http, done["id"])
    error = error_of(http.post(f"/responses/{done['id']}/cancel"), 400)
    assert error["message"] == "Cannot cancel a completed response."
    foreground = post(http, input="Not in the background.").json()
    error = error_of(http.post(f"/responses/{foreground['id']}/cancel"), 400)
    assert "background" in error["message"]
    with pytest.raises(openai.BadRequestError):
        sdk.responses.cancel(foreground["id"])
    error_of(http.post("/responses/resp_unknown/cancel"), 404)


def test_a_running_response_cannot_be_continued_yet(http: httpx.Client) -> None:
    running = post(http, input="Still working.", background=True).json()
    error = error_of(post(http, input="next", previous_response_id=running["id"]), 400)
    assert error["param"] == "previous_response_id" and "queued" in error["message"]
    poll(http, running["id"])
    assert post(http, input="next", previous_response_id=running["id"]).status_code == 200


def test_get_shows_a_foreground_stream_in_progress() -> None:
    with ReferenceServer(event_delay=0.003) as srv, _client(srv) as client:
        payload = {"model": MODEL, "input": "one two three four five six", "stream": True}
        with client.stream("POST", "/responses", json=payload) as live:
            lines = live.iter_lines()
            first = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
            response_id = first["response"]["id"]
            assert client.get(f"/responses/{response_id}").json()["status"] == "in_progress"
            for _ in lines:
                pass
        assert client.get(f"/responses/{response_id}").json()["status"] == "completed"


# ----------------------------------------------------------------------------- parameters


def test_include_values(http: httpx.Client) -> None:
    accepted = post(http, input="x", include=INCLUDE_VALUES)
    assert accepted.status_code == 200, accepted.text
    assert len(INCLUDE_VALUES) == 8 and "web_search_call.action.sources" in INCLUDE_VALUES
    error = error_of(post(http, input="x", include=["reasoning.encrypted_content", "nope"]), 400)
    assert (error["param"], error["code"]) == ("include[1]", "invalid_value")
    assert error_of(post(http, input="x", include=[3]), 400)["param"] == "include[0]"
    created = accepted.json()
    assert http.get(f"/responses/{created['id']}",
                    params={"include[]": "message.output_text.logprobs"}).status_code == 200
    error = error_of(http.get(f"/responses/{created['id']}", params={"include": "x.y"}), 400)
    assert error["param"] == "include[0]"


def test_logprobs(http: httpx.Client) -> None:
    body = {"input": "Give me logprobs.", "include": ["message.output_text.logprobs"],
            "top_logprobs": 3}
    response = post(http, stream=True, **body)
    assert violations(response.content) == []
    events = parse_sse(response.text)
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert all(len(e["logprobs"]) == 1 and e["logprobs"][0]["token"] == e["delta"] for e in deltas)
    assert all(len(e["logprobs"][0]["top_logprobs"]) == 3 for e in deltas)
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert done["logprobs"] == [e["logprobs"][0] for e in deltas]
    part = events[-1]["response"]["output"][0]["content"][0]
    without_bytes = [{"token": p["token"], "logprob": p["logprob"], "top_logprobs": [
        {"token": t["token"], "logprob": t["logprob"]} for t in p["top_logprobs"]]}
        for p in part["logprobs"]]
    assert without_bytes == done["logprobs"]  # the part's form adds `bytes`
    assert all(p["bytes"] == list(p["token"].encode()) for p in part["logprobs"])
    assert all(p["logprob"] < 0 for p in part["logprobs"])
    again = post(http, **body).json()["output"][0]["content"][0]["logprobs"]
    assert again == part["logprobs"]  # deterministic
    assert post(http, input="Give me logprobs.").json()["output"][0]["content"][0][
        "logprobs"] == []


@pytest.mark.parametrize(
    ("metadata", "param", "code"),
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata", "object_above_max_properties"),
        ({"k" * 65: "v"}, "metadata", "string_above_max_length"),
        ({"key": "v" * 513}, "metadata.key", "string_above_max_length"),
        ({"key": 1}, "metadata.key", "invalid_type"),
    ],
)
def test_metadata_limits(http: httpx.Client, metadata: dict, param: str, code: str) -> None:
    error = error_of(post(http, input="x", metadata=metadata), 400)
    assert (error["param"], error["code"]) == (param, code)


def test_parameters_are_echoed_the_way_openai_normalises_them(http: httpx.Client) -> None:
    metadata = {f"k{i}": "v" * 512 for i in range(15)} | {"k" * 64: "x"}
    body = {
        "input": "Echo.", "instructions": "Be exact.", "metadata": metadata, "truncation": "auto",
        "temperature": 0, "top_p": 1, "max_output_tokens": 100, "parallel_tool_calls": False,
        "tools": [{**WEATHER, "strict": None}], "tool_choice": "none",
        "text": {"format": {"type": "json_schema", "name": "person", "schema": PERSON}},
    }
    echoed = post(http, **body).json()
    assert echoed["metadata"] == metadata and echoed["truncation"] == "auto"
    assert echoed["temperature"] == 0.0 and isinstance(echoed["temperature"], float)
    assert echoed["top_p"] == 1.0 and echoed["max_output_tokens"] == 100
    assert echoed["parallel_tool_calls"] is False and echoed["tool_choice"] == "none"
    assert echoed["instructions"] == "Be exact."
    assert echoed["tools"] == [{"type": "function", "description": WEATHER["description"],
                                "name": "get_weather", "parameters": WEATHER["parameters"],
                                "strict": True}]
    assert echoed["text"] == {"format": {"type": "json_schema", "description": None,
                                         "name": "person", "schema": PERSON, "strict": False},
                              "verbosity": "medium"}
    document = json.loads(text_of(echoed))
    jsonschema.validate(document, PERSON)
    assert post(http, input="x", truncation="sometimes").json()["error"]["param"] == "truncation"


# ----------------------------------------------------------------------------- feature switches

#: feature -> requests that use it: (method, path, body or query, param named in the 400).
DISABLED_CASES: dict[str, list[tuple[str, str, Any, str]]] = {
    "tools": [
        ("POST", "/responses", {"input": "x", "tools": [WEATHER]}, "tools"),
        ("POST", "/responses", {"input": "x", "tool_choice": "required"}, "tool_choice"),
        ("POST", "/responses", {"input": [{"type": "function_call_output", "call_id": "c",
                                           "output": "o"}]}, "input[0].type"),
        ("POST", "/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                       "tools": [CHAT_WEATHER]}, "tools"),
    ],
    "reasoning": [
        ("POST", "/responses", {"input": "x", "reasoning": {"effort": "low"}}, "reasoning"),
        ("POST", "/responses", {"input": "x", "include": ["reasoning.encrypted_content"]},
         "include[0]"),
        ("POST", "/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                       "reasoning_effort": "low"}, "reasoning_effort"),
    ],
    "structured_output": [
        ("POST", "/responses", {"input": "x", "text": {"format": {"type": "json_object"}}},
         "text.format"),
        ("POST", "/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                       "response_format": {"type": "json_object"}},
         "response_format"),
    ],
    "state": [
        ("POST", "/responses", {"input": "x", "store": True}, "store"),
        ("POST", "/responses", {"input": "x", "previous_response_id": "resp_1"},
         "previous_response_id"),
        ("POST", "/responses", {"input": "x", "background": True}, "background"),
    ],
    "background": [("POST", "/responses", {"input": "x", "background": True}, "background")],
    "streaming": [
        ("POST", "/responses", {"input": "x", "stream": True}, "stream"),
        ("POST", "/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                       "stream": True}, "stream"),
        ("GET", "/responses/{id}", {"stream": "true"}, "stream"),
    ],
    "resume": [
        ("GET", "/responses/{id}", {"stream": "true"}, "stream"),
        ("GET", "/responses/{id}", {"stream": "true", "starting_after": 2}, "starting_after"),
    ],
    "include": [
        ("POST", "/responses", {"input": "x", "include": ["message.output_text.logprobs"]},
         "include"),
        ("GET", "/responses/{id}", {"include": "message.output_text.logprobs"}, "include"),
    ],
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_a_disabled_feature_gets_a_clean_4xx(feature: str) -> None:
    assert feature in DISABLED_CASES
    with local(disabled={feature}) as client:
        plain = post(client, input="Plain request")
        assert plain.status_code == 200 and plain.json()["status"] == "completed"
        chat = client.post("/chat/completions", json={
            "model": MODEL, "messages": [{"role": "user", "content": "Plain"}]})
        assert chat.status_code == 200
        response_id = plain.json()["id"]
        for method, path, payload, param in DISABLED_CASES[feature]:
            path = path.replace("{id}", response_id)
            if method == "GET":
                response = client.get(path, params=payload)
            else:
                payload = {"model": MODEL, **payload}
                response = client.post(path, json=payload)
            error = error_of(response, 400)
            assert (error["param"], error["code"], error["type"]) == (
                param, "unsupported_parameter", "invalid_request_error"), (method, path)
            assert error["message"] == f"Unsupported parameter: '{param}' is not supported by " \
                "this server."
        if feature == "state":
            assert plain.json()["store"] is False
            for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/input_items"),
                                 ("POST", "/cancel")):
                url = f"/responses/{response_id}{path}"
                error = error_of(client.request(method, url), 404)
                assert error["message"] == f"Invalid URL ({method} /v1{url})"
        elif feature == "background":
            error_of(client.post(f"/responses/{response_id}/cancel"), 404)
        else:
            assert client.get(f"/responses/{response_id}").status_code == 200


def test_feature_names_are_checked() -> None:
    assert set(FEATURES) == {"tools", "reasoning", "structured_output", "state", "background",
                             "streaming", "resume", "include"}
    with pytest.raises(ValueError, match="feature"):
        create_app(disabled={"teleport"})
    with pytest.raises(ValueError):
        create_app(disabled="tools")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        create_app(background_step=-1)
    with pytest.raises(SystemExit):
        reference_main(["--disable", "teleport"])
    srv = ReferenceServer(disabled={"tools"})
    assert srv.disabled == {"tools"} and "disabled=['tools']" in repr(srv)


# ----------------------------------------------------------------------------- state faults


def test_fault_context_lost() -> None:
    with local(faults={"context_lost"}) as client, local() as clean:
        for target, turn in ((clean, True), (client, False)):
            first = post(target, input="Remember the word pelican.").json()
            second = post(target, input="Which word?", previous_response_id=first["id"]).json()
            assert second["previous_response_id"] == first["id"]
            assert ("This is turn 2." in text_of(second)) is turn
            if not turn:
                assert second["usage"]["input_tokens"] == 3  # only "Which word?"


def test_fault_retrieve_differs() -> None:
    with local(faults={"retrieve_differs"}) as client:
        streamed = parse_sse(post(client, input="Compare me.", stream=True).text)
        final = streamed[-1]["response"]
        retrieved = client.get(f"/responses/{final['id']}").json()
        assert text_of(retrieved) == text_of(final) + " [retrieved]"
        retrieved["output"] = final["output"]
        assert retrieved == final  # nothing else differs
        replay = parse_sse(client.get(f"/responses/{final['id']}", params={"stream": "true"}).text)
        assert replay == streamed


def test_fault_call_id_mismatch_output() -> None:
    question = "What is the weather in Paris?"
    with local(faults={"call_id_mismatch_output"}) as client:
        first = post(client, input=question, tools=[WEATHER]).json()
        call = first["output"][0]
        assert call["type"] == "function_call"  # the first turn is unchanged
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
        second = post(client, input=[output], tools=[WEATHER],
                      previous_response_id=first["id"]).json()
        assert second["status"] == "completed"
        assert [o["type"] for o in second["output"]] == ["message"]
        assert "sunny" not in text_of(second)
        assert text_of(second).startswith(f'You said: "{question}".')


def test_fault_unknown_param_500() -> None:
    with local(faults={"unknown_param_500"}) as client:
        error = error_of(post(client, input="x", bogus=1), 500)
        assert (error["type"], error["param"], error["code"]) == ("server_error", None, None)
        chat = client.post("/chat/completions", json={
            "model": MODEL, "messages": [{"role": "user", "content": "x"}], "bogus": 1})
        assert error_of(chat, 500)["type"] == "server_error"
        nested = error_of(post(client, input="x", text={"bogus": 1}), 400)
        assert nested["code"] == "unknown_parameter"  # only top-level parameters
        assert error_of(post(client, input=5), 400)["param"] == "input"


def test_fault_resume_from_zero() -> None:
    with local(faults={"resume_from_zero"}) as client:
        created = post(client, input="Resume me.").json()
        resumed = client.get(f"/responses/{created['id']}",
                             params={"stream": "true", "starting_after": 4})
        events = parse_sse(resumed.text)
        assert events[0]["sequence_number"] == 0 and events[0]["type"] == "response.created"
        found = {check for check, _ in violations(resumed.content, starting_after=4)}
        assert "sequence.starts_at_zero" in found


def test_fault_delete_keeps() -> None:
    with local(faults={"delete_keeps"}) as client:
        created = post(client, input="Delete me.").json()
        deleted = client.delete(f"/responses/{created['id']}").json()
        assert deleted == {"id": created["id"], "object": "response.deleted", "deleted": True}
        assert client.get(f"/responses/{created['id']}").json() == created


# ----------------------------------------------------------------------------- delay


def test_request_delay_does_not_serialise_requests(servers: dict[str, ReferenceServer]) -> None:
    srv = servers["delay"]

    def timed(i: int) -> float:
        started = time.perf_counter()
        with _client(srv) as client:
            response = post(client, input=f"request {i}")
        assert response.status_code == 200
        return time.perf_counter() - started

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        durations = list(pool.map(timed, range(6)))
    total = time.perf_counter() - started
    assert min(durations) >= 0.29 and total < 0.3 * 3  # six 0.3 s requests at the same time
    quick = time.perf_counter()
    assert httpx.get(f"{srv.url}/_reference/journal", timeout=5).status_code == 200
    assert time.perf_counter() - quick < 0.25  # the journal is not delayed
    with pytest.raises(ValueError):
        create_app(request_delay=-0.1)


# ----------------------------------------------------------------------------- openai-strict

STRICT_BODIES: dict[str, dict[str, Any]] = {
    "text": {"input": "Hello strict."},
    "function_call": {"input": "Weather in Paris?", "tools": [WEATHER]},
    "reasoning": {"input": "Think.", "reasoning": {"effort": "low", "summary": "detailed"},
                  "include": ["reasoning.encrypted_content"]},
    "refusal": {"input": "REFUSE"},
    "logprobs": {"input": "Logprobs.", "include": ["message.output_text.logprobs"],
                 "top_logprobs": 2},
    "incomplete": {"input": "Cut me short.", "max_output_tokens": 2},
    "json_schema": {"input": "Ann", "text": {"format": {"type": "json_schema", "name": "p",
                                                        "schema": PERSON}}},
    "fail_midstream": {"input": "FAIL_MIDSTREAM"},
    "background": {"input": "Later.", "background": True},
}


@pytest.mark.parametrize("name", sorted(STRICT_BODIES))
def test_openai_strict_flavour_passes_the_strict_profile(
    name: str, servers: dict[str, ReferenceServer], http: httpx.Client
) -> None:
    body = STRICT_BODIES[name]
    with _client(servers["strict"]) as client:
        streamed = post(client, stream=True, **body)
        assert violations(streamed.content, strict=True) == []
        plain = post(client, **body).json()
        assert check_response_body(plain, schemas=STRICT_SCHEMAS, profile="openai-strict") == []
    default = post(http, stream=True, **body)
    assert violations(default.content, strict=True) != []  # the wire flavour does not


def test_openai_strict_flavour_shapes(servers: dict[str, ReferenceServer]) -> None:
    srv = servers["strict"]
    with _client(srv) as client:
        events = parse_sse(post(client, stream=True, input="Weather in Paris?",
                                tools=[WEATHER]).text)
        assert "usage" not in events[0]["response"] and "user" not in events[0]["response"]
        final = events[-1]["response"]
        assert final["usage"]["input_tokens_details"] == {"cached_tokens": 0,
                                                          "cache_write_tokens": 0}
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert list(done) == ["type", "sequence_number", "item_id", "name", "output_index",
                              "arguments"] and done["name"] == "get_weather"
        assert post(client, input="x", user="u-1").json()["user"] == "u-1"
        failing = parse_sse(post(client, stream=True, input="FAIL_MIDSTREAM").text)
        assert set(failing[2]) == {"type", "sequence_number", "code", "message", "param"}
        assert "usage" not in failing[3]["response"]
    sdk = openai.OpenAI(base_url=srv.base_url, api_key=srv.api_key, max_retries=0)
    kinds = [e.type for e in sdk.responses.create(model=MODEL, input="FAIL_MIDSTREAM",
                                                  stream=True)]
    assert kinds == ["response.created", "response.in_progress", "error", "response.failed"]


# ----------------------------------------------------------------------------- upstream mode


def chat(http: httpx.Client | TestClient, **body: Any) -> httpx.Response:
    return http.post("/chat/completions", json={"model": MODEL, **body})


def chunks_of(response: httpx.Response) -> list[Any]:
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")
    return [json.loads(block[6:]) if block != "data: [DONE]" else "[DONE]"
            for block in response.text.split("\n\n") if block]


def test_chat_completion_answers_like_the_responses_api(http: httpx.Client) -> None:
    messages = [{"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Hello there"},
                {"role": "assistant", "content": "Hi."},
                {"role": "user", "content": [{"type": "text", "text": "Again"}]}]
    completion = chat(http, messages=messages).json()
    assert set(completion) == {"id", "object", "created", "model", "choices", "usage",
                               "service_tier", "system_fingerprint"}
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", completion["id"])
    assert completion["object"] == "chat.completion" and completion["model"] == MODEL
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["logprobs"] is None
    assert choice["message"] == {"role": "assistant", "content": choice["message"]["content"],
                                 "refusal": None, "annotations": []}
    responses = post(http, instructions="Be terse.", input=[
        *messages[1:3], {"role": "user", "content": [{"type": "input_text", "text": "Again"}]}],
    ).json()
    assert choice["message"]["content"] == text_of(responses)
    assert "This is turn 2." in text_of(responses) and text_of(responses).startswith("[instr")
    usage = completion["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        responses["usage"]["input_tokens"], responses["usage"]["output_tokens"],
        responses["usage"]["total_tokens"])
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_chat_stream(http: httpx.Client) -> None:
    messages = [{"role": "user", "content": "Stream me, please."}]
    plain = chunks_of(chat(http, messages=messages, stream=True))
    assert plain[-1] == "[DONE]" and all("usage" not in c for c in plain[:-1])
    assert plain[0]["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                               "refusal": None}
    assert all(c["object"] == "chat.completion.chunk" and len({c["id"]}) == 1 for c in plain[:-1])
    assert len({c["id"] for c in plain[:-1]}) == 1
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in plain[:-1])
    assert text == chat(http, messages=messages).json()["choices"][0]["message"]["content"]
    assert plain[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                       "finish_reason": "stop"}
    assert all("obfuscation" in c for c in plain[:-1])
    counted = chunks_of(chat(http, messages=messages, stream=True, stream_options={
        "include_usage": True, "include_obfuscation": False}))
    assert all(c["usage"] is None for c in counted[:-2])
    assert counted[-2]["choices"] == [] and counted[-2]["usage"]["total_tokens"] > 0
    assert not any("obfuscation" in c for c in counted[:-1])


def test_chat_tool_calls_match_the_responses_api(http: httpx.Client) -> None:
    question = [{"role": "user", "content": "Use get_weather for Paris, please."}]
    completion = chat(http, messages=question, tools=[CHAT_WEATHER]).json()
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    responses = post(http, input=question, tools=[WEATHER]).json()
    call = responses["output"][0]
    assert calls == [{"id": call["call_id"], "type": "function",
                      "function": {"name": "get_weather", "arguments": call["arguments"]}}]
    assert completion["usage"]["completion_tokens"] == responses["usage"]["output_tokens"]
    streamed = chunks_of(chat(http, messages=question, tools=[CHAT_WEATHER], stream=True))
    opening = streamed[0]["choices"][0]["delta"]
    assert opening["tool_calls"][0] == {"index": 0, "id": call["call_id"], "type": "function",
                                        "function": {"name": "get_weather", "arguments": ""}}
    arguments = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                        for c in streamed[:-2])
    assert arguments == call["arguments"] and streamed[-2]["choices"][0]["finish_reason"] == (
        "tool_calls")
    follow_up = [*question, choice["message"],
                 {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"}]
    answer = chat(http, messages=follow_up, tools=[CHAT_WEATHER]).json()
    chained = post(http, previous_response_id=responses["id"], tools=[WEATHER], input=[
        {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]).json()
    assert answer["choices"][0]["message"]["content"] == text_of(chained) == (
        'The function get_weather returned: "sunny". I am the reference model.')
    assert answer["usage"]["prompt_tokens"] == chained["usage"]["input_tokens"]


def test_chat_other_behaviours(http: httpx.Client) -> None:
    cut = chat(http, messages=[{"role": "user", "content": "Hello there"}], max_tokens=2).json()
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["choices"][0]["message"]["content"] == "You said"
    refusal = chat(http, messages=[{"role": "user", "content": "REFUSE"}]).json()
    assert refusal["choices"][0]["message"]["refusal"].startswith("I'm sorry")
    assert refusal["choices"][0]["message"]["content"] is None
    structured = chat(http, messages=[{"role": "user", "content": "Ann"}], response_format={
        "type": "json_schema", "json_schema": {"name": "p", "schema": PERSON, "strict": True}})
    jsonschema.validate(json.loads(structured.json()["choices"][0]["message"]["content"]), PERSON)
    logprobs = chat(http, messages=[{"role": "user", "content": "hi"}], logprobs=True,
                    top_logprobs=2).json()["choices"][0]["logprobs"]
    assert logprobs["refusal"] is None and len(logprobs["content"][0]["top_logprobs"]) == 2
    reasoning = chat(http, messages=[{"role": "user", "content": "hi"}],
                     reasoning_effort="low").json()
    assert reasoning["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    failed = chat(http, messages=[{"role": "user", "content": "FAIL_MIDSTREAM"}], stream=True)
    assert error_of(failed, 500)["type"] == "server_error"


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"model": None, "messages": []}, 400, None, None),
        ({"model": "gpt-nope", "messages": [{"role": "user", "content": "x"}]}, 404, None,
         "model_not_found"),
        ({}, 400, "messages", "missing_required_parameter"),
        ({"messages": []}, 400, "messages", "empty_array"),
        ({"messages": [{"role": "user", "content": "x"}], "bogus": 1}, 400, None, None),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role",
         "invalid_value"),
        ({"messages": [{"role": "tool", "tool_call_id": "c", "content": "x"}]}, 400,
         "messages.[0].role", None),
        ({"messages": [{"role": "user", "content": "x"}], "stream_options": {}}, 400,
         "stream_options", None),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, 400, "n",
         "unsupported_value"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 3}, 400, "temperature",
         "integer_above_max_value"),
        ({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}, 400,
         "tool_choice", "invalid_value"),
    ],
)
def test_chat_errors(http: httpx.Client, body: dict, status: int, param: str | None,
                     code: str | None) -> None:
    payload = {"model": MODEL, **body}
    if payload["model"] is None:
        del payload["model"]
    error = error_of(http.post("/chat/completions", json=payload), status)
    assert (error["param"], error["code"]) == (param, code)


def test_chat_and_models_through_the_sdk(sdk: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Hello SDK"}]
    completion = sdk.chat.completions.create(model=MODEL, messages=messages)
    assert completion.choices[0].message.content.startswith('You said: "Hello SDK".')
    chunks = list(sdk.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                              stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content
    assert chunks[-1].usage.total_tokens == completion.usage.total_tokens
    tools = sdk.chat.completions.create(model=MODEL, tools=[CHAT_WEATHER], messages=[
        {"role": "user", "content": "weather?"}], tool_choice="required")
    assert tools.choices[0].message.tool_calls[0].function.name == "get_weather"
    models = sdk.models.list()
    assert [m.id for m in models] == ["ref-model-1", "ref-model-mini"]
    assert all(m.object == "model" and m.owned_by and m.created for m in models)
    assert sdk.models.retrieve("ref-model-mini").id == "ref-model-mini"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-nope")


def test_journal(server: ReferenceServer, http: httpx.Client) -> None:
    journal = f"{server.url}/_reference/journal"
    assert httpx.delete(journal).status_code == 200  # no key needed
    question = [{"role": "user", "content": "Use get_weather for Paris."}]
    chat(http, messages=question, tools=[CHAT_WEATHER], stream=True)
    chat(http, messages=[{"role": "user", "content": "Plain."}])
    post(http, input="Responses too.")
    chat(http, messages=[])
    entries = httpx.get(journal).json()
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/v1/chat/completions", 200), ("/v1/chat/completions", 200), ("/v1/responses", 200),
        ("/v1/chat/completions", 400)]
    called, plain, responses, failed = entries
    assert called["request"]["messages"] == question and called["stream"] is True
    assert called["finish_reason"] == "tool_calls" and called["text"] is None
    [call] = called["tool_calls"]
    assert call["name"] == "get_weather" and json.loads(call["arguments"])["unit"] == "celsius"
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["call_id"])
    assert plain["text"].startswith('You said: "Plain."') and plain["finish_reason"] == "stop"
    assert plain["usage"]["total_tokens"] == plain["usage"]["prompt_tokens"] + plain["usage"][
        "completion_tokens"]
    assert responses["text"].startswith('You said: "Responses too."')
    assert responses["response_id"].startswith("resp_") and responses["usage"]["input_tokens"]
    assert failed["error"]["code"] == "empty_array"
    cleared = httpx.delete(journal).json()
    assert cleared["cleared"] == 4 and httpx.get(journal).json() == []


def test_new_bodies_pass_the_body_checks(http: httpx.Client) -> None:
    queued = post(http, input="x", background=True).json()
    cancelled = http.post(f"/responses/{queued['id']}/cancel").json()
    logprobs = post(http, input="x", include=["message.output_text.logprobs"]).json()
    for body in (queued, cancelled, logprobs):
        assert check_response_body(copy.deepcopy(body), schemas=SCHEMAS) == []
    assert generate(MODEL, None, messages_from_input("x")).output_tokens > 0
