"""The reference Responses API server as a Starlette application.

Shapes (field order included) follow real OpenAI traffic of January 2026: the same Response
object fields, `event:` line equal to `data.type`, `sequence_number` from 0 by 1,
`logprobs: []` on text events, `usage: null` before the terminal event, `obfuscation`
padding on deltas (unless `stream_options.include_obfuscation` is false) and no `[DONE]`.

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
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import errors
from .errors import ApiError
from .model import Completion, Message, generate
from .validation import ResponseRequest, parse_request

DEFAULT_API_KEY = "sk-reference-local"

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
}
FAULTS = frozenset(FAULT_DESCRIPTIONS)

_OBFUSCATION_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_ids() -> tuple[str, str]:
    """A fresh (response id, message id) pair shaped like OpenAI's.

    OpenAI ids are a prefix and 50 hex digits; the response and its message share the first
    18 digits, then an 8-digit hex timestamp, then random digits.
    """
    shared = secrets.token_hex(9)
    stamp = f"{int(time.time()) & 0xFFFFFFFF:08x}"
    return (
        f"resp_{shared}{stamp}{secrets.token_hex(12)}",
        f"msg_{shared}{stamp}{secrets.token_hex(12)}",
    )


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
class _Run:
    """One request being answered: its parameters, ids, and the model's completion."""

    request: ResponseRequest
    response_id: str
    message_id: str
    created_at: int
    completion: Completion
    conversation: list[Message]


def create_app(
    *,
    api_key: str | None = DEFAULT_API_KEY,
    faults: Iterable[str] = frozenset(),
    store_limit: int = 1000,
    event_delay: float = 0.0,
) -> Starlette:
    """Build the reference server.

    api_key: the only accepted bearer token; None disables authentication.
    faults: names from `FAULTS`; unknown names raise ValueError.
    store_limit: how many stored responses the in-memory LRU keeps.
    event_delay: seconds to wait between stream events (0 = just yield to the event loop);
        lets a test make the stream's incremental delivery measurable.
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
    ) -> dict[str, Any]:
        req = run.request
        tier = req.service_tier
        if final and tier == "auto":
            tier = "default"  # OpenAI reports the tier it actually used once done
        created_at: int | float = run.created_at
        if "created_at_float" in faults:
            created_at = float(created_at)
        return {
            "id": run.response_id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "background": False,
            "completed_at": completed_at,
            "error": None,
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

    def usage_object(completion: Completion) -> dict[str, Any]:
        total = completion.input_tokens + completion.output_tokens
        if "usage_total_wrong" in faults:
            total += 1
        return {
            "input_tokens": completion.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": total,
        }

    def final_text(completion: Completion) -> str:
        if "text_mismatch" in faults and completion.deltas:
            return "".join(completion.deltas[1:])
        return completion.text

    def text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def message_item(run: _Run, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": run.message_id,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    def final_response(run: _Run) -> dict[str, Any]:
        completion = run.completion
        status = "incomplete" if completion.truncated else "completed"
        item = message_item(run, status, [text_part(final_text(completion))])
        return response_object(
            run,
            status=status,
            output=[item],
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
        completion = generate(req.model, req.instructions, conversation, req.max_output_tokens)
        response_id, message_id = new_ids()
        return _Run(req, response_id, message_id, int(time.time()), completion, conversation)

    def remember(run: _Run, response: dict[str, Any]) -> None:
        if run.request.store:
            reply = Message("assistant", run.completion.text)
            store.put(response, [*run.conversation, reply])

    # ----------------------------------------------------------------- streaming
    def obfuscation(run: _Run, seq: int, delta: str) -> str:
        seed = hashlib.sha256(f"{run.response_id}:{seq}".encode()).digest()
        length = 16 - len(delta) % 16
        return "".join(_OBFUSCATION_ALPHABET[b % 62] for b in seed[:length])

    async def stream_events(run: _Run) -> AsyncIterator[bytes]:
        seq = 0
        item_id = run.message_id

        def emit(payload: dict[str, Any], event_name: str | None = None) -> bytes:
            nonlocal seq
            payload = {"type": payload.pop("type"), "sequence_number": seq, **payload}
            seq += 1
            name = event_name or payload["type"]
            return f"event: {name}\ndata: ".encode() + _dumps(payload) + b"\n\n"

        async def pause() -> None:
            await asyncio.sleep(event_delay)

        completion = run.completion
        start = response_object(run, status="in_progress", output=[], usage=None)
        yield emit({"type": "response.created", "response": start})
        await pause()
        yield emit({"type": "response.in_progress", "response": copy.deepcopy(start)})
        await pause()
        yield emit({
            "type": "response.output_item.added",
            "output_index": 0,
            "item": message_item(run, "in_progress", []),
        })
        await pause()
        yield emit({
            "type": "response.content_part.added",
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": text_part(""),
        })
        for index, delta in enumerate(completion.deltas):
            await pause()
            payload: dict[str, Any] = {
                "type": "response.output_text.delta",
                "item_id": new_ids()[1] if "item_id_rotates" in faults else item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": delta,
                "logprobs": [],
            }
            if run.request.include_obfuscation:
                payload["obfuscation"] = obfuscation(run, seq, delta)
            name = (
                "response.output_text.delta.x" if "event_name_mismatch" in faults else None
            )
            yield emit(payload, name)
            if index == 0 and "sequence_gap" in faults:
                seq += 1
            if index == 0 and "sequence_repeat" in faults:
                seq -= 1
        text = final_text(completion)
        if "no_output_text_done" not in faults:
            await pause()
            yield emit({
                "type": "response.output_text.done",
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            })
        await pause()
        yield emit({
            "type": "response.content_part.done",
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "part": text_part(text),
        })
        final = final_response(run)
        await pause()
        yield emit({
            "type": "response.output_item.done",
            "output_index": 0,
            "item": copy.deepcopy(final["output"][0]),
        })
        remember(run, final)  # retrievable as soon as the terminal event is out
        terminal = copy.deepcopy(final)
        if "final_output_empty" in faults:
            terminal["output"] = []
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        await pause()
        yield emit({"type": kind, "response": terminal})

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
    return app


def _request_id() -> str:
    return f"req_{secrets.token_hex(16)}"
