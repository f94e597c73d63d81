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

`flavour="openresponses"` speaks the Open Responses dialect instead: the stream ends with
`data: [DONE]`, reasoning items carry `status` and their raw reasoning text as a
`reasoning_text` content part streamed as `response.reasoning.delta` / `.done`, and Response
objects carry `frequency_penalty` / `presence_penalty`. The error event has the nested shape
(`type, code, message, param`) in both flavours.

`faults` switch on named, deliberate protocol breakages so the suite's checks can be shown
to fire against a live server; each alters only what its description in `FAULTS` says.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import errors
from .errors import ApiError
from .model import (
    CallOutput,
    Completion,
    Message,
    MessageOutput,
    OutputPlan,
    ReasoningOutput,
    generate,
)
from .validation import ResponseRequest, parse_request

DEFAULT_API_KEY = "sk-reference-local"
FLAVOURS = ("openai", "openresponses")
DEFAULT_FLAVOUR = "openai"

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
}
FAULTS = frozenset(FAULT_DESCRIPTIONS)

_OBFUSCATION_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_CALL_ID_ALPHABET = _OBFUSCATION_ALPHABET


def new_ids() -> tuple[str, str]:
    """A fresh (response id, message id) pair shaped like OpenAI's.

    OpenAI ids are a prefix and 50 hex digits; the response and its items share the first
    18 digits, then an 8-digit hex timestamp, then random digits.
    """
    factory = _IdFactory()
    return factory.response_id, factory.item("msg")


class _IdFactory:
    """Ids of one response: `resp_`, and `msg_`/`rs_`/`fc_` items sharing its first digits."""

    def __init__(self) -> None:
        self.shared = secrets.token_hex(9)
        self.stamp = f"{int(time.time()) & 0xFFFFFFFF:08x}"
        self.response_id = self.item("resp")

    def item(self, prefix: str) -> str:
        return f"{prefix}_{self.shared}{self.stamp}{secrets.token_hex(12)}"


def new_call_id() -> str:
    """`call_` and 24 letters and digits, like OpenAI's call ids."""
    return "call_" + "".join(secrets.choice(_CALL_ID_ALPHABET) for _ in range(24))


def _dumps(obj: Any, *, indent: int | None = None) -> bytes:
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(obj, ensure_ascii=False, separators=separators, indent=indent).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class ResponseStore:
    """A bounded, thread-safe LRU of final Response objects (and their conversations)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, tuple[dict[str, Any], list[Message]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, response: dict[str, Any], conversation: list[Message]) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            self._items[response["id"]] = (copy.deepcopy(response), list(conversation))
            self._items.move_to_end(response["id"])
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def get(self, response_id: str) -> tuple[dict[str, Any], list[Message]] | None:
        with self._lock:
            entry = self._items.get(response_id)
            if entry is None:
                return None
            self._items.move_to_end(response_id)
            return copy.deepcopy(entry[0]), list(entry[1])

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._items.pop(response_id, None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


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
    items: list[_Out] = field(default_factory=list)


def check_tool_outputs(conversation: list[Message]) -> None:
    """Every function_call_output must answer a function_call that comes before it (in the
    stored conversation of `previous_response_id` or in `input`), like OpenAI checks."""
    known: set[str] = set()
    for message in conversation:
        if message.role == "function_call" and message.call_id:
            known.add(message.call_id)
        elif message.role == "function_call_output" and message.call_id not in known:
            raise errors.tool_call_not_found(message.call_id or "")


def create_app(
    *,
    api_key: str | None = DEFAULT_API_KEY,
    faults: Iterable[str] = frozenset(),
    store_limit: int = 1000,
    event_delay: float = 0.0,
    flavour: str = DEFAULT_FLAVOUR,
) -> Starlette:
    """Build the reference server.

    api_key: the only accepted bearer token; None disables authentication.
    faults: names from `FAULTS`; unknown names raise ValueError.
    store_limit: how many stored responses the in-memory LRU keeps.
    event_delay: seconds to wait between stream events (0 = just yield to the event loop);
        lets a test make the stream's incremental delivery measurable.
    flavour: "openai" (default: what api.openai.com sends) or "openresponses" (the Open
        Responses dialect: `[DONE]`, `response.reasoning.*` raw reasoning events, ...).
    """
    if isinstance(faults, str):
        raise ValueError("faults must be a collection of fault names, not a string")
    faults = frozenset(faults)
    unknown = sorted(faults - FAULTS)
    if unknown:
        raise ValueError(f"unknown fault name(s): {', '.join(unknown)}; known: {sorted(FAULTS)}")
    if not isinstance(store_limit, int) or isinstance(store_limit, bool) or store_limit < 0:
        raise ValueError("store_limit must be an integer >= 0")
    if event_delay < 0:
        raise ValueError("event_delay must be >= 0")
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; known: {', '.join(FLAVOURS)}")
    open_responses = flavour == "openresponses"

    store = ResponseStore(store_limit)

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

    def json_response(obj: Any) -> Response:
        return Response(
            _dumps(obj, indent=2), media_type="application/json",
            headers={"x-request-id": _request_id()},
        )

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
            "background": False,
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
        if open_responses:  # required by Open Responses' ResponseResource
            obj = _insert_after(obj, "error", {"frequency_penalty": 0.0})
            obj = _insert_after(obj, "parallel_tool_calls", {"presence_penalty": 0.0})
        return obj

    def usage_object(completion: Completion) -> dict[str, Any]:
        total = completion.input_tokens + completion.output_tokens
        if "usage_total_wrong" in faults:
            total += 1
        return {
            "input_tokens": completion.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion.output_tokens,
            "output_tokens_details": {"reasoning_tokens": completion.reasoning_tokens},
            "total_tokens": total,
        }

    # ----------------------------------------------------------------- output items
    def final_text(plan: MessageOutput) -> str:
        if "text_mismatch" in faults and not plan.refusal and plan.deltas:
            return "".join(plan.deltas[1:])
        return plan.text

    def final_arguments(plan: CallOutput) -> str:
        if "arguments_mismatch" in faults and plan.deltas:
            return "".join(plan.deltas[1:])
        return plan.arguments

    def text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def refusal_part(text: str) -> dict[str, Any]:
        return {"type": "refusal", "refusal": text}

    def final_status(plan: OutputPlan) -> str:
        return "incomplete" if plan.truncated else "completed"

    def item_object(out: _Out, *, done: bool) -> dict[str, Any]:
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
            content = [refusal_part(plan.text) if plan.refusal else text_part(final_text(plan))]
        return {
            "id": out.id,
            "type": "message",
            "status": final_status(plan) if done else "in_progress",
            "content": content,
            "role": "assistant",
        }

    def final_response(run: _Run) -> dict[str, Any]:
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
            output=[item_object(out, done=True) for out in run.items],
            usage=usage_object(completion),
            completed_at=int(time.time()) if status == "completed" else None,
            final=True,
        )

    def start_run(req: ResponseRequest) -> _Run:
        history: list[Message] = []
        if req.previous_response_id is not None:
            entry = store.get(req.previous_response_id)
            if entry is None:
                raise errors.previous_response_not_found(req.previous_response_id)
            history = entry[1]
        conversation = [*history, *req.messages]
        check_tool_outputs(conversation)
        completion = generate(
            req.model, req.instructions, conversation, req.max_output_tokens, req.options
        )
        ids = _IdFactory()
        run = _Run(req, ids.response_id, int(time.time()), completion, conversation)
        prefixes = {"reasoning": "rs", "function_call": "fc", "message": "msg"}
        for index, plan in enumerate(completion.items):
            out = _Out(index, ids.item(prefixes[plan.kind]), plan)
            if isinstance(plan, CallOutput):
                out.call_id = new_call_id()
                out.final_call_id = new_call_id() if "call_id_changes" in faults else out.call_id
            run.items.append(out)
        return run

    def remember(run: _Run, response: dict[str, Any]) -> None:
        if not run.request.store:
            return
        replies: list[Message] = []
        for out in run.items:
            if isinstance(out.plan, CallOutput):
                replies.append(Message("function_call", f"{final_arguments(out.plan)} "
                                       f"{out.plan.name}", call_id=out.final_call_id,
                                       name=out.plan.name))
            elif isinstance(out.plan, MessageOutput):
                replies.append(Message("assistant", out.plan.text))
        store.put(response, [*run.conversation, *replies])

    # ----------------------------------------------------------------- streaming
    def obfuscation(run: _Run, seq: int, delta: str) -> str:
        seed = hashlib.sha256(f"{run.response_id}:{seq}".encode()).digest()
        length = 16 - len(delta) % 16
        return "".join(_OBFUSCATION_ALPHABET[b % 62] for b in seed[:length])

    def rotated(item_id: str, fault: str) -> str:
        if fault not in faults:
            return item_id
        return f"{item_id.split('_', 1)[0]}_{secrets.token_hex(25)}"

    def reasoning_events(out: _Out) -> Iterator[dict[str, Any]]:
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

    def call_events(out: _Out) -> Iterator[dict[str, Any]]:
        plan = out.plan
        assert isinstance(plan, CallOutput)
        ref = {"item_id": out.id, "output_index": out.index}
        for delta in plan.deltas:
            yield {"type": "response.function_call_arguments.delta", **ref, "delta": delta}
        yield {"type": "response.function_call_arguments.done", **ref,
               "arguments": final_arguments(plan)}

    def message_events(out: _Out) -> Iterator[dict[str, Any]]:
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
        for delta in plan.deltas:
            yield {
                "type": "response.output_text.delta",
                **part,
                "item_id": rotated(out.id, "item_id_rotates"),
                "delta": delta,
                "logprobs": [],
            }
        text = final_text(plan)
        if "no_output_text_done" not in faults:
            yield {"type": "response.output_text.done", **part, "text": text, "logprobs": []}
        yield {"type": "response.content_part.done", **part, "part": text_part(text)}

    body_events = {"reasoning": reasoning_events, "function_call": call_events,
                   "message": message_events}

    def events(run: _Run) -> Iterator[dict[str, Any]]:
        """Every event of the run's stream, without sequence numbers."""
        start = response_object(run, status="in_progress", output=[], usage=None)
        yield {"type": "response.created", "response": start}
        yield {"type": "response.in_progress", "response": copy.deepcopy(start)}
        if run.completion.failed:
            yield errors.stream_error_event()
            failed = final_response(run)
            remember(run, failed)
            if "error_without_failed" not in faults:
                yield {"type": "response.failed", "response": failed}
            return
        for out in run.items:
            yield {"type": "response.output_item.added", "output_index": out.index,
                   "item": item_object(out, done=False)}
            yield from body_events[out.plan.kind](out)
            yield {"type": "response.output_item.done", "output_index": out.index,
                   "item": item_object(out, done=True)}
        final = final_response(run)
        remember(run, final)  # retrievable as soon as the terminal event is out
        terminal = copy.deepcopy(final)
        if "final_output_empty" in faults:
            terminal["output"] = []
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        yield {"type": kind, "response": terminal}

    async def stream_events(run: _Run) -> AsyncIterator[bytes]:
        seq = 0
        first_text_delta = True
        for index, payload in enumerate(events(run)):
            if index:
                await asyncio.sleep(event_delay)
            kind = payload.pop("type")
            payload = {"type": kind, "sequence_number": seq, **payload}
            if run.request.include_obfuscation and kind.endswith(".delta"):
                payload["obfuscation"] = obfuscation(run, seq, payload["delta"])
            seq += 1
            name = kind
            if kind == "response.output_text.delta" and "event_name_mismatch" in faults:
                name = "response.output_text.delta.x"
            yield f"event: {name}\ndata: ".encode() + _dumps(payload) + b"\n\n"
            if kind == "response.output_text.delta" and first_text_delta:
                first_text_delta = False
                if "sequence_gap" in faults:
                    seq += 1
                if "sequence_repeat" in faults:
                    seq -= 1
        if open_responses:
            await asyncio.sleep(event_delay)
            yield b"data: [DONE]\n\n"

    # ----------------------------------------------------------------- endpoints
    async def create_response(request: Request) -> Response:
        try:
            authenticate(request)
            raw = await request.body()
            try:
                body = json.loads(raw, parse_constant=_reject_constant)
            except (ValueError, RecursionError):
                raise errors.invalid_json() from None
            req = parse_request(body)
            run = start_run(req)
        except ApiError as exc:
            return error_response(exc)
        if not req.stream:
            final = final_response(run)
            remember(run, final)
            return json_response(final)
        media_type = (
            "application/json" if "content_type_json_on_stream" in faults else "text/event-stream"
        )
        return StreamingResponse(
            stream_events(run),
            media_type=media_type,
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "x-request-id": _request_id(),
            },
        )

    async def response_by_id(request: Request) -> Response:
        response_id = request.path_params["response_id"]
        try:
            authenticate(request)
            if request.method == "DELETE":
                if not store.delete(response_id):
                    raise errors.response_not_found(response_id)
                return json_response({"id": response_id, "object": "response", "deleted": True})
            entry = store.get(response_id)
            if entry is None:
                raise errors.response_not_found(response_id)
        except ApiError as exc:
            return error_response(exc)
        return json_response(entry[0])

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

    app = Starlette(
        routes=[
            Route("/v1/responses", create_response, methods=["POST"]),
            Route("/v1/responses/{response_id}", response_by_id, methods=["GET", "DELETE"]),
        ],
        exception_handlers={HTTPException: http_exception, Exception: server_error},
    )
    app.router.redirect_slashes = False
    app.state.store = store
    app.state.faults = faults
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
