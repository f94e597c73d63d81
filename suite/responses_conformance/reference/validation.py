"""Validation of a `POST /v1/responses` body into a `ResponseRequest`.

Every problem is an `ApiError` (HTTP 400, OpenAI envelope) naming the offending `param`.
Checks run in this order: model missing / ill-typed / unknown, input missing, then every
other field's type and range (tools, tool_choice, text.format, reasoning included), then the
structure of `input`. Unknown top-level fields are rejected like OpenAI does
(`unknown_parameter`); real OpenAI fields that this server cannot honour are rejected as
`unsupported_parameter` rather than silently ignored (`reasoning.*` on `ref-model-mini`).
Whether a `function_call_output` answers a known call is checked later, by the app, once
the stored conversation of `previous_response_id` is known.

A `compaction` item (what `POST /v1/responses/compact` returns) needs a string
`encrypted_content` that this server sealed (`compaction_codec.decode`); the turns it folded
take its place in the conversation the model reads. Anything else there is 400
`invalid_encrypted_content` naming `input[i].encrypted_content`.

Features switched off on the server (`create_app(disabled=...)`, names in `FEATURES`) are
refused right after the unknown-field check, as a server that does not offer them would:
400 `unsupported_parameter` naming the parameter that asks for the feature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .compaction_codec import NotOurs, decode
from .model import (
    KNOWN_MODELS,
    REASONING_EFFORTS,
    REASONING_MODELS,
    REASONING_SUMMARIES,
    FunctionTool,
    Message,
    Options,
    messages_from_input,
)

ROLES = ["user", "assistant", "system", "developer"]
PART_TYPES = ["input_text", "output_text", "refusal", "input_image", "input_file"]
TEXT_PART_KEY = {"input_text": "text", "output_text": "text", "refusal": "refusal"}
# Non-message input items accepted as context (their text counts as input tokens).
OTHER_ITEM_TYPES = [
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "reasoning",
    "item_reference",
    "compaction",
]
#: Tool types of SPEC `Tool` (function tools are the ones the model calls; the others are
#: accepted and echoed, never used).
TOOL_TYPES = [
    "function", "file_search", "computer", "computer_use_preview", "web_search",
    "web_search_2025_08_26", "mcp", "code_interpreter", "programmatic_tool_calling",
    "image_generation", "local_shell", "shell", "custom", "namespace", "tool_search",
    "web_search_preview", "web_search_preview_2025_03_11", "apply_patch",
]
TRUNCATION = ["auto", "disabled"]
SERVICE_TIERS = ["auto", "default", "flex", "scale", "priority"]
TOOL_CHOICES = ["none", "auto", "required"]
TEXT_FORMATS = ["text", "json_object", "json_schema"]
VERBOSITIES = ["low", "medium", "high"]
ENCRYPTED_REASONING = "reasoning.encrypted_content"
OUTPUT_LOGPROBS = "message.output_text.logprobs"
INPUT_IMAGE_URL = "message.input_image.image_url"
#: Every documented `include` value (SPEC IncludeEnum, and the reference docs' list).
INCLUDE_VALUES = [
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
]
METADATA_MAX_KEYS = 16
METADATA_MAX_KEY_LENGTH = 64
METADATA_MAX_VALUE_LENGTH = 512

#: Feature switches of `create_app(disabled=...)`: what a request must not ask for then.
FEATURES = {
    "tools": "function tools (`tools`, `tool_choice`, function_call items in `input`)",
    "reasoning": "`reasoning` and `include: [\"reasoning.encrypted_content\"]`",
    "structured_output": "`text.format` json_schema / json_object",
    "state": "`store: true`, `previous_response_id`, GET / DELETE / cancel / input_items",
    "background": "`background: true` and POST /v1/responses/{id}/cancel",
    "streaming": "`stream: true` (POST, and GET ?stream=true)",
    "resume": "GET /v1/responses/{id}?stream=true and `starting_after`",
    "include": "`include` (any value)",
}

# Accepted and echoed (or harmlessly ignored: include, stream_options).
KNOWN_FIELDS = frozenset(
    {
        "model", "input", "instructions", "stream", "store", "temperature", "top_p",
        "max_output_tokens", "metadata", "previous_response_id", "tools", "tool_choice",
        "parallel_tool_calls", "text", "reasoning", "truncation", "user", "service_tier",
        "top_logprobs", "max_tool_calls", "prompt_cache_key", "prompt_cache_retention",
        "safety_identifier", "stream_options", "include", "background",
    }
)
TOOL_ITEM_TYPES = frozenset({"function_call", "function_call_output", "custom_tool_call",
                             "custom_tool_call_output"})
# Real Responses API fields this server refuses explicitly.
UNSUPPORTED_FIELDS = {
    "conversation": "is not supported by the reference server; use 'previous_response_id'.",
    "prompt": "is not supported by the reference server (no stored prompts).",
}


@dataclass
class ResponseRequest:
    """A validated request, with defaults filled in the way OpenAI echoes them."""

    model: str
    input: str | list[Any]
    messages: list[Message]
    instructions: str | None = None
    stream: bool = False
    store: bool = True
    temperature: float = 1.0
    top_p: float = 1.0
    max_output_tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    previous_response_id: str | None = None
    tools: list[Any] = field(default_factory=list)
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    text: dict[str, Any] = field(
        default_factory=lambda: {"format": {"type": "text"}, "verbosity": "medium"}
    )
    reasoning: dict[str, Any] = field(default_factory=lambda: {"effort": None, "summary": None})
    truncation: str = "disabled"
    user: str | None = None
    service_tier: str = "auto"
    top_logprobs: int = 0
    max_tool_calls: int | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = None
    include_obfuscation: bool = True
    include: list[str] = field(default_factory=list)
    background: bool = False
    function_tools: tuple[FunctionTool, ...] = ()

    @property
    def options(self) -> Options:
        """What the model needs from this request besides the conversation."""
        effort = self.reasoning.get("effort")
        summary = self.reasoning.get("summary")
        reasons = self.model in REASONING_MODELS and (effort is not None or summary is not None)
        return Options(
            tools=self.function_tools,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            reasoning_effort=(effort or "medium") if reasons else None,
            reasoning_summary=summary if reasons else None,
            encrypted_reasoning=ENCRYPTED_REASONING in self.include,
            text_format=self.text.get("format"),
        )


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "instructions": (lambda v: isinstance(v, str), "a string"),
    "stream": (lambda v: isinstance(v, bool), "a boolean"),
    "store": (lambda v: isinstance(v, bool), "a boolean"),
    "background": (lambda v: isinstance(v, bool), "a boolean"),
    "parallel_tool_calls": (lambda v: isinstance(v, bool), "a boolean"),
    "temperature": (_is_number, "a decimal"),
    "top_p": (_is_number, "a decimal"),
    "max_output_tokens": (_is_int, "an integer"),
    "top_logprobs": (_is_int, "an integer"),
    "max_tool_calls": (_is_int, "an integer"),
    "metadata": (lambda v: isinstance(v, dict), "an object"),
    "previous_response_id": (lambda v: isinstance(v, str), "a string"),
    "user": (lambda v: isinstance(v, str), "a string"),
    "prompt_cache_key": (lambda v: isinstance(v, str), "a string"),
    "prompt_cache_retention": (lambda v: isinstance(v, str), "a string"),
    "safety_identifier": (lambda v: isinstance(v, str), "a string"),
    "truncation": (lambda v: isinstance(v, str), "a string"),
    "service_tier": (lambda v: isinstance(v, str), "a string"),
    "tools": (lambda v: isinstance(v, list), "an array"),
    "tool_choice": (lambda v: isinstance(v, (str, dict)), "one of a string or an object"),
    "text": (lambda v: isinstance(v, dict), "an object"),
    "reasoning": (lambda v: isinstance(v, dict), "an object"),
    "stream_options": (lambda v: isinstance(v, dict), "an object"),
    "include": (lambda v: isinstance(v, list), "an array"),
}

_RANGES: dict[str, tuple[Any, Any]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "max_output_tokens": (1, None),
    "top_logprobs": (0, 20),
    "max_tool_calls": (0, None),
}

_ENUMS: dict[str, list[str]] = {"truncation": TRUNCATION, "service_tier": SERVICE_TIERS}


def not_offered(param: str) -> errors.ApiError:
    """The error for a request that asks for a feature the server was started without."""
    return errors.unsupported_parameter(param, "is not supported by this server.")


def check_disabled(body: dict[str, Any], disabled: frozenset[str]) -> None:
    """Refuse, as a server without them would, the features switched off in `disabled`."""
    if not disabled:
        return

    def present(name: str) -> bool:
        return body.get(name) is not None

    if "streaming" in disabled and body.get("stream") is True:
        raise not_offered("stream")
    if "background" in disabled and body.get("background") is True:
        raise not_offered("background")
    if "state" in disabled:
        if body.get("store") is True:
            raise not_offered("store")
        if present("previous_response_id"):
            raise not_offered("previous_response_id")
        if body.get("background") is True:  # a background response must be stored
            raise not_offered("background")
    if "tools" in disabled:
        if body.get("tools"):
            raise not_offered("tools")
        if body.get("tool_choice") not in (None, "none", "auto"):
            raise not_offered("tool_choice")
        items = body.get("input")
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and item.get("type") in TOOL_ITEM_TYPES:
                raise not_offered(f"input[{index}].type")
    include = body.get("include")
    include = include if isinstance(include, list) else []
    if "include" in disabled and include:
        raise not_offered("include")
    if "reasoning" in disabled:
        reasoning = body.get("reasoning")
        if isinstance(reasoning, dict) and any(v is not None for v in reasoning.values()):
            raise not_offered("reasoning")
        if ENCRYPTED_REASONING in include:
            raise not_offered(f"include[{include.index(ENCRYPTED_REASONING)}]")
    if "structured_output" in disabled:
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
            raise not_offered("text.format")


def check_disabled_chat(body: dict[str, Any], disabled: frozenset[str]) -> None:
    """`check_disabled` for a Chat Completions body (its own parameter names)."""
    if "streaming" in disabled and body.get("stream") is True:
        raise not_offered("stream")
    if "tools" in disabled:
        if body.get("tools"):
            raise not_offered("tools")
        if body.get("tool_choice") not in (None, "none", "auto"):
            raise not_offered("tool_choice")
    if "reasoning" in disabled and body.get("reasoning_effort") not in (None, "none"):
        raise not_offered("reasoning_effort")
    fmt = body.get("response_format")
    if ("structured_output" in disabled and isinstance(fmt, dict)
            and fmt.get("type") in ("json_schema", "json_object")):
        raise not_offered("response_format")


def check_include(include: list[Any], param: str = "include") -> list[str]:
    """Every entry a documented `include` value, else 400 naming `include[i]`."""
    for index, entry in enumerate(include):
        if not isinstance(entry, str):
            raise errors.invalid_type(f"{param}[{index}]", "a string", entry)
        if entry not in INCLUDE_VALUES:
            raise errors.invalid_value(f"{param}[{index}]", entry, INCLUDE_VALUES)
    return list(include)


def check_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """At most 16 pairs; keys up to 64 characters, string values up to 512 (SPEC Metadata)."""
    if len(metadata) > METADATA_MAX_KEYS:
        raise errors.ApiError(
            400,
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{METADATA_MAX_KEYS} properties, but got an object with {len(metadata)} properties "
            "instead.",
            param="metadata", code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY_LENGTH:
            raise errors.ApiError(
                400,
                f"Invalid 'metadata': key too long. Expected a key with maximum length "
                f"{METADATA_MAX_KEY_LENGTH}, but got a key with length {len(key)} instead.",
                param="metadata", code="string_above_max_length",
            )
        if not isinstance(value, str):
            raise errors.invalid_type(f"metadata.{key}", "a string", value)
        if len(value) > METADATA_MAX_VALUE_LENGTH:
            raise errors.ApiError(
                400,
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum "
                f"length {METADATA_MAX_VALUE_LENGTH}, but got a string with length {len(value)} "
                "instead.",
                param=f"metadata.{key}", code="string_above_max_length",
            )
    return dict(metadata)


def parse_request(body: Any, disabled: frozenset[str] = frozenset()) -> ResponseRequest:
    """Validate a decoded JSON body; raise `errors.ApiError` on the first problem."""
    if not isinstance(body, dict):
        raise errors.not_an_object(errors.type_name(body))

    if "model" not in body:
        raise errors.missing_parameter("model")
    model = body["model"]
    if not isinstance(model, str):
        raise errors.invalid_type("model", "a string", model)
    if model not in KNOWN_MODELS:
        raise errors.model_not_found(model)

    if "input" not in body:
        raise errors.missing_parameter("input")
    input_value = body["input"]
    if not isinstance(input_value, (str, list)):
        raise errors.invalid_type(
            "input", "one of a string or array of input items", input_value
        )

    for name in body:
        if name in UNSUPPORTED_FIELDS and body[name] is not None:
            raise errors.unsupported_parameter(name, UNSUPPORTED_FIELDS[name])
        if name not in KNOWN_FIELDS and name not in UNSUPPORTED_FIELDS:
            raise errors.unknown_parameter(name)
    check_disabled(body, disabled)

    values: dict[str, Any] = {}
    for name, (ok, expected) in _CHECKS.items():
        value = body.get(name)
        if value is None:
            continue  # absent or null: the default applies
        if not ok(value):
            raise errors.invalid_type(name, expected, value)
        if name in _RANGES:
            low, high = _RANGES[name]
            if (low is not None and value < low) or (high is not None and value > high):
                raise errors.out_of_range(name, value, minimum=low, maximum=high)
        if name in _ENUMS and value not in _ENUMS[name]:
            raise errors.invalid_value(name, value, _ENUMS[name])
        values[name] = value

    metadata = check_metadata(values.get("metadata", {}))

    tools, function_tools = _check_tools(values.get("tools", []))
    tool_choice = _check_tool_choice(values.get("tool_choice", "auto"), function_tools)

    if values.get("background") and values.get("store") is False:
        raise errors.ApiError(
            400, "Background responses must be stored: 'background: true' requires "
            "'store: true'.", param="background", code="invalid_value",
        )

    stream_options = values.get("stream_options", {})
    include_obfuscation = stream_options.get("include_obfuscation", True)
    if not isinstance(include_obfuscation, bool):
        raise errors.invalid_type(
            "stream_options.include_obfuscation", "a boolean", include_obfuscation
        )

    text = _check_text(values.get("text", {}))
    reasoning = _check_reasoning(values.get("reasoning", {}), model)
    include = check_include(values.get("include", []))

    compactions = _check_items(input_value) if isinstance(input_value, list) else {}

    request = ResponseRequest(
        model=model,
        input=input_value,
        messages=_messages(input_value, compactions),
        metadata=dict(metadata),
        tool_choice=tool_choice,
        text=text,
        reasoning=reasoning,
        include_obfuscation=include_obfuscation,
        include=list(include),
        tools=tools,
        function_tools=function_tools,
    )
    for name in (
        "instructions", "stream", "store", "max_output_tokens", "previous_response_id",
        "parallel_tool_calls", "truncation", "user", "service_tier", "top_logprobs",
        "max_tool_calls", "prompt_cache_key", "prompt_cache_retention", "safety_identifier",
        "background",
    ):
        if name in values:
            setattr(request, name, values[name])
    for name in ("temperature", "top_p"):
        if name in values:
            setattr(request, name, float(values[name]))
    return request


def _messages(input_value: str | list[Any], compactions: dict[int, list[Message]]) -> list[Message]:
    """The conversation of `input`, each compaction item replaced by the turns it folded."""
    if not compactions:
        return messages_from_input(input_value)
    messages: list[Message] = []
    for index, item in enumerate(input_value):
        messages += compactions[index] if index in compactions else messages_from_input([item])
    return messages


def _decode_compaction(item: dict[str, Any], where: str) -> list[Message]:
    """The turns of a compaction input item, or 400 naming its `encrypted_content`."""
    _require_string(item, "encrypted_content", where)
    if item.get("id") is not None and not isinstance(item["id"], str):
        raise errors.invalid_type(f"{where}.id", "a string", item["id"])
    try:
        return decode(item["encrypted_content"])
    except NotOurs as exc:
        raise errors.ApiError(
            400, f"The encrypted content of {where} could not be verified: {exc}. Send the "
            "`compaction` item exactly as POST /v1/responses/compact of this server returned it.",
            param=f"{where}.encrypted_content", code="invalid_encrypted_content",
        ) from None


def refuse_compaction_items(body: Any) -> None:
    """Fault `compaction_refused`: a `compaction` input item is an unknown item type."""
    items = body.get("input") if isinstance(body, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("type") == "compaction":
            supported = ["message", *(t for t in OTHER_ITEM_TYPES if t != "compaction")]
            raise errors.invalid_value(f"input[{index}].type", "compaction", supported)


def _check_items(items: list[Any]) -> dict[int, list[Message]]:
    """Check the input items; the turns of every compaction item, by index."""
    compactions: dict[int, list[Message]] = {}
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise errors.invalid_type(where, "an object", item)
        item_type = item.get("type", "message")
        if item_type is None:
            item_type = "message"
        if not isinstance(item_type, str):
            raise errors.invalid_type(f"{where}.type", "a string", item_type)
        if item_type == "function_call":
            for key in ("call_id", "name", "arguments"):
                _require_string(item, key, where)
            continue
        if item_type == "function_call_output":
            _require_string(item, "call_id", where)
            if "output" not in item:
                raise errors.missing_parameter(f"{where}.output")
            if not isinstance(item["output"], (str, list)):
                raise errors.invalid_type(
                    f"{where}.output", "one of a string or array of content parts", item["output"]
                )
            continue
        if item_type == "compaction":
            compactions[i] = _decode_compaction(item, where)
            continue
        if item_type in OTHER_ITEM_TYPES:
            continue
        if item_type != "message":
            raise errors.invalid_value(f"{where}.type", item_type, ["message", *OTHER_ITEM_TYPES])
        _check_message(item, where)
    return compactions


def _check_message(item: dict[str, Any], where: str) -> None:
    if "role" not in item:
        raise errors.missing_parameter(f"{where}.role")
    role = item["role"]
    if not isinstance(role, str):
        raise errors.invalid_type(f"{where}.role", "a string", role)
    if role not in ROLES:
        raise errors.invalid_value(f"{where}.role", role, ROLES)
    if "content" not in item:
        raise errors.missing_parameter(f"{where}.content")
    content = item["content"]
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise errors.invalid_type(
            f"{where}.content", "one of a string or array of input content parts", content
        )
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if not isinstance(part, dict):
            raise errors.invalid_type(at, "an object", part)
        if "type" not in part:
            raise errors.missing_parameter(f"{at}.type")
        part_type = part["type"]
        if not isinstance(part_type, str):
            raise errors.invalid_type(f"{at}.type", "a string", part_type)
        if part_type not in PART_TYPES:
            raise errors.invalid_value(f"{at}.type", part_type, PART_TYPES)
        key = TEXT_PART_KEY.get(part_type)
        if key is None:
            continue
        if key not in part:
            raise errors.missing_parameter(f"{at}.{key}")
        if not isinstance(part[key], str):
            raise errors.invalid_type(f"{at}.{key}", "a string", part[key])


def _require_string(item: dict[str, Any], key: str, where: str) -> None:
    if key not in item:
        raise errors.missing_parameter(f"{where}.{key}")
    if not isinstance(item[key], str):
        raise errors.invalid_type(f"{where}.{key}", "a string", item[key])


def _check_tools(tools: list[Any]) -> tuple[list[Any], tuple[FunctionTool, ...]]:
    """Validate `tools`; function tools are echoed the way OpenAI normalises them
    (`type, description, name, parameters, strict`), other (hosted) tools as given."""
    echoed: list[Any] = []
    functions: list[FunctionTool] = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise errors.invalid_type(where, "an object", tool)
        if "type" not in tool:
            raise errors.missing_parameter(f"{where}.type")
        if not isinstance(tool["type"], str):
            raise errors.invalid_type(f"{where}.type", "a string", tool["type"])
        if tool["type"] not in TOOL_TYPES:
            raise errors.invalid_value(f"{where}.type", tool["type"], TOOL_TYPES)
        if tool["type"] != "function":
            echoed.append(dict(tool))
            continue
        _require_string(tool, "name", where)
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise errors.invalid_type(f"{where}.description", "a string", description)
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise errors.invalid_type(f"{where}.parameters", "an object", parameters)
        strict = tool.get("strict", True)
        if strict is not None and not isinstance(strict, bool):
            raise errors.invalid_type(f"{where}.strict", "a boolean", strict)
        echoed.append({
            "type": "function",
            "description": description,
            "name": tool["name"],
            "parameters": parameters,
            "strict": True if strict is None else strict,
        })
        functions.append(FunctionTool(tool["name"], description or "", parameters or {}))
    return echoed, tuple(functions)


def _check_tool_choice(choice: Any, functions: tuple[FunctionTool, ...]) -> Any:
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise errors.invalid_value("tool_choice", choice, TOOL_CHOICES)
        if choice == "required" and not functions:
            raise errors.tool_choice_without_tools()
        return choice
    if "type" not in choice:
        raise errors.missing_parameter("tool_choice.type")
    if choice["type"] == "function":
        _require_string(choice, "name", "tool_choice")
        if not any(tool.name == choice["name"] for tool in functions):
            raise errors.tool_choice_not_found(choice["name"])
    return dict(choice)


def _check_text(value: dict[str, Any]) -> dict[str, Any]:
    text: dict[str, Any] = {"format": {"type": "text"}, "verbosity": "medium"}
    for key in value:
        if key not in text:
            raise errors.unknown_parameter(f"text.{key}")
    verbosity = value.get("verbosity")
    if verbosity is not None:
        if not isinstance(verbosity, str):
            raise errors.invalid_type("text.verbosity", "a string", verbosity)
        if verbosity not in VERBOSITIES:
            raise errors.invalid_value("text.verbosity", verbosity, VERBOSITIES)
        text["verbosity"] = verbosity
    fmt = value.get("format")
    if fmt is None:
        return text
    if not isinstance(fmt, dict):
        raise errors.invalid_type("text.format", "an object", fmt)
    if "type" not in fmt:
        raise errors.missing_parameter("text.format.type")
    if fmt["type"] not in TEXT_FORMATS:
        raise errors.invalid_value("text.format.type", fmt["type"], TEXT_FORMATS)
    if fmt["type"] == "json_schema":
        _require_string(fmt, "name", "text.format")
        if "schema" not in fmt:
            raise errors.missing_parameter("text.format.schema")
        schema = fmt["schema"]
        if not isinstance(schema, dict):
            raise errors.invalid_type("text.format.schema", "an object", schema)
        if schema.get("type") != "object":
            raise errors.invalid_json_schema(fmt["name"], schema.get("type"))
        strict = fmt.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise errors.invalid_type("text.format.strict", "a boolean", strict)
        description = fmt.get("description")
        if description is not None and not isinstance(description, str):
            raise errors.invalid_type("text.format.description", "a string", description)
        # echoed the way OpenAI normalises it: every field, description null, strict false
        text["format"] = {"type": "json_schema", "description": description,
                          "name": fmt["name"], "schema": schema, "strict": bool(strict)}
        return text
    text["format"] = {"type": fmt["type"]}
    return text


def _check_reasoning(value: dict[str, Any], model: str) -> dict[str, Any]:
    reasoning: dict[str, Any] = {"effort": None, "summary": None}
    for key in value:
        if key not in ("effort", "summary", "generate_summary"):
            raise errors.unknown_parameter(f"reasoning.{key}")
    summary = value.get("summary", value.get("generate_summary"))
    for key, current, allowed in (("effort", value.get("effort"), REASONING_EFFORTS),
                                  ("summary", summary, REASONING_SUMMARIES)):
        if current is None:
            continue
        if not isinstance(current, str):
            raise errors.invalid_type(f"reasoning.{key}", "a string", current)
        if current not in allowed:
            raise errors.invalid_value(f"reasoning.{key}", current, allowed)
        if model not in REASONING_MODELS:
            raise errors.unsupported_parameter(
                f"reasoning.{key}", "is not supported with this model."
            )
        reasoning[key] = current
    if model in REASONING_MODELS and (reasoning["effort"] or reasoning["summary"]):
        reasoning["effort"] = reasoning["effort"] or "medium"  # echoed as applied
    return reasoning
