"""Microsoft's azure-ai-agentserver-responses with a deterministic handler, on 127.0.0.1.

    python azure_handler.py PORT MAX_SECONDS

No model: function tools offered (and no tool output in the input yet) get one `function_call`
to the named or first tool (arguments shaped from its required properties); anything else gets
"Hello from a deterministic handler." (a reasoning summary first when reasoning is asked for,
`{}`-shaped JSON for a JSON-schema text format, cut to `incomplete` by a small
`max_output_tokens`, one token per word). The host is the package's own `ResponsesAgentServerHost`
served by its own `run()` (Hypercorn); the process stops itself after MAX_SECONDS.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading

from azure.ai.agentserver.responses import ResponseContext, ResponsesAgentServerHost
from azure.ai.agentserver.responses.streaming import ResponseEventStream

TEXT = "Hello from a deterministic handler."

app = ResponsesAgentServerHost()


def field(obj, name, default=None):
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    try:
        value = obj[name]
    except (KeyError, TypeError, IndexError):
        value = getattr(obj, name, default)
    return default if value is None else value


def shaped(schema) -> object:
    schema = schema or {}
    kind = field(schema, "type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    enum = field(schema, "enum")
    if enum:
        return enum[0]
    if kind == "object" or field(schema, "properties"):
        props = field(schema, "properties") or {}
        return {name: shaped(field(props, name)) for name in (field(schema, "required") or list(props))}
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "null": None}.get(kind, "x")


@app.response_handler
async def handler(request, context: ResponseContext, cancellation_signal: asyncio.Event):
    stream = ResponseEventStream(response_id=context.response_id, request=request)
    yield stream.emit_created()
    yield stream.emit_in_progress()
    items = await context.get_input_items()
    answered = any(field(item, "type") == "function_call_output" for item in items)
    tools = [t for t in (field(request, "tools") or []) if field(t, "type") == "function"]
    choice = field(request, "tool_choice", "auto")
    words_in = max(len((await context.get_input_text() or "").split()), 1)
    usage = lambda out: {"input_tokens": words_in, "output_tokens": out, "total_tokens": words_in + out,  # noqa: E731
                         "input_tokens_details": {"cached_tokens": 0},
                         "output_tokens_details": {"reasoning_tokens": 0}}
    if tools and not answered and choice != "none":
        named = field(choice, "name") if not isinstance(choice, str) else None
        count = 2 if field(request, "parallel_tool_calls", True) is not False else 1
        chosen = [t for t in tools if field(t, "name") == named] if named else tools[:count]
        for index, tool in enumerate(chosen or tools[:1]):
            yield_from = stream.output_item_function_call(field(tool, "name"), f"call_det{index}",
                                                          json.dumps(shaped(field(tool, "parameters"))))
            for event in yield_from:
                yield event
        yield stream.emit_completed(usage=usage(3 * len(chosen or tools[:1])))
        return
    out = 0
    reasoning = field(request, "reasoning")
    if reasoning and (field(reasoning, "effort") or field(reasoning, "summary")):
        for event in stream.output_item_reasoning_item("Answering with the fixed sentence."):
            yield event
        out += 5
    fmt = field(field(request, "text"), "format")
    if field(fmt, "type") == "json_schema":
        words = [json.dumps(shaped(field(fmt, "schema")))]
    else:
        words = [w if i == 0 else " " + w for i, w in enumerate(TEXT.split())]
    limit = field(request, "max_output_tokens")
    message = stream.add_output_item_message()
    yield message.emit_added()
    text = message.add_text_content()
    yield text.emit_added()
    sent = ""
    for word in words:
        if limit is not None and out >= limit:
            break
        yield text.emit_delta(word)
        sent += word
        out += 1
    yield text.emit_text_done(sent)
    yield text.emit_done()
    yield message.emit_done()
    if sent != "".join(words):
        yield stream.emit_incomplete(reason="max_output_tokens", usage=usage(out))
    else:
        yield stream.emit_completed(usage=usage(out))


def main() -> None:
    port, lifetime = int(sys.argv[1]), float(sys.argv[2])
    timer = threading.Timer(lifetime, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.daemon = True
    timer.start()
    app.run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
