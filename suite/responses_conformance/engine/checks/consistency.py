"""consistency: the streamed pieces agree with each other and with the final object
(spec-notes §6 rules 11-13 and 15, streaming vs non-streaming parity)."""
from __future__ import annotations

import marshal
from typing import Any, Iterator

from .. import defaults
from .. import grammar as g
from ..registry import MUST, RESPONSE, SHOULD, STREAM, SUCCESS, check, declare
from ..state import Event, ItemState, PartState, StreamState
from ..violations import Finding

# The field of a finished content part that holds its text, by part type.
PART_TEXT_FIELD = {"output_text": "text", "refusal": "refusal", "reasoning_text": "text", "summary_text": "text"}
# on_event reports on these event types only (the checker skips this module for the others).
EVENT_TYPES = frozenset({g.CREATED, g.IN_PROGRESS, g.QUEUED, *g.TERMINAL, g.PART_DONE, g.SUMMARY_PART_DONE,
                         g.ITEM_DONE, *(t for t, f in g.FAMILIES.items() if f.role == "done")})


declare("consistency.deltas_match_done", MUST, STREAM,
        "The concatenated deltas equal the text of the matching `.done` event.",
        "OBS: every unedited capture; clients keep either (B-14, E-04, J-05).")
declare("consistency.part_matches_done", MUST, STREAM,
        "`content_part.done.part` carries the text of the part's `.done` event.",
        "OBS: every unedited capture.")
declare("consistency.item_matches_parts", MUST, STREAM,
        "The item in `output_item.done` holds the parts closed by `content_part.done`.",
        "OBS: every unedited capture (E-05).")
declare("consistency.final_output_matches_items", MUST, STREAM,
        "The terminal `response.output` equals the `output_item.done` items in index order.",
        "OBS; openai-python get_final_response reads it (E-01, E-02, D-03, D-05, D-13).")
declare("consistency.final_output_order", MUST, STREAM,
        "The terminal `response.output` lists the items in the order they were streamed (by output_index).",
        "OBS; SDK-JS and OpenClaw address items by position, so a reordered final output pairs the wrong items "
        "(D-08, D-13).")
declare("consistency.arguments_accumulate", MUST, STREAM,
        "A call's `arguments` at `output_item.added` followed by its argument deltas add up to its final "
        "arguments (an item added with arguments gets deltas only for what follows).",
        "SDK-PY and SDK-JS append each `function_call_arguments.delta` to the added item's `arguments`; added "
        "`{}` plus deltas `{}` give the client `{}{}` (J-05).")
declare("consistency.terminal_status", MUST, SUCCESS,
        "The terminal status agrees with the event and its fields (completed: no error; incomplete: a reason; failed: an error).",
        "SPEC field docs; OR; Codex loses truncation and failures otherwise (B-11, H-09).")
declare("consistency.snapshot_state", SHOULD, STREAM,
        "`response.created` and `response.in_progress` carry status in_progress (or queued) and an empty output.",
        "OBS; OR state machine.")
declare("consistency.annotation_span", MUST, SUCCESS,
        "Citation spans satisfy 0 <= start_index <= end_index <= len(text).",
        "OBS: every capture with citations.")


def on_event(state: StreamState, event: Event) -> list[Finding]:
    etype = event.type
    if etype is None or state.ended:
        return []
    if etype in (g.CREATED, g.IN_PROGRESS, g.QUEUED):
        return list(_snapshot(event))
    if etype in g.TERMINAL:
        response = event.get("response")
        found: list[Finding] = []
        if isinstance(response, dict):
            found.extend(terminal_status(response, g.TERMINAL[etype], "$.response", etype))
            if etype != g.FAILED:
                found.extend(_final_output(state, response))
        return found
    if etype == g.PART_DONE:
        return list(_part_done(state, event, "parts", "content_index"))
    if etype == g.SUMMARY_PART_DONE:
        return list(_part_done(state, event, "summaries", "summary_index"))
    if etype == g.ITEM_DONE:
        return list(_item_done(state, event))
    family = g.FAMILIES.get(etype)
    if family is not None and family.role == "done":
        return list(_deltas_match_done(state, event, family))
    return []


def on_response(response: dict, path: str = "$") -> Iterator[Finding]:
    """Rules for a finished Response object, streamed or not."""
    status = response.get("status")
    if isinstance(status, str):
        yield from terminal_status(response, status, path, None)
    output = response.get("output")
    if isinstance(output, list):
        for index, item in enumerate(output):
            if isinstance(item, dict):
                yield from annotation_spans(item, f"{path}.output[{index}]")


def terminal_status(response: dict, expected: str, path: str, etype: str | None) -> Iterator[Finding]:
    status = response.get("status")
    label = etype or "the response"
    if etype is not None and status != expected:
        yield Finding("consistency.terminal_status", f"{label} carries status {status!r}", f"{path}.status")
        return
    if expected == "completed":
        if response.get("error") is not None:
            yield Finding("consistency.terminal_status", f"{label} is completed but has an error", f"{path}.error")
        if response.get("incomplete_details") is not None:
            yield Finding("consistency.terminal_status", f"{label} is completed but has incomplete_details",
                          f"{path}.incomplete_details")
    elif expected == "incomplete":
        details = response.get("incomplete_details")
        if not isinstance(details, dict) or not isinstance(details.get("reason"), str):
            yield Finding("consistency.terminal_status", f"{label} is incomplete without incomplete_details.reason",
                          f"{path}.incomplete_details")
    elif expected == "failed" and etype is None and not isinstance(response.get("error"), dict):
        yield Finding("consistency.terminal_status", "the response is failed without an error", f"{path}.error")


def _snapshot(event: Event) -> Iterator[Finding]:
    response = event.get("response")
    if not isinstance(response, dict):
        return
    status = response.get("status")
    if not isinstance(status, str) or status not in g.SNAPSHOT_STATUSES:
        yield Finding("consistency.snapshot_state", f"{event.type} carries status {status!r}", "$.response.status")
    output = response.get("output")
    if isinstance(output, list) and output:
        yield Finding("consistency.snapshot_state", f"{event.type} already has {len(output)} output items",
                      "$.response.output")


def _deltas_match_done(state: StreamState, event: Event, family: g.Family) -> Iterator[Finding]:
    item = state.item_for(event)
    if item is None:
        return
    done_value = event.get(family.done_field) if family.done_field else None
    if family.scope in ("part", "summary"):
        table, key = ("parts", "content_index") if family.scope == "part" else ("summaries", "summary_index")
        part = state.part_for(event, table, key, item)
        if part is None or part.delta_count == 0 or part.done_events:
            return
        joined = "".join(part.deltas)
    else:
        deltas = item.channel_deltas.get(family.channel or "")
        if not deltas or family.channel in item.channel_done:
            return
        joined = "".join(deltas)
    if isinstance(done_value, str) and done_value != joined:
        yield Finding("consistency.deltas_match_done",
                      f"{family.done_field} differs from the joined deltas {describe_difference(joined, done_value)}",
                      f"$.{family.done_field}")


def _part_done(state: StreamState, event: Event, table: str, key: str) -> Iterator[Finding]:
    item = state.item_for(event)
    part_state: PartState | None = state.part_for(event, table, key, item) if item is not None else None
    closed = event.get("part")
    if part_state is None or part_state.is_closed or part_state.done_value is None or not isinstance(closed, dict):
        return
    ptype = closed.get("type")
    field = PART_TEXT_FIELD.get(ptype) if isinstance(ptype, str) else None
    if field is None:
        return
    value = closed.get(field)
    if value != part_state.done_value:
        yield Finding("consistency.part_matches_done",
                      f"part.{field} differs from the .done event's text {describe_difference(part_state.done_value, value)}",
                      f"$.part.{field}")


def _item_done(state: StreamState, event: Event) -> Iterator[Finding]:
    item = state.item_for(event)
    done = event.get("item")
    if item is None or item.is_done or not isinstance(done, dict):
        return
    # (Each step only where the item streamed something of that kind: this runs on every item.)
    if item.parts:
        yield from _parts_in_item(item, done.get("content"), item.parts, "content")
    if item.summaries:
        yield from _parts_in_item(item, done.get("summary"), item.summaries, "summary")
    if item.channel_done or item.channel_deltas:
        # Item-scoped streamed values (function arguments, custom tool input, code): the item holds them.
        for channel, value in list(item.channel_done.items()) + [
            (c, "".join(d)) for c, d in item.channel_deltas.items() if c not in item.channel_done
        ]:
            family_field = _item_field_for(item, channel)
            if family_field and family_field in done and isinstance(value, str) and done[family_field] != value:
                yield Finding("consistency.item_matches_parts",
                              f"item.{family_field} differs from the streamed {channel} "
                              f"{describe_difference(value, done[family_field])}", f"$.item.{family_field}")
        yield from _accumulated(item, done)
    yield from annotation_spans(done, "$.item")


def _accumulated(item: ItemState, done: dict) -> Iterator[Finding]:
    """consistency.arguments_accumulate: what a client holds after appending the deltas to the
    added item's value (SDK-PY, SDK-JS) is the final value."""
    for channel, deltas in item.channel_deltas.items():
        field = _item_field_for(item, channel)
        start = item.added.get(field) if field else None
        if not isinstance(start, str) or not start:
            continue  # added empty (or without the field): the deltas are the whole value
        final = item.channel_done.get(channel, done.get(field))
        if not isinstance(final, str):
            continue
        held = start + "".join(deltas)
        if held != final:
            yield Finding("consistency.arguments_accumulate",
                          f"the item was added with {field} {_show(start)} and its deltas add "
                          f"{_show(''.join(deltas))}: a client that appends them holds {_show(held)}, "
                          f"not the final {_show(final)}", f"$.item.{field}")


def _item_field_for(item: ItemState, channel: str) -> str | None:
    for family in g.FAMILIES.values():
        if family.channel == channel and family.item_field and item.type in family.items:
            return family.item_field
    return None


def _parts_in_item(item: ItemState, content: Any, parts: dict[int, PartState], field: str) -> Iterator[Finding]:
    closed = {index: part for index, part in parts.items() if part.is_closed and isinstance(part.closed, dict)}
    if not closed:
        return
    if not isinstance(content, list):
        yield Finding("consistency.item_matches_parts",
                      f"item.{field} is {type(content).__name__}, but {len(closed)} parts were streamed", f"$.item.{field}")
        return
    if len(content) != len(parts):
        yield Finding("consistency.item_matches_parts",
                      f"item.{field} has {len(content)} parts, but {len(parts)} were streamed", f"$.item.{field}")
    for index, part in sorted(closed.items()):
        if index >= len(content) or not isinstance(content[index], dict):
            continue
        difference = first_difference(part.closed, content[index])
        if difference is not None:
            where, seen, expected = difference
            yield Finding("consistency.item_matches_parts",
                          f"item.{field}[{index}]{where} is {_show(expected)} but content_part.done had {_show(seen)}",
                          f"$.item.{field}[{index}]{where}")


def _final_output(state: StreamState, response: dict) -> Iterator[Finding]:
    output = response.get("output")
    if not isinstance(output, list):
        return  # schema.event reports a missing or null output
    if state.unplaced_done or state.unopened_ids:
        # Some item events named no added item (grammar.item_open reports it, or schema.event a
        # missing output_index): the streamed items cannot be lined up with the final output,
        # and a count of "items streamed and done" would only repeat that one cause.
        return
    done = state.done_items()
    if len(output) != len(done):
        yield Finding("consistency.final_output_matches_items",
                      f"response.output has {len(output)} items, but {len(done)} were streamed and done",
                      "$.response.output")
    streamed_ids = [item.done.get("id") if isinstance(item.done, dict) else None for item in done]
    final_ids = [final.get("id") if isinstance(final, dict) else None for final in output]
    if streamed_ids != final_ids and sorted(map(str, streamed_ids)) == sorted(map(str, final_ids)) \
            and len(set(map(str, streamed_ids))) == len(streamed_ids):
        yield Finding("consistency.final_output_order",
                      f"response.output lists the items in the order {_kinds(output)}, but they were streamed as "
                      f"{_kinds([item.done for item in done])}", "$.response.output")
        return  # the same items in another order: comparing them by position says nothing more
    for position, (final, item) in enumerate(zip(output, done)):
        if isinstance(final, dict) and isinstance(item.done, dict) and final.get("type") != item.done.get("type"):
            yield Finding("consistency.final_output_matches_items",
                          f"output[{position}] is a {final.get('type')} item, but the item streamed at output_index "
                          f"{item.index} is a {item.done.get('type')}", f"$.response.output[{position}].type")
            continue
        difference = first_difference(item.done, final)
        if difference is not None:
            where, seen, expected = difference
            yield Finding("consistency.final_output_matches_items",
                          f"output[{position}]{where} is {_show(expected)} but output_item.done had {_show(seen)}",
                          f"$.response.output[{position}]{where}")


def _kinds(items: list) -> str:
    """'[reasoning rs_1, message msg_2]': what a list of items is, in order."""
    return "[" + ", ".join(f"{i.get('type')} {i.get('id')}" if isinstance(i, dict) else repr(i) for i in items) + "]"


def annotation_spans(item: dict, path: str) -> Iterator[Finding]:
    content = item.get("content")
    if item.get("type") != "message" or not isinstance(content, list):
        return
    for ci, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            continue
        length = len(part["text"])
        for ai, annotation in enumerate(_list(part.get("annotations"))):
            if not isinstance(annotation, dict) or "start_index" not in annotation:
                continue
            start, end = annotation.get("start_index"), annotation.get("end_index")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= length):
                yield Finding("consistency.annotation_span",
                              f"span {start!r}..{end!r} does not fit a text of {length} characters",
                              f"{path}.content[{ci}].annotations[{ai}]")


def shape_differences(streamed: dict, plain: dict) -> list[str]:
    """How the non-streamed Response differs in shape from the streamed final one.

    Shape: the item types in order, each item's fields and its content part types, and the
    echoed request parameters (the same request both times). Values the two requests may
    differ in (ids, text, timestamps) are not compared. A field one side omits is not drift
    (engine/defaults.py): absent means the spec's default, or "not said" for an optional field;
    a required field missing is the schema checks' finding.
    """
    problems: list[str] = []
    for key in sorted(defaults.RESPONSE_DEFAULTS):
        x, y = defaults.effective(streamed, key), defaults.effective(plain, key)
        if x is defaults.ABSENT or y is defaults.ABSENT:
            continue
        difference = first_difference(x, y, lenient=True)
        if difference is not None:
            where, seen, expected = difference
            problems.append(f"{key}{where} is {_show(expected)} (non-streamed) vs {_show(seen)} (streamed)")
    out_a, out_b = streamed.get("output"), plain.get("output")
    if isinstance(out_a, list) and isinstance(out_b, list):
        types_a = [i.get("type") if isinstance(i, dict) else None for i in out_a]
        types_b = [i.get("type") if isinstance(i, dict) else None for i in out_b]
        if types_a != types_b:
            problems.append(f"output item types {types_b} (non-streamed) vs {types_a} (streamed)")
        else:
            for index, (x, y) in enumerate(zip(out_a, out_b)):
                if isinstance(x, dict) and isinstance(y, dict):
                    if _present(x) != _present(y):
                        problems.append(f"output[{index}] fields {sorted(_present(y))} (non-streamed) vs "
                                        f"{sorted(_present(x))} (streamed)")
                    parts_a = [p.get("type") for p in _list(x.get("content")) if isinstance(p, dict)]
                    parts_b = [p.get("type") for p in _list(y.get("content")) if isinstance(p, dict)]
                    if parts_a != parts_b:
                        problems.append(f"output[{index}] part types {parts_b} (non-streamed) vs {parts_a} (streamed)")
    for key in ("status", "object", "model"):
        if streamed.get(key) != plain.get(key):
            problems.append(f"{key} {plain.get(key)!r} (non-streamed) vs {streamed.get(key)!r} (streamed)")
    return problems


@check("consistency.nonstream_matches_stream", MUST, RESPONSE,
       "A non-streamed response has the same shape as the final response of the same request streamed.",
       "OBS; clients switch between modes freely (E-03, D-05).",
       http_only=True, asked_by="compare_shape_with",
       feature="streaming")
def nonstream_matches_stream(streamed: dict, plain: dict) -> list[Finding]:
    """The same request, streamed and not: one finding per way the two Responses differ in shape."""
    return [Finding("consistency.nonstream_matches_stream", problem, "$") for problem in shape_differences(streamed, plain)]


def representation_difference(seen: dict, expected: dict) -> tuple[str, Any, Any] | None:
    """The first drift between two representations of one Response (streamed final vs retrieved).

    Drift is a field present in both with different values; a defaulted field compares by its
    default when absent, and a field one side omits is not drift (engine/defaults.py).
    """
    for key in sorted(set(seen) | set(expected)):
        if key in g.OPAQUE_FIELDS:
            continue
        if key in defaults.RESPONSE_DEFAULTS:
            x, y = defaults.effective(seen, key), defaults.effective(expected, key)
            if x is defaults.ABSENT or y is defaults.ABSENT:
                continue
            found = first_difference(x, y, f".{key}", lenient=True)
        elif seen.get(key) is None or expected.get(key) is None:
            continue  # omitted (or null) on one side: not drift
        else:
            found = first_difference(seen[key], expected[key], f".{key}", lenient=True)
        if found:
            return found
    return None


def _list(value: Any) -> list:
    """A list as it is, anything else (absent, or not the list it should be) as an empty one."""
    return value if isinstance(value, list) else []


def _present(obj: dict) -> set[str]:
    """The fields of an object that carry a value (null is the same as absent)."""
    return {key for key, value in obj.items() if value is not None}


def first_difference(seen: Any, expected: Any, where: str = "", *, lenient: bool = False) -> tuple[str, Any, Any] | None:
    """The first place two JSON values differ, ignoring opaque re-encrypted fields.

    A field that is null on one side and absent on the other is not a difference: clients
    read both as "no value", and a missing required field is the schema checks' finding.
    `lenient`: a field one side omits altogether is not a difference either (two
    representations of one object, engine/defaults.py); only values present in both count.
    """
    if equal_json(seen, expected):  # the common case, decided in C (mostly)
        return None
    if isinstance(seen, dict) and isinstance(expected, dict):
        for key in sorted(set(seen) | set(expected)):
            if key in g.OPAQUE_FIELDS:
                continue
            if seen.get(key) is None and expected.get(key) is None:
                continue
            if key not in seen or key not in expected:
                if lenient:
                    continue
                return f"{where}.{key}", seen.get(key, "<absent>"), expected.get(key, "<absent>")
            if lenient and (seen[key] is None or expected[key] is None):
                continue
            found = first_difference(seen[key], expected[key], f"{where}.{key}", lenient=lenient)
            if found:
                return found
        return None
    if isinstance(seen, list) and isinstance(expected, list):
        if len(seen) != len(expected):
            return f"{where}", f"{len(seen)} entries", f"{len(expected)} entries"
        for index, (x, y) in enumerate(zip(seen, expected)):
            found = first_difference(x, y, f"{where}[{index}]", lenient=lenient)
            if found:
                return found
        return None
    if seen != expected or type(seen) is not type(expected) and not _both_numbers(seen, expected):
        return where, seen, expected
    return None


def equal_json(a: Any, b: Any) -> bool:
    """Two JSON values are the same, types included: `==` alone takes true for 1 and 1 for 1.0,
    which first_difference tells apart (true from 1, not 1 from 1.0)."""
    if a != b:
        return False
    dumped = exact_dump(a)
    return (dumped is not None and dumped == exact_dump(b)) or _same_types(a, b)


def exact_dump(value: Any) -> bytes | None:
    """Bytes that two JSON values share only when they are the same, types included (1, 1.0 and
    true dump apart): marshal's, made in C. Equal values with their keys in another order dump
    apart too (equal_json then compares them member by member). Version 2 writes every object
    in full, never as a reference to an identical one seen before: the bytes depend on the
    values alone. None for what marshal cannot write (not JSON)."""
    try:
        return _marshal(value, 2)
    except ValueError:
        return None


def _same_types(a: Any, b: Any) -> bool:
    """Two equal JSON values (a == b) are of the same type everywhere."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind in _SCALARS:
        return True
    # Members are compared in the loop and only containers recurse: a Response's echoed
    # parameters are mostly strings, numbers and nulls, and a call per scalar cost more than
    # the comparison itself.
    if isinstance(a, dict):
        for key, x in a.items():
            y = b[key]
            member = type(x)
            if member is not type(y) or member not in _SCALARS and not _same_types(x, y):
                return False
    elif isinstance(a, list):
        for x, y in zip(a, b):
            member = type(x)
            if member is not type(y) or member not in _SCALARS and not _same_types(x, y):
                return False
    return True


_SCALARS = frozenset({str, int, float, bool, type(None)})
_marshal = marshal.dumps


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))


def describe_difference(expected: Any, seen: Any) -> str:
    if not isinstance(expected, str) or not isinstance(seen, str):
        return f"(expected {_show(expected)}, got {_show(seen)})"
    at = next((i for i, (x, y) in enumerate(zip(expected, seen)) if x != y), min(len(expected), len(seen)))
    return (f"at character {at}: expected {_show(expected[at:at + 40])}, got {_show(seen[at:at + 40])} "
            f"(lengths {len(expected)} and {len(seen)})")


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
