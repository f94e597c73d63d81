"""The reference Responses API server as a Starlette application: `create_app` checks its
options into a `ServerContext` and puts the routes (`routes/`) together.

Where the rest lives:

* `context.py`: the options (flavours, defaults, endpoint switches) and the state every route
  shares (stored responses, journal);
* `faults.py`: the fault tables, every deliberate breakage by name;
* `run.py`, `response_objects.py`, `events.py`, `streams.py`: a request answered - the run
  the model's completion makes, its Response objects and items, its events, their sending;
* `wire.py`: bodies, keys, error envelopes, JSON and SSE answers;
* `journal.py`: what `/_reference/journal` records;
* `records.py`: what is remembered of a response (its schedule, GET as it stands);
* `model.py`: what the model says; `validation.py`: what a request may ask;
* `chat.py`, `compact.py`, `ws.py`: Chat Completions shapes, the compaction and the
  WebSocket protocol, each served by its route; `compaction_codec.py`: the sealed
  `encrypted_content` of a compaction item.

`faults` switch on named, deliberate protocol breakages so the suite's checks can be shown
to fire against a live server; each alters only what its description in `FAULTS` (or
`WS_FAULTS`, `COMPACT_FAULTS`, `FUZZ_FAULTS`) says. `disabled` switches features off
(`validation.FEATURES`): requests that use them get a clean 4xx, as from a server that
honestly does not offer them; `websocket` and `compact` (`ENDPOINT_FEATURES`) take those
endpoints away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .context import (
    DEFAULT_API_KEY,
    DEFAULT_BACKGROUND_STEP,
    DEFAULT_FLAVOUR,
    ENDPOINT_FEATURES,
    FLAVOURS,
    JOURNAL_LIMIT,
    ServerContext,
)
from .faults import (
    ALL_FAULTS,
    COMPACT_FAULT_DESCRIPTIONS,
    COMPACT_FAULTS,
    FAULT_DESCRIPTIONS,
    FAULTS,
    FUZZ_FAULT_DESCRIPTIONS,
    FUZZ_FAULTS,
    WS_FAULT_DESCRIPTIONS,
    WS_FAULTS,
)
from .routes import cancel, chat_completions, compact, create, delete, journal, models, retrieve, websocket
from .run import check_tool_outputs
from .validation import FEATURES
from .wire import http_exception, server_error

# The names this module held before the routes moved out of it stay importable from here
# (tests import the fault sets from `reference.app`).
__all__ = [
    "ALL_FAULTS",
    "COMPACT_FAULTS",
    "COMPACT_FAULT_DESCRIPTIONS",
    "DEFAULT_API_KEY",
    "DEFAULT_BACKGROUND_STEP",
    "DEFAULT_FLAVOUR",
    "ENDPOINT_FEATURES",
    "FAULTS",
    "FAULT_DESCRIPTIONS",
    "FEATURES",
    "FLAVOURS",
    "FUZZ_FAULTS",
    "FUZZ_FAULT_DESCRIPTIONS",
    "JOURNAL_LIMIT",
    "WS_FAULTS",
    "WS_FAULT_DESCRIPTIONS",
    "check_tool_outputs",
    "create_app",
]


class _RequestDelay:
    """ASGI middleware: sleep `delay` seconds (without blocking other requests) before every
    request is answered, `/_reference/*` excepted."""

    def __init__(self, app: ASGIApp, delay: float) -> None:
        self.app = app
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("path", "").startswith("/_reference/"):
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


async def _response_by_id(ctx: ServerContext, request: Request) -> Response:
    """GET and DELETE /v1/responses/{id} share one route, so that a 405 there names both
    methods in `Allow`; HEAD (which Starlette adds to GET routes) is answered as GET."""
    if request.method == "DELETE":
        return await delete.delete_response(ctx, request)
    return await retrieve.retrieve_response(ctx, request)


def _routes(ctx: ServerContext) -> list[BaseRoute]:
    """Every route of the server, each handler bound to the context."""
    routes: list[BaseRoute] = [
        Route("/v1/responses", partial(create.create_response, ctx), methods=["POST"]),
        Route("/v1/chat/completions", partial(chat_completions.chat_completions, ctx),
              methods=["POST"]),
        Route("/v1/models", partial(models.list_models, ctx), methods=["GET"]),
        Route("/v1/models/{model}", partial(models.get_model, ctx), methods=["GET"]),
        Route("/_reference/journal", partial(journal.journal, ctx), methods=["GET", "DELETE"]),
    ]
    if "websocket" not in ctx.disabled:
        routes.append(WebSocketRoute("/v1/responses", partial(websocket.responses_websocket, ctx)))
    else:  # a server without it: the upgrade is a GET, which /v1/responses does not take (405)
        routes.append(WebSocketRoute("/v1/responses", partial(websocket.no_websocket, ctx)))
    if "compact" not in ctx.disabled:  # before /v1/responses/{response_id}, which would take the path
        routes.append(Route("/v1/responses/compact", partial(compact.compact_conversation, ctx),
                            methods=["POST"]))
    if "state" not in ctx.disabled:  # a server without state has none of these routes
        routes += [
            Route("/v1/responses/{response_id}", partial(_response_by_id, ctx),
                  methods=["GET", "DELETE"]),
            Route("/v1/responses/{response_id}/input_items",
                  partial(retrieve.list_input_items, ctx), methods=["GET"]),
        ]
        if "background" not in ctx.disabled:
            routes.append(Route("/v1/responses/{response_id}/cancel",
                                partial(cancel.cancel_response, ctx), methods=["POST"]))
    return routes


def create_app(
    *,
    api_key: str | None = DEFAULT_API_KEY,
    faults: Iterable[str] = frozenset(),
    store_limit: int = 1000,
    event_delay: float = 0.0,
    flavour: str = DEFAULT_FLAVOUR,
    disabled: Iterable[str] = frozenset(),
    background_step: float = DEFAULT_BACKGROUND_STEP,
    request_delay: float = 0.0,
) -> Starlette:
    """Build the reference server.

    api_key: the only accepted bearer token; None disables authentication.
    faults: names from `FAULTS`, `WS_FAULTS`, `COMPACT_FAULTS` and `FUZZ_FAULTS`; unknown
        names raise ValueError.
    store_limit: how many stored responses the in-memory LRU keeps.
    event_delay: seconds between stream events (0 = just yield to the event loop); lets a
        test make the stream's incremental delivery measurable.
    flavour: "openai" (default: what api.openai.com sends), "openresponses" (the Open
        Responses dialect: `[DONE]`, `response.reasoning.*` raw reasoning events, ...) or
        "openai-strict" (the published OpenAPI description as written); see `FLAVOURS`.
    disabled: feature names from `FEATURES` and `ENDPOINT_FEATURES` to switch off (requests
        using them get a 4xx).
    background_step: seconds a background response stays queued, then in progress.
    request_delay: seconds to wait before answering every request (`/_reference/*` aside),
        without blocking the others.
    """
    ctx = ServerContext.checked(
        api_key=api_key, faults=faults, store_limit=store_limit, event_delay=event_delay,
        flavour=flavour, disabled=disabled, background_step=background_step,
        request_delay=request_delay)
    middleware = [Middleware(_RequestDelay, delay=request_delay)] if request_delay else []
    app = Starlette(
        routes=_routes(ctx),
        middleware=middleware,
        exception_handlers={HTTPException: partial(http_exception, ctx),
                            Exception: partial(server_error, ctx)},
    )
    app.router.redirect_slashes = False
    app.state.store = ctx.store
    app.state.journal = ctx.journal
    app.state.faults = ctx.faults
    app.state.disabled = ctx.disabled
    app.state.api_key = ctx.api_key
    app.state.flavour = ctx.flavour
    return app
