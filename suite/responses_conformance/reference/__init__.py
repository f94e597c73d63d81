"""The embedded reference server: a deterministic, scripted Responses API server.

It is the suite's default target and the proof that every check can pass (and, with
`faults`, that each check fires against a live server). Its model (`model.py`) answers with
text, function calls (parallel ones too), reasoning, refusals, structured output, truncated
and failed responses on documented triggers; `flavour="openresponses"` speaks the Open
Responses dialect.

    from responses_conformance.reference import ReferenceServer
    with ReferenceServer() as server:          # 127.0.0.1, a free port
        print(server.base_url, server.api_key)  # http://127.0.0.1:PORT/v1 sk-reference-local
"""

from .app import DEFAULT_API_KEY, DEFAULT_FLAVOUR, FAULT_DESCRIPTIONS, FAULTS, FLAVOURS, create_app
from .model import DEFAULT_MODEL, KNOWN_MODELS
from .server import ReferenceServer, serve

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_FLAVOUR",
    "DEFAULT_MODEL",
    "FAULTS",
    "FAULT_DESCRIPTIONS",
    "FLAVOURS",
    "KNOWN_MODELS",
    "ReferenceServer",
    "create_app",
    "serve",
]
