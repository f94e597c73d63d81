"""usage: the token accounting of a finished response (spec-notes §4, rule 16)."""
from __future__ import annotations

from typing import Any, Iterator

from .. import grammar as g
from ..registry import MUST, SHOULD, SUCCESS, check
from ..state import Event, StreamState
from ..violations import Finding

COUNTERS = ("input_tokens", "output_tokens", "total_tokens")
DETAILS = (("input_tokens_details", "cached_tokens"), ("output_tokens_details", "reasoning_tokens"))
# on_event reports on these event types only (the checker skips this module for the others).
EVENT_TYPES = frozenset(g.TERMINAL)


def on_event(state: StreamState, event: Event) -> list[Finding]:
    if event.type in g.TERMINAL and not state.ended:
        response = event.get("response")
        if isinstance(response, dict):
            return list(on_response(response, "$.response", g.TERMINAL[event.type]))
    return []


@check("usage.present", MUST, SUCCESS,
       "A completed or incomplete response carries a `usage` object.",
       "OBS; Codex and OpenCode show zero context without it (F-08, F-09).")
@check("usage.counters_valid", MUST, SUCCESS,
       "Usage counters and detail objects are present and non-negative integers.",
       "SPEC ResponseUsage; Codex 'invalid type: null, expected i64' (F-01, F-02, F-03).",
       folds=("schema.event", "schema.response"))
@check("usage.total_is_sum", MUST, SUCCESS,
       "`total_tokens` equals `input_tokens + output_tokens`.",
       "OBS: every capture (F-04, F-05).")
@check("usage.details_within_totals", MUST, SUCCESS,
       "`cached_tokens <= input_tokens` and `reasoning_tokens <= output_tokens`.",
       "OBS: every capture (F-04, F-05).")
@check("usage.nonzero", SHOULD, SUCCESS,
       "A response to non-empty input reports input_tokens > 0, and output_tokens > 0 when it produced output.",
       "OBS (F-07).")
def on_response(response: dict, path: str = "$", status: str | None = None) -> Iterator[Finding]:
    status = status or response.get("status")
    usage = response.get("usage")
    upath = f"{path}.usage"
    if not isinstance(usage, dict):
        if status in ("completed", "incomplete"):
            yield Finding("usage.present", f"a {status} response has usage {usage!r}", upath)
        return
    valid = True
    for key in COUNTERS:
        if not _count(usage.get(key)):
            valid = False
            yield Finding("usage.counters_valid", f"usage.{key} is {usage.get(key, '<absent>')!r}", f"{upath}.{key}")
    for parent, key in DETAILS:
        details = usage.get(parent)
        if not isinstance(details, dict):
            valid = False
            yield Finding("usage.counters_valid", f"usage.{parent} is {details!r}", f"{upath}.{parent}")
        elif not _count(details.get(key)):
            valid = False
            yield Finding("usage.counters_valid", f"usage.{parent}.{key} is {details.get(key, '<absent>')!r}",
                          f"{upath}.{parent}.{key}")
        else:
            for extra, value in details.items():
                if extra != key and isinstance(value, (int, float)) and not _count(value):
                    yield Finding("usage.counters_valid", f"usage.{parent}.{extra} is {value!r}",
                                  f"{upath}.{parent}.{extra}")
    if not valid:
        return
    total, inp, out = usage["total_tokens"], usage["input_tokens"], usage["output_tokens"]
    if total != inp + out:
        yield Finding("usage.total_is_sum", f"total_tokens {total} but input_tokens + output_tokens = {inp + out}",
                      f"{upath}.total_tokens")
    cached = usage["input_tokens_details"]["cached_tokens"]
    reasoning = usage["output_tokens_details"]["reasoning_tokens"]
    if cached > inp:
        yield Finding("usage.details_within_totals", f"cached_tokens {cached} > input_tokens {inp}",
                      f"{upath}.input_tokens_details.cached_tokens")
    if reasoning > out:
        yield Finding("usage.details_within_totals", f"reasoning_tokens {reasoning} > output_tokens {out}",
                      f"{upath}.output_tokens_details.reasoning_tokens")
    output = response.get("output")
    if inp == 0 and out == 0 and _tool_only(output):
        return  # OBS: OpenAI reports all-zero usage for a turn of hosted-tool items only (no model text)
    if inp == 0:
        yield Finding("usage.nonzero", "input_tokens is 0", f"{upath}.input_tokens")
    if out == 0 and isinstance(output, list) and output:
        yield Finding("usage.nonzero", f"output_tokens is 0 although the response has {len(output)} output items",
                      f"{upath}.output_tokens")


# Items the model writes (text, reasoning, calls it chooses); any other kind is a hosted tool's.
SAMPLED_OUTPUT = frozenset({"message", "reasoning", "function_call", "custom_tool_call"})


def _tool_only(output: Any) -> bool:
    """The output holds items, none of them written by the model: only hosted-tool items."""
    return isinstance(output, list) and bool(output) and all(
        isinstance(item, dict) and (not isinstance(item.get("type"), str) or item["type"] not in SAMPLED_OUTPUT)
        for item in output)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
