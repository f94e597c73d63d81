"""The evidence behind the checks: what each basis id in the registry stands for.

Every check names its basis (engine/registry.py): the sources a rule comes from (SPEC, OR, OBS,
SDK-PY, SDK-JS, a standard) and the real bugs it would have caught, by id (`F-04`: usage totals
that did not add up in a named project, with the public thread). This module says what each id
means, in the project's own words; `docs/evidence.md` is generated from it
(`python -m responses_conformance.evidence > docs/evidence.md`; a test fails when it is stale
or when a cited id has no entry). The terminal points to the entries, the HTML report links them.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass

DOC = "docs/evidence.md"

# The ids a basis can cite: a source, a section of our spec notes, a real bug (A-01 ... N-12) or a
# whole section of them (H-section).
_ID = re.compile(r"\b(?:spec-notes section \d+|RFC \d+|WHATWG|SDK-PY|SDK-JS|SPEC|OBS|OR|[A-Q]-section|[A-Q]-\d{2})\b")


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    text: str
    links: tuple[str, ...] = ()  # `owner/repo#N` (a public issue or pull request) or a URL

    @property
    def anchor(self) -> str:
        return anchor(self.id)

    def urls(self) -> list[tuple[str, str]]:
        """(label, URL) of each link."""
        out = []
        for link in self.links:
            if link.startswith(("http://", "https://")):
                out.append((link, link))
            else:
                repo, _, number = link.partition("#")
                out.append((link, f"https://github.com/{repo}/issues/{number}"))
        return out


SOURCES: tuple[Entry, ...] = (
    Entry("SPEC", "OpenAI's published OpenAPI description",
          "The OpenAPI 3.1 document OpenAI publishes for its API (openai/openai-openapi, version 2.3.0 as read "
          "for this suite): the endpoints, the Response object, the 58 streaming event types and the error "
          "envelope. It declares fields and types but states no rule about the order of events; where real "
          "OpenAI traffic departs from it, the openai profile follows the traffic and openai-strict the document "
          "(see spec-notes section 7).",
          ("https://github.com/openai/openai-openapi",)),
    Entry("OR", "The Open Responses specification",
          "The Open Responses project's specification of the Responses API (the 2026-01-15 and 2026-04-24 "
          "texts, their OpenAPI document and their compliance tests). It states normative MUST and SHOULD rules "
          "about transport, event order, items and errors that OpenAI's document leaves unsaid, and is the "
          "basis of the openresponses profile. `OR 2026-04-24` cites that release; `OR compliance tests` names "
          "the suite's test cases.",
          ("https://github.com/openresponses/openresponses",)),
    Entry("OBS", "Observed OpenAI traffic",
          "What OpenAI's own API sends, measured on captured streams: the January 2026 capture in "
          "`tests/fixtures/openai/` (seven text streams and a 401) and the recorded streams in the Vercel AI "
          "SDK's test fixtures. `OBS` on a rule means it held in every unedited capture.",
          ("https://github.com/vercel/ai",)),
    Entry("SDK-PY", "The official Python SDK",
          "openai-python's stream accumulator: it requires `response.created` first, appends deltas to the "
          "item at their index, asserts the content type, and reads the final response from "
          "`response.completed`. What it raises on is what a Python client of a server breaks on.",
          ("https://github.com/openai/openai-python",)),
    Entry("SDK-JS", "The official JavaScript SDK",
          "openai-node's response accumulator, the strictest client we know: it throws on unknown event types, "
          "items and parts that were never opened, an `item_id` or `output_index` that does not match, and "
          "arrays appended out of order. The bases of our checks quote its error messages.",
          ("https://github.com/openai/openai-node",)),
    Entry("WHATWG", "The server-sent events standard",
          "The HTML Living Standard's definition of server-sent events: how `event:`, `data:` and blank lines "
          "make an event, and that an event without its terminating blank line is discarded. The SDKs' "
          "decoders follow it.",
          ("https://html.spec.whatwg.org/multipage/server-sent-events.html",)),
    Entry("RFC 6455", "The WebSocket protocol",
          "The WebSocket standard: the opening handshake (section 4.1), text frames that must be UTF-8 "
          "(section 8.1) and close codes (section 7.4.1). WebSocket mode's framing checks rest on it.",
          ("https://www.rfc-editor.org/rfc/rfc6455",)),
    Entry("spec-notes section 6", "The event grammar",
          "Our notes on the order of events, written from OR's normative text and the SDK accumulators (OpenAI's "
          "document has none): a stream is `response.created`, optionally `queued` and `in_progress`, the items, "
          "then one terminal event; each item is `output_item.added`, its parts and deltas, `output_item.done`; "
          "each text part is `content_part.added`, deltas, `output_text.done`, `content_part.done`; tool calls "
          "and reasoning summaries have sub-grammars of the same kind.",
          ()),
    Entry("spec-notes section 7", "Where OpenAI's traffic departs from its published schema",
          "Measured by validating real OpenAI streams against the published schema: the traffic has `user` and "
          "`usage` null where the schema says string or object, leaves out "
          "`input_tokens_details.cache_write_tokens` and the `name` of `function_call_arguments.done`, sends "
          "in-progress tool items without `action`, error codes outside the declared enum and a nested `error` "
          "event where a flat one is declared. The openai profile's schemas allow exactly these; openai-strict "
          "holds the target to the document as written.",
          ()),
    Entry("H-section", "Real bugs: payload schemas",
          "The H entries below as a group: servers whose Response objects and event payloads had missing, null "
          "or mistyped required fields (a float `created_at`, stub lifecycle objects, null statuses), which "
          "strict deserialisers (Codex, Grok CLI, async-openai) refuse.",
          ()),
)

REAL_BUGS: tuple[Entry, ...] = (
    Entry("A-01", "A Responses stream made of Chat Completions chunks",
          "A router answered `POST /responses` with `stream: true` by relaying `chat.completion.chunk` frames and `[DONE]` (and, on other backends, Anthropic frames). Codex saw no terminal event, retried, and one prompt cost six billed calls.",
          ('vllm-project/semantic-router#2446', 'vllm-project/semantic-router#2438', 'vllm-project/semantic-router#3013')),
    Entry("A-02", "A chat chunk before `response.created`",
          "A gateway sent one empty Chat Completions chunk ahead of an otherwise valid Responses stream; a client that validates the first frame rejected the stream.",
          ('diegosouzapw/OmniRoute#3035',)),
    Entry("A-03", "No `event:` line, or no `type` in the data",
          "One server left out `event:` lines, another sent `event:` lines whose data had no `type` and did not nest the response under `response`; Codex gave up after its retries, and clients that dispatch on the event name saw nothing.",
          ('huggingface/responses.js#31', '7836246/cursor2api#116', '7836246/cursor2api#115')),
    Entry("A-04", "A stream without `Content-Type: text/event-stream`",
          "Streams sent with no or another content type: a Rust SSE decoder refused them, and a proxy that routes on the content type buffered the stream as a plain body.",
          ('dirge-code/dirge#722', 'ding113/claude-code-hub#1458', 'vllm-project/semantic-router#2438')),
    Entry("A-05", "`stream: true` answered with a JSON body",
          "A host ignored the `stream` flag and returned one finished Response object; the client iterated it as if it were events.",
          ('NousResearch/hermes-agent#74532', 'NousResearch/hermes-agent#75852', 'diegosouzapw/OmniRoute#13129')),
    Entry("A-07", "Two JSON objects in one SSE event",
          "A proxy appended a synthetic error event before the previous event's blank line, so one `data` held two objects and clients failed to parse it.",
          ('Wei-Shaw/sub2api#1471',)),
    Entry("A-09", "`data: null` in the middle of a stream",
          "A gateway injected `data: null` (seen on the Chat path); the client aborted the whole step. Every payload must be one JSON object.",
          ('anomalyco/opencode#50314',)),
    Entry("A-10", "Proxies that inject their own event types",
          "Proxies forwarded or invented event types (`codex.rate_limits`, pings and the like), sometimes before `response.created`; strict clients reject variants they do not know.",
          ('router-for-me/CLIProxyAPI#6007', 'Soju06/codex-lb#639', 'Menci/Floway#318')),
    Entry("A-11", "`data: [DONE]` at the end of a Responses stream",
          "OpenAI's Responses streams end with the terminal event and no `[DONE]`; some proxies add it, and parsers that expect one JSON object per frame fail on it. The official SDKs tolerate it; the Open Responses spec requires it.",
          ('decolua/9router#1648', 'decolua/9router#2142', 'QuantumNous/new-api#6682')),
    Entry("B-01", "`response.output_text.done` never sent",
          "A server closed the part and the item without `output_text.done`; found by comparing its events with real OpenAI sequences. Clients that finalise text on `.done` never do.",
          ('ogx-ai/ogx#5309', 'ogx-ai/ogx#5308')),
    Entry("B-02", "`response.completed` before `response.created`",
          "A proxy emitted the terminal event ahead of the creation event for one model; the SDKs refuse any event before `response.created`.",
          ('BerriAI/litellm#9545',)),
    Entry("B-03", "A stream that opens with tool-listing events and never ends properly",
          "A gateway swallowed an upstream 400, answered HTTP 200, streamed MCP listing events and `[DONE]`: no `response.created`, no error, no terminal event.",
          ('BerriAI/litellm#32561',)),
    Entry("B-04", "A text delta for an item never announced",
          "After a reasoning item, a bridge streamed the answer's deltas under an item id that no `output_item.added` or `content_part.added` had opened; clients failed only on those turns, so it looked intermittent.",
          ('BerriAI/litellm#41185',)),
    Entry("B-05", "An item closed that was never opened",
          "`output_item.done` and the part and text `.done` events arrived for an id with no `added` events and no deltas.",
          ('BerriAI/litellm#37852',)),
    Entry("B-06", "A function call never closed",
          "A router went from `function_call_arguments.done` straight to `response.completed`, without the call's `output_item.done`, and the final output held an empty message instead of the call.",
          ('sgl-project/sglang#12652',)),
    Entry("B-08", "Reasoning items with message part events",
          "A server opened reasoning content with `content_part.added` instead of the reasoning part events and never closed it; the SDKs check that events fit the item's type.",
          ('vllm-project/vllm#35184',)),
    Entry("B-09", "Deltas before their part or item exists",
          "Reasoning summary deltas arrived before the summary part was added (an intermittent 500 in an adapter); deltas before any open item could crash the Codex CLI.",
          ('epam/ai-dial-adapter-openai#494', 'openai/codex#16803', 'openai/codex#16801')),
    Entry("B-10", "A stream that stops without a terminal event",
          "Servers closed HTTP 200 streams cleanly in the middle of the answer, with no completed, incomplete or failed event; Codex reports \"stream closed before response.completed\" and retries.",
          ('ollama/ollama#17118', 'ollama/ollama#14600', 'looplj/axonhub#2365')),
    Entry("B-11", "Failures and truncation sent as `response.completed`",
          "Provider errors and `max_tokens` truncation were reported as completed responses; clients did not retry and lost the truncation signal.",
          ('RakuenSoftware/aimee#647', 'vllm-project/vllm#38190', 'Arthur-Ficial/apfel#412')),
    Entry("B-12", "A terminal event named `response.done`",
          "An upstream ended streams with `response.done`; proxies that only know `response.completed` turned it into a failure.",
          ('can1357/oh-my-pi#4692', 'decolua/9router#2142')),
    Entry("B-13", "Keep-alive events",
          "OpenAI itself sends an undocumented `keepalive` event on long requests, and proxies add pings; strict clients failed on the unknown variant until they learnt to skip it.",
          ('openai/openai-node#1964', 'openai/openai-node#1965', 'openai/openai-java#776')),
    Entry("B-14", "Deltas that lose text",
          "A bridge dropped the first delta: \"I'm happy to be here\" arrived as \"'m happy to be here\".",
          ('BerriAI/litellm#20097',)),
    Entry("C-01", "Events without `sequence_number`",
          "Gateways sent no `sequence_number` at all; the field is required on every streaming event and typed clients fail to deserialise the events.",
          ('onyx-dot-app/onyx#13624', 'FMXExpress/PasClaw#62')),
    Entry("C-02", "`sequence_number: 0` dropped by `omitempty`",
          "A Go gateway's `omitempty` removed the 0 of `response.created`, and its synthesised frames carried no number.",
          ('Wei-Shaw/sub2api#7128', 'Wei-Shaw/sub2api#7129', 'Wei-Shaw/sub2api#5601')),
    Entry("C-03", "Error frames without a number",
          "After an early keep-alive had committed HTTP 200, upstream errors were sent as in-band frames without `sequence_number`.",
          ('diegosouzapw/OmniRoute#13964',)),
    Entry("C-04", "A default of 0 in the middle of a stream",
          "A model default of `sequence_number = 0` serialised 0 for synthetic events mid-stream, so the numbers went backwards.",
          ('BerriAI/litellm#28899',)),
    Entry("C-05", "Gaps after a filter edits the stream",
          "Numbers stamped before a guardrail removed events left gaps (`0,1,2,3,4,24,54,...`), also on the terminal event of a cut stream.",
          ('ENTERPILOT/GoModel#953',)),
    Entry("C-06", "A hole left by dropping a numbered frame",
          "Dropping a ping after numbering would leave a hole; numbering has to happen after filtering.",
          ('Menci/Floway#318',)),
    Entry("C-07", "Synthetic error events need the next number",
          "A client SDK requires `sequence_number` and string fields on error events; a gateway fixed its synthetic errors to carry the next number.",
          ('Kilo-Org/cloud#4744',)),
    Entry("D-01", "A new `item_id` on every event of one item",
          "For one reasoning item, the added event, each summary delta and the done event all carried different ids, passed through by a proxy.",
          ('BerriAI/litellm#30071',)),
    Entry("D-02", "An item id that changes between `added` and `done`",
          "A backend closed a reasoning item under another id than the one it opened.",
          ('Soju06/codex-lb#398',)),
    Entry("D-03", "Message ids rotated in the final output",
          "The ids in `response.completed.output` differed from those of `output_item.done`; clients that chain or match by id broke.",
          ('openclaw/openclaw#122473',)),
    Entry("D-04", "An upstream's raw id in the deltas",
          "The item was added as `msg_…` but its deltas carried the upstream provider's own id.",
          ('BerriAI/litellm#19125',)),
    Entry("D-05", "A function call with new ids in the final response",
          "The same call had one `call_id` in `output_item.done` and another in `response.completed.output` (and streamed ids differed from final ones); clients that pair calls with outputs lost them.",
          ('vllm-project/vllm#47916', 'vllm-project/vllm#56285', 'onyx-dot-app/onyx#13624')),
    Entry("D-06", "`id: null` on a function-call item",
          "A server closed function calls with a null id.",
          ('vllm-project/vllm#44608',)),
    Entry("D-08", "`output_index` starting at 1",
          "A router numbered the first output item 1; clients that address output by position missed it.",
          ('sgl-project/sglang#12644',)),
    Entry("D-09", "`content_index` not reset for a new item",
          "A message after a reasoning item started at `content_index` 1; openai-python's accumulator raised IndexError.",
          ('vllm-project/vllm#45742', 'vllm-project/vllm#45745', 'vllm-project/vllm#45889')),
    Entry("D-10", "`output_index` and `content_index` left out",
          "A server on llama.cpp omitted both indexes from its events.",
          ('lemonade-sdk/lemonade#3607',)),
    Entry("D-11", "A tool call reusing an earlier item's `output_index`",
          "A gateway used Chat `tool_calls[].index` as `output_index`, colliding with the reasoning or message item already at that index.",
          ('diegosouzapw/OmniRoute#9822', 'diegosouzapw/OmniRoute#10025')),
    Entry("D-12", "Gaps in `output_index`",
          "Indexes 0, 2, 3 because the upstream's tool indexes started at 1.",
          ('diegosouzapw/OmniRoute#12445',)),
    Entry("D-13", "Emission order and final order disagree",
          "Items were indexed in the order they were streamed but the final `output` put them in a fixed order, so index and position no longer matched.",
          ('invergent-ai/surogate#175',)),
    Entry("D-14", "Ids that do not look like OpenAI's",
          "Providers used UUIDs instead of `msg_…`; clients that replay ids to OpenAI, or validate them, were refused.",
          ('CherryHQ/cherry-studio#20940', 'NousResearch/hermes-agent#92311', 'continuedev/continue#11494')),
    Entry("E-01", "An empty final output after streamed items",
          "`response.completed` carried `output: []` although items had been streamed; clients that read the final response saw no answer.",
          ('BerriAI/litellm#41009', 'BerriAI/litellm#41014', 'BerriAI/litellm#31332')),
    Entry("E-02", "`output` missing or null on lifecycle events",
          "Backends sent snapshots and terminal events with `output` null or absent; clients crashed or lost the answer.",
          ('NousResearch/hermes-agent#32914', 'NousResearch/hermes-agent#32954', 'NousResearch/hermes-agent#11179')),
    Entry("E-03", "Streamed and non-streamed answers disagree",
          "A server's streamed items differed from its non-streamed ones (status, stray fields, a missing arguments `.done`).",
          ('vllm-project/vllm#56285',)),
    Entry("E-04", "Deltas that lose or duplicate text",
          "The same bridge bug as B-14, seen from the consistency side: the joined deltas are not the final text.",
          ('BerriAI/litellm#20097',)),
    Entry("E-05", "`output_item.done` with `content: null`",
          "Some OpenAI-compatible servers closed messages with null content, which crashed a client mid-stream.",
          ('openclaw/openclaw#109615',)),
    Entry("F-01", "Null usage counters",
          "A server sent `cached_tokens: null` and `reasoning_tokens: null`; Codex failed with \"invalid type: null, expected i64\".",
          ('NVIDIA-NeMo/Gym#3313',)),
    Entry("F-02", "Missing `reasoning_tokens`",
          "A gateway left `reasoning_tokens` out of the usage details.",
          ('QuantumNous/new-api#6682',)),
    Entry("F-03", "Missing usage detail objects",
          "Several servers left out `input_tokens_details` and `output_tokens_details`, which broke usage tracing in a gateway and typed clients.",
          ('jundot/omlx#1008', 'agentgateway/agentgateway#1686', 'exo-explore/exo#1885')),
    Entry("F-04", "`total_tokens` undercounted; cached input not in `input_tokens`",
          "A gateway reported only the uncached input, left out the details and trusted an undercounted total. OpenAI's `input_tokens` includes cached tokens and `total_tokens` is input plus output.",
          ('openclaw/openclaw#117532',)),
    Entry("F-05", "Reasoning tokens counted as input; cache subtracted",
          "A proxy added thinking tokens to `input_tokens` and subtracted cached tokens, so identical requests reported different inputs.",
          ('router-for-me/CLIProxyAPI#1643',)),
    Entry("F-06", "Reasoning tokens lost in translation",
          "A Chat-to-Responses bridge dropped the reasoning token count.",
          ('BerriAI/litellm#31770',)),
    Entry("F-07", "All-zero usage",
          "Servers reported zero tokens for requests that had input and output.",
          ('vllm-project/vllm#24184', 'mudler/LocalAGI#445')),
    Entry("F-08", "`response.completed` sent before the usage arrived",
          "A translator finished the response at the finish reason; the usage came in a later chunk and was lost, so clients showed an empty context.",
          ('decolua/9router#3297', 'decolua/9router#2880')),
    Entry("F-09", "Usage only on some terminal events, or null",
          "A gateway carried usage on completed responses only, and had a latent crash on `response.completed` without usage from non-compliant backends.",
          ('envoyproxy/ai-gateway#2184',)),
    Entry("G-01", "HTTP 200 first, failure after",
          "Errors known before the first byte (a bad request, a refused upstream) were sent as a 200 stream with an error event, or nothing; clients reported an empty or malformed response instead of the error.",
          ('BerriAI/litellm#32561', 'headroomlabs-ai/headroom#3083', 'QuantumNous/new-api#3142')),
    Entry("G-02", "`response.failed` with a null `response.error`",
          "A provider put its error in an ad-hoc top-level field and left `response.error` null; Codex showed no usable message.",
          ('openai/codex#24973',)),
    Entry("G-03", "Error event shapes: flat, nested, missing `type`",
          "The documented error event is flat, OpenAI's traffic nests it, and servers sent other shapes (no `type`, `code: null` where a string was expected) that typed clients rejected.",
          ('stdapi-ai/stdapi.ai#294', 'vercel/ai#14932', 'vercel/ai#21360')),
    Entry("G-04", "An HTTP error envelope sent as a stream event",
          "A server streamed `{\"error\": {...}}`, the HTTP body format, instead of an `error` event.",
          ('ogx-ai/ogx#5224',)),
    Entry("G-05", "An error written as raw text in the stream",
          "Servers wrote `data: error: …` or a backend's error body without `data:` after HTTP 200; clients failed to parse it.",
          ('lucasjinreal/Crane#121', 'lemonade-sdk/lemonade#2975', 'lemonade-sdk/lemonade#2826')),
    Entry("G-07", "A null error object in a failure payload",
          "Codex failed with \"invalid type: null, expected struct Error\" on a payload whose error member was null.",
          ('openai/codex#6710', 'openai/codex#6732')),
    Entry("G-08", "An empty body with HTTP 400",
          "An empty error body left clients unable to tell an invalid request from a context overflow.",
          ('openai/codex#32889',)),
    Entry("G-11", "Clients drop failures that are not signalled properly",
          "Client libraries ignored `error` and `response.failed` events they did not expect; servers that use them as documented (error, then failed) are read correctly.",
          ('langchain-ai/langchain#39039', 'langchain-ai/langchain#39041', 'earendil-works/pi#551')),
    Entry("G-12", "Empty or zombie 200 streams",
          "Providers answered 200 with an SSE stream that carried nothing useful and never ended properly.",
          ('diegosouzapw/OmniRoute#1846', 'tingly-dev/tingly-box#1317')),
    Entry("G-13", "`{\"detail\": \"...\"}` errors forwarded as they are",
          "Proxies passed on a backend's `{\"detail\": ...}` bodies instead of OpenAI's `{\"error\": {...}}` envelope; SDKs read `error` and find nothing.",
          ('icebear0828/codex-proxy#30', 'openai/codex#3224')),
    Entry("H-04", "A stub response on `response.created`",
          "Lifecycle events carried a minimal response object without `created_at`, `model` and other required fields.",
          ('ggml-org/llama.cpp#21174',)),
    Entry("H-05", "Lifecycle events and items missing required fields",
          "A gateway's `response.in_progress` lacked `output`, `background` and `error`, and its items had no `status`.",
          ('diegosouzapw/OmniRoute#13964',)),
    Entry("H-06", "`status: null` on function-call items",
          "A server closed function calls with a null status; a typed client needs it.",
          ('vllm-project/vllm#46940',)),
    Entry("H-07", "A non-streamed object with wrong types and placeholders",
          "A server returned a bare UUID as id, empty strings for enums, null annotations and zero usage (and echoed the prompt).",
          ('mudler/LocalAGI#445',)),
    Entry("H-09", "Truncation reported as `completed`",
          "Servers answered a response cut by the token limit with status `completed`; a client took an empty message as a finished answer.",
          ('jundot/omlx#2817', 'vllm-project/vllm#24184', 'vllm-project/vllm#24561')),
    Entry("I-01", "`store` on by default, `store: true` refused",
          "A server refused the default `store: true` with 501 unless configured, which also switched off background, cancel and `previous_response_id`.",
          ('vllm-project/vllm#22137',)),
    Entry("I-02", "Streamed responses not stored",
          "Non-streamed and background responses were stored, streamed ones were not: GET returned 404.",
          ('EricLBuehler/mistral.rs#1946',)),
    Entry("I-03", "`store: true` accepted, nothing stored",
          "A host returned a response id but could not retrieve it, and `previous_response_id` failed.",
          ('digitalocean/gradient-python#96',)),
    Entry("I-04", "`previous_response_id` accepted and ignored",
          "A server took the parameter and answered without the earlier turns.",
          ('Blaizzy/mlx-vlm#1046',)),
    Entry("I-06", "Response ids that cannot be used again",
          "A proxy returned raw provider ids on streams and encoded ones otherwise, so streamed ids failed as `previous_response_id`; retrieving a response returned another id.",
          ('BerriAI/litellm#13396', 'BerriAI/litellm#17204', 'BerriAI/litellm#32031')),
    Entry("I-07", "Resume answered with an empty 200",
          "A proxy answered `GET …?stream=true&starting_after=N` with an empty 200.",
          ('BerriAI/litellm#26671',)),
    Entry("I-08", "Resume and replay with gaps",
          "A server did not support `starting_after`, another began a replay at the wrong number; the SDKs resume from the last number they saw.",
          ('exo-explore/exo#1356', 'SamSaffron/term-llm#878', 'openai/openai-node#1983')),
    Entry("I-09", "Cancel refusing a finished background response for the wrong reason",
          "A server called a finished background response \"synchronous\" when asked to cancel it.",
          ('vllm-project/vllm#57999',)),
    Entry("I-10", "Cancel accepted for a foreground response",
          "A server answered 200 with the unchanged completed response when asked to cancel a response that was not a background one.",
          ('sgl-project/sglang#38002',)),
    Entry("I-11", "A queued background response labelled incomplete",
          "A server reported a queued background response with `response.incomplete`.",
          ('RESMP-DEV/ccr-rust#25',)),
    Entry("I-13", "Proxies that break the `previous_response_id` chain",
          "Bridges sent `previous_response_id: null` on later turns or dropped it, so tool outputs no longer found their calls.",
          ('router-for-me/CLIProxyAPI#2596', 'can1357/oh-my-pi#11026', 'icebear0828/codex-proxy#30')),
    Entry("I-14", "Missing GET and DELETE routes, wrong DELETE body",
          "Proxies lacked the retrieve and delete routes (a generic 404) or invented a DELETE body; OpenAI answers `{id, object: \"response.deleted\", deleted: true}`.",
          ('suhaibbinyounis/github-copilot-api-vscode#105', 'praxis-proxy/ai#415', 'doublewordai/control-layer#1084')),
    Entry("J-02", "Tool calls streamed as text",
          "A server streamed the model's raw tool-call markup as text deltas instead of a `function_call` item; every agent loop broke.",
          ('vllm-project/vllm#36435', 'vllm-project/vllm#29725', 'vllm-project/vllm#36445')),
    Entry("J-03", "A function call without `output_item.done`",
          "The function-call side of B-06: the call is never closed and the final output is wrong.",
          ('sgl-project/sglang#12652',)),
    Entry("J-05", "`function_call_arguments.done` unlike the joined deltas",
          "A provider sent corrected JSON in `.done` that was not the concatenation of its deltas; the client aborted the turn.",
          ('MoonshotAI/kimi-code#1455',)),
    Entry("J-06", "Arguments only in `.done`",
          "A model streamed a call's arguments in `.done` without deltas; translators that only read deltas sent `{}` and agents looped.",
          ('tailcallhq/forgecode#2558', 'BerriAI/litellm#27792', 'BerriAI/litellm#27144')),
    Entry("J-07", "Parallel calls sharing an index, arguments merged",
          "Bridges gave every call index 0 or concatenated the arguments of parallel calls (`{…}{…}`).",
          ('BerriAI/litellm#21337', 'BerriAI/litellm#21331', 'mcowger/plexus#691')),
    Entry("J-10", "Arguments as a JSON object instead of a string",
          "A server sent the arguments as an object (seen on the Chat path); clients expect a JSON string.",
          ('ggml-org/llama.cpp#20198', 'ggml-org/llama.cpp#20202')),
    Entry("L-01", "`text.format` accepted and ignored",
          "A server took a `json_schema` request and returned prose with HTTP 200.",
          ('unslothai/unsloth#8846',)),
    Entry("L-02", "A proxy that strips `text.format`",
          "Proxies dropped the format on the way; the echoed request showed plain text and the answer broke the schema.",
          ('BerriAI/litellm#40965', 'BerriAI/litellm#37276', 'decolua/9router#2073')),
    Entry("L-05", "Truncated structured output must be `incomplete`",
          "The SDK parses structured output at `output_text.done`; a server that calls truncated JSON completed turns an incomplete response into a JSON error.",
          ('openai/openai-python#3263',)),
    Entry("N-01", "`[DONE]` on Responses streams",
          "OpenAI sends none; many proxies do and the SDKs tolerate it. The openai profile reports it, the Open Responses profile requires it.",
          ('UOR-Foundation/uor-r4#692', 'decolua/9router#2142')),
    Entry("N-02", "`keepalive` events",
          "OpenAI itself sends `keepalive` events on long requests, so they are allowed (schema.known_event_type accepts them).",
          ('openai/openai-node#1964',)),
    Entry("N-03", "`response.done`",
          "The Codex backend ends streams with `response.done`; the public Responses API never does, so for a public endpoint it is not a terminal event.",
          ('can1357/oh-my-pi#4692',)),
    Entry("N-04", "Empty or null `output` on terminal events",
          "The Codex backend sends terminal events with an empty or null `output`; for the public Responses API it is still a violation.",
          ('math-inc/OpenGauss#453', 'BerriAI/litellm#38719')),
    Entry("N-05", "The error event's shape",
          "Documented flat, observed nested, with `code: null` from OpenAI: both shapes and a null code are accepted, `message` is required.",
          ('stdapi-ai/stdapi.ai#294', 'vercel/ai#21360')),
    Entry("N-06", "`sequence_number` start and continuity",
          "OpenAI starts at 0 and counts up by one; Open Responses requires presence and increase. Presence and strict increase are the rules every profile holds; a start at 0 and no gaps are checked too, because gateways treat gaps as corruption (the severity per profile is in CHECKS.md).",
          ('ENTERPILOT/GoModel#953', 'SamSaffron/term-llm#878')),
    Entry("N-07", "The DELETE response body",
          "The published description has no schema for it; OpenAI returns `{id, object, deleted}` and the SDK parses JSON.",
          ('praxis-proxy/ai#415', 'openai/openai-openapi#507', 'doublewordai/control-layer#1084')),
    Entry("N-08", "A function-call item's `id`",
          "Some SDK types make a function-call item's `id` optional, so a strict check of it risks false failures (the severity per profile is in CHECKS.md).",
          ('anomalyco/opencode#45081',)),
    Entry("N-09", "Partial items at `output_item.added`",
          "OpenAI's own items lack fields when added: `added` items are checked leniently, `done` items strictly.",
          ('openai/openai-java#561',)),
    Entry("N-10", "Arguments only in `.done`",
          "A model may send a call's arguments in `.done` without any delta (OpenAI's own spark model does): that is legal.",
          ('tailcallhq/forgecode#2558',)),
    Entry("N-11", "Reasoning summaries",
          "Reasoning summaries may be absent even from OpenAI's answers, so their absence is not a finding.",
          ('vercel/ai#17204',)),
    Entry("N-12", "Where `encrypted_content` appears",
          "OpenAI puts it on `added`/`done`, Azure only on the terminal event: a warning at most.",
          ('openclaw/openclaw#109615',)),
)

ENTRIES: dict[str, Entry] = {e.id: e for e in (*SOURCES, *REAL_BUGS)}


def anchor(entry_id: str) -> str:
    """The heading anchor of an entry in docs/evidence.md (as GitHub makes them: lower case,
    spaces to hyphens)."""
    return re.sub(r"[^a-z0-9 -]", "", entry_id.lower()).replace(" ", "-")


def ids_in(text: str) -> list[str]:
    """The basis ids a text cites, in order, once each."""
    return list(dict.fromkeys(m.group(0) for m in _ID.finditer(text or "")))


def split(text: str) -> list[tuple[str, Entry | None]]:
    """`text` cut into (piece, entry): an entry where the piece is a cited id, None elsewhere."""
    out: list[tuple[str, Entry | None]] = []
    last = 0
    for match in _ID.finditer(text or ""):
        if match.start() > last:
            out.append((text[last:match.start()], None))
        out.append((match.group(0), ENTRIES.get(match.group(0))))
        last = match.end()
    if last < len(text or ""):
        out.append((text[last:], None))
    return out


def markdown(text: str, doc: str = DOC) -> str:
    """`text` with each cited id a Markdown link to its entry (CHECKS.md's basis column)."""
    return "".join(f"[{piece}]({doc}#{entry.anchor})" if entry is not None else piece for piece, entry in split(text))


def cited() -> dict[str, list[str]]:
    """Every id the registry cites, with the checks that cite it."""
    from .engine import registry

    found: dict[str, list[str]] = {}
    for check in registry.CHECKS:
        for entry_id in ids_in(check.basis):
            found.setdefault(entry_id, []).append(check.id)
    return found


def render() -> str:
    """docs/evidence.md."""
    citing = cited()
    lines = ["# Evidence", "",
             "What the basis of each check cites (`responses-conformance checks`, [CHECKS.md](../CHECKS.md)). "
             "Generated from `suite/responses_conformance/evidence.py` by "
             "`python -m responses_conformance.evidence`; do not edit by hand.", "",
             "A basis names where a rule comes from (a source below) and the real bugs it would have caught "
             "(by id). The real bugs were found in public issue and pull-request threads of the projects named; "
             "each entry links them. We did not reproduce them; the threads say what happened.", "",
             "## Sources", ""]
    for entry in SOURCES:
        lines += _entry(entry, citing)
    lines += ["## Real bugs", "",
              "By category: A framing and transport, B event grammar, C sequence numbers, D ids and indexes, "
              "E streamed versus final, F usage, G errors, H payload schemas, I stored state, J tools, "
              "L structured output, N where a strict check would be wrong.", ""]
    for entry in REAL_BUGS:
        lines += _entry(entry, citing)
    return "\n".join(lines)


def _entry(entry: Entry, citing: dict[str, list[str]]) -> list[str]:
    lines = [f"### {entry.id}", "", f"**{entry.title}.** {entry.text}", ""]
    if entry.links:
        lines += ["Threads and sources: " + ", ".join(f"[{label}]({url})" for label, url in entry.urls()), ""]
    checks = citing.get(entry.id)
    if checks:
        lines += ["Cited by " + ", ".join(f"`{c}`" for c in checks) + ".", ""]
    return lines


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
