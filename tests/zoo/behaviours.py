"""The zoo: one handler per way a target can be broken or hostile.

Each factory returns a `Handler` for `ZooServer`. Every loop is bounded in bytes (a cap far
above any limit the suite uses in tests) and stops as soon as the client goes away or the
server stops, so a suite that failed to stop reading would still end.
"""
from __future__ import annotations

import functools
import json
import random
import struct
import zlib
from typing import Any, Iterable

from .server import Handler, Peer, chunk

FLOOD_CAP = 256 << 20  # no flood sends more than this, whatever the client does
BLOCK = 64 << 10

SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Connection: close\r\n\r\n")  # close-delimited body
SSE_CHUNKED_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n")


# --------------------------------------------------------------------------------------------
# A conformant stream to break


@functools.lru_cache(maxsize=1)
def reference_stream() -> bytes:
    """What the embedded reference server streams for the text-stream scenario (conformant)."""
    import httpx

    from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer

    with ReferenceServer() as server:
        response = httpx.post(f"{server.base_url}/responses", timeout=10, trust_env=False,
                              json={"model": DEFAULT_MODEL, "input": "Say hello in exactly three words.",
                                    "stream": True},
                              headers={"Authorization": f"Bearer {server.api_key}"})
    response.raise_for_status()
    return response.content


def events() -> list[dict[str, Any]]:
    """The reference stream's payloads, in order (fresh copies)."""
    out = []
    for block in reference_stream().decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def sse(items: Iterable[dict[str, Any] | str | tuple[str, str]]) -> bytes:
    """SSE bytes: a dict gets `event: <type>`; a str is raw data; (name, data) sets both."""
    parts = []
    for item in items:
        if isinstance(item, dict):
            parts.append(f"event: {item.get('type')}\ndata: {dumps(item)}\n\n")
        elif isinstance(item, tuple):
            parts.append(f"event: {item[0]}\ndata: {item[1]}\n\n")
        else:
            parts.append(f"data: {item}\n\n")
    return "".join(parts).encode()


def first_delta(evs: list[dict[str, Any]]) -> int:
    return next(i for i, e in enumerate(evs) if e["type"] == "response.output_text.delta")


# --------------------------------------------------------------------------------------------
# Simple answers


def respond(status: str, content_type: str, body: bytes, extra: str = "") -> Handler:
    def handler(peer: Peer) -> None:
        peer.send(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                  f"{extra}Connection: close\r\n\r\n".encode() + body)
    return handler


def answers_plain_requests(handler: Handler) -> Handler:
    """A WebSocket target still speaks plain HTTP: the suite's preflight (a POST) gets a
    conformant Response; the upgrade (a GET) gets the handler's misbehaviour."""
    final = next(e["response"] for e in reversed(events()) if e.get("type") == "response.completed")
    plain = respond("200 OK", "application/json", dumps(final).encode())

    def wrapper(peer: Peer) -> None:
        (plain if peer.request.startswith(b"POST ") else handler)(peer)
    return wrapper


def stream(body: bytes) -> Handler:
    """200 text/event-stream with this body, then close."""
    def handler(peer: Peer) -> None:
        peer.send(SSE_HEAD + body)
    return handler


HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Please sign in</h1>"
             b"<form action=/login method=post><input name=user></form></body></html>\n")
GATEWAY_PAGE = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def html_200() -> Handler:
    return respond("200 OK", "text/html; charset=utf-8", HTML_PAGE)


def gateway_502() -> Handler:
    return respond("502 Bad Gateway", "text/html", GATEWAY_PAGE, "Server: nginx\r\n")


def redirect(location: str) -> Handler:
    return respond("307 Temporary Redirect", "text/plain", b"moved\n", f"Location: {location}\r\n")


# --------------------------------------------------------------------------------------------
# Time: hangs and drips


def hang_before_status() -> Handler:
    return lambda peer: peer.hang()


def hang_after_headers() -> Handler:
    def handler(peer: Peer) -> None:
        if peer.send(SSE_CHUNKED_HEAD):
            peer.hang()
    return handler


def hang_mid_stream() -> Handler:
    def handler(peer: Peer) -> None:
        evs = events()
        if peer.send(SSE_CHUNKED_HEAD + chunk(sse(evs[: len(evs) // 2]))):
            peer.hang()
    return handler


def drip(interval: float = 1.0) -> Handler:
    """The reference stream, one byte per `interval` seconds."""
    def handler(peer: Peer) -> None:
        if not peer.send(SSE_HEAD):
            return
        for byte in reference_stream():
            if not peer.wait(interval) or not peer.send(bytes([byte])):
                return
    return handler


def reset_mid_stream() -> Handler:
    def handler(peer: Peer) -> None:
        evs = events()
        if peer.send(SSE_CHUNKED_HEAD + chunk(sse(evs[: len(evs) // 2]))):
            peer.wait(0.2)
            peer.reset()
    return handler


# --------------------------------------------------------------------------------------------
# Size: floods


def _flood(peer: Peer, head: bytes, opening: bytes, block: bytes, cap: int = FLOOD_CAP) -> None:
    if not peer.send(head + opening):
        return
    sent = 0
    while sent < cap and peer.send(block):
        sent += len(block)


def endless_stream() -> Handler:
    """created, in_progress, an item and a part, then well-formed deltas without end (fast)."""
    def handler(peer: Peer) -> None:
        evs = events()
        start = first_delta(evs)
        delta = evs[start]
        if not peer.send(SSE_HEAD + sse(evs[:start])):
            return
        sent, seq = 0, start
        while sent < FLOOD_CAP:
            block = sse({**delta, "sequence_number": seq + n, "delta": "la "} for n in range(500))
            seq += 500
            if not peer.send(block):
                return
            sent += len(block)
    return handler


def long_line(size: int = 100 << 20) -> Handler:
    """One `data:` line of `size` bytes (100 MB by default), no newline until its end."""
    def handler(peer: Peer) -> None:
        filler = b"a" * BLOCK
        _flood(peer, SSE_HEAD, b'data: {"type":"response.created","x":"', filler, cap=size)
        peer.send(b'"}\n\n')
    return handler


def huge_body() -> Handler:
    """A JSON body announced and sent as 10 GB: far larger than any Response or error."""
    def handler(peer: Peer) -> None:
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n"
                b"Connection: close\r\n\r\n")
        _flood(peer, head, b'{"id":"resp_1","object":"response","output":[', b'{"type":"message"},' * 4096)
    return handler


def tiny_events(count: int = 1_000_000) -> Handler:
    """A million minimal events: `data: {}` after a proper start."""
    def handler(peer: Peer) -> None:
        per_block = 10_000
        block = b"data: {}\n\n" * per_block
        _flood(peer, SSE_HEAD, sse(events()[:2]), block, cap=count // per_block * len(block))
    return handler


@functools.lru_cache(maxsize=2)
def gzip_bomb(size: int = 2 << 30) -> bytes:
    """A valid gzip body (about 2 MB) that inflates to `size` bytes (2 GiB by default): the start
    of a stream, then one SSE comment line of spaces.

    Built in well under a second: after a full flush deflate forgets its history, so every
    1 MiB block of spaces compresses to the same bytes, which are repeated instead of recomputed.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    opening = sse(events()[:2]) + b":"
    block = b" " * (1 << 20)
    head = comp.compress(opening) + comp.flush(zlib.Z_FULL_FLUSH)
    one = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    assert one == comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    count = size // len(block)
    crc = zlib.crc32(opening)
    for _ in range(count + 1):  # the two blocks above and count - 1 copies
        crc = zlib.crc32(block, crc)
    total = len(opening) + (count + 1) * len(block)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + one * (count + 1) + comp.flush()
            + struct.pack("<II", crc, total & 0xFFFFFFFF))


def gzip_body() -> Handler:
    def handler(peer: Peer) -> None:
        bomb = gzip_bomb()
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(bomb))
        if peer.send(head):
            for i in range(0, len(bomb), BLOCK):
                if not peer.send(bomb[i:i + BLOCK]):
                    return
    return handler


# --------------------------------------------------------------------------------------------
# Bytes that are not what they claim


def invalid_utf8() -> Handler:
    evs = events()
    i = first_delta(evs)
    body = sse(evs[:i]) + sse([evs[i]]).replace(b'"delta":"', b'"delta":"\xff\xfe\xc3(') + sse(evs[i + 1:])
    return stream(body)


def garbage_body() -> Handler:
    noise = random.Random(5).randbytes(64 << 10)
    return stream(noise)


def garbage_instead_of_http() -> Handler:
    noise = random.Random(7).randbytes(4096)
    return lambda peer: peer.send(noise)


def chat_chunks() -> Handler:
    chunks = []
    for n, text in enumerate(["Hello", " there", "!"]):
        chunks.append(dumps({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1700000000,
                             "model": "gpt-4o-mini",
                             "choices": [{"index": 0, "delta": ({"role": "assistant"} if n == 0 else {}) |
                                          {"content": text}, "finish_reason": None}]}))
    chunks.append(dumps({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1700000000,
                         "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    return stream(sse([*chunks, "[DONE]"]))


def data_after_terminal() -> Handler:
    """A whole conformant stream, then `[DONE]`, then more events."""
    evs = events()
    late = {**evs[first_delta(evs)], "sequence_number": len(evs), "delta": " again"}
    late2 = {**late, "sequence_number": len(evs) + 1, "delta": " and again"}
    return stream(sse([*evs, late, "[DONE]", late2]))


# --------------------------------------------------------------------------------------------
# JSON that parses badly or strangely


def deeply_nested(depth: int) -> Handler:
    """The first delta's `delta` is `depth` nested arrays instead of a string."""
    evs = events()
    i = first_delta(evs)
    data = dumps(evs[i]).replace('"delta":"You"', '"delta":' + "[" * depth + "]" * depth)
    assert data != dumps(evs[i])
    return stream(sse(evs[:i]) + sse([(evs[i]["type"], data)]) + sse(evs[i + 1:]))


def nested_value(levels: int) -> Any:
    """`levels` nested containers, lists and objects in turn, around a string."""
    value: Any = "bottom"
    for level in range(levels):
        value = {"a": value} if level % 2 else [value]
    return value


def deep_at_the_limit(limit: int) -> Handler:
    """Payloads nested exactly `limit` deep (the deepest the suite parses), where a schema
    leaves values free (a function tool's `parameters`) and where it does not (`metadata`, a
    delta): streamed for stream requests, the final Response as JSON otherwise."""
    evs = events()
    for event in evs:
        if "response" in event:
            # payload > response > tools > tool > parameters: parameters is at depth 5.
            event["response"]["tools"] = [{"type": "function", "name": "f", "description": None, "strict": False,
                                           "parameters": nested_value(limit - 4)}]
            event["response"]["metadata"] = {"deep": nested_value(limit - 3)}
    i = first_delta(evs)
    evs[i]["delta"] = nested_value(limit - 1)
    body = sse(evs)
    final = json.dumps(evs[-1]["response"]).encode()

    def handler(peer: Peer) -> None:
        if peer.wants_stream:
            peer.send(SSE_HEAD + body)
        else:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n" % len(final) + final)
    return handler


def nan_and_infinity() -> Handler:
    evs = events()
    raw = [dumps(e) for e in evs]
    i = next(n for n, e in enumerate(evs) if e["type"] == "response.in_progress")
    raw[i] = raw[i].replace('"temperature":1.0', '"temperature":NaN').replace('"top_p":1.0', '"top_p":Infinity')
    assert "NaN" in raw[i] and "Infinity" in raw[i]
    return stream(sse([(e["type"], r) for e, r in zip(evs, raw)]))


def duplicate_keys() -> Handler:
    """Every event repeats `type` and `sequence_number`: first a wrong value, then the right one."""
    evs = events()
    raw = ['{"type":"bogus","sequence_number":999,' + dumps(e)[1:] for e in evs]
    return stream(sse([(e["type"], r) for e, r in zip(evs, raw)]))


def numbers_as_strings() -> Handler:
    evs = events()
    for event in evs:
        for key in ("sequence_number", "output_index", "content_index"):
            if key in event:
                event[key] = str(event[key])
    return stream(sse(evs))


# --------------------------------------------------------------------------------------------
# Secrets


def echo_key(other_host: str | None = None) -> Handler:
    """Echoes the Authorization header everywhere it can: headers, status line, bodies, error
    messages, JSON-escaped and URL-encoded, split across chunks, in a redirect's Location."""
    from urllib.parse import quote

    def handler(peer: Peer) -> None:
        auth = peer.header("authorization") or ""
        key = auth.removeprefix("Bearer ")
        echo_headers = (f"X-Echo: {auth}\r\nX-Key: {key}\r\nWWW-Authenticate: Bearer realm=\"{key}\"\r\n"
                        f"Set-Cookie: k={key}\r\nX-Encoded: {quote(key, safe='')}\r\n")
        request_line = peer.request.split(b"\r\n", 1)[0]
        if request_line.startswith(b"GET") and other_host:
            # A redirect to another host carrying the key in the query string.
            peer.send(f"HTTP/1.1 302 Found\r\nLocation: http://{other_host}/v1/steal?key={quote(key)}\r\n"
                      f"{echo_headers}Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
            return
        if b'"input": "Hello"}' in peer.request and not peer.wants_stream:
            # The suite's preflight request: answered, with the key in the text, so that the
            # whole suite runs against this target and meets every echo below.
            final = next(e["response"] for e in reversed(events()) if e.get("type") == "response.completed")
            final["output"][0]["content"][0]["text"] = f"your key is {key}"
            body = dumps(final).encode()
            peer.send(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{echo_headers}"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            return
        if peer.wants_stream:
            evs = events()
            i = first_delta(evs)
            evs[i]["delta"] = f"your key is {key} "
            evs.insert(1, {"type": "error", "sequence_number": 1, "code": "invalid_api_key",
                           "message": f"Incorrect API key provided: {key}", "param": json.dumps(key)})
            body = sse(evs) + f"data: {key}\n\n".encode()
            cut = body.index(key.encode()) + len(key) // 2 if key else len(body) // 2
            peer.send(f"HTTP/1.1 200 {key}\r\nContent-Type: text/event-stream\r\n{echo_headers}"
                      "Transfer-Encoding: chunked\r\n\r\n".encode() + chunk(body[:cut]))
            peer.wait(0.05)
            peer.send(chunk(body[cut:]) + b"0\r\n\r\n")
            return
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}. You sent {auth!r}",
                                     "type": "invalid_request_error", "param": key, "code": key},
                           key: quote(key)}).encode()
        peer.send(f"HTTP/1.1 401 Bad key {key}\r\nContent-Type: application/json\r\n{echo_headers}"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return handler
