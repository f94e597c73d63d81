"""The HTTP layer against small hostile servers on 127.0.0.1.

Every server is a raw socket in a thread with its own lifetime: it stops when the test ends or
when the lifetime runs out, whichever comes first. Limits are small, so the whole file runs in
a few seconds, and every test asserts the end reason, the message, and that the exchange ended
within its limits.
"""
from __future__ import annotations

import gzip
import json
import shlex
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import pytest

from responses_conformance import http as http_layer
from responses_conformance.http import Exchange, Limits, make_client, run_exchange
from responses_conformance.redact import REDACTED, Redactor

from .zoo.server import chunk, read_request
from responses_conformance.transcript import curl_command, safe_name, write_transcript

CANARY = "sk-canary-DO-NOT-LEAK-1234567890"
SMALL = Limits(timeout=1.5, connect_timeout=1.0, idle_timeout=0.5, max_bytes=64 * 1024)
SLACK = 2.0
STREAM_BODY = {"model": "m", "input": "hi", "stream": True}
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


# --------------------------------------------------------------------------------------------
# Hostile servers


def header_of(request: bytes, name: bytes) -> bytes | None:
    for line in request.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


class Server:
    """Accepts connections on an ephemeral port and runs `handler(conn, server)` for each."""

    def __init__(self, handler: Callable[[socket.socket, "Server"], None], lifetime: float = 8.0):
        self.handler = handler
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self.connections = 0
        self.deadline = time.monotonic() + lifetime
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/responses"

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False if the server is stopping (handlers then return)."""
        left = min(seconds, self.deadline - time.monotonic())
        return not self.stop.wait(max(left, 0)) and time.monotonic() < self.deadline

    def hang(self) -> None:
        self.wait(3600)

    def request(self, conn: socket.socket) -> bytes:
        req = read_request(conn)
        self.requests.append(req)
        return req

    def _accept_loop(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)
        self.sock.close()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.handler(conn, self)
        except OSError:
            pass  # the client went away: expected with hostile tests
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for t in self.threads:
            t.join(2)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    """make_client trusts the environment; a proxy from it must not catch 127.0.0.1 here."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(handler, lifetime: float = 8.0) -> Server:
        server = Server(handler, lifetime)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object, float]] = []

    def head(self, status, headers):
        self.calls.append(("head", (status, headers), time.monotonic()))

    def body(self, chunk):
        self.calls.append(("body", chunk, time.monotonic()))

    @property
    def chunks(self) -> list[bytes]:
        return [c for kind, c, _ in self.calls if kind == "body"]


def exchange(url: str, limits: Limits = SMALL, *, api_key: str | None = CANARY, sink=None,
             json_body: object = STREAM_BODY, **kw) -> tuple[Exchange, float]:
    """Run one exchange; returns it and the wall-clock time it took."""
    start = time.monotonic()
    with make_client(limits) as client:
        x = run_exchange(client, method="POST", url=url, api_key=api_key, json_body=json_body,
                         limits=limits, redactor=Redactor([api_key]), sink=sink, **kw)
    wall = time.monotonic() - start
    assert wall < limits.timeout + SLACK, f"took {wall:.2f} s"
    assert x.elapsed <= wall + 0.01
    assert x.end == "eof" or (x.error and "\n" not in x.error), x.error
    assert CANARY not in repr(x)
    return x, wall


# --------------------------------------------------------------------------------------------
# Connection failures


def test_connection_refused_is_a_connect_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now
    x, wall = exchange(f"http://127.0.0.1:{port}/v1/responses")
    assert x.end == "connect_error"
    assert x.status is None
    assert f"cannot connect to 127.0.0.1:{port}" in x.error
    assert "refused" in x.error.lower()
    assert not x.completed


def test_unknown_host_is_a_connect_error():
    x, _ = exchange("http://nonexistent.invalid/v1/responses")
    assert x.end == "connect_error"
    assert "nonexistent.invalid" in x.error


def test_tls_verification_failure_is_a_tls_error(tmp_path: Path, serve):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not available to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def handler(conn, srv):
        conn.settimeout(2)
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        srv.request(tls)  # only reached with verification off
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    srv = serve(handler)
    x, _ = exchange(f"https://127.0.0.1:{srv.port}/v1/responses")
    assert x.end == "tls_error"
    assert x.error.startswith(f"TLS with 127.0.0.1:{srv.port} failed")
    assert "certificate" in x.error.lower()
    assert srv.requests == []  # the key never went over the unverified connection


# --------------------------------------------------------------------------------------------
# Hangs, drips and floods


def test_hang_before_status_line_is_idle(serve):
    def handler(conn, srv):
        srv.request(conn)
        srv.hang()

    x, wall = exchange(serve(handler).url)
    assert x.end == "idle"
    assert x.status is None
    assert x.error == "no response status line within 0.5 s (idle limit)"
    assert wall < SMALL.idle_timeout + 0.5


def test_hang_after_headers_is_idle(serve):
    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD)
        srv.hang()

    sink = RecordingSink()
    x, wall = exchange(serve(handler).url, sink=sink)
    assert x.end == "idle"
    assert x.status == 200
    assert x.body == b""
    assert x.error == "no bytes for 0.5 s after 0 bytes (idle limit)"
    assert [kind for kind, _, _ in sink.calls] == ["head"]
    assert wall < SMALL.idle_timeout + 0.5


def test_hang_mid_stream_is_idle_and_keeps_what_arrived(serve):
    first = b'event: response.created\ndata: {"type":"response.created"}\n\n'

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD + chunk(first))
        srv.hang()

    x, _ = exchange(serve(handler).url)
    assert x.end == "idle"
    assert x.body == first
    assert x.error == f"no bytes for 0.5 s after {len(first)} bytes (idle limit)"
    assert x.first_byte_after is not None and x.first_byte_after < 0.5


def test_slow_drip_stops_at_the_total_deadline(serve):
    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD)
        while srv.wait(0.2):
            conn.sendall(chunk(b"x"))

    x, wall = exchange(serve(handler).url)
    assert x.end == "deadline"
    assert "1.5 s total deadline" in x.error
    assert SMALL.timeout - 0.05 <= x.elapsed < SMALL.timeout + 0.5
    assert 3 <= len(x.body) <= 9 and set(x.body) == {ord("x")}


def test_deadline_holds_while_a_read_is_blocked(serve):
    # A byte at 0.5 s, then silence: the idle limit (0.8 s) alone would end at 1.3 s.
    limits = Limits(timeout=1.0, connect_timeout=1.0, idle_timeout=0.8, max_bytes=1024)

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD)
        srv.wait(0.5)
        conn.sendall(chunk(b"x"))
        srv.hang()

    x, wall = exchange(serve(handler).url, limits)
    assert x.end == "deadline"
    assert x.error == "body not finished within the 1.0 s total deadline, after 1 bytes"
    assert wall < 1.25


def test_endless_fast_stream_stops_at_max_bytes(serve):
    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD)
        piece = chunk(b"data: " + b"a" * 8000 + b"\n\n")
        while not srv.stop.is_set():
            conn.sendall(piece)

    x, _ = exchange(serve(handler).url)
    assert x.end == "too_large"
    assert x.error == "body exceeded 65536 bytes (size limit); stopped reading"
    assert len(x.body) == SMALL.max_bytes
    assert x.bytes_received == SMALL.max_bytes


def test_endless_stream_without_a_size_limit_in_reach_stops_at_the_deadline(serve):
    limits = Limits(timeout=1.0, connect_timeout=1.0, idle_timeout=0.5, max_bytes=1 << 30)

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD)
        while srv.wait(0.01):
            conn.sendall(chunk(b"data: {}\n\n"))

    x, wall = exchange(serve(handler).url, limits)
    assert x.end == "deadline"
    assert wall < limits.timeout + 0.5


# --------------------------------------------------------------------------------------------
# Content-Encoding


def gzip_bomb(size: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    out = [c.compress(block) for _ in range(size >> 20)]
    out.append(c.flush())
    return b"".join(out)


def test_gzip_bomb_stops_at_max_bytes_with_bounded_memory(serve):
    limits = Limits(timeout=3.0, connect_timeout=1.0, idle_timeout=1.0, max_bytes=1 << 20)
    bomb = gzip_bomb(256 << 20)  # 256 MiB of zeros in about 250 KiB
    assert len(bomb) < limits.max_bytes

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb)
        srv.hang()

    srv = serve(handler)
    tracemalloc.start()
    try:
        x, _ = exchange(srv.url, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert x.end == "too_large"
    assert x.error == f"decoded gzip body exceeded {limits.max_bytes} bytes (size limit); stopped reading"
    assert x.content_encoding == "gzip"
    assert len(x.body) <= limits.max_bytes
    assert peak < 16 << 20, f"peak {peak} bytes"


def test_gzip_body_is_decoded_for_the_sink(serve):
    events = b"".join(b'data: {"n":%d}\n\n' % i for i in range(50))
    packed = gzip.compress(events)

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n"))
        for i in range(0, len(packed), 40):
            conn.sendall(chunk(packed[i:i + 40]))
        conn.sendall(b"0\r\n\r\n")

    sink = RecordingSink()
    x, _ = exchange(serve(handler).url, sink=sink)
    assert x.end == "eof", x.error
    assert x.error is None
    assert x.content_encoding == "gzip"
    assert x.body == events
    assert b"".join(sink.chunks) == events
    assert x.bytes_received == len(packed)


def test_raw_deflate_is_decoded_too(serve):
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    packed = c.compress(b'{"ok":true}') + c.flush()

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n"
                     % len(packed) + packed)

    x, _ = exchange(serve(handler).url, json_body={"model": "m"})
    assert x.end == "eof", x.error
    assert x.body == b'{"ok":true}'


def test_truncated_gzip_is_a_protocol_error(serve):
    packed = gzip.compress(b"data: {}\n\n" * 100)[:-12]

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                     % len(packed) + packed)

    x, _ = exchange(serve(handler).url)
    assert x.end == "protocol_error"
    assert "gzip body ends before the end of the compressed stream" in x.error


def test_unsupported_content_encoding_is_a_protocol_error(serve):
    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: 4\r\n\r\nabcd")

    x, _ = exchange(serve(handler).url)
    assert x.end == "protocol_error"
    assert "unsupported Content-Encoding 'zstd'" in x.error


def test_br_is_decoded_only_with_a_bounded_brotli_module(serve):
    brotli = http_layer._brotli_module()  # optional: brotli >= 1.2 or nothing
    data = b'data: {"n":1}\n\n' * 100
    payload = brotli.compress(data) if brotli else b"\x1b\x63\x00\xf8not really br"

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: %d\r\n\r\n"
                     % len(payload) + payload)

    x, _ = exchange(serve(handler).url)
    sent = dict((k.lower(), v) for k, v in x.request_headers)
    if brotli:
        assert sent["accept-encoding"] == "gzip, deflate, br"
        assert x.end == "eof" and x.body == data and x.content_encoding == "br"
    else:
        assert sent["accept-encoding"] == "gzip, deflate"
        assert x.end == "protocol_error"
        assert x.error.startswith("Content-Encoding br cannot be decoded")


# --------------------------------------------------------------------------------------------
# Broken connections and garbage


def test_reset_mid_stream_is_a_protocol_error_and_keeps_what_arrived(serve):
    first = b'data: {"type":"response.created"}\n\n'

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD + chunk(first))
        srv.wait(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # RST

    x, _ = exchange(serve(handler).url)
    assert x.end == "protocol_error"
    assert x.error.startswith(f"connection broken after {len(first)} bytes: ")
    assert x.body == first


def test_close_before_the_status_line_is_a_protocol_error(serve):
    def handler(conn, srv):
        srv.request(conn)

    x, _ = exchange(serve(handler).url)
    assert x.end == "protocol_error"
    assert x.error.startswith("no valid HTTP response from 127.0.0.1:")


def test_garbage_instead_of_http_is_a_protocol_error(serve):
    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")

    x, _ = exchange(serve(handler).url)
    assert x.end == "protocol_error"
    assert "no valid HTTP response" in x.error


# --------------------------------------------------------------------------------------------
# Redirects and the key


def test_redirect_to_another_host_is_not_followed(serve):
    other = serve(lambda conn, srv: srv.request(conn))

    def handler(conn, srv):
        srv.request(conn)
        location = f"http://localhost:{other.port}/v1/responses?api_key={CANARY}"
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())

    first = serve(handler)
    x, _ = exchange(first.url)
    time.sleep(0.2)
    assert x.end == "redirect"
    assert x.status == 302
    assert x.error == (f"HTTP 302 redirect to localhost:{other.port} not followed "
                       "(the API key is only sent to the target URL)")
    assert other.connections == 0 and other.requests == []
    assert len(first.requests) == 1
    assert header_of(first.requests[0], b"authorization") == f"Bearer {CANARY}".encode()
    assert ("Location", f"http://localhost:{other.port}/v1/responses?api_key={REDACTED}") in x.headers


def echo_handler(conn, srv):
    """Echoes the Authorization header in a header, the JSON error and an SSE body."""
    req = srv.request(conn)
    auth = (header_of(req, b"authorization") or b"").decode()
    key = auth.removeprefix("Bearer ")
    if b'"stream": true' in req:
        event = json.dumps({"type": "error", "message": f"bad key {key}", "url": quote(key, safe="")})
        data = f"event: error\ndata: {event}\n\n".encode()
        cut = data.index(b"LEAK")  # the key split across two chunks
        conn.sendall(SSE_HEAD.replace(b"\r\n\r\n", f"\r\nX-Echo: {auth}\r\n\r\n".encode())
                     + chunk(data[:cut]))
        srv.wait(0.1)
        conn.sendall(chunk(data[cut:]) + b"0\r\n\r\n")
        return
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}",
                                 "type": "invalid_request_error", "echo": auth,
                                 "escaped": json.dumps(key)}}).encode()
    conn.sendall(
        f"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nX-Echo: {auth}\r\n"
        f"WWW-Authenticate: Bearer realm={key}\r\nSet-Cookie: session={key}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )


def assert_no_canary_in(directory: Path) -> None:
    files = list(directory.rglob("*"))
    assert files
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data, path.name
        assert quote(CANARY, safe="").encode() not in data, path.name


def test_key_echoed_in_body_headers_and_error_never_leaks(serve, tmp_path: Path):
    srv = serve(echo_handler)
    x, _ = exchange(srv.url, json_body={"model": "m", "input": "hi"})
    assert header_of(srv.requests[0], b"authorization") == f"Bearer {CANARY}".encode()
    assert x.end == "eof" and x.status == 401
    assert CANARY.encode() not in x.body and REDACTED.encode() in x.body
    assert json.loads(x.body)["error"]["message"] == f"Incorrect API key provided: {REDACTED}"
    assert ("X-Echo", REDACTED) in x.headers or ("X-Echo", f"Bearer {REDACTED}") in x.headers
    assert ("Authorization", REDACTED) in x.request_headers
    paths = write_transcript(tmp_path, "error-invalid-key", x, events=[{"type": "error", "msg": CANARY}],
                             violations=[{"check": "x", "message": f"saw {CANARY}"}],
                             extra={"note": CANARY}, redactor=Redactor([CANARY]))
    assert paths["body"].name == "error-invalid-key.body"
    assert paths["json"].name == "error-invalid-key.json"
    record = json.loads(paths["json"].read_text())
    assert record["request"]["body"] == {"model": "m", "input": "hi"}
    assert record["response"]["status"] == 401 and record["response"]["end"] == "eof"
    assert record["events"] == [{"type": "error", "msg": REDACTED}]
    assert_no_canary_in(tmp_path)


def test_key_split_across_stream_chunks_never_reaches_the_sink(serve, tmp_path: Path):
    sink = RecordingSink()
    x, _ = exchange(serve(echo_handler).url, sink=sink)
    assert x.end == "eof", x.error
    assert len(sink.chunks) >= 2
    seen = b"".join(sink.chunks)
    assert CANARY.encode() not in seen and seen == x.body
    assert seen.count(REDACTED.encode()) == 2  # raw and URL-encoded echo
    paths = write_transcript(tmp_path, "text/basic: stream?", x, redactor=Redactor([CANARY]))
    assert paths["body"].name == "text_basic_stream.sse"
    assert_no_canary_in(tmp_path)


def test_key_in_a_garbage_status_line_is_redacted_from_the_error(serve):
    def handler(conn, srv):
        req = srv.request(conn)
        conn.sendall(b"HTTZ " + (header_of(req, b"authorization") or b"") + b"\r\n\r\n")

    x, _ = exchange(serve(handler).url)
    assert x.end == "protocol_error"
    assert REDACTED in x.error and CANARY not in x.error


def test_api_key_with_a_newline_is_refused_without_echoing_it():
    with make_client(SMALL) as client, pytest.raises(ValueError) as info:
        run_exchange(client, method="POST", url="http://127.0.0.1:9/", api_key=CANARY + "\n",
                     json_body={}, limits=SMALL, redactor=Redactor([]))
    assert CANARY not in str(info.value)


# --------------------------------------------------------------------------------------------
# The normal case


def test_chunked_sse_reaches_the_sink_incrementally_and_in_order(serve):
    events = [b'event: e%d\ndata: {"n":%d}\n\n' % (i, i) for i in range(4)]
    sent_last = []

    def handler(conn, srv):
        srv.request(conn)
        conn.sendall(SSE_HEAD)
        for ev in events:
            srv.wait(0.15)
            if ev is events[-1]:
                sent_last.append(time.monotonic())
            conn.sendall(chunk(ev))
        conn.sendall(b"0\r\n\r\n")

    sink = RecordingSink()
    x, _ = exchange(serve(handler).url, sink=sink)
    assert x.end == "eof" and x.completed and x.error is None
    assert x.status == 200 and x.is_event_stream
    assert sink.calls[0][0] == "head" and sink.calls[0][1][0] == 200
    assert sink.chunks == events  # one chunk per event here, in order
    first_chunk_at = sink.calls[1][2]
    assert first_chunk_at < sent_last[0] - 0.2  # fed before the server had sent the rest
    assert x.body == b"".join(events)
    assert 0 < x.first_byte_after < x.elapsed
    sent = dict((k.lower(), v) for k, v in x.request_headers)
    assert sent["accept"] == "text/event-stream"
    assert sent["content-type"] == "application/json"
    assert sent["user-agent"].startswith("responses-conformance/")
    assert sent["authorization"] == REDACTED


def test_curl_command_never_contains_the_key(serve):
    x, _ = exchange(serve(echo_handler).url, json_body={"model": "m", "input": "it's \"quoted\""})
    cmd = curl_command(x)
    assert CANARY not in cmd
    assert '-H "Authorization: Bearer $OPENAI_API_KEY"' in cmd
    assert cmd.startswith("curl -sS -N ")
    argv = shlex.split(cmd)
    assert json.loads(argv[argv.index("--data-raw") + 1]) == {"model": "m", "input": "it's \"quoted\""}
    assert x.url in argv
    assert "-X" not in argv
    # Built from parts, with the key in a header value and the body: still no key.
    cmd2 = curl_command(method="POST", url="http://h/v1/responses?k=" + CANARY,
                        headers=[("Authorization", "Bearer " + CANARY), ("api-key", CANARY)],
                        body=json.dumps({"k": CANARY}), redactor=Redactor([CANARY]))
    assert CANARY not in cmd2 and '"api-key: $OPENAI_API_KEY"' in cmd2


# --------------------------------------------------------------------------------------------
# Redactor and names


def test_redactor_covers_encoded_forms_headers_and_json():
    secret = "sk-canary/DO+NOT=LEAK é"
    r = Redactor([None, "", secret])
    for form in (secret, quote(secret, safe=""), json.dumps(secret)[1:-1],
                 json.dumps(secret)[1:-1].replace("/", "\\/")):
        assert r.text(f"a {form} b") == f"a {REDACTED} b"
        assert r.bytes(f"<{form}>".encode()) == f"<{REDACTED}>".encode()
    assert r.headers([("Cookie", "x"), ("X-Other", f"v={secret}")]) == [("Cookie", REDACTED), ("X-Other", f"v={REDACTED}")]
    value = {"a": [secret, 1, {"b": (secret,)}], secret: None}
    assert r.json(value) == {"a": [REDACTED, 1, {"b": (REDACTED,)}], REDACTED: None}
    assert value["a"][0] == secret  # a copy
    assert Redactor([None, ""]).text("unchanged") == "unchanged"
    assert secret not in repr(r)


def test_stream_redactor_catches_a_secret_split_at_every_offset():
    data = f"data: before {CANARY} after\n\n".encode()
    for cut in range(len(data) + 1):
        s = Redactor([CANARY]).stream()
        out = s.feed(data[:cut]) + s.feed(data[cut:]) + s.flush()
        assert out == f"data: before {REDACTED} after\n\n".encode(), cut


def test_safe_name():
    assert safe_name("text-basic") == "text-basic"
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("") == "exchange"
    assert safe_name("CON") == "_CON"
    assert len(safe_name("x" * 500)) <= 120
