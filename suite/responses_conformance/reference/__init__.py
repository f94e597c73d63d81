"""The embedded reference server: a deterministic, scripted Responses API server.

It is the suite's default target and the proof that every check can pass (and, with
`faults`, that each check fires against a live server). Its model (`model.py`) answers with
text, function calls (parallel ones too), reasoning, refusals, structured output, truncated
and failed responses on documented triggers. It keeps state (retrieve, replay with
`starting_after`, delete, input items, background responses and cancel), can switch
features off (`disabled`), and also serves Chat Completions and `/v1/models` for proxies
put in front of it, with a journal of what it answered at `/_reference/journal`.
`flavour="openresponses"` speaks the Open Responses dialect, `flavour="openai-strict"` the
published OpenAPI description as written.

    from responses_conformance.reference import ReferenceServer
    with ReferenceServer() as server:          # 127.0.0.1, a free port
        print(server.base_url, server.api_key)  # http://127.0.0.1:PORT/v1 sk-reference-local
"""

from .app import create_app
from .context import DEFAULT_API_KEY, DEFAULT_BACKGROUND_STEP, DEFAULT_FLAVOUR, FLAVOURS
from .faults import FAULT_DESCRIPTIONS, FAULTS
from .model import DEFAULT_MODEL, KNOWN_MODELS
from .server import ReferenceServer, serve
from .validation import FEATURES

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_BACKGROUND_STEP",
    "DEFAULT_FLAVOUR",
    "DEFAULT_MODEL",
    "FAULTS",
    "FAULT_DESCRIPTIONS",
    "FEATURES",
    "FLAVOURS",
    "KNOWN_MODELS",
    "ReferenceServer",
    "create_app",
    "serve",
]
