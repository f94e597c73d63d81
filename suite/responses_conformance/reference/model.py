"""The reference server's built-in model: deterministic, scripted, text only.

The reply depends only on the request (model name, instructions and input messages), so a test
can predict it and tell from it that instructions and multi-turn input were taken into account:

    [instructions:<8 hex of sha256(instructions)>] You said: "<last user text>". This is turn 3.
    I am the reference model.

The reply is cut into word-sized deltas (a word, or one punctuation mark, with its leading
whitespace), the way real models stream. One delta is one output token; input tokens are the
words and punctuation marks of every input text, instructions included.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MODEL = "ref-model-1"
MODELS: dict[str, str] = {
    "ref-model-1": "I am the reference model.",
    "ref-model-mini": "I am the mini reference model.",
}
KNOWN_MODELS = frozenset(MODELS)

#: How many characters of the last user message the reply quotes.
QUOTE_LIMIT = 200

_TOKEN = re.compile(r"[\w']+|[^\w\s]")
# Lossless split: every chunk is leading whitespace + one token; trailing whitespace alone.
_CHUNK = re.compile(r"\s*(?:[\w']+|[^\w\s])|\s+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Message:
    """One conversation message reduced to what the model reads: a role and its text."""

    role: str
    text: str


@dataclass(frozen=True)
class Completion:
    """What the model produced for one request."""

    text: str
    deltas: tuple[str, ...]
    input_tokens: int
    output_tokens: int
    truncated: bool  # True when max_output_tokens cut the reply short


def count_tokens(text: str) -> int:
    """Words (letters, digits, apostrophes) and single punctuation marks in `text`."""
    return len(_TOKEN.findall(text))


def split_deltas(text: str) -> list[str]:
    """Cut `text` into word-sized chunks whose concatenation is exactly `text`."""
    chunks = _CHUNK.findall(text)
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
        item_type = item.get("type", "message")
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
            pieces = [item.get(k) for k in ("output", "arguments", "input", "name")]
            text = " ".join(p for p in pieces if isinstance(p, str))
            messages.append(Message(str(item_type), text))
    return messages


def instructions_marker(instructions: str) -> str:
    """The fixed marker a reply starts with when `instructions` were applied."""
    digest = hashlib.sha256(instructions.encode("utf-8")).hexdigest()[:8]
    return f"[instructions:{digest}]"


def reply_text(model: str, instructions: str | None, messages: Sequence[Message]) -> str:
    """The scripted reply of `model` to a conversation."""
    user_texts = [m.text for m in messages if m.role == "user"]
    last = _SPACE.sub(" ", user_texts[-1]).strip() if user_texts else ""
    if len(last) > QUOTE_LIMIT:
        last = last[:QUOTE_LIMIT].rstrip()
    words: list[str] = []
    if instructions:
        words.append(instructions_marker(instructions))
    words.append(f'You said: "{last}".' if last else "You said nothing.")
    if len(user_texts) > 1:
        words.append(f"This is turn {len(user_texts)}.")
    words.append(MODELS.get(model, MODELS[DEFAULT_MODEL]))
    return " ".join(words)


def generate(
    model: str,
    instructions: str | None,
    messages: Sequence[Message],
    max_output_tokens: int | None = None,
) -> Completion:
    """Run the model on a whole conversation (earlier turns included)."""
    text = reply_text(model, instructions, messages)
    deltas = split_deltas(text)
    truncated = max_output_tokens is not None and max_output_tokens < len(deltas)
    if truncated:
        deltas = deltas[: max(0, int(max_output_tokens or 0))]
        text = "".join(deltas)
    counted = [instructions or "", *(m.text for m in messages)]
    input_tokens = max(1, sum(count_tokens(t) for t in counted))
    return Completion(
        text=text,
        deltas=tuple(deltas),
        input_tokens=input_tokens,
        output_tokens=len(deltas),
        truncated=truncated,
    )
