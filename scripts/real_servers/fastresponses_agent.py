"""A deterministic agent for fastresponses (`fastresponses serve fastresponses_agent.py:agent`).

No model: the answer is a function of the request alone.

* function tools offered and no tool output in the input yet: one `function_call` to the named
  tool (tool_choice), else to the first function tool (two calls, to the first two tools, when
  `parallel_tool_calls` is not false and two or more are offered), arguments `{}`-shaped from
  the tool's required properties;
* otherwise text: "Hello from a deterministic agent." as one delta per word, preceded by a
  one-line reasoning summary when the request asks for reasoning; a JSON schema format gets
  `{}`-shaped JSON from the schema's required properties;
* `max_output_tokens` (one token per word here) cuts the text and ends the response
  `incomplete`; usage counts one input token per input word and one output token per word.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastresponses import (AgentAdapter, AgentRun, Incomplete, ItemDone, ReasoningDelta, TextDelta,
                           UsageDelta)
from fastresponses.models import FunctionCallItem

TEXT = "Hello from a deterministic agent."


def _value(schema: dict) -> object:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: _value(props.get(name) or {}) for name in schema.get("required", list(props))}
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "null": None}.get(kind, "x")


def _words(items) -> int:
    count = 0
    for item in items:
        text = item.text() if hasattr(item, "text") and callable(item.text) else getattr(item, "output", "")
        count += len(str(text).split())
    return max(count, 1)


class DeterministicAgent(AgentAdapter):
    name = "deterministic"
    default_model = "deterministic-agent"

    async def run(self, run: AgentRun) -> AsyncIterator:
        request = run.request
        tools = request.function_tools()
        answered = any(getattr(item, "type", None) == "function_call_output" for item in run.new_items)
        choice = request.tool_choice
        input_tokens = _words(run.context_items)
        if tools and not answered and choice != "none":
            named = getattr(choice, "name", None)
            chosen = [t for t in tools if t.name == named] if named else tools[: 2 if request.parallel_tool_calls is not False else 1]
            for index, tool in enumerate(chosen or tools[:1]):
                arguments = json.dumps(_value(tool.parameters or {}))
                yield ItemDone(FunctionCallItem(id=f"fc_det{index}", call_id=f"call_det{index}", name=tool.name,
                                                arguments=arguments, status="completed"))
            yield UsageDelta(input_tokens=input_tokens, output_tokens=len(chosen) * 3,
                             total_tokens=input_tokens + len(chosen) * 3)
            return
        output = 0
        if request.reasoning is not None and (request.reasoning.effort or request.reasoning.summary):
            yield ReasoningDelta("Answering with the fixed sentence.")
            output += 5
        fmt = getattr(getattr(request, "text", None), "format", None)
        if getattr(fmt, "type", None) == "json_schema":
            words = [json.dumps(_value(getattr(fmt, "json_schema", None) or {}))]
        else:
            words = [w if i == 0 else " " + w for i, w in enumerate(TEXT.split())]
        limit = request.max_output_tokens
        for index, word in enumerate(words):
            if limit is not None and output >= limit:
                yield UsageDelta(input_tokens=input_tokens, output_tokens=output, total_tokens=input_tokens + output)
                yield Incomplete("max_output_tokens")
                return
            yield TextDelta(word)
            output += 1
        yield UsageDelta(input_tokens=input_tokens, output_tokens=output, total_tokens=input_tokens + output)


agent = DeterministicAgent()
