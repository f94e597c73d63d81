"""What the checker remembers about one response stream.

Checks read the state as it was *before* the event they are looking at; only the checker
updates it (`StreamState.apply`), after every check has seen the event. Memory is bounded by
the response itself (its items and their text), never by the length of a capture.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import grammar as g

NO_SSE = object()  # Event.name when the event did not come through an SSE layer (JSON lines)
_LOOK_UP = object()  # StreamState._part: no item given, look it up


@dataclass(slots=True, init=False)  # __init__ below: one call per event instead of two
class Event:
    """One event as the checks see it.

    `is_object`, `type`, `seq` and `is_done_sentinel` are worked out once, when the event is
    made: every check reads them, and a replay makes millions of events.
    """

    index: int
    data: str
    payload: Any = None  # the decoded JSON value (None when data is not JSON)
    json_ok: bool = False
    name: Any = NO_SSE  # the SSE `event:` name, None when absent, NO_SSE without SSE framing
    sse_id: str | None = None  # the SSE `id:` field, when the event had one
    # The payload is a JSON object.
    is_object: bool = field(init=False, repr=False, compare=False)
    # The payload's `type` when it is a string, else None.
    type: str | None = field(init=False, repr=False, compare=False)
    # The payload's `sequence_number` when it is an integer (not a bool), else None.
    seq: int | None = field(init=False, repr=False, compare=False)
    # The data is the `[DONE]` sentinel (JSON never is, so only non-JSON data is looked at).
    is_done_sentinel: bool = field(init=False, repr=False, compare=False)
    # The payload's `output_index` when it is an integer (not a bool), else None.
    output_index: int | None = field(init=False, repr=False, compare=False)

    def __init__(self, index: int, data: str, payload: Any = None, json_ok: bool = False, name: Any = NO_SSE,
                 sse_id: str | None = None) -> None:
        self.index = index
        self.data = data
        self.payload = payload
        self.json_ok = json_ok
        self.name = name
        self.sse_id = sse_id
        if json_ok and isinstance(payload, dict):
            self.is_object = True
            value = payload.get("type")
            self.type = value if isinstance(value, str) else None
            # `type(v) is int`: one test where isinstance takes two (a bool is an int). json.loads
            # makes no int subclass; schema.event judges the field whatever it holds.
            value = payload.get("sequence_number")
            self.seq = value if type(value) is int else None
            value = payload.get("output_index")
            self.output_index = value if type(value) is int else None
            self.is_done_sentinel = False
        else:
            self.is_object = False
            self.type = None
            self.seq = None
            self.output_index = None
            self.is_done_sentinel = not json_ok and data.strip() == g.DONE_SENTINEL

    def get(self, key: str, default: Any = None) -> Any:
        return self.payload.get(key, default) if self.is_object else default


@dataclass
class PartState:
    index: int
    type: str | None
    added: Any
    deltas: list[str] = field(default_factory=list)
    delta_count: int = 0
    done_value: str | None = None  # from the text/refusal .done event
    done_events: int = 0
    closed: Any = None  # the part from content_part.done (or summary_part.done)
    is_closed: bool = False
    next_annotation_index: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.type, (list, dict)):  # unhashable, so no table lookup takes it: unknown, as absent
            self.type = None


@dataclass
class ItemState:
    index: int
    added: dict
    done: dict | None = None
    parts: dict[int, PartState] = field(default_factory=dict)
    next_content_index: int = 0
    summaries: dict[int, PartState] = field(default_factory=dict)
    next_summary_index: int = 0
    channel_deltas: dict[str, list[str]] = field(default_factory=dict)
    channel_done: dict[str, Any] = field(default_factory=dict)
    progress_rank: int = -1  # the furthest hosted-tool progress step seen (grammar.PROGRESS_STEPS)
    progress_seen: set[int] = field(default_factory=set)  # the ranks of every progress step seen
    # The added item's `id` and `type`, read once: the checks look them up on nearly every event.
    id: Any = field(init=False, repr=False, compare=False)
    type: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.id = self.added.get("id")
        self.type = self.added.get("type")
        if isinstance(self.type, (list, dict)):  # unhashable, so no table lookup takes it: unknown, as absent
            self.type = None

    @property
    def is_done(self) -> bool:
        return self.done is not None


@dataclass
class StreamState:
    starting_after: int | None = None
    json_events: int = 0  # events that were JSON objects (lifecycle order counts these)
    first_type: str | None = None
    previous_type: str | None = None  # type of the previous JSON event, keepalives excluded
    last_seq: int | None = None
    seen: dict[str, int] = field(default_factory=dict)  # lifecycle type -> count
    identity: dict[str, Any] | None = None  # id, created_at, model of the first lifecycle response
    terminal: str | None = None
    terminal_response: Any = None
    terminal_index: int | None = None
    done_sentinel: bool = False
    sse_id_seen: bool = False
    error_pending: int | None = None  # index of an `error` event not yet followed by response.failed
    false_terminals: list[str] = field(default_factory=list)
    items: dict[int, ItemState] = field(default_factory=dict)
    next_output_index: int = 0
    item_ids: dict[str, int] = field(default_factory=dict)
    call_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    # Events about items no output_item.added opened: the first item_id seen per output_index,
    # and the first output_index seen per item_id (ids.item_id_matches compares them).
    unopened_ids: dict[int, str] = field(default_factory=dict)
    unopened_indexes: dict[str, int] = field(default_factory=dict)
    # output_item.done events that named no open item (no usable output_index nor item id).
    unplaced_done: int = 0
    # The echoed request parameters of the first lifecycle response (ids.response_params_stable).
    params: dict[str, Any] | None = None
    # ... those parameters in ids.ECHOED_PARAMETERS order, and their exact_dump (made once).
    echoed_params: tuple[list[Any], bytes | None] | None = None
    # A terminal event or `data: [DONE]` was seen. Kept up to date by apply() (every check asks,
    # on every event): terminal is not None or done_sentinel.
    ended: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.ended = self.terminal is not None or self.done_sentinel

    def open_items(self) -> list[ItemState]:
        return [item for item in self.items.values() if not item.is_done]

    def done_items(self) -> list[ItemState]:
        return [self.items[i] for i in sorted(self.items) if self.items[i].is_done]

    def item_for(self, event: Event) -> ItemState | None:
        index = event.output_index
        if index is not None:
            return self.items.get(index)
        # No output_index (schema.event reports it): the item is still known by its id, so the
        # rest of the stream is judged as a client that tracks items by id would read it.
        if not event.is_object or not self.item_ids:
            return None
        item_id = event.payload.get("item_id")
        if item_id is None:
            item = event.payload.get("item")
            item_id = item.get("id") if isinstance(item, dict) else None
        found = self.item_ids.get(item_id) if isinstance(item_id, str) else None
        return None if found is None else self.items.get(found)

    # -- updating ----------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        if event.sse_id is not None:
            self.sse_id_seen = True
        if event.is_done_sentinel:
            self.done_sentinel = self.ended = True
            return
        if not event.is_object:
            return
        etype = event.type
        self.json_events += 1
        if self.first_type is None:
            self.first_type = etype
        if event.seq is not None:
            self.last_seq = event.seq
        if etype != g.KEEPALIVE:
            self.previous_type = etype
        index = event.output_index
        if index is not None and "item_id" in event.payload and index not in self.items:
            item_id = event.payload["item_id"]
            if isinstance(item_id, str):
                self.unopened_ids.setdefault(index, item_id)
                self.unopened_indexes.setdefault(item_id, index)
        # One look-up of what this event type changes (etype may be None: no entry).
        handler = _APPLY.get(etype)
        if handler is not None:
            handler(self, event)
        else:
            family = g.FAMILIES.get(etype)
            if family is not None:
                self._apply_family(event, family)

    def _apply_lifecycle(self, event: Event) -> None:
        etype = event.type
        self.seen[etype] = self.seen.get(etype, 0) + 1
        response = event.payload.get("response")
        if isinstance(response, dict) and self.identity is None:
            self.identity = {k: response.get(k) for k in ("id", "created_at", "model")}
            self.params = response
        if etype in g.TERMINAL and self.terminal is None:
            self.terminal = etype
            self.ended = True
            self.terminal_response = response
            self.terminal_index = event.index
        if etype == g.FAILED:
            self.error_pending = None

    def _apply_error(self, event: Event) -> None:
        self.error_pending = event.index

    def _apply_false_terminal(self, event: Event) -> None:
        self.false_terminals.append(event.type)

    def _apply_item_added(self, event: Event) -> None:
        index = event.get("output_index")
        item = event.get("item")
        if index is None and isinstance(item, dict):
            # No output_index (schema.event reports it): the item goes where a client appends it,
            # next in line, and later events find it by its id.
            index = self.next_output_index
        if not isinstance(index, int) or isinstance(index, bool) or not isinstance(item, dict):
            return
        if index in self.items:
            return  # a reused index: reported by ids.output_index_sequential, first one kept
        self.items[index] = ItemState(index=index, added=item)
        self.next_output_index = max(self.next_output_index, index + 1)
        item_id = item.get("id")
        if isinstance(item_id, str) and item_id and item_id not in self.item_ids:
            self.item_ids[item_id] = index
        call_id = item.get("call_id")
        if self.items[index].type in g.CALL_ID_STABLE_ITEMS and isinstance(call_id, str):
            self.call_ids.setdefault((item["type"], call_id), index)

    def _apply_item_done(self, event: Event) -> None:
        state = self.item_for(event)
        item = event.get("item")
        if state is None:
            self.unplaced_done += 1
        elif state.done is None and isinstance(item, dict):
            state.done = item

    def _apply_part_opened(self, event: Event, table: str, key: str, counter: str) -> None:
        """content_part.added (parts, content_index) or reasoning_summary_part.added (summaries, summary_index)."""
        state = self.item_for(event)
        index = event.get(key)
        parts = getattr(state, table) if state is not None else None
        if index is None and parts is not None:
            index = getattr(state, counter)  # no index (schema.event reports it): next in line, as a client appends
        if parts is None or not isinstance(index, int) or index in parts:
            return
        part = event.get("part")
        parts[index] = PartState(index=index, type=part.get("type") if isinstance(part, dict) else None, added=part)
        setattr(state, counter, max(getattr(state, counter), index + 1))

    def _apply_part_closed(self, event: Event, table: str, key: str) -> None:
        part = self._part(event, table, key)
        if part is not None and not part.is_closed:
            part.is_closed = True
            part.closed = event.get("part")

    def part_for(self, event: Event, table: str, key: str, item: Any = _LOOK_UP) -> PartState | None:
        """The part an event is about (table "parts" or "summaries", key its index field)."""
        return self._part(event, table, key, item)

    def _part(self, event: Event, table: str, key: str, item: Any = _LOOK_UP) -> PartState | None:
        """The part an event is about; `item`: its item when the caller already looked it up.
        (Events about parts are JSON objects: their payload is read directly.)"""
        state = self.item_for(event) if item is _LOOK_UP else item
        index = event.payload.get(key)
        if state is None:
            return None
        if index is None:
            # No index (schema.event reports it): the part a client would write to, the last opened.
            parts = getattr(state, table)
            return parts[max(parts)] if parts else None
        if not isinstance(index, int):
            return None
        return getattr(state, table).get(index)

    def _apply_family(self, event: Event, family: g.Family) -> None:
        # item_for(event), its common case inline (this runs on every delta). Nothing below
        # adds items: the same item for the whole event.
        index = event.output_index
        item_state = self.items.get(index) if index is not None else self.item_for(event)
        if item_state is not None:
            item_type = item_state.type
            if isinstance(item_type, str) and item_type in g.PROGRESS_STEPS:  # else progress_rank is None
                rank = g.progress_rank(event.type or "", item_type)
                if rank is not None:
                    item_state.progress_rank = max(item_state.progress_rank, rank)
                    item_state.progress_seen.add(rank)
        scope, role = family.scope, family.role
        if scope == "part" or scope == "summary":
            if scope == "part":
                target = self._part(event, "parts", "content_index", item_state)
            else:
                target = self._part(event, "summaries", "summary_index", item_state)
            if target is None:
                return
            if role == "delta":
                delta = event.payload.get("delta")
                if isinstance(delta, str):
                    target.deltas.append(delta)
                target.delta_count += 1
            elif role == "done":
                target.done_events += 1
                if target.done_value is None:
                    value = event.get(family.done_field)
                    target.done_value = value if isinstance(value, str) else None
            elif role == "annotation":
                target.next_annotation_index += 1
            return
        if role != "delta" and role != "done":
            return
        item = item_state
        if item is None or family.channel is None:
            return
        if role == "delta":
            delta = event.payload.get("delta")
            item.channel_deltas.setdefault(family.channel, []).append(delta if isinstance(delta, str) else "")
        elif family.done_field:
            item.channel_done.setdefault(family.channel, event.get(family.done_field))


# What each event type changes besides what every event does; an event type not listed here
# changes its family's part or channel (g.FAMILIES), if it has one.
_APPLY = {
    **dict.fromkeys(g.LIFECYCLE, StreamState._apply_lifecycle),
    g.ERROR: StreamState._apply_error,
    **dict.fromkeys(g.FALSE_TERMINALS, StreamState._apply_false_terminal),
    g.ITEM_ADDED: StreamState._apply_item_added,
    g.ITEM_DONE: StreamState._apply_item_done,
    g.PART_ADDED: lambda s, e: s._apply_part_opened(e, "parts", "content_index", "next_content_index"),
    g.PART_DONE: lambda s, e: s._apply_part_closed(e, "parts", "content_index"),
    g.SUMMARY_PART_ADDED: lambda s, e: s._apply_part_opened(e, "summaries", "summary_index", "next_summary_index"),
    g.SUMMARY_PART_DONE: lambda s, e: s._apply_part_closed(e, "summaries", "summary_index"),
}
