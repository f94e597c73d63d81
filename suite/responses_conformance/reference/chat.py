"""Upstream mode: `POST /v1/chat/completions` and `GET /v1/models` from the same model.

A proxy that bridges the Responses API to Chat Completions can sit in front of the
reference server. The Chat Completions request is read into the same input items a
Responses request would carry (system / developer / user messages, assistant messages and
their `tool_calls` as `function_call` items, `tool` messages as `function_call_output`
items), so the model answers it exactly as it answers the equivalent Responses request:
the same text, the same function calls with the same arguments and call ids, the same
token counts (`prompt_tokens` = `input_tokens`, `completion_tokens` = `output_tokens`).

Shapes follow OpenAI's Chat Completions API: `chat.completion` objects, and
`chat.completion.chunk` events ending with `data: [DONE]`; `stream_options.include_usage`
adds a last chunk with `choices: []` and the usage (every other chunk then has
`usage: null`). A run that fails (`FAIL_MIDSTREAM`) is an HTTP 500 before any byte.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ApiError
from .model import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    REASONING_EFFORTS,
    REASONING_MODELS,
    Completion,
    FunctionTool,
    Message,
    MessageOutput,
    Options,
    logprob_entries,
    messages_from_input,
)
from .validation import check_disabled_chat

ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
CHAT_FIELDS = frozenset({
    "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
    "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities",
    "n", "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
    "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier",
    "seed", "service_tier", "stop", "store", "stream", "stream_options", "temperature",
    "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
})
#: When the reference models were "released" (what `GET /v1/models` reports as `created`).
MODELS_CREATED = 1767225600
MODELS_OWNER = "responses-conformance"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass
class ChatRequest:
    model: str
    messages: list[Message]
    items: list[dict[str, Any]]  # the equivalent Responses input items
    options: Options
    stream: bool = False
    include_usage: bool = False
    include_obfuscation: bool = True
    max_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0


def _bad(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_of(content: Any, where: str, allowed: tuple[str, ...]) -> list[dict[str, Any]] | str:
    """A message's `content` as Responses content (a string, or input/output parts)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise errors.invalid_type(where, "one of a string or array of content parts", content)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise errors.invalid_type(at, "an object", part)
        kind = part.get("type")
        if kind not in allowed:
            raise errors.invalid_value(f"{at}.type", kind, list(allowed))
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise errors.invalid_type(f"{at}.text", "a string", part.get("text"))
            parts.append({"type": "input_text", "text": part["text"]})
        elif kind == "refusal":
            parts.append({"type": "refusal", "refusal": str(part.get("refusal", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append({"type": "input_image", "image_url": url, "detail": "auto"})
        elif kind == "file":
            parts.append({"type": "input_file", **(part.get("file") or {})})
        # input_audio: no text to read
    return parts


def _items_from_messages(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise errors.invalid_type("messages", "an array", raw)
    if not raw:
        raise _bad("Invalid 'messages': empty array. Expected an array with minimum length 1, "
                   "but got an empty array instead.", "messages", "empty_array")
    items: list[dict[str, Any]] = []
    pending_calls: set[str] = set()
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise errors.invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise errors.missing_parameter(f"{where}.role")
        if role not in ROLES:
            raise errors.invalid_value(f"{where}.role", role, ROLES)
        content = message.get("content")
        if role in ("system", "developer", "user"):
            if content is None:
                raise errors.missing_parameter(f"{where}.content")
            allowed = ("text", "image_url", "input_audio", "file") if role == "user" else ("text",)
            items.append({"role": role, "content": _text_of(content, f"{where}.content", allowed)})
        elif role == "assistant":
            calls = message.get("tool_calls") or []
            if content is not None:
                text = _text_of(content, f"{where}.content", ("text", "refusal"))
                if isinstance(text, list):
                    text = [{"type": "output_text", "text": p["text"], "annotations": []}
                            if p["type"] == "input_text" else p for p in text]
                if text:
                    items.append({"role": "assistant", "content": text})
            elif not calls and message.get("refusal") is None and not message.get("function_call"):
                raise errors.missing_parameter(f"{where}.content")
            if isinstance(message.get("refusal"), str) and content is None:
                items.append({"role": "assistant",
                              "content": [{"type": "refusal", "refusal": message["refusal"]}]})
            if not isinstance(calls, list):
                raise errors.invalid_type(f"{where}.tool_calls", "an array", calls)
            for j, call in enumerate(calls):
                at = f"{where}.tool_calls[{j}]"
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(call, dict) or not isinstance(function, dict):
                    raise errors.missing_parameter(f"{at}.function")
                for key, value in (("id", call.get("id")), ("function.name", function.get("name")),
                                   ("function.arguments", function.get("arguments"))):
                    if value is None:
                        raise errors.missing_parameter(f"{at}.{key}")
                    if not isinstance(value, str):
                        raise errors.invalid_type(f"{at}.{key}", "a string", value)
                pending_calls.add(call["id"])
                items.append({"type": "function_call", "call_id": call["id"],
                              "name": function["name"], "arguments": function["arguments"]})
        else:  # tool (and the deprecated function role)
            call_id = message.get("tool_call_id") if role == "tool" else None
            if role == "tool" and not isinstance(call_id, str):
                raise errors.missing_parameter(f"{where}.tool_call_id")
            if role == "tool" and call_id not in pending_calls:
                raise _bad("Invalid parameter: messages with role 'tool' must be a response to a "
                           "preceeding message with 'tool_calls'.", f"messages.[{i}].role")
            text = _text_of(content if content is not None else "", f"{where}.content", ("text",))
            output = text if isinstance(text, str) else "\n".join(p["text"] for p in text)
            items.append({"type": "function_call_output", "call_id": call_id or "",
                          "output": output})
    return items


def _tools(raw: Any) -> tuple[FunctionTool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise errors.invalid_type("tools", "an array", raw)
    tools = []
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise errors.invalid_type(where, "an object", tool)
        if tool.get("type") != "function":
            raise errors.invalid_value(f"{where}.type", tool.get("type"), ["function"])
        function = tool.get("function")
        if not isinstance(function, dict):
            raise errors.missing_parameter(f"{where}.function")
        if not isinstance(function.get("name"), str):
            raise errors.missing_parameter(f"{where}.function.name")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise errors.invalid_type(f"{where}.function.parameters", "an object", parameters)
        tools.append(FunctionTool(function["name"], str(function.get("description") or ""),
                                  parameters or {}))
    return tuple(tools)


def _tool_choice(raw: Any, tools: tuple[FunctionTool, ...]) -> Any:
    if raw is None:
        return "auto"
    if isinstance(raw, str):
        if raw not in ("none", "auto", "required"):
            raise errors.invalid_value("tool_choice", raw, ["none", "auto", "required"])
        if raw == "required" and not tools:
            raise errors.tool_choice_without_tools()
        return raw
    if isinstance(raw, dict) and raw.get("type") == "function":
        name = (raw.get("function") or {}).get("name")
        if not any(t.name == name for t in tools):
            raise errors.tool_choice_not_found(str(name))
        return {"type": "function", "name": name}
    raise errors.invalid_type("tool_choice", "one of a string or an object", raw)


def _response_format(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise errors.invalid_type("response_format", "an object", raw)
    kind = raw.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict):
            raise errors.missing_parameter("response_format.json_schema")
        if not isinstance(spec.get("name"), str):
            raise errors.missing_parameter("response_format.json_schema.name")
        schema = spec.get("schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise errors.invalid_json_schema(spec["name"], (schema or {}).get("type")
                                             if isinstance(schema, dict) else schema)
        return {"type": "json_schema", "name": spec["name"], "schema": schema}
    raise errors.invalid_value("response_format.type", kind, ["text", "json_object", "json_schema"])


def parse_chat_request(body: Any, disabled: frozenset[str] = frozenset()) -> ChatRequest:
    """Validate a Chat Completions body; raise ApiError (OpenAI's messages) on the first problem."""
    if not isinstance(body, dict):
        raise errors.not_an_object(errors.type_name(body))
    for name in body:
        if name not in CHAT_FIELDS:
            raise _bad(f"Unrecognized request argument supplied: {name}")
    model = body.get("model")
    if model is None:
        raise _bad("you must provide a model parameter")
    if not isinstance(model, str):
        raise errors.invalid_type("model", "a string", model)
    if model not in KNOWN_MODELS:
        raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                       code="model_not_found")
    if "messages" not in body:
        raise errors.missing_parameter("messages")
    check_disabled_chat(body, disabled)
    for name, ok, expected in (
        ("stream", lambda v: isinstance(v, bool), "a boolean"),
        ("logprobs", lambda v: isinstance(v, bool), "a boolean"),
        ("parallel_tool_calls", lambda v: isinstance(v, bool), "a boolean"),
        ("temperature", _is_number, "a decimal"),
        ("top_p", _is_number, "a decimal"),
        ("max_tokens", _is_int, "an integer"),
        ("max_completion_tokens", _is_int, "an integer"),
        ("n", _is_int, "an integer"),
        ("top_logprobs", _is_int, "an integer"),
        ("stream_options", lambda v: isinstance(v, dict), "an object"),
        ("metadata", lambda v: isinstance(v, dict), "an object"),
        ("reasoning_effort", lambda v: isinstance(v, str), "a string"),
    ):
        value = body.get(name)
        if value is not None and not ok(value):
            raise errors.invalid_type(name, expected, value)
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1), ("max_tokens", 1, None),
                            ("max_completion_tokens", 1, None), ("top_logprobs", 0, 20)):
        value = body.get(name)
        if value is not None and (value < low or (high is not None and value > high)):
            raise errors.out_of_range(name, value, minimum=low, maximum=high)
    if body.get("n") not in (None, 1):
        raise _bad("The reference server answers one choice per request: 'n' must be 1.", "n",
                   "unsupported_value")
    stream = bool(body.get("stream"))
    stream_options = body.get("stream_options")
    if stream_options is not None and not stream:
        raise _bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                   "stream_options")
    stream_options = stream_options or {}
    logprobs = bool(body.get("logprobs"))
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None and not logprobs:
        raise _bad("Invalid value for 'top_logprobs': 'logprobs' must be set to true.",
                   "top_logprobs", "invalid_value")
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in REASONING_EFFORTS:
            raise errors.invalid_value("reasoning_effort", effort, REASONING_EFFORTS)
        if model not in REASONING_MODELS:
            raise errors.unsupported_parameter("reasoning_effort",
                                               "is not supported with this model.")
    items = _items_from_messages(body["messages"])
    tools = _tools(body.get("tools"))
    options = Options(
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        reasoning_effort=effort if effort not in (None, "none") else None,
        text_format=_response_format(body.get("response_format")),
    )
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    return ChatRequest(
        model=model,
        messages=messages_from_input(items),
        items=items,
        options=options,
        stream=stream,
        include_usage=stream_options.get("include_usage") is True,
        include_obfuscation=stream_options.get("include_obfuscation") is not False,
        max_tokens=max_tokens,
        logprobs=logprobs,
        top_logprobs=top_logprobs or 0,
    )


# --------------------------------------------------------------------------- rendering


def completion_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_ALNUM) for _ in range(29))


def finish_reason(completion: Completion) -> str:
    if completion.truncated:
        return "length"
    return "tool_calls" if completion.calls else "stop"


def chat_usage(completion: Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": completion.input_tokens,
        "completion_tokens": completion.output_tokens,
        "total_tokens": completion.input_tokens + completion.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": completion.reasoning_tokens, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    }


def tool_calls(completion: Completion, call_ids: list[str]) -> list[dict[str, Any]]:
    return [{"id": call_id, "type": "function",
             "function": {"name": call.name, "arguments": call.arguments}}
            for call, call_id in zip(completion.calls, call_ids)]


def _logprobs(req: ChatRequest, deltas: tuple[str, ...], refusal: bool,
              start: int = 0) -> dict[str, Any] | None:
    if not req.logprobs:
        return None
    entries = logprob_entries(deltas, req.top_logprobs, start=start)
    return {"content": None, "refusal": entries} if refusal else {"content": entries,
                                                                   "refusal": None}


def chat_completion(req: ChatRequest, completion: Completion, call_ids: list[str],
                    chat_id: str, created: int) -> dict[str, Any]:
    """The non-streamed `chat.completion` object."""
    message_plan = completion.message
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None,
                               "annotations": []}
    logprobs = None
    if message_plan is not None:
        if message_plan.refusal:
            message["refusal"] = message_plan.text
        else:
            message["content"] = message_plan.text
        logprobs = _logprobs(req, message_plan.deltas, message_plan.refusal)
    elif not completion.calls:
        message["content"] = ""
    if completion.calls:
        message["tool_calls"] = tool_calls(completion, call_ids)
    return {
        "id": chat_id,
        "object": "chat.completion",
        "created": created,
        "model": req.model,
        "choices": [{"index": 0, "message": message, "logprobs": logprobs,
                     "finish_reason": finish_reason(completion)}],
        "usage": chat_usage(completion),
        "service_tier": "default",
        "system_fingerprint": None,
    }


def obfuscation(chat_id: str, index: int) -> str:
    """Deterministic padding for a chunk (OpenAI pads chunks with random characters)."""
    seed = hashlib.sha256(f"{chat_id}:{index}".encode()).digest()
    return "".join(_ALNUM[b % 62] for b in seed[:1 + (index * 7) % 15])


def chat_chunks(req: ChatRequest, completion: Completion, call_ids: list[str], chat_id: str,
                created: int) -> Iterator[dict[str, Any]]:
    """Every `chat.completion.chunk` of the streamed answer (without `[DONE]`)."""
    base = {"id": chat_id, "object": "chat.completion.chunk", "created": created,
            "model": req.model, "service_tier": "default", "system_fingerprint": None}

    def chunk(delta: dict[str, Any], logprobs: Any = None, finish: str | None = None,
              ) -> dict[str, Any]:
        out = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                                    "finish_reason": finish}]}
        if req.include_usage:
            out["usage"] = None
        return out

    plan = completion.message
    first: dict[str, Any] = {"role": "assistant"}
    if completion.calls:
        for index, (call, call_id) in enumerate(zip(completion.calls, call_ids)):
            opening = {"index": index, "id": call_id, "type": "function",
                       "function": {"name": call.name, "arguments": ""}}
            delta = ({**first, "content": None, "tool_calls": [opening], "refusal": None}
                     if index == 0 else {"tool_calls": [opening]})
            yield chunk(delta)
            for piece in call.deltas:
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    elif isinstance(plan, MessageOutput) and plan.refusal:
        yield chunk({**first, "content": None, "refusal": ""})
        for position, piece in enumerate(plan.deltas):
            yield chunk({"refusal": piece}, _logprobs(req, (piece,), True, position))
    else:
        yield chunk({**first, "content": "", "refusal": None})
        for position, piece in enumerate(plan.deltas if plan is not None else ()):
            yield chunk({"content": piece}, _logprobs(req, (piece,), False, position))
    yield chunk({}, None, finish_reason(completion))
    if req.include_usage:
        yield {**base, "choices": [], "usage": chat_usage(completion)}


def journal_entry(path: str, body: Any, status: int, *, stream: bool,
                  completion: Completion | None = None, call_ids: list[str] | None = None,
                  usage: dict[str, Any] | None = None, error: dict[str, Any] | None = None,
                  finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """One journal entry: the request, and what the model produced for it."""
    entry: dict[str, Any] = {"path": path, "request": body, "status": status, "stream": stream}
    entry.update(extra)
    if completion is not None:
        plan = completion.message
        finish = finish or ("error" if completion.failed else finish_reason(completion))
        calls = [{"call_id": call_id, "name": call.name, "arguments": call.arguments}
                 for call, call_id in zip(completion.calls, call_ids or [])]
        entry.update({
            "text": plan.text if plan is not None and not plan.refusal else None,
            "refusal": plan.text if plan is not None and plan.refusal else None,
            "tool_calls": calls,
            "finish_reason": finish,
            "usage": usage,
        })
    if error is not None:
        entry["error"] = error
    return entry


def models_list() -> dict[str, Any]:
    names = [DEFAULT_MODEL, *sorted(KNOWN_MODELS - {DEFAULT_MODEL})]
    return {"object": "list", "data": [model_object(n) for n in names]}


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": MODELS_OWNER}


def model_not_found(name: str) -> ApiError:
    return ApiError(404, f"The model '{name}' does not exist", param="model",
                    code="model_not_found")

