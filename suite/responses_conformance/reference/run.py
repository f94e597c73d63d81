"""One request being answered: the parsed request, the conversation the model sees, the
model's completion, and the ids of the output items it plans.

The model (`model.py`) decides what is said; a run gives each planned item its id (and each
function call its `call_id`) and keeps what the faults change about the final content, which
the Response objects, the events and the next turn's conversation all read from here.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .context import ServerContext
from .errors import ApiError
from .model import (
    CallOutput,
    Completion,
    Message,
    MessageOutput,
    OutputPlan,
    call_id_for,
    generate,
    model_input_digest,
)
from .records import IdFactory, Record, input_items
from .validation import OUTPUT_LOGPROBS, ResponseRequest, parse_request, refuse_compaction_items

#: Id prefix of each kind of output item, as OpenAI's.
_PREFIXES = {"reasoning": "rs", "function_call": "fc", "message": "msg"}


@dataclass
class OutputSlot:
    """One output item of a run: what the model planned, and the ids it goes by."""

    index: int
    id: str
    plan: OutputPlan
    call_id: str | None = None  # function calls: announced at output_item.added
    final_call_id: str | None = None  # ... and at output_item.done (differs: call_id_changes)


@dataclass
class Run:
    """One request being answered: its parameters, ids, and the model's completion."""

    request: ResponseRequest
    response_id: str
    created_at: int
    completion: Completion
    conversation: list[Message]
    ids: IdFactory
    items: list[OutputSlot] = field(default_factory=list)
    input_items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def logprobs(self) -> bool:
        return OUTPUT_LOGPROBS in self.request.include

    @property
    def background(self) -> bool:
        return self.request.background


def parse_body(ctx: ServerContext, body: Any, features_off: frozenset[str]) -> ResponseRequest:
    """The request a body asks for, or the ApiError refusing it (as the faults refuse it)."""
    if "compaction_refused" in ctx.faults:
        refuse_compaction_items(body)
    if "fuzz_truncation_accepted" in ctx.faults and isinstance(body, dict) \
            and isinstance(body.get("truncation"), str) and body["truncation"] not in ("auto", "disabled"):
        body = {**body, "truncation": "disabled"}
    return parse_request(body, features_off)


def check_tool_outputs(conversation: list[Message]) -> None:
    """Every function_call_output must answer a function_call that comes before it (in the
    stored conversation of `previous_response_id` or in `input`), like OpenAI checks."""
    known: set[str] = set()
    for message in conversation:
        if message.role == "function_call" and message.call_id:
            known.add(message.call_id)
        elif message.role == "function_call_output" and message.call_id not in known:
            raise errors.tool_call_not_found(message.call_id or "")


def start_run(ctx: ServerContext, req: ResponseRequest, cached: Record | None = None,
              forget: bool = False) -> Run:
    """The run of a parsed request, its earlier turns (`previous_response_id`) included.

    `cached`: a WebSocket connection's last response, which `previous_response_id` may name
    though it is not stored; `forget` (fault ws_context_lost): the model does not see the
    earlier turns."""
    history: list[Message] = []
    history_items: list[dict[str, Any]] = []
    if req.previous_response_id is not None:
        previous = cached if cached is not None and cached.id == req.previous_response_id \
            else ctx.store.get(req.previous_response_id)
        if previous is None:
            raise errors.previous_response_not_found(req.previous_response_id)
        now = time.monotonic()
        if not previous.finished(now):
            raise ApiError(
                400,
                f"Previous response with id '{req.previous_response_id}' is still "
                f"{previous.status_at(now).replace('_', ' ')}; it can be continued once it "
                "has finished.",
                param="previous_response_id",
            )
        history, history_items = previous.history()
    conversation = [*history, *req.messages]
    check_tool_outputs(conversation)
    seen = list(req.messages) if "context_lost" in ctx.faults or forget else conversation
    options = req.options
    if "call_id_mismatch_output" in ctx.faults:
        options = dataclasses.replace(options, ignore_tool_outputs=True)
    completion = generate(req.model, req.instructions, seen, req.max_output_tokens, options)
    digest = model_input_digest(req.model, req.instructions, seen)
    ids = IdFactory()
    run = Run(req, ids.response_id, int(time.time()), completion, seen, ids)
    calls = 0
    for index, plan in enumerate(completion.items):
        out = OutputSlot(index, ids.item(_PREFIXES[plan.kind]), plan)
        if isinstance(plan, CallOutput):
            out.call_id = call_id_for(digest, calls, plan.name)
            out.final_call_id = (call_id_for(digest, calls, plan.name, "changed")
                                 if "call_id_changes" in ctx.faults else out.call_id)
            calls += 1
        run.items.append(out)
    run.input_items = [*history_items, *input_items(req.input, ids)]
    return run


# What the final content says: the deltas as streamed, unless a fault makes the "done" side
# (done events, done items, the final Response) disagree with them.
def final_deltas(ctx: ServerContext, plan: MessageOutput) -> tuple[tuple[str, ...], int]:
    """The deltas the final text is made of, and the position of the first."""
    if "text_mismatch" in ctx.faults and not plan.refusal and plan.deltas:
        return plan.deltas[1:], 1
    return plan.deltas, 0


def final_text(ctx: ServerContext, plan: MessageOutput) -> str:
    if "text_mismatch" in ctx.faults and not plan.refusal and plan.deltas:
        return "".join(plan.deltas[1:])
    return plan.text


def final_arguments(ctx: ServerContext, plan: CallOutput) -> str:
    if "arguments_mismatch" in ctx.faults and plan.deltas:
        return "".join(plan.deltas[1:])
    return plan.arguments


def replies_of(ctx: ServerContext, run: Run) -> list[Message]:
    """What the model answered, as the next turn's conversation holds it."""
    replies: list[Message] = []
    for out in run.items:
        if isinstance(out.plan, CallOutput):
            replies.append(Message("function_call", f"{final_arguments(ctx, out.plan)} "
                                   f"{out.plan.name}", call_id=out.final_call_id,
                                   name=out.plan.name))
        elif isinstance(out.plan, MessageOutput):
            replies.append(Message("assistant", out.plan.text))
    return replies
