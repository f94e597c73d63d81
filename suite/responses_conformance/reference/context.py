"""What every route of one reference server shares: its options, checked once when the app is
built, and its state (the stored responses and the journal).

Routes take the context as their first argument instead of capturing it in a closure, so each
route lives in a module of its own (`routes/`) and two apps in one process never share state.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .faults import ALL_FAULTS
from .records import RecordStore
from .validation import FEATURES

DEFAULT_API_KEY = "sk-reference-local"
#: `openai` (the default) is what api.openai.com sends. `openresponses` speaks the Open
#: Responses dialect: the stream ends with `data: [DONE]`, reasoning items carry `status` and
#: their raw reasoning text as a `reasoning_text` content part streamed as
#: `response.reasoning.delta` / `.done`, and Response objects carry `frequency_penalty` /
#: `presence_penalty`. `openai-strict` sends the published OpenAPI description as written:
#: `usage` and `user` left out instead of null, `cache_write_tokens: 0`, `name` on
#: `function_call_arguments.done`, and the flat `error` event (`code, message, param`). The
#: error event is nested (`type, code, message, param`) in the other two flavours.
FLAVOURS = ("openai", "openresponses", "openai-strict")
DEFAULT_FLAVOUR = "openai"
#: Seconds a background response spends queued, then in progress.
# Long enough that a cancel sent right after the create finds the response still running, even
# on a loaded machine (a real model takes seconds; the scenario's race must not decide its verdict).
DEFAULT_BACKGROUND_STEP = 0.4
#: How many requests the journal keeps (the oldest are dropped first).
JOURNAL_LIMIT = 10_000

#: Endpoints a server may not offer at all (`disabled` takes their routes away): without
#: `websocket` the upgrade is refused with 405, as a GET of /v1/responses; without `compact`
#: POST /v1/responses/compact is 405 or 404.
ENDPOINT_FEATURES = {
    "websocket": "WebSocket mode: `response.create` over a WebSocket to /v1/responses",
    "compact": "POST /v1/responses/compact",
}


@dataclass(frozen=True)
class ServerContext:
    """One reference server's options and state; build it with `ServerContext.checked`."""

    api_key: str | None  # the only accepted bearer token; None: no authentication
    faults: frozenset[str]  # names from `faults.ALL_FAULTS`
    disabled: frozenset[str]  # names from `FEATURES` and `ENDPOINT_FEATURES`
    flavour: str
    event_delay: float  # seconds between the events of a live stream
    background_step: float  # seconds a background response stays queued, then in progress
    store: RecordStore
    journal: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=JOURNAL_LIMIT))
    # The journal is read and cleared by one request while others append to it.
    journal_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def checked(cls, *, api_key: str | None, faults: Iterable[str], store_limit: int,
                event_delay: float, flavour: str, disabled: Iterable[str],
                background_step: float, request_delay: float) -> ServerContext:
        """The context of `create_app`'s arguments; ValueError names what is wrong with them."""
        for name, value in (("faults", faults), ("disabled", disabled)):
            if isinstance(value, str):
                raise ValueError(  # noqa: TRY004 - a value error to the caller, as before
                    f"{name} must be a collection of names, not a string")
        faults = frozenset(faults)
        unknown = sorted(faults - ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault name(s): {', '.join(unknown)}; known: "
                             f"{sorted(ALL_FAULTS)}")
        disabled = frozenset(disabled)
        unknown = sorted(disabled - set(FEATURES) - set(ENDPOINT_FEATURES))
        if unknown:
            raise ValueError(
                f"unknown feature name(s): {', '.join(unknown)}; known: "
                f"{sorted([*FEATURES, *ENDPOINT_FEATURES])}")
        if not isinstance(store_limit, int) or isinstance(store_limit, bool) or store_limit < 0:
            raise ValueError("store_limit must be an integer >= 0")
        for name, seconds in (("event_delay", event_delay), ("background_step", background_step),
                              ("request_delay", request_delay)):
            if seconds < 0:
                raise ValueError(f"{name} must be >= 0")
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {flavour!r}; known: {', '.join(FLAVOURS)}")
        return cls(api_key=api_key, faults=faults, disabled=disabled, flavour=flavour,
                   event_delay=event_delay, background_step=background_step,
                   store=RecordStore(store_limit))

    @property
    def body_disabled(self) -> frozenset[str]:
        """The switched-off features a request body is checked against (endpoints aside)."""
        return self.disabled - set(ENDPOINT_FEATURES)

    @property
    def open_responses(self) -> bool:
        return self.flavour == "openresponses"

    @property
    def strict(self) -> bool:
        return self.flavour == "openai-strict"

    def log(self, entry: dict[str, Any]) -> None:
        """Add one answered request to the journal (`/_reference/journal`)."""
        with self.journal_lock:
            self.journal.append(entry)
