"""How the reference server reads requests and writes answers: JSON bodies, query parameters,
the bearer key, error envelopes, JSON and SSE responses, and the answers to routing errors.

Every answer carries an `x-request-id` like OpenAI's. JSON bodies are indented (as OpenAI's
are), stream events compact. The faults that change how any answer is written (not what it
says) are applied here: `error_status_200`, `error_envelope_flat`,
`content_type_json_on_stream`, and `unknown_param_500` / `fuzz_temperature_500`, which turn a
refusal into a server error.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse

from . import errors
from .context import ServerContext
from .errors import ApiError
from .validation import check_include, not_offered

#: Headers of every stream: no caching, no proxy buffering (each event is sent as it comes).
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def dumps(obj: Any, *, indent: int | None = None) -> bytes:
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(obj, ensure_ascii=False, separators=separators, indent=indent).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode(raw: bytes) -> Any:
    """The JSON body (NaN and Infinity refused, as OpenAI does), else 400 invalid_json."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise errors.invalid_json() from None


async def read_body(request: Request) -> tuple[Any, bytes]:
    """The body as the journal shows it (JSON, else the text) and its raw bytes."""
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_reject_constant), raw
    except (ValueError, RecursionError):
        return raw.decode("utf-8", errors="replace"), raw


def query_bool(request: Request, name: str) -> bool | None:
    """A boolean query parameter (true/1, false/0), None when absent, else 400."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise errors.invalid_type(name, "a boolean", value)


def query_int(request: Request, name: str, low: int, high: int | None) -> int | None:
    """An integer query parameter in low..high, None when absent, else 400."""
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.invalid_type(name, "an integer", value) from None
    if number < low or (high is not None and number > high):
        raise errors.out_of_range(name, number, minimum=low, maximum=high)
    return number


def query_include(ctx: ServerContext, request: Request) -> list[str]:
    """The `include` (or `include[]`) query values, checked as a body's `include` is."""
    values = [*request.query_params.getlist("include"),
              *request.query_params.getlist("include[]")]
    if values and "include" in ctx.disabled:
        raise not_offered("include")
    return check_include(values)


def request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


def authenticate(ctx: ServerContext, connection: HTTPConnection) -> None:
    """Raise 401 unless the request (or WebSocket upgrade) carries the server's bearer key."""
    if ctx.api_key is None:
        return
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.missing_api_key()
    if not secrets.compare_digest(token.encode(), ctx.api_key.encode()):
        raise errors.incorrect_api_key(token)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(
        dumps(obj, indent=2), status_code=status, media_type="application/json",
        headers={"x-request-id": request_id()},
    )


def error_response(ctx: ServerContext, exc: ApiError) -> Response:
    status = exc.status
    if status == 401 and "error_status_200" in ctx.faults:
        status = 200
    body: Any = exc.envelope()
    if "error_envelope_flat" in ctx.faults:
        body = {"detail": exc.message}
    headers = {"x-request-id": request_id(), **exc.headers}
    return Response(
        dumps(body, indent=2), status_code=status, headers=headers,
        media_type="application/json",
    )


def sse_response(ctx: ServerContext, body: AsyncIterator[bytes]) -> Response:
    media_type = (
        "application/json" if "content_type_json_on_stream" in ctx.faults else "text/event-stream"
    )
    return StreamingResponse(body, media_type=media_type,
                             headers={**STREAM_HEADERS, "x-request-id": request_id()})


def server_fault(ctx: ServerContext, exc: ApiError) -> ApiError:
    """The refusal of a request body as the faults answer it: unknown_param_500 makes an
    unknown top-level parameter a 500, fuzz_temperature_500 a temperature out of range."""
    unknown_param = (exc.code == "unknown_parameter" and exc.param and "." not in exc.param) \
        or exc.message.startswith("Unrecognized request argument")
    if "unknown_param_500" in ctx.faults and unknown_param:
        return ApiError(500, "The server had an error while processing your request.",
                        type="server_error")
    if "fuzz_temperature_500" in ctx.faults and exc.param == "temperature" \
            and "_value" in (exc.code or ""):  # out of range: *_above_max_value, *_below_min_value
        return ApiError(500, errors.SERVER_ERROR_MESSAGE, type="server_error")
    return exc


async def http_exception(ctx: ServerContext, request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 in OpenAI's words and error envelope."""
    assert isinstance(exc, HTTPException)
    where = f"({request.method} {request.url.path})"
    if exc.status_code == 405:
        message = f"Invalid method for URL {where}"
    elif exc.status_code == 404:
        message = f"Invalid URL {where}"
    else:
        message = str(exc.detail)
    return error_response(ctx, ApiError(exc.status_code, message, headers=dict(exc.headers or {})))


async def server_error(ctx: ServerContext, request: Request, exc: Exception) -> Response:
    """An unexpected exception: OpenAI's 500, not a traceback."""
    return error_response(
        ctx, ApiError(500, "The server had an error while processing your request.",
                      type="server_error")
    )
