"""Sending a record's events as they fall due: as SSE (`POST /v1/responses` with `stream`,
and `GET /v1/responses/{id}?stream=true` replays) or as WebSocket payloads.

Every `*.delta` event gets `obfuscation` padding, as OpenAI's, unless the request turned it
off (`stream_options.include_obfuscation: false`); the padding is derived from the response
id and sequence number, so a replay pads each event as the live stream did. No `[DONE]`
ends a stream, except in the Open Responses flavour.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

from .context import ServerContext
from .records import Record, Scheduled
from .wire import dumps

_OBFUSCATION_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def obfuscation(response_id: str, seq: int, delta: str) -> str:
    seed = hashlib.sha256(f"{response_id}:{seq}".encode()).digest()
    length = 16 - len(delta) % 16
    return "".join(_OBFUSCATION_ALPHABET[b % 62] for b in seed[:length])


def _padded(record: Record, event: Scheduled) -> dict[str, Any]:
    """The event's payload, with `obfuscation` when it is a text delta."""
    payload = event.payload
    delta = payload.get("delta")
    if payload["type"].endswith(".delta") and isinstance(delta, str):
        payload = {**payload, "obfuscation": obfuscation(record.id, event.seq, delta)}
    return payload


async def sse_events(ctx: ServerContext, record: Record, after: int | None,
                     obfuscate: bool) -> AsyncIterator[bytes]:
    """The record's events after sequence_number `after`, each once its time has come;
    a cancelled response's stream ends with the last event from before the cancel."""
    sent = 0
    for event in record.schedule:
        if after is not None and event.seq <= after:
            continue
        wait = event.at - time.monotonic()
        if sent or wait > 0:
            await asyncio.sleep(max(0.0, wait))
        if record.cancelled_at is not None and event.at > record.cancelled_at:
            break
        sent += 1
        payload = _padded(record, event) if obfuscate else event.payload
        yield f"event: {event.name}\ndata: ".encode() + dumps(payload) + b"\n\n"
    if ctx.open_responses:
        await asyncio.sleep(ctx.event_delay)
        yield b"data: [DONE]\n\n"


async def ws_payloads(record: Record) -> AsyncIterator[dict[str, Any]]:
    """The record's events as a stream sends them (obfuscation included), each when due."""
    for event in record.schedule:
        await asyncio.sleep(max(0.0, event.at - time.monotonic()))
        yield _padded(record, event)
