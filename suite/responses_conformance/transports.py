"""The transports a scenario step goes over: HTTP (and server-sent events) and WebSocket mode.

Each transport sends one step, feeds what comes back to its sans-IO judge (the engine's
ExchangeChecker for HTTP, StepJudge for WebSocket), writes the transcript, and says whether the
answer was a clean refusal of what the step asked for. The runner schedules the steps of a
scenario and decides what an answer means for it (unsupported, not applicable, could not test);
it knows no transport. A new transport is one class here with `run` and `refused`, and its judge
in the engine.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from . import ws
from .engine.assertions import StepView
from .engine.checker import parse_json
from .engine.exchange import ExchangeChecker
from .engine.sse import SseDecoder, SseEvent, WireNote
from .engine.violations import Violation
from .http import Exchange, StopReading, _check_api_key, run_exchange
from .scenarios import Scenario, Step, render
from .transcript import curl_command, write_transcript, write_ws_transcript

__all__ = ["END_REASONS", "WS_END_REASONS", "REFUSAL_STATUSES", "HttpTransport", "StepResult", "WebSocketTransport",
           "answer_kinds", "internal_error", "transcript_events"]

# A clean refusal of an optional feature: OpenAI's statuses for a request it will not serve.
# 401/403 (the key), 408 (a timeout), 429 (rate limits) and 409 (a conflict of state) never are.
REFUSAL_STATUSES = frozenset({400, 404, 405, 422, 501})

# How a target that did not let us finish is described (end reasons of http.Exchange).
END_REASONS = {
    "deadline": "the exchange ran past its total time limit",
    "idle": "the target stopped sending",
    "too_large": "the body exceeded the size limit",
    "too_many_events": "the stream exceeded the event limit",
    "connect_error": "the target could not be reached",
    "tls_error": "the TLS handshake failed (certificate not verified, or no TLS at all; "
                 "--insecure skips verification)",
    "protocol_error": "the connection broke, or what came was not valid HTTP",
    "redirect": "the target answered with a redirect, which is not followed",
}


# The same, said of a WebSocket step (the frames of one or more responses on a connection).
WS_END_REASONS = {
    **END_REASONS,
    "deadline": "the step ran past its total time limit",
    "too_large": "the frames exceeded the size limit",
    "too_many_events": "the frames exceeded the event limit",
    "protocol_error": "the connection broke, or what came was not a valid WebSocket exchange",
}


@dataclass
class StepResult:
    step: Step
    exchange: Exchange | None = None
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None
    events: int = 0
    final_response: dict | None = None
    body_json: Any = None
    decoded_events: list[dict] = field(default_factory=list)
    request_json: Any = None
    transcript: dict[str, Path] = field(default_factory=dict)
    curl: str | None = None
    state: Any = None  # what the transport keeps for `refused` (WebSocket: the outcome and the judge)
    context: dict[str, Any] = field(default_factory=dict)  # websocket: `responses` and `errors` for references
    # The kinds of exchange (registry.KIND_TABLE) the target's answer was judged as (HTTP:
    # answer_kinds; WebSocket: StepJudge.answer); None where the transport does not say.
    answer: tuple[str, ...] | None = None

    def view(self) -> StepView:
        return StepView(name=self.step.name, request=self.request_json,
                        status=self.exchange.status if self.exchange is not None else None,
                        body=self.body_json, response=self.final_response, events=self.decoded_events)


MAX_TRANSCRIPT_EVENTS = 10_000


def transcript_events(exchange: Exchange) -> list[Any]:
    """The events of a streamed body, decoded again from the (redacted) bytes kept.

    The checker keeps no event list (its memory must not grow with the stream); the body is
    already bounded by the byte limit, and so is this list.
    """
    events: list[Any] = []
    decoder = SseDecoder()
    body = exchange.body
    # Fed in slices and stopped at the cap: a body of a million tiny events must not become a
    # list of a million decoded events first.
    def batches() -> Iterator[list[SseEvent | WireNote]]:
        for start in range(0, len(body), 64 * 1024):
            yield decoder.feed(body[start:start + 64 * 1024])
        yield decoder.close()

    for items in batches():
        for item in items:
            if isinstance(item, SseEvent):
                if len(events) >= MAX_TRANSCRIPT_EVENTS:
                    events.append({"truncated": f"more than {MAX_TRANSCRIPT_EVENTS} events"})
                    return events
                ok, payload = parse_json(item.data)
                events.append({"index": item.index, "event": item.event, "data": payload if ok else item.data})
    return events


def answer_kinds(status: int | None, checker: ExchangeChecker, *, fidelity: bool = False) -> tuple[str, ...]:
    """The kinds of exchange (registry.KIND_TABLE) an HTTP answer was judged as, whatever the
    step asked for (registry.judged_by counts a check judged only on an answer of a kind it
    applies to): `stream`, an HTTP 200 the checker read as server-sent events; `response`, an
    HTTP 200 JSON body; `error`, an HTTP 4xx or 5xx; none of them for no answer or any other
    (a body neither JSON nor events). `upstream` where fidelity was judged (`fidelity`)."""
    if status is None:
        kinds: tuple[str, ...] = ()
    elif checker.stream is not None:
        kinds = ("stream",)
    elif status == 200 and checker.body_json is not None:
        kinds = ("response",)
    elif status >= 400:
        kinds = ("error",)
    else:
        kinds = ()
    return kinds + (("upstream",) if fidelity else ())


def internal_error(exc: BaseException) -> str:
    what = " ".join(str(exc).split())[:200]
    return (f"internal error in responses-conformance (a bug of ours, not the target's; please report it "
            f"with the transcript): {type(exc).__name__}{': ' + what if what else ''}")


class Sink:
    """Feeds the checker for run_exchange, and enforces what only the checker can count.

    - The event limit: the body is fed in slices, and after each one the events checked so far
      are counted; past `max_events` the exchange stops (StopReading). A slice holds at most a
      few thousand events, so the checker never runs far past the limit, even when a gzip body
      inflates to megabytes in one chunk.
    - Robustness: an exception from the checker is a bug of ours, not the target's. It must not
      become a traceback over every item of the scenario; it is kept (with its traceback, for
      the transcript), the checker gets nothing more, and the scenario is reported as errored.
    """

    SLICE = 16 * 1024

    def __init__(self, checker: ExchangeChecker, max_events: int) -> None:
        self.checker = checker
        self.max_events = max_events
        self.crash: BaseException | None = None
        self.crash_trace: str | None = None

    def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self._guard(self.checker.head, status, headers)

    def body(self, chunk: bytes) -> None:
        for start in range(0, len(chunk), self.SLICE):
            if self.crash is not None:
                return
            self._guard(self.checker.body, chunk[start:start + self.SLICE])
            if self.checker.events > self.max_events:
                raise StopReading("too_many_events",
                                  f"more than {self.max_events} events (event limit, --max-events)")

    def close(self) -> list[Violation]:
        if self.crash is None:
            self._guard(self.checker.close)
        return self.checker.violations

    def _guard(self, fn: Any, *args: Any) -> None:
        if self.crash is not None:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            self.crash = exc
            self.crash_trace = traceback.format_exc(limit=20)


def refuses_one_of(param: Any, features: frozenset[str] | set[str], body: Any = None) -> bool:
    """Does a refusal's `param` concern one of these optional features? A param that names no
    part of the request body (nothing, or a path parameter such as `response_id`) is taken at
    the feature's word."""
    if not isinstance(param, str) or not param:
        return True
    root = param.split(".")[0].split("[")[0]
    if not isinstance(body, dict) or root not in body:
        return True
    from .scenarios import FEATURE_PARAMETERS

    return any(root in FEATURE_PARAMETERS.get(feature, ()) for feature in features) or all(
        not FEATURE_PARAMETERS.get(feature) for feature in features)


class HttpTransport:
    """A step as one HTTP request (repeated while it polls), judged by the ExchangeChecker."""

    name = "http"

    def __init__(self, runner: Any) -> None:  # the runner.Runner whose steps it sends
        self.runner = runner

    def run(self, scenario: Scenario, step: Step, context: dict, checks: list[str], several: bool) -> StepResult:
        """One HTTP step; a polling step is repeated until its answer's status is one it waits for."""
        deadline = time.monotonic() + (step.poll.timeout if step.poll else 0)
        while True:
            done = self._exchange(scenario, step, context, checks, several)
            if step.poll is None or done.error is not None:
                return done
            status = done.body_json.get("status") if isinstance(done.body_json, dict) else None
            if status in step.poll.until or done.exchange is None or done.exchange.status != 200:
                return done
            if time.monotonic() >= deadline:
                done.error = (f"polling: status still {status!r} after {step.poll.timeout:g} s "
                              f"(waiting for {', '.join(step.poll.until)})")
                return done
            time.sleep(step.poll.interval)

    def _exchange(self, scenario: Scenario, step: Step, context: dict, checks: list[str], several: bool) -> StepResult:
        path = render(step.path, context)
        if step.raw_body is not None:
            json_body, raw_body = None, render(step.raw_body, context).encode()
        else:
            json_body, raw_body = render(step.json_body, context), None
        prefix: list[dict] = []
        if step.expect.starting_after is not None and step.expect.resume_of:
            original = context["steps"].get(step.expect.resume_of, {}).get("events") or []
            prefix = [e for e in original
                      if isinstance(e.get("sequence_number"), int) and e["sequence_number"] <= step.expect.starting_after]
        checker = ExchangeChecker(step.expect, schemas=self.runner.schemas, profile=self.runner.profile, checks=checks, prefix=prefix)
        api_key, headers = self.runner.target.credentials(step.auth)
        sink = Sink(checker, self.runner.limits.max_events)
        journal = self.runner._journal("DELETE")
        for attempt in (1, 2):
            exchange = run_exchange(self.runner._http(), method=step.method, url=self.runner.target.base_url.rstrip("/") + path,
                                    api_key=api_key, json_body=json_body, raw_body=raw_body,
                                    extra_headers=headers or None, limits=self.runner.limits, redactor=self.runner.redactor, sink=sink)
            # A connection broken before any byte of the answer, on an idempotent request: most
            # likely a pooled keep-alive connection the server had just closed. HTTP clients retry
            # such a request once on a fresh connection; so does the suite, before it calls the
            # target untestable. Nothing reached the checker.
            if not (attempt == 1 and step.method in ("GET", "DELETE") and exchange.status is None
                    and exchange.end == "protocol_error" and exchange.bytes_received == 0):
                break
        self.runner._note_answer(scenario, exchange)
        done = StepResult(step=step, exchange=exchange, request_json=json_body)
        if exchange.completed:
            violations = sink.close()
        else:
            reason = END_REASONS.get(exchange.end, exchange.end)
            done.error = self.runner.redactor.text(f"{reason}: {exchange.error or exchange.end}")
            # What arrived before the end is still checked, so the transcript shows it.
            violations = checker.violations
        internal = None
        if sink.crash is not None:
            done.error = self.runner.redactor.text(internal_error(sink.crash))
            internal = self.runner.redactor.text(sink.crash_trace or done.error)
        # Belt and braces: the HTTP layer already redacts what the checker sees, but a message
        # may be built from several chunks.
        final = checker.final_response or checker.body_json
        # Fidelity is about a model answer: a POST /responses that finished (not a retrieve, a
        # resume or cancel, nor a background response still queued).
        generated = (step.method == "POST" and path.split("?")[0].rstrip("/").endswith("/responses")
                     and isinstance(final, dict) and final.get("status") in ("completed", "incomplete", "failed"))
        fidelity = journal is not None and exchange.status == 200 and generated
        if fidelity:
            violations = violations + self.runner._fidelity(final, checks)
        done.answer = answer_kinds(exchange.status, checker, fidelity=fidelity)
        done.violations = [self.runner._redact(replace(v, step=step.name if several else None)) for v in violations]
        done.final_response = self.runner.redactor.json(checker.final_response)
        done.body_json = self.runner.redactor.json(checker.body_json)
        done.events = checker.events
        done.curl = curl_command(exchange)
        streamed = checker.stream is not None
        events = transcript_events(exchange) if streamed else None
        done.decoded_events = [e["data"] for e in events or [] if isinstance(e.get("data"), dict)]
        name = f"{scenario.id}.{step.name}" if several else scenario.id
        done.transcript = write_transcript(
            self.runner.reports_dir / "transcripts", name, exchange,
            events=events,
            violations=[v.to_json() for v in done.violations],
            extra={"scenario": scenario.data, "step": step.name, "error": done.error, "events_checked": done.events,
                   "target": self.runner.target.base_url, "model": self.runner.target.model,
                   **({"violations_not_kept": checker.dropped} if checker.dropped else {}),
                   **({"internal_error": internal} if internal else {})},
            redactor=self.runner.redactor)
        return done

    def refused(self, scenario: Scenario, step: Step, done: StepResult, optional: frozenset[str]) -> str | None:
        """A clean refusal of one of `optional` (the step's optional features the user does not
        require): a refusal status and OpenAI's error envelope with a message. A 5xx, an HTML
        page or a malformed body is a failure. An error naming a core part of the request body
        (`input[0].type`) is a refused core shape: broken, not a missing feature."""
        status = done.exchange.status if done.exchange is not None else None
        if not optional or status not in REFUSAL_STATUSES:
            return None
        error = done.body_json.get("error") if isinstance(done.body_json, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            return None
        if not refuses_one_of(error.get("param"), optional, done.request_json):
            return None
        short = " ".join(message.split())[:160]
        return self.runner.redactor.text(f"HTTP {status}: {short}")


class WebSocketTransport:
    """A step as messages on a named WebSocket connection of the scenario, judged by StepJudge."""

    name = "websocket"

    def __init__(self, runner: Any, sockets: ws.Connections) -> None:
        self.runner = runner
        self.sockets = sockets

    def _headers(self, step: Step) -> dict[str, str]:
        """The upgrade's headers: the key as for HTTP (Authorization: Bearer, or the target's own
        header and scheme) and the target's extra headers."""
        key, headers = self.runner.target.credentials(step.auth)
        _check_api_key(key)
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def run(self, scenario: Scenario, step: Step, context: dict, checks: list[str], several: bool) -> StepResult:
        """One WebSocket step: its messages on its named connection, the answers judged."""
        sockets = self.sockets
        sends = [render(message, context) for message in step.send]
        judge = ws.StepJudge(step.expect, sent=len(sends), schemas=self.runner.schemas, checks=checks,
                             profile=self.runner.profile, error_code=step.error_code)
        headers = self._headers(step)
        outcome = sockets.run(connection=step.connection, reconnect=step.reconnect, path=render(step.path, context),
                              sends=sends, judge=judge, headers=headers)
        exchange = outcome.exchange
        self.runner._note_answer(scenario, exchange)
        done = StepResult(step=step, exchange=exchange,
                          request_json=outcome.sent[0] if len(outcome.sent) == 1 else outcome.sent)
        if exchange.completed:
            judge.finish(complete=outcome.complete)
        else:
            reason = WS_END_REASONS.get(exchange.end, exchange.end)
            done.error = self.runner.redactor.text(f"{reason}: {exchange.error or exchange.end}")
        done.state = (outcome, judge)
        done.answer = judge.answer(exchange.status)
        done.violations = [self.runner._redact(replace(v, step=step.name if several else None)) for v in judge.violations]
        first, error = judge.first_response, judge.first_error
        done.final_response = self.runner.redactor.json(first.response) if first is not None else None
        done.decoded_events = self.runner.redactor.json(first.events) if first is not None else []
        done.body_json = self.runner.redactor.json(error.error) if error is not None else None
        done.events = judge.events_checked
        done.context = {"responses": [self.runner.redactor.json(a.response) for a in judge.answers if a.kind == "response"],
                        "errors": [self.runner.redactor.json(a.error) for a in judge.answers if a.kind == "error"]}
        url = ws.ws_url(self.runner.target.base_url, render(step.path, context))
        done.curl = ws.reproduce_command(self.runner.redactor.text(url), headers, outcome.sent, redactor=self.runner.redactor)
        name = f"{scenario.id}.{step.name}" if several else scenario.id
        done.transcript = write_ws_transcript(
            self.runner.reports_dir / "transcripts", name, outcome,
            violations=[v.to_json() for v in done.violations], curl=done.curl,
            extra={"scenario": scenario.data, "step": step.name, "connection": step.connection,
                   "error": done.error, "events_checked": done.events, "target": self.runner.target.base_url,
                   "model": self.runner.target.model,
                   **({"violations_not_kept": judge.dropped} if judge.dropped else {})},
            redactor=self.runner.redactor)
        return done

    def refused(self, scenario: Scenario, step: Step, done: StepResult, optional: frozenset[str]) -> str | None:
        """A target without WebSocket mode refuses the upgrade with a 4xx: unsupported, unless
        `--require websocket`. A request for another optional feature refused with a clean
        error frame (4xx and a message) is unsupported too."""
        outcome, judge = done.state
        status = outcome.exchange.status
        if outcome.refused_upgrade and status is not None and 400 <= status < 500:
            if "websocket" in self.runner.required or "websocket" not in scenario.features:
                return None
            said = f": {outcome.upgrade_message}" if outcome.upgrade_message else ""
            return self.runner.redactor.text(f"WebSocket upgrade refused with HTTP {status}{said}")
        if not optional:
            return None
        refused = judge.refusal()
        if refused is None:
            return None
        return self.runner.redactor.text(f"error frame {refused[0]}: {' '.join(refused[1].split())[:160]}")
