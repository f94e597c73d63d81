"""`POST /v1/responses/compact` of the reference server: a conversation compacted (the
route is `routes/compact.py`; this module is the request and the answer, `compaction_codec.py`
the format of what a compaction item holds).

The request (SPEC/OR `CompactResponseMethodPublicBody`): `model` (required), `input` (a
string or items, as for `POST /v1/responses`), `previous_response_id` (a stored response:
its input and output come first), `instructions`, and the prompt-cache and service-tier
options, which are accepted and ignored. Anything else is 400 `unknown_parameter`; a missing
`model` is 400 `missing_required_parameter` (param `model`), neither `input` nor
`previous_response_id` 400 (param `input`).

The answer (SPEC/OR `CompactResource`), deterministic but for `id` and `created_at`:

    {"id": "resp_...", "object": "response.compaction", "created_at": 1767340552,
     "output": [<the user messages, as completed message items>,
                {"id": "cmp_...", "type": "compaction", "encrypted_content": "rcmp1...."}],
     "usage": {"input_tokens": N, "input_tokens_details": {"cached_tokens": 0},
               "output_tokens": M, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": N + M}}

like OpenAI's example: the user turns are kept as they were, everything else (assistant turns,
tool calls and their outputs, reasoning) is folded into one opaque `compaction` item. Its
`encrypted_content` is a versioned, compressed encoding of what it folds, sealed with a tag
(`rcmp1.<URL-safe base64>.<tag>`): opaque to clients, the same for the same conversation.
`input_tokens` counts the conversation, `output_tokens` what the compaction item holds.

The round trip: the compacted `output` is the next request's `input` (`POST /v1/responses`
and `response.create` over a WebSocket, every flavour). A `compaction` input item
(`{"type": "compaction", "encrypted_content": ..., "id"?: ...}`, SPEC
ResponseCompactionItemParam, OR CompactionSummaryItemParam) is read back
(`compaction_codec.decode`, by validation.py) into the turns it folded, in its place in the
conversation, so the model sees them as it saw the original conversation. Content this server did not produce - a forged or altered one, or
another server's (OpenAI's `gAAAA...`) - is refused with 400 `invalid_encrypted_content`
naming `input[i].encrypted_content`.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from . import errors
from .compaction_codec import encode
from .model import KNOWN_MODELS, Message, count_tokens
from .records import IdFactory
from .validation import parse_request

#: Faults of the round trip (`create_app(faults=...)`, `--fault`): what each breaks.
FAULT_DESCRIPTIONS: dict[str, str] = {
    "compaction_refused": "a `compaction` input item (what POST /v1/responses/compact returned) is "
    "refused as an unknown item type, 400 invalid_value naming input[i].type, over HTTP and WebSocket "
    "(the compact endpoint itself is unchanged)",
}
#: Accepted top-level fields (the ones besides model, input, previous_response_id and
#: instructions are accepted and ignored).
FIELDS = frozenset({"model", "input", "previous_response_id", "instructions", "prompt_cache_key",
                    "prompt_cache_retention", "prompt_cache_options", "service_tier"})
def compaction(body: Any, history: list[Message]) -> dict[str, Any]:
    """The CompactResource for a validated request body and the history before its input."""
    instructions = body.get("instructions") if isinstance(body.get("instructions"), str) else None
    messages = list(history)
    if body.get("input") is not None:
        messages += parse_request({"model": body["model"], "input": body["input"]}).messages
    ids = IdFactory()
    kept = [m for m in messages if m.role == "user"]
    folded = [m for m in messages if m.role != "user"]
    if instructions:
        folded.insert(0, Message("developer", instructions))
    digest = hashlib.sha256(encode(messages).encode()).hexdigest()
    output: list[dict[str, Any]] = [
        {"id": f"msg_{hashlib.sha256(f'{digest}:{n}'.encode()).hexdigest()[:48]}", "type": "message",
         "status": "completed", "role": "user", "content": [{"type": "input_text", "text": m.text}]}
        for n, m in enumerate(kept)
    ]
    output.append({"id": f"cmp_{digest[:48]}", "type": "compaction", "encrypted_content": encode(folded)})
    input_tokens = sum(count_tokens(m.text) for m in messages) + (count_tokens(instructions) if instructions else 0)
    output_tokens = sum(count_tokens(m.text) for m in folded) + 1
    return {
        "id": ids.response_id,
        "object": "response.compaction",
        "created_at": int(time.time()),
        "output": output,
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def validate(body: Any) -> None:
    """Refuse, as `POST /v1/responses` would, what the compact endpoint does not take."""
    if not isinstance(body, dict):
        raise errors.not_an_object(errors.type_name(body))
    for name in body:
        if name not in FIELDS:
            raise errors.unknown_parameter(name)
    if "model" not in body or body["model"] is None:
        raise errors.missing_parameter("model")
    if not isinstance(body["model"], str):
        raise errors.invalid_type("model", "a string", body["model"])
    if body["model"] not in KNOWN_MODELS:
        raise errors.model_not_found(body["model"])
    if body.get("input") is None and body.get("previous_response_id") is None:
        raise errors.missing_parameter("input")
    for name in ("previous_response_id", "instructions"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise errors.invalid_type(name, "a string", body[name])
