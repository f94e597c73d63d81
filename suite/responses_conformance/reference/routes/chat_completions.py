"""POST /v1/chat/completions: the upstream mode, the same model answering in Chat Completions
shapes (`chat.py`), so a proxy that bridges Responses to Chat Completions can sit in front
of the reference server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import chat, errors
from ..context import ServerContext
from ..errors import ApiError
from ..journal import refusal
from ..model import call_id_for, generate, model_input_digest
from ..wire import (
    STREAM_HEADERS,
    authenticate,
    decode,
    dumps,
    error_response,
    json_response,
    read_body,
    request_id,
)


async def chat_completions(ctx: ServerContext, request: Request) -> Response:
    logged: Any = None
    try:
        logged, raw = await read_body(request)
        authenticate(ctx, request)
        req = chat.parse_chat_request(decode(raw), ctx.body_disabled)
        completion = generate(req.model, None, req.messages, req.max_tokens, req.options)
        if completion.failed:
            raise ApiError(500, errors.SERVER_ERROR_MESSAGE, type="server_error",
                           code="server_error")
    except ApiError as exc:
        return error_response(ctx, refusal(ctx, "/v1/chat/completions", logged, exc))
    digest = model_input_digest(req.model, None, req.messages)
    call_ids = [call_id_for(digest, i, call.name) for i, call in enumerate(completion.calls)]
    chat_id, created = chat.completion_id(), int(time.time())
    ctx.log(chat.journal_entry("/v1/chat/completions", logged, 200, stream=req.stream,
                               completion=completion, call_ids=call_ids,
                               usage=chat.chat_usage(completion), completion_id=chat_id))
    if not req.stream:
        return json_response(chat.chat_completion(req, completion, call_ids, chat_id, created))
    chunks = list(chat.chat_chunks(req, completion, call_ids, chat_id, created))

    async def send() -> AsyncIterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index:
                await asyncio.sleep(ctx.event_delay)
            if req.include_obfuscation and chunk["choices"]:
                chunk = {**chunk, "obfuscation": chat.obfuscation(chat_id, index)}
            yield b"data: " + dumps(chunk) + b"\n\n"
        await asyncio.sleep(ctx.event_delay)
        yield b"data: [DONE]\n\n"

    # Not `sse_response`: the stream faults belong to /v1/responses, and this stream always
    # goes out as text/event-stream.
    return StreamingResponse(send(), media_type="text/event-stream",
                             headers={**STREAM_HEADERS, "x-request-id": request_id()})
