"""Running the reference app on real sockets with uvicorn: blocking (`serve`) or in a
background thread (`ReferenceServer`, what the suite and our tests use)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app
from .context import DEFAULT_API_KEY, DEFAULT_BACKGROUND_STEP, DEFAULT_FLAVOUR


def _config(app: Any, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",  # the app has no startup/shutdown work; skipping it is faster
        **extra,
    )


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on host:port (0: a free port), non-blocking, for uvicorn.

    Raises OSError when the address cannot be had (in use, not ours, not a host name) and
    OverflowError/ValueError for a port outside 0..65535: the caller says so in one line.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every response stalls ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def url_of(host: str, port: int) -> str:
    """http://host:port, with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str | None = DEFAULT_API_KEY,
    faults: Iterable[str] = frozenset(),
    store_limit: int = 1000,
    flavour: str = DEFAULT_FLAVOUR,
    disabled: Iterable[str] = frozenset(),
    background_step: float = DEFAULT_BACKGROUND_STEP,
    request_delay: float = 0.0,
    event_delay: float = 0.0,
    sock: socket.socket | None = None,
) -> None:
    """Run the reference server in the foreground until interrupted (Ctrl-C).

    `sock`: a socket from `bind()` to serve on (then host and port are not used); the caller
    binds first so that it can announce the real port, and report a port in use in one line.
    """
    app = create_app(api_key=api_key, faults=frozenset(faults), store_limit=store_limit,
                     flavour=flavour, disabled=frozenset(disabled),
                     background_step=background_step, request_delay=request_delay,
                     event_delay=event_delay)
    if sock is None:
        sock = bind(host, port)
    try:
        uvicorn.Server(_config(app)).run(sockets=[sock])
    finally:
        sock.close()


class ReferenceServer:
    """The reference server on 127.0.0.1 and a free port, in a background thread.

        with ReferenceServer() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)

    `base_url` ends in `/v1` (what OpenAI clients expect); `url` is the bare origin.
    """

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        faults: Iterable[str] = frozenset(),
        store_limit: int = 1000,
        event_delay: float = 0.0,
        flavour: str = DEFAULT_FLAVOUR,
        disabled: Iterable[str] = frozenset(),
        background_step: float = DEFAULT_BACKGROUND_STEP,
        request_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.faults = frozenset(faults)
        self.flavour = flavour
        self.host = host
        self.startup_timeout = startup_timeout
        self.app = create_app(
            api_key=api_key, faults=self.faults, store_limit=store_limit, event_delay=event_delay,
            flavour=flavour, disabled=disabled, background_step=background_step,
            request_delay=request_delay,
        )
        self.disabled: frozenset[str] = self.app.state.disabled
        # Every HTTP request and WebSocket connection served, by "METHOD /path" (ids as {id}):
        # what a test counts to prove the suite sent each request once.
        self.requests: Counter[str] = Counter()
        self._requested_port = port
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    async def _counted(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            path = re.sub(r"/(resp|msg|fc|cmp|rs)_[A-Za-z0-9]+", "/{id}", scope.get("path", ""))
            self.requests[f"{scope.get('method', 'WEBSOCKET')} {path}"] += 1
        await self.app(scope, receive, send)

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("ReferenceServer is not running")
        return url_of(self.host, self.port)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> ReferenceServer:
        if self._thread is not None:
            raise RuntimeError("ReferenceServer already started")
        sock = bind(self.host, self._requested_port)
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(_config(self._counted, log_config=None, interface="asgi3"))
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # pragma: no cover - reported by start()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"reference-server:{self.port}",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"reference server did not start within {self.startup_timeout} s"
                ) from self._error
            time.sleep(0.002)
        self._wait_accepting(deadline)
        return self

    def _wait_accepting(self, deadline: float) -> None:
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("reference server does not accept connections") from None
                time.sleep(0.005)

    def request_stop(self) -> None:
        """Ask the server to shut down without waiting (then `stop()` to wait): lets a caller
        stop several servers in parallel."""
        if self._server is not None:
            self._server.should_exit = True

    def stop(self, timeout: float = 5.0) -> None:
        """Shut down and wait for the server thread (at most about `timeout` + 1 s)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=min(timeout, 1.0))
        if thread.is_alive():  # open streams or keep-alive connections: stop waiting for them
            server.force_exit = True
            thread.join(timeout=timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.port is not None else "not started"
        disabled = f" disabled={sorted(self.disabled)}" if self.disabled else ""
        return (f"<ReferenceServer {where} flavour={self.flavour} faults={sorted(self.faults)}"
                f"{disabled}>")
