"""The fault tables: every deliberate protocol breakage the reference server can be started
with (`create_app(faults=...)`, `--fault`), by name, with what it breaks.

A fault exists so that a check can be shown to fire against a live server: each alters only
what its description says, and every other answer stays byte for byte what the faultless
server sends. The code that a fault switches sits where the behaviour it breaks is made
(`"name" in ctx.faults`), so searching for a name finds both its row here and its effect.
"""

from __future__ import annotations

from . import compact

#: Faults of HTTP answers (`POST /v1/responses`, its stream and the state routes).
FAULT_DESCRIPTIONS: dict[str, str] = {
    "sequence_gap": "skip one sequence_number right after the first output_text.delta",
    "sequence_repeat": "the event after the first output_text.delta repeats its sequence_number",
    "event_name_mismatch": "the `event:` line of output_text.delta events says "
    "`response.output_text.delta.x`",
    "content_type_json_on_stream": "streams are sent with Content-Type: application/json",
    "created_at_float": "created_at is a float (e.g. 1767340552.0) in every Response object",
    "no_output_text_done": "response.output_text.done is not sent",
    "item_id_rotates": "output_text.delta events carry an item_id other than the item's id",
    "final_output_empty": "response.completed.response.output is [] (streams only)",
    "usage_total_wrong": "usage.total_tokens = input + output + 1",
    "error_status_200": "authentication failures are answered with HTTP 200 (same body)",
    "error_envelope_flat": 'HTTP errors are answered as {"detail": "<message>"}',
    "text_mismatch": "done/part/item/final text lack the first delta's text "
    "(the deltas themselves are unchanged)",
    "call_id_changes": "a function_call's output_item.done (and so the final response) carries "
    "a call_id other than the one its output_item.added announced",
    "arguments_mismatch": "function_call_arguments.done, the done item and the final response "
    "carry arguments that lack the first delta's text (the deltas themselves are unchanged)",
    "reasoning_id_rotates": "reasoning summary events (part added/done, text delta/done) carry "
    "an item_id other than the reasoning item's id",
    "error_without_failed": "the mid-stream failure (FAIL_MIDSTREAM) ends after the error "
    "event: no response.failed",
    "refusal_in_text": "a refusal's text is streamed as response.output_text.delta events "
    "inside its refusal part (refusal.done and the parts are unchanged)",
    "context_lost": "previous_response_id is accepted (and echoed) but the model does not see "
    "the earlier turns: no 'This is turn N', no recall",
    "retrieve_differs": "GET /v1/responses/{id} shows output text other than the response's "
    "(' [retrieved]' appended); streams and replays are unchanged",
    "call_id_mismatch_output": "a function_call_output is accepted, but the answer ignores it "
    "(the plain reply to the last user message, no quote of the output)",
    "unknown_param_500": "an unknown top-level request parameter is answered with HTTP 500 "
    "(type server_error) instead of 400 unknown_parameter",
    "resume_from_zero": "GET ?stream=true&starting_after=N ignores N: the replay starts at "
    "sequence_number 0",
    "delete_keeps": "DELETE /v1/responses/{id} answers deleted: true, but GET still returns "
    "the response",
}
FAULTS = frozenset(FAULT_DESCRIPTIONS)
#: Fuzz-only faults: no fixed scenario sends what triggers them; fuzz mode (`--fuzz`) finds them.
FUZZ_FAULT_DESCRIPTIONS: dict[str, str] = {
    "fuzz_temperature_500": "a `temperature` outside 0..2 is answered with HTTP 500 (type "
    "server_error) instead of 400",
    "fuzz_truncation_accepted": "an unknown `truncation` value is accepted (read as 'disabled') "
    "instead of refused with 400 invalid_value",
    "fuzz_truncation_auto_fails": "a streamed request with `truncation: \"auto\"` fails mid-stream "
    "(error event, response.failed) inside HTTP 200",
}
FUZZ_FAULTS = frozenset(FUZZ_FAULT_DESCRIPTIONS)
#: Faults of WebSocket mode (`ws.py`); they leave HTTP answers untouched.
WS_FAULT_DESCRIPTIONS: dict[str, str] = {
    "ws_sequence_reuse": "WebSocket mode: a connection's second and later responses number their "
    "events on from the previous response's last sequence_number instead of from 0",
    "ws_context_lost": "WebSocket mode: previous_response_id is accepted (and echoed) but the model "
    "does not see the earlier turns",
    "ws_error_without_status": "WebSocket mode: error frames carry no `status`",
    "ws_close_mid_response": "WebSocket mode: the server closes the connection (code 1011) halfway "
    "through the first response on it",
}
WS_FAULTS = frozenset(WS_FAULT_DESCRIPTIONS)
#: Faults of the compaction round trip; their table stays beside the format they break
#: (`compact.py`), and they leave other requests untouched.
COMPACT_FAULT_DESCRIPTIONS = compact.FAULT_DESCRIPTIONS
COMPACT_FAULTS = frozenset(COMPACT_FAULT_DESCRIPTIONS)

#: Every name `create_app(faults=...)` accepts.
ALL_FAULTS = FAULTS | WS_FAULTS | COMPACT_FAULTS | FUZZ_FAULTS
