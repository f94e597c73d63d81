"""`POST /v1/responses/compact`: the reference server's endpoint, the official SDK's reading of
it, and the suite's compact scenarios (shape, error, capabilities)."""
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
from responses_conformance.reference.compact import ENCODING_PREFIX
from responses_conformance.runner import Runner, Target
from responses_conformance.scenarios import load_all

SCENARIOS = {s.id: s for s in load_all()}
COMPACT = sorted(sid for sid in SCENARIOS if "compact" in SCENARIOS[sid].features)
CONVERSATION = [
    {"role": "user", "content": "Create a simple landing page for a dog petting cafe."},
    {"type": "message", "role": "assistant", "status": "completed",
     "content": [{"type": "output_text", "text": "Here is a page.", "annotations": []}]},
    {"role": "user", "content": "Make the header blue."},
]


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer() as srv:
        yield srv


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
    packed = compaction["encrypted_content"][len(ENCODING_PREFIX):]
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


def _run(srv: ReferenceServer, reports: Path, **kwargs: Any) -> dict[str, Any]:
    runner = Runner(Target(srv.base_url, srv.api_key, DEFAULT_MODEL, embedded=True),
                    limits=Limits(timeout=10, idle_timeout=5), reports_dir=reports, schemas=SchemaSet.load(), **kwargs)
    try:
        return {sid: runner.result(SCENARIOS[sid]) for sid in COMPACT}
    finally:
        runner.close()


def test_the_compact_scenarios_pass(server: ReferenceServer, tmp_path: Path) -> None:
    assert COMPACT == ["compact-conversation", "compact-missing-model"]
    results = _run(server, tmp_path)
    assert {sid: (r.status, r.violations) for sid, r in results.items()} == {sid: ("passed", []) for sid in COMPACT}


def test_a_target_without_compact_reports_it_unsupported(tmp_path: Path) -> None:
    with ReferenceServer(disabled={"compact"}) as srv:
        assert post(srv, {"model": DEFAULT_MODEL, "input": "Hi"}).status_code == 405
        results = _run(srv, tmp_path / "plain")
        required = _run(srv, tmp_path / "required", required=frozenset({"compact"}))
    for result in results.values():
        assert result.status == "skipped"
        assert result.unsupported == "HTTP 405: Invalid method for URL (POST /v1/responses/compact)"
    for result in required.values():
        assert result.status == "failed"
        assert "schema.compaction" in {v.check for v in result.violations}
