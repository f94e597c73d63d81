"""Tiny broken targets on 127.0.0.1 for the plugin tests: each answers every request the same
broken way. Threads, bounded, and stopped by the context manager."""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .zoo.server import closed_port_url, read_request  # noqa: F401 - closed_port_url is re-exported

Handler = Callable[[socket.socket, bytes], None]


@contextmanager
def target(handler: Handler) -> Iterator[str]:
    """Serve `handler(conn, request_bytes)` for every connection; yields the base URL (…/v1)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def serve_one(conn: socket.socket) -> None:
        with conn:
            try:
                handler(conn, read_request(conn))
            except OSError:
                pass

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            worker = threading.Thread(target=serve_one, args=(conn,), daemon=True)
            worker.start()
            workers.append(worker)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


def respond(status: str, content_type: str, body: bytes, extra_headers: str = "") -> Handler:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                     f"{extra_headers}Connection: close\r\n\r\n".encode() + body)
    return handler


def hang(seconds: float) -> Handler:
    def handler(conn: socket.socket, request: bytes) -> None:
        threading.Event().wait(seconds)
    return handler


def echo_key() -> Handler:
    """Echoes the Authorization header into a header, the body and an error message."""
    def handler(conn: socket.socket, request: bytes) -> None:
        auth = ""
        for line in request.split(b"\r\n"):
            if line.lower().startswith(b"authorization:"):
                auth = line.split(b":", 1)[1].strip().decode(errors="replace")
        body = ('{"error": {"message": "Incorrect API key provided: %s", "type": "invalid_request_error", '
                '"param": null, "code": "invalid_api_key"}, "echo": "%s"}' % (auth, auth)).encode()
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Echo: {auth}\r\n"
                     f"Connection: close\r\n\r\n".encode()
                     + b"event: response.created\ndata: " + body + b"\n\n")
    return handler
