"""POST /v1/responses/{id}/cancel: a background response stopped where it stands."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ..context import ServerContext
from ..errors import ApiError
from ..wire import authenticate, error_response, json_response
from .retrieve import lookup


async def cancel_response(ctx: ServerContext, request: Request) -> Response:
    response_id = request.path_params["response_id"]
    try:
        authenticate(ctx, request)
        record = lookup(ctx, response_id)
        if not record.background:
            raise ApiError(400, "Only responses created with 'background: true' can be "
                           "cancelled; this one was answered synchronously.")
        now = time.monotonic()
        if record.cancelled is None and record.finished(now):
            raise ApiError(400, f"Cannot cancel a {record.status_at(now)} response.")
        return json_response(record.cancel(now))
    except ApiError as exc:
        return error_response(ctx, exc)
