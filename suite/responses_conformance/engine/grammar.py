"""The event grammar as data: which events exist, what they are scoped to, which item and
part types they belong to, and which fields carry streamed text.

Checks read these tables; an illegal combination is a missing entry, never an `elif`.
Sources: spec-notes §2 and §6 (published ResponseStreamEvent union, SDK-JS
`expectedOutputItemTypes`, real OpenAI traffic).
"""
from __future__ import annotations

from dataclasses import dataclass

# Response lifecycle events carry the whole Response object under `response`.
CREATED = "response.created"
QUEUED = "response.queued"
IN_PROGRESS = "response.in_progress"
COMPLETED = "response.completed"
INCOMPLETE = "response.incomplete"
FAILED = "response.failed"
ERROR = "error"
KEEPALIVE = "keepalive"
ITEM_ADDED = "response.output_item.added"
ITEM_DONE = "response.output_item.done"
PART_ADDED = "response.content_part.added"
PART_DONE = "response.content_part.done"
SUMMARY_PART_ADDED = "response.reasoning_summary_part.added"
SUMMARY_PART_DONE = "response.reasoning_summary_part.done"
ANNOTATION_ADDED = "response.output_text.annotation.added"

LIFECYCLE = frozenset({CREATED, QUEUED, IN_PROGRESS, COMPLETED, INCOMPLETE, FAILED})
TERMINAL = {COMPLETED: "completed", INCOMPLETE: "incomplete", FAILED: "failed"}
SNAPSHOT_STATUSES = frozenset({"in_progress", "queued"})

# Terminal-looking names some servers invent (Codex backend, Realtime naming). Named in the
# message of grammar.terminal_event_present so the author sees why the stream "never ended".
FALSE_TERMINALS = frozenset({"response.done", "response.finished", "response.end", "done"})

DONE_SENTINEL = "[DONE]"

# Content part types allowed on each item type (content_part.added / .done).
PART_TYPES_BY_ITEM = {
    "message": frozenset({"output_text", "refusal"}),
    "reasoning": frozenset({"reasoning_text"}),
}

# Item types whose `call_id` must survive from added to done and be unique (spec-notes rule 10).
CALL_ID_STABLE_ITEMS = frozenset({"function_call", "custom_tool_call", "shell_call", "shell_call_output"})
# Item types that may legitimately have no `id` (SPEC: function_call.id optional; SDK-JS).
ID_OPTIONAL_ITEMS = frozenset({"function_call", "custom_tool_call"})
# Item types the model samples: added in progress, done with a final status.
SAMPLED_ITEMS = frozenset({"message", "reasoning", "custom_tool_call"})
FINAL_ITEM_STATUSES = frozenset({"completed", "incomplete", "failed"})
# Opaque fields re-encrypted between output_item.done and the terminal response (spec-notes rule 12).
OPAQUE_FIELDS = frozenset({"encrypted_content", "fingerprint"})
# Conventional id prefixes by item type (real-world D-14: clients replay ids to servers that check them).
ID_PREFIXES = {"message": "msg_", "reasoning": "rs_", "function_call": "fc_"}


@dataclass(frozen=True)
class Family:
    """How one item-scoped event type relates to its item.

    scope:      "item" (output_index + item_id), "part" (+ content_index), "summary"
                (+ summary_index), "command" (+ command_index, no item_id)
    items:      the item types this event is valid on
    parts:      for part-scoped events, the part types it is valid on
    role:       "delta" | "done" | "annotation" | "status"
    channel:    for delta/done: the name of the streamed value (text, refusal, arguments, ...)
    done_field: the field of the .done event holding the whole value
    item_field: the field of the finished item that must equal it (item-scoped channels)
    """

    scope: str
    items: frozenset[str]
    role: str
    parts: frozenset[str] = frozenset()
    channel: str | None = None
    done_field: str | None = None
    item_field: str | None = None


def _f(scope, items, role, parts=(), channel=None, done_field=None, item_field=None) -> Family:
    return Family(scope, frozenset(items), role, frozenset(parts), channel, done_field, item_field)


MESSAGE = ("message",)
REASONING = ("reasoning",)

FAMILIES: dict[str, Family] = {
    "response.output_text.delta": _f("part", MESSAGE, "delta", ("output_text",), "output_text"),
    "response.output_text.done": _f("part", MESSAGE, "done", ("output_text",), "output_text", "text"),
    ANNOTATION_ADDED: _f("part", MESSAGE, "annotation", ("output_text",)),
    "response.refusal.delta": _f("part", MESSAGE, "delta", ("refusal",), "refusal"),
    "response.refusal.done": _f("part", MESSAGE, "done", ("refusal",), "refusal", "refusal"),
    "response.reasoning_text.delta": _f("part", REASONING, "delta", ("reasoning_text",), "reasoning_text"),
    "response.reasoning_text.done": _f("part", REASONING, "done", ("reasoning_text",), "reasoning_text", "text"),
    "response.reasoning_summary_text.delta": _f("summary", REASONING, "delta", channel="summary_text"),
    "response.reasoning_summary_text.done": _f("summary", REASONING, "done", channel="summary_text", done_field="text"),
    "response.function_call_arguments.delta": _f("item", ("function_call",), "delta", channel="arguments"),
    "response.function_call_arguments.done": _f("item", ("function_call",), "done", channel="arguments",
                                                 done_field="arguments", item_field="arguments"),
    "response.custom_tool_call_input.delta": _f("item", ("custom_tool_call",), "delta", channel="input"),
    "response.custom_tool_call_input.done": _f("item", ("custom_tool_call",), "done", channel="input",
                                               done_field="input", item_field="input"),
    "response.mcp_call_arguments.delta": _f("item", ("mcp_call",), "delta", channel="arguments"),
    "response.mcp_call_arguments.done": _f("item", ("mcp_call",), "done", channel="arguments",
                                           done_field="arguments", item_field="arguments"),
    "response.code_interpreter_call_code.delta": _f("item", ("code_interpreter_call",), "delta", channel="code"),
    "response.code_interpreter_call_code.done": _f("item", ("code_interpreter_call",), "done", channel="code",
                                                   done_field="code", item_field="code"),
    "response.apply_patch_call_operation_diff.delta": _f("item", ("apply_patch_call",), "delta", channel="diff"),
    "response.apply_patch_call_operation_diff.done": _f("item", ("apply_patch_call",), "done", channel="diff",
                                                        done_field="diff"),
    "response.shell_call_command.added": _f("command", ("shell_call",), "status"),
    "response.shell_call_command.delta": _f("command", ("shell_call",), "status"),
    "response.shell_call_command.done": _f("command", ("shell_call",), "status"),
    "response.shell_call_output_content.delta": _f("command", ("shell_call_output",), "status"),
    "response.shell_call_output_content.done": _f("command", ("shell_call_output",), "status"),
}

# The `.done` event that closes an item-scoped streamed value: (item type, channel) -> event type.
DONE_EVENT_OF_CHANNEL: dict[tuple[str, str], str] = {
    (item, family.channel): event_type
    for event_type, family in FAMILIES.items() if family.scope == "item" and family.role == "done" and family.channel
    for item in family.items
}

# Open Responses names the raw reasoning events response.reasoning.* (OpenAI: reasoning_text.*).
# The grammar treats them alike; only the openresponses profile knows these names.
OPENRESPONSES_ALIASES = frozenset({"response.reasoning.delta", "response.reasoning.done"})
FAMILIES["response.reasoning.delta"] = FAMILIES["response.reasoning_text.delta"]
FAMILIES["response.reasoning.done"] = FAMILIES["response.reasoning_text.done"]

# Hosted-tool progress events: item-scoped, no streamed value, in this order per item
# (spec-notes §6). Steps sharing a rank are alternatives (completed | failed).
PROGRESS_STEPS: dict[str, dict[str, int]] = {
    "web_search_call": {"in_progress": 0, "searching": 1, "completed": 2},
    "file_search_call": {"in_progress": 0, "searching": 1, "completed": 2},
    "code_interpreter_call": {"in_progress": 0, "interpreting": 2, "completed": 3},
    "image_generation_call": {"in_progress": 0, "generating": 1, "partial_image": 2, "completed": 3},
    "mcp_list_tools": {"in_progress": 0, "completed": 1, "failed": 1},
    "mcp_call": {"in_progress": 0, "completed": 2, "failed": 2},
}
# Streamed values that belong between two progress steps: code_interpreter code deltas come
# before `interpreting`, mcp_call arguments before `completed`.
PROGRESS_RANK_OF_CHANNEL = {("code_interpreter_call", "code"): 1, ("mcp_call", "arguments"): 1}
for _item, _steps in PROGRESS_STEPS.items():
    for _step in _steps:
        FAMILIES[f"response.{_item}.{_step}"] = _f("item", (_item,), "status")


def last_progress_rank(item_type: str) -> int:
    """The rank of an item's final progress step (completed, failed)."""
    return max(PROGRESS_STEPS[item_type].values())


def progress_rank(event_type: str, item_type: str) -> int | None:
    """The rank of a progress event (or of a streamed value) within its item's sequence."""
    steps = PROGRESS_STEPS.get(item_type)
    if steps is None:
        return None
    prefix = f"response.{item_type}."
    if event_type.startswith(prefix):
        return steps.get(event_type[len(prefix):])
    family = FAMILIES.get(event_type)
    if family is not None and family.channel is not None:
        return PROGRESS_RANK_OF_CHANNEL.get((item_type, family.channel))
    return None

# Every event type the Responses API defines (the published union, plus what OpenAI really
# sends beyond it: keepalive, apply_patch diffs).
KNOWN_EVENT_TYPES = frozenset(
    (set(FAMILIES) - OPENRESPONSES_ALIASES)
    | LIFECYCLE
    | {ERROR, KEEPALIVE, ITEM_ADDED, ITEM_DONE, PART_ADDED, PART_DONE, SUMMARY_PART_ADDED, SUMMARY_PART_DONE,
       "response.audio.delta", "response.audio.done",
       "response.audio.transcript.delta", "response.audio.transcript.done"}
)

# Frames from other APIs that proxies leak into Responses streams (real-world ).
FOREIGN_TYPES = frozenset({
    "message_start", "message_delta", "message_stop", "content_block_start", "content_block_delta",
    "content_block_stop",
})
FOREIGN_OBJECTS = frozenset({"chat.completion.chunk", "chat.completion", "text_completion"})
