"""POST /v1/responses/compact: a conversation (its input, after a stored response's turns)
folded into one `compaction` item; `compact.py` says what the answer holds."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import errors
from ..compact import compaction, validate
from ..context import ServerContext
from ..errors import ApiError
from ..model import Message
from ..wire import authenticate, decode, error_response, json_response


async def compact_conversation(ctx: ServerContext, request: Request) -> Response:
    try:
        authenticate(ctx, request)
        body = decode(await request.body())
        validate(body)
        history: list[Message] = []
        previous_id = body.get("previous_response_id")
        if previous_id is not None:
            record = ctx.store.get(previous_id)
            if record is None:
                raise errors.previous_response_not_found(previous_id)
            history = record.history()[0]
        answer = compaction(body, history)
    except ApiError as exc:
        return error_response(ctx, exc)
    return json_response(answer)
