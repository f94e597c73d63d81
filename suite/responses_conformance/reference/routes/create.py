"""POST /v1/responses: a response created, answered whole (JSON) or as a stream (SSE).

Every accepted response is computed at once and kept (when `store` is true) with its whole
event schedule, so the state routes can show it as it stands; `background: true` responses
answer `queued` and move on over `background_step` seconds per state.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..context import ServerContext
from ..errors import ApiError
from ..events import schedule
from ..journal import refusal, response_entry
from ..records import Record
from ..response_objects import final_response
from ..run import Run, parse_body, replies_of, start_run
from ..streams import sse_events
from ..wire import (
    authenticate,
    decode,
    error_response,
    json_response,
    read_body,
    sse_response,
)


def accept(ctx: ServerContext, body: Any, features_off: frozenset[str],
           cached: Record | None = None, forget: bool = False) -> Run:
    """The run of a request body, or the ApiError refusing it (`start_run` explains `cached`
    and `forget`)."""
    req = parse_body(ctx, body, features_off)
    if "state" in ctx.disabled:
        req.store = False  # nothing is kept: say so
    return start_run(ctx, req, cached, forget)


def keep(ctx: ServerContext, body: Any, run: Run, completed_at: int, start: float) -> Record:
    """The record of an accepted run, its events timed from `start` (time.monotonic()):
    stored when the request says `store`, and journaled."""
    final = final_response(ctx, run, completed_at)
    record = Record(
        id=run.response_id,
        background=run.background,
        schedule=schedule(ctx, run, final, start, live=run.request.stream),
        final=final,
        conversation=list(run.conversation),
        replies=replies_of(ctx, run),
        input_items=run.input_items,
    )
    if run.request.store:
        ctx.store.put(record)
    ctx.log(response_entry(body, run, final))
    return record


async def create_response(ctx: ServerContext, request: Request) -> Response:
    logged: Any = None
    try:
        logged, raw = await read_body(request)
        authenticate(ctx, request)
        body = decode(raw)
        run = accept(ctx, body, ctx.body_disabled)
        req = run.request
        if "fuzz_truncation_auto_fails" in ctx.faults and req.stream and req.truncation == "auto":
            run.completion = dataclasses.replace(run.completion, failed=True)
    except ApiError as exc:
        return error_response(ctx, refusal(ctx, "/v1/responses", logged, exc))
    now = time.monotonic()
    duration = 2 * ctx.background_step if req.background else 0.0
    record = keep(ctx, body, run, int(time.time() + duration), now)
    if req.stream:
        return sse_response(ctx, sse_events(ctx, record, None, req.include_obfuscation))
    return json_response(record.response_at(now) if req.background else record.final)
