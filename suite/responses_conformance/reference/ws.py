"""WebSocket mode of the reference server: `/v1/responses` as a WebSocket route.

The client sends `{"type": "response.create", ...}` text frames: the body of `POST
/v1/responses` plus `type`, without `stream`, `stream_options` or `background` (Open Responses
says they MUST NOT be sent; OpenAI: `background` is not supported over WebSocket). Each is
answered with the same events a stream of that request carries (same schedule, same
`sequence_number`s from 0, same obfuscation), one text frame per event, no `[DONE]`; or with
an error frame:

    {"type": "error", "status": 400,
     "error": {"type": "invalid_request_error", "code": "...", "message": "...", "param": ...}}

* The key is checked on the upgrade: a missing or wrong one is refused with HTTP 401 and the
  error envelope (a denial response), as `POST` would answer it.
* One response at a time: a `response.create` while one is in flight is answered at once with
  an error frame, status 400, code `response_already_in_flight` (the specs name no code for
  it; Open Responses allows one in-flight response per connection, and OpenAI's spec says
  requests on a connection are processed in order). The response in flight goes on.
* A frame that is not JSON (400 `invalid_json`), not an object (400 `invalid_type`), binary
  (400 `invalid_message`), of another `type` (400 `invalid_value`, param `type`) or a request
  `POST` would refuse (the same error, as a frame) gets an error frame; the connection stays
  open.
* `input` may carry the `compaction` items `POST /v1/responses/compact` returned, read as over
  HTTP (`compact.py`): a compacted window starts a new chain on a connection, fresh or not.
* The connection keeps its most recent response (stored or not): `previous_response_id` may
  name it with `store: false` on this connection, and only on it (after a reconnect: 400
  `previous_response_not_found`). A continuation that fails forgets it (OpenAI evicts the
  connection's cache on a failed request), and so does a response that ends `failed`.

Faults (`create_app(faults=...)`): `ws_sequence_reuse` numbers a connection's second and later
responses on from the previous one instead of from 0; `ws_context_lost` accepts
`previous_response_id` but forgets the earlier turns; `ws_error_without_status` leaves
`status` out of error frames; `ws_close_mid_response` closes the connection (1011) halfway
through the first response.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import errors
from .errors import ApiError
from .records import Record

class _DenialIsNoError(logging.Filter):
    """uvicorn logs a refused upgrade (an HTTP denial response, e.g. our 401) as "ASGI callable
    returned without completing handshake.", an error; for this app it is the intended answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


logging.getLogger("uvicorn.error").addFilter(_DenialIsNoError())

#: Codes for error frames whose HTTP error has none (Open Responses requires a code).
_DEFAULT_CODES = {400: "invalid_request", 401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded"}
#: Fields of a `response.create` that belong to HTTP streaming only.
HTTP_ONLY_FIELDS = ("stream", "stream_options", "background")
IN_FLIGHT_CODE = "response_already_in_flight"


@dataclass(frozen=True)
class WsHooks:
    """What the WebSocket route needs from the app (`routes/websocket.py` builds it)."""

    authenticate: Callable[[Any], None]  # raises ApiError for a missing or wrong key
    denial: Callable[[ApiError], Response]  # the HTTP answer to a refused upgrade
    # (body without `type`, the connection's last response, forget earlier turns) -> the new record
    accept: Callable[[dict[str, Any], Record | None, bool], Record]
    payloads: Callable[[Record], AsyncIterator[dict[str, Any]]]  # the record's events, each when due
    faults: frozenset[str]


def error_frame(exc: ApiError, *, with_status: bool = True, code: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error"}
    if with_status:
        frame["status"] = exc.status
    frame["error"] = {"type": exc.type, "code": code or exc.code or _DEFAULT_CODES.get(exc.status, "server_error"),
                      "message": exc.message, "param": exc.param}
    return frame


class _Connection:
    """One client connection: its last response, the response in flight, the send lock."""

    def __init__(self, websocket: WebSocket, hooks: WsHooks) -> None:
        self.websocket = websocket
        self.hooks = hooks
        self.cache: Record | None = None
        self.in_flight: asyncio.Task[None] | None = None
        self.busy = False  # a response is in flight (cleared as its terminal event goes out)
        self.lock = asyncio.Lock()  # every frame goes out under it: responses never interleave
        self.responses = 0
        self.next_seq = 0  # ws_sequence_reuse: where the next response's numbering starts

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            await self.websocket.send_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))

    async def error(self, exc: ApiError, code: str | None = None) -> None:
        with_status = "ws_error_without_status" not in self.hooks.faults
        await self.send(error_frame(exc, with_status=with_status, code=code))

    async def handle(self, message: Mapping[str, Any]) -> None:
        text = message.get("text")
        if text is None:  # a binary frame
            await self.error(ApiError(400, "Binary frames are not supported: send each client event as a JSON "
                                           "text frame.", code="invalid_message"))
            return
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):
            await self.error(errors.invalid_json(), code="invalid_json")
            return
        if not isinstance(event, dict):
            await self.error(errors.not_an_object(errors.type_name(event)))
            return
        if "type" not in event:
            await self.error(errors.missing_parameter("type"))
            return
        if event["type"] != "response.create":
            await self.error(errors.invalid_value("type", event["type"], ["response.create"]))
            return
        if self.busy:
            await self.error(ApiError(
                400, "A response is already in progress on this connection. Wait for its terminal event before "
                     "sending another response.create, or open another connection.", code=IN_FLIGHT_CODE))
            return
        body = {k: v for k, v in event.items() if k != "type"}
        continuing = body.get("previous_response_id") is not None
        try:
            for name in HTTP_ONLY_FIELDS:
                if name in body:
                    raise errors.unsupported_parameter(name, "is not supported in WebSocket mode.")
            record = self.hooks.accept(body, self.cache, "ws_context_lost" in self.hooks.faults)
        except ApiError as exc:
            if continuing:
                self.cache = None  # a failed continuation forgets the connection's last response
            await self.error(exc)
            return
        failed = record.final.get("status") == "failed"
        self.cache = None if failed else record
        self.busy = True
        self.in_flight = asyncio.create_task(self.stream(record))

    async def stream(self, record: Record) -> None:
        faults = self.hooks.faults
        first = self.responses == 0
        self.responses += 1
        offset = self.next_seq if "ws_sequence_reuse" in faults else 0
        half = len(record.schedule) // 2
        sent = 0
        try:
            async for payload in self.hooks.payloads(record):
                if first and sent == half and "ws_close_mid_response" in faults:
                    self.busy = False
                    await self.websocket.close(code=1011, reason="reference fault: closed mid-response")
                    return
                payload = {**payload, "sequence_number": payload["sequence_number"] + offset}
                last = sent == len(record.schedule) - 1
                async with self.lock:
                    if last:
                        self.busy = False  # the next response.create may come once this is out
                        self.next_seq = payload["sequence_number"] + 1
                    await self.websocket.send_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
                sent += 1
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client went away
        finally:
            if self.in_flight is asyncio.current_task():  # not a newer response's flag
                self.busy = False


async def serve(websocket: WebSocket, hooks: WsHooks) -> None:
    """The WebSocket route of `/v1/responses`."""
    try:
        hooks.authenticate(websocket)
    except ApiError as exc:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(hooks.denial(exc))
        else:  # a server without denial responses: accept, say why, close (policy violation)
            await websocket.accept()
            await websocket.send_text(json.dumps(error_frame(exc)))
            await websocket.close(code=1008, reason="invalid API key")
        return
    await websocket.accept()
    connection = _Connection(websocket, hooks)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            await connection.handle(message)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        task = connection.in_flight
        if task is not None and not task.done():
            task.cancel()
