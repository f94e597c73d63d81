"""The Response objects and output items of a run, field order included, as real OpenAI
traffic shows them (and as the flavour and the faults change them).

* reasoning item `{id: rs_..., type, [encrypted_content], summary}` (no `status`, like
  OpenAI's; `status: "incomplete"` only when `max_output_tokens` cut it; Open Responses: a
  `status` always and the raw reasoning text as a `reasoning_text` content part);
* function_call item `{id: fc_..., type, status, arguments, call_id: call_..., name}`, added
  with `arguments: ""`, done `completed` (or `incomplete` when cut);
* message item with one `output_text` part or one `refusal` part;
* a failed run (`FAIL_MIDSTREAM`): `status: "failed"`, `error: {code, message}`,
  `usage: null`, `output: []`. Without `stream` it is the HTTP 200 body: the request was
  accepted and the failure happened while generating, which is what the stream's terminal
  event and `GET /v1/responses/{id}` report too.
"""

from __future__ import annotations

import copy
from typing import Any

from . import errors
from .context import ServerContext
from .model import CallOutput, Completion, MessageOutput, OutputPlan, ReasoningOutput, logprob_entries
from .run import OutputSlot, Run, final_arguments, final_deltas, final_text


def _insert_after(obj: dict[str, Any], key: str, extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in obj.items():
        out[name] = value
        if name == key:
            out.update(extra)
    return out


def response_object(
    ctx: ServerContext,
    run: Run,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    completed_at: int | None = None,
    final: bool = False,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    req = run.request
    tier = req.service_tier
    if final and tier == "auto":
        tier = "default"  # OpenAI reports the tier it actually used once done
    created_at: int | float = run.created_at
    if "created_at_float" in ctx.faults:
        created_at = float(created_at)
    obj: dict[str, Any] = {
        "id": run.response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": req.background,
        "completed_at": completed_at,
        "error": error,
        "incomplete_details": (
            {"reason": "max_output_tokens"} if status == "incomplete" else None
        ),
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "max_tool_calls": req.max_tool_calls,
        "model": req.model,
        "output": output,
        "parallel_tool_calls": req.parallel_tool_calls,
        "previous_response_id": req.previous_response_id,
        "prompt_cache_key": req.prompt_cache_key,
        "prompt_cache_retention": req.prompt_cache_retention,
        "reasoning": copy.deepcopy(req.reasoning),
        "safety_identifier": req.safety_identifier,
        "service_tier": tier,
        "store": req.store,
        "temperature": req.temperature,
        "text": copy.deepcopy(req.text),
        "tool_choice": copy.deepcopy(req.tool_choice),
        "tools": copy.deepcopy(req.tools),
        "top_logprobs": req.top_logprobs,
        "top_p": req.top_p,
        "truncation": req.truncation,
        "usage": usage,
        "user": req.user,
        "metadata": dict(req.metadata),
    }
    if ctx.strict:  # the published schema: neither is nullable, so leave them out
        if usage is None:
            del obj["usage"]
        if req.user is None:
            del obj["user"]
    if ctx.open_responses:  # required by Open Responses' ResponseResource
        obj = _insert_after(obj, "error", {"frequency_penalty": 0.0})
        obj = _insert_after(obj, "parallel_tool_calls", {"presence_penalty": 0.0})
    return obj


def usage_object(ctx: ServerContext, completion: Completion) -> dict[str, Any]:
    total = completion.input_tokens + completion.output_tokens
    if "usage_total_wrong" in ctx.faults:
        total += 1
    input_details: dict[str, int] = {"cached_tokens": 0}
    if ctx.strict:
        input_details["cache_write_tokens"] = 0
    return {
        "input_tokens": completion.input_tokens,
        "input_tokens_details": input_details,
        "output_tokens": completion.output_tokens,
        "output_tokens_details": {"reasoning_tokens": completion.reasoning_tokens},
        "total_tokens": total,
    }


def part_logprobs(ctx: ServerContext, run: Run, plan: MessageOutput, *,
                  with_bytes: bool) -> list[dict[str, Any]]:
    if not run.logprobs:
        return []
    deltas, start = final_deltas(ctx, plan)
    return logprob_entries(deltas, run.request.top_logprobs, with_bytes=with_bytes, start=start)


def text_part(text: str, logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": logprobs or [], "text": text}


def refusal_part(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def final_status(plan: OutputPlan) -> str:
    return "incomplete" if plan.truncated else "completed"


def item_object(ctx: ServerContext, run: Run, out: OutputSlot, *, done: bool) -> dict[str, Any]:
    """The item as output_item.added (done=False) or .done / the final output shows it."""
    plan = out.plan
    if isinstance(plan, ReasoningOutput):
        item: dict[str, Any] = {"id": out.id, "type": "reasoning"}
        if plan.encrypted_content is not None:
            item["encrypted_content"] = plan.encrypted_content
        if ctx.open_responses:  # OR: every item has a status
            item["status"] = final_status(plan) if done else "in_progress"
        item["summary"] = (
            [{"type": "summary_text", "text": t} for t in plan.summary_texts] if done else []
        )
        if ctx.open_responses:
            item["content"] = [{"type": "reasoning_text", "text": plan.text}] if done else []
        elif done and plan.truncated:
            item["status"] = "incomplete"  # OpenAI's reasoning items have none otherwise
        return item
    if isinstance(plan, CallOutput):
        return {
            "id": out.id,
            "type": "function_call",
            "status": final_status(plan) if done else "in_progress",
            "arguments": final_arguments(ctx, plan) if done else "",
            "call_id": out.final_call_id if done else out.call_id,
            "name": plan.name,
        }
    assert isinstance(plan, MessageOutput)
    content: list[dict[str, Any]] = []
    if done:
        content = [refusal_part(plan.text) if plan.refusal else text_part(
            final_text(ctx, plan), part_logprobs(ctx, run, plan, with_bytes=True))]
    return {
        "id": out.id,
        "type": "message",
        "status": final_status(plan) if done else "in_progress",
        "content": content,
        "role": "assistant",
    }


def final_response(ctx: ServerContext, run: Run, completed_at: int) -> dict[str, Any]:
    """The Response once the run is over: what the terminal event and a later GET show."""
    completion = run.completion
    if completion.failed:
        return response_object(
            ctx, run, status="failed", output=[], usage=None, final=True,
            error={"code": "server_error", "message": errors.SERVER_ERROR_MESSAGE},
        )
    status = "incomplete" if completion.truncated else "completed"
    return response_object(
        ctx,
        run,
        status=status,
        output=[item_object(ctx, run, out, done=True) for out in run.items],
        usage=usage_object(ctx, completion),
        completed_at=completed_at if status == "completed" else None,
        final=True,
    )
