"""The reference Responses API server as a Starlette application.

Shapes (field order included) follow real OpenAI traffic: the same Response object fields,
`event:` line equal to `data.type`, `sequence_number` from 0 by 1, `logprobs: []` on text
events, `usage: null` before the terminal event, `obfuscation` padding on every `*.delta`
event (unless `stream_options.include_obfuscation` is false) and no `[DONE]`. What the model
outputs (text, function calls, reasoning, refusals, JSON) is scripted in `model.py`; this
module turns it into output items, events and Response objects:

* reasoning item `{id: rs_..., type, [encrypted_content], summary}` (no `status`, like
  OpenAI's; `status: "incomplete"` only when `max_output_tokens` cut it), its summary parts
  streamed as reasoning_summary_part.added / _text.delta... / _text.done / _part.done;
* function_call item `{id: fc_..., type, status, arguments, call_id: call_..., name}`, added
  with `arguments: ""`, then function_call_arguments.delta... and .done (no `name`: OpenAI's
  wire omits it), done `completed` (or `incomplete` when cut);
* message item with one `output_text` part or one `refusal` part (refusal.delta / .done);
* `FAIL_MIDSTREAM`: created, in_progress, the nested `error` event, `response.failed`
  (`error: {code, message}`, `usage: null`, `output: []`). Without `stream` the same failed
  Response object is the HTTP 200 body: the request was accepted and the failure happened
  while generating, which is what the stream's terminal event and `GET
  /v1/responses/{id}` report too.

State (`records.py`): every accepted response is computed whole at once and kept (when
`store` is true) with its whole event schedule, so `GET /v1/responses/{id}` shows it as it
stands, `?stream=true&starting_after=N` replays its events, `input_items` lists its input
(earlier turns included), `DELETE` forgets it, and `background: true` responses move from
`queued` to `in_progress` to done over `background_step` seconds each and can be cancelled.

Flavours: `openai` (default) is what api.openai.com sends. `openresponses` speaks the Open
Responses dialect: the stream ends with `data: [DONE]`, reasoning items carry `status` and
their raw reasoning text as a `reasoning_text` content part streamed as
`response.reasoning.delta` / `.done`, and Response objects carry `frequency_penalty` /
`presence_penalty`. `openai-strict` sends the published OpenAPI description as written:
`usage` and `user` left out instead of null, `cache_write_tokens: 0`, `name` on
`function_call_arguments.done`, and the flat `error` event (`code, message, param`). The
error event is nested (`type, code, message, param`) in the other two flavours.

`faults` switch on named, deliberate protocol breakages so the suite's checks can be shown
to fire against a live server; each alters only what its description in `FAULTS` (or
`WS_FAULTS`, `COMPACT_FAULTS`) says.
`disabled` switches features off (`validation.FEATURES`): requests that use them get a clean
4xx, as from a server that honestly does not offer them; `websocket` and `compact`
(`ENDPOINT_FEATURES`) take the WebSocket mode of `/v1/responses` (the upgrade is then refused
with 405, as a GET) and `POST /v1/responses/compact` (then 405 or 404) away. `chat.py` adds the upstream
mode (`/v1/chat/completions`, `/v1/models`) and the journal at `/_reference/journal`; `ws.py`
the WebSocket mode of `/v1/responses`, `compact.py` the compact endpoint and the reading of
the `compaction` input items it returns.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send

from . import chat, errors
from . import compact as compact_module
from . import ws as ws_module
from .errors import ApiError
from .model import (
    CallOutput,
    Completion,
    Message,
    MessageOutput,
    OutputPlan,
    ReasoningOutput,
    call_id_for,
    generate,
    logprob_entries,
    model_input_digest,
)
from .records import (
    IdFactory,
    Record,
    RecordStore,
    Scheduled,
    input_items,
    page,
    without_image_urls,
)
from .validation import (
    FEATURES,
    INPUT_IMAGE_URL,
    OUTPUT_LOGPROBS,
    ResponseRequest,
    check_include,
    not_offered,
    parse_request,
    refuse_compaction_items,
)

DEFAULT_API_KEY = "sk-reference-local"
FLAVOURS = ("openai", "openresponses", "openai-strict")
DEFAULT_FLAVOUR = "openai"
#: Seconds a background response spends queued, then in progress.
# Long enough that a cancel sent right after the create finds the response still running, even
# on a loaded machine (a real model takes seconds; the scenario's race must not decide its verdict).
DEFAULT_BACKGROUND_STEP = 0.4
#: How many requests the journal keeps (the oldest are dropped first).
JOURNAL_LIMIT = 10_000

#: Every fault name with what it breaks.
FAULT_DESCRIPTIONS: dict[str, str] = {
    "sequence_gap": "skip one sequence_number right after the first output_text.delta",
    "sequence_repeat": "the event after the first output_text.delta repeats its sequence_number",
    "event_name_mismatch": "the `event:` line of output_text.delta events says "
    "`response.output_text.delta.x`",
    "content_type_json_on_stream": "streams are sent with Content-Type: application/json",
    "created_at_float": "created_at is a float (e.g. 1767340552.0) in every Response object",
    "no_output_text_done": "response.output_text.done is not sent",
    "item_id_rotates": "output_text.delta events carry an item_id other than the item's id",
    "final_output_empty": "response.completed.response.output is [] (streams only)",
    "usage_total_wrong": "usage.total_tokens = input + output + 1",
    "error_status_200": "authentication failures are answered with HTTP 200 (same body)",
    "error_envelope_flat": 'HTTP errors are answered as {"detail": "<message>"}',
    "text_mismatch": "done/part/item/final text lack the first delta's text "
    "(the deltas themselves are unchanged)",
    "call_id_changes": "a function_call's output_item.done (and so the final response) carries "
    "a call_id other than the one its output_item.added announced",
    "arguments_mismatch": "function_call_arguments.done, the done item and the final response "
    "carry arguments that lack the first delta's text (the deltas themselves are unchanged)",
    "reasoning_id_rotates": "reasoning summary events (part added/done, text delta/done) carry "
    "an item_id other than the reasoning item's id",
    "error_without_failed": "the mid-stream failure (FAIL_MIDSTREAM) ends after the error "
    "event: no response.failed",
    "refusal_in_text": "a refusal's text is streamed as response.output_text.delta events "
    "inside its refusal part (refusal.done and the parts are unchanged)",
    "context_lost": "previous_response_id is accepted (and echoed) but the model does not see "
    "the earlier turns: no 'This is turn N', no recall",
    "retrieve_differs": "GET /v1/responses/{id} shows output text other than the response's "
    "(' [retrieved]' appended); streams and replays are unchanged",
    "call_id_mismatch_output": "a function_call_output is accepted, but the answer ignores it "
    "(the plain reply to the last user message, no quote of the output)",
    "unknown_param_500": "an unknown top-level request parameter is answered with HTTP 500 "
    "(type server_error) instead of 400 unknown_parameter",
    "resume_from_zero": "GET ?stream=true&starting_after=N ignores N: the replay starts at "
    "sequence_number 0",
    "delete_keeps": "DELETE /v1/responses/{id} answers deleted: true, but GET still returns "
    "the response",
}
FAULTS = frozenset(FAULT_DESCRIPTIONS)
#: Fuzz-only faults: no fixed scenario sends what triggers them; fuzz mode (`--fuzz`) finds them.
FUZZ_FAULT_DESCRIPTIONS: dict[str, str] = {
    "fuzz_temperature_500": "a `temperature` outside 0..2 is answered with HTTP 500 (type "
    "server_error) instead of 400",
    "fuzz_truncation_accepted": "an unknown `truncation` value is accepted (read as 'disabled') "
    "instead of refused with 400 invalid_value",
    "fuzz_truncation_auto_fails": "a streamed request with `truncation: \"auto\"` fails mid-stream "
    "(error event, response.failed) inside HTTP 200",
}
FUZZ_FAULTS = frozenset(FUZZ_FAULT_DESCRIPTIONS)
#: Faults of WebSocket mode (`ws.py`); they leave HTTP answers untouched.
WS_FAULT_DESCRIPTIONS: dict[str, str] = {
    "ws_sequence_reuse": "WebSocket mode: a connection's second and later responses number their "
    "events on from the previous response's last sequence_number instead of from 0",
    "ws_context_lost": "WebSocket mode: previous_response_id is accepted (and echoed) but the model "
    "does not see the earlier turns",
    "ws_error_without_status": "WebSocket mode: error frames carry no `status`",
    "ws_close_mid_response": "WebSocket mode: the server closes the connection (code 1011) halfway "
    "through the first response on it",
}
WS_FAULTS = frozenset(WS_FAULT_DESCRIPTIONS)
#: Faults of the compaction round trip (`compact.py`); they leave other requests untouched.
COMPACT_FAULT_DESCRIPTIONS = compact_module.FAULT_DESCRIPTIONS
COMPACT_FAULTS = frozenset(COMPACT_FAULT_DESCRIPTIONS)

#: Endpoints a server may not offer at all (`disabled` takes their routes away).
ENDPOINT_FEATURES = {
    "websocket": "WebSocket mode: `response.create` over a WebSocket to /v1/responses",
    "compact": "POST /v1/responses/compact",
}

_OBFUSCATION_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_PREFIXES = {"reasoning": "rs", "function_call": "fc", "message": "msg"}


def new_ids() -> tuple[str, str]:
    """A fresh (response id, message id) pair shaped like OpenAI's."""
    factory = IdFactory()
    return factory.response_id, factory.item("msg")


def _dumps(obj: Any, *, indent: int | None = None) -> bytes:
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(obj, ensure_ascii=False, separators=separators, indent=indent).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise errors.invalid_json() from None


@dataclass
class _Out:
    """One output item of a run: what the model planned, and the ids it goes by."""

    index: int
    id: str
    plan: OutputPlan
    call_id: str | None = None  # function calls: announced at output_item.added
    final_call_id: str | None = None  # ... and at output_item.done (differs: call_id_changes)


@dataclass
class _Run:
    """One request being answered: its parameters, ids, and the model's completion."""

    request: ResponseRequest
    response_id: str
    created_at: int
    completion: Completion
    conversation: list[Message]
    ids: IdFactory
    items: list[_Out] = field(default_factory=list)
    input_items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def logprobs(self) -> bool:
        return OUTPUT_LOGPROBS in self.request.include

    @property
    def background(self) -> bool:
        return self.request.background


def check_tool_outputs(conversation: list[Message]) -> None:
    """Every function_call_output must answer a function_call that comes before it (in the
    stored conversation of `previous_response_id` or in `input`), like OpenAI checks."""
    known: set[str] = set()
    for message in conversation:
        if message.role == "function_call" and message.call_id:
            known.add(message.call_id)
        elif message.role == "function_call_output" and message.call_id not in known:
            raise errors.tool_call_not_found(message.call_id or "")


class _RequestDelay:
    """ASGI middleware: sleep `delay` seconds (without blocking other requests) before every
    request is answered, `/_reference/*` excepted."""

    def __init__(self, app: ASGIApp, delay: float) -> None:
        self.app = app
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("path", "").startswith("/_reference/"):
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


def create_app(
    *,
    api_key: str | None = DEFAULT_API_KEY,
    faults: Iterable[str] = frozenset(),
    store_limit: int = 1000,
    event_delay: float = 0.0,
    flavour: str = DEFAULT_FLAVOUR,
    disabled: Iterable[str] = frozenset(),
    background_step: float = DEFAULT_BACKGROUND_STEP,
    request_delay: float = 0.0,
) -> Starlette:
    """Build the reference server.

    api_key: the only accepted bearer token; None disables authentication.
    faults: names from `FAULTS`, `WS_FAULTS` and `COMPACT_FAULTS`; unknown names raise ValueError.
    store_limit: how many stored responses the in-memory LRU keeps.
    event_delay: seconds between stream events (0 = just yield to the event loop); lets a
        test make the stream's incremental delivery measurable.
    flavour: "openai" (default: what api.openai.com sends), "openresponses" (the Open
        Responses dialect: `[DONE]`, `response.reasoning.*` raw reasoning events, ...) or
        "openai-strict" (the published OpenAPI description as written).
    disabled: feature names from `FEATURES` to switch off (requests using them get a 4xx).
    background_step: seconds a background response stays queued, then in progress.
    request_delay: seconds to wait before answering every request (`/_reference/*` aside),
        without blocking the others.
    """
    for name, value in (("faults", faults), ("disabled", disabled)):
        if isinstance(value, str):
            raise ValueError(  # noqa: TRY004 - a value error to the caller, as before
                f"{name} must be a collection of names, not a string")
    faults = frozenset(faults)
    unknown = sorted(faults - FAULTS - WS_FAULTS - COMPACT_FAULTS - FUZZ_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault name(s): {', '.join(unknown)}; known: "
                         f"{sorted(FAULTS | WS_FAULTS | COMPACT_FAULTS | FUZZ_FAULTS)}")
    disabled = frozenset(disabled)
    unknown = sorted(disabled - set(FEATURES) - set(ENDPOINT_FEATURES))
    if unknown:
        raise ValueError(
            f"unknown feature name(s): {', '.join(unknown)}; known: "
            f"{sorted([*FEATURES, *ENDPOINT_FEATURES])}")
    body_disabled = disabled - set(ENDPOINT_FEATURES)  # what requests are checked against
    if not isinstance(store_limit, int) or isinstance(store_limit, bool) or store_limit < 0:
        raise ValueError("store_limit must be an integer >= 0")
    for name, seconds in (("event_delay", event_delay), ("background_step", background_step),
                          ("request_delay", request_delay)):
        if seconds < 0:
            raise ValueError(f"{name} must be >= 0")
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; known: {', '.join(FLAVOURS)}")
    open_responses = flavour == "openresponses"
    strict = flavour == "openai-strict"

    store = RecordStore(store_limit)
    journal: deque[dict[str, Any]] = deque(maxlen=JOURNAL_LIMIT)
    journal_lock = threading.Lock()

    def log(entry: dict[str, Any]) -> None:
        with journal_lock:
            journal.append(entry)

    # ----------------------------------------------------------------- HTTP plumbing
    def error_response(exc: ApiError) -> Response:
        status = exc.status
        if status == 401 and "error_status_200" in faults:
            status = 200
        body: Any = exc.envelope()
        if "error_envelope_flat" in faults:
            body = {"detail": exc.message}
        headers = {"x-request-id": _request_id(), **exc.headers}
        return Response(
            _dumps(body, indent=2), status_code=status, headers=headers,
            media_type="application/json",
        )

    def json_response(obj: Any, status: int = 200) -> Response:
        return Response(
            _dumps(obj, indent=2), status_code=status, media_type="application/json",
            headers={"x-request-id": _request_id()},
        )

    def sse_response(body: AsyncIterator[bytes]) -> Response:
        media_type = (
            "application/json" if "content_type_json_on_stream" in faults else "text/event-stream"
        )
        return StreamingResponse(body, media_type=media_type, headers={
            "Cache-Control": "no-cache", "X-Accel-Buffering": "no", "x-request-id": _request_id(),
        })

    def authenticate(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.missing_api_key()
        if not secrets.compare_digest(token.encode(), api_key.encode()):
            raise errors.incorrect_api_key(token)

    def server_fault(exc: ApiError) -> ApiError:
        """unknown_param_500: an unknown top-level parameter becomes a 500."""
        unknown_param = (exc.code == "unknown_parameter" and exc.param and "." not in exc.param) \
            or exc.message.startswith("Unrecognized request argument")
        if "unknown_param_500" in faults and unknown_param:
            return ApiError(500, "The server had an error while processing your request.",
                            type="server_error")
        if "fuzz_temperature_500" in faults and exc.param == "temperature" \
                and "_value" in (exc.code or ""):  # out of range: *_above_max_value, *_below_min_value
            return ApiError(500, errors.SERVER_ERROR_MESSAGE, type="server_error")
        return exc

    # ----------------------------------------------------------------- Response objects
    def response_object(
        run: _Run,
        *,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None,
        completed_at: int | None = None,
        final: bool = False,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        req = run.request
        tier = req.service_tier
        if final and tier == "auto":
            tier = "default"  # OpenAI reports the tier it actually used once done
        created_at: int | float = run.created_at
        if "created_at_float" in faults:
            created_at = float(created_at)
        obj: dict[str, Any] = {
            "id": run.response_id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "background": req.background,
            "completed_at": completed_at,
            "error": error,
            "incomplete_details": (
                {"reason": "max_output_tokens"} if status == "incomplete" else None
            ),
            "instructions": req.instructions,
            "max_output_tokens": req.max_output_tokens,
            "max_tool_calls": req.max_tool_calls,
            "model": req.model,
            "output": output,
            "parallel_tool_calls": req.parallel_tool_calls,
            "previous_response_id": req.previous_response_id,
            "prompt_cache_key": req.prompt_cache_key,
            "prompt_cache_retention": req.prompt_cache_retention,
            "reasoning": copy.deepcopy(req.reasoning),
            "safety_identifier": req.safety_identifier,
            "service_tier": tier,
            "store": req.store,
            "temperature": req.temperature,
            "text": copy.deepcopy(req.text),
            "tool_choice": copy.deepcopy(req.tool_choice),
            "tools": copy.deepcopy(req.tools),
            "top_logprobs": req.top_logprobs,
            "top_p": req.top_p,
            "truncation": req.truncation,
            "usage": usage,
            "user": req.user,
            "metadata": dict(req.metadata),
        }
        if strict:  # the published schema: neither is nullable, so leave them out
            if usage is None:
                del obj["usage"]
            if req.user is None:
                del obj["user"]
        if open_responses:  # required by Open Responses' ResponseResource
            obj = _insert_after(obj, "error", {"frequency_penalty": 0.0})
            obj = _insert_after(obj, "parallel_tool_calls", {"presence_penalty": 0.0})
        return obj

    def usage_object(completion: Completion) -> dict[str, Any]:
        total = completion.input_tokens + completion.output_tokens
        if "usage_total_wrong" in faults:
            total += 1
        input_details: dict[str, int] = {"cached_tokens": 0}
        if strict:
            input_details["cache_write_tokens"] = 0
        return {
            "input_tokens": completion.input_tokens,
            "input_tokens_details": input_details,
            "output_tokens": completion.output_tokens,
            "output_tokens_details": {"reasoning_tokens": completion.reasoning_tokens},
            "total_tokens": total,
        }

    # ----------------------------------------------------------------- output items
    def final_deltas(plan: MessageOutput) -> tuple[tuple[str, ...], int]:
        """The deltas the final text is made of, and the position of the first."""
        if "text_mismatch" in faults and not plan.refusal and plan.deltas:
            return plan.deltas[1:], 1
        return plan.deltas, 0

    def final_text(plan: MessageOutput) -> str:
        if "text_mismatch" in faults and not plan.refusal and plan.deltas:
            return "".join(plan.deltas[1:])
        return plan.text

    def final_arguments(plan: CallOutput) -> str:
        if "arguments_mismatch" in faults and plan.deltas:
            return "".join(plan.deltas[1:])
        return plan.arguments

    def part_logprobs(run: _Run, plan: MessageOutput, *, with_bytes: bool) -> list[dict[str, Any]]:
        if not run.logprobs:
            return []
        deltas, start = final_deltas(plan)
        return logprob_entries(deltas, run.request.top_logprobs, with_bytes=with_bytes,
                               start=start)

    def text_part(text: str, logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": logprobs or [],
                "text": text}

    def refusal_part(text: str) -> dict[str, Any]:
        return {"type": "refusal", "refusal": text}

    def final_status(plan: OutputPlan) -> str:
        return "incomplete" if plan.truncated else "completed"

    def item_object(run: _Run, out: _Out, *, done: bool) -> dict[str, Any]:
        """The item as output_item.added (done=False) or .done / the final output shows it."""
        plan = out.plan
        if isinstance(plan, ReasoningOutput):
            item: dict[str, Any] = {"id": out.id, "type": "reasoning"}
            if plan.encrypted_content is not None:
                item["encrypted_content"] = plan.encrypted_content
            if open_responses:  # OR: every item has a status
                item["status"] = final_status(plan) if done else "in_progress"
            item["summary"] = (
                [{"type": "summary_text", "text": t} for t in plan.summary_texts] if done else []
            )
            if open_responses:
                item["content"] = [{"type": "reasoning_text", "text": plan.text}] if done else []
            elif done and plan.truncated:
                item["status"] = "incomplete"  # OpenAI's reasoning items have none otherwise
            return item
        if isinstance(plan, CallOutput):
            return {
                "id": out.id,
                "type": "function_call",
                "status": final_status(plan) if done else "in_progress",
                "arguments": final_arguments(plan) if done else "",
                "call_id": out.final_call_id if done else out.call_id,
                "name": plan.name,
            }
        assert isinstance(plan, MessageOutput)
        content: list[dict[str, Any]] = []
        if done:
            content = [refusal_part(plan.text) if plan.refusal else text_part(
                final_text(plan), part_logprobs(run, plan, with_bytes=True))]
        return {
            "id": out.id,
            "type": "message",
            "status": final_status(plan) if done else "in_progress",
            "content": content,
            "role": "assistant",
        }

    def final_response(run: _Run, completed_at: int) -> dict[str, Any]:
        completion = run.completion
        if completion.failed:
            return response_object(
                run, status="failed", output=[], usage=None, final=True,
                error={"code": "server_error", "message": errors.SERVER_ERROR_MESSAGE},
            )
        status = "incomplete" if completion.truncated else "completed"
        return response_object(
            run,
            status=status,
            output=[item_object(run, out, done=True) for out in run.items],
            usage=usage_object(completion),
            completed_at=completed_at if status == "completed" else None,
            final=True,
        )

    def start_run(req: ResponseRequest, cached: Record | None = None, forget: bool = False) -> _Run:
        """`cached`: a WebSocket connection's last response, which `previous_response_id` may name
        though it is not stored; `forget` (fault ws_context_lost): the model does not see the
        earlier turns."""
        history: list[Message] = []
        history_items: list[dict[str, Any]] = []
        if req.previous_response_id is not None:
            previous = cached if cached is not None and cached.id == req.previous_response_id \
                else store.get(req.previous_response_id)
            if previous is None:
                raise errors.previous_response_not_found(req.previous_response_id)
            now = time.monotonic()
            if not previous.finished(now):
                raise ApiError(
                    400,
                    f"Previous response with id '{req.previous_response_id}' is still "
                    f"{previous.status_at(now).replace('_', ' ')}; it can be continued once it "
                    "has finished.",
                    param="previous_response_id",
                )
            history, history_items = previous.history()
        conversation = [*history, *req.messages]
        check_tool_outputs(conversation)
        seen = list(req.messages) if "context_lost" in faults or forget else conversation
        options = req.options
        if "call_id_mismatch_output" in faults:
            options = dataclasses.replace(options, ignore_tool_outputs=True)
        completion = generate(req.model, req.instructions, seen, req.max_output_tokens, options)
        digest = model_input_digest(req.model, req.instructions, seen)
        ids = IdFactory()
        run = _Run(req, ids.response_id, int(time.time()), completion, seen, ids)
        calls = 0
        for index, plan in enumerate(completion.items):
            out = _Out(index, ids.item(_PREFIXES[plan.kind]), plan)
            if isinstance(plan, CallOutput):
                out.call_id = call_id_for(digest, calls, plan.name)
                out.final_call_id = (call_id_for(digest, calls, plan.name, "changed")
                                     if "call_id_changes" in faults else out.call_id)
                calls += 1
            run.items.append(out)
        run.input_items = [*history_items, *input_items(req.input, ids)]
        return run

    def replies_of(run: _Run) -> list[Message]:
        """What the model answered, as the next turn's conversation holds it."""
        replies: list[Message] = []
        for out in run.items:
            if isinstance(out.plan, CallOutput):
                replies.append(Message("function_call", f"{final_arguments(out.plan)} "
                                       f"{out.plan.name}", call_id=out.final_call_id,
                                       name=out.plan.name))
            elif isinstance(out.plan, MessageOutput):
                replies.append(Message("assistant", out.plan.text))
        return replies

    # ----------------------------------------------------------------- events
    def rotated(item_id: str, fault: str) -> str:
        if fault not in faults:
            return item_id
        return f"{item_id.split('_', 1)[0]}_{secrets.token_hex(25)}"

    def reasoning_events(run: _Run, out: _Out) -> Iterator[dict[str, Any]]:
        plan = out.plan
        assert isinstance(plan, ReasoningOutput)
        at = {"output_index": out.index}
        for s, deltas in enumerate(plan.summary):
            text = "".join(deltas)

            def ref(index: int = s) -> dict[str, Any]:
                return {"item_id": rotated(out.id, "reasoning_id_rotates"), **at,
                        "summary_index": index}

            yield {"type": "response.reasoning_summary_part.added", **ref(),
                   "part": {"type": "summary_text", "text": ""}}
            for delta in deltas:
                yield {"type": "response.reasoning_summary_text.delta", **ref(), "delta": delta}
            yield {"type": "response.reasoning_summary_text.done", **ref(), "text": text}
            yield {"type": "response.reasoning_summary_part.done", **ref(),
                   "part": {"type": "summary_text", "text": text}}
        if open_responses:  # the raw reasoning text, as one reasoning_text content part
            part = {"item_id": out.id, **at, "content_index": 0}
            yield {"type": "response.content_part.added", **part,
                   "part": {"type": "reasoning_text", "text": ""}}
            for delta in plan.deltas:
                yield {"type": "response.reasoning.delta", **part, "delta": delta}
            yield {"type": "response.reasoning.done", **part, "text": plan.text}
            yield {"type": "response.content_part.done", **part,
                   "part": {"type": "reasoning_text", "text": plan.text}}

    def call_events(run: _Run, out: _Out) -> Iterator[dict[str, Any]]:
        plan = out.plan
        assert isinstance(plan, CallOutput)
        for delta in plan.deltas:
            yield {"type": "response.function_call_arguments.delta", "item_id": out.id,
                   "output_index": out.index, "delta": delta}
        done: dict[str, Any] = {"type": "response.function_call_arguments.done",
                                "item_id": out.id}
        if strict:  # SPEC requires it; OpenAI's wire leaves it out
            done["name"] = plan.name
        done.update({"output_index": out.index, "arguments": final_arguments(plan)})
        yield done

    def message_events(run: _Run, out: _Out) -> Iterator[dict[str, Any]]:
        plan = out.plan
        assert isinstance(plan, MessageOutput)
        part = {"item_id": out.id, "output_index": out.index, "content_index": 0}
        if plan.refusal:
            yield {"type": "response.content_part.added", **part, "part": refusal_part("")}
            for delta in plan.deltas:
                if "refusal_in_text" in faults:
                    yield {"type": "response.output_text.delta", **part, "delta": delta,
                           "logprobs": []}
                else:
                    yield {"type": "response.refusal.delta", **part, "delta": delta}
            yield {"type": "response.refusal.done", **part, "refusal": plan.text}
            yield {"type": "response.content_part.done", **part,
                   "part": refusal_part(plan.text)}
            return
        yield {"type": "response.content_part.added", **part, "part": text_part("")}
        top = run.request.top_logprobs
        for position, delta in enumerate(plan.deltas):
            yield {
                "type": "response.output_text.delta",
                **part,
                "item_id": rotated(out.id, "item_id_rotates"),
                "delta": delta,
                "logprobs": (logprob_entries([delta], top, with_bytes=open_responses, start=position)
                             if run.logprobs else []),
            }
        text = final_text(plan)
        if "no_output_text_done" not in faults:
            yield {"type": "response.output_text.done", **part, "text": text,
                   "logprobs": part_logprobs(run, plan, with_bytes=open_responses)}
        yield {"type": "response.content_part.done", **part,
               "part": text_part(text, part_logprobs(run, plan, with_bytes=True))}

    body_events = {"reasoning": reasoning_events, "function_call": call_events,
                   "message": message_events}

    def error_event() -> dict[str, Any]:
        if strict:  # the documented flat shape
            return {"type": "error", "code": "server_error",
                    "message": errors.SERVER_ERROR_MESSAGE, "param": None}
        return errors.stream_error_event()

    def events(run: _Run, final: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
        """Every event of the run's stream (without sequence numbers), each with the Response
        a GET shows from then on (None: unchanged)."""
        if run.background:
            queued = response_object(run, status="queued", output=[], usage=None)
            yield {"type": "response.created", "response": queued}, queued
            yield {"type": "response.queued", "response": copy.deepcopy(queued)}, queued
            start = response_object(run, status="in_progress", output=[], usage=None)
        else:
            start = response_object(run, status="in_progress", output=[], usage=None)
            yield {"type": "response.created", "response": start}, start
        yield {"type": "response.in_progress", "response": copy.deepcopy(start)}, start
        if run.completion.failed:
            yield error_event(), None
            if "error_without_failed" not in faults:
                yield {"type": "response.failed", "response": copy.deepcopy(final)}, final
            return
        for out in run.items:
            yield {"type": "response.output_item.added", "output_index": out.index,
                   "item": item_object(run, out, done=False)}, None
            yield from ((event, None) for event in body_events[out.plan.kind](run, out))
            yield {"type": "response.output_item.done", "output_index": out.index,
                   "item": item_object(run, out, done=True)}, None
        terminal = copy.deepcopy(final)
        if "final_output_empty" in faults:
            terminal["output"] = []
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        yield {"type": kind, "response": terminal}, final

    def schedule(run: _Run, final: dict[str, Any], start: float, *,
                 live: bool) -> list[Scheduled]:
        """The run's events numbered, named, and timed from `start` (time.monotonic()):
        background runs spread over 2 background steps, live foreground streams one
        event_delay apart, everything else at once."""
        numbered: list[tuple[str, dict[str, Any], Any]] = []
        seq = 0
        first_text_delta = True
        for payload, snapshot in events(run, final):
            kind = payload.pop("type")
            payload = {"type": kind, "sequence_number": seq, **payload}
            seq += 1
            name = kind
            if kind == "response.output_text.delta" and "event_name_mismatch" in faults:
                name = "response.output_text.delta.x"
            numbered.append((name, payload, snapshot))
            if kind == "response.output_text.delta" and first_text_delta:
                first_text_delta = False
                if "sequence_gap" in faults:
                    seq += 1
                if "sequence_repeat" in faults:
                    seq -= 1
        times: list[float] = []
        if run.background:
            head = 3  # created, queued: at once; in_progress one step later
            rest = len(numbered) - head
            times = [start, start, start + background_step]
            times += [start + background_step * (1 + (k + 1) / rest) for k in range(rest)]
        elif live:
            times = [start + i * event_delay for i in range(len(numbered))]
        else:
            times = [start] * len(numbered)
        return [Scheduled(at, name, payload, snapshot)
                for at, (name, payload, snapshot) in zip(times, numbered)]

    def obfuscation(response_id: str, seq: int, delta: str) -> str:
        seed = hashlib.sha256(f"{response_id}:{seq}".encode()).digest()
        length = 16 - len(delta) % 16
        return "".join(_OBFUSCATION_ALPHABET[b % 62] for b in seed[:length])

    async def send_events(record: Record, after: int | None, obfuscate: bool,
                          ) -> AsyncIterator[bytes]:
        """The record's events after sequence_number `after`, each once its time has come;
        a cancelled response's stream ends with the last event from before the cancel."""
        sent = 0
        for event in record.schedule:
            if after is not None and event.seq <= after:
                continue
            wait = event.at - time.monotonic()
            if sent or wait > 0:
                await asyncio.sleep(max(0.0, wait))
            if record.cancelled_at is not None and event.at > record.cancelled_at:
                break
            sent += 1
            payload = event.payload
            delta = payload.get("delta")
            if obfuscate and payload["type"].endswith(".delta") and isinstance(delta, str):
                payload = {**payload, "obfuscation": obfuscation(record.id, event.seq, delta)}
            yield f"event: {event.name}\ndata: ".encode() + _dumps(payload) + b"\n\n"
        if open_responses:
            await asyncio.sleep(event_delay)
            yield b"data: [DONE]\n\n"

    # ----------------------------------------------------------------- journal
    def responses_entry(body: Any, run: _Run, final: dict[str, Any]) -> dict[str, Any]:
        completion = run.completion
        calls = [out.final_call_id or "" for out in run.items if isinstance(out.plan, CallOutput)]
        return chat.journal_entry(
            "/v1/responses", body, 200, stream=run.request.stream, completion=completion,
            call_ids=calls, usage=copy.deepcopy(final.get("usage")), response_id=run.response_id,
            background=run.background,
        )

    def error_entry(path: str, body: Any, exc: ApiError, stream: Any) -> dict[str, Any]:
        return chat.journal_entry(path, body, exc.status, stream=stream is True,
                                  error=exc.envelope()["error"])

    async def read_body(request: Request) -> tuple[Any, bytes]:
        raw = await request.body()
        try:
            return json.loads(raw, parse_constant=_reject_constant), raw
        except (ValueError, RecursionError):
            return raw.decode("utf-8", errors="replace"), raw

    # ----------------------------------------------------------------- endpoints
    def parse(body: Any, features_off: frozenset[str]) -> ResponseRequest:
        if "compaction_refused" in faults:
            refuse_compaction_items(body)
        if "fuzz_truncation_accepted" in faults and isinstance(body, dict) \
                and isinstance(body.get("truncation"), str) and body["truncation"] not in ("auto", "disabled"):
            body = {**body, "truncation": "disabled"}
        return parse_request(body, features_off)

    async def create_response(request: Request) -> Response:
        logged: Any = None
        try:
            logged, raw = await read_body(request)
            authenticate(request)
            body = _decode(raw)
            req = parse(body, body_disabled)
            if "state" in disabled:
                req.store = False  # nothing is kept: say so
            run = start_run(req)
            if "fuzz_truncation_auto_fails" in faults and req.stream and req.truncation == "auto":
                run.completion = dataclasses.replace(run.completion, failed=True)
        except ApiError as exc:
            exc = server_fault(exc)
            stream = logged.get("stream") if isinstance(logged, dict) else None
            log(error_entry("/v1/responses", logged, exc, stream))
            return error_response(exc)
        now = time.monotonic()
        duration = 2 * background_step if req.background else 0.0
        final = final_response(run, int(time.time() + duration))
        record = Record(
            id=run.response_id,
            background=req.background,
            schedule=schedule(run, final, now, live=req.stream),
            final=final,
            conversation=list(run.conversation),
            replies=replies_of(run),
            input_items=run.input_items,
        )
        if req.store:
            store.put(record)
        log(responses_entry(body, run, final))
        if req.stream:
            return sse_response(send_events(record, None, req.include_obfuscation))
        return json_response(record.response_at(now) if req.background else final)

    def lookup(response_id: str) -> Record:
        record = store.get(response_id)
        if record is None:
            raise errors.response_not_found(response_id)
        return record

    def query_bool(request: Request, name: str) -> bool | None:
        value = request.query_params.get(name)
        if value is None:
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise errors.invalid_type(name, "a boolean", value)

    def query_int(request: Request, name: str, low: int, high: int | None) -> int | None:
        value = request.query_params.get(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise errors.invalid_type(name, "an integer", value) from None
        if number < low or (high is not None and number > high):
            raise errors.out_of_range(name, number, minimum=low, maximum=high)
        return number

    def query_include(request: Request) -> list[str]:
        values = [*request.query_params.getlist("include"),
                  *request.query_params.getlist("include[]")]
        if values and "include" in disabled:
            raise not_offered("include")
        return check_include(values)

    async def response_by_id(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        try:
            authenticate(request)
            if request.method == "DELETE":
                lookup(response_id)
                if "delete_keeps" not in faults:
                    store.delete(response_id)
                return json_response(
                    {"id": response_id, "object": "response.deleted", "deleted": True})
            query_include(request)
            starting_after = query_int(request, "starting_after", 0, None)
            stream = query_bool(request, "stream")
            obfuscate = query_bool(request, "include_obfuscation")
            if "resume" in disabled:
                if starting_after is not None:
                    raise not_offered("starting_after")
                if stream:
                    raise not_offered("stream")
            if stream and "streaming" in disabled:
                raise not_offered("stream")
            record = lookup(response_id)
            if stream:
                after = None if "resume_from_zero" in faults else starting_after
                last = record.last_seq()
                if after is not None and last is not None and after >= last:
                    raise ApiError(
                        400, f"Invalid 'starting_after': {after} is not before the last event "
                        f"of this response (sequence_number {last}).",
                        param="starting_after", code="invalid_value",
                    )
                return sse_response(send_events(record, after, obfuscate is not False))
            body = record.response_at(time.monotonic())
        except ApiError as exc:
            return error_response(exc)
        if "retrieve_differs" in faults:
            for item in body.get("output", []):
                for part in item.get("content") or []:
                    if part.get("type") == "output_text":
                        part["text"] += " [retrieved]"
        return json_response(body)

    async def cancel_response(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        try:
            authenticate(request)
            record = lookup(response_id)
            if not record.background:
                raise ApiError(400, "Only responses created with 'background: true' can be "
                               "cancelled; this one was answered synchronously.")
            now = time.monotonic()
            if record.cancelled is None and record.finished(now):
                raise ApiError(400, f"Cannot cancel a {record.status_at(now)} response.")
            return json_response(record.cancel(now))
        except ApiError as exc:
            return error_response(exc)

    async def list_input_items(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        try:
            authenticate(request)
            include = query_include(request)
            limit = query_int(request, "limit", 1, 100)
            order = request.query_params.get("order", "desc")
            if order not in ("asc", "desc"):
                raise errors.invalid_value("order", order, ["asc", "desc"])
            record = lookup(response_id)
            items = copy.deepcopy(record.input_items)
            if INPUT_IMAGE_URL not in include:
                items = [without_image_urls(item) for item in items]
            body = page(items, limit=20 if limit is None else limit, order=order,
                        after=request.query_params.get("after"))
        except ApiError as exc:
            return error_response(exc)
        return json_response(body)

    async def chat_completions(request: Request) -> Response:
        logged: Any = None
        try:
            logged, raw = await read_body(request)
            authenticate(request)
            req = chat.parse_chat_request(_decode(raw), body_disabled)
            completion = generate(req.model, None, req.messages, req.max_tokens, req.options)
            if completion.failed:
                raise ApiError(500, errors.SERVER_ERROR_MESSAGE, type="server_error",
                               code="server_error")
        except ApiError as exc:
            exc = server_fault(exc)
            stream = logged.get("stream") if isinstance(logged, dict) else None
            log(error_entry("/v1/chat/completions", logged, exc, stream))
            return error_response(exc)
        digest = model_input_digest(req.model, None, req.messages)
        call_ids = [call_id_for(digest, i, call.name) for i, call in enumerate(completion.calls)]
        chat_id, created = chat.completion_id(), int(time.time())
        log(chat.journal_entry("/v1/chat/completions", logged, 200, stream=req.stream,
                               completion=completion, call_ids=call_ids,
                               usage=chat.chat_usage(completion), completion_id=chat_id))
        if not req.stream:
            return json_response(chat.chat_completion(req, completion, call_ids, chat_id, created))
        chunks = list(chat.chat_chunks(req, completion, call_ids, chat_id, created))

        async def send() -> AsyncIterator[bytes]:
            for index, chunk in enumerate(chunks):
                if index:
                    await asyncio.sleep(event_delay)
                if req.include_obfuscation and chunk["choices"]:
                    chunk = {**chunk, "obfuscation": chat.obfuscation(chat_id, index)}
                yield b"data: " + _dumps(chunk) + b"\n\n"
            await asyncio.sleep(event_delay)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(send(), media_type="text/event-stream", headers={
            "Cache-Control": "no-cache", "X-Accel-Buffering": "no", "x-request-id": _request_id(),
        })

    async def list_models(request: Request) -> Response:
        try:
            authenticate(request)
        except ApiError as exc:
            return error_response(exc)
        return json_response(chat.models_list())

    async def get_model(request: Request) -> Response:
        name = request.path_params["model"]
        try:
            authenticate(request)
            if name not in {m["id"] for m in chat.models_list()["data"]}:
                raise chat.model_not_found(name)
        except ApiError as exc:
            return error_response(exc)
        return json_response(chat.model_object(name))

    async def journal_route(request: Request) -> Response:
        with journal_lock:
            entries = list(journal)
            if request.method == "DELETE":
                journal.clear()
        if request.method == "DELETE":
            return json_response({"object": "journal.cleared", "cleared": len(entries)})
        return json_response(entries)

    async def http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        where = f"({request.method} {request.url.path})"
        if exc.status_code == 405:
            message = f"Invalid method for URL {where}"
        elif exc.status_code == 404:
            message = f"Invalid URL {where}"
        else:
            message = str(exc.detail)
        return error_response(ApiError(exc.status_code, message, headers=dict(exc.headers or {})))

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response(
            ApiError(500, "The server had an error while processing your request.",
                     type="server_error")
        )

    # ----------------------------------------------------------------- WebSocket mode, compact
    def ws_accept(body: dict[str, Any], cached: Record | None, forget: bool) -> Record:
        """A `response.create` over a WebSocket: validated and computed like a streamed POST
        (its own `stream` flag aside), stored when `store` is true."""
        try:
            req = parse({**body, "stream": True}, body_disabled - {"streaming"})
            if "state" in disabled:
                req.store = False
            run = start_run(req, cached, forget)
        except ApiError as exc:
            exc = server_fault(exc)
            log(error_entry("/v1/responses", body, exc, True))
            raise exc from None
        final = final_response(run, int(time.time()))
        record = Record(
            id=run.response_id, background=False,
            schedule=schedule(run, final, time.monotonic(), live=True), final=final,
            conversation=list(run.conversation), replies=replies_of(run), input_items=run.input_items,
        )
        if req.store:
            store.put(record)
        log(responses_entry(body, run, final))
        return record

    async def ws_payloads(record: Record) -> AsyncIterator[dict[str, Any]]:
        """The record's events as a stream sends them (obfuscation included), each when due."""
        for event in record.schedule:
            await asyncio.sleep(max(0.0, event.at - time.monotonic()))
            payload = event.payload
            delta = payload.get("delta")
            if payload["type"].endswith(".delta") and isinstance(delta, str):
                payload = {**payload, "obfuscation": obfuscation(record.id, event.seq, delta)}
            yield payload

    ws_hooks = ws_module.WsHooks(authenticate=authenticate, denial=error_response, accept=ws_accept,
                                 payloads=ws_payloads, faults=faults)

    async def responses_websocket(websocket: WebSocket) -> None:
        await ws_module.serve(websocket, ws_hooks)

    async def no_websocket(websocket: WebSocket) -> None:
        await websocket.send_denial_response(error_response(ApiError(
            405, "Invalid method for URL (GET /v1/responses)")))

    compact_endpoint = compact_module.endpoint(
        authenticate=authenticate, decode=_decode, lookup=store.get, error_response=error_response,
        json_response=json_response)

    routes = [
        Route("/v1/responses", create_response, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model}", get_model, methods=["GET"]),
        Route("/_reference/journal", journal_route, methods=["GET", "DELETE"]),
    ]
    if "websocket" not in disabled:
        routes.append(WebSocketRoute("/v1/responses", responses_websocket))
    else:  # a server without it: the upgrade is a GET, which /v1/responses does not take (405)
        routes.append(WebSocketRoute("/v1/responses", no_websocket))
    if "compact" not in disabled:  # before /v1/responses/{response_id}, which would take the path
        routes.append(Route("/v1/responses/compact", compact_endpoint, methods=["POST"]))
    if "state" not in disabled:  # a server without state has none of these routes
        routes += [
            Route("/v1/responses/{response_id}", response_by_id, methods=["GET", "DELETE"]),
            Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
        ]
        if "background" not in disabled:
            routes.append(
                Route("/v1/responses/{response_id}/cancel", cancel_response, methods=["POST"]))
    middleware = [Middleware(_RequestDelay, delay=request_delay)] if request_delay else []
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_exception, Exception: server_error},
    )
    app.router.redirect_slashes = False
    app.state.store = store
    app.state.journal = journal
    app.state.faults = faults
    app.state.disabled = disabled
    app.state.api_key = api_key
    app.state.flavour = flavour
    return app


def _insert_after(obj: dict[str, Any], key: str, extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in obj.items():
        out[name] = value
        if name == key:
            out.update(extra)
    return out


def _request_id() -> str:
    return f"req_{secrets.token_hex(16)}"
