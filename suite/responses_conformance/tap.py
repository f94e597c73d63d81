"""`responses-conformance tap --upstream URL`: judge the traffic of real clients, live.

A reverse proxy between real clients (an SDK, the Codex CLI, an app) and the server they use.
Every request goes to the upstream unchanged (HTTP and WebSocket, any path); every answer
goes back to the client as it arrives, chunk by chunk, the same bytes; and the same bytes are
fed to the engine, as `replay` feeds a capture:

* HTTP: `capture.ExchangeReplay` (the `ExchangeChecker` of the live suite) judges each exchange
  whose path is a Responses path: `POST .../responses` (a stream when the request says
  `"stream": true`), `GET .../responses/{id}` (a stream with `?stream=true`), `POST
  .../responses/{id}/cancel`; an answer of 4xx/5xx there is judged as an error envelope. A
  resumed stream (`starting_after`) is judged as the live suite judges it, as the tail of the
  original's events, when the tap kept them: it keeps the events of background streams it saw
  (to their end or to where the client broke off), a bounded while (`MAX_KEPT_STREAMS_BYTES`);
  other resumes pass through. Every other path (models, chat completions, `input_items`, compact, ...) is
  passed through and counted, not judged.
* WebSocket on `.../responses`: every `response.create` (any client message) and the frames
  that answer it go to one `ws.StepJudge`, the live suite's judge.

Findings print as they happen, one line each, grouped by cause as the report groups them
(results.causes: the check and the shape of its message): the first of a cause in full, later
ones as a line naming it; the rest of a cause within one exchange is one line when it ends. When the tap ends (Ctrl-C
or SIGTERM, which are its normal end, `--duration`, `--max-exchanges`) it writes results.json,
report.html, junit.xml and the transcripts, and exits with the verdict of what it saw
(results.verdict: 0 conformant, 1 not conformant, 5 nothing tested when no Responses exchange
was seen). A capture's model is not scripted: model-behaviour findings never fail the run.

This module is the I/O (the proxy, an ASGI app on uvicorn with httpx and websockets towards the
upstream, and the command line); the judging is `tap_judge.py`, sans-IO, which the mitmproxy
addon (`tap_mitm.py`) uses too.

Memory is constant: one exchange's checker state per open exchange (bounded by that response
and by `--max-bytes` / `--max-events`), counters per check and status, at most
`MAX_LISTED_FINDINGS` exchanges with findings and `MAX_LISTED_PASSED` without kept for the
report (every exchange is counted), and at most `--max-transcripts` transcripts on disk
(the oldest are removed). Credentials never reach any output: the values of the clients'
Authorization, api-key (and the other credential headers of `redact.SENSITIVE_HEADERS`) and of
every `--redact-header NAME` are learnt per request and removed from everything written or
printed about that exchange (transcripts, findings, reports).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable
from urllib.parse import urlsplit

from .engine import profiles
from .engine.violations import Violation
from .results import Verdict
from .tap_judge import (HttpJudge, Plan, Recorder, TapOptions, WsJudge, _header, _one_line, _responses_route,
                        plan_for)

__all__ = ["HttpJudge", "Plan", "Recorder", "Tap", "TapApp", "TapOptions", "WsJudge", "main", "plan_for"]

PROG = "responses-conformance tap"
MAX_REQUEST_HELD = 16 * 1024 * 1024  # a request body is read whole up to this, to see `stream`
MAX_QUEUED_CHUNKS = 16  # read from the upstream, not yet written to the client (backpressure beyond)
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                        "upgrade", "proxy-authenticate"})
WS_HANDSHAKE = frozenset({"host", "connection", "upgrade", "sec-websocket-key", "sec-websocket-version",
                          "sec-websocket-extensions", "sec-websocket-protocol", "content-length"})


# -- the proxy (ASGI) -------------------------------------------------------------------------------
_END = object()  # the upstream's answer ended


class _Stopped(Exception):
    """The upstream broke mid-answer: the client's connection is dropped too (never a clean end
    that would hide the cut)."""


class TapApp:
    """The ASGI app: forwards, streams back, and feeds the judges. A thin layer: every decision
    about the bytes is the judges'."""

    def __init__(self, options: TapOptions, recorder: Recorder) -> None:
        self.options = options
        self.recorder = recorder
        parts = urlsplit(options.upstream)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")
        self.ws_base = ("wss" if parts.scheme == "https" else "ws") + f"://{parts.netloc}"
        self._client: Any = None

    def client(self) -> Any:
        import httpx

        if self._client is None:
            timeout = httpx.Timeout(connect=self.options.connect_timeout, read=self.options.idle_timeout,
                                    write=self.options.idle_timeout, pool=None)
            self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=not self.options.insecure,
                                             trust_env=False, http1=True, http2=False,
                                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=64))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.websocket(scope, receive, send)

    # -- HTTP ------------------------------------------------------------------------------------
    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        import httpx

        method = scope["method"]
        raw_path = (scope.get("raw_path") or scope["path"].encode("utf-8")).decode("latin-1")
        path = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.base + self.prefix + raw_path + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        forward = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "host"]
        body = bytearray()
        more = True
        while more and len(body) <= MAX_REQUEST_HELD:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        held = bytes(body)
        content: Any = held
        if more:  # a very large upload: the rest streams through, the plan is taken from the answer
            async def rest() -> Any:
                yield held
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    yield message.get("body", b"")
                    if not message.get("more_body", False):
                        return
            content = rest()
        number = self.recorder.next_number()
        encoded = (_header(headers, "content-encoding") or "identity").strip().lower() != "identity"
        plan = plan_for(method, path, query, None if more or encoded else held)
        prefix = None
        if plan is not None and plan.resumes is not None:
            prefix = self.recorder.prefix(plan.resumes, plan.starting_after)
            if prefix is None:  # the original stream was not seen (or not kept): nothing to judge it after
                plan = None
        judge = None
        client = self.client()
        try:
            request = client.build_request(method, url, headers=forward, content=content)
            # The request goes out first; the judge is set up while the upstream works on it, so
            # that its cost is not added to the time to first byte.
            sending = asyncio.ensure_future(client.send(request, stream=True))
            await asyncio.sleep(0)
            if plan is not None:
                judge = HttpJudge(self.recorder, number, plan, method=method, url=url, request_headers=headers,
                                  request_body=None if more else held, prefix=prefix)
            else:
                self.recorder.pass_through(method, path)
            response = await sending
        except asyncio.CancelledError:
            if not sending.done():
                sending.cancel()
            if judge is not None:
                judge.abandon()
            raise
        except (httpx.HTTPError, OSError) as exc:
            self.recorder.upstream_errors += 1
            what = _one_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, 200)
            self.recorder.say(f"{'UP':<5} #{number} {method} {path}: the upstream cannot be reached: {what}")
            self.recorder.note(f"#{number} {method} {path}: the upstream cannot be reached: {what}")
            if judge is not None:
                judge.abandon()
            message = json.dumps({"error": {"message": f"responses-conformance tap: the upstream cannot be reached "
                                                       f"({what})", "type": "tap_upstream_error", "code": None,
                                            "param": None}}).encode()
            await send({"type": "http.response.start", "status": 502,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(message)).encode())]})
            await send({"type": "http.response.body", "body": message, "more_body": False})
            return
        end, error = "eof", None
        try:
            end, error = await self._pump(response, receive, send, judge, streamed_request=more)
        except asyncio.CancelledError:
            end = "tap_stopped"
            raise
        finally:
            await response.aclose()
            if judge is not None:
                judge.close(end, error)
            if end == "client_disconnected":
                self.recorder.client_disconnects += 1
        if end == "upstream_error":
            raise _Stopped(error)

    async def _pump(self, response: Any, receive: Any, send: Any, judge: HttpJudge | None, *,
                    streamed_request: bool) -> tuple[str, str | None]:
        import httpx

        raw_headers = [(k, v) for k, v in response.headers.raw]
        status = response.status_code
        out_headers = [(k, v) for k, v in raw_headers if k.decode("latin-1").lower() not in HOP_BY_HOP]
        head = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]
        state = {"final": False}

        async def forward() -> tuple[str, str | None]:
            await send({"type": "http.response.start", "status": status, "headers": out_headers})
            # One task reads the upstream, this one writes to the client and then judges: when the
            # client and the judge keep up, each chunk goes on alone at once; when chunks arrive
            # faster, those already read go on together (never held back: no waiting for more).
            chunks: asyncio.Queue = asyncio.Queue(maxsize=MAX_QUEUED_CHUNKS)

            async def read() -> None:
                try:
                    async for chunk in response.aiter_raw():
                        if chunk:
                            await chunks.put(chunk)
                    await chunks.put(_END)
                except httpx.HTTPError as exc:
                    await chunks.put(exc)

            reader = asyncio.ensure_future(read())
            headed = False
            ending: Any = None
            try:
                while ending is None:
                    batch = [await chunks.get()]
                    while not chunks.empty() and isinstance(batch[-1], bytes):
                        batch.append(chunks.get_nowait())
                    if not isinstance(batch[-1], bytes):
                        ending = batch.pop()  # _END, or the upstream's error
                    if batch:
                        data = batch[0] if len(batch) == 1 else b"".join(batch)
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                        if judge is not None:  # judged after it is forwarded: never a delay for the client
                            if not headed:
                                judge.head(status, head)
                                headed = True
                            judge.body(data)
            finally:
                if not reader.done():
                    reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader
            if judge is not None and not headed:  # an empty body, or the upstream broke before any
                judge.head(status, head)
            if isinstance(ending, Exception):
                return "upstream_error", _one_line(f"{type(ending).__name__}: {ending}", 200)
            state["final"] = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return "eof", None

        if streamed_request:
            return await forward()

        async def disconnected() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return

        pump = asyncio.ensure_future(forward())
        watch = asyncio.ensure_future(disconnected())
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            if pump.done():
                return pump.result()
            if state["final"]:
                return await pump
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            return "client_disconnected", None
        finally:
            for task in (pump, watch):
                if not task.done():
                    task.cancel()
            with contextlib.suppress(BaseException):
                await watch

    # -- WebSocket ---------------------------------------------------------------------------------
    async def websocket(self, scope: dict, receive: Any, send: Any) -> None:
        import websockets
        from websockets.asyncio.client import connect

        message = await receive()
        if message["type"] != "websocket.connect":
            return
        path = scope["path"]
        raw_path = (scope.get("raw_path") or path.encode("utf-8")).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.ws_base + self.prefix + raw_path + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        forward = [(k, v) for k, v in headers if k.lower() not in WS_HANDSHAKE]
        judged = _responses_route(path) == ("create", None)
        self.recorder.ws_connections += 1
        if not judged:
            self.recorder.pass_through("WEBSOCKET", path)
        ssl_context = None
        if url.startswith("wss://") and self.options.insecure:
            import ssl

            ssl_context = ssl.create_default_context()
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        try:
            upstream = await connect(url, additional_headers=forward, subprotocols=scope.get("subprotocols") or None,
                                     user_agent_header=None, open_timeout=self.options.connect_timeout,
                                     ping_interval=None, max_size=self.options.max_bytes, proxy=None,
                                     compression=None, **({"ssl": ssl_context} if ssl_context else {}))
        except websockets.InvalidStatus as exc:
            answer = exc.response
            self.recorder.note(f"WebSocket {path}: the upstream refused the upgrade with HTTP {answer.status_code}")
            self.recorder.say(f"{'UP':<5} WebSocket {path}: the upstream refused the upgrade "
                              f"(HTTP {answer.status_code}): passed back to the client")
            if "websocket.http.response" in (scope.get("extensions") or {}):
                body = bytes(answer.body or b"")
                out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.raw_items()
                       if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
                out.append((b"content-length", str(len(body)).encode()))
                await send({"type": "websocket.http.response.start", "status": answer.status_code, "headers": out})
                await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": f"upstream HTTP {answer.status_code}"})
            return
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            self.recorder.upstream_errors += 1
            what = _one_line(f"{type(exc).__name__}: {exc}", 200)
            self.recorder.note(f"WebSocket {path}: the upstream cannot be reached: {what}")
            self.recorder.say(f"{'UP':<5} WebSocket {path}: the upstream cannot be reached: {what}")
            await send({"type": "websocket.close", "code": 1011, "reason": "upstream unreachable"})
            return
        judge = WsJudge(self.recorder, f"WEBSOCKET {path}", headers, url) if judged else None
        try:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        except Exception:  # noqa: BLE001 - the client left already
            await upstream.close()
            return

        async def client_to_upstream() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    code = message.get("code", 1000)
                    if judge is not None:
                        judge.closed("client", code, str(message.get("reason") or ""))
                    await upstream.close(code if code in range(1000, 5000) and code not in (1005, 1006, 1015)
                                         else 1000)
                    return
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                if judge is not None:
                    judge.client_message(data)
                await upstream.send(data)

        async def upstream_to_client() -> None:
            try:
                async for data in upstream:
                    if isinstance(data, str):
                        await send({"type": "websocket.send", "text": data})
                    else:
                        await send({"type": "websocket.send", "bytes": data})
                    if judge is not None:
                        judge.server_message(data)
            except websockets.ConnectionClosed:
                pass
            received = upstream.close_rcvd
            code = received.code if received is not None else 1006
            reason = received.reason if received is not None else ""
            if judge is not None:
                judge.closed("server", code if received is not None else None, reason)
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": code if code not in (1005, 1006, 1015) else 1000,
                            "reason": reason})

        tasks = [asyncio.ensure_future(client_to_upstream()), asyncio.ensure_future(upstream_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await upstream.close()
            if judge is not None:
                judge.abandon()


# -- running it ------------------------------------------------------------------------------------
def _server_class() -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn's server without its signal handling: the tap installs its own (`Tap.signals`),
        for which Ctrl-C and SIGTERM end the tap normally (the outputs are written, the verdict is
        the traffic's); uvicorn would re-raise them after its shutdown."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:  # type: ignore[override]
            yield

    return _Server


class Tap:
    """The tap in-process: `start()` binds and serves (a background thread, or the calling thread
    with `run()`), `stop()` ends it and writes the outputs; `exit_code` is the verdict's.

        with Tap(TapOptions(upstream=server.url, port=0)) as tap:
            client = openai.OpenAI(base_url=tap.base_url, ...)
        tap.exit_code
    """

    def __init__(self, options: TapOptions, *, out: IO[str] | None = None) -> None:
        import logging

        import uvicorn

        from .reference.server import bind

        self.options = options
        known = _baseline(options.baseline)
        self.recorder = Recorder(options, out=out, known=known)
        self.app = TapApp(options, self.recorder)
        self.sock = bind(options.host, options.port)
        self.port = self.sock.getsockname()[1]
        options.port = self.port
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", log_config=None,
                                server_header=False, date_header=False, timeout_graceful_shutdown=3,
                                ws="websockets-sansio", ws_max_size=options.max_bytes, ws_ping_interval=None,
                                ws_per_message_deflate=False)
        self.server = _server_class()(config)
        # an ASGI error is ours to say (the app catches what it knows); uvicorn's own log would print a traceback
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self.recorder.on_judged = self._judged
        self._thread: threading.Thread | None = None
        self.exit_code: int | None = None
        self.problems: list[str] = []
        self._watch: asyncio.Task | None = None

    @property
    def url(self) -> str:
        from .reference.server import url_of

        return url_of(self.options.host, self.port)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def _judged(self, count: int) -> None:
        limit = self.options.max_exchanges
        if limit is not None and count >= limit and not self.server.should_exit:
            self.recorder.ended_by = self.recorder.ended_by or f"--max-exchanges {limit}"
            self.server.should_exit = True

    async def _serve(self) -> None:
        async def deadline() -> None:
            if self.options.duration is None:
                return
            await asyncio.sleep(self.options.duration)
            self.recorder.ended_by = self.recorder.ended_by or f"--duration {self.options.duration:g}"
            self.server.should_exit = True

        watch = asyncio.ensure_future(deadline())
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            watch.cancel()
            with contextlib.suppress(BaseException):
                await watch
            await self.app.aclose()

    @contextlib.contextmanager
    def signals(self) -> Any:
        """Ctrl-C and SIGTERM end the tap (the main thread only): the first asks the server to
        stop and the outputs to be written, a second stops waiting for open exchanges."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(sig: int, frame: Any) -> None:
            if self.server.should_exit:
                self.server.force_exit = True
            self.server.should_exit = True
            self.recorder.ended_by = self.recorder.ended_by or signal.Signals(sig).name

        originals = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def run(self) -> int:
        """Serve in this thread until a signal, the duration or the exchange limit; then write the
        outputs and return the exit code. Call it inside `signals()`."""
        try:
            asyncio.run(self._serve())
        finally:
            self.sock.close()
        return self._end()

    def start(self) -> "Tap":
        ready = threading.Event()

        def run() -> None:
            try:
                asyncio.run(self._serve())
            finally:
                self.sock.close()
                ready.set()

        self._thread = threading.Thread(target=run, name=f"tap:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        if not self.server.started:
            self.stop()
            raise RuntimeError("the tap did not start")
        return self

    def wait(self, timeout: float) -> bool:
        """Wait for the tap to end by itself (duration, exchange limit); True when it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> int:
        if self._thread is not None:
            self.recorder.ended_by = self.recorder.ended_by or "stop"
            self.server.should_exit = True
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.server.force_exit = True
                self._thread.join(timeout)
            self._thread = None
        if self.exit_code is None:
            return self._end()
        return self.exit_code

    def _end(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        self.problems = self.recorder.write_outputs()
        for line in self.recorder.summary_lines()[:-1]:
            self.recorder.say(line, always=True)
        for problem in self.problems:
            print(f"{PROG}: {problem}", file=sys.stderr)
        self.recorder.say(f"tap: wrote {self.options.results_path}, {self.options.html_path}, "
                          f"{self.options.junit_path}" + (f" and {self.options.transcripts_dir}/"
                                                          if self.options.transcripts else ""))
        self.recorder.say(self.recorder.summary_lines()[-1], always=True)
        self.exit_code = self.recorder.verdict().exit_code
        return self.exit_code

    def __enter__(self) -> "Tap":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _baseline(path: Path | None) -> Callable[[Violation], bool]:
    if path is None:
        return lambda v: False
    from .baseline import load

    entries = load(path, set())  # check ids only: a tap's exchanges are not scenarios
    return lambda v: entries.find("", v.check) is not None


# -- the command line -----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(Verdict.USAGE_ERROR.exit_code)


EPILOG = """Point a client at the tap instead of its server, e.g.
  OPENAI_BASE_URL=http://127.0.0.1:8080/v1 your-client ...
with --upstream the server's origin (https://api.openai.com): the client's path (/v1/responses) is
appended to it. Ctrl-C or SIGTERM end the tap normally and write the reports.

exit status (the verdict of the traffic seen):
  0  conformant: Responses exchanges were judged and no MUST rule is broken
  1  not conformant: a MUST rule is broken
  4  usage error (a bad option, URL or baseline; the address cannot be had)
  5  nothing tested: no Responses API exchange was seen
  6  could not test: exchanges could not be checked to their end (a limit), none broke a MUST rule"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A transparent proxy that judges the Responses API traffic of real "
                                            "clients as it passes, with the live suite's checks.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--upstream", required=True, metavar="URL",
                        help="the server the clients really use (its origin, e.g. https://api.openai.com; a path "
                             "prefix is kept)")
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="where the tap listens (default 127.0.0.1:8080; port 0 picks a free one). Anything but "
                             "the loopback relays the requests of anyone who can reach it, with their key")
    parser.add_argument("--profile", default=profiles.DEFAULT, choices=sorted(profiles.PROFILES),
                        help="which flavour of the protocol to hold the traffic to (default: openai)")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    parser.add_argument("--max-exchanges", type=int, default=None, metavar="N",
                        help="stop after N judged Responses exchanges")
    parser.add_argument("--reports-dir", default="reports", metavar="DIR",
                        help="where results.json, report.html, junit.xml and transcripts/ go (default: reports)")
    parser.add_argument("--results-json", default=None, metavar="PATH", help="where results.json goes")
    parser.add_argument("--html", default=None, metavar="PATH", help="where the HTML report goes")
    parser.add_argument("--junit-xml", default=None, metavar="PATH", help="where the JUnit XML goes")
    parser.add_argument("--no-transcripts", action="store_true", help="write no transcripts")
    parser.add_argument("--max-transcripts", type=int, default=1000, metavar="N",
                        help="keep the transcripts of the last N judged exchanges (older ones are removed; "
                             "default 1000)")
    parser.add_argument("--redact-header", action="append", default=[], metavar="NAME",
                        help="a request header whose value is a secret too (Authorization, api-key, cookies are "
                             "always); repeatable")
    parser.add_argument("--baseline", default=None, metavar="FILE",
                        help="known failures (check ids, each with a reason): reported as known, not failed")
    parser.add_argument("--max-bytes", type=int, default=32 * 1024 * 1024, metavar="N",
                        help="most body bytes judged per exchange (the rest is forwarded, not judged)")
    parser.add_argument("--max-events", type=int, default=200_000, metavar="N",
                        help="most events judged per stream")
    parser.add_argument("--idle-timeout", type=float, default=600.0, metavar="S",
                        help="longest silence of the upstream before or between bytes (default 600)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the upstream's TLS certificate")
    parser.add_argument("--quiet", action="store_true", help="print only the summary (the findings are in the reports)")


def _listen(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = text, "8080"
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        raise ValueError(f"the port {port!r} is not a number")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} is not 0..65535")
    return host, number


def options_from(args: argparse.Namespace) -> TapOptions:
    parts = urlsplit(args.upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--upstream {args.upstream!r} is not an http:// or https:// URL")
    parts.port  # noqa: B018 - raises ValueError for a bad port
    try:
        host, port = _listen(args.listen)
    except ValueError as exc:
        raise ValueError(f"--listen {args.listen!r}: {exc}") from None
    for name in ("max_exchanges", "max_transcripts", "max_bytes", "max_events"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "max_transcripts" else 1):
            raise ValueError(f"--{name.replace('_', '-')} must be positive")
    if args.duration is not None and not args.duration > 0:
        raise ValueError("--duration must be positive")
    reports = Path(args.reports_dir)
    return TapOptions(
        upstream=args.upstream.rstrip("/"), host=host, port=port, profile=args.profile, reports_dir=reports,
        results_json=Path(args.results_json) if args.results_json else None,
        html=Path(args.html) if args.html else None, junit=Path(args.junit_xml) if args.junit_xml else None,
        transcripts=not args.no_transcripts, max_transcripts=args.max_transcripts,
        max_exchanges=args.max_exchanges, duration=args.duration, max_bytes=args.max_bytes,
        max_events=args.max_events, idle_timeout=args.idle_timeout,
        redact_headers=frozenset(n.strip().lower() for n in args.redact_header if n.strip()),
        baseline=Path(args.baseline) if args.baseline else None, insecure=args.insecure, quiet=args.quiet)


def exposure_warning(host: str) -> str | None:
    """The loud warning for a tap that listens beyond the loopback, or None."""
    import ipaddress

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (f"WARNING: the tap listens on {host}, not on the loopback: anyone who can reach this address can send "
            "requests through it to the upstream, with whatever key they bring (and read the answers)")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        options = options_from(args)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return Verdict.USAGE_ERROR.exit_code
    try:
        tap = Tap(options)
    except (OSError, OverflowError) as exc:
        print(f"{PROG}: cannot listen on {options.host}:{options.port}: {getattr(exc, 'strerror', None) or exc}",
              file=sys.stderr)
        return Verdict.USAGE_ERROR.exit_code
    except ValueError as exc:  # a bad baseline
        print(f"{PROG}: {exc}", file=sys.stderr)
        return Verdict.USAGE_ERROR.exit_code
    warning = exposure_warning(options.host)
    if warning is not None:
        print("!" * 100, file=sys.stderr)
        print(warning, file=sys.stderr)
        print("!" * 100, file=sys.stderr)
    with tap.signals():
        print(f"tap: listening on {tap.url}, forwarding to {options.upstream} (profile {options.profile}); point "
              f"clients at OPENAI_BASE_URL={tap.base_url}; Ctrl-C ends it and writes {options.reports_dir}/", flush=True)
        return tap.run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
