"""GET /v1/responses/{id}: a stored response as it stands (or, with `?stream=true`, its
events replayed after `starting_after`), and GET /v1/responses/{id}/input_items: its input
items, earlier turns included, a page at a time."""

from __future__ import annotations

import copy
import time

from starlette.requests import Request
from starlette.responses import Response

from .. import errors
from ..context import ServerContext
from ..errors import ApiError
from ..records import Record, page, without_image_urls
from ..streams import sse_events
from ..validation import INPUT_IMAGE_URL, not_offered
from ..wire import (
    authenticate,
    error_response,
    json_response,
    query_bool,
    query_include,
    query_int,
    sse_response,
)


def lookup(ctx: ServerContext, response_id: str) -> Record:
    """The stored response, else 404."""
    record = ctx.store.get(response_id)
    if record is None:
        raise errors.response_not_found(response_id)
    return record


async def retrieve_response(ctx: ServerContext, request: Request) -> Response:
    response_id = request.path_params["response_id"]
    try:
        authenticate(ctx, request)
        query_include(ctx, request)
        starting_after = query_int(request, "starting_after", 0, None)
        stream = query_bool(request, "stream")
        obfuscate = query_bool(request, "include_obfuscation")
        if "resume" in ctx.disabled:
            if starting_after is not None:
                raise not_offered("starting_after")
            if stream:
                raise not_offered("stream")
        if stream and "streaming" in ctx.disabled:
            raise not_offered("stream")
        record = lookup(ctx, response_id)
        if stream:
            after = None if "resume_from_zero" in ctx.faults else starting_after
            last = record.last_seq()
            if after is not None and last is not None and after >= last:
                raise ApiError(
                    400, f"Invalid 'starting_after': {after} is not before the last event "
                    f"of this response (sequence_number {last}).",
                    param="starting_after", code="invalid_value",
                )
            return sse_response(ctx, sse_events(ctx, record, after, obfuscate is not False))
        body = record.response_at(time.monotonic())
    except ApiError as exc:
        return error_response(ctx, exc)
    if "retrieve_differs" in ctx.faults:
        for item in body.get("output", []):
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    part["text"] += " [retrieved]"
    return json_response(body)


async def list_input_items(ctx: ServerContext, request: Request) -> Response:
    response_id = request.path_params["response_id"]
    try:
        authenticate(ctx, request)
        include = query_include(ctx, request)
        limit = query_int(request, "limit", 1, 100)
        order = request.query_params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise errors.invalid_value("order", order, ["asc", "desc"])
        record = lookup(ctx, response_id)
        items = copy.deepcopy(record.input_items)
        if INPUT_IMAGE_URL not in include:
            items = [without_image_urls(item) for item in items]
        body = page(items, limit=20 if limit is None else limit, order=order,
                    after=request.query_params.get("after"))
    except ApiError as exc:
        return error_response(ctx, exc)
    return json_response(body)
