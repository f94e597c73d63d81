"""DELETE /v1/responses/{id}: a stored response forgotten."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..context import ServerContext
from ..errors import ApiError
from ..wire import authenticate, error_response, json_response
from .retrieve import lookup


async def delete_response(ctx: ServerContext, request: Request) -> Response:
    response_id = request.path_params["response_id"]
    try:
        authenticate(ctx, request)
        lookup(ctx, response_id)  # an unknown id is 404, as GET answers it
    except ApiError as exc:
        return error_response(ctx, exc)
    if "delete_keeps" not in ctx.faults:
        ctx.store.delete(response_id)
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})
