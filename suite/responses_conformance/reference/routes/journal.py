"""GET /_reference/journal: every request answered (`journal.py` says what an entry holds),
oldest first; DELETE empties it. Tests read it to see what a proxy in front sent upstream."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..context import ServerContext
from ..wire import json_response


async def journal(ctx: ServerContext, request: Request) -> Response:
    with ctx.journal_lock:  # read and clear at once: no entry is lost in between
        entries = list(ctx.journal)
        if request.method == "DELETE":
            ctx.journal.clear()
    if request.method == "DELETE":
        return json_response({"object": "journal.cleared", "cleared": len(entries)})
    return json_response(entries)
