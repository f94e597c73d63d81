"""The zoo's WebSocket targets: `/responses` in WebSocket mode, broken or hostile on purpose.

The handshake and the framing are the `websockets` library's sans-IO server protocol (no frame
is built or parsed by hand here); what goes into the frames, and when the connection ends, is
each handler's misbehaviour. Like the HTTP handlers, every loop is bounded in bytes and stops
as soon as the client goes away or the zoo server stops.
"""
from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from . import behaviours as zoo
from .server import Handler, Peer

FLOOD_CAP = zoo.FLOOD_CAP


class WsPeer:
    """The server side of one WebSocket connection on a zoo connection."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.protocol = ServerProtocol(max_size=1 << 20)
        self.closed = False

    def accept(self) -> bool:
        """Complete the upgrade the zoo server already read; False if it was no upgrade."""
        self.protocol.receive_data(self.peer.request)
        events = self.protocol.events_received()
        if not events:
            return False
        response = self.protocol.accept(events[0])
        self.protocol.send_response(response)
        return self.flush() and response.status_code == 101

    def flush(self) -> bool:
        data = b"".join(self.protocol.data_to_send())
        return self.peer.send(data) if data else self.peer.alive()

    def receive(self, timeout: float = 5.0) -> str | None:
        """The next text message from the client (None: it closed, went away, or said nothing)."""
        self.peer.conn.settimeout(0.2)
        waited = 0.0
        while self.peer.alive() and waited < timeout:
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    return event.data.decode("utf-8", "replace")
                if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                    self.flush()  # the protocol answers the close
                    self.closed = True
                    return None
            try:
                data = self.peer.conn.recv(65536)
            except socket.timeout:
                waited += 0.2
                continue
            except (OSError, ssl.SSLError):
                return None
            if not data:
                self.protocol.receive_eof()
                return None
            self.protocol.receive_data(data)
            self.flush()  # pongs, close answers
        return None

    def text(self, data: str | bytes) -> bool:
        """One text frame; bytes are sent as they are, valid UTF-8 or not."""
        if self.closed:
            return False
        self.protocol.send_text(data.encode("utf-8") if isinstance(data, str) else data)
        return self.flush()

    def binary(self, data: bytes) -> bool:
        self.protocol.send_binary(data)
        return self.flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.protocol.send_close(code, reason)
        self.flush()

    def events(self, payloads: Iterable[dict[str, Any]]) -> bool:
        return all(self.text(zoo.dumps(p)) for p in payloads)


def _serve(on_create: Callable[[WsPeer, dict[str, Any]], bool]) -> Handler:
    """Accept the upgrade, then call `on_create` for every client message until it returns False."""
    @zoo.answers_plain_requests
    def handler(peer: Peer) -> None:
        ws = WsPeer(peer)
        if not ws.accept():
            return
        while peer.alive():
            message = ws.receive(timeout=30)
            if message is None:
                return
            try:
                event = json.loads(message)
            except ValueError:
                event = {}
            if not on_create(ws, event if isinstance(event, dict) else {}):
                return
    return handler


# --------------------------------------------------------------------------------------------
# A conformant target, and the broken ones


def conformant() -> Handler:
    """Every response.create answered with the reference stream's events, one text frame each."""
    return _serve(lambda ws, event: ws.events(zoo.events()))


def never_answers() -> Handler:
    """Accepts the upgrade, reads the request, says nothing."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        ws.peer.hang()
        return False
    return _serve(on_create)


def frame_flood(text: str = "la " * 1000) -> Handler:
    """created, in_progress, an item and a part, then well-formed delta frames without end.

    Each delta holds `text` (3 kB): every frame is far below the size limit, a few hundred of
    them are above it, so the limit on the bytes of all frames is what stops the client, soon,
    not the deadline (ten thousand tiny frames, each checked, took seconds on a loaded machine)."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        evs = zoo.events()
        start = zoo.first_delta(evs)
        if not ws.events(evs[:start]):
            return False
        delta, sent, seq = evs[start], 0, start
        while sent < FLOOD_CAP:
            frame = zoo.dumps({**delta, "sequence_number": seq, "delta": text})
            if not ws.text(frame):
                return False
            seq += 1
            sent += len(frame)
        return False
    return _serve(on_create)


def huge_frame(size: int = 8 << 20) -> Handler:
    """One text frame of `size` bytes (8 MB), far above any event."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        ws.text(b'{"type":"response.created","x":"' + b"a" * size + b'"}')
        return False
    return _serve(on_create)


def invalid_utf8() -> Handler:
    """The first delta's text frame holds bytes that are not UTF-8."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        evs = zoo.events()
        i = zoo.first_delta(evs)
        bad = zoo.dumps(evs[i]).encode().replace(b'"delta":"', b'"delta":"\xff\xfe\xc3(')
        if ws.events(evs[:i]) and ws.text(bad):
            ws.events(evs[i + 1:])
        ws.receive(timeout=2)  # the client's close (1007)
        return False
    return _serve(on_create)


def binary_frames() -> Handler:
    """The reference stream, every event in a binary frame."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        return all(ws.binary(zoo.dumps(p).encode()) for p in zoo.events())
    return _serve(on_create)


def close_mid_response(code: int = 1000) -> Handler:
    """Half the response, then a close frame (a deliberate close, mid-response)."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        evs = zoo.events()
        if ws.events(evs[: len(evs) // 2]):
            ws.close(code, "going away mid-response")
            ws.receive(timeout=2)
        return False
    return _serve(on_create)


def drop_mid_response() -> Handler:
    """Half the response, then a TCP reset: no close frame."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        evs = zoo.events()
        if ws.events(evs[: len(evs) // 2]):
            ws.peer.wait(0.2)
            ws.peer.reset()
        return False
    return _serve(on_create)


NOT_FOUND = json.dumps({"error": {"message": "Invalid URL (GET /v1/responses)", "type": "invalid_request_error",
                                  "param": None, "code": None}}).encode()


def upgrade_refused() -> Handler:
    """A server without WebSocket mode: the upgrade is a GET, answered 405 with the error envelope."""
    return zoo.answers_plain_requests(zoo.respond("405 Method Not Allowed", "application/json", NOT_FOUND))


def echo_key() -> Handler:
    """Echoes the Authorization header of the upgrade into frames: a binary frame, a delta, an
    error message (JSON-escaped, for requests it refuses) and, after the response, the close
    reason (read by the next step on the connection)."""
    def on_create(ws: WsPeer, event: dict[str, Any]) -> bool:
        auth = ws.peer.header("authorization") or ""
        key = auth.removeprefix("Bearer ")
        if event.get("type") != "response.create" or "model" not in event:
            ws.text(json.dumps({"type": "error", "status": 400, "error": {
                "type": "invalid_request_error", "code": "invalid_request", "param": key,
                "message": f"Bad request from {key}. You sent {auth!r}"}}))
            return True
        evs = zoo.events()
        i = zoo.first_delta(evs)
        evs[i]["delta"] = f"your key is {key} "
        ws.binary(key.encode())
        ws.events(evs)
        ws.close(4001, f"bad key {key}"[:120])
        ws.receive(timeout=2)
        return False
    return _serve(on_create)
