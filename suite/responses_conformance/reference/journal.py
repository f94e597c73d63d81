"""The journal entries of `/v1/responses` (`/_reference/journal` lists them): each request
as it came, and what the model produced for it or why it was refused. Chat Completions
entries are made by `chat.journal_entry`, which these build on."""

from __future__ import annotations

import copy
from typing import Any

from . import chat
from .context import ServerContext
from .errors import ApiError
from .model import CallOutput
from .run import Run
from .wire import server_fault


def response_entry(body: Any, run: Run, final: dict[str, Any]) -> dict[str, Any]:
    """An accepted response: its model output, call ids and usage."""
    calls = [out.final_call_id or "" for out in run.items if isinstance(out.plan, CallOutput)]
    return chat.journal_entry(
        "/v1/responses", body, 200, stream=run.request.stream, completion=run.completion,
        call_ids=calls, usage=copy.deepcopy(final.get("usage")), response_id=run.response_id,
        background=run.background,
    )


def error_entry(path: str, body: Any, exc: ApiError, stream: Any = None) -> dict[str, Any]:
    """A refused request; `stream` (the body's own flag when not given) says whether it asked
    for a stream."""
    if stream is None:
        stream = body.get("stream") if isinstance(body, dict) else None
    return chat.journal_entry(path, body, exc.status, stream=stream is True,
                              error=exc.envelope()["error"])


def refusal(ctx: ServerContext, path: str, body: Any, exc: ApiError,
            stream: Any = None) -> ApiError:
    """A request body refused: the error as the faults make it, journaled."""
    exc = server_fault(ctx, exc)
    ctx.log(error_entry(path, body, exc, stream))
    return exc
