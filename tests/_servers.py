"""Several reference servers for one test module: started once, stopped in parallel."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from responses_conformance.reference import ReferenceServer


@contextmanager
def running(specs: dict[str, dict[str, Any]]) -> Iterator[dict[str, ReferenceServer]]:
    """`{name: ReferenceServer(**kwargs)}` for every spec, all running inside the block.

    They are asked to stop all at once before each is waited for: a uvicorn shutdown takes
    about 0.2 s, and a module starts a dozen servers."""
    started: dict[str, ReferenceServer] = {}
    try:
        for name, kwargs in specs.items():
            started[name] = ReferenceServer(**kwargs).start()
        yield started
    finally:
        for server in started.values():
            server.request_stop()
        for server in started.values():
            server.stop()
