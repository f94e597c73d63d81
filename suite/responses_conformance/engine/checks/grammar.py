"""grammar: event order and the lifecycle of responses, items and content parts
(spec-notes §6 rules 2-4, 6-9, 14, 17)."""
from __future__ import annotations

from typing import Iterator

from .. import grammar as g
from ..registry import MUST, SHOULD, STREAM, declare
from ..state import Event, ItemState, PartState, StreamState
from ..violations import Finding


declare("grammar.created_first", MUST, STREAM,
        "The first event is `response.created`.",
        "SDK-PY 'Expected to have received response.created before ...'; SDK-JS throws likewise (B-02, B-03).")
declare("grammar.in_progress_follows_created", SHOULD, STREAM,
        "`response.in_progress` follows `response.created` (after `response.queued` in background mode).",
        "OBS: second event of every OpenAI capture; OR state machine.")
declare("grammar.lifecycle_event_once", MUST, STREAM,
        "`response.created` and `response.in_progress` are each sent at most once.",
        "OBS; OR state machine: a response is created once.")
declare("grammar.terminal_event_present", MUST, STREAM,
        "The stream ends with `response.completed`, `response.incomplete` or `response.failed`.",
        "SDK-PY get_final_response: 'Didn't receive a response.completed event'; Codex retries streams that end without one (B-10, B-12, G-12).")
declare("grammar.nothing_after_terminal", MUST, STREAM,
        "No event follows the terminal event (a `[DONE]` sentinel aside).",
        "OBS; OR: the terminal event ends the response (B-10, A-11).")
declare("grammar.item_open", MUST, STREAM,
        "Every item event comes after its item's `output_item.added` and before its `output_item.done`.",
        "SDK-JS throws 'missing output at index'; Vercel AI SDK 'text part not found' (B-04, B-05, B-09).")
declare("grammar.item_closed", MUST, STREAM,
        "Every added output item is closed by `output_item.done` before the terminal event.",
        "OR item lifecycle; OBS (B-06).")
declare("grammar.part_open", MUST, STREAM,
        "Every content-part event comes after its `content_part.added` and before its `content_part.done`.",
        "OR: text 'MUST be backed by a content part'; SDK-JS (B-04, B-09, D-09).")
declare("grammar.part_closed", MUST, STREAM,
        "Every added content part is closed by `content_part.done` before its item is done.",
        "OR content part lifecycle; OBS.")
declare("grammar.text_done_once", MUST, STREAM,
        "Each text or refusal part gets exactly one `.done` event, after its last delta and before `content_part.done`.",
        "OBS: every OpenAI capture; clients finalise the text on `.done` (B-01).")
declare("grammar.arguments_done_sent", SHOULD, STREAM,
        "An item's argument, input or code deltas are closed by their `.done` event "
        "(`response.function_call_arguments.done`, ...) before `output_item.done`.",
        "OBS: every OpenAI capture with a call; SPEC documents the `.done` events; clients that run a tool on "
        "`.done` wait for it in vain (J-06).")
declare("grammar.event_matches_item_type", MUST, STREAM,
        "An event family is only used on its item and part type (`output_text.*` on a message's output_text part, ...).",
        "SDK-JS 'expected output item type'; SDK-PY asserts content.type == 'output_text' (B-08).")
declare("grammar.items_sequential", SHOULD, STREAM,
        "Output items are streamed one at a time: an item is done before the next is added.",
        "OBS: every OpenAI capture; some clients keep one active item (third-party servers interleave parallel calls).")
declare("grammar.tool_progress_order", SHOULD, STREAM,
        "Hosted-tool progress events of an item come in their documented order (in_progress, searching, completed, ...).",
        "SPEC event docs; spec-notes section 6 sub-grammars; clients drive progress indicators from them.")
declare("grammar.item_status", SHOULD, STREAM,
        "Items are added with status `in_progress` and done with a final status.",
        "OR item lifecycle; OBS; Grok CLI needs `status` (H-05, H-06).")


def on_event(state: StreamState, event: Event) -> list[Finding]:
    etype = event.type
    if etype is None:
        if event.is_done_sentinel:
            if state.done_sentinel:
                return [Finding("grammar.nothing_after_terminal", "a second data: [DONE]")]
        elif state.ended:
            return [Finding("grammar.nothing_after_terminal",
                            "data that is not an event after the end of the response")]
        elif state.json_events == 0 and event.is_object:
            return [Finding("grammar.created_first", "the first event has no type, so it is not response.created", "$")]
        return []
    found = []
    # A stream that opens with an `error` event is a failure reported as such (SDKs raise it);
    # error.event_followed_by_failed judges what follows it, not this rule as well.
    if state.json_events == 0 and etype not in (g.CREATED, g.ERROR):
        found.append(Finding("grammar.created_first", f"the first event is {etype}, not response.created", "$.type"))
    if state.ended:
        if etype != g.KEEPALIVE:
            after = "data: [DONE]" if state.done_sentinel else f"{state.terminal} (event #{state.terminal_index})"
            found.append(Finding("grammar.nothing_after_terminal", f"{etype} after {after}", "$.type"))
        return found
    if etype in _LIFECYCLE_RULES or state.previous_type in _AFTER_SNAPSHOT:  # else _lifecycle has nothing to say
        found.extend(_lifecycle(state, event, etype))
    handler = _HANDLERS.get(etype)
    if handler is not None:
        found.extend(handler(state, event))
        return found
    family = g.FAMILIES.get(etype)
    if family is not None:
        found += _family_event(state, event, etype, family)
    return found


def on_close(state: StreamState) -> Iterator[Finding]:
    if state.terminal is not None:
        return
    if state.error_pending is not None and state.previous_type == g.ERROR:
        return  # it ended on an error event: error.event_followed_by_failed says so, once
    if state.json_events == 0:
        yield Finding("grammar.terminal_event_present", "the stream carried no events")
        return
    why = f"; it sent {state.false_terminals[0]}, which is not a Responses API event" if state.false_terminals else ""
    yield Finding("grammar.terminal_event_present",
                  f"the stream ended after {state.json_events} events without response.completed, "
                  f"response.incomplete or response.failed (last: {state.previous_type}){why}")


# -- response lifecycle ---------------------------------------------------------------------
# _lifecycle reports only on these event types, or on any event after one of _AFTER_SNAPSHOT.
_LIFECYCLE_RULES = frozenset({g.CREATED, g.IN_PROGRESS, *g.TERMINAL})
_AFTER_SNAPSHOT = frozenset({g.CREATED, g.QUEUED})


def _lifecycle(state: StreamState, event: Event, etype: str) -> Iterator[Finding]:
    if etype in (g.CREATED, g.IN_PROGRESS) and state.seen.get(etype):
        yield Finding("grammar.lifecycle_event_once", f"a second {etype}", "$.type")
    previous = state.previous_type
    if etype != g.KEEPALIVE:
        if previous == g.CREATED and etype not in (g.IN_PROGRESS, g.QUEUED):
            yield Finding("grammar.in_progress_follows_created",
                          f"{etype} follows response.created; expected response.in_progress", "$.type")
        elif previous == g.QUEUED and etype not in (g.IN_PROGRESS, *g.TERMINAL):
            yield Finding("grammar.in_progress_follows_created",
                          f"{etype} follows response.queued; expected response.in_progress", "$.type")
    if etype in g.TERMINAL and etype != g.FAILED:
        for item in state.open_items():
            yield Finding("grammar.item_closed",
                          f"{etype} while item {item.index} ({item.type} {item.id}) was never closed by "
                          "response.output_item.done", "$.type")


# -- items ----------------------------------------------------------------------------------
def _item_added(state: StreamState, event: Event) -> Iterator[Finding]:
    index = event.get("output_index")
    open_items = [item for item in state.open_items() if item.index != index]
    if open_items:
        yield Finding("grammar.items_sequential",
                      f"item {index} added while item {open_items[0].index} is still open", "$.output_index")
    item = event.get("item")
    if isinstance(item, dict):
        status = item.get("status")
        # Only strings are looked up: a target may send any JSON value here (an object, a list).
        if isinstance(item.get("type"), str) and item["type"] in g.SAMPLED_ITEMS | {"function_call"} and \
                "status" in item and status != "in_progress":
            yield Finding("grammar.item_status", f"{item.get('type')} item added with status {status!r}",
                          "$.item.status")


def _item_done(state: StreamState, event: Event) -> Iterator[Finding]:
    item = _open_item(state, event)
    if not isinstance(item, ItemState):
        if item is not None:
            yield item
        return
    for table, label in ((item.parts, "content part"), (item.summaries, "summary part")):
        for part in table.values():
            if not part.is_closed:
                yield Finding("grammar.part_closed",
                              f"item {item.index} done while its {label} {part.index} is still open", "$.item")
    for channel, deltas in item.channel_deltas.items():
        closer = g.DONE_EVENT_OF_CHANNEL.get((item.type, channel))
        if closer is not None and channel not in item.channel_done:  # deltas of a foreign family: event_matches_item_type
            yield Finding("grammar.arguments_done_sent",
                          f"item {item.index} ({item.type}) is done after {len(deltas)} {channel} deltas without "
                          f"{closer}", "$.type")
    done = event.get("item")
    if isinstance(done, dict) and isinstance(done.get("type"), str) and done["type"] in g.SAMPLED_ITEMS and \
            "status" in done:
        if not isinstance(done["status"], str) or done["status"] not in g.FINAL_ITEM_STATUSES:
            yield Finding("grammar.item_status", f"{done.get('type')} item done with status {done.get('status')!r}",
                          "$.item.status")


def _part_added(state: StreamState, event: Event) -> Iterator[Finding]:
    item = _open_item(state, event)
    if not isinstance(item, ItemState):
        if item is not None:
            yield item
        return
    part = event.get("part")
    ptype = part.get("type") if isinstance(part, dict) else None
    allowed = g.PART_TYPES_BY_ITEM.get(item.type)
    if allowed is None or not isinstance(ptype, str) or ptype not in allowed:
        yield Finding("grammar.event_matches_item_type",
                      f"a {ptype} content part on a {item.type} item", "$.part.type")


def _part_closed(state: StreamState, event: Event, table: str, key: str, opener: str) -> Iterator[Finding]:
    """content_part.done or reasoning_summary_part.done: its item and part are open."""
    item = _open_item(state, event)
    if not isinstance(item, ItemState):
        if item is not None:
            yield item
        return
    found = _open_part(state, event, table, key, opener)
    if not isinstance(found, PartState):
        if found is not None:
            yield found
        return
    if found.type in ("output_text", "refusal") and found.done_events == 0:
        done_event = "response.output_text.done" if found.type == "output_text" else "response.refusal.done"
        yield Finding("grammar.text_done_once",
                      f"content_part.done for part {found.index} without {done_event} before it", "$.type")


def _summary_added(state: StreamState, event: Event) -> Iterator[Finding]:
    item = _open_item(state, event)
    if not isinstance(item, ItemState):
        if item is not None:
            yield item
        return
    if item.type != "reasoning":
        yield Finding("grammar.event_matches_item_type",
                      f"a reasoning summary part on a {item.type} item", "$.type")


def _family_event(state: StreamState, event: Event, etype: str, family: g.Family) -> list[Finding]:
    # A list, not a generator like the other rules here: it runs on nearly every event (deltas).
    item = _open_item(state, event)
    if not isinstance(item, ItemState):
        return [item] if item is not None else []
    if item.type not in family.items:
        return [Finding("grammar.event_matches_item_type", f"{etype} on a {item.type} item", "$.type")]
    found = []
    # progress_rank is None for item types without progress steps (messages, function calls, ...)
    rank = g.progress_rank(etype, item.type) if item.type in g.PROGRESS_STEPS else None
    # OBS: OpenAI repeats `mcp_call.in_progress` after argument deltas: a step already seen may
    # come again until the item's last step (completed or failed) has been sent.
    if rank is not None and rank < item.progress_rank and not (
            rank in item.progress_seen and item.progress_rank < g.last_progress_rank(item.type)):
        found.append(Finding("grammar.tool_progress_order",
                             f"{etype} after a later step of the same {item.type}", "$.type"))
    if family.scope == "part":
        part = _open_part(state, event, "parts", "content_index", "content_part.added", item)
    elif family.scope == "summary":
        part = _open_part(state, event, "summaries", "summary_index", "reasoning_summary_part.added", item)
    else:
        return found
    if not isinstance(part, PartState):
        if part is not None:
            found.append(part)
        return found
    if family.scope == "part" and part.type not in family.parts:
        found.append(Finding("grammar.event_matches_item_type", f"{etype} on a {part.type} part", "$.type"))
        return found
    if family.role == "delta" and part.done_events:
        found.append(Finding("grammar.text_done_once", f"{etype} after the part's .done event", "$.type"))
    elif family.role == "done" and part.done_events:
        found.append(Finding("grammar.text_done_once", f"a second {etype} for part {part.index}", "$.type"))
    return found


def _open_item(state: StreamState, event: Event) -> ItemState | Finding | None:
    """The event's open item; a finding when there is none; None when the event names no
    output_index and no known item id (schema.event reports the missing field: one cause)."""
    index = event.output_index  # state.item_for(event), its common case inline: every delta
    item = state.items.get(index) if index is not None else state.item_for(event)
    if item is None and event.get("output_index") is None:
        return None
    if item is None:
        return Finding("grammar.item_open",
                       f"{event.type} for output_index {event.get('output_index')!r}, which no output_item.added "
                       "opened", "$.output_index")
    if item.done is not None:
        return Finding("grammar.item_open",
                       f"{event.type} for output_index {event.get('output_index')} after its output_item.done",
                       "$.output_index")
    return item


def _open_part(state: StreamState, event: Event, table: str, key: str, opener: str,
               item: ItemState | None = None) -> PartState | Finding | None:
    """`item`: the event's item when the caller already looked it up."""
    if item is None:
        item = state.item_for(event)
    index = event.payload.get(key)  # a typed event: a JSON object
    if index is None:
        # No index (schema.event reports it): the last opened part, as a client writes to it.
        part = state.part_for(event, table, key, item) if item is not None else None
        if part is None or part.is_closed:
            return None  # which part it meant cannot be known: schema.event's finding alone
    else:
        part = getattr(item, table).get(index) if item is not None and isinstance(index, int) else None
    if part is None:
        return Finding("grammar.part_open", f"{event.type} for {key} {index!r}, which no {opener} opened",
                       f"$.{key}")
    if part.is_closed:
        return Finding("grammar.part_open", f"{event.type} for {key} {index} after the part was done",
                       f"$.{key}")
    return part


_HANDLERS = {
    g.ITEM_ADDED: _item_added,
    g.ITEM_DONE: _item_done,
    g.PART_ADDED: _part_added,
    g.PART_DONE: lambda s, e: _part_closed(s, e, "parts", "content_index", "content_part.added"),
    g.SUMMARY_PART_ADDED: _summary_added,
    g.SUMMARY_PART_DONE: lambda s, e: _part_closed(s, e, "summaries", "summary_index",
                                                   "reasoning_summary_part.added"),
}
