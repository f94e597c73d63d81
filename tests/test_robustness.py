"""Nothing a target sends makes the engine raise: clear findings, never a traceback.

A broken target is the normal case. Real streams and Response objects (tests/fixtures) and a
stream made here have the value at every JSON path replaced, one path at a time, by a value of
another JSON type (a list, an object, null, true, a float, a negative and a huge integer, a
string, an empty string) or removed, and go through every in-process entry point of the engine:

  * the stream checker, fed the payloads (`feed_payload`) and the SSE bytes (`feed_bytes`);
  * the exchange checker (a 200 event stream, a 200 JSON Response, a 4xx error envelope, and a
    stream answering a request that must be refused), the capture reader (replay) on the SSE
    bytes, the JSON lines and the JSON body, and the WebSocket judge fed the payloads as text
    frames (and error frames): for streams, one of these per mutation, in turn;
  * `check_response_body`, the stream-vs-non-stream pair, upstream fidelity and every scenario
    assertion, on the mutated Response object, events and other bodies.

Nothing may raise (the capture reader may refuse an input with a CaptureError: that is its
answer), and a mutation the JSON Schemas reject must not pass silently: the event it broke gets
a finding. Besides, several fields are broken at once (Hypothesis), and JSON inside strings
(function arguments, structured output) is nested too deep or is not JSON.

Which replacements a path gets is fixed (a rotation through the list, always a list or an object:
those are what table lookups choke on), so every run tries the same mutations. A wider net, every
replacement at every path of most recorded streams through every entry point (minutes):

    python tests/test_robustness.py
"""
from __future__ import annotations

import copy
import inspect
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from responses_conformance.capture import CaptureError, CaptureReader
from responses_conformance.engine import assertions, fidelity, registry
from responses_conformance.engine.checker import StreamChecker, check_response_body
from responses_conformance.engine.checks import consistency
from responses_conformance.engine.exchange import ExchangeChecker, Expectation
from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.engine.websocket import StepJudge

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REMOVED = object()  # the key (or list entry) is left out
UNHASHABLE: tuple[Any, ...] = (["x"], {"a": 1})
# 10**400 is past what a float holds; float("inf") is sent as the JSON number 1e400, which a
# JSON parser reads as infinity.
SCALARS: tuple[Any, ...] = (None, True, 1.5, -1, 10**400, float("inf"), "x", "", REMOVED)
MAX_LIST = 3  # list entries past the third are mutated no differently
SCHEMAS = SchemaSet.load()


# -- material --------------------------------------------------------------------------------
def _compact(events: list[dict]) -> list[dict]:
    """A stream with each run of deltas of one part or item merged into at most two deltas, and
    its sequence numbers renumbered: as conformant as the original, and a fraction as long."""
    out: list[dict] = []
    run: list[dict] = []

    def key(event: dict) -> tuple:
        return (event.get("type"), event.get("item_id"), event.get("output_index"), event.get("content_index"),
                event.get("summary_index"))

    def flush() -> None:
        half = (len(run) + 1) // 2
        for chunk in (run[:half], run[half:]):
            if chunk:
                merged = dict(chunk[0])
                merged["delta"] = "".join(e["delta"] for e in chunk)
                if isinstance(merged.get("logprobs"), list):
                    merged["logprobs"] = [p for e in chunk for p in e.get("logprobs") or []]
                out.append(merged)
        run.clear()

    for event in events:
        if str(event.get("type")).endswith(".delta") and isinstance(event.get("delta"), str) and \
                (not run or key(run[0]) == key(event)):
            run.append(event)
            continue
        flush()
        if str(event.get("type")).endswith(".delta") and isinstance(event.get("delta"), str):
            run.append(event)
        else:
            out.append(event)
    flush()
    return [{**e, "sequence_number": n} if "sequence_number" in e else e for n, e in enumerate(out)]


def _capture_streams() -> list[list[dict]]:
    """The January capture's seven streams."""
    text = (FIXTURES / "openai" / "openai-capture-2026-01.txt").read_text(encoding="utf-8")
    streams: list[list[dict]] = []
    for line in text[text.index("event: response.created"):].splitlines():
        if line.startswith("data: "):
            payload = json.loads(line[len("data: "):])
            if payload.get("type") == "response.created":
                streams.append([])
            streams[-1].append(payload)
    return streams


def _recorded(name: str) -> list[dict]:
    path = FIXTURES / "recorded" / f"{name}.1.chunks.txt"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _error_envelope() -> dict:
    """The capture's HTTP 401 body (the capture lost its final closing brace)."""
    text = (FIXTURES / "openai" / "openai-capture-2026-01.txt").read_text(encoding="utf-8")
    return json.loads(text[:text.index("event: response.created")] + "}")


def _made_stream() -> list[dict]:
    """What the recordings lack, in one stream: a reasoning summary, a hosted-tool call with its
    progress events, a function call with argument deltas, a message with an annotated text part
    and a refusal part."""
    response = {"id": "resp_made", "object": "response", "created_at": 1767340552, "status": "in_progress",
                "background": False, "error": None, "incomplete_details": None, "instructions": None,
                "max_output_tokens": None, "model": "gpt-4o-2024-08-06", "output": [], "parallel_tool_calls": True,
                "previous_response_id": None, "reasoning": {"effort": "low", "summary": "auto"}, "store": True,
                "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "tool_choice": "auto", "tools": [{"type": "function", "name": "get_weather", "description": None,
                                                  "parameters": {"type": "object", "properties": {}},
                                                  "strict": False},
                                                 {"type": "web_search"}],
                "top_p": 1.0, "truncation": "disabled", "usage": None, "user": None, "metadata": {}}
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": []}
    summary = {"type": "summary_text", "text": "Look it up."}
    search = {"id": "ws_1", "type": "web_search_call", "status": "in_progress"}
    searched = {**search, "status": "completed", "action": {"type": "search", "query": "weather"}}
    call = {"id": "fc_1", "type": "function_call", "status": "in_progress", "arguments": "", "call_id": "call_1",
            "name": "get_weather"}
    called = {**call, "status": "completed", "arguments": '{"city":"Paris"}'}
    annotation = {"type": "url_citation", "start_index": 0, "end_index": 5, "url": "https://example.com/",
                  "title": "Example"}
    text = {"type": "output_text", "text": "Sunny today.", "annotations": [annotation], "logprobs": []}
    refusal = {"type": "refusal", "refusal": "No more."}
    message = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    said = {**message, "status": "completed", "content": [text, refusal]}
    done_reasoning = {**reasoning, "summary": [summary]}
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 20,
             "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 30}
    item = {"item_id": "msg_1", "output_index": 3}
    events: list[dict] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning},
        {"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "part": {"type": "summary_text", "text": ""}},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "delta": "Look ", "obfuscation": "ab"},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "delta": "it up.", "obfuscation": "ab"},
        {"type": "response.reasoning_summary_text.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "text": "Look it up."},
        {"type": "response.reasoning_summary_part.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0,
         "part": summary},
        {"type": "response.output_item.done", "output_index": 0, "item": done_reasoning},
        {"type": "response.output_item.added", "output_index": 1, "item": search},
        {"type": "response.web_search_call.in_progress", "item_id": "ws_1", "output_index": 1},
        {"type": "response.web_search_call.searching", "item_id": "ws_1", "output_index": 1},
        {"type": "response.web_search_call.completed", "item_id": "ws_1", "output_index": 1},
        {"type": "response.output_item.done", "output_index": 1, "item": searched},
        {"type": "response.output_item.added", "output_index": 2, "item": call},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2,
         "delta": '{"city":', "obfuscation": "ab"},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2,
         "delta": '"Paris"}', "obfuscation": "ab"},
        {"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 2,
         "arguments": '{"city":"Paris"}'},
        {"type": "response.output_item.done", "output_index": 2, "item": called},
        {"type": "response.output_item.added", "output_index": 3, "item": message},
        {"type": "response.content_part.added", **item, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}},
        {"type": "response.output_text.delta", **item, "content_index": 0, "delta": "Sunny", "logprobs": [],
         "obfuscation": "ab"},
        {"type": "response.output_text.delta", **item, "content_index": 0, "delta": " today.", "logprobs": [],
         "obfuscation": "ab"},
        {"type": "response.output_text.annotation.added", **item, "content_index": 0, "annotation_index": 0,
         "annotation": annotation},
        {"type": "response.output_text.done", **item, "content_index": 0, "text": "Sunny today.", "logprobs": []},
        {"type": "response.content_part.done", **item, "content_index": 0, "part": text},
        {"type": "response.content_part.added", **item, "content_index": 1,
         "part": {"type": "refusal", "refusal": ""}},
        {"type": "response.refusal.delta", **item, "content_index": 1, "delta": "No more."},
        {"type": "response.refusal.done", **item, "content_index": 1, "refusal": "No more."},
        {"type": "response.content_part.done", **item, "content_index": 1, "part": refusal},
        {"type": "response.output_item.done", "output_index": 3, "item": said},
        {"type": "response.completed", "response": {**response, "status": "completed", "usage": usage,
                                                     "output": [done_reasoning, searched, called, said]}},
    ]
    return [{"type": e["type"], "sequence_number": n, **e} for n, e in enumerate(events)]


STREAMS: dict[str, Callable[[], list[dict]]] = {
    "text": lambda: _compact(_capture_streams()[1]),
    "made": _made_stream,
    "error": lambda: _recorded("openai-error"),
    "reasoning-and-call": lambda: _compact(_recorded("lmstudio-tool-call")),
}


# -- mutations -------------------------------------------------------------------------------
def paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every JSON path of a value, the value itself (the empty path) first."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node[:MAX_LIST]):
            yield from paths(value, path + (index,))


def replaced(node: Any, path: tuple, value: Any) -> Any:
    """A copy of `node` with the value at `path` replaced (or REMOVED); shared where unchanged."""
    if not path:
        return copy.deepcopy(value)
    out: Any = dict(node) if isinstance(node, dict) else list(node)
    key = path[0]
    if len(path) == 1 and value is REMOVED:
        del out[key]
    else:
        out[key] = replaced(node[key], path[1:], value)
    return out


def mutations(node: Any, wide: bool = False, offset: int = 0) -> Iterator[tuple[tuple, Any, Any]]:
    """(path, replacement, mutated copy): at every path a list or an object, and a scalar, in
    rotation from `offset` (the same field of the next event gets the next ones); `wide`: every
    replacement at every path."""
    for number, path in enumerate(paths(node), offset):
        chosen = [*UNHASHABLE, *SCALARS] if wide else [UNHASHABLE[number % 2], SCALARS[number % len(SCALARS)]]
        for value in chosen:
            if value is REMOVED and not path:
                continue
            yield path, value, replaced(node, path, value)


def _show(path: tuple, value: Any) -> str:
    shown = "<removed>" if value is REMOVED else repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
    return f"{''.join(f'[{p!r}]' for p in path) or '$'} = {shown}"


# -- the entry points ------------------------------------------------------------------------
def dumps(value: Any) -> str:
    """JSON text, an infinite float written as the number 1e400 (no fixture holds "Infinity")."""
    return json.dumps(value).replace("Infinity", "1e400")


def _sse(payloads: list[Any], texts: list[str]) -> bytes:
    out = []
    for payload, text in zip(payloads, texts):
        name = payload.get("type") if isinstance(payload, dict) else None
        head = f"event: {name}\n" if isinstance(name, str) else ""
        out.append(f"{head}data: {text}\n\n")
    return "".join(out).encode("utf-8")


def _replay(data: bytes) -> None:
    reader = CaptureReader("mutated")
    try:
        reader.feed(data)
        reader.close()
    except CaptureError:
        pass  # the reader's answer to an input it cannot take (traffic of another API, say)


def _invalid(payload: Any) -> bool:
    """The JSON Schemas (or the framing rules) reject the payload."""
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return True
    errors = SCHEMAS.validate_event(payload)
    return errors is None or bool(errors)  # None: a type without a schema


def _exchange(events: list[Any], texts: list[str], sse: bytes) -> None:
    exchange = ExchangeChecker(Expectation("stream"))
    exchange.head(200, [("content-type", "text/event-stream")])
    exchange.body(sse)
    exchange.close()
    _ = exchange.final_response


def _refused(events: list[Any], texts: list[str], sse: bytes) -> None:
    """A stream answering a request that must be refused (its own reading of the events)."""
    exchange = ExchangeChecker(Expectation("error", statuses=(400,)))
    exchange.head(200, [("content-type", "text/event-stream")])
    exchange.body(sse)
    exchange.close()


def _replay_sse(events: list[Any], texts: list[str], sse: bytes) -> None:
    _replay(sse)


def _replay_lines(events: list[Any], texts: list[str], sse: bytes) -> None:
    _replay("".join(f"{t}\n" for t in texts).encode("utf-8"))


def _websocket(events: list[Any], texts: list[str], sse: bytes) -> None:
    ws = StepJudge(Expectation("stream"), sent=1)
    ws.upgrade(101)
    for text in texts:
        ws.frame(text)
    ws.finish(complete=True)
    _ = (ws.first_response, ws.refusal())


# The entry points around the stream checker. They add routing and transcripts to the same checks,
# so they take turns (and skip the schemas, which the stream checker runs): a mutation goes through
# one of them, a path's mutations through two.
WRAPPERS = (_exchange, _refused, _replay_sse, _replay_lines, _websocket)


def judge_stream(events: list[Any], texts: list[str], changed: int | None, base: list[dict],
                 turn: int | None = None) -> None:
    """The stream checker on `events` (`texts`: their JSON; the event `changed` of the stream
    `base` was mutated: it must not pass silently when the schemas reject it), fed the payloads
    and the SSE bytes; the wrapper of this `turn` (None: every wrapper); the assertion that reads
    events."""
    checker = StreamChecker(schemas=SCHEMAS)
    for text in texts:
        checker.feed_payload(text)
    checker.close()
    assert isinstance(checker.violations, list)
    if changed is not None and not any(v.event_index == changed for v in checker.violations):
        assert not _invalid(events[changed]), f"no finding at event #{changed}, which the schemas reject"
    sse = _sse(events, texts)
    by_bytes = StreamChecker()  # the SSE decoder and the framing checks; the schemas ran above
    by_bytes.feed_bytes(sse)
    by_bytes.close()
    assert isinstance(by_bytes.violations, list)
    for wrapper in WRAPPERS if turn is None else (WRAPPERS[turn % len(WRAPPERS)],):
        wrapper(events, texts, sse)
    # The final Response is test_response_mutations_never_raise's (the same mutations of it); the
    # events themselves are read by the resume assertion, against the unmutated stream.
    steps = {"mutated": assertions.StepView("mutated", status=200, events=[e for e in events if isinstance(e, dict)]),
             "base": assertions.StepView("base", status=200, events=base)}
    for original, resumed in (("base", "mutated"), ("mutated", "base")):
        assertions.run("consistency.resume_continues", steps, {"original": original, "resumed": resumed, "after": -1})


REQUEST = {"model": "gpt-4o-2024-08-06", "input": [{"type": "compaction", "id": "cmp_1", "encrypted_content": "x"}],
           "previous_response_id": "resp_0", "max_output_tokens": 16, "temperature": 0.5,
           "tools": [{"type": "function", "name": "get_weather",
                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                     "required": ["city"]}}],
           "text": {"format": {"type": "json_schema", "name": "answer", "strict": True,
                               "schema": {"type": "object"}}}}
VALUES = {"after": 2, "contains": "sunny", "tool": "get_weather", "min_calls": 1, "mentions": "sunny",
          "fields": ["temperature", "tools", "text", "max_output_tokens", "model", "instructions"],
          "count": 1, "has_more": False, "final": "completed"}
UPSTREAM = [{"status": 200, "text": "Sunny today.", "finish_reason": "stop",
             "tool_calls": [{"name": "get_weather", "call_id": "call_1", "arguments": '{"city":"Paris"}'}],
             "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}]


def _assertion_args() -> list[tuple[str, dict[str, Any]]]:
    """Every assertion with the mutated step in every role it takes: with the base step in the
    first role (the original, the created response) and without it, with every optional value
    and with the defaults."""
    out = []
    for check_id, function in registry.ASSERTIONS.items():
        names = [p for p in inspect.signature(function).parameters if p != "steps"]
        roles = [p for p in names if p in assertions.STEP_PARAMETERS]
        required = [p for p, s in inspect.signature(function).parameters.items() if s.default is s.empty]
        for first in ("mutated", "base")[:1 + (len(roles) > 1)]:
            for optional in (True, False):
                args = {p: VALUES[p] for p in names if p in VALUES and (optional or p in required)}
                args.update({p: (first if n == 0 else "mutated") for n, p in enumerate(roles)})
                if (check_id, args) not in out:
                    out.append((check_id, args))
    return out


ASSERTION_ARGS = _assertion_args()


def judge_views(response: Any, body: Any, events: list[dict], plain: dict | None = None) -> None:
    """Every scenario assertion with this answer in every step role, upstream fidelity and the
    stream-vs-non-stream pair."""
    final = response if isinstance(response, dict) else None
    mutated = assertions.StepView("mutated", request=REQUEST, status=200, body=body, response=final, events=events)
    base = assertions.StepView("base", request=REQUEST, status=200, body=plain, response=plain,
                               events=[{"type": "response.created", "sequence_number": n} for n in range(6)])
    steps = {"mutated": mutated, "base": base}
    for check_id, args in ASSERTION_ARGS:
        assert isinstance(assertions.run(check_id, steps, args), list)
        assertions.inconclusive(check_id, steps, args)
    list(fidelity.check(final, UPSTREAM))
    if final is not None and plain is not None:
        consistency.nonstream_matches_stream(final, plain)
        consistency.nonstream_matches_stream(plain, final)


def judge_response(response: Any, original: dict) -> None:
    """Every entry point for a non-streamed Response object."""
    violations = check_response_body(response, schemas=SCHEMAS)
    assert isinstance(violations, list)
    if not violations:
        assert isinstance(response, dict) and not SCHEMAS.validate("objects/response", response), \
            "the schemas reject the Response, and nothing was reported"
    body = dumps(response).encode("utf-8")
    exchange = ExchangeChecker(Expectation("response"))
    exchange.head(200, [("content-type", "application/json")])
    exchange.body(body)
    exchange.close()
    _ = exchange.final_response
    _replay(body)
    judge_views(response, response, [], original)


def judge_error(envelope: Any) -> None:
    """An HTTP error body, the same error as a WebSocket error frame, and an error frame where a
    stream was expected."""
    exchange = ExchangeChecker(Expectation("error", statuses=(401,), error_type="invalid_request_error",
                                           error_param="model"))
    exchange.head(401, [("content-type", "application/json")])
    exchange.body(dumps(envelope).encode("utf-8"))
    exchange.close()
    _replay(dumps(envelope).encode("utf-8"))
    frame = {"type": "error", "status": 401, **envelope} if isinstance(envelope, dict) else envelope
    for kind in ("error", "stream"):
        ws = StepJudge(Expectation(kind, statuses=(401,), error_type="invalid_request_error", error_param="model"),
                       sent=1, error_code="invalid_api_key")
        ws.upgrade(101)
        ws.frame(dumps(frame))
        ws.server_closed(1000)
        ws.finish(complete=True)
        _ = (ws.first_error, ws.refusal())
    view = assertions.StepView("mutated", request=REQUEST, status=401, body=envelope)
    for check_id in ("consistency.compaction_accepted", "schema.compaction"):
        assertions.run(check_id, {"mutated": view}, {"step": "mutated"})


# The other bodies scenario assertions read: an input items list, a deleted response, a compaction.
BODIES = {
    "input-items": {"object": "list", "data": [{"id": "msg_1", "type": "message", "role": "user",
                                                "content": [{"type": "input_text", "text": "Hi"}]}],
                    "first_id": "msg_1", "last_id": "msg_1", "has_more": False},
    "deleted": {"id": "resp_1", "object": "response.deleted", "deleted": True},
    "compaction": {"id": "cmp_1", "object": "response.compaction", "created_at": 1767340552,
                   "output": [{"id": "cmp_2", "type": "compaction", "encrypted_content": "opaque"}],
                   "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}},
}


def judge_body(body: Any) -> None:
    """A JSON body (not a Response) as an exchange records it and as the assertions read it."""
    exchange = ExchangeChecker(Expectation("any"))
    exchange.head(200, [("content-type", "application/json")])
    exchange.body(dumps(body).encode("utf-8"))
    exchange.close()
    judge_views(None, body, [])


def _failure(what: str, exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}"
    return f"{what}: {type(exc).__name__}: {exc} ({where})"


def stream_failures(events: list[dict], wide: bool = False) -> list[str]:
    failures = []
    turn = 0
    texts = [dumps(e) for e in events]
    for index, event in enumerate(events):
        for path, value, mutated in mutations(event, wide, index):
            stream = [*events[:index], mutated, *events[index + 1:]]
            turn += 1
            try:
                judge_stream(stream, [*texts[:index], dumps(mutated), *texts[index + 1:]], index, events,
                             None if wide else turn)
            except Exception as exc:  # noqa: BLE001 - every escape is the finding
                failures.append(_failure(f"event #{index} ({event.get('type')}) {_show(path, value)}", exc))
    return failures


def document_failures(label: str, document: dict, judge: Callable[[dict], Any], wide: bool = False) -> list[str]:
    """Every mutation of one document (a Response, an error envelope, a body) through `judge`:
    what raised, each labelled with its path and value."""
    failures = []
    for path, value, mutated in mutations(document, wide):
        try:
            judge(mutated)
        except Exception as exc:  # noqa: BLE001
            failures.append(_failure(f"{label} {_show(path, value)}", exc))
    return failures


def response_failures(response: dict, wide: bool = False) -> list[str]:
    return document_failures("response", response, lambda mutated: judge_response(mutated, response), wide)


def error_failures(envelope: dict, wide: bool = False) -> list[str]:
    return document_failures("error envelope", envelope, judge_error, wide)


def body_failures(body: dict, wide: bool = False) -> list[str]:
    return document_failures("body", body, judge_body, wide)


def _report(failures: list[str]) -> str:
    return f"{len(failures)} mutations failed:\n" + "\n".join(failures[:25])


# -- the tests -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_material_is_clean(name: str) -> None:
    """The unmutated streams pass every check, so a finding in a mutated one is the mutation's."""
    checker = StreamChecker(schemas=SCHEMAS)
    for event in STREAMS[name]():
        checker.feed_payload(json.dumps(event))
    checker.close()
    assert [(v.check, v.event_index, v.message) for v in checker.violations] == []


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream_mutations_never_raise(name: str) -> None:
    failures = stream_failures(STREAMS[name]())
    assert not failures, _report(failures)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_response_mutations_never_raise(name: str) -> None:
    """The stream's final Response, as a non-streamed body."""
    response = STREAMS[name]()[-1]["response"]
    failures = response_failures(response)
    assert not failures, _report(failures)


def test_error_mutations_never_raise() -> None:
    failures = error_failures(_error_envelope(), wide=True)
    assert not failures, _report(failures)


def test_other_body_mutations_never_raise() -> None:
    failures = [f for body in BODIES.values() for f in body_failures(body, wide=True)]
    assert not failures, _report(failures)


# JSON inside strings: what a target puts in `arguments` or in the output text is parsed again.
NESTED = ("[" * 100_000 + "]" * 100_000, "[" * 900 + "]" * 900, '{"a": NaN}', "1e400", "[1, 2")


@pytest.mark.parametrize("text", NESTED, ids=("too-deep", "deep", "nan", "infinity", "cut"))
def test_json_in_strings_never_raises(text: str) -> None:
    """A function call's arguments and the output text are JSON the engine reads: nested deeper
    than the parser goes, not JSON, or numbers past a float."""
    response = STREAMS["made"]()[-1]["response"]
    response = replaced(response, ("output", 2, "arguments"), text)
    response = replaced(response, ("output", 3, "content", 0, "text"), text)
    judge_response(response, STREAMS["made"]()[-1]["response"])


def test_combined_mutations_never_raise() -> None:
    """Several fields broken at once, anywhere in a stream (Hypothesis, derandomized: the same
    examples on every run)."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    values = [*UNHASHABLE, *SCALARS]

    @hypothesis.settings(max_examples=80, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(st.sampled_from(sorted(STREAMS)), st.data())
    def check(name: str, data: Any) -> None:
        base = STREAMS[name]()
        events: list[Any] = list(base)
        for _ in range(data.draw(st.integers(2, 5), label="mutations")):
            index = data.draw(st.integers(0, len(events) - 1), label="event")
            path = data.draw(st.sampled_from(list(paths(events[index]))), label="path")
            value = data.draw(st.sampled_from([v for v in values if v is not REMOVED or path]), label="value")
            events[index] = replaced(events[index], path, value)
        judge_stream(events, [dumps(e) for e in events], None, base)

    check()


def test_mutations_cover_every_path_and_type() -> None:
    """The rotation gives every path a list or an object, and every replacement is used."""
    event = STREAMS["made"]()[-1]
    seen = [(path, value) for path, value, _ in mutations(event)]
    assert {repr(v) for p, v, _ in mutations({"a": 1}, offset=1)} != {repr(v) for p, v, _ in mutations({"a": 1})}
    assert {path for path, _ in seen} == set(paths(event))
    assert all(any(p == path and any(v is u for u in UNHASHABLE) for p, v in seen) for path in paths(event))
    assert all(any(v is s for _, v in seen) for s in SCALARS)
    assert replaced({"a": [1, {"b": 2}]}, ("a", 1, "b"), REMOVED) == {"a": [1, {}]}
    assert replaced({"a": [1, 2]}, ("a", 0), {"x": 1}) == {"a": [{"x": 1}, 2]}


# -- the wider net ---------------------------------------------------------------------------
def main() -> int:
    """Every replacement at every path of every recorded stream, its final Response and the
    error envelope (the streams compacted as above)."""
    material = {**STREAMS, "capture": lambda: _compact(_capture_streams()[0]),
                "reasoning-summary": lambda: _compact(_recorded("xai-text-with-reasoning-streaming")),
                **{name: (lambda name=name: _compact(_recorded(name)))
                   for name in ("openai-code-interpreter-tool", "openai-file-search-tool", "openai-mcp-tool")}}
    failures: list[str] = []
    for name, make in material.items():
        events = make()
        found = stream_failures(events, wide=True)
        final = events[-1].get("response")
        if isinstance(final, dict):
            found += response_failures(final, wide=True)
        print(f"{name}: {len(found)} failures", file=sys.stderr)
        failures += [f"{name}: {f}" for f in found]
    failures += error_failures(_error_envelope(), wide=True)
    failures += [f for body in BODIES.values() for f in body_failures(body, wide=True)]
    for line in sorted(set(failures)):
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
