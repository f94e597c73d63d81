"""A raw-socket HTTP target on 127.0.0.1 that misbehaves on purpose.

Every connection runs `handler(peer)` in its own daemon thread. Nothing here can outlive its
test: the server stops when its `with` block ends or when its lifetime runs out, whichever
comes first, and every handler loop asks `peer.alive()` / `peer.wait()` before it goes on, so
hangs end when the server stops and floods are bounded in bytes and time.
"""
from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Peer", "ZooServer", "closed_port_url", "chunk", "read_request"]

MAX_REQUEST = 1 << 20


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked transfer-encoded body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def read_request(conn: socket.socket, limit: float = 3.0) -> bytes:
    """One request, head and Content-Length body; what arrived if the client stops early."""
    conn.settimeout(limit)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST:
            got = conn.recv(65536)
            if not got:
                return data
            data += got
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = min(int(value.strip()), MAX_REQUEST)
        while len(body) < length:
            got = conn.recv(65536)
            if not got:
                break
            body += got
        return head + b"\r\n\r\n" + body
    except (OSError, ssl.SSLError):
        return data


@dataclass
class Peer:
    """One accepted connection, as a handler sees it."""

    conn: socket.socket
    server: "ZooServer"
    request: bytes = b""

    def alive(self) -> bool:
        return self.server.alive()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False once the server is stopping (the handler should return)."""
        return self.server.wait(seconds)

    def hang(self) -> None:
        self.wait(3600)

    def send(self, data: bytes) -> bool:
        """Send all of `data`; False if the client has gone (or the server is stopping)."""
        if not self.alive():
            return False
        try:
            self.conn.sendall(data)
            return True
        except (OSError, ssl.SSLError):
            return False

    def header(self, name: str) -> str | None:
        for line in self.request.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None

    @property
    def wants_stream(self) -> bool:
        body = self.request.partition(b"\r\n\r\n")[2].replace(b" ", b"")
        return b'"stream":true' in body

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        try:
            self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.conn.close()


Handler = Callable[[Peer], None]


@dataclass
class ZooServer:
    """`with ZooServer(handler) as srv:` serves `srv.base_url` (…/v1) until the block ends."""

    handler: Handler
    lifetime: float = 60.0
    tls: ssl.SSLContext | None = None
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._deadline = time.monotonic() + self.lifetime
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    def alive(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def wait(self, seconds: float) -> bool:
        left = min(seconds, self._deadline - time.monotonic())
        return not self._stop.wait(max(left, 0)) and self.alive()

    def __enter__(self) -> "ZooServer":
        self._accepter.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(2)
        for thread in self._threads:
            thread.join(2)

    def _accept_loop(self) -> None:
        try:
            while self.alive():
                try:
                    conn, _ = self._sock.accept()
                except (socket.timeout, OSError):
                    continue
                self.connections += 1
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                thread.start()
                self._threads.append(thread)
        finally:
            self._sock.close()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(3)
                conn = self.tls.wrap_socket(conn, server_side=True)
            peer = Peer(conn, self)
            peer.request = read_request(conn)
            if peer.request:
                self.requests.append(peer.request)
            conn.settimeout(10)
            self.handler(peer)
        except (OSError, ssl.SSLError):
            pass  # the client went away: expected here
        finally:
            try:
                conn.close()
            except OSError:
                pass


def closed_port_url() -> str:
    """A base URL where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"
