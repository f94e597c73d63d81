"""The catalogue of checks: every rule the suite enforces, as data.

A check's id (`category.name`) is stable: reports, baselines and CI gates refer to it. The
rule is one line a server author can act on; the basis says why we believe it (observed
OpenAI traffic, the Open Responses spec, what the official SDKs throw on, the published
OpenAPI description). The logic lives in `engine/checks/<category>.py`; this table is what
reports, the pytest parametrization and CHECKS.md are built from.

`applies` names the kinds of exchange a check is about:
  stream   - a `stream: true` request answered with server-sent events
  response - a non-streamed request answered with one JSON Response object
  error    - a request the target must refuse with an HTTP error envelope
  websocket - WebSocket mode (`/responses` over a WebSocket): the connection and its frames

`model_behaviour` marks the checks whose outcome depends on what the model chose to say (did
it recall the earlier turn, call the tool, write valid JSON, run into the token limit). A tiny
or scripted model behind a correct server fails them, so they are not conformance: results
report them apart ("model behaviour", with what was asked and what came back) and count them
only where the outcome is deterministic (the embedded reference server, or a proxy in front
of a scripted upstream with --upstream-url). Each has a protocol half that stays a check of
its own (truncation: `consistency.output_limit_enforced`; previous_response_id:
`consistency.previous_response_echoed`; ...).
"""
from __future__ import annotations

from dataclasses import dataclass

from .violations import Severity

MUST = Severity.MUST
SHOULD = Severity.SHOULD

CATEGORIES = ("framing", "schema", "grammar", "sequence", "ids", "consistency", "usage", "error")

STREAM = frozenset({"stream"})
RESPONSE = frozenset({"response"})
ERROR = frozenset({"error"})
SUCCESS = frozenset({"stream", "response"})
ANY = frozenset({"stream", "response", "error"})
UPSTREAM = frozenset({"upstream"})  # judged only with --upstream-url (a proxy in front of our reference server)
SCENARIO = frozenset({"scenario"})  # named by a scenario's assertions, judged across its steps
WEBSOCKET = frozenset({"websocket"})  # WebSocket mode: the upgrade, the frames, the connection


ALL_PROFILES = frozenset({"openai", "openai-strict", "openresponses"})


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity  # in the default (openai) profile; profiles.py holds the overrides
    rule: str
    basis: str
    applies: frozenset[str]
    profiles: frozenset[str] = ALL_PROFILES  # the profiles this check belongs to
    # The outcome depends on the model's choices, not only on the protocol (module docstring).
    model_behaviour: bool = False

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]


# Said in the basis of every model-behaviour check, so that the catalogue (CHECKS.md) shows the tier.
MODEL_BEHAVIOUR_NOTE = ("Model behaviour: reported apart and not counted against conformance, except against the "
                        "embedded reference server or with --upstream-url.")


def _c(id: str, severity: Severity, applies: frozenset[str], rule: str, basis: str,
       profiles: frozenset[str] = ALL_PROFILES, model_behaviour: bool = False) -> Check:
    if model_behaviour:
        basis = f"{basis} {MODEL_BEHAVIOUR_NOTE}"
    return Check(id=id, severity=severity, rule=rule, basis=basis, applies=applies, profiles=frozenset(profiles),
                 model_behaviour=model_behaviour)


CHECKS: tuple[Check, ...] = (
    # ---- framing: HTTP and server-sent-events transport ------------------------------------
    _c("framing.http_status_ok", MUST, SUCCESS,
       "A valid request is answered with HTTP 200.",
       "SPEC: POST /responses declares 200 for success; OBS: every OpenAI capture."),
    _c("framing.content_type_event_stream", MUST, STREAM,
       "A `stream: true` response has Content-Type text/event-stream.",
       "OR: 'MUST have Content-Type text/event-stream'; rig and routing proxies reject others (real-world A-04, A-05)."),
    _c("framing.content_type_json", MUST, frozenset({"response", "error"}),
       "A non-streamed response or an HTTP error has Content-Type application/json.",
       "OR: non-streaming responses are application/json; SDKs parse error bodies as JSON (A-05, G-08)."),
    _c("framing.sse_well_formed", MUST, STREAM,
       "The event stream is valid UTF-8 and every event ends with a blank line.",
       "WHATWG SSE: an unterminated last event is discarded by clients; SDK decoders are WHATWG decoders (A-07, G-05)."),
    _c("framing.data_is_json_object", MUST, STREAM,
       "Every `data:` payload is exactly one JSON object.",
       "SDK-PY/SDK-JS json-decode every data payload; `data: null`, raw text and two objects in one event break them (A-07, A-09, G-05)."),
    _c("framing.event_name_matches_type", MUST, STREAM,
       "The SSE `event:` name equals the payload's `type`.",
       "OR: 'The event field MUST match the type in the event body'; OBS: OpenAI sends event == type on every event (A-03)."),
    _c("framing.event_name_present", SHOULD, STREAM,
       "Every event carries an `event:` line naming its type.",
       "OBS: OpenAI names every event; clients that dispatch on the SSE event name see nothing otherwise (A-03)."),
    _c("framing.type_present", MUST, STREAM,
       "Every payload has a string `type`.",
       "SPEC: `type` is required on all 58 events; Codex dispatches on data.type (A-03)."),
    _c("framing.no_foreign_frames", MUST, STREAM,
       "A Responses stream carries no Chat Completions chunks or other APIs' frames.",
       "SPEC ResponseStreamEvent union; Codex retried and billed six calls on chat chunks (A-01, A-02)."),
    _c("framing.no_done_sentinel", SHOULD, STREAM,
       "The stream ends after the terminal event, without a `data: [DONE]` sentinel.",
       "OBS: OpenAI sends no [DONE] on Responses streams; strict JSON-per-frame parsers choke on it (A-11). The Open Responses profile requires it instead."),
    _c("framing.done_sentinel_present", MUST, STREAM,
       "The stream ends with a `data: [DONE]` event after the terminal event.",
       "OR: 'The terminal event MUST be the literal string [DONE]'. OpenAI does not send it, so this check "
       "belongs to the openresponses profile only.", profiles={"openresponses"}),
    _c("framing.no_sse_id", SHOULD, STREAM,
       "Events carry no SSE `id:` field.",
       "OR: 'Servers SHOULD NOT use id'; resumption goes through sequence_number.", profiles={"openresponses"}),
    # WebSocket mode (ws.py): the same events as frames of a connection that outlives a response.
    _c("framing.ws_upgrade_accepted", MUST, WEBSOCKET,
       "A WebSocket upgrade to `/responses` is answered with HTTP 101 (a target without WebSocket mode refuses "
       "it with a 4xx, which is reported as unsupported).",
       "OR: `x-openresponses-websocket` on /responses; RFC 6455 section 4.1: any other answer fails the handshake."),
    _c("framing.ws_text_frames", MUST, WEBSOCKET,
       "Every frame the server sends is a text frame of valid UTF-8 holding one JSON object.",
       "OR/SPEC: server messages are the streaming event objects (ResponsesServerEvent); RFC 6455 section 8.1: "
       "clients fail the connection (1007) on a text frame that is not UTF-8; SDKs json-decode every message."),
    _c("framing.ws_close_clean", SHOULD, WEBSOCKET,
       "The server closes the connection with a close frame and a normal code (1000 or 1001).",
       "RFC 6455 section 7.4.1: other codes report a failure (1011 internal error, 1002 protocol error, ...); "
       "clients retry or fall back to HTTP on them."),
    _c("framing.ws_create_streamed", MUST, WEBSOCKET,
       "A valid `response.create` is answered with the response's events, not with an error frame.",
       "OR compliance tests (websocket-response, websocket-sequential-responses): every turn ends with a valid "
       "completed response; the HTTP twin of framing.http_status_ok."),
    # ---- schema -----------------------------------------------------------------------------
    _c("schema.event", MUST, STREAM,
       "Every event validates against the JSON Schema of its type.",
       "SPEC event schemas, relaxed where OpenAI's own traffic departs from them (spec-notes section 7); strict deserialisers (Codex, Grok CLI, async-openai) fail on the rest (H-section)."),
    _c("schema.response", MUST, RESPONSE,
       "A non-streamed body validates against the Response schema.",
       "SPEC Response object; clients deserialise it field by field (H-04, H-07)."),
    _c("schema.compaction", MUST, SCENARIO,
       "`POST /responses/compact` answers with a `response.compaction` object: `id`, integer `created_at`, an "
       "`output` list holding a `compaction` item (`id`, opaque string `encrypted_content`) and a `usage` whose "
       "total is input plus output.",
       "SPEC and OR CompactResource and CompactionBody (required fields); OR compliance test compact-response; "
       "clients pass `output` on as the next request's input."),
    _c("schema.known_event_type", SHOULD, STREAM,
       "Every event type is one the Responses API defines.",
       "SPEC ResponseStreamEvent union plus wire-only keepalive; strict clients reject unknown variants, so extensions are worth knowing about (A-10, B-13)."),
    # ---- grammar: event order and lifecycle -------------------------------------------------
    _c("grammar.created_first", MUST, STREAM,
       "The first event is `response.created`.",
       "SDK-PY 'Expected to have received response.created before ...'; SDK-JS throws likewise (B-02, B-03)."),
    _c("grammar.in_progress_follows_created", SHOULD, STREAM,
       "`response.in_progress` follows `response.created` (after `response.queued` in background mode).",
       "OBS: second event of every OpenAI capture; OR state machine."),
    _c("grammar.lifecycle_event_once", MUST, STREAM,
       "`response.created` and `response.in_progress` are each sent at most once.",
       "OBS; OR state machine: a response is created once."),
    _c("grammar.terminal_event_present", MUST, STREAM,
       "The stream ends with `response.completed`, `response.incomplete` or `response.failed`.",
       "SDK-PY get_final_response: 'Didn't receive a response.completed event'; Codex retries streams that end without one (B-10, B-12, G-12)."),
    _c("grammar.nothing_after_terminal", MUST, STREAM,
       "No event follows the terminal event (a `[DONE]` sentinel aside).",
       "OBS; OR: the terminal event ends the response (B-10, A-11)."),
    _c("grammar.item_open", MUST, STREAM,
       "Every item event comes after its item's `output_item.added` and before its `output_item.done`.",
       "SDK-JS throws 'missing output at index'; Vercel AI SDK 'text part not found' (B-04, B-05, B-09)."),
    _c("grammar.item_closed", MUST, STREAM,
       "Every added output item is closed by `output_item.done` before the terminal event.",
       "OR item lifecycle; OBS (B-06)."),
    _c("grammar.part_open", MUST, STREAM,
       "Every content-part event comes after its `content_part.added` and before its `content_part.done`.",
       "OR: text 'MUST be backed by a content part'; SDK-JS (B-04, B-09, D-09)."),
    _c("grammar.part_closed", MUST, STREAM,
       "Every added content part is closed by `content_part.done` before its item is done.",
       "OR content part lifecycle; OBS."),
    _c("grammar.text_done_once", MUST, STREAM,
       "Each text or refusal part gets exactly one `.done` event, after its last delta and before `content_part.done`.",
       "OBS: every OpenAI capture; clients finalise the text on `.done` (B-01)."),
    _c("grammar.arguments_done_sent", SHOULD, STREAM,
       "An item's argument, input or code deltas are closed by their `.done` event "
       "(`response.function_call_arguments.done`, ...) before `output_item.done`.",
       "OBS: every OpenAI capture with a call; SPEC documents the `.done` events; clients that run a tool on "
       "`.done` wait for it in vain (J-06)."),
    _c("grammar.event_matches_item_type", MUST, STREAM,
       "An event family is only used on its item and part type (`output_text.*` on a message's output_text part, ...).",
       "SDK-JS 'expected output item type'; SDK-PY asserts content.type == 'output_text' (B-08)."),
    _c("grammar.items_sequential", SHOULD, STREAM,
       "Output items are streamed one at a time: an item is done before the next is added.",
       "OBS: every OpenAI capture; some clients keep one active item (third-party servers interleave parallel calls)."),
    _c("grammar.tool_progress_order", SHOULD, STREAM,
       "Hosted-tool progress events of an item come in their documented order (in_progress, searching, completed, ...).",
       "SPEC event docs; spec-notes section 6 sub-grammars; clients drive progress indicators from them."),
    _c("grammar.item_status", SHOULD, STREAM,
       "Items are added with status `in_progress` and done with a final status.",
       "OR item lifecycle; OBS; Grok CLI needs `status` (H-05, H-06)."),
    _c("grammar.ws_sequential_responses", MUST, WEBSOCKET,
       "A connection carries several responses one at a time: each ends with its terminal event before the next "
       "`response.created`, every `response.create` gets an answer (its response, or an error frame while another "
       "is in flight), and the server keeps the connection open between them.",
       "OR 2026-04-24: one in-flight response per connection; OR compliance test websocket-sequential-responses; "
       "SPEC ResponsesClientEventResponseCreate: requests are processed FIFO. Events carry no response id: "
       "interleaved responses cannot be told apart."),
    # ---- sequence -------------------------------------------------------------------------
    _c("sequence.present", MUST, STREAM,
       "Every event carries an integer `sequence_number`.",
       "SPEC: required on all 58 events; OR MUST; Rust clients fail on a missing one (C-01, C-02, C-03)."),
    _c("sequence.increasing", MUST, STREAM,
       "Each event's `sequence_number` is greater than the previous event's.",
       "OR: 'monotonically increasing'; resume with starting_after depends on it (C-04)."),
    _c("sequence.starts_at_zero", SHOULD, STREAM,
       "The first event has `sequence_number` 0.",
       "OBS: every unedited capture (C-02)."),
    _c("sequence.contiguous", SHOULD, STREAM,
       "Each event's `sequence_number` is exactly one more than the previous event's.",
       "OBS: every unedited capture; OR: numbers let clients 'detect gaps' (C-05, C-06)."),
    _c("sequence.ws_restarts_at_zero", MUST, WEBSOCKET,
       "Over a WebSocket every response's events are numbered from 0, as on their own stream: the numbering does "
       "not carry on from the previous response on the connection.",
       "OR: sequence_number has 'the same meaning on both transports'; SPEC starting_after resumes address a "
       "response's own numbers; OBS: every stream starts at 0."),
    # ---- ids and indexes ------------------------------------------------------------------
    _c("ids.response_id_stable", MUST, STREAM,
       "`response.id`, `created_at` and `model` are the same in every lifecycle event.",
       "OBS; clients chain on the id (D-03, I-06; the Copilot id-rotation capture)."),
    _c("ids.response_params_stable", SHOULD, STREAM,
       "The request parameters a response echoes (`tools`, `tool_choice`, `parallel_tool_calls`, `temperature`, "
       "...) are the same in `response.created`, `response.in_progress` and the terminal event.",
       "OBS: every OpenAI capture; they describe one request, so a value that changes is wrong in one of the "
       "events (a bridge flipping `parallel_tool_calls`)."),
    _c("ids.output_index_sequential", MUST, STREAM,
       "`output_item.added` events use output_index 0, 1, 2, ... in order, each once.",
       "SDK-JS validateArrayAppend; OpenClaw maps output by position (D-08, D-11, D-12)."),
    _c("ids.item_id_matches", MUST, STREAM,
       "An event's `item_id` is the id of the item at its `output_index`.",
       "SDK-JS 'expected item_id'; Vercel AI SDK 'text part not found' (D-01, D-04)."),
    _c("ids.item_identity_stable", MUST, STREAM,
       "`output_item.done` keeps the `id`, `type` (and `call_id`) of the added item.",
       "SDK-JS 'expected output item id'; @ai-sdk/openai crashes (D-02, D-05)."),
    _c("ids.item_id_present", MUST, SUCCESS,
       "Every output item has a non-empty string `id`.",
       "OR: every item MUST have an id; SDK-JS (D-06)."),
    _c("ids.item_ids_unique", MUST, SUCCESS,
       "Output item ids are unique within a response.",
       "SDK-JS 'duplicate output item identity'."),
    _c("ids.content_index_sequential", MUST, STREAM,
       "`content_part.added` events of an item use content_index 0, 1, 2, ... in order.",
       "SDK-JS; openai-python IndexError (D-09, D-10)."),
    _c("ids.annotation_index_sequential", MUST, STREAM,
       "Annotations of a part are numbered 0, 1, 2, ... in order.",
       "SDK-JS validateArrayAppend."),
    _c("ids.conventional_prefix", SHOULD, SUCCESS,
       "Ids use OpenAI's prefixes (`resp_` for responses, `msg_` for messages).",
       "OBS; clients replay ids to servers that validate prefixes (D-14)."),
    # ---- consistency: streamed pieces agree with each other and with the final object -----
    _c("consistency.deltas_match_done", MUST, STREAM,
       "The concatenated deltas equal the text of the matching `.done` event.",
       "OBS: every unedited capture; clients keep either (B-14, E-04, J-05)."),
    _c("consistency.part_matches_done", MUST, STREAM,
       "`content_part.done.part` carries the text of the part's `.done` event.",
       "OBS: every unedited capture."),
    _c("consistency.item_matches_parts", MUST, STREAM,
       "The item in `output_item.done` holds the parts closed by `content_part.done`.",
       "OBS: every unedited capture (E-05)."),
    _c("consistency.final_output_matches_items", MUST, STREAM,
       "The terminal `response.output` equals the `output_item.done` items in index order.",
       "OBS; openai-python get_final_response reads it (E-01, E-02, D-03, D-05, D-13)."),
    _c("consistency.final_output_order", MUST, STREAM,
       "The terminal `response.output` lists the items in the order they were streamed (by output_index).",
       "OBS; SDK-JS and OpenClaw address items by position, so a reordered final output pairs the wrong items "
       "(D-08, D-13)."),
    _c("consistency.arguments_accumulate", MUST, STREAM,
       "A call's `arguments` at `output_item.added` followed by its argument deltas add up to its final "
       "arguments (an item added with arguments gets deltas only for what follows).",
       "SDK-PY and SDK-JS append each `function_call_arguments.delta` to the added item's `arguments`; added "
       "`{}` plus deltas `{}` give the client `{}{}` (J-05)."),
    _c("consistency.terminal_status", MUST, SUCCESS,
       "The terminal status agrees with the event and its fields (completed: no error; incomplete: a reason; failed: an error).",
       "SPEC field docs; OR; Codex loses truncation and failures otherwise (B-11, H-09)."),
    _c("consistency.snapshot_state", SHOULD, STREAM,
       "`response.created` and `response.in_progress` carry status in_progress (or queued) and an empty output.",
       "OBS; OR state machine."),
    _c("consistency.annotation_span", MUST, SUCCESS,
       "Citation spans satisfy 0 <= start_index <= end_index <= len(text).",
       "OBS: every capture with citations."),
    _c("consistency.nonstream_matches_stream", MUST, RESPONSE,
       "A non-streamed response has the same shape as the final response of the same request streamed.",
       "OBS; clients switch between modes freely (E-03, D-05)."),
    # Scenario assertions (engine/assertions.py): judged across the steps of one scenario.
    _c("consistency.retrieve_matches_final", MUST, SCENARIO,
       "`GET /responses/{id}` returns the response exactly as the stream finished it.",
       "SPEC retrieve endpoint; OBS; clients chain and cache on it (I-02, I-03, I-06)."),
    _c("consistency.resume_continues", MUST, SCENARIO,
       "`GET /responses/{id}?stream=true&starting_after=N` replays the stored events after N, from N+1.",
       "SPEC starting_after; SDK-PY/SDK-JS resume from the last sequence_number seen (I-07, I-08)."),
    _c("consistency.context_kept", MUST, SCENARIO,
       "A turn with `previous_response_id` answers with the earlier turns in context (the model recalls them).",
       "SPEC previous_response_id; a server that accepts and ignores it loses the conversation (I-04, I-13). "
       "Whether the answer recalls the earlier turn is the model's doing; the protocol half is "
       "consistency.previous_response_echoed.", model_behaviour=True),
    _c("consistency.previous_response_echoed", MUST, SCENARIO,
       "A response created with `previous_response_id` echoes it, as sent, in the Response object.",
       "SPEC Response.previous_response_id; a proxy that drops it from the request shows here, whatever the model "
       "recalls (I-04, I-13)."),
    _c("consistency.deleted_not_retrievable", MUST, SCENARIO,
       "`DELETE /responses/{id}` answers 200 with `deleted: true`, and the response is gone (GET gives 404).",
       "SPEC delete endpoint; OBS: OpenAI answers {id, object: response.deleted, deleted: true} (I-14, N-07)."),
    _c("consistency.unstored_not_retrievable", MUST, SCENARIO,
       "A response created with `store: false` cannot be retrieved (GET gives 404).",
       "SPEC store; OBS (I-01)."),
    _c("consistency.input_items_listed", MUST, SCENARIO,
       "`GET /responses/{id}/input_items` lists the input as a paginated list object.",
       "SPEC input_items endpoint (list object, first_id, last_id, has_more) (I-14)."),
    _c("consistency.background_lifecycle", MUST, SCENARIO,
       "A `background: true` response starts queued or in progress and reaches its final status by polling.",
       "SPEC background and cancel; OR: 'moves from queued to in_progress' (I-09, I-10, I-11)."),
    _c("consistency.compaction_accepted", MUST, SCENARIO,
       "A request whose `input` carries the `compaction` item `POST /responses/compact` returned is answered with a "
       "response (HTTP 200, or a response stream over a WebSocket) that does not fail: a target that offers compact "
       "accepts the items it returns.",
       "SPEC ResponseCompactionItemParam and OR CompactionSummaryItemParam are input items; OpenAI's compaction guide "
       "and OR compliance test websocket-compact-new-chain pass the compacted output on as the next input. Only a "
       "target without compact (the compact request refused) is unsupported. What the answer recalls is "
       "consistency.context_kept."),
    _c("consistency.tool_called", MUST, SCENARIO,
       "With `tool_choice` required or named, the output holds a function_call whose arguments are JSON matching its parameters.",
       "SPEC tool_choice; tool calls streamed as text break every agent (J-02, J-05, J-10). Which call a model "
       "makes, and whether its arguments parse, is the model's doing unless the server constrains it.",
       model_behaviour=True),
    _c("consistency.parallel_calls_distinct", MUST, SCENARIO,
       "Parallel function calls each have their own item id and call_id.",
       "OBS; the server assigns the ids; proxies that merged parallel calls broke agents (J-07)."),
    _c("consistency.tool_round_trip", MUST, SCENARIO,
       "A `function_call_output` with the call's `call_id` is answered with a completed response that uses it.",
       "SPEC function_call_output; agents loop on it (I-13, J-03). The protocol half, the request accepted with "
       "HTTP 200, is framing.http_status_ok; what the answer says is the model's.", model_behaviour=True),
    _c("consistency.structured_output_valid", MUST, SCENARIO,
       "With `text.format` json_schema (not strict), the output text is JSON valid against the schema.",
       "SPEC structured outputs; openai-python responses.parse and the Agents SDK parse it (L-01, L-02). Without "
       "`strict: true` the JSON is the model's doing; with it, consistency.structured_output_strict judges; "
       "`text.format` echoed is consistency.params_echoed.", model_behaviour=True),
    _c("consistency.structured_output_strict", MUST, SCENARIO,
       "With `text.format` json_schema and `strict: true`, the output text is JSON valid against the schema: the "
       "server enforces the schema, or refuses the request.",
       "SPEC ResponseFormatTextJSONSchemaConfig.strict: 'the model will always follow the exact schema'; a server "
       "that accepts strict and drops it on the way (a bridge that does not pass text.format on) breaks "
       "responses.parse (L-01, L-02)."),
    _c("consistency.params_echoed", MUST, SCENARIO,
       "The Response echoes the request's parameters (temperature, tools, text.format, instructions, ...).",
       "SPEC Response fields; a proxy that drops a parameter shows it here (L-02)."),
    _c("consistency.truncation_reported", MUST, SCENARIO,
       "Asked for a long answer under a small `max_output_tokens`, the response runs into the limit and ends "
       "`incomplete` with reason `max_output_tokens`.",
       "SPEC incomplete_details; clients lose the truncation signal otherwise (H-09, L-05). A model may finish "
       "before the limit (status completed is then right); the protocol half is consistency.output_limit_enforced.",
       model_behaviour=True),
    _c("consistency.output_limit_enforced", MUST, SCENARIO,
       "A `completed` response reports no more output_tokens than `max_output_tokens`; an `incomplete` one for "
       "reason `max_output_tokens` reports no fewer.",
       "SPEC max_output_tokens ('an upper bound') and incomplete_details.reason; more tokens than the limit means "
       "the limit was not enforced, an early stop reported as truncation misleads clients (H-09, L-05)."),
    _c("consistency.limit_reached_reported", SHOULD, SCENARIO,
       "A response whose output_tokens equal `max_output_tokens` is `incomplete` with reason `max_output_tokens`.",
       "OBS: OpenAI reports a response that ran into the limit as incomplete; a model may also stop exactly there, "
       "so `completed` at the limit is only a remark (H-09)."),
    # Upstream fidelity (engine/fidelity.py): with --upstream-url on our reference server, what
    # reached the client through a proxy is what the upstream produced.
    _c("consistency.upstream_text_preserved", MUST, UPSTREAM,
       "The text that reaches the client is the text the upstream produced.",
       "What a proxy is for; LiteLLM and other bridges lost or duplicated text (B-14, E-04)."),
    _c("consistency.upstream_tool_calls_preserved", MUST, UPSTREAM,
       "Tool call names, arguments and call_ids reach the client as the upstream sent them.",
       "Agents pair outputs by call_id; bridges rewrote ids and merged arguments (D-05, J-06, J-07)."),
    _c("consistency.upstream_finish_preserved", MUST, UPSTREAM,
       "The upstream's finish reason becomes the matching status (stop: completed, length: incomplete, ...).",
       "Truncation reported as completed loses the signal (B-11, H-09)."),
    _c("consistency.upstream_usage_preserved", MUST, UPSTREAM,
       "The token counts that reach the client are the upstream's.",
       "Usage translated wrongly or dropped by bridges (F-04, F-05, F-06, F-08)."),
    # ---- usage --------------------------------------------------------------------------
    _c("usage.present", MUST, SUCCESS,
       "A completed or incomplete response carries a `usage` object.",
       "OBS; Codex and OpenCode show zero context without it (F-08, F-09)."),
    _c("usage.counters_valid", MUST, SUCCESS,
       "Usage counters and detail objects are present and non-negative integers.",
       "SPEC ResponseUsage; Codex 'invalid type: null, expected i64' (F-01, F-02, F-03)."),
    _c("usage.total_is_sum", MUST, SUCCESS,
       "`total_tokens` equals `input_tokens + output_tokens`.",
       "OBS: every capture (F-04, F-05)."),
    _c("usage.details_within_totals", MUST, SUCCESS,
       "`cached_tokens <= input_tokens` and `reasoning_tokens <= output_tokens`.",
       "OBS: every capture (F-04, F-05)."),
    _c("usage.nonzero", SHOULD, SUCCESS,
       "A response to non-empty input reports input_tokens > 0, and output_tokens > 0 when it produced output.",
       "OBS (F-07)."),
    # ---- errors -------------------------------------------------------------------------
    _c("error.status_fits", MUST, ERROR,
       "A refused request gets the fitting 4xx status, never a 200 or a 5xx.",
       "OBS: OpenAI answers bad input with 400, bad keys with 401, unknown ids with 404 before any byte of stream (G-01, G-08)."),
    _c("error.envelope_shape", MUST, ERROR,
       "An HTTP error body is `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`.",
       "SPEC ErrorResponse; SDKs read body['error']; Zed fails on a missing `type` (G-03, G-08, G-13)."),
    _c("error.type_fits", SHOULD, ERROR,
       "`error.type` names the class of error OpenAI uses for it (`invalid_request_error`, ...).",
       "OBS: OpenAI capture; SDKs and proxies branch on it."),
    _c("error.param_named", SHOULD, ERROR,
       "When one request field is at fault, `error.param` names it.",
       "OBS; SPEC ErrorResponse.param (I-13)."),
    _c("error.ws_error_shape", MUST, WEBSOCKET,
       "A WebSocket error frame is `{\"type\": \"error\", \"status\": 4xx or 5xx, \"error\": {\"message\", "
       "\"code\", ...}}`: an integer HTTP-style status and a non-empty string message.",
       "OR WebSocketErrorEvent (type, status and error.code/message required); SPEC ResponseWsError example; "
       "clients branch on status and code."),
    _c("error.code_fits", MUST, WEBSOCKET,
       "A WebSocket error frame names the documented `error.code` of its cause (`previous_response_not_found`, ...).",
       "OR compliance tests websocket-reconnect-store-false-recovery and websocket-previous-response-not-found; "
       "clients restart a chain with full context on previous_response_not_found, and only on it."),
    _c("error.event_shape", MUST, STREAM,
       "An `error` event carries a string message (flat or nested under `error`) and a sequence_number.",
       "SPEC (flat) and OBS (nested) shapes; Vercel AI SDK and Grok CLI reject others (G-03, G-04, C-07)."),
    _c("error.event_followed_by_failed", MUST, frozenset({"stream", "error"}),
       "An `error` event is followed by `response.failed`.",
       "OR: 'followed by a response.failed event'; OBS (G-11). Also judged when a request that must be refused "
       "is answered with a 200 stream."),
    _c("error.failed_carries_error", MUST, STREAM,
       "`response.failed` carries `response.error` with `code` and `message`.",
       "SPEC field docs; Codex shows no usable message otherwise (G-02, G-07)."),
)

BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}


def get(check_id: str) -> Check:
    return BY_ID[check_id]


def is_model_behaviour(check_id: str) -> bool:
    """The check's outcome depends on the model's choices (see the module docstring); False for unknown ids."""
    check = BY_ID.get(check_id)
    return check is not None and check.model_behaviour


MODEL_BEHAVIOUR_CHECKS: frozenset[str] = frozenset(c.id for c in CHECKS if c.model_behaviour)


# Checks about HTTP and server-sent events: a WebSocket step has nothing for them to judge
# (its transport findings are the `framing.ws_*` checks).
HTTP_ONLY_CHECKS: frozenset[str] = frozenset({
    "framing.http_status_ok", "framing.content_type_event_stream", "framing.content_type_json",
    "framing.sse_well_formed", "framing.event_name_matches_type", "framing.event_name_present",
    "framing.no_done_sentinel", "framing.done_sentinel_present", "framing.no_sse_id", "error.envelope_shape",
    "consistency.nonstream_matches_stream",
})
