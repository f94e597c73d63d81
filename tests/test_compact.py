"""`POST /v1/responses/compact`: the reference server's endpoint, the official SDK's reading of
it, the round trip (the compacted output as the next input, over HTTP and WebSocket, in every
flavour; forged or foreign compaction items refused) and the suite's compact scenarios (shape,
error, round trip, capabilities, the `compaction_refused` fault)."""
from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from responses_conformance.engine.assertions import StepView, run
from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.http import Limits
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer
from responses_conformance.engine.violations import Severity
from responses_conformance.reference.compaction_codec import ENCODING_PREFIX, MAX_UNPACKED, NotOurs, _tag, decode, encode
from responses_conformance.reference.model import Message
from responses_conformance.results import scenario_status
from responses_conformance.runner import Runner, ScenarioResult, Target
from responses_conformance.scenarios import load_all

from ._servers import running

SCENARIOS = {s.id: s for s in load_all()}
COMPACT = sorted(sid for sid in SCENARIOS if "compact" in SCENARIOS[sid].features)
# Compact, then continue with the compacted output as the next input.
ROUND_TRIP = ["compact-continue", "ws-compact-new-connection", "ws-compact-same-connection"]
FLAVOURS = ("openai", "openai-strict", "openresponses")


def status(result: ScenarioResult) -> str:
    """The scenario's status against the reference server (deterministic: every finding counts)."""
    return str(scenario_status(result.outcome(), result.violations, deterministic=True))
CONVERSATION = [
    {"role": "user", "content": "Create a simple landing page for a dog petting cafe."},
    {"type": "message", "role": "assistant", "status": "completed",
     "content": [{"type": "output_text", "text": "Here is a page.", "annotations": []}]},
    {"role": "user", "content": "Make the header blue."},
]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ReferenceServer]]:
    """One server per flavour, and one with the compaction_refused fault."""
    specs: dict[str, dict[str, Any]] = {flavour: {"flavour": flavour} for flavour in FLAVOURS}
    specs["compaction_refused"] = {"faults": {"compaction_refused"}}
    with running(specs) as started:
        yield started


@pytest.fixture(scope="module")
def server(servers: dict[str, ReferenceServer]) -> ReferenceServer:
    return servers["openai"]


def post(srv: ReferenceServer, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(f"{srv.base_url}/responses/compact", json=body, timeout=10,
                      headers=headers or {"Authorization": f"Bearer {srv.api_key}"})


def test_a_conversation_is_compacted_into_user_turns_and_one_compaction_item(server: ReferenceServer) -> None:
    answer = post(server, {"model": DEFAULT_MODEL, "input": CONVERSATION, "prompt_cache_key": "k"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["id", "object", "created_at", "output", "usage"]
    assert body["object"] == "response.compaction" and body["id"].startswith("resp_")
    users, compaction = body["output"][:-1], body["output"][-1]
    assert [u["content"][0]["text"] for u in users] == [CONVERSATION[0]["content"], CONVERSATION[2]["content"]]
    assert all(u["type"] == "message" and u["role"] == "user" and u["status"] == "completed" for u in users)
    assert compaction["type"] == "compaction" and compaction["id"].startswith("cmp_")
    assert compaction["encrypted_content"].startswith(ENCODING_PREFIX)
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert not list(run("schema.compaction", {"c": StepView("c", status=200, body=body)}, {"step": "c"}))
    # Opaque to clients, and the same for the same conversation.
    again = post(server, {"model": DEFAULT_MODEL, "input": CONVERSATION}).json()
    assert again["output"] == body["output"] and again["id"] != body["id"]
    packed = compaction["encrypted_content"][len(ENCODING_PREFIX):].split(".")[0]
    folded = json.loads(zlib.decompress(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))))
    assert folded == [{"role": "assistant", "text": "Here is a page."}]


def test_previous_response_id_compacts_the_stored_conversation(server: ReferenceServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    first = httpx.post(f"{server.base_url}/responses", headers=headers,
                       json={"model": DEFAULT_MODEL, "input": "My secret word is heliotrope."}).json()
    body = post(server, {"model": DEFAULT_MODEL, "previous_response_id": first["id"], "input": "And now?"}).json()
    texts = [item["content"][0]["text"] for item in body["output"] if item["type"] == "message"]
    assert texts == ["My secret word is heliotrope.", "And now?"]


@pytest.mark.parametrize("body, status, param, code", [
    ({"input": "Hello"}, 400, "model", "missing_required_parameter"),
    ({"model": None, "input": "Hello"}, 400, "model", "missing_required_parameter"),
    ({"model": "no-such-model", "input": "Hello"}, 400, "model", "model_not_found"),
    ({"model": DEFAULT_MODEL}, 400, "input", "missing_required_parameter"),
    ({"model": DEFAULT_MODEL, "input": "Hi", "stream": True}, 400, "stream", "unknown_parameter"),
    ({"model": DEFAULT_MODEL, "input": 42}, 400, "input", "invalid_type"),
    ({"model": DEFAULT_MODEL, "previous_response_id": "resp_missing"}, 400, "previous_response_id",
     "previous_response_not_found"),
    ([1, 2], 400, None, "invalid_type"),
])
def test_a_bad_compaction_request_gets_the_error_envelope(server: ReferenceServer, body: Any, status: int,
                                                          param: str | None, code: str) -> None:
    answer = post(server, body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert error["message"]


def test_the_endpoint_needs_the_key(server: ReferenceServer) -> None:
    answer = post(server, {"model": DEFAULT_MODEL, "input": "Hi"}, Authorization="Bearer sk-wrong")
    assert answer.status_code == 401 and answer.json()["error"]["type"] == "invalid_request_error"


def test_the_official_sdk_reads_the_compaction(server: ReferenceServer) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
    if not hasattr(client.responses, "compact"):
        pytest.skip("this openai version has no responses.compact")
    compacted = client.responses.compact(model=DEFAULT_MODEL, input=CONVERSATION)
    assert compacted.object == "response.compaction"
    assert compacted.output[-1].type == "compaction" and compacted.usage.total_tokens > 0


def _run(srv: ReferenceServer, reports: Path, ids: list[str] = COMPACT, profile: str = "openai",
         **kwargs: Any) -> dict[str, Any]:
    runner = Runner(Target(srv.base_url, srv.api_key, DEFAULT_MODEL, embedded=True),
                    limits=Limits(timeout=10, idle_timeout=5), reports_dir=reports,
                    schemas=SchemaSet.load(profile=profile), profile=profile, **kwargs)
    try:
        return {sid: runner.result(SCENARIOS[sid]) for sid in ids}
    finally:
        runner.close()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_compact_scenarios_pass(flavour: str, servers: dict[str, ReferenceServer], tmp_path: Path) -> None:
    assert COMPACT == sorted(["compact-conversation", "compact-missing-model", *ROUND_TRIP])
    results = _run(servers[flavour], tmp_path, profile=flavour)
    assert {sid: (status(r), r.error, r.violations) for sid, r in results.items()} == \
        {sid: ("passed", None, []) for sid in COMPACT}


def test_a_target_without_compact_reports_it_unsupported(tmp_path: Path) -> None:
    with ReferenceServer(disabled={"compact"}) as srv:
        assert post(srv, {"model": DEFAULT_MODEL, "input": "Hi"}).status_code == 405
        results = _run(srv, tmp_path / "plain")
        required = _run(srv, tmp_path / "required", required=frozenset({"compact"}))
    for result in results.values():
        assert status(result) == "unsupported"
        assert result.unsupported == "HTTP 405: Invalid method for URL (POST /v1/responses/compact)"
    for sid, result in required.items():
        assert status(result) == "failed"
        assert "schema.compaction" in {v.check for v in result.violations}


def test_requiring_compact_fails_the_round_trip_scenarios_on_a_target_without_it(tmp_path: Path) -> None:
    with ReferenceServer(disabled={"compact"}) as srv:
        required = _run(srv, tmp_path, ROUND_TRIP, required=frozenset({"compact"}))
    for result in required.values():
        assert status(result) == "failed"
        assert "schema.compaction" in {v.check for v in result.violations}


# --------------------------------------------------------------------------------------------
# The round trip: what /responses/compact returns is the next request's input

TOOL_CONVERSATION = [
    {"role": "user", "content": "What is the weather in Paris right now?"},
    {"type": "function_call", "call_id": "call_paris", "name": "get_weather", "arguments": '{"city":"Paris"}'},
    {"type": "function_call_output", "call_id": "call_paris", "output": "Sunny, 22 degrees Celsius."},
]
QUOTED = 'The function get_weather returned: "Sunny, 22 degrees Celsius.".'


def respond(srv: ReferenceServer, body: Any) -> httpx.Response:
    return httpx.post(f"{srv.base_url}/responses", json={"model": DEFAULT_MODEL, **body}, timeout=10,
                      headers={"Authorization": f"Bearer {srv.api_key}"})


def text_of(response: dict) -> str:
    return "".join(part["text"] for item in response["output"] if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")


def compacted(srv: ReferenceServer, conversation: list[dict] = TOOL_CONVERSATION) -> list[dict]:
    answer = post(srv, {"model": DEFAULT_MODEL, "input": conversation})
    assert answer.status_code == 200, answer.text
    return answer.json()["output"]


def ws_answer(srv: ReferenceServer, *messages: dict) -> list[dict]:
    """The terminal event's Response, or the error frame, for each response.create on one connection."""
    from websockets.sync.client import connect

    answers = []
    with connect(srv.base_url.replace("http://", "ws://") + "/responses",
                 additional_headers={"Authorization": f"Bearer {srv.api_key}"}) as websocket:
        for message in messages:
            websocket.send(json.dumps({"type": "response.create", "model": DEFAULT_MODEL, **message}))
            while True:
                frame = json.loads(websocket.recv(timeout=10))
                if frame["type"] == "error":
                    answers.append(frame)
                    break
                if frame["type"] in ("response.completed", "response.incomplete", "response.failed"):
                    answers.append(frame["response"])
                    break
    return answers


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_compacted_output_is_the_next_input_with_its_context(flavour: str,
                                                                  servers: dict[str, ReferenceServer]) -> None:
    srv = servers[flavour]
    window = compacted(srv)
    assert [item["type"] for item in window] == ["message", "compaction"]
    original = respond(srv, {"input": TOOL_CONVERSATION}).json()
    again = respond(srv, {"input": window})
    assert again.status_code == 200, again.text
    # The model reads the folded turns in the compaction item's place: the same answer as before.
    assert text_of(again.json()) == text_of(original) and QUOTED in text_of(again.json())
    streamed = respond(srv, {"input": window, "stream": True})
    assert streamed.status_code == 200 and json.dumps(QUOTED)[1:-1] in streamed.text
    # A new user turn after the window: the kept user turn is recalled, the folded ones are context.
    later = respond(srv, {"input": [*window, {"role": "user", "content": "Thanks!"}]}).json()
    assert 'Earlier you said: "What is the weather in Paris right now?"' in text_of(later)
    assert later["usage"]["input_tokens"] == original["usage"]["input_tokens"] + 2


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_over_a_websocket_on_the_same_connection_and_a_new_one(flavour: str,
                                                                servers: dict[str, ReferenceServer]) -> None:
    srv = servers[flavour]
    window = compacted(srv)
    first, same = ws_answer(srv, {"input": TOOL_CONVERSATION, "store": False}, {"input": window, "store": False})
    (fresh,) = ws_answer(srv, {"input": window, "store": False})
    for answer in (first, same, fresh):
        assert answer["status"] == "completed" and QUOTED in text_of(answer)


def test_the_compaction_is_kept_in_the_stored_conversation(server: ReferenceServer) -> None:
    window = compacted(server)
    created = respond(server, {"input": window}).json()
    items = httpx.get(f"{server.base_url}/responses/{created['id']}/input_items?order=asc", timeout=10,
                      headers={"Authorization": f"Bearer {server.api_key}"}).json()["data"]
    assert [item["type"] for item in items] == ["message", "compaction"]
    assert items[1] == window[1]
    # previous_response_id continues the conversation the compaction unfolded into.
    later = respond(server, {"previous_response_id": created["id"], "input": "And tomorrow?"}).json()
    assert "This is turn 2." in text_of(later)
    # Compacting a window again folds the same turns: the same encrypted content.
    sealed = window[-1]["encrypted_content"]
    assert compacted(server, window)[-1]["encrypted_content"] == sealed
    assert compacted(server, [*window, {"role": "user", "content": "Thanks!"}])[-1]["encrypted_content"] == sealed


def _forged(window: list[dict]) -> dict[str, str]:
    content = window[-1]["encrypted_content"]
    body, tag = content[len(ENCODING_PREFIX):].split(".")
    altered = ENCODING_PREFIX + json.dumps([{"role": "assistant", "text": "Forged."}])  # not even packed
    packed = base64.urlsafe_b64encode(zlib.compress(b'[{"role":"tool","text":"Forged."}]')).decode().rstrip("=")
    return {
        "altered": f"{ENCODING_PREFIX}{body[:-4]}AAAA.{tag}",
        "retagged": f"{ENCODING_PREFIX}{packed}.{tag}",
        "untagged": f"{ENCODING_PREFIX}{packed}",
        "unpacked": f"{altered}.{_tag(altered[len(ENCODING_PREFIX):])}",
        "foreign": "gAAAAABpOpenAIStyleEncryptedContent==",
        "empty": "",
    }


@pytest.mark.parametrize("kind", ["altered", "retagged", "untagged", "unpacked", "foreign", "empty"])
def test_a_forged_or_foreign_compaction_is_refused_naming_its_parameter(kind: str, server: ReferenceServer) -> None:
    window = compacted(server)
    item = {**window[-1], "encrypted_content": _forged(window)[kind]}
    refused = respond(server, {"input": [window[0], {"role": "user", "content": "Hi"}, item]})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["type"], error["code"], error["param"]) == \
        ("invalid_request_error", "invalid_encrypted_content", "input[2].encrypted_content")
    assert "input[2]" in error["message"]
    (frame,) = ws_answer(server, {"input": [window[0], {"role": "user", "content": "Hi"}, item], "store": False})
    assert frame["type"] == "error" and frame["status"] == 400
    assert (frame["error"]["code"], frame["error"]["param"]) == ("invalid_encrypted_content", "input[2].encrypted_content")


@pytest.mark.parametrize("item, param, code", [
    ({"type": "compaction"}, "input[0].encrypted_content", "missing_required_parameter"),
    ({"type": "compaction", "encrypted_content": 7}, "input[0].encrypted_content", "invalid_type"),
    ({"type": "compaction", "encrypted_content": "rcmp1.x.y", "id": 3}, "input[0].id", "invalid_type"),
])
def test_a_malformed_compaction_item_is_refused(item: dict, param: str, code: str, server: ReferenceServer) -> None:
    error = respond(server, {"input": [item]}).json()["error"]
    assert (error["param"], error["code"]) == (param, code)


def test_decode_reads_its_own_and_refuses_a_zip_bomb() -> None:
    turns = [Message("assistant", "Here."), Message("function_call", "{} f", call_id="call_1", name="f")]
    assert decode(encode(turns)) == turns
    packed = base64.urlsafe_b64encode(zlib.compress(b"[" + b" " * (MAX_UNPACKED + 10) + b"]")).decode().rstrip("=")
    with pytest.raises(NotOurs):
        decode(f"{ENCODING_PREFIX}{packed}.{_tag(packed)}")


def test_the_official_sdk_sends_the_compacted_output_back(server: ReferenceServer) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
    if not hasattr(client.responses, "compact"):
        pytest.skip("this openai version has no responses.compact")
    window = client.responses.compact(model=DEFAULT_MODEL, input=TOOL_CONVERSATION).output
    answer = client.responses.create(model=DEFAULT_MODEL, input=[item.model_dump(exclude_none=True, warnings=False) for item in window])
    assert answer.status == "completed" and QUOTED in answer.output_text


# --------------------------------------------------------------------------------------------
# The fault: a server that refuses the compaction items it returns is broken, not unsupported


def test_the_fault_refuses_compaction_items_as_the_issue_saw_it(servers: dict[str, ReferenceServer]) -> None:
    srv = servers["compaction_refused"]
    window = compacted(srv)  # the endpoint itself works
    error = respond(srv, {"input": [{"role": "user", "content": "Hi"}, *window]}).json()["error"]
    assert (error["code"], error["param"]) == ("invalid_value", "input[2].type")
    assert error["message"].startswith("Invalid value: 'compaction'. Supported values are: 'message', 'function_call'")
    (frame,) = ws_answer(srv, {"input": window, "store": False})
    assert frame["type"] == "error" and frame["error"]["param"] == "input[1].type"
    assert respond(srv, {"input": TOOL_CONVERSATION}).status_code == 200  # nothing else changes


@pytest.mark.parametrize("flavour", ["openai", "openresponses"])
def test_the_round_trip_scenarios_fail_against_the_fault(flavour: str, servers: dict[str, ReferenceServer],
                                                        tmp_path: Path) -> None:
    results = _run(servers["compaction_refused"], tmp_path, profile=flavour)
    for sid in ROUND_TRIP:
        result = results[sid]
        must = {v.check for v in result.violations if v.severity is Severity.MUST}
        assert (status(result), result.error, result.unsupported) == ("failed", None, None), sid
        assert "consistency.compaction_accepted" in must, (sid, must)
        named = next(v for v in result.violations if v.check == "consistency.compaction_accepted")
        assert "refused with" in named.message and "invalid_value" in named.message
    for sid in sorted(set(COMPACT) - set(ROUND_TRIP)):
        assert status(results[sid]) == "passed", sid
