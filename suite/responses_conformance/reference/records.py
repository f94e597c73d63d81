"""What the reference server remembers about a response: its event schedule, the Response
object GET shows at any moment, its input items, and the conversation a later
`previous_response_id` continues.

Every response (streamed or not, stored or not) is computed whole when it is accepted: the
model is deterministic, so the server knows every event it will send. What makes it look
like generation in progress is time: each event has the monotonic time `at` from which it
exists. A live stream sends the events as their time comes; `GET /v1/responses/{id}` shows
the Response of the last lifecycle event whose time has come (the final object once the
last event's time has passed); `GET ...?stream=true&starting_after=N` replays the events
after N, waiting for those whose time has not come yet. Background responses are the same
schedule spread over `background_step` seconds per state (queued, in_progress, done), which
needs no task running between requests and is the same in every event loop.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .model import Message

TERMINAL_STATUSES = frozenset({"completed", "incomplete", "failed", "cancelled"})


class IdFactory:
    """Ids of one response: `resp_`, and `msg_`/`rs_`/`fc_` items sharing its first digits.

    OpenAI ids are a prefix and 50 hex digits; the response and its items share the first
    18 digits, then an 8-digit hex timestamp, then random digits.
    """

    def __init__(self) -> None:
        self.shared = secrets.token_hex(9)
        self.stamp = f"{int(time.time()) & 0xFFFFFFFF:08x}"
        self.response_id = self.item("resp")

    def item(self, prefix: str) -> str:
        return f"{prefix}_{self.shared}{self.stamp}{secrets.token_hex(12)}"


@dataclass
class Scheduled:
    """One event of a response's stream and the time from which it exists."""

    at: float  # time.monotonic()
    name: str  # the SSE `event:` line
    payload: dict[str, Any]  # type, sequence_number, ... (obfuscation is added when sent)
    snapshot: dict[str, Any] | None = None  # lifecycle events: the Response GET shows from `at`

    @property
    def seq(self) -> int:
        return self.payload["sequence_number"]


@dataclass
class Record:
    """One accepted response."""

    id: str
    background: bool
    schedule: list[Scheduled]
    final: dict[str, Any]  # what GET shows once every event's time has passed
    conversation: list[Message]  # the model's view of the input (history included)
    replies: list[Message]  # what it answered, as later turns see it
    input_items: list[dict[str, Any]]  # this response's input items, history included
    cancelled_at: float | None = None
    cancelled: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def done_at(self) -> float:
        return self.schedule[-1].at if self.schedule else 0.0

    def finished(self, now: float) -> bool:
        return self.cancelled_at is not None or now >= self.done_at

    def response_at(self, now: float) -> dict[str, Any]:
        """The Response object as it stands at `now` (a deep copy)."""
        cancelled_at = self.cancelled_at
        if self.cancelled is not None and cancelled_at is not None and now >= cancelled_at:
            return copy.deepcopy(self.cancelled)
        if now >= self.done_at:
            return copy.deepcopy(self.final)
        current = None
        for event in self.schedule:
            if event.at > now:
                break
            if event.snapshot is not None:
                current = event.snapshot
        if current is None:  # not reached: the first event (response.created) has a snapshot
            current = self.schedule[0].snapshot or self.final
        return copy.deepcopy(current)

    def status_at(self, now: float) -> str:
        return str(self.response_at(now).get("status"))

    def visible(self) -> Iterator[Scheduled]:
        """The events a stream of this response sends at most: all of them, or, once it is
        cancelled, those that existed when it was."""
        for event in self.schedule:
            if self.cancelled_at is not None and event.at > self.cancelled_at:
                return
            yield event

    def last_seq(self) -> int | None:
        """The sequence_number of the last event a stream of it will ever send."""
        last = None
        for event in self.visible():
            last = event.seq
        return last

    def cancel(self, now: float) -> dict[str, Any]:
        """Cancel it at `now` (idempotent once cancelled). The caller checks it may be."""
        with self._lock:
            if self.cancelled is None:
                snapshot = self.response_at(now)
                snapshot["status"] = "cancelled"
                self.cancelled = snapshot
                self.cancelled_at = now
            return copy.deepcopy(self.cancelled)

    def history(self) -> tuple[list[Message], list[dict[str, Any]]]:
        """(conversation, items) a response continuing this one starts from: its input, and
        its output unless it was cancelled."""
        if self.cancelled is not None:
            return list(self.conversation), copy.deepcopy(self.input_items)
        output = [item for item in self.final.get("output", []) if isinstance(item, dict)]
        return [*self.conversation, *self.replies], copy.deepcopy([*self.input_items, *output])


class RecordStore:
    """A bounded, thread-safe LRU of records."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, record: Record) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            self._items[record.id] = record
            self._items.move_to_end(record.id)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def get(self, response_id: str) -> Record | None:
        with self._lock:
            record = self._items.get(response_id)
            if record is not None:
                self._items.move_to_end(response_id)
            return record

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._items.pop(response_id, None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


# --------------------------------------------------------------------------- input items

#: Id prefixes of input items the client sent without an id.
ITEM_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "reasoning": "rs",
    "compaction": "cmp",
}


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "input_image":  # OpenAI's normalised form: every field present
        return {"type": "input_image", "detail": part.get("detail") or "auto",
                "file_id": part.get("file_id"), "image_url": part.get("image_url")}
    return dict(part)


def _parts(content: Any, role: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if role == "assistant":
            return [{"type": "output_text", "text": content, "annotations": []}]
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        return []
    return [_part(part) for part in content if isinstance(part, dict)]


def input_items(input_value: str | list[Any], ids: IdFactory) -> list[dict[str, Any]]:
    """The request's (validated) `input` as the items `input_items` lists: every item with an
    id (the client's, or a new one) and a status, messages with a list of content parts."""
    if isinstance(input_value, str):
        input_value = [{"role": "user", "content": input_value}]
    items: list[dict[str, Any]] = []
    for raw in input_value:
        if not isinstance(raw, dict):
            continue
        kind = raw.get("type") or "message"
        given = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
        item_id = given or ids.item(ITEM_PREFIXES.get(kind, "item"))
        if kind == "message":
            role = str(raw.get("role", "user"))
            item: dict[str, Any] = {"id": item_id, "type": "message", "role": role,
                                    "content": _parts(raw.get("content"), role)}
            item["status"] = raw.get("status") or "completed"
        elif kind == "function_call":
            item = {"id": item_id, "type": "function_call",
                    "status": raw.get("status") or "completed",
                    "arguments": raw.get("arguments"), "call_id": raw.get("call_id"),
                    "name": raw.get("name")}
        elif kind == "function_call_output":
            item = {"id": item_id, "type": "function_call_output", "call_id": raw.get("call_id"),
                    "output": raw.get("output"), "status": raw.get("status") or "completed"}
        else:
            item = {"id": item_id, **{k: v for k, v in raw.items() if k != "id"}}
            item["type"] = kind
        items.append(item)
    return items


def without_image_urls(item: dict[str, Any]) -> dict[str, Any]:
    """The item with `image_url: null` in its input_image parts (what `input_items` shows
    unless `include` asks for `message.input_image.image_url`)."""
    content = item.get("content")
    if item.get("type") != "message" or not isinstance(content, list):
        return item
    parts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "input_image":
            part = {**part, "image_url": None}
        parts.append(part)
    return {**item, "content": parts}


def page(items: list[dict[str, Any]], *, limit: int, order: str,
         after: str | None) -> dict[str, Any]:
    """One page of `GET /v1/responses/{id}/input_items` (a list object)."""
    ordered = list(items) if order == "asc" else list(reversed(items))
    start = 0
    if after is not None:
        positions = [i for i, item in enumerate(ordered) if item.get("id") == after]
        if not positions:
            raise errors.ApiError(
                400, f"Invalid 'after': no input item with id '{after}' in this response.",
                param="after", code="invalid_value",
            )
        start = positions[0] + 1
    data = ordered[start:start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": start + limit < len(ordered),
    }
