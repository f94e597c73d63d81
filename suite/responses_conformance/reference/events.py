"""The events of a run's stream, numbered, named and timed: the schedule a `Record` keeps.

Shapes follow real OpenAI traffic: `sequence_number` from 0 by 1, the `event:` name equal to
`type`, `logprobs: []` on text events, `usage: null` before the terminal event. Each item is
output_item.added, its own events, output_item.done:

* reasoning: reasoning_summary_part.added / _text.delta... / _text.done / _part.done per
  summary part (Open Responses then streams the raw reasoning text as a `reasoning_text`
  part: content_part.added, response.reasoning.delta... / .done, content_part.done);
* function call: function_call_arguments.delta... and .done (no `name`: OpenAI's wire omits
  it; `openai-strict` sends it, as the published description says);
* message: content_part.added, output_text.delta... (or refusal.delta...), .done,
  content_part.done.

A failed run (`FAIL_MIDSTREAM`) is created, in_progress, the `error` event (nested, or flat
in `openai-strict`), then `response.failed`. Background runs start `queued`.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from typing import Any

from . import errors
from .context import ServerContext
from .model import CallOutput, MessageOutput, ReasoningOutput, logprob_entries
from .records import Scheduled
from .response_objects import item_object, part_logprobs, refusal_part, response_object, text_part
from .run import OutputSlot, Run, final_arguments, final_text


def _rotated(ctx: ServerContext, item_id: str, fault: str) -> str:
    """The item's id, or (with `fault` on) a fresh id of the same kind in its place."""
    if fault not in ctx.faults:
        return item_id
    return f"{item_id.split('_', 1)[0]}_{secrets.token_hex(25)}"


def _reasoning_events(ctx: ServerContext, run: Run, out: OutputSlot) -> Iterator[dict[str, Any]]:
    plan = out.plan
    assert isinstance(plan, ReasoningOutput)
    at = {"output_index": out.index}
    for s, deltas in enumerate(plan.summary):
        text = "".join(deltas)

        def ref(index: int = s) -> dict[str, Any]:
            return {"item_id": _rotated(ctx, out.id, "reasoning_id_rotates"), **at,
                    "summary_index": index}

        yield {"type": "response.reasoning_summary_part.added", **ref(),
               "part": {"type": "summary_text", "text": ""}}
        for delta in deltas:
            yield {"type": "response.reasoning_summary_text.delta", **ref(), "delta": delta}
        yield {"type": "response.reasoning_summary_text.done", **ref(), "text": text}
        yield {"type": "response.reasoning_summary_part.done", **ref(),
               "part": {"type": "summary_text", "text": text}}
    if ctx.open_responses:  # the raw reasoning text, as one reasoning_text content part
        part = {"item_id": out.id, **at, "content_index": 0}
        yield {"type": "response.content_part.added", **part,
               "part": {"type": "reasoning_text", "text": ""}}
        for delta in plan.deltas:
            yield {"type": "response.reasoning.delta", **part, "delta": delta}
        yield {"type": "response.reasoning.done", **part, "text": plan.text}
        yield {"type": "response.content_part.done", **part,
               "part": {"type": "reasoning_text", "text": plan.text}}


def _call_events(ctx: ServerContext, run: Run, out: OutputSlot) -> Iterator[dict[str, Any]]:
    plan = out.plan
    assert isinstance(plan, CallOutput)
    for delta in plan.deltas:
        yield {"type": "response.function_call_arguments.delta", "item_id": out.id,
               "output_index": out.index, "delta": delta}
    done: dict[str, Any] = {"type": "response.function_call_arguments.done", "item_id": out.id}
    if ctx.strict:  # SPEC requires it; OpenAI's wire leaves it out
        done["name"] = plan.name
    done.update({"output_index": out.index, "arguments": final_arguments(ctx, plan)})
    yield done


def _message_events(ctx: ServerContext, run: Run, out: OutputSlot) -> Iterator[dict[str, Any]]:
    plan = out.plan
    assert isinstance(plan, MessageOutput)
    part = {"item_id": out.id, "output_index": out.index, "content_index": 0}
    if plan.refusal:
        yield {"type": "response.content_part.added", **part, "part": refusal_part("")}
        for delta in plan.deltas:
            if "refusal_in_text" in ctx.faults:
                yield {"type": "response.output_text.delta", **part, "delta": delta,
                       "logprobs": []}
            else:
                yield {"type": "response.refusal.delta", **part, "delta": delta}
        yield {"type": "response.refusal.done", **part, "refusal": plan.text}
        yield {"type": "response.content_part.done", **part, "part": refusal_part(plan.text)}
        return
    yield {"type": "response.content_part.added", **part, "part": text_part("")}
    top = run.request.top_logprobs
    for position, delta in enumerate(plan.deltas):
        yield {
            "type": "response.output_text.delta",
            **part,
            "item_id": _rotated(ctx, out.id, "item_id_rotates"),
            "delta": delta,
            "logprobs": (logprob_entries([delta], top, with_bytes=ctx.open_responses,
                                         start=position) if run.logprobs else []),
        }
    text = final_text(ctx, plan)
    if "no_output_text_done" not in ctx.faults:
        yield {"type": "response.output_text.done", **part, "text": text,
               "logprobs": part_logprobs(ctx, run, plan, with_bytes=ctx.open_responses)}
    yield {"type": "response.content_part.done", **part,
           "part": text_part(text, part_logprobs(ctx, run, plan, with_bytes=True))}


#: The events between an item's output_item.added and .done, by item kind.
_ITEM_EVENTS = {"reasoning": _reasoning_events, "function_call": _call_events,
                "message": _message_events}


def _error_event(ctx: ServerContext) -> dict[str, Any]:
    if ctx.strict:  # the documented flat shape
        return {"type": "error", "code": "server_error",
                "message": errors.SERVER_ERROR_MESSAGE, "param": None}
    return errors.stream_error_event()


def _events(ctx: ServerContext, run: Run,
            final: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """Every event of the run's stream (without sequence numbers), each with the Response
    a GET shows from then on (None: unchanged)."""
    if run.background:
        queued = response_object(ctx, run, status="queued", output=[], usage=None)
        yield {"type": "response.created", "response": queued}, queued
        yield {"type": "response.queued", "response": copy.deepcopy(queued)}, queued
        start = response_object(ctx, run, status="in_progress", output=[], usage=None)
    else:
        start = response_object(ctx, run, status="in_progress", output=[], usage=None)
        yield {"type": "response.created", "response": start}, start
    yield {"type": "response.in_progress", "response": copy.deepcopy(start)}, start
    if run.completion.failed:
        yield _error_event(ctx), None
        if "error_without_failed" not in ctx.faults:
            yield {"type": "response.failed", "response": copy.deepcopy(final)}, final
        return
    for out in run.items:
        yield {"type": "response.output_item.added", "output_index": out.index,
               "item": item_object(ctx, run, out, done=False)}, None
        yield from ((event, None) for event in _ITEM_EVENTS[out.plan.kind](ctx, run, out))
        yield {"type": "response.output_item.done", "output_index": out.index,
               "item": item_object(ctx, run, out, done=True)}, None
    terminal = copy.deepcopy(final)
    if "final_output_empty" in ctx.faults:
        terminal["output"] = []
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    yield {"type": kind, "response": terminal}, final


def schedule(ctx: ServerContext, run: Run, final: dict[str, Any], start: float, *,
             live: bool) -> list[Scheduled]:
    """The run's events numbered, named, and timed from `start` (time.monotonic()):
    background runs spread over 2 background steps, live foreground streams one
    event_delay apart, everything else at once."""
    numbered: list[tuple[str, dict[str, Any], Any]] = []
    seq = 0
    first_text_delta = True
    for payload, snapshot in _events(ctx, run, final):
        kind = payload.pop("type")
        payload = {"type": kind, "sequence_number": seq, **payload}
        seq += 1
        name = kind
        if kind == "response.output_text.delta" and "event_name_mismatch" in ctx.faults:
            name = "response.output_text.delta.x"
        numbered.append((name, payload, snapshot))
        if kind == "response.output_text.delta" and first_text_delta:
            first_text_delta = False
            if "sequence_gap" in ctx.faults:
                seq += 1
            if "sequence_repeat" in ctx.faults:
                seq -= 1
    times: list[float] = []
    step = ctx.background_step
    if run.background:
        head = 3  # created, queued: at once; in_progress one step later
        rest = len(numbered) - head
        times = [start, start, start + step]
        times += [start + step * (1 + (k + 1) / rest) for k in range(rest)]
    elif live:
        times = [start + i * ctx.event_delay for i in range(len(numbered))]
    else:
        times = [start] * len(numbered)
    return [Scheduled(at, name, payload, snapshot)
            for at, (name, payload, snapshot) in zip(times, numbered)]
