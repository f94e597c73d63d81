"""Fuzz mode's request generators: Hypothesis strategies for valid and invalid bodies.

Valid bodies come from our own request schema (`schemas/requests/create-response.json`)
through hypothesis-jsonschema, then a small repair for the cross-field rules JSON Schema
cannot say (a named `tool_choice` names one of `tools`, a `function_call_output` answers a
`function_call` before it). Invalid bodies are a valid body with exactly one thing broken,
drawn by a Hypothesis strategy per kind of breakage: a wrong type, an unknown enum value, a
number out of range, a missing required field, an unknown parameter, a malformed input item,
a malformed tool. Everything is composed from Hypothesis, so every case shrinks: the valid
part toward `{model, input}`, the broken part toward the plainest value that breaks it.

Each broken body carries its `Mutation`: what was broken where, and whether both the published
schema and observed OpenAI behaviour refuse it (only then is a 200 to it worth a remark).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

SCHEMA_FILE = ("requests", "create-response.json")

# Every top-level parameter of SPEC CreateResponse (and its allOf parts), and the ones OpenAI
# documents besides: none of them is "unknown".
KNOWN_PARAMETERS = frozenset({
    "background", "context_management", "conversation", "include", "input", "instructions", "max_output_tokens",
    "max_tool_calls", "metadata", "model", "moderation", "parallel_tool_calls", "previous_response_id", "prompt",
    "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier",
    "service_tier", "store", "stream", "stream_options", "temperature", "text", "tool_choice", "tools",
    "top_logprobs", "top_p", "truncation", "user", "verbosity",
})


@dataclass(frozen=True)
class Mutation:
    """What an invalid case broke: the kind of breakage, the parameter (a path such as
    `input[0].role`), and whether the published schema and observed OpenAI both refuse it."""

    kind: str
    param: str
    value: Any
    both_refuse: bool
    note: str = ""

    def describe(self) -> str:
        shown = json.dumps(self.value, ensure_ascii=False) if self.value is not _ABSENT else "absent"
        return f"{self.kind.replace('_', ' ')}: {self.param} = {shown}" + (f" ({self.note})" if self.note else "")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "param": self.param,
                "value": None if self.value is _ABSENT else self.value, "both_refuse": self.both_refuse,
                **({"note": self.note} if self.note else {})}


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


@dataclass(frozen=True)
class Case:
    """One generated request: its family, its body and (invalid cases) what was broken."""

    family: str
    body: dict[str, Any] = field(hash=False)
    mutation: Mutation | None = None

    @property
    def key(self) -> str:
        """The body as canonical JSON: the same request is judged once."""
        return json.dumps([self.family, self.body], sort_keys=True, ensure_ascii=True)


def load_schema(root: Path | None = None) -> dict[str, Any]:
    """Our request schema, from the installed `responses_conformance/schemas` or the checkout."""
    if root is None:
        from .engine.schemas import default_root

        root = default_root()
    path = root.joinpath(*SCHEMA_FILE)
    return json.loads(path.read_text(encoding="utf-8"))


def _with_model(schema: dict[str, Any], model: str) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    schema["properties"]["model"] = {"const": model}
    return schema


# -- valid bodies ------------------------------------------------------------------------------
def repair(body: dict[str, Any]) -> dict[str, Any]:
    """The cross-field rules the schema cannot say, applied to a generated body:
    tools have distinct names; `tool_choice` "required" or a named function has the tool it
    needs; function_call items and their outputs come as one pair (call first), in place of the
    first of them."""
    body = copy.deepcopy(body)
    tools = body.get("tools")
    if isinstance(tools, list):
        seen: set[str] = set()
        body["tools"] = [t for t in tools if not (t["name"] in seen or seen.add(t["name"]))]
    choice = body.get("tool_choice")
    needed = choice.get("name") if isinstance(choice, dict) else ("get_weather" if choice == "required" else None)
    if needed is not None and not any(t["name"] == needed for t in body.get("tools") or []):
        body.setdefault("tools", []).append({
            "type": "function", "name": needed, "parameters": {"type": "object", "properties": {}, "required": [],
                                                               "additionalProperties": False}, "strict": True})
    items = body.get("input")
    if isinstance(items, list):
        kinds = {"function_call", "function_call_output"}
        at = next((i for i, item in enumerate(items) if item.get("type") in kinds), None)
        if at is not None:
            call = next((item for item in items if item.get("type") == "function_call"), None)
            output = next((item for item in items if item.get("type") == "function_call_output"), None)
            name = call["name"] if call else "get_weather"
            pair = [call or {"type": "function_call", "call_id": "call_fuzz_0", "name": name, "arguments": "{}"},
                    output or {"type": "function_call_output", "call_id": "call_fuzz_0", "output": "sunny"}]
            rest = [item for item in items if item.get("type") not in kinds]
            body["input"] = rest[:at] + pair + rest[at:]
    return body


def from_request_schema(node: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for one node of our request schema.

    Closed objects become `fixed_dictionaries` (required keys always, the others optional, so
    shrinking drops them), `anyOf` a `one_of`, arrays `lists`; every other node (strings,
    numbers, enums, maps) is handed to hypothesis-jsonschema as it is. Composing the closed
    objects here keeps generation fast: hypothesis-jsonschema merges property schemas again on
    every draw of an object, which costs a tenth of a second per body of this size.
    """
    from hypothesis_jsonschema import from_schema

    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"only local $defs references are supported, not {ref!r}")
        return from_request_schema(root["$defs"][ref[len("#/$defs/"):]], root)
    if "anyOf" in node:
        return st.one_of(*(from_request_schema(option, root) for option in node["anyOf"]))
    if node.get("type") == "object" and node.get("additionalProperties") is False and "properties" in node:
        required = list(node.get("required", []))
        fields = [(key, key in required, from_request_schema(value, root)) for key, value in node["properties"].items()]
        return _object(tuple(fields))
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        unique = (lambda v: json.dumps(v, sort_keys=True)) if node.get("uniqueItems") else None
        return st.lists(from_request_schema(node["items"], root), min_size=node.get("minItems", 0),
                        max_size=node.get("maxItems", 8), unique_by=unique)
    leaf = {k: v for k, v in node.items() if k not in ("description", "title")}
    return from_schema(leaf)


@st.composite
def _object(draw: Any, fields: tuple[tuple[str, bool, st.SearchStrategy[Any]], ...]) -> dict[str, Any]:
    """A closed object: its fields in schema order, each optional one behind its own yes/no
    draw, so that shrinking a field away leaves the draws of the others as they were (what
    `fixed_dictionaries(optional=...)` does not: it draws optional keys in a shuffled order)."""
    out: dict[str, Any] = {}
    for key, required, strategy in fields:
        if required or draw(st.booleans()):
            out[key] = draw(strategy)
    return out


def valid_bodies(model: str, schema: dict[str, Any] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid request bodies (without `stream`) for `model`."""
    schema = _with_model(schema or load_schema(), model)
    return from_request_schema(schema, schema).map(repair)


# -- invalid bodies: one thing broken ----------------------------------------------------------
_JSON_TYPES: list[tuple[str, Any]] = [("string", "fuzz"), ("boolean", True), ("integer", 7), ("number", 0.5),
                                      ("array", []), ("object", {}), ("null", None)]
# Parameter -> the JSON types SPEC allows (null too where SPEC says it, which is "absent").
TYPED: dict[str, tuple[str, ...]] = {
    "model": ("string",), "input": ("string", "array"), "instructions": ("string", "null"),
    "temperature": ("number", "integer", "null"), "top_p": ("number", "integer", "null"),
    "max_output_tokens": ("integer", "null"), "top_logprobs": ("integer", "null"),
    "store": ("boolean", "null"), "parallel_tool_calls": ("boolean", "null"), "stream": ("boolean", "null"),
    "metadata": ("object", "null"), "tools": ("array",), "tool_choice": ("string", "object"),
    "text": ("object",), "reasoning": ("object", "null"), "truncation": ("string", "null"),
    "include": ("array", "null"),
}
# Enumerated parameters (a path into the body) and their documented values.
ENUMS: dict[str, tuple[str, ...]] = {
    "truncation": ("auto", "disabled"),
    "tool_choice": ("none", "auto", "required"),
    "service_tier": ("auto", "default", "flex", "scale", "priority", "fast", "ultrafast"),
    "text.format.type": ("text", "json_object", "json_schema"),
    "text.verbosity": ("low", "medium", "high"),
    "reasoning.effort": ("none", "minimal", "low", "medium", "high", "xhigh", "max"),
    "reasoning.summary": ("auto", "concise", "detailed"),
    "include[0]": ("file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
                   "message.input_image.image_url", "computer_call_output.output.image_url",
                   "code_interpreter_call.outputs", "reasoning.encrypted_content", "message.output_text.logprobs"),
    "input[0].role": ("user", "assistant", "system", "developer"),
}


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The body with `value` at a dotted path (`a.b`, `include[0]`, `input[0].role`): what
    is on the way is replaced by the least that holds the value."""
    body = copy.deepcopy(body)
    if path == "include[0]":
        body["include"] = [value]
    elif path == "input[0].role":
        body["input"] = [{"role": value, "content": "Say hello."}]
    elif "." in path:
        head, _, rest = path.partition(".")
        inner = body.get(head) if isinstance(body.get(head), dict) else {}
        body[head] = _set(inner, rest, value)
    else:
        body[path] = value
    return body


def _unknown_word(allowed: tuple[str, ...] | frozenset[str]) -> st.SearchStrategy[str]:
    plain = st.sampled_from(["fuzz_unknown", "sometimes"])
    return st.one_of(plain, st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)).filter(lambda v: v not in allowed)


def _wrong_type(param: str) -> Callable[[dict[str, Any]], st.SearchStrategy[tuple[dict[str, Any], Mutation]]]:
    allowed = TYPED[param] + (("integer",) if "number" in TYPED[param] else ())
    choices = [(kind, value) for kind, value in _JSON_TYPES if kind not in allowed and kind != "null"]

    def mutate(body: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], Mutation]]:
        return st.sampled_from(choices).map(lambda kv: (_set(body, param, kv[1]), Mutation(
            "wrong_type", param, kv[1], True, f"{kv[0]} where SPEC says {' or '.join(TYPED[param])}")))
    return mutate


def _unknown_enum(param: str) -> Callable[[dict[str, Any]], st.SearchStrategy[tuple[dict[str, Any], Mutation]]]:
    def mutate(body: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], Mutation]]:
        return _unknown_word(ENUMS[param]).map(
            lambda value: (_set(body, param, value), Mutation("unknown_enum", param, value, True)))
    return mutate


# Numeric parameters: SPEC's range, and whether SPEC itself bounds the side we break.
_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "temperature": (0, 2, True), "top_p": (0, 1, True), "top_logprobs": (0, 20, True),
    "max_output_tokens": (1, None, False),  # SPEC: an integer; OBS: OpenAI refuses below 16
}


def _out_of_range(param: str) -> Callable[[dict[str, Any]], st.SearchStrategy[tuple[dict[str, Any], Mutation]]]:
    low, high, spec_bounded = _RANGES[param]
    integer = param in ("top_logprobs", "max_output_tokens")
    sides = []
    if high is not None:
        sides.append(st.integers(int(high) + 1, 10**6) if integer else
                     st.floats(min_value=high, max_value=1e6, exclude_min=True, allow_nan=False))
    if low is not None:
        sides.append(st.integers(-(10**6), int(low) - 1) if integer else
                     st.floats(min_value=-1e6, max_value=low, exclude_max=True, allow_nan=False))
    note = "" if spec_bounded else "SPEC sets no minimum; OpenAI refuses it"

    def mutate(body: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], Mutation]]:
        return st.one_of(*sides).map(
            lambda value: (_set(body, param, value), Mutation("out_of_range", param, value, spec_bounded, note)))
    return mutate


def _missing_required(param: str) -> Callable[[dict[str, Any]], st.SearchStrategy[tuple[dict[str, Any], Mutation]]]:
    def mutate(body: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], Mutation]]:
        body = {k: v for k, v in body.items() if k != param}
        return st.just((body, Mutation("missing_required", param, _ABSENT, False,
                                       "OpenAI requires it; the published schema marks nothing required")))
    return mutate


def _unknown_parameter(_: str) -> Callable[[dict[str, Any]], st.SearchStrategy[tuple[dict[str, Any], Mutation]]]:
    def mutate(body: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], Mutation]]:
        pair = st.tuples(_unknown_word(KNOWN_PARAMETERS), st.sampled_from([True, 1, "fuzz"]))
        return pair.map(lambda nv: (_set(body, nv[0], nv[1]), Mutation(
            "unknown_parameter", nv[0], nv[1], False, "OpenAI refuses unknown parameters; the published schema "
                                                      "is open")))
    return mutate


# Broken input items and tools: (label, the parameter at fault, the item or tool).
BROKEN_ITEMS: list[tuple[str, str, Any]] = [
    ("not an object", "input[0]", 7),
    ("no role", "input[0].role", {"content": "Say hello."}),
    ("no content", "input[0].content", {"role": "user"}),
    ("content a number", "input[0].content", {"role": "user", "content": 7}),
    ("unknown part type", "input[0].content[0].type",
     {"role": "user", "content": [{"type": "fuzz_part", "text": "Say hello."}]}),
    ("part text a number", "input[0].content[0].text", {"role": "user", "content": [{"type": "input_text", "text": 7}]}),
    ("unknown item type", "input[0].type", {"type": "fuzz_item"}),
    ("output without call_id", "input[0].call_id", {"type": "function_call_output", "output": "sunny"}),
]
BROKEN_TOOLS: list[tuple[str, str, Any]] = [
    ("not an object", "tools[0]", "get_weather"),
    ("no type", "tools[0].type", {"name": "get_weather"}),
    ("unknown type", "tools[0].type", {"type": "fuzz_tool"}),
    ("function without name", "tools[0].name", {"type": "function", "parameters": {"type": "object", "properties": {}}}),
    ("name a number", "tools[0].name", {"type": "function", "name": 7}),
    ("parameters a string", "tools[0].parameters", {"type": "function", "name": "get_weather", "parameters": "none"}),
    ("strict a string", "tools[0].strict", {"type": "function", "name": "get_weather", "strict": "yes"}),
]


def _broken(kind: str, param: str, value: Any, label: str,
            ) -> Callable[[dict[str, Any]], st.SearchStrategy[tuple[dict[str, Any], Mutation]]]:
    def mutate(body: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], Mutation]]:
        body = copy.deepcopy(body)
        if kind == "malformed_input_item":
            body["input"] = [copy.deepcopy(value)]
        else:
            body["tools"] = [copy.deepcopy(value)]
            body.pop("tool_choice", None)
        return st.just((body, Mutation(kind, param, value, True, label)))
    return mutate


@dataclass(frozen=True)
class Slot:
    """One kind of case, with its own share of the run and its own seed: `valid/stream`,
    `valid/response`, or `invalid/<kind>/<parameter>[/<variant>]` (one field broken one way)."""

    name: str
    family: str
    mutate: Callable[[dict[str, Any]], st.SearchStrategy[tuple[dict[str, Any], Mutation]]] | None = None

    def strategy(self, valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Case]:
        if self.mutate is None:
            streamed = self.family == "stream"
            return valid.map(lambda body: Case(self.family, {**body, "stream": True} if streamed else body))
        mutate = self.mutate

        @st.composite
        def broken(draw: Any) -> Case:
            body, mutation = draw(valid.flatmap(mutate))
            if mutation.param != "stream" and draw(st.booleans()):
                body = {**body, "stream": True}  # a refusal is an HTTP error before any event, streamed or not
            return Case("invalid", body, mutation)
        return broken()


def _invalid_slots() -> list[Slot]:
    """Every way to break one field, interleaved by kind so that a short run still covers every
    kind before it covers a second parameter of one."""
    groups = [
        [Slot(f"invalid/wrong_type/{p}", "invalid", _wrong_type(p)) for p in sorted(TYPED)],
        [Slot(f"invalid/unknown_enum/{p}", "invalid", _unknown_enum(p)) for p in sorted(ENUMS)],
        [Slot(f"invalid/out_of_range/{p}", "invalid", _out_of_range(p)) for p in sorted(_RANGES)],
        [Slot(f"invalid/malformed_tool/{label}", "invalid", _broken("malformed_tool", p, v, label))
         for label, p, v in BROKEN_TOOLS],
        [Slot(f"invalid/malformed_input_item/{label}", "invalid", _broken("malformed_input_item", p, v, label))
         for label, p, v in BROKEN_ITEMS],
        [Slot(f"invalid/missing_required/{p}", "invalid", _missing_required(p)) for p in ("model", "input")],
        [Slot("invalid/unknown_parameter", "invalid", _unknown_parameter(""))],
    ]
    out: list[Slot] = []
    for i in range(max(len(g) for g in groups)):
        out += [g[i] for g in groups if i < len(g)]
    return out


VALID_SLOTS = [Slot("valid/stream", "stream"), Slot("valid/response", "response")]
INVALID_SLOTS = _invalid_slots()
SLOTS = {slot.name: slot for slot in VALID_SLOTS + INVALID_SLOTS}


def allocate(cases: int) -> list[tuple[Slot, int]]:
    """How many cases each slot gets: half the run valid (streamed and not, alike), half
    invalid, spread over the invalid slots in their interleaved order."""
    invalid = (cases + 1) // 2
    valid = cases - invalid
    shares: list[tuple[Slot, int]] = [(VALID_SLOTS[0], (valid + 1) // 2), (VALID_SLOTS[1], valid // 2)]
    per, extra = divmod(invalid, len(INVALID_SLOTS))
    shares += [(slot, per + (1 if i < extra else 0)) for i, slot in enumerate(INVALID_SLOTS)]
    return [(slot, n) for slot, n in shares if n > 0]
