"""GET /v1/models and GET /v1/models/{model}: the reference models, for clients and proxies
that look a model up before using it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import chat
from ..context import ServerContext
from ..errors import ApiError
from ..wire import authenticate, error_response, json_response


async def list_models(ctx: ServerContext, request: Request) -> Response:
    try:
        authenticate(ctx, request)
    except ApiError as exc:
        return error_response(ctx, exc)
    return json_response(chat.models_list())


async def get_model(ctx: ServerContext, request: Request) -> Response:
    name = request.path_params["model"]
    try:
        authenticate(ctx, request)
        if name not in {m["id"] for m in chat.models_list()["data"]}:
            raise chat.model_not_found(name)
    except ApiError as exc:
        return error_response(ctx, exc)
    return json_response(chat.model_object(name))
