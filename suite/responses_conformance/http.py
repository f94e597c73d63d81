"""The thin HTTP layer: one bounded exchange with a target that is broken by assumption.

`run_exchange` sends one request and reads the answer as raw bytes while they arrive, feeding
each chunk to an `ExchangeSink` (the sans-IO engine sits behind it). Whatever the target does,
the call returns an `Exchange` within the limits:

- the total deadline (`Limits.timeout`) holds even against a slow drip that never trips a read
  timeout: elapsed time is checked after every chunk, and a watchdog shuts the socket down when
  the deadline passes while a read is blocked;
- a gap between chunks longer than `Limits.idle_timeout` ends the exchange ("idle");
- at most `Limits.max_bytes` body bytes are read, and at most that many are decoded from a
  gzip/deflate body, so a compression bomb stops at the limit with bounded memory;
- refused connections, TLS failures, resets, garbage and redirects each get an end reason and
  one line of explanation. Nothing the target does raises out of `run_exchange`;
- the sink may end the exchange itself (a limit only it can see, like a number of events) by
  raising `StopReading` from `body`: reading stops at once with the end reason it names.

The API key never leaves this module in clear: request and response headers, stored bytes,
bytes fed to the sink, URLs and error strings all go through the `Redactor` (which always
includes the key). Redirects are never followed, so the key only goes to the URL we were given.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from .redact import Redactor

__all__ = [
    "END_REASONS",
    "EndReason",
    "Exchange",
    "ExchangeSink",
    "Limits",
    "StopReading",
    "USER_AGENT",
    "make_client",
    "run_exchange",
]

EndReason = Literal[
    "eof", "deadline", "idle", "too_large", "too_many_events", "connect_error", "tls_error", "protocol_error",
    "redirect",
]
END_REASONS: tuple[str, ...] = (
    "eof", "deadline", "idle", "too_large", "too_many_events", "connect_error", "tls_error", "protocol_error",
    "redirect",
)

_ERROR_MAX_CHARS = 300


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "dev"
    try:
        return version("responses-conformance")
    except PackageNotFoundError:
        return "dev"


USER_AGENT = f"responses-conformance/{_version()}"


def _brotli_module() -> Any:
    """The optional `brotli` module if it can bound its output (brotli >= 1.2), else None.

    Older versions inflate without bound per call (even a 256-byte slice of a bomb can become
    hundreds of MB), so with them br is neither announced nor accepted.
    """
    try:
        import brotli  # type: ignore[import-not-found]  # optional, never a dependency
    except ImportError:
        return None
    try:
        if not hasattr(brotli.Decompressor(), "can_accept_more_data"):
            return None
    except Exception:
        return None
    return brotli


# What we announce in Accept-Encoding is exactly what we can decode with bounded output:
# httpx's default would also announce zstd when `zstandard` happens to be installed.
_ACCEPT_ENCODING = "gzip, deflate" + (", br" if _brotli_module() is not None else "")


@dataclass(frozen=True)
class Limits:
    """Bounds for one exchange. All times in seconds."""

    timeout: float = 30.0  # total deadline for one exchange, from request start to end of body
    connect_timeout: float = 10.0
    idle_timeout: float = 15.0  # longest gap between two received chunks (and before the status line)
    max_bytes: int = 32 * 1024 * 1024  # body bytes read (and decoded) before we stop
    verify_tls: bool = True
    # Events checked before we stop. Not enforced here (this layer does not parse events): the
    # sink counts them and raises StopReading("too_many_events", ...).
    max_events: int = 200_000

    def __post_init__(self) -> None:
        for name in ("timeout", "connect_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_bytes", "max_events"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")


class StopReading(Exception):
    """Raised by a sink's `body` to end the exchange now: `end` becomes the exchange's end
    reason (one of END_REASONS, e.g. "too_many_events") and `message` its error line."""

    def __init__(self, end: str, message: str):
        if end not in END_REASONS or end == "eof":
            raise ValueError(f"not an end reason for StopReading: {end!r}")
        super().__init__(message)
        self.end = end
        self.message = message


class ExchangeSink(Protocol):
    """Receives the response as it arrives: `head` once, then `body` per chunk, in order.

    Headers and bytes are already redacted. Body bytes are decoded from gzip/deflate/br if the
    target used a Content-Encoding, and otherwise exactly as received. `body` may raise
    `StopReading` to stop the exchange; it is not called again after that.
    """

    def head(self, status: int, headers: list[tuple[str, str]]) -> None: ...

    def body(self, chunk: bytes) -> None: ...


@dataclass
class Exchange:
    method: str
    url: str  # redacted
    request_headers: list[tuple[str, str]]  # as sent, redacted
    request_body: bytes | None  # as sent, redacted
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)  # response headers, redacted
    # The body as the sink saw it (decoded if Content-Encoding was used), redacted. Before
    # redaction it is at most max_bytes long.
    body: bytes = b""
    end: str = "eof"  # one of END_REASONS
    error: str | None = None  # one line, human, redacted
    elapsed: float = 0.0  # seconds from request start to the end of the exchange
    first_byte_after: float | None = None  # seconds from request start to the first body byte
    headers_after: float | None = None  # seconds from request start to the response head
    content_encoding: str | None = None  # e.g. "gzip" when the body was decoded
    bytes_received: int = 0  # body bytes read off the wire (before any decoding)

    @property
    def completed(self) -> bool:
        return self.end == "eof"

    def header(self, name: str) -> str | None:
        """The first response header with this name (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def is_event_stream(self) -> bool:
        """The response says text/event-stream, or (no typed response) the request asked for it."""
        ctype = self.header("content-type")
        if ctype is not None:
            return ctype.split(";")[0].strip().lower() == "text/event-stream"
        return any(
            k.lower() == "accept" and "text/event-stream" in v.lower() for k, v in self.request_headers
        )


def make_client(limits: Limits) -> httpx.Client:
    """An httpx client for run_exchange.

    Redirects are not followed (the API key must only go to the target). TLS verification
    follows `limits.verify_tls`. `trust_env` keeps httpx's default (True) on purpose: users sit
    behind corporate proxies configured with HTTP(S)_PROXY / NO_PROXY and SSL_CERT_FILE, and the
    suite must work there. What that implies: a proxy from the environment sees the request
    (for plain http:// targets, the key too, as with any client); and when no API key is given,
    a ~/.netrc entry for the target host makes httpx add Basic auth (redacted like any
    Authorization header). With a key, run_exchange sets Authorization itself.
    """
    return httpx.Client(
        follow_redirects=False,
        verify=limits.verify_tls,
        timeout=_timeouts(limits, limits.timeout),
        http1=True,
        http2=False,
    )


def _timeouts(limits: Limits, time_left: float) -> httpx.Timeout:
    left = max(time_left, 0.001)
    return httpx.Timeout(
        connect=min(limits.connect_timeout, left),
        read=min(limits.idle_timeout, left),
        write=min(limits.idle_timeout, left),
        pool=min(limits.connect_timeout, left),
    )


# --------------------------------------------------------------------------------------------
# The deadline watchdog


class _Watchdog:
    """Shuts the connection's socket down when the total deadline passes.

    httpcore reads the read timeout once per response, so a target that sends one byte just
    before the deadline and then stalls would otherwise keep us waiting for a whole idle period
    after it. The sockets come from httpcore's trace hook (fresh connections) and from the
    response's `network_stream` extension (any connection). Shutting a socket down wakes a
    blocked recv() in the reading thread, which then sees EOF or an error; `fired` tells
    run_exchange that the deadline, not the target, ended the exchange.
    """

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._streams: list[Any] = []
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def trace(self, name: str, info: Mapping[str, Any]) -> None:
        if name.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is None or not hasattr(stream, "get_extra_info"):
            return
        with self._lock:
            if self._done:
                return
            self._streams.append(stream)
            fired = self.fired
        if fired:
            self._shutdown(stream)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            streams = list(self._streams)
        for stream in streams:
            self._shutdown(stream)

    @staticmethod
    def _shutdown(stream: Any) -> None:
        try:
            sock = stream.get_extra_info("socket")
            if sock is not None:
                # The plain socket method, also for an SSLSocket: shut the descriptor down
                # without touching the TLS object the reading thread is using.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (OSError, ValueError, AttributeError, TypeError):
            pass

    def stop(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


# --------------------------------------------------------------------------------------------
# Bounded decoding of Content-Encoding


class _DecodeError(Exception):
    pass


class _Decoder:
    """Incremental decoder whose output per call is bounded by the caller."""

    name = "identity"

    def decode(self, data: bytes, limit: int) -> bytes:
        """At most `limit` bytes of output; more than that possible means the caller stops."""
        return data[:limit]

    def leftover(self) -> bool:
        """True if input was consumed whose output has not been returned yet."""
        return False

    def incomplete(self) -> bool:
        """True at end of body if the encoded stream was cut short."""
        return False


class _ZlibDecoder(_Decoder):
    def __init__(self, name: str):
        self.name = name
        self._raw_fallback = name == "deflate"  # "deflate" is meant to be zlib, some send raw
        self._started = False
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS if name == "gzip" else zlib.MAX_WBITS)
        self._pending = b""

    def decode(self, data: bytes, limit: int) -> bytes:
        data = self._pending + data
        try:
            if self._d.eof:
                # After the end of the compressed stream: trailing junk or another gzip member;
                # neither is decoded (httpx ignores it too).
                self._pending = b""
                return b""
            out = self._d.decompress(data, max(limit, 1))
        except zlib.error as exc:
            if self._raw_fallback and not self._started:
                self._raw_fallback = False
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data, limit)
            raise _DecodeError(f"body is not valid {self.name} data ({exc})") from None
        self._started = True
        self._pending = self._d.unconsumed_tail
        return out

    def leftover(self) -> bool:
        return bool(self._pending)

    def incomplete(self) -> bool:
        return self._started and not self._d.eof


class _BrotliDecoder(_Decoder):
    """br, only when the optional `brotli` module (>= 1.2) is importable; never a dependency."""

    name = "br"

    def __init__(self, brotli: Any):
        self._d = brotli.Decompressor()
        self._pending = b""
        self._started = False

    def decode(self, data: bytes, limit: int) -> bytes:
        self._pending += data
        out = bytearray()
        try:
            # brotli >= 1.2 bounds its output and keeps unprocessed input itself; new input is
            # only accepted once its buffered output has been drained.
            while len(out) <= limit and not self._d.is_finished():
                if self._d.can_accept_more_data():
                    if not self._pending:
                        break
                    piece, self._pending = self._pending, b""
                else:
                    piece = b""
                more = self._d.process(piece, output_buffer_limit=max(limit + 1 - len(out), 1))
                out += more
                if not more and not piece:
                    break
        except Exception as exc:  # brotli.error; the module's exception types vary by version
            raise _DecodeError(f"body is not valid br data ({exc})") from None
        self._started = True
        return bytes(out)

    def leftover(self) -> bool:
        return bool(self._pending) or (not self._d.is_finished() and not self._d.can_accept_more_data())

    def incomplete(self) -> bool:
        return self._started and not self._d.is_finished()


def _decoder_for(content_encoding: str | None) -> tuple[_Decoder | None, str | None]:
    """(decoder, None) or (None, reason it cannot be decoded)."""
    if content_encoding is None:
        return _Decoder(), None
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return _Decoder(), None
    if len(codings) > 1:
        return None, f"stacked Content-Encoding {content_encoding!r} is not supported"
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder("gzip"), None
    if coding == "deflate":
        return _ZlibDecoder("deflate"), None
    if coding == "br":
        brotli = _brotli_module()
        if brotli is None:
            return None, "Content-Encoding br cannot be decoded (needs the optional brotli>=1.2 module; br was not requested)"
        return _BrotliDecoder(brotli), None
    return None, f"unsupported Content-Encoding {coding!r} (we asked for {_ACCEPT_ENCODING})"


# --------------------------------------------------------------------------------------------
# The exchange


def _secs(x: float) -> str:
    return f"{float(x)} s"


def _host_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        return parts.netloc.rsplit("@", 1)[-1] or "?"  # never userinfo
    except ValueError:
        return "?"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _reason(exc: BaseException) -> str:
    """The most specific message in the exception chain."""
    for e in reversed(_chain(exc)):
        text = str(e).strip()
        if text:
            return text
    return type(exc).__name__


def _is_tls(exc: BaseException) -> bool:
    import ssl

    return any(isinstance(e, ssl.SSLError) for e in _chain(exc))


def _check_api_key(api_key: str | None) -> None:
    if api_key is None:
        return
    if not api_key or any(not (0x21 <= ord(c) <= 0x7E) for c in api_key):
        # Never echo the key: only say what is wrong with it.
        raise ValueError(
            "the API key is empty or contains whitespace, control or non-ASCII characters "
            "(a trailing newline from a file?); it cannot be sent in an Authorization header"
        )


class _Run:
    """State of one exchange while it runs."""

    def __init__(self, exchange: Exchange, limits: Limits, redactor: Redactor,
                 sink: ExchangeSink | None, start: float):
        self.x = exchange
        self.limits = limits
        self.redactor = redactor
        self.sink = sink
        self.start = start
        self.parts: list[bytes] = []
        self.decoded = 0  # decoded (pre-redaction) bytes kept so far
        self.stream = redactor.stream()
        self.sink_stopped = False  # the sink raised StopReading: it gets nothing more

    def now(self) -> float:
        return time.monotonic() - self.start

    def finish(self, end: str, error: str | None = None) -> None:
        self.x.end = end
        if error is not None:
            text = " ".join(self.redactor.text(error).split())  # redact first, then cut
            if len(text) > _ERROR_MAX_CHARS:
                text = text[: _ERROR_MAX_CHARS - 1] + "…"
            self.x.error = text

    def emit(self, data: bytes) -> None:
        """Decoded bytes: count them, redact them, keep them, feed the sink."""
        if not data:
            return
        self.decoded += len(data)
        out = self.stream.feed(data)
        if out:
            self.parts.append(out)
            self._to_sink(out)

    def _to_sink(self, data: bytes) -> None:
        if self.sink is not None and not self.sink_stopped:
            try:
                self.sink.body(data)
            except StopReading:
                self.sink_stopped = True
                raise

    def close_body(self) -> None:
        tail = self.stream.flush()
        if tail:
            self.parts.append(tail)
            try:
                self._to_sink(tail)
            except StopReading as stop:
                if self.x.end == "eof":  # only then did the tail decide how the exchange ended
                    self.finish(stop.end, stop.message)
        self.x.body = self.redactor.bytes(b"".join(self.parts))  # catches nothing new; cheap

    def after(self) -> str:
        return f"after {self.x.bytes_received} bytes"


def run_exchange(
    client: httpx.Client,
    *,
    method: str,
    url: str,
    api_key: str | None,
    json_body: object = None,
    raw_body: bytes | None = None,
    extra_headers: Mapping[str, str] | None = None,
    limits: Limits,
    redactor: Redactor,
    sink: ExchangeSink | None = None,
) -> Exchange:
    """One bounded request/response exchange. See the module docstring.

    Raises only for programming or configuration errors (both bodies given, an API key with a
    newline in it); never for anything the target does.
    """
    if json_body is not None and raw_body is not None:
        raise ValueError("give json_body or raw_body, not both")
    _check_api_key(api_key)
    redactor = redactor.extended(api_key)

    headers: dict[str, str] = {"User-Agent": USER_AGENT, "Accept-Encoding": _ACCEPT_ENCODING}
    content: bytes | None = None
    if json_body is not None:
        content = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
        if isinstance(json_body, Mapping) and json_body.get("stream") is True:
            headers["Accept"] = "text/event-stream"
    elif raw_body is not None:
        content = bytes(raw_body)
        headers["Content-Type"] = "application/json"
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    for name, value in (extra_headers or {}).items():
        # Case-insensitive override of our defaults.
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value

    exchange = Exchange(
        method=method.upper(),
        url=redactor.text(url),
        request_headers=redactor.headers(headers.items()),
        request_body=redactor.bytes(content) if content is not None else None,
    )
    start = time.monotonic()
    run = _Run(exchange, limits, redactor, sink, start)
    watchdog = _Watchdog(limits.timeout)
    try:
        try:
            request = client.build_request(
                method.upper(), url, headers=headers, content=content,
                timeout=_timeouts(limits, limits.timeout),
                extensions={"trace": watchdog.trace},
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as exc:
            run.finish("connect_error", f"invalid target URL: {_reason(exc)}")
            return exchange
        exchange.request_headers = redactor.headers(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
        )
        watchdog.start()
        _send_and_read(client, request, run, watchdog, url)
    finally:
        watchdog.stop()
        exchange.elapsed = time.monotonic() - start
    return exchange


def _send_and_read(client: httpx.Client, request: httpx.Request, run: _Run,
                   watchdog: _Watchdog, url: str) -> None:
    x, limits = run.x, run.limits
    host = _host_of(url)
    try:
        response = client.send(request, stream=True, follow_redirects=False)
    except httpx.LocalProtocolError as exc:
        # We built an invalid request (a bad extra header): our bug or the user's, not the target's.
        raise ValueError(f"invalid request: {run.redactor.text(_reason(exc))}") from None
    except httpx.HTTPError as exc:
        if watchdog.fired or run.now() >= limits.timeout:
            run.finish("deadline", f"no response within the {_secs(limits.timeout)} total deadline")
        elif isinstance(exc, httpx.ConnectTimeout):
            tls = " (TLS handshake)" if _is_tls(exc) else ""
            run.finish("connect_error",
                       f"cannot connect to {host}: no connection within {_secs(limits.connect_timeout)}{tls} (connect limit)")
        elif isinstance(exc, httpx.PoolTimeout):
            run.finish("connect_error", f"cannot connect to {host}: no free connection within {_secs(limits.connect_timeout)}")
        elif isinstance(exc, httpx.ConnectError):
            if _is_tls(exc):
                run.finish("tls_error", f"TLS with {host} failed: {_reason(exc)}")
            else:
                run.finish("connect_error", f"cannot connect to {host}: {_reason(exc)}")
        elif isinstance(exc, httpx.ReadTimeout):
            run.finish("idle", f"no response status line within {_secs(min(limits.idle_timeout, limits.timeout))} (idle limit)")
        elif isinstance(exc, httpx.WriteTimeout):
            run.finish("idle", f"the target did not take the request body within {_secs(min(limits.idle_timeout, limits.timeout))} (idle limit)")
        elif isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
            run.finish("connect_error", f"invalid target URL: {_reason(exc)}")
        elif _is_tls(exc):
            run.finish("tls_error", f"TLS with {host} failed: {_reason(exc)}")
        else:
            # RemoteProtocolError, ReadError (reset), WriteError, garbage instead of HTTP.
            run.finish("protocol_error", f"no valid HTTP response from {host}: {_reason(exc)}")
        return

    try:
        watchdog.watch(response.extensions.get("network_stream"))
        x.headers_after = run.now()
        x.status = response.status_code
        x.headers = run.redactor.headers(
            (k.decode(response.headers.encoding, "replace"), v.decode(response.headers.encoding, "replace"))
            for k, v in response.headers.raw
        )
        if run.sink is not None:
            run.sink.head(x.status, list(x.headers))

        if 300 <= response.status_code < 400:
            location = response.headers.get("location")
            if location:
                target = _host_of(urljoin(str(request.url), location))
                where = "the same host" if target == _host_of(str(request.url)) else target
                run.finish("redirect",
                           f"HTTP {response.status_code} redirect to {where} not followed "
                           f"(the API key is only sent to the target URL)")
            else:
                run.finish("redirect", f"HTTP {response.status_code} without a Location header; not followed")
            return

        encoding = response.headers.get("content-encoding")
        decoder, why_not = _decoder_for(encoding)
        if decoder is None:
            run.finish("protocol_error", why_not)
            return
        if decoder.name != "identity":
            x.content_encoding = decoder.name
        _read_body(response, run, watchdog, decoder)
    finally:
        response.close()  # stops reading; a half-read body closes the connection
        run.close_body()


def _read_body(response: httpx.Response, run: _Run, watchdog: _Watchdog, decoder: _Decoder) -> None:
    x, limits = run.x, run.limits
    idle = min(limits.idle_timeout, limits.timeout)
    try:
        for chunk in response.iter_raw():
            if not chunk:
                continue
            if x.first_byte_after is None:
                x.first_byte_after = run.now()
            room_raw = limits.max_bytes - x.bytes_received
            over_raw = len(chunk) > room_raw
            if over_raw:
                chunk = chunk[:room_raw]
            x.bytes_received += len(chunk)
            if _feed_or_finish(run, decoder, chunk, limits):
                return
            if over_raw:
                run.finish("too_large", f"body exceeded {limits.max_bytes} bytes (size limit); stopped reading")
                return
            if watchdog.fired or run.now() >= limits.timeout:
                run.finish("deadline", f"body still arriving at the {_secs(limits.timeout)} total deadline, {run.after()}")
                return
    except httpx.HTTPError as exc:
        if watchdog.fired or run.now() >= limits.timeout:
            run.finish("deadline", f"body not finished within the {_secs(limits.timeout)} total deadline, {run.after()}")
        elif isinstance(exc, httpx.ReadTimeout):
            run.finish("idle", f"no bytes for {_secs(idle)} {run.after()} (idle limit)")
        else:
            run.finish("protocol_error", f"connection broken {run.after()}: {_reason(exc)}")
        return
    if watchdog.fired:
        # The watchdog's shutdown can look like a clean end of a close-delimited body.
        run.finish("deadline", f"body not finished within the {_secs(limits.timeout)} total deadline, {run.after()}")
        return
    if _feed_or_finish(run, decoder, b"", limits):  # b"": flush the decoder at the end of the body
        return
    if decoder.incomplete():
        run.finish("protocol_error", f"{decoder.name} body ends before the end of the compressed stream, {run.after()}")
        return
    run.finish("eof")


def _feed_or_finish(run: Any, decoder: Any, chunk: bytes, limits: Limits) -> bool:
    """Feed one chunk (b"" flushes); True when that ended the exchange: over the decoded size
    limit, a broken compressed stream, or the sink asking to stop."""
    try:
        if _feed(run, decoder, chunk):
            run.finish("too_large",
                       f"decoded {decoder.name} body exceeded {limits.max_bytes} bytes (size limit); stopped reading")
            return True
    except _DecodeError as exc:
        run.finish("protocol_error", f"{exc} {run.after()}")
        return True
    except StopReading as stop:
        run.finish(stop.end, f"{stop.message}; stopped reading {run.after()}")
        return True
    return False


def _feed(run: _Run, decoder: _Decoder, data: bytes) -> bool:
    """Decode `data` into the run within max_bytes; True if the decoded body is too large."""
    max_bytes = run.limits.max_bytes
    for _ in range(1_000_000):  # bounded: each round either ends or makes progress
        room = max_bytes - run.decoded
        out = decoder.decode(data, room + 1)
        data = b""
        if len(out) > room:
            run.emit(out[:room])
            return True
        run.emit(out)
        if not out or not decoder.leftover():
            return False  # all input used (or nothing more comes out of it without more input)
    return False
