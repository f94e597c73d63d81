"""The reference server's built-in model: deterministic and scripted.

Everything it produces depends only on the request (model name, instructions, input, tools,
`tool_choice`, `parallel_tool_calls`, `reasoning`, `text.format`, `max_output_tokens`), so a
test can predict it. The rules, in the order they are applied to the *last user text* (the
text of the last user message in the conversation, earlier turns included):

1. `FAIL_MIDSTREAM` in the last user text: the run fails (no output; the server reports a
   `server_error` in band).
2. Tool outputs: when `function_call_output` items follow the last user message, the model
   answers with text quoting every output: `The function get_weather returned: "sunny".`
   It never calls a tool on such a turn (whatever `tool_choice` says).
3. `REFUSE` in the last user text: the message is a refusal (a `refusal` content part).
4. Function tools (`{"type": "function", "name": ...}`) and `tool_choice` other than "none":
   a named `tool_choice` (`{"type": "function", "name": N}`) calls N; otherwise every tool
   the last user text *mentions* is called, in `tools` order - mentioned means its name, or
   a word of five or more letters from its description, appears there as a whole word
   (case-insensitive). With `tool_choice: "required"` and no tool mentioned, the first tool
   is called. `parallel_tool_calls: false` keeps only the first call. Arguments are built
   from the tool's `parameters` schema (`value_for_schema`).
5. Otherwise a message: with `text.format` `json_schema` a JSON document built from the
   schema, with `json_object` `{"reply": "<plain reply>"}`, else the plain reply:

    [instructions:<8 hex of sha256(instructions)>] You said: "<last user text>".
    Earlier you said: "<first user text>", "<second user text>". This is turn 3.
    I am the reference model.

(each quote at most QUOTE_LIMIT characters; the "Earlier" and "turn" sentences only when the
conversation has more than one user message, which is how the model shows it recalls them).

The instructions are `instructions` and the text of every `system` / `developer` message of
the conversation, joined with newlines in that order: a client (or a proxy) that sends its
instructions as a system message gets the same reply as one that uses `instructions`, and
so does a Chat Completions request with the same messages.

Function call ids are derived from the model input (instructions, conversation, tool, index):
the same request gets the same `call_...` ids, through `/v1/responses` and through
`/v1/chat/completions` alike. Logprobs (`include: ["message.output_text.logprobs"]`, or
`logprobs: true` on Chat Completions) are derived from each token and its position.

With `reasoning` set (`ref-model-1` only; effort other than "none"), a reasoning step comes
first: a hidden reasoning text of 1-6 sentences by effort (one output token per delta, all
counted as `reasoning_tokens`) and, when `reasoning.summary` is set, a summary (one part,
two for "detailed").

Streamed text is cut into word-sized deltas (a word, or one punctuation mark, with its
leading whitespace); JSON (arguments, structured output) into runs of punctuation and words.
One delta is one output token. `max_output_tokens` is spent in output order (reasoning, then
calls, then the message); the item it runs out in is cut there and is the last one, and an
item that would start with nothing left is not started. Input tokens are the words and
punctuation marks of every input text, instructions included.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "ref-model-1"
MODELS: dict[str, str] = {
    "ref-model-1": "I am the reference model.",
    "ref-model-mini": "I am the mini reference model.",
}
KNOWN_MODELS = frozenset(MODELS)
#: Models that reason when `reasoning` asks them to; the others refuse `reasoning.effort`.
REASONING_MODELS = frozenset({"ref-model-1"})
REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"]
REASONING_SUMMARIES = ["auto", "concise", "detailed"]
#: How many sentences of hidden reasoning each effort produces.
EFFORT_SENTENCES = {"minimal": 1, "low": 2, "medium": 3, "high": 4, "xhigh": 6}

#: Scripted triggers, looked for (case-sensitive) in the last user text.
FAILURE_TRIGGER = "FAIL_MIDSTREAM"
REFUSAL_TRIGGER = "REFUSE"
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."

#: How many characters of the last user message the reply quotes.
QUOTE_LIMIT = 200

_TOKEN = re.compile(r"[\w']+|[^\w\s]")
# Lossless split: every chunk is leading whitespace + one token; trailing whitespace alone.
_CHUNK = re.compile(r"\s*(?:[\w']+|[^\w\s])|\s+")
# Lossless split of JSON text: runs of structural characters, or words with their whitespace.
_JSON_CHUNK = re.compile(r'[{}\[\]":,]+|\s*[^{}\[\]":,\s]+|\s+')
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z]+")
_STOP_WORDS = frozenset({
    "about", "which", "their", "there", "these", "those", "would", "could", "should", "other",
    "given", "using", "where", "while", "after", "before",
})


@dataclass(frozen=True)
class Message:
    """One conversation entry reduced to what the model reads: a role and its text.

    Input items other than messages keep their item type as `role` ("function_call",
    "function_call_output", "reasoning", ...); function calls and their outputs also keep
    `call_id` (and calls their `name`).
    """

    role: str
    text: str
    call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class FunctionTool:
    """A `{"type": "function"}` tool as the model sees it."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Options:
    """What in a request, besides the conversation, shapes the model's output."""

    tools: tuple[FunctionTool, ...] = ()
    tool_choice: Any = "auto"  # "none" | "auto" | "required" | {"type": "function", "name": ...}
    parallel_tool_calls: bool = True
    reasoning_effort: str | None = None  # None: no reasoning step
    reasoning_summary: str | None = None
    encrypted_reasoning: bool = False  # include: ["reasoning.encrypted_content"]
    text_format: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    ignore_tool_outputs: bool = False  # fault call_id_mismatch_output: answer as if none came


@dataclass(frozen=True)
class ReasoningOutput:
    """The reasoning step: hidden text (its deltas are the reasoning tokens) and summary."""

    text: str
    deltas: tuple[str, ...]
    summary: tuple[tuple[str, ...], ...]  # the deltas of each summary part
    encrypted_content: str | None
    truncated: bool
    kind: str = "reasoning"

    @property
    def summary_texts(self) -> list[str]:
        return ["".join(part) for part in self.summary]


@dataclass(frozen=True)
class CallOutput:
    """One function call: the JSON arguments and their deltas."""

    name: str
    arguments: str
    deltas: tuple[str, ...]
    truncated: bool
    kind: str = "function_call"


@dataclass(frozen=True)
class MessageOutput:
    """The assistant message: one `output_text` part, or one `refusal` part."""

    text: str
    deltas: tuple[str, ...]
    truncated: bool
    refusal: bool = False
    kind: str = "message"


OutputPlan = ReasoningOutput | CallOutput | MessageOutput


@dataclass(frozen=True)
class Completion:
    """What the model produced for one request."""

    text: str  # the message's text (or refusal); "" when the model only called tools
    deltas: tuple[str, ...]
    input_tokens: int
    output_tokens: int
    truncated: bool  # True when max_output_tokens cut the output short
    items: tuple[OutputPlan, ...] = ()
    reasoning_tokens: int = 0
    failed: bool = False  # FAIL_MIDSTREAM: the run fails in band

    @property
    def message(self) -> MessageOutput | None:
        return next((i for i in self.items if isinstance(i, MessageOutput)), None)

    @property
    def calls(self) -> list[CallOutput]:
        return [i for i in self.items if isinstance(i, CallOutput)]


def count_tokens(text: str) -> int:
    """Words (letters, digits, apostrophes) and single punctuation marks in `text`."""
    return len(_TOKEN.findall(text))


def split_deltas(text: str) -> list[str]:
    """Cut `text` into word-sized chunks whose concatenation is exactly `text`."""
    chunks = _CHUNK.findall(text)
    if "".join(chunks) != text:  # pragma: no cover - the pattern matches every character
        return [text] if text else []
    return chunks


def split_json_deltas(text: str) -> list[str]:
    """Cut JSON text into runs of punctuation and words (`{"`, `city`, `":"`, ...), losslessly."""
    chunks = _JSON_CHUNK.findall(text)
    if "".join(chunks) != text:  # pragma: no cover - the pattern matches every character
        return [text] if text else []
    return chunks


def part_text(part: dict[str, Any]) -> str:
    """Text carried by one content part (`input_text`, `output_text`, `refusal`); else ''."""
    for key in ("text", "refusal"):
        value = part.get(key)
        if isinstance(value, str):
            return value
    return ""


def _output_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(part_text(p) for p in value if isinstance(p, dict))
    return ""


def messages_from_input(input_value: str | Sequence[Any]) -> list[Message]:
    """Read the request's (already validated) `input` into messages.

    A string is one user message. Array items are message items `{role, content}` (`type`
    and `id` optional) whose content is a string or a list of parts; items of other types
    (function calls and their outputs, reasoning, ...) contribute their text-like fields as
    non-user context so they still count as input tokens.
    """
    if isinstance(input_value, str):
        return [Message("user", input_value)]
    messages: list[Message] = []
    for item in input_value:
        if not isinstance(item, dict):
            continue
        item_type = item.get("type") or "message"
        if item_type == "message":
            content = item.get("content", "")
            if isinstance(content, str):
                text = content
            elif isinstance(content, list):
                text = "\n".join(part_text(p) for p in content if isinstance(p, dict))
            else:
                text = ""
            messages.append(Message(str(item.get("role", "user")), text))
        else:
            pieces = [item.get("arguments"), item.get("input"), item.get("name")]
            pieces.insert(0, _output_text(item.get("output")) if "output" in item else None)
            text = " ".join(p for p in pieces if isinstance(p, str))
            call_id = item.get("call_id") if isinstance(item.get("call_id"), str) else None
            name = item.get("name") if isinstance(item.get("name"), str) else None
            messages.append(Message(str(item_type), text, call_id=call_id, name=name))
    return messages


INSTRUCTION_ROLES = frozenset({"system", "developer"})


def effective_instructions(instructions: str | None, messages: Sequence[Message]) -> str | None:
    """`instructions` and the text of every system / developer message, newline-joined."""
    parts = [instructions] if instructions else []
    parts += [m.text for m in messages if m.role in INSTRUCTION_ROLES and m.text]
    return "\n".join(parts) if parts else None


def instructions_marker(instructions: str) -> str:
    """The fixed marker a reply starts with when `instructions` were applied."""
    digest = hashlib.sha256(instructions.encode("utf-8")).hexdigest()[:8]
    return f"[instructions:{digest}]"


def _quote(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT].rstrip()
    return text


def last_user_text(messages: Sequence[Message]) -> str:
    """The last user message's text, whitespace collapsed, at most QUOTE_LIMIT characters."""
    user_texts = [m.text for m in messages if m.role == "user"]
    return _quote(user_texts[-1]) if user_texts else ""


def reply_text(model: str, instructions: str | None, messages: Sequence[Message]) -> str:
    """The scripted plain-text reply of `model` to a conversation."""
    user_texts = [m.text for m in messages if m.role == "user"]
    last = last_user_text(messages)
    instructions = effective_instructions(instructions, messages)
    words: list[str] = []
    if instructions:
        words.append(instructions_marker(instructions))
    words.append(f'You said: "{last}".' if last else "You said nothing.")
    if len(user_texts) > 1:  # recall: every earlier user message, quoted
        earlier = ", ".join(f'"{_quote(text)}"' for text in user_texts[:-1])
        words.append(f"Earlier you said: {earlier}.")
        words.append(f"This is turn {len(user_texts)}.")
    words.append(MODELS.get(model, MODELS[DEFAULT_MODEL]))
    return " ".join(words)


def pending_tool_outputs(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """(function name, output text) of every function_call_output after the last user message."""
    names: dict[str, str] = {}
    outputs: list[tuple[str, str]] = []
    for message in messages:
        if message.role == "user":
            outputs = []
        elif message.role == "function_call" and message.call_id:
            names[message.call_id] = message.name or "function"
        elif message.role == "function_call_output":
            outputs.append((names.get(message.call_id or "", "function"), message.text))
    return outputs


def tool_reply_text(
    model: str, instructions: str | None, outputs: Sequence[tuple[str, str]],
    messages: Sequence[Message] = (),
) -> str:
    """The reply on a turn that brings tool outputs: every output quoted."""
    instructions = effective_instructions(instructions, messages)
    words: list[str] = []
    if instructions:
        words.append(instructions_marker(instructions))
    words.extend(f'The function {name} returned: "{_quote(text)}".' for name, text in outputs)
    words.append(MODELS.get(model, MODELS[DEFAULT_MODEL]))
    return " ".join(words)


# --------------------------------------------------------------------------- tools and JSON


def mentions(text: str, tool: FunctionTool) -> bool:
    """Whether `text` names the tool, or a word of 5+ letters from its description."""
    def has(word: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None

    if tool.name and has(tool.name):
        return True
    words = {w.lower() for w in _WORD.findall(tool.description or "") if len(w) >= 5}
    return any(has(w) for w in sorted(words - _STOP_WORDS))


def select_tools(options: Options, text: str) -> list[FunctionTool]:
    """The function tools the model calls for `text` (rule 4 of the module docstring)."""
    tools, choice = options.tools, options.tool_choice
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return [t for t in tools if t.name == choice.get("name")][:1]
        choice = "auto"  # hosted-tool choices: this model only calls function tools
    chosen = [t for t in tools if mentions(text, t)]
    if choice == "required" and not chosen:
        chosen = [tools[0]]
    if not options.parallel_tool_calls:
        chosen = chosen[:1]
    return chosen


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    for _ in range(16):
        if not isinstance(schema, dict) or not isinstance(schema.get("$ref"), str):
            return schema
        ref = schema["$ref"]
        if not ref.startswith("#"):
            return {}
        node: Any = root
        for part in (p for p in ref[1:].split("/") if p):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part) if isinstance(node, dict) else None
        schema = node if isinstance(node, dict) else {}
    return {}


def value_for_schema(schema: Any, subject: str, root: Mapping[str, Any] | None = None,
                     depth: int = 0) -> Any:
    """A value valid against an ordinary JSON Schema, deterministically.

    `enum` -> its first value, `const` -> it, strings -> `subject` (cut to maxLength), numbers
    and integers -> 1 (moved into minimum/maximum), booleans -> true, null -> null, arrays ->
    minItems (at least one, unless maxItems is 0) copies of their item value, objects -> their
    `required` properties (all properties when there is no `required`), `anyOf`/`oneOf` ->
    the first branch, `allOf` -> merged, local `$ref`s followed.
    """
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    schema = _resolve(schema, root)
    if not isinstance(schema, dict) or depth > 12:
        return subject
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return value_for_schema(schema[key][0], subject, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            if isinstance(part, dict):
                for key, value in part.items():
                    if key == "properties" and isinstance(value, dict):
                        merged["properties"] = {**merged.get("properties", {}), **value}
                    elif key == "required" and isinstance(value, list):
                        merged["required"] = [*merged.get("required", []), *value]
                    else:
                        merged.setdefault(key, value)
        return value_for_schema(merged, subject, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = schema.get("required")
        if isinstance(required, list):
            names = [n for n in properties if n in required]
        else:
            names = list(properties)
        if isinstance(required, list):
            names += [n for n in required if isinstance(n, str) and n not in properties]
        return {name: value_for_schema(properties.get(name, {}), subject, root, depth + 1)
                for name in names}
    if kind == "array":
        low = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 1
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        count = max(low, 1) if high is None else min(max(low, 1), high)
        item = value_for_schema(schema.get("items", {}), subject, root, depth + 1)
        return [item] * count
    if kind in ("number", "integer"):
        value: int | float = 1
        low, high = schema.get("minimum"), schema.get("maximum")
        ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if isinstance(low, (int, float)) and value < low:
            value = math.ceil(low) if kind == "integer" else low
        if isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool) and value <= ex_low:
            value = math.floor(ex_low) + 1 if kind == "integer" else ex_low + 1
        if isinstance(high, (int, float)) and value > high:
            value = math.floor(high) if kind == "integer" else high
        if isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool) and value >= ex_high:
            value = math.ceil(ex_high) - 1 if kind == "integer" else ex_high - 1
        return value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = subject or "reference"
    max_length = schema.get("maxLength")
    min_length = schema.get("minLength")
    if isinstance(max_length, int) and len(text) > max_length:
        text = text[:max_length]
    if isinstance(min_length, int) and len(text) < min_length:
        text = text + "x" * (min_length - len(text))
    return text


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- reasoning


def _reasoning_sentences(subject: str, plan: str) -> list[str]:
    return [
        f'The user wrote "{subject}".' if subject else "The user wrote nothing.",
        plan,
        "The reply should quote the user and name the model.",
        "Nothing in the request is ambiguous.",
        "Checking the plan once more before answering.",
        "The answer is ready.",
    ]


def encrypted_reasoning(model: str, reasoning: str) -> str:
    """A deterministic opaque stand-in for OpenAI's encrypted reasoning content."""
    digest = hashlib.sha512(f"{model}\0{reasoning}".encode()).digest()
    return "gAAAAAB" + base64.urlsafe_b64encode(digest * 3).decode().rstrip("=")


def _reasoning(model: str, options: Options, subject: str, plan: str) -> ReasoningOutput:
    count = EFFORT_SENTENCES.get(options.reasoning_effort or "medium", 3)
    text = " ".join(_reasoning_sentences(subject, plan)[:count])
    summary: list[tuple[str, ...]] = []
    if options.reasoning_summary is not None:
        summary.append(tuple(split_deltas(f"**Planning the reply**\n\n{plan}")))
        if options.reasoning_summary == "detailed":
            summary.append(tuple(split_deltas(
                f"**Reading the request**\n\n{_reasoning_sentences(subject, plan)[0]}")))
    return ReasoningOutput(
        text=text,
        deltas=tuple(split_deltas(text)),
        summary=tuple(summary),
        encrypted_content=encrypted_reasoning(model, text) if options.encrypted_reasoning else None,
        truncated=False,
    )


def _cut(item: OutputPlan, budget: int) -> OutputPlan:
    """`item` as far as `budget` output tokens get it."""
    deltas = item.deltas[:budget]
    text = "".join(deltas)
    if isinstance(item, ReasoningOutput):
        # cut while thinking: no summary was written yet
        return ReasoningOutput(text, deltas, (), item.encrypted_content, True)
    if isinstance(item, CallOutput):
        return CallOutput(item.name, text, deltas, True)
    return MessageOutput(text, deltas, True, item.refusal)


# --------------------------------------------------------------------------- the model


def message_text(model: str, instructions: str | None, messages: Sequence[Message],
                 options: Options) -> str:
    """The text of the message the model answers with (rules 2 and 5; not refusals)."""
    outputs = [] if options.ignore_tool_outputs else pending_tool_outputs(messages)
    if outputs:
        plain = tool_reply_text(model, instructions, outputs, messages)
        subject = _quote(outputs[-1][1])
    else:
        plain = reply_text(model, instructions, messages)
        subject = last_user_text(messages)
    fmt = options.text_format or {}
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        return compact_json(value_for_schema(fmt["schema"], subject))
    if fmt.get("type") == "json_object":
        return compact_json({"reply": plain})
    return plain


def generate(
    model: str,
    instructions: str | None,
    messages: Sequence[Message],
    max_output_tokens: int | None = None,
    options: Options | None = None,
) -> Completion:
    """Run the model on a whole conversation (earlier turns included)."""
    options = options or Options()
    counted = [instructions or "", *(m.text for m in messages)]
    input_tokens = max(1, sum(count_tokens(t) for t in counted))
    subject = last_user_text(messages)
    if FAILURE_TRIGGER in subject:
        return Completion("", (), input_tokens, 0, False, failed=True)

    outputs = pending_tool_outputs(messages)
    ignored = options.ignore_tool_outputs and bool(outputs)
    if ignored:
        outputs = []
    refuse = not outputs and REFUSAL_TRIGGER in subject
    calls = [] if outputs or refuse or ignored else select_tools(options, subject)
    planned: list[OutputPlan] = []
    if calls:
        plan = f"I will call {' and '.join(t.name for t in calls)}."
    elif outputs:
        plan = "I will quote the tool output."
    elif refuse:
        plan = "I must refuse this request."
    elif (options.text_format or {}).get("type") in ("json_schema", "json_object"):
        plan = "I will answer with JSON."
    else:
        plan = "I will answer in plain text."
    if options.reasoning_effort is not None and options.reasoning_effort != "none":
        planned.append(_reasoning(model, options, subject, plan))
    for tool in calls:
        arguments = compact_json(value_for_schema(tool.parameters or {"type": "object"}, subject))
        planned.append(CallOutput(tool.name, arguments, tuple(split_json_deltas(arguments)), False))
    if not calls:
        if refuse:
            refusal = tuple(split_deltas(REFUSAL_TEXT))
            planned.append(MessageOutput(REFUSAL_TEXT, refusal, False, True))
        else:
            text = message_text(model, instructions, messages, options)
            is_json = (options.text_format or {}).get("type") in ("json_schema", "json_object")
            split = split_json_deltas if is_json else split_deltas
            planned.append(MessageOutput(text, tuple(split(text)), False))

    budget = max_output_tokens if max_output_tokens is not None else math.inf
    items: list[OutputPlan] = []
    used = 0
    truncated = False
    for item in planned:
        remaining = budget - used
        if remaining <= 0:
            truncated = True
            break
        if len(item.deltas) > remaining:
            items.append(_cut(item, int(remaining)))
            used += int(remaining)
            truncated = True
            break
        items.append(item)
        used += len(item.deltas)
    reasoning_tokens = sum(len(i.deltas) for i in items if isinstance(i, ReasoningOutput))
    message = next((i for i in items if isinstance(i, MessageOutput)), None)
    return Completion(
        text=message.text if message else "",
        deltas=message.deltas if message else (),
        input_tokens=input_tokens,
        output_tokens=used,
        truncated=truncated,
        items=tuple(items),
        reasoning_tokens=reasoning_tokens,
    )


# --------------------------------------------------------------------------- ids and logprobs

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def model_input_digest(model: str, instructions: str | None, messages: Sequence[Message]) -> str:
    """A digest of what the model reads: the same for a Responses request and a Chat
    Completions request that carry the same instructions (or system messages) and turns."""
    parts = [model, effective_instructions(instructions, messages) or ""]
    for m in messages:
        if m.role in INSTRUCTION_ROLES:
            continue
        parts.append(f"{m.role}\x1f{m.text}\x1f{m.call_id or ''}\x1f{m.name or ''}")
    return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()


def call_id_for(digest: str, index: int, name: str, salt: str = "") -> str:
    """`call_` and 24 letters and digits, derived from the model input, the call's position
    and its tool name (like OpenAI's call ids in shape; deterministic here)."""
    seed = hashlib.sha256(f"{digest}:{index}:{name}:{salt}".encode()).digest()
    return "call_" + "".join(_ALNUM[b % 62] for b in seed[:24])


#: Alternative tokens for top_logprobs (a token never lists itself twice).
_ALTERNATIVES = (" the", " a", ",", ".", " and", " of", " to", " is", " it", " I", "!", " you",
                 " that", " in", " on", " we", " be", " this", " as", " at", " or")


def token_logprob(token: str, position: int) -> float:
    """A deterministic log probability in [-2.5, 0) for `token` at `position`."""
    digest = hashlib.sha256(f"{position}\0{token}".encode()).digest()
    return -round((int.from_bytes(digest[:2], "big") % 2500 + 1) / 1000, 3)


def logprob_entries(tokens: Sequence[str], top: int = 0, *, with_bytes: bool = True,
                    start: int = 0) -> list[dict[str, Any]]:
    """One logprob entry per token, OpenAI's shape: `{token, logprob, bytes, top_logprobs}`
    (`bytes` left out for the lighter delta-event form when with_bytes is False). The top
    alternatives are the token itself, then fixed alternatives, in decreasing probability."""
    entries: list[dict[str, Any]] = []
    for offset, token in enumerate(tokens):
        value = token_logprob(token, start + offset)
        tops: list[dict[str, Any]] = []
        alternatives = [t for t in _ALTERNATIVES if t != token]
        for rank in range(top):
            alt = token if rank == 0 else alternatives[(rank - 1) % len(alternatives)]
            alt_value = value if rank == 0 else round(value - 1.5 * rank, 3)
            entry = {"token": alt, "logprob": alt_value}
            if with_bytes:
                entry["bytes"] = list(alt.encode("utf-8"))
            tops.append(entry)
        item: dict[str, Any] = {"token": token, "logprob": value}
        if with_bytes:
            item["bytes"] = list(token.encode("utf-8"))
        item["top_logprobs"] = tops
        entries.append(item)
    return entries
