"""WebSocket mode of /v1/responses: `ws.py` speaks the protocol; this module wires it to the
server's key, its acceptance of requests (that of a streamed POST) and its event schedule."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from starlette.websockets import WebSocket

from .. import ws
from ..context import ServerContext
from ..errors import ApiError
from ..journal import refusal
from ..records import Record
from ..streams import ws_payloads
from ..wire import authenticate, error_response
from .create import accept, keep


def _accept(ctx: ServerContext, body: dict[str, Any], cached: Record | None,
            forget: bool) -> Record:
    """A `response.create` over a WebSocket: validated and computed like a streamed POST
    (its own `stream` flag aside), stored when `store` is true."""
    try:
        # The streaming feature is the HTTP stream: a server without it still speaks WebSocket.
        run = accept(ctx, {**body, "stream": True}, ctx.body_disabled - {"streaming"},
                     cached, forget)
    except ApiError as exc:
        raise refusal(ctx, "/v1/responses", body, exc, stream=True) from None
    return keep(ctx, body, run, int(time.time()), time.monotonic())


async def responses_websocket(ctx: ServerContext, websocket: WebSocket) -> None:
    hooks = ws.WsHooks(authenticate=partial(authenticate, ctx), denial=partial(error_response, ctx),
                       accept=partial(_accept, ctx), payloads=ws_payloads, faults=ctx.faults)
    await ws.serve(websocket, hooks)


async def no_websocket(ctx: ServerContext, websocket: WebSocket) -> None:
    """A server without WebSocket mode: the upgrade is a GET, which /v1/responses does not
    take (405)."""
    await websocket.send_denial_response(error_response(ctx, ApiError(
        405, "Invalid method for URL (GET /v1/responses)")))
