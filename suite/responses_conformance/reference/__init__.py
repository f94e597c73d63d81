"""The embedded reference server: a deterministic, text-only Responses API server.

It is the suite's default target and the proof that every check can pass (and, with
`faults`, that each check fires against a live server).

    from responses_conformance.reference import ReferenceServer
    with ReferenceServer() as server:          # 127.0.0.1, a free port
        print(server.base_url, server.api_key)  # http://127.0.0.1:PORT/v1 sk-reference-local
"""

from .app import DEFAULT_API_KEY, FAULT_DESCRIPTIONS, FAULTS, create_app
from .model import DEFAULT_MODEL, KNOWN_MODELS
from .server import ReferenceServer, serve

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MODEL",
    "FAULTS",
    "FAULT_DESCRIPTIONS",
    "KNOWN_MODELS",
    "ReferenceServer",
    "create_app",
    "serve",
]
