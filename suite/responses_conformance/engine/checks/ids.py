"""ids: identities and indexes stay what they were announced as (spec-notes §6 rules 5-7, 9, 10)."""
from __future__ import annotations

from typing import Any, Iterator

from .. import defaults
from .. import grammar as g
from ..registry import MUST, SHOULD, STREAM, SUCCESS, declare
from ..state import Event, StreamState
from .consistency import equal_json, exact_dump, first_difference
from ..violations import Finding

IDENTITY_FIELDS = ("id", "created_at", "model")
# Request parameters a Response echoes: one request, so one value in every lifecycle event.
# (service_tier is left out: OpenAI reports "auto" while in progress and the tier used at the end.)
ECHOED_PARAMETERS = tuple(sorted({*defaults.RESPONSE_DEFAULTS, "instructions", "max_output_tokens", "max_tool_calls",
                                  "previous_response_id", "reasoning"}))


declare("ids.response_id_stable", MUST, STREAM,
        "`response.id`, `created_at` and `model` are the same in every lifecycle event.",
        "OBS; clients chain on the id (D-03, I-06; the Copilot id-rotation capture).")
declare("ids.response_params_stable", SHOULD, STREAM,
        "The request parameters a response echoes (`tools`, `tool_choice`, `parallel_tool_calls`, `temperature`, "
        "...) are the same in `response.created`, `response.in_progress` and the terminal event.",
        "OBS: every OpenAI capture; they describe one request, so a value that changes is wrong in one of the "
        "events (a bridge flipping `parallel_tool_calls`).")
declare("ids.output_index_sequential", MUST, STREAM,
        "`output_item.added` events use output_index 0, 1, 2, ... in order, each once.",
        "SDK-JS validateArrayAppend; OpenClaw maps output by position (D-08, D-11, D-12).")
declare("ids.item_id_matches", MUST, STREAM,
        "An event's `item_id` is the id of the item at its `output_index`.",
        "SDK-JS 'expected item_id'; Vercel AI SDK 'text part not found' (D-01, D-04).")
declare("ids.item_identity_stable", MUST, STREAM,
        "`output_item.done` keeps the `id`, `type` (and `call_id`) of the added item.",
        "SDK-JS 'expected output item id'; @ai-sdk/openai crashes (D-02, D-05).")
declare("ids.item_id_present", MUST, SUCCESS,
        "Every output item has a non-empty string `id`.",
        "OR: every item MUST have an id; SDK-JS (D-06).")
declare("ids.item_ids_unique", MUST, SUCCESS,
        "Output item ids are unique within a response.",
        "SDK-JS 'duplicate output item identity'.")
declare("ids.content_index_sequential", MUST, STREAM,
        "`content_part.added` events of an item use content_index 0, 1, 2, ... in order.",
        "SDK-JS; openai-python IndexError (D-09, D-10).")
declare("ids.annotation_index_sequential", MUST, STREAM,
        "Annotations of a part are numbered 0, 1, 2, ... in order.",
        "SDK-JS validateArrayAppend.")
declare("ids.conventional_prefix", SHOULD, SUCCESS,
        "Ids use OpenAI's prefixes (`resp_` for responses, `msg_` for messages).",
        "OBS; clients replay ids to servers that validate prefixes (D-14).")


def on_event(state: StreamState, event: Event) -> list[Finding]:
    etype = event.type
    if etype is None or state.ended:
        return []
    handler = _HANDLERS.get(etype)
    found = list(handler(state, event)) if handler is not None else []
    if "item_id" in event.payload:
        # ids.item_id_matches, inline: this runs on nearly every event of a stream
        index = event.output_index  # state.item_for(event), its common case inline
        item = state.items.get(index) if index is not None else state.item_for(event)
        item_id: Any = event.payload["item_id"]
        if item is not None and isinstance(item.id, str):
            if item_id != item.id:
                found.append(Finding("ids.item_id_matches",
                                     f"item_id {item_id!r} but output_index {item.index} is item {item.id!r}",
                                     "$.item_id"))
        elif item is None and event.output_index is not None and isinstance(item_id, str):
            found.extend(_unopened_item_id(state, event.output_index, item_id))
    return found


def _unopened_item_id(state: StreamState, index: int, item_id: str) -> Iterator[Finding]:
    """An item no output_item.added opened (grammar.item_open reports that) is still one item:
    its events agree with each other on its item_id and output_index."""
    earlier_id = state.unopened_ids.get(index)
    if earlier_id is not None and earlier_id != item_id:
        yield Finding("ids.item_id_matches",
                      f"item_id {item_id!r} at output_index {index}, where earlier events (of an item never added) "
                      f"carried item_id {earlier_id!r}", "$.item_id")
        return
    earlier_index = state.unopened_indexes.get(item_id)
    if earlier_index is not None and earlier_index != index:
        yield Finding("ids.item_id_matches",
                      f"item_id {item_id!r} at output_index {index}, where earlier events (of an item never added) "
                      f"put it at output_index {earlier_index}", "$.output_index")


def on_response(response: dict, path: str = "$") -> Iterator[Finding]:
    """Identity rules that hold for a finished Response object (streamed or not)."""
    output = response.get("output")
    if not isinstance(output, list):
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            continue
        item_path = f"{path}.output[{index}]"
        yield from _item_id_present(item, item_path)
        yield from _prefix(item, item_path)
        item_id = item.get("id")
        if isinstance(item_id, str) and item_id:
            if item_id in seen:
                yield Finding("ids.item_ids_unique", f"output[{index}] reuses the id {item_id!r} of output[{seen[item_id]}]",
                              f"{item_path}.id")
            seen.setdefault(item_id, index)


def _response_identity(state: StreamState, event: Event) -> Iterator[Finding]:
    response = event.get("response")
    if state.identity is None or not isinstance(response, dict):
        return
    for key in IDENTITY_FIELDS:
        before, now = state.identity.get(key), response.get(key)
        if before is not None and now != before:
            yield Finding("ids.response_id_stable", f"response.{key} changed from {before!r} to {now!r}",
                          f"$.response.{key}")
    first = state.params
    if not isinstance(first, dict):
        return
    echoed = state.echoed_params
    if echoed is None:  # read off the first lifecycle response once, at the second
        earlier = list(map(first.get, ECHOED_PARAMETERS))
        echoed = state.echoed_params = (earlier, exact_dump(earlier))
    earlier, dumped = echoed
    current = list(map(response.get, ECHOED_PARAMETERS))  # (map: no comprehension frame)
    # The common case: no parameter changed (compared in one go, in C).
    if (dumped is not None and exact_dump(current) == dumped) or equal_json(earlier, current):
        return
    for key, before, now in zip(ECHOED_PARAMETERS, earlier, current):
        # Drift is a value present in both events that differs. A parameter one event leaves out
        # is not a change here: a required one missing is schema.event's finding.
        if before is None or now is None:
            continue
        difference = first_difference(before, now, lenient=True)
        if difference is not None:
            where, was, became = difference
            yield Finding("ids.response_params_stable",
                          f"response.{key}{where} is {_show(became)} here but was {_show(was)} in "
                          f"{state.first_type or 'the first lifecycle event'}", f"$.response.{key}{where}")
            break  # one changed parameter per event is enough to act on


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _item_added(state: StreamState, event: Event) -> Iterator[Finding]:
    index = event.get("output_index")
    item = event.get("item")
    if isinstance(index, int) and not isinstance(index, bool):
        if index in state.items:
            yield Finding("ids.output_index_sequential", f"output_index {index} is added a second time",
                          "$.output_index")
        elif index != state.next_output_index:
            yield Finding("ids.output_index_sequential", f"expected output_index {state.next_output_index}, got {index}",
                          "$.output_index")
    if not isinstance(item, dict):
        return
    yield from _item_id_present(item, "$.item")
    yield from _prefix(item, "$.item")
    item_id = item.get("id")
    if isinstance(item_id, str) and item_id in state.item_ids and state.item_ids[item_id] != index:
        yield Finding("ids.item_ids_unique", f"item id {item_id!r} is already used by item {state.item_ids[item_id]}",
                      "$.item.id")
    call_id, item_type = item.get("call_id"), item.get("type")
    key = (item_type, call_id)
    # Only strings are looked up: a target may send any JSON value here (an object, a list).
    if isinstance(item_type, str) and isinstance(call_id, str) and item_type in g.CALL_ID_STABLE_ITEMS and \
            key in state.call_ids and state.call_ids[key] != index:
        yield Finding("ids.item_ids_unique", f"call_id {call_id!r} is already used by item {state.call_ids[key]}",
                      "$.item.call_id")


def _item_done(state: StreamState, event: Event) -> Iterator[Finding]:
    done = event.get("item")
    if not isinstance(done, dict):
        return
    yield from _item_id_present(done, "$.item")
    added_state = state.item_for(event)
    if added_state is None or added_state.is_done:
        return
    added = added_state.added
    keys = ["id", "type"] + (["call_id"] if added_state.type in g.CALL_ID_STABLE_ITEMS else [])
    for key in keys:
        if key in added and done.get(key) != added.get(key):
            yield Finding("ids.item_identity_stable",
                          f"item.{key} is {done.get(key)!r} at done but was {added.get(key)!r} at added",
                          f"$.item.{key}")


def _item_id_present(item: dict, path: str) -> Iterator[Finding]:
    if isinstance(item.get("type"), str) and item["type"] in g.ID_OPTIONAL_ITEMS and "id" not in item:
        return
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id:
        yield Finding("ids.item_id_present", f"{item.get('type')} item has id {item_id!r}", f"{path}.id")


def _prefix(item: dict, path: str) -> Iterator[Finding]:
    prefix = g.ID_PREFIXES.get(item["type"]) if isinstance(item.get("type"), str) else None
    item_id = item.get("id")
    if prefix and isinstance(item_id, str) and item_id and not item_id.startswith(prefix):
        yield Finding("ids.conventional_prefix", f"{item.get('type')} id {item_id!r} does not start with {prefix!r}",
                      f"{path}.id")


def _next_index(state: StreamState, event: Event, key: str, table: str, counter: str) -> Iterator[Finding]:
    item = state.item_for(event)
    index = event.get(key)
    if item is None or not isinstance(index, int) or isinstance(index, bool):
        return
    if index in getattr(item, table):
        yield Finding("ids.content_index_sequential", f"{key} {index} of item {item.index} is added a second time",
                      f"$.{key}")
    elif index != getattr(item, counter):
        yield Finding("ids.content_index_sequential",
                      f"expected {key} {getattr(item, counter)} in item {item.index}, got {index}", f"$.{key}")


def _annotation_index(state: StreamState, event: Event) -> Iterator[Finding]:
    item = state.item_for(event)
    ci = event.get("content_index")
    part = item.parts.get(ci) if item is not None and isinstance(ci, int) else None
    index = event.get("annotation_index")
    if part is None or not isinstance(index, int) or isinstance(index, bool):
        return
    if index != part.next_annotation_index:
        yield Finding("ids.annotation_index_sequential",
                      f"expected annotation_index {part.next_annotation_index}, got {index}", "$.annotation_index")


# The rules of each event type (on_event runs them first, then item_id_matches on every event).
_HANDLERS = {
    **dict.fromkeys(g.LIFECYCLE, _response_identity),
    g.ITEM_ADDED: _item_added,
    g.ITEM_DONE: _item_done,
    g.PART_ADDED: lambda s, e: _next_index(s, e, "content_index", "parts", "next_content_index"),
    g.SUMMARY_PART_ADDED: lambda s, e: _next_index(s, e, "summary_index", "summaries", "next_summary_index"),
    g.ANNOTATION_ADDED: _annotation_index,
}
