"""Upstream fidelity: what reached the client is what the upstream model produced.

A proxy or gateway sits between the suite and an upstream it forwards to (passing Responses
through, or bridging them to Chat Completions). When the upstream is our reference server,
its journal says exactly what it produced for each request: the text, the tool calls with
their call ids and arguments, the finish reason and the token counts. These rules compare
that with the final Response the client got. Sans-IO: journal entries and the final
Response in, findings out.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from . import registry
from .assertions import function_calls, output_text
from .registry import MUST, UPSTREAM
from .violations import Finding

# Chat Completions finish reasons and the Response status (and incomplete reason) they become.
FINISH_TO_STATUS = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "function_call": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
    "error": ("failed", None),
}


def produced(entries: list[dict]) -> dict | None:
    """The upstream answer the client's response must carry: the last successful one (a proxy
    may have retried)."""
    answered = [e for e in entries if e.get("status") == 200 and ("text" in e or "tool_calls" in e)]
    return answered[-1] if answered else None


def check(final: dict | None, entries: list[dict]) -> Iterator[Finding]:
    if not isinstance(final, dict):
        return
    upstream = produced(entries)
    if upstream is None:
        yield Finding("consistency.upstream_text_preserved",
                      "the upstream produced nothing for this request (the proxy answered it by itself, "
                      f"or its upstream call failed: {len(entries)} upstream requests seen)", "$")
        return
    yield from _text(final, upstream)
    yield from _tool_calls(final, upstream)
    yield from _finish(final, upstream)
    yield from _usage(final, upstream)


@registry.check("consistency.upstream_text_preserved", MUST, UPSTREAM,
                "The text that reaches the client is the text the upstream produced.",
                "What a proxy is for; LiteLLM and other bridges lost or duplicated text (B-14, E-04).")
def _text(final: dict, upstream: dict) -> Iterator[Finding]:
    expected = upstream.get("text")
    if expected is None:
        return
    got = output_text(final)
    if got != expected:
        yield Finding("consistency.upstream_text_preserved",
                      f"the client got {_show(got)}, the upstream produced {_show(expected)}", "$.output")


@registry.check("consistency.upstream_tool_calls_preserved", MUST, UPSTREAM,
                "Tool call names, arguments and call_ids reach the client as the upstream sent them.",
                "Agents pair outputs by call_id; bridges rewrote ids and merged arguments (D-05, J-06, J-07).")
def _tool_calls(final: dict, upstream: dict) -> Iterator[Finding]:
    expected = upstream.get("tool_calls") or []
    got = function_calls(final)
    if len(got) != len(expected):
        yield Finding("consistency.upstream_tool_calls_preserved",
                      f"{len(got)} function calls reached the client, the upstream produced {len(expected)}",
                      "$.output")
        return
    for index, (call, want) in enumerate(zip(got, expected)):
        if call.get("name") != want.get("name"):
            yield Finding("consistency.upstream_tool_calls_preserved",
                          f"call {index} is named {call.get('name')!r}, the upstream called {want.get('name')!r}",
                          "$.output")
        if call.get("call_id") != want.get("call_id"):
            yield Finding("consistency.upstream_tool_calls_preserved",
                          f"call {index} has call_id {call.get('call_id')!r}, the upstream sent {want.get('call_id')!r}",
                          "$.output")
        if not _same_json(call.get("arguments"), want.get("arguments")):
            yield Finding("consistency.upstream_tool_calls_preserved",
                          f"call {index} has arguments {_show(call.get('arguments'))}, the upstream sent "
                          f"{_show(want.get('arguments'))}", "$.output")


@registry.check("consistency.upstream_finish_preserved", MUST, UPSTREAM,
                "The upstream's finish reason becomes the matching status (stop: completed, length: incomplete, ...).",
                "Truncation reported as completed loses the signal (B-11, H-09).")
def _finish(final: dict, upstream: dict) -> Iterator[Finding]:
    reason = upstream.get("finish_reason")
    if reason not in FINISH_TO_STATUS:
        return
    status, incomplete = FINISH_TO_STATUS[reason]
    details = final.get("incomplete_details") if isinstance(final.get("incomplete_details"), dict) else {}
    if final.get("status") != status or (incomplete and details.get("reason") != incomplete):
        yield Finding("consistency.upstream_finish_preserved",
                      f"the upstream finished with {reason!r}, the client got status {final.get('status')!r}"
                      f"{' with reason ' + repr(details.get('reason')) if details else ''}", "$.status")


@registry.check("consistency.upstream_usage_preserved", MUST, UPSTREAM,
                "The token counts that reach the client are the upstream's.",
                "Usage translated wrongly or dropped by bridges (F-04, F-05, F-06, F-08).")
def _usage(final: dict, upstream: dict) -> Iterator[Finding]:
    usage, sent = final.get("usage"), upstream.get("usage")
    if not isinstance(sent, dict) or not isinstance(usage, dict):
        if isinstance(sent, dict):
            yield Finding("consistency.upstream_usage_preserved",
                          f"the upstream reported usage, the client got {_show(usage)}", "$.usage")
        return
    # Chat Completions counts are prompt/completion tokens; Responses counts input/output.
    wanted = {"input_tokens": sent.get("input_tokens", sent.get("prompt_tokens")),
              "output_tokens": sent.get("output_tokens", sent.get("completion_tokens")),
              "total_tokens": sent.get("total_tokens")}
    for key, value in wanted.items():
        if value is not None and usage.get(key) != value:
            yield Finding("consistency.upstream_usage_preserved",
                          f"usage.{key} is {usage.get(key)!r}, the upstream counted {value!r}", f"$.usage.{key}")


def _same_json(a: Any, b: Any) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except (TypeError, ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        return a == b


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
