"""Scenario assertions: rules about what a target *did* across the steps of a scenario.

Stream and body checks judge one exchange at a time. These judge the meaning of a scenario:
a stored response is retrievable and equal to what was streamed, a resumed stream continues
where it was cut, `previous_response_id` keeps the context, a required tool is called,
structured output matches its schema. Sans-IO like the rest of the engine: each assertion is
a function of `StepView`s (what a step sent and received) and yields findings.

A scenario names its assertions as data: `{"check": "consistency.retrieve_matches_final",
"created": "create", "retrieved": "get"}`; the keys besides `check` are the arguments.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from . import registry
from .checks.consistency import first_difference, representation_difference
from .registry import MUST, SCENARIO, SHOULD, check
from .violations import Finding


@dataclass
class StepView:
    """What one step of a scenario sent and got back."""

    name: str
    request: Any = None  # the JSON body sent
    status: int | None = None
    body: Any = None  # the decoded JSON body (non-streamed answers)
    response: dict | None = None  # the final Response: terminal event's or the body's
    events: list[dict] = field(default_factory=list)  # decoded event payloads of a stream


Assertion = Callable[..., Iterator[Finding]]
# The parameters of assertions below that name a step (the others are values: a word, a count).
STEP_PARAMETERS = frozenset({"step", "created", "retrieved", "original", "resumed", "delete", "retrieve", "create",
                             "poll", "answer"})


def run(check_id: str, steps: dict[str, StepView], args: dict[str, Any]) -> list[Finding]:
    """The findings of one assertion (a scenario check, declared with @check on its function)."""
    return list(registry.ASSERTIONS[check_id](steps, **args))


# -- helpers ---------------------------------------------------------------------------------
def output_text(response: dict | None) -> str:
    """The text of all output_text parts of message items, joined (the SDK's `output_text`)."""
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        return ""
    texts = []
    for item in response["output"]:
        if isinstance(item, dict) and item.get("type") == "message" and isinstance(item.get("content"), list):
            for part in item["content"]:
                if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
    return "".join(texts)


def function_calls(response: dict | None) -> list[dict]:
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        return []
    return [i for i in response["output"] if isinstance(i, dict) and i.get("type") == "function_call"]


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _without(event: dict, keys: tuple[str, ...] = ("obfuscation",)) -> dict:
    return {k: v for k, v in event.items() if k not in keys}


# -- state -----------------------------------------------------------------------------------
@check("consistency.retrieve_matches_final", MUST, SCENARIO,
       "`GET /responses/{id}` returns the response exactly as the stream finished it.",
       "SPEC retrieve endpoint; OBS; clients chain and cache on it (I-02, I-03, I-06).",
       feature="state")
def retrieve_matches_final(steps: dict[str, StepView], created: str, retrieved: str) -> Iterator[Finding]:
    final, got = steps[created].response, steps[retrieved]
    if final is None:
        return
    if got.status != 200:
        return  # the GET step's framing.http_status_ok reports the refusal: one cause, one failure
    if not isinstance(got.body, dict):
        yield Finding("consistency.retrieve_matches_final",
                      f"GET of the stored response {final.get('id')!r} answered HTTP 200 without a JSON object", "$")
        return
    difference = representation_difference(final, got.body)
    if difference is not None:
        where, seen, expected = difference
        yield Finding("consistency.retrieve_matches_final",
                      f"the retrieved response differs at {where or '$'}: {_show(expected)} instead of the "
                      f"streamed {_show(seen)}", f"${where}")


@check("consistency.resume_continues", MUST, SCENARIO,
       "`GET /responses/{id}?stream=true&starting_after=N` replays the stored events after N, from N+1.",
       "SPEC starting_after; SDK-PY/SDK-JS resume from the last sequence_number seen (I-07, I-08).",
       feature="resume")
def resume_continues(steps: dict[str, StepView], original: str, resumed: str, after: int) -> Iterator[Finding]:
    base, again = steps[original], steps[resumed]
    if again.status != 200:
        yield Finding("consistency.resume_continues", f"the resume request answered HTTP {again.status}", "$")
        return
    expected = [e for e in base.events if isinstance(e.get("sequence_number"), int) and e["sequence_number"] > after]
    if not again.events:
        if again.body is not None:
            yield Finding("consistency.resume_continues",
                          f"the resume request was answered with a JSON {_json_kind(again.body)}, not an event "
                          f"stream; the original has {len(expected)} events after sequence_number {after}", "$")
        else:
            yield Finding("consistency.resume_continues",
                          f"the resumed stream carried no events; the original has {len(expected)} after "
                          f"sequence_number {after}", "$")
        return
    first = again.events[0].get("sequence_number")
    if first != after + 1:
        yield Finding("consistency.resume_continues",
                      f"the resumed stream starts at sequence_number {first!r}, expected {after + 1}",
                      "$.sequence_number")
        return
    if len(again.events) != len(expected):
        yield Finding("consistency.resume_continues",
                      f"the resumed stream has {len(again.events)} events, the original {len(expected)} after {after}",
                      "$")
    for index, (x, y) in enumerate(zip(expected, again.events)):
        difference = first_difference(_without(x), _without(y))
        if difference is not None:
            where, seen, got = difference
            yield Finding("consistency.resume_continues",
                          f"resumed event #{index} (sequence_number {y.get('sequence_number')}) differs at "
                          f"{where or '$'}: {_show(got)} instead of {_show(seen)}", f"${where}")
            return


@check("consistency.context_kept", MUST, SCENARIO,
       "A turn with `previous_response_id` answers with the earlier turns in context (the model recalls them).",
       "SPEC previous_response_id; a server that accepts and ignores it loses the conversation (I-04, I-13). "
       "Whether the answer recalls the earlier turn is the model's doing; the protocol half is "
       "consistency.previous_response_echoed.", model_behaviour=True,
       feature="state")
def context_kept(steps: dict[str, StepView], step: str, contains: str) -> Iterator[Finding]:
    view = steps[step]
    unfinished = _no_answer(view)
    if unfinished is not None:
        yield Finding("consistency.context_kept", f"{unfinished}: there is no answer to look for {contains!r} in",
                      "$")
        return
    if not _has_answer(view):
        return  # no answer at all: the step's own checks say why
    text = output_text(view.response)
    if contains.lower() not in text.lower():
        yield Finding("consistency.context_kept",
                      f"the answer does not recall {contains!r} from the earlier turn: {_show(text)}",
                      "$.output")


@check("consistency.previous_response_echoed", MUST, SCENARIO,
       "A response created with `previous_response_id` echoes it, as sent, in the Response object.",
       "SPEC Response.previous_response_id; a proxy that drops it from the request shows here, whatever the model "
       "recalls (I-04, I-13).",
       feature="state")
def previous_response_echoed(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    """The protocol half of context_kept: the Response names the response it continues."""
    view = steps[step]
    sent = (view.request or {}).get("previous_response_id") if isinstance(view.request, dict) else None
    response = view.response
    # A refused request (HTTP 4xx) is judged by the step's own checks; nothing was created to echo anything.
    if not isinstance(sent, str) or not isinstance(response, dict):
        return
    echoed = response.get("previous_response_id", "<absent>")
    if echoed != sent:
        yield Finding("consistency.previous_response_echoed",
                      f"previous_response_id was sent as {sent!r} but the Response says {_show(echoed)}",
                      "$.previous_response_id")


@check("consistency.deleted_not_retrievable", MUST, SCENARIO,
       "`DELETE /responses/{id}` answers 200 with `deleted: true`, and the response is gone (GET gives 404).",
       "SPEC delete endpoint; OBS: OpenAI answers {id, object: response.deleted, deleted: true} (I-14, N-07).",
       feature="state")
def deleted_not_retrievable(steps: dict[str, StepView], delete: str, retrieve: str) -> Iterator[Finding]:
    removed, got = steps[delete], steps[retrieve]
    if removed.status is None or not 200 <= removed.status < 300:
        yield Finding("consistency.deleted_not_retrievable", f"DELETE answered HTTP {removed.status}", "$")
        return
    if isinstance(removed.body, dict) and removed.body.get("deleted") is not True:
        yield Finding("consistency.deleted_not_retrievable",
                      f"DELETE answered {_show(removed.body)} without `deleted: true`", "$.deleted")
    if got.status != 404:
        yield Finding("consistency.deleted_not_retrievable", f"GET after DELETE answered HTTP {got.status}, not 404",
                      "$")


@check("consistency.unstored_not_retrievable", MUST, SCENARIO,
       "A response created with `store: false` cannot be retrieved (GET gives 404).",
       "SPEC store; OBS (I-01).",
       feature="state")
def unstored_not_retrievable(steps: dict[str, StepView], retrieve: str) -> Iterator[Finding]:
    got = steps[retrieve]
    if got.status != 404:
        yield Finding("consistency.unstored_not_retrievable",
                      f"GET of a `store: false` response answered HTTP {got.status}, not 404", "$")


@check("consistency.input_items_listed", MUST, SCENARIO,
       "`GET /responses/{id}/input_items` lists the input as a paginated list object.",
       "SPEC input_items endpoint (list object, first_id, last_id, has_more) (I-14).",
       feature="state")
def input_items_listed(steps: dict[str, StepView], step: str, count: int, has_more: bool | None = None) -> Iterator[Finding]:
    body = steps[step].body
    name = "consistency.input_items_listed"
    if steps[step].status != 200 or not isinstance(body, dict):
        yield Finding(name, f"input_items answered HTTP {steps[step].status}", "$")
        return
    data = body.get("data")
    if body.get("object") != "list" or not isinstance(data, list):
        yield Finding(name, f"not a list object: object={body.get('object')!r}, data={type(data).__name__}", "$")
        return
    if len(data) != count:
        yield Finding(name, f"{len(data)} items listed, expected {count}", "$.data")
    ids = [i.get("id") for i in data if isinstance(i, dict)]
    if ids and (body.get("first_id") != ids[0] or body.get("last_id") != ids[-1]):
        yield Finding(name, f"first_id/last_id {body.get('first_id')!r}/{body.get('last_id')!r} do not match the "
                            f"data ({ids[0]!r}…{ids[-1]!r})", "$.first_id")
    if has_more is not None and body.get("has_more") is not has_more:
        yield Finding(name, f"has_more is {body.get('has_more')!r}, expected {has_more}", "$.has_more")


def _background_inconclusive(steps: dict[str, StepView], create: str, poll: str,
                             final: str = "completed") -> str | None:
    """A cancel that found the response already completed tested nothing (a faster backend)."""
    last = steps[poll].body
    status = last.get("status") if isinstance(last, dict) else None
    if final == "cancelled" and steps[poll].status == 200 and status == "completed":
        return ("the response had completed before the cancel request arrived, so there was nothing left to "
                "cancel (a faster backend than the scenario's delay)")
    return None


@check("consistency.background_lifecycle", MUST, SCENARIO,
       "A `background: true` response starts queued or in progress (or already completed, from a backend that fast) "
       "and reaches its final status by polling.",
       "SPEC background and cancel; OR: 'moves from queued to in_progress' (I-09, I-10, I-11).",
       inconclusive=_background_inconclusive,
       feature="background")
def background_lifecycle(steps: dict[str, StepView], create: str, poll: str,
                         final: str = "completed") -> Iterator[Finding]:
    name = "consistency.background_lifecycle"
    started = steps[create].response or (steps[create].body if isinstance(steps[create].body, dict) else None)
    if not isinstance(started, dict):
        yield Finding(name, "the background request returned no Response", "$")
        return
    # Already completed is a backend that finished before it answered: clients poll while the
    # status is queued or in_progress, so they read it as it is. Any other status is not a start.
    if started.get("status") not in ("queued", "in_progress", "completed"):
        yield Finding(name, f"a background response starts with status {started.get('status')!r}, "
                            "expected queued or in_progress (or completed)", "$.status")
    if started.get("background") is not True:
        yield Finding(name, f"background is {started.get('background')!r} in the Response", "$.background")
    if steps[poll].status != 200:
        return  # the poll step's framing.http_status_ok reports the refusal: one cause, one failure
    last = steps[poll].body
    status = last.get("status") if isinstance(last, dict) else None
    if final == "cancelled" and status == "completed":
        return  # finished before the cancel arrived: inconclusive() says so, this is no verdict
    if status != final:
        yield Finding(name, f"polling ended with status {status!r}, expected {final!r}", "$.status")


# -- compact ---------------------------------------------------------------------------------
@check("consistency.compaction_accepted", MUST, SCENARIO,
       "A request whose `input` carries the `compaction` item `POST /responses/compact` returned is answered with a "
       "response (HTTP 200, or a response stream over a WebSocket) that does not fail: a target that offers compact "
       "accepts the items it returns.",
       "SPEC ResponseCompactionItemParam and OR CompactionSummaryItemParam are input items; OpenAI's compaction guide "
       "and OR compliance test websocket-compact-new-chain pass the compacted output on as the next input. Only a "
       "target without compact (the compact request refused) is unsupported. What the answer recalls is "
       "consistency.context_kept.",
       feature="compact")
def compaction_accepted(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    """The request whose `input` carries the `compaction` item `POST /responses/compact` returned
    is answered with a response (HTTP 200 or a WebSocket response stream), not refused. The
    protocol half of the round trip; what the answer recalls is consistency.context_kept's."""
    name = "consistency.compaction_accepted"
    view = steps[step]
    sent = view.request if isinstance(view.request, list) else [view.request]
    carried = [f"input[{index}]" for message in sent if isinstance(message, dict)
               for index, item in enumerate(message.get("input") if isinstance(message.get("input"), list) else [])
               if isinstance(item, dict) and item.get("type") == "compaction"]
    if not carried:
        return  # the compaction returned no compaction item: schema.compaction reports it
    what = f"the request carrying the compaction item ({', '.join(carried)})"
    frame = view.body if isinstance(view.body, dict) and view.body.get("type") == "error" else None  # WebSocket
    refused = frame is not None and view.response is None
    if refused or (frame is None and isinstance(view.status, int) and view.status >= 400):
        envelope = frame or next((b for b in (view.body, view.response) if isinstance(b, dict)), {})
        error = envelope.get("error") if isinstance(envelope.get("error"), dict) else None
        status = f"an error frame, status {frame.get('status')}" if frame is not None else f"HTTP {view.status}"
        if error is None:
            yield Finding(name, f"{what} was answered {status} without an error envelope or a Response", "$")
            return
        details = [f"{key} {error[key]!r}" for key in ("code", "param") if error.get(key)]
        said = " ".join(str(error.get("message") or "").split())
        yield Finding(name, f"{what} was refused with {status}{' (' + ', '.join(details) + ')' if details else ''}: "
                            f"{_show(said, 160)}; a target that offers /responses/compact must accept the items it "
                            "returns", "$.error")
        return
    response = view.response
    if not isinstance(response, dict):
        yield Finding(name, f"{what} was answered {f'HTTP {view.status}' if view.status else 'with nothing'} "
                            "without a Response", "$")
        return
    status = response.get("status")
    if status not in ("completed", "incomplete"):
        failure = response.get("error") if isinstance(response.get("error"), dict) else {}
        said = " ".join(str(failure.get("message") or "").split())
        yield Finding(name, f"{what} ended with status {status!r}"
                            f"{': ' + _show(said, 160) if said else ''}", "$.status")


# -- tools and output ------------------------------------------------------------------------
@check("consistency.tool_called", MUST, SCENARIO,
       "With `tool_choice` required or named, the output holds a function_call whose arguments are JSON matching its parameters.",
       "SPEC tool_choice; tool calls streamed as text break every agent (J-02, J-05, J-10). Which call a model "
       "makes, and whether its arguments parse, is the model's doing unless the server constrains it.",
       model_behaviour=True,
       feature="tools")
def tool_called(steps: dict[str, StepView], step: str, tool: str | None = None, min_calls: int = 1) -> Iterator[Finding]:
    view = steps[step]
    name = "consistency.tool_called"
    unfinished = _no_answer(view)
    if unfinished is not None:
        yield Finding(name, f"{unfinished}: there is no output to look for a function_call in", "$")
        return
    if not _has_answer(view):
        return  # no answer at all: the step's own checks say why
    calls = function_calls(view.response)
    if tool is not None:
        calls = [c for c in calls if c.get("name") == tool]
    if len(calls) < min_calls:
        text = output_text(view.response)
        markup = " (the text holds tool-call markup instead)" if "<tool_call" in text or "<function" in text else ""
        wanted = f"function_call to {tool!r}" if tool else "function_call"
        yield Finding(name, f"{len(calls)} {wanted} items, expected at least {min_calls}{markup}", "$.output")
        return
    schemas = {t.get("name"): t.get("parameters") for t in (view.request or {}).get("tools", []) if isinstance(t, dict)}
    for call in calls:
        arguments = call.get("arguments")
        if not isinstance(arguments, str):
            yield Finding(name, f"arguments of {call.get('name')!r} are {type(arguments).__name__}, not a string",
                          "$.output")
            continue
        try:
            value = json.loads(arguments)
        except (ValueError, RecursionError):  # nested deeper than the parser goes: not readable JSON either
            yield Finding(name, f"arguments of {call.get('name')!r} are not JSON: {_show(arguments)}", "$.output")
            continue
        # Only strings are looked up: a target may send any JSON value here (an object, a list).
        problem = _schema_problem(value, schemas.get(call["name"]) if isinstance(call.get("name"), str) else None)
        if problem:
            yield Finding(name, f"arguments of {call.get('name')!r} do not match its parameters: {problem}", "$.output")


@check("consistency.parallel_calls_distinct", MUST, SCENARIO,
       "Parallel function calls each have their own item id and call_id.",
       "OBS; the server assigns the ids; proxies that merged parallel calls broke agents (J-07).",
       feature="parallel-tools")
def parallel_calls_distinct(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    # Whether the arguments parse is the model's doing (consistency.tool_called judges it); the
    # ids are the server's.
    calls = function_calls(steps[step].response)
    name = "consistency.parallel_calls_distinct"
    for key in ("id", "call_id"):
        values = [c.get(key) for c in calls]
        if len(set(map(str, values))) != len(values):
            yield Finding(name, f"parallel calls share a {key}: {values}", "$.output")


@check("consistency.tool_round_trip", MUST, SCENARIO,
       "A `function_call_output` with the call's `call_id` is answered with a completed response that uses it.",
       "SPEC function_call_output; agents loop on it (I-13, J-03). The protocol half, the request accepted with "
       "HTTP 200, is framing.http_status_ok; what the answer says is the model's.", model_behaviour=True,
       feature="tools")
def tool_round_trip(steps: dict[str, StepView], answer: str, mentions: str | None = None) -> Iterator[Finding]:
    view = steps[answer]
    name = "consistency.tool_round_trip"
    if view.status != 200:
        return  # the protocol half: the step's framing.http_status_ok reports the refusal
    unfinished = _no_answer(view)
    if unfinished is not None:
        yield Finding(name, f"after the tool output, {unfinished}", "$")
        return
    if not _has_answer(view):
        return  # no answer at all: the step's own checks say why
    text = output_text(view.response)
    if view.response.get("status") != "completed" or not text:
        yield Finding(name, f"after the tool output the response is {view.response.get('status')!r} "
                            f"with text {_show(text)}", "$.output")
    elif mentions and mentions.lower() not in text.lower():
        yield Finding(name, f"the answer does not use the tool output {mentions!r}: {_show(text)}", "$.output")


@check("consistency.structured_output_valid", MUST, SCENARIO,
       "With `text.format` json_schema (not strict), the output text is JSON valid against the schema.",
       "SPEC structured outputs; openai-python responses.parse and the Agents SDK parse it (L-01, L-02). Without "
       "`strict: true` the JSON is the model's doing; with it, consistency.structured_output_strict judges; "
       "`text.format` echoed is consistency.params_echoed.", model_behaviour=True,
       feature="structured-output", any_request=True)
def structured_output_valid(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    """The model-behaviour half: a schema the server was not asked to enforce."""
    if not _strict_format(steps[step]):
        yield from _structured_output(steps[step], "consistency.structured_output_valid")


@check("consistency.structured_output_strict", MUST, SCENARIO,
       "With `text.format` json_schema and `strict: true`, the output text is JSON valid against the schema: the "
       "server enforces the schema, or refuses the request.",
       "SPEC ResponseFormatTextJSONSchemaConfig.strict: 'the model will always follow the exact schema'; a server "
       "that accepts strict and drops it on the way (a bridge that does not pass text.format on) breaks "
       "responses.parse (L-01, L-02).",
       feature="structured-output", any_request=True)
def structured_output_strict(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    """The protocol half: `strict: true` is the server's promise, whatever the model."""
    if _strict_format(steps[step]):
        yield from _structured_output(steps[step], "consistency.structured_output_strict")


def _format(view: StepView) -> dict:
    text = (view.request or {}).get("text") if isinstance(view.request, dict) else None
    fmt = text.get("format") if isinstance(text, dict) else None
    return fmt if isinstance(fmt, dict) else {}


def _strict_format(view: StepView) -> bool:
    fmt = _format(view)
    return fmt.get("type") == "json_schema" and fmt.get("strict") is True


def _structured_output(view: StepView, name: str) -> Iterator[Finding]:
    unfinished = _no_answer(view)
    if unfinished is not None:
        yield Finding(name, f"{unfinished}: there is no output text to judge", "$")
        return
    if not _has_answer(view):
        return  # no answer at all: the step's own checks say why
    text = output_text(view.response)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # nested deeper than the parser goes: not readable JSON either
        yield Finding(name, f"the output text is not JSON: {_show(text)}", "$.output")
        return
    fmt = _format(view)
    problem = _schema_problem(value, fmt.get("schema")) if fmt.get("type") == "json_schema" else None
    if problem:
        yield Finding(name, f"the output does not match the requested schema: {problem}", "$.output")


@check("consistency.params_echoed", MUST, SCENARIO,
       "The Response echoes the request's parameters (temperature, tools, text.format, instructions, ...).",
       "SPEC Response fields; a proxy that drops a parameter shows it here (L-02).", any_request=True)
def params_echoed(steps: dict[str, StepView], step: str, fields: list[str]) -> Iterator[Finding]:
    view = steps[step]
    request, response = view.request or {}, view.response or {}
    for key in fields:
        if key not in request:
            continue
        sent, echoed = request[key], response.get(key, "<absent>")
        if not _echo_equal(key, sent, echoed):
            yield Finding("consistency.params_echoed",
                          f"{key} was sent as {_show(sent)} but the Response says {_show(echoed)}", f"$.{key}")


@check("consistency.truncation_reported", MUST, SCENARIO,
       "Asked for a long answer under a small `max_output_tokens`, the response runs into the limit and ends "
       "`incomplete` with reason `max_output_tokens`.",
       "SPEC incomplete_details; clients lose the truncation signal otherwise (H-09, L-05). A model may finish "
       "before the limit (status completed is then right); the protocol half is consistency.output_limit_enforced.",
       model_behaviour=True,
       feature="max-output-tokens")
def truncation_reported(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    """The model-behaviour half: did the answer run into the limit at all."""
    view = steps[step]
    limit = (view.request or {}).get("max_output_tokens") if isinstance(view.request, dict) else None
    unfinished = _no_answer(view)
    if unfinished is not None:
        yield Finding("consistency.truncation_reported", f"{unfinished}: no answer ran into max_output_tokens", "$")
        return
    if not _has_answer(view):
        return  # no answer at all: the step's own checks say why
    response = view.response or {}
    if response.get("status") == "incomplete" and _reason(response) == "max_output_tokens":
        return
    used = _output_tokens(response)
    if response.get("status") == "completed" and isinstance(limit, int) and used is not None and used >= limit:
        return  # at the limit: consistency.limit_reached_reported; over it: output_limit_enforced
    spent = f"after {used} output tokens" if used is not None else "without reporting output tokens"
    yield Finding("consistency.truncation_reported",
                  f"asked for a long answer under max_output_tokens {limit!r}, the response ended "
                  f"{response.get('status')!r} {spent} (incomplete_details "
                  f"{_show(response.get('incomplete_details'))}): the truncation path was not exercised",
                  "$.status")


@check("consistency.output_limit_enforced", MUST, SCENARIO,
       "A `completed` response reports no more output_tokens than `max_output_tokens`; an `incomplete` one for "
       "reason `max_output_tokens` reports no fewer.",
       "SPEC max_output_tokens ('an upper bound') and incomplete_details.reason; more tokens than the limit means "
       "the limit was not enforced, an early stop reported as truncation misleads clients (H-09, L-05).",
       feature="max-output-tokens", any_request=True)
def output_limit_enforced(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    """The protocol half of truncation: the limit holds, and truncation is not claimed early."""
    view = steps[step]
    limit = (view.request or {}).get("max_output_tokens") if isinstance(view.request, dict) else None
    response = view.response
    if not isinstance(limit, int) or not isinstance(response, dict):
        return
    used = _output_tokens(response)
    if used is None:
        return  # usage.present / usage.counters_valid report it
    status = response.get("status")
    if status == "completed" and used > limit:
        yield Finding("consistency.output_limit_enforced",
                      f"the response is completed with {used} output tokens, over max_output_tokens {limit}",
                      "$.usage.output_tokens")
    elif status == "incomplete" and _reason(response) == "max_output_tokens" and used < limit:
        yield Finding("consistency.output_limit_enforced",
                      f"the response is incomplete for reason max_output_tokens after {used} output tokens, "
                      f"fewer than the limit {limit}", "$.usage.output_tokens")


@check("consistency.limit_reached_reported", SHOULD, SCENARIO,
       "A response whose output_tokens equal `max_output_tokens` is `incomplete` with reason `max_output_tokens`.",
       "OBS: OpenAI reports a response that ran into the limit as incomplete; a model may also stop exactly there, "
       "so `completed` at the limit is only a remark (H-09).",
       feature="max-output-tokens")
def limit_reached_reported(steps: dict[str, StepView], step: str) -> Iterator[Finding]:
    view = steps[step]
    limit = (view.request or {}).get("max_output_tokens") if isinstance(view.request, dict) else None
    response = view.response
    if not isinstance(limit, int) or not isinstance(response, dict):
        return
    if response.get("status") == "completed" and _output_tokens(response) == limit:
        yield Finding("consistency.limit_reached_reported",
                      f"the response is completed with exactly max_output_tokens ({limit}) output tokens; "
                      "OpenAI reports that as incomplete (reason max_output_tokens), unless the model stopped "
                      "there", "$.status")


def inconclusive(check_id: str, steps: dict[str, StepView], args: dict[str, Any]) -> str | None:
    """The reason an assertion's scenario tested nothing on this target, or None when it did
    (the check's `inconclusive=` function: a race the target won, a trigger it does not honour).
    The runner reports the scenario as "could not test" with this reason instead of a pass."""
    function = registry.get(check_id).inconclusive
    return function(steps, **args) if function is not None else None


def _output_tokens(response: dict) -> int | None:
    usage = response.get("usage")
    used = usage.get("output_tokens") if isinstance(usage, dict) else None
    return used if isinstance(used, int) and not isinstance(used, bool) else None


def _reason(response: dict) -> Any:
    details = response.get("incomplete_details")
    return details.get("reason") if isinstance(details, dict) else None


def _no_answer(view: StepView) -> str | None:
    """Why a step has no answer to judge the model by, when nothing else reports it; None when
    it has an answer, or when the step's own checks already report why it has none.

    A model-behaviour assertion judges what the model said. With no answer there is nothing to
    judge: an HTTP error, a stream without a final response or a body that is no Response fail
    the step's own checks (framing.http_status_ok, grammar.terminal_event_present,
    schema.response), and a second failure here would repeat them. A response that *failed* is
    reported by nothing else, so it is said, as what it is: never as empty output.
    """
    response = view.response
    if isinstance(response, dict) and response.get("status") == "failed":
        return f"the response failed ({_error_words(response.get('error'))})"
    return None


def _has_answer(view: StepView) -> bool:
    return isinstance(view.response, dict) and view.response.get("status") != "failed"


def _error_words(error: Any) -> str:
    if not isinstance(error, dict):
        return f"error {_show(error)}"
    code, message = error.get("code"), error.get("message")
    return ": ".join(str(x) for x in (code, message) if x) or "no error details"


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string"}.get(type(value), "value")


def _echo_equal(key: str, sent: Any, echoed: Any) -> bool:
    if key == "tools":
        if not isinstance(echoed, list) or len(echoed) != len(sent):
            return False
        return all(isinstance(e, dict) and e.get("type") == s.get("type") and e.get("name") == s.get("name")
                   for s, e in zip(sent, echoed))
    if key == "text":
        fmt_s, fmt_e = (sent or {}).get("format") or {}, (echoed or {}).get("format") if isinstance(echoed, dict) else None
        return isinstance(fmt_e, dict) and fmt_e.get("type") == fmt_s.get("type") and fmt_e.get("name") == fmt_s.get("name")
    if isinstance(sent, (int, float)) and not isinstance(sent, bool):
        # An int and a float compare by value as they are (float() of a huge integer overflows).
        return isinstance(echoed, (int, float)) and not isinstance(echoed, bool) and sent == echoed
    return sent == echoed


def _schema_problem(value: Any, schema: Any) -> str | None:
    """The first way `value` breaks a tool's or format's JSON Schema (None when it fits)."""
    if not isinstance(schema, dict):
        return None
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    except SchemaError:
        return None
    if error is None:
        return None
    where = "".join(f"[{p!r}]" for p in error.absolute_path) or "the document"
    return f"{where}: {error.message[:120]}"
