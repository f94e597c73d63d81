"""WebSocket mode: the reference server's route, the suite's transport and judge, the scenarios,
the broken variants, capabilities and the replay of WebSocket transcripts.

Live tests talk to real servers on 127.0.0.1 (the reference server in a thread); the judge is
also fed by hand, as `replay` and the check cases feed it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from responses_conformance import replay, ws
from responses_conformance.engine import registry
from responses_conformance.engine.exchange import Expectation
from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.engine.violations import Severity
from responses_conformance.http import Limits
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer, create_app
from responses_conformance.reference.app import WS_FAULTS
from responses_conformance.runner import Runner, Target
from responses_conformance.scenarios import ScenarioError, from_data, load_all

SCHEMAS = SchemaSet.load()
SCENARIOS = {s.id: s for s in load_all()}
WS_SCENARIOS = sorted(sid for sid, s in SCENARIOS.items() if any(step.websocket for step in s.steps))
LIMITS = Limits(timeout=10, idle_timeout=5)


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer() as srv:
        yield srv


def ws_url(srv: ReferenceServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/responses"


def auth(srv: ReferenceServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {srv.api_key}"}


def create(**fields: Any) -> str:
    return json.dumps({"type": "response.create", "model": DEFAULT_MODEL, **fields})


def until_answered(websocket: Any, timeout: float = 5) -> list[dict]:
    """Frames up to and including a terminal event or a request-level error frame."""
    frames = []
    while True:
        frame = json.loads(websocket.recv(timeout=timeout))
        frames.append(frame)
        if frame["type"] in ("response.completed", "response.incomplete", "response.failed"):
            return frames
        if frame["type"] == "error" and "sequence_number" not in frame:
            return frames


def normalize(events: list[dict]) -> list[dict]:
    """Ids, timestamps and obfuscation differ per response; the rest must not."""
    text = json.dumps([{k: v for k, v in e.items() if k != "obfuscation"} for e in events])
    text = re.sub(r'"(resp|msg|rs|fc)_[0-9a-f]+"', r'"\1_x"', text)
    text = re.sub(r'"(created_at|completed_at)": \d+', r'"\1": 0', text)
    return json.loads(text)


def run_scenarios(srv: ReferenceServer, ids: list[str], reports: Path, **runner: Any) -> dict[str, Any]:
    target = Target(srv.base_url, srv.api_key, DEFAULT_MODEL, embedded=True)
    suite = Runner(target, limits=LIMITS, reports_dir=reports, schemas=SCHEMAS, **runner)
    try:
        return {sid: suite.result(SCENARIOS[sid]) for sid in ids}
    finally:
        suite.close()


# --------------------------------------------------------------------------------------------
# The reference server's WebSocket route


def test_a_response_over_websocket_is_the_stream_of_the_same_request(server: ReferenceServer) -> None:
    body = {"model": DEFAULT_MODEL, "input": "Say hello in exactly three words.", "store": False}
    with connect(ws_url(server), additional_headers=auth(server)) as websocket:
        websocket.send(create(**{k: v for k, v in body.items() if k != "model"}))
        frames = until_answered(websocket)
    answer = httpx.post(f"{server.base_url}/responses", json={**body, "stream": True}, headers=auth(server))
    streamed = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")]
    assert normalize(frames) == normalize(streamed)
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))
    assert all("obfuscation" in f for f in frames if f["type"].endswith(".delta"))


def test_one_connection_carries_responses_one_after_another(server: ReferenceServer) -> None:
    with connect(ws_url(server), additional_headers=auth(server)) as websocket:
        for word in ("one", "two", "three"):
            websocket.send(create(input=f"Say {word}."))
            frames = until_answered(websocket)
            assert frames[0]["type"] == "response.created" and frames[0]["sequence_number"] == 0
            assert frames[-1]["type"] == "response.completed"


# The SDK's own use of websockets, not ours.
@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")
def test_the_official_sdk_reads_the_reference_websocket(server: ReferenceServer) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
    if not hasattr(client.responses, "connect"):
        pytest.skip("this openai version has no WebSocket mode")
    with client.responses.connect() as connection:
        connection.send({"type": "response.create", "model": DEFAULT_MODEL, "input": "Hello", "store": False})
        for event in connection:
            if event.type == "response.completed":
                assert event.response.output_text == 'You said: "Hello". I am the reference model.'
                first = event.response.id
                break
        connection.send({"type": "response.create", "model": DEFAULT_MODEL, "input": "And now?", "store": False,
                         "previous_response_id": first})
        for event in connection:
            if event.type == "response.completed":
                assert 'Earlier you said: "Hello"' in event.response.output_text
                break
        connection.send({"type": "response.create", "model": DEFAULT_MODEL, "input": "x",
                         "previous_response_id": "resp_unknown"})
        error = next(iter(connection))
    assert (error.type, error.status, error.error.code) == ("error", 400, "previous_response_not_found")


@pytest.mark.parametrize("message, status, code, param", [
    ("this is not JSON", 400, "invalid_json", None),
    ("[1, 2]", 400, "invalid_type", None),
    ('{"model": "ref-model-1", "input": "Hi"}', 400, "missing_required_parameter", "type"),
    ('{"type": "response.cancel"}', 400, "invalid_value", "type"),
    ('{"type": "response.create", "input": "Hi"}', 400, "missing_required_parameter", "model"),
    (create(input="Hi", stream=True), 400, "unsupported_parameter", "stream"),
    (create(input="Hi", background=True), 400, "unsupported_parameter", "background"),
    (create(input="Hi", temperature="hot"), 400, "invalid_type", "temperature"),
    (b'{"type": "response.create"}', 400, "invalid_message", None),
])
def test_a_refused_message_gets_an_error_frame_and_the_connection_goes_on(
        server: ReferenceServer, message: str | bytes, status: int, code: str, param: str | None) -> None:
    with connect(ws_url(server), additional_headers=auth(server)) as websocket:
        websocket.send(message)
        (frame,) = until_answered(websocket)
        assert frame["type"] == "error" and frame["status"] == status
        assert (frame["error"]["code"], frame["error"]["param"]) == (code, param)
        assert frame["error"]["type"] == "invalid_request_error" and frame["error"]["message"]
        assert not ws.error_frame_problems(frame)
        websocket.send(create(input="Still there?"))
        assert until_answered(websocket)[-1]["type"] == "response.completed"


def test_a_second_create_in_flight_is_refused_and_the_first_goes_on() -> None:
    with ReferenceServer(event_delay=0.01) as srv, connect(ws_url(srv), additional_headers=auth(srv)) as websocket:
        websocket.send(create(input="Count from one to five."))
        first = json.loads(websocket.recv(timeout=5))
        websocket.send(create(input="Name one tree."))
        frames = [first]
        while frames[-1]["type"] != "response.completed":
            frames.append(json.loads(websocket.recv(timeout=5)))
        refused = [f for f in frames if f["type"] == "error"]
        assert [(f["status"], f["error"]["code"]) for f in refused] == [(400, "response_already_in_flight")]
        stream = [f for f in frames if f["type"] != "error"]
        assert stream[-1]["type"] == "response.completed" and len({f["sequence_number"] for f in stream}) == len(stream)
        websocket.send(create(input="Name one tree."))  # once the first is done, it is welcome
        assert until_answered(websocket)[-1]["type"] == "response.completed"


def test_store_false_continues_on_its_connection_only(server: ReferenceServer) -> None:
    with connect(ws_url(server), additional_headers=auth(server)) as websocket:
        websocket.send(create(input="My secret word is marigold.", store=False))
        first = until_answered(websocket)[-1]["response"]["id"]
        websocket.send(create(input="What is my secret word?", store=False, previous_response_id=first))
        answer = until_answered(websocket)[-1]["response"]
        assert "marigold" in answer["output"][0]["content"][0]["text"]
    assert httpx.get(f"{server.base_url}/responses/{first}", headers=auth(server)).status_code == 404
    with connect(ws_url(server), additional_headers=auth(server)) as websocket:  # a reconnect
        websocket.send(create(input="And now?", store=False, previous_response_id=answer["id"]))
        (frame,) = until_answered(websocket)
    assert (frame["status"], frame["error"]["code"], frame["error"]["param"]) == (
        400, "previous_response_not_found", "previous_response_id")


def test_a_failed_continuation_forgets_the_connections_response(server: ReferenceServer) -> None:
    with connect(ws_url(server), additional_headers=auth(server)) as websocket:
        websocket.send(create(input="My secret word is saffron.", store=False))
        first = until_answered(websocket)[-1]["response"]["id"]
        websocket.send(create(store=False, previous_response_id=first, input=[
            {"type": "function_call_output", "call_id": "call_none", "output": "sunny"}]))
        assert until_answered(websocket)[0]["status"] == 400
        websocket.send(create(store=False, previous_response_id=first, input="What is my secret word?"))
        (frame,) = until_answered(websocket)
    assert frame["error"]["code"] == "previous_response_not_found"


@pytest.mark.parametrize("header", [{"Authorization": "Bearer sk-wrong"}, {}])
def test_the_upgrade_needs_the_key(server: ReferenceServer, header: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as refused:
        with connect(ws_url(server), additional_headers=header):
            pass
    response = refused.value.response
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["type"] == "invalid_request_error"


def test_a_server_without_websocket_mode_refuses_the_upgrade_like_a_get() -> None:
    with ReferenceServer(disabled={"websocket"}) as srv:
        with pytest.raises(InvalidStatus) as refused:
            with connect(ws_url(srv), additional_headers=auth(srv)):
                pass
        get = httpx.get(f"{srv.base_url}/responses", headers=auth(srv))
    assert refused.value.response.status_code == 405 == get.status_code
    assert json.loads(refused.value.response.body) == get.json()


def test_websocket_fault_names_are_checked() -> None:
    assert WS_FAULTS == {"ws_sequence_reuse", "ws_context_lost", "ws_error_without_status",
                         "ws_close_mid_response"}
    with pytest.raises(ValueError, match="fault"):
        create_app(faults={"ws_teleport"})
    with pytest.raises(ValueError, match="feature"):
        create_app(disabled={"websockets"})


# --------------------------------------------------------------------------------------------
# The suite against it: scenarios, broken variants, capabilities


def test_every_websocket_and_compact_scenario_passes(server: ReferenceServer, tmp_path: Path) -> None:
    ids = WS_SCENARIOS + [sid for sid in SCENARIOS if sid.startswith("compact-")]
    assert len(WS_SCENARIOS) >= 8
    results = run_scenarios(server, ids, tmp_path)
    problems = {sid: (r.status, r.error, r.unsupported, [(v.check, v.message) for v in r.violations])
                for sid, r in results.items() if r.status != "passed" or r.violations}
    assert not problems


# fault -> scenario -> the MUST checks it fails with (SHOULD findings listed apart)
WS_FAULT_FINDINGS = {
    "ws_sequence_reuse": ("ws-sequential-responses", {"sequence.ws_restarts_at_zero"}, {"sequence.starts_at_zero"}),
    "ws_context_lost": ("ws-store-false-continuation", {"consistency.context_kept"}, set()),
    "ws_error_without_status": ("ws-reconnect-previous-not-found", {"error.ws_error_shape"}, set()),
    "ws_close_mid_response": ("ws-one-response", {"grammar.terminal_event_present"}, {"framing.ws_close_clean"}),
}


@pytest.mark.parametrize("fault", sorted(WS_FAULT_FINDINGS))
def test_a_broken_websocket_variant_fails_with_its_check(fault: str, tmp_path: Path) -> None:
    scenario_id, must, should = WS_FAULT_FINDINGS[fault]
    with ReferenceServer(faults={fault}) as srv:
        results = run_scenarios(srv, [scenario_id, "text-stream", "state-previous-response"], tmp_path)
    result = results[scenario_id]
    assert result.error is None and result.status == "failed"
    assert {v.check for v in result.violations if v.severity is Severity.MUST} == must
    assert {v.check for v in result.violations if v.severity is Severity.SHOULD} == should
    # HTTP answers are untouched by WebSocket faults.
    assert results["text-stream"].status == results["state-previous-response"].status == "passed"


def test_error_frames_without_status_fail_every_scenario_that_gets_one(tmp_path: Path) -> None:
    with ReferenceServer(faults={"ws_error_without_status"}) as srv:
        results = run_scenarios(srv, ["ws-malformed-messages", "ws-failed-continuation-evicts"], tmp_path)
    for result in results.values():
        assert {v.check for v in result.violations} == {"error.ws_error_shape"}
        assert all("no `status`" in v.message for v in result.violations)


def test_a_target_without_websocket_mode_reports_it_unsupported(tmp_path: Path) -> None:
    with ReferenceServer(disabled={"websocket"}) as srv:
        results = run_scenarios(srv, WS_SCENARIOS, tmp_path / "plain")
        required = run_scenarios(srv, ["ws-one-response"], tmp_path / "required",
                                 required=frozenset({"websocket"}))
    for result in results.values():
        assert result.status == "unsupported"
        assert result.unsupported == ("WebSocket upgrade refused with HTTP 405: Invalid method for URL "
                                      "(GET /v1/responses)")
    result = required["ws-one-response"]
    assert result.status == "failed"
    assert [v.check for v in result.violations] == ["framing.ws_upgrade_accepted"]


def test_a_later_step_refused_for_the_feature_it_declares_is_unsupported(tmp_path: Path) -> None:
    with ReferenceServer(disabled={"state"}) as srv:
        results = run_scenarios(srv, ["ws-store-false-continuation", "ws-one-response"], tmp_path)
    result = results["ws-store-false-continuation"]
    assert result.status == "unsupported" and result.violations == []
    assert result.unsupported == ("error frame 400: Unsupported parameter: 'previous_response_id' is not "
                                  "supported by this server.")
    assert results["ws-one-response"].status == "passed"


def test_requiring_another_feature_does_not_excuse_a_refused_upgrade(tmp_path: Path) -> None:
    with ReferenceServer(disabled={"websocket"}) as srv:
        results = run_scenarios(srv, ["ws-store-false-continuation"], tmp_path, required=frozenset({"state"}))
    assert results["ws-store-false-continuation"].status == "unsupported"  # only --require websocket fails it


def test_websocket_transcripts_are_frames_tagged_by_direction(server: ReferenceServer, tmp_path: Path) -> None:
    run_scenarios(server, ["ws-reconnect-previous-not-found"], tmp_path)
    folder = tmp_path / "transcripts"
    lines = [json.loads(line) for line in
             (folder / "ws-reconnect-previous-not-found.after-reconnect.ws.jsonl").read_text().splitlines()]
    assert [line["dir"] for line in lines] == ["close", "open", "out", "in"]
    assert lines[0] == {**lines[0], "by": "client", "code": 1000, "reason": "reconnect"}
    assert lines[2]["data"]["previous_response_id"].startswith("resp_")
    assert lines[3]["data"]["error"]["code"] == "previous_response_not_found"
    record = json.loads((folder / "ws-reconnect-previous-not-found.after-reconnect.json").read_text())
    assert record["transport"] == "websocket" and record["response"]["status"] == 101
    assert record["response"]["body_file"] == "ws-reconnect-previous-not-found.after-reconnect.ws.jsonl"
    assert ["Authorization", "[REDACTED]"] in record["request"]["headers"]
    assert '"Authorization: Bearer $OPENAI_API_KEY"' in record["request"]["curl"]
    for path in folder.iterdir():
        assert server.api_key not in path.read_text(), path.name


# --------------------------------------------------------------------------------------------
# Replay: a WebSocket transcript is judged again with the live verdict


@pytest.mark.parametrize("fault", [None, *sorted(WS_FAULT_FINDINGS)])
def test_websocket_transcripts_replay_with_the_live_verdicts(fault: str | None, tmp_path: Path) -> None:
    with ReferenceServer(faults={fault} if fault else frozenset()) as srv:
        run_scenarios(srv, WS_SCENARIOS, tmp_path)
    folder = tmp_path / "transcripts"
    records = sorted(folder.glob("ws-*.json"))
    assert len(records) >= len(WS_SCENARIOS)
    replayed = {Path(t.source).name: t for t in replay.iter_transcripts([str(p) for p in records])}
    failing = False
    for record_path in records:
        record = json.loads(record_path.read_text())
        live = sorted((v["check"], v["event_index"], v["severity"]) for v in record["violations"])
        again = replayed[record_path.name]
        assert sorted((v.check, v.event_index, v.severity.value) for v in again.violations) == live, record_path.name
        failing |= any(v["severity"] == "must" for v in record["violations"])
    # Scenario assertions (consistency.context_kept) judge several steps: replay, one exchange at
    # a time, does not run them, for WebSocket transcripts as for HTTP ones.
    assert failing == (fault not in (None, "ws_context_lost"))
    assert replay.main([str(folder)]) == (1 if failing else 0)


def test_a_frames_file_replays_through_its_record(server: ReferenceServer, tmp_path: Path) -> None:
    run_scenarios(server, ["ws-one-response"], tmp_path)
    frames = tmp_path / "transcripts" / "ws-one-response.ws.jsonl"
    (transcript,) = replay.iter_transcripts([str(frames)])
    assert transcript.kind == "stream" and transcript.verdict == "pass" and transcript.events > 10


# --------------------------------------------------------------------------------------------
# The judge, fed by hand


def frames_of(srv: ReferenceServer, *messages: str) -> list[str]:
    with connect(ws_url(srv), additional_headers=auth(srv)) as websocket:
        out = []
        for message in messages:
            websocket.send(message)
            out += [json.dumps(f) for f in until_answered(websocket)]
    return out


def test_an_error_event_inside_a_response_belongs_to_it(server: ReferenceServer) -> None:
    frames = frames_of(server, create(input="Please FAIL_MIDSTREAM now."))
    judge = ws.StepJudge(Expectation("stream"), sent=1, schemas=SCHEMAS)
    for frame in frames:
        judge.frame(frame)
    judge.finish(complete=True)
    assert judge.violations == [] and [a.kind for a in judge.answers] == ["response"]
    assert judge.first_response.response["status"] == "failed"
    assert [e["type"] for e in judge.first_response.events][-2:] == ["error", "response.failed"]


def test_a_keepalive_between_responses_answers_nothing(server: ReferenceServer) -> None:
    first, second = (frames_of(server, create(input=text)) for text in ("One.", "Two."))
    judge = ws.StepJudge(Expectation("stream"), sent=2, schemas=SCHEMAS)
    for frame in [*first, '{"type": "keepalive", "sequence_number": 0}', *second]:
        judge.frame(frame)
        if judge.done:
            break
    judge.finish(complete=True)
    assert judge.violations == [] and len(judge.answers) == 2 and judge.done


def test_a_step_is_done_when_every_message_has_its_answer() -> None:
    judge = ws.StepJudge(Expectation("any"), sent=2, schemas=SCHEMAS)
    judge.frame(json.dumps({"type": "error", "status": 400, "error": {"code": "x", "message": "No."}}))
    assert not judge.done and judge.refusal() == (400, "No.")
    judge.frame(json.dumps({"type": "error", "status": 429, "error": {"code": "y", "message": "Later."}}))
    assert judge.done


@pytest.mark.parametrize("step, message", [
    ({"transport": "websocket", "expect": {"kind": "stream"}}, "needs `send`"),
    ({"transport": "websocket", "send": [], "expect": {"kind": "stream"}}, "needs `send`"),
    ({"transport": "websocket", "send": [{"type": "response.create"}], "expect": {"kind": "response"}},
     "expect.kind must be one of stream, error, any"),
    ({"transport": "websocket", "send": [{}], "expect": {"kind": "stream", "error_code": "x"}}, "error_code"),
    ({"transport": "websocket", "send": [{}], "request": {"json": {}}, "expect": {"kind": "stream"}}, "request.json"),
    ({"transport": "websocket", "send": [{}], "reconnect": "yes", "expect": {"kind": "stream"}}, "reconnect"),
    ({"transport": "pigeon", "request": {"path": "/r"}, "expect": {"kind": "any"}}, "transport must be one of"),
])
def test_malformed_websocket_steps_are_refused(step: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        from_data({"id": "x", "description": "x", "features": ["websocket"], "steps": [{"name": "s", **step}]})


def test_websocket_scenarios_are_judged_by_websocket_checks_only() -> None:
    checks = {c.id for c in SCENARIOS["ws-one-response"].checks()}
    assert {"framing.ws_text_frames", "grammar.ws_sequential_responses", "sequence.ws_restarts_at_zero",
            "framing.ws_create_streamed", "grammar.terminal_event_present"} <= checks
    # The shape of an error frame is judged where one is asked for; where a response was asked
    # for, an error frame is framing.ws_create_streamed's finding (one cause, one finding).
    assert "error.ws_error_shape" not in checks
    assert "error.ws_error_shape" in {c.id for c in SCENARIOS["ws-malformed-messages"].checks()}
    assert not checks & registry.HTTP_ONLY_CHECKS
    assert "error.code_fits" not in checks
    assert "error.code_fits" in {c.id for c in SCENARIOS["ws-reconnect-previous-not-found"].checks()}
    # An HTTP step judged only by assertions (a compact), then a WebSocket stream: nothing about
    # HTTP or SSE, nor upstream fidelity, is an item of the scenario (no step of it could judge one).
    mixed = {c.id for c in SCENARIOS["ws-compact-new-connection"].checks(upstream=True)}
    assert {"schema.compaction", "grammar.terminal_event_present", "framing.ws_text_frames"} <= mixed
    assert not mixed & registry.HTTP_ONLY_CHECKS
    assert not [c for c in mixed if registry.get(c).applies == registry.UPSTREAM]
