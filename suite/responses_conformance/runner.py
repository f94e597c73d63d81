"""Runs scenarios against a target: one HTTP request per scenario, shared by all its checks.

The layer between the sans-IO engine and pytest: it sends the request (http.py), feeds the
bytes to an ExchangeChecker as they arrive, writes the transcript, and keeps the result for
every check item of the scenario to read.
"""
from __future__ import annotations

import json
import threading
import time

import httpx
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import preflight as preflight_mod
from . import ws
from .engine import assertions, fidelity, profiles
from .engine.assertions import StepView
from .engine.checks.consistency import shape_differences
from .engine.checker import parse_json, stamp
from .engine.exchange import ExchangeChecker
from .engine.sse import SseDecoder, SseEvent, WireNote
from .engine.violations import Finding, Severity, Violation
from .http import Exchange, Limits, StopReading, _check_api_key, make_client, run_exchange
from .redact import Redactor, header_secrets
from .results import Status
from .scenarios import CORE_FEATURES, WRONG_KEY, Scenario, Step, render
from .transcript import curl_command, safe_name, write_transcript

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


class UpstreamError(Exception):
    """The upstream reference server's journal could not be read: the scenario cannot be judged."""


@dataclass
class Target:
    base_url: str  # ends with /v1 (or whatever prefix precedes /responses)
    api_key: str | None
    model: str
    embedded: bool = False
    auth_header: str = "Authorization"  # or e.g. "api-key" (Azure-style gateways)
    auth_scheme: str = "Bearer"  # "" sends the bare key
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request
    upstream_url: str | None = None  # our reference server behind the target (a proxy), for fidelity checks

    @property
    def label(self) -> str:
        return f"{self.base_url} (embedded reference server)" if self.embedded else self.base_url

    @property
    def deterministic(self) -> bool:
        """The model's answers are scripted: the embedded reference server, or a proxy in front
        of it (--upstream-url). Only then do model-behaviour findings count."""
        return self.embedded or self.upstream_url is not None

    def credentials(self, choice: str) -> tuple[str | None, dict[str, str]]:
        """For a step's `auth` (valid, wrong, none): the key for an `Authorization: Bearer`
        header, or None with the key in the target's own header and scheme; and the headers to
        send. One place for HTTP, WebSocket and the preflight."""
        key = {"valid": self.api_key, "wrong": WRONG_KEY, "none": None}[choice]
        headers = dict(self.headers)
        if key is not None and (self.auth_header.lower() != "authorization" or self.auth_scheme != "Bearer"):
            headers[self.auth_header] = f"{self.auth_scheme} {key}".strip()
            return None, headers
        return key, headers


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
    refusal: str | None = None  # websocket: a clean refusal of the upgrade or of the request
    context: dict[str, Any] = field(default_factory=dict)  # websocket: `responses` and `errors` for references

    def view(self) -> StepView:
        return StepView(name=self.step.name, request=self.request_json,
                        status=self.exchange.status if self.exchange is not None else None,
                        body=self.body_json, response=self.final_response, events=self.decoded_events)


@dataclass
class ScenarioResult:
    scenario: Scenario
    exchange: Exchange | None = None  # the first step's
    violations: list[Violation] = field(default_factory=list)  # of every step and assertion
    error: str | None = None  # the target could not be tested: a pytest error, not a failure
    unsupported: str | None = None  # a clean refusal of an optional feature: "HTTP 400: <message>"
    not_applicable: str | None = None  # the scenario cannot say anything about this target: why
    deterministic: bool = True  # the target's model is scripted: model-behaviour findings count
    asserted: bool = False  # the scenario's assertions have run (early, when a later step could not be built)
    events: int = 0
    final_response: dict | None = None  # the first step's
    transcript: dict[str, Path] = field(default_factory=dict)  # the first step's
    curl: str | None = None
    steps: list[StepResult] = field(default_factory=list)

    def for_check(self, check_id: str) -> list[Violation]:
        return [v for v in self.violations if v.check == check_id]

    @property
    def reason(self) -> str | None:
        """Why no verdict on the scenario's rules: could not test, unsupported, not applicable."""
        if self.error is not None:
            return self.error
        if self.unsupported is not None:
            return f"unsupported ({self.unsupported})"
        return self.not_applicable

    @property
    def status(self) -> str:
        """The scenario's status in the results model, before any baseline."""
        from .results import scenario_status

        return str(scenario_status(self.outcome(), self.violations, deterministic=self.deterministic))

    def outcome(self) -> Status:
        """Before the baseline and the model-behaviour tier are applied (results.scenario_status)."""
        if self.error is not None:
            return Status.COULD_NOT_TEST
        if self.unsupported is not None:
            return Status.UNSUPPORTED
        if self.not_applicable is not None:
            return Status.NOT_APPLICABLE
        return Status.PASSED


MAX_TRANSCRIPT_EVENTS = 10_000
# A clean refusal of an optional feature: OpenAI's statuses for a request it will not serve.
# 401/403 (the key), 408 (a timeout), 429 (rate limits) and 409 (a conflict of state) never are.
REFUSAL_STATUSES = frozenset({400, 404, 405, 422, 501})


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


def _internal_error(exc: BaseException) -> str:
    what = " ".join(str(exc).split())[:200]
    return (f"internal error in responses-conformance (a bug of ours, not the target's; please report it "
            f"with the transcript): {type(exc).__name__}{': ' + what if what else ''}")


class _Sink:
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


def _reads_back_unstored(step: Step, context: dict) -> bool:
    """A GET of a response an earlier step created, whose answer did not say `store: true`."""
    if step.method != "GET":
        return False
    try:
        path = render(step.path, context).split("?")[0]
    except LookupError:
        return False
    for earlier in (context.get("steps") or {}).values():
        answer = earlier.get("response") or earlier.get("body")
        if isinstance(answer, dict) and isinstance(answer.get("id"), str) and answer["id"] and answer["id"] in path:
            return answer.get("store") is not True
    return False


def _refuses_one_of(param: Any, features: set[str], body: Any = None) -> bool:
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


class Runner:
    def __init__(self, target: Target, *, limits: Limits, reports_dir: Path, schemas: Any,
                 profile: str = "openai", concurrency: int = 8, required: frozenset[str] = frozenset()) -> None:
        self.target = target
        self.profile = profile
        self.limits = limits
        self.reports_dir = reports_dir
        self.schemas = schemas
        self.required = required
        # The key and every --header value are secrets: none may appear in any output.
        self.redactor = Redactor([target.api_key, WRONG_KEY,
                                  *(secret for name, value in target.headers for secret in header_secrets(name, value))])
        self.preflight: preflight_mod.Preflight | None = None
        # Set when a target that answered earlier stops answering: the rest is not sent.
        self._down: str | None = None
        self._last_answered: str | None = None
        self._client = None
        self._client_lock = threading.Lock()
        self._futures: dict[str, Future[ScenarioResult]] = {}
        self._pairs: dict[str, tuple[list[Violation], str | None]] = {}
        self._lock = threading.Lock()
        # Independent scenarios go out concurrently, bounded: a target that takes seconds per
        # answer must not make the suite take minutes. Steps inside a scenario stay in order.
        # With an upstream journal to read, one request at a time, so each answer is attributable.
        workers = 1 if target.upstream_url else max(1, concurrency)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scenario")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def results(self) -> dict[str, ScenarioResult]:
        return {sid: f.result() for sid, f in list(self._futures.items()) if f.done()}

    def run_preflight(self) -> preflight_mod.Preflight:
        """One plain request before any scenario (preflight.py): a setup mistake ends the run
        as "could not test" with one line, instead of failing every scenario."""
        if self.preflight is None:
            probe = preflight_mod.Probe(client=self._http(), base_url=self.target.base_url, model=self.target.model,
                                        limits=self.limits, redactor=self.redactor, auth=self.target.credentials,
                                        has_key=bool(self.target.api_key), wrong_key=WRONG_KEY)
            self.preflight = probe.run()
            first = self.preflight.first
            if first is not None and first.status is not None:
                # The evidence for the cause, beside the scenarios' transcripts.
                write_transcript(self.reports_dir / "transcripts", "preflight", first,
                                 extra={"preflight": self.preflight.to_json(), "target": self.target.base_url,
                                        "model": self.target.model}, redactor=self.redactor)
        return self.preflight

    def prefetch(self, scenarios: Iterable[Scenario]) -> None:
        """Start every scenario now; `result` then only waits for its own. A scenario compared
        with a twin (compare_shape_with) brings its twin along."""
        from .scenarios import load_all

        by_id = {s.id: s for s in load_all()}
        for scenario in scenarios:
            self._submit(scenario)
            if scenario.compare_shape_with in by_id:
                self._submit(by_id[scenario.compare_shape_with])

    def result(self, scenario: Scenario) -> ScenarioResult:
        return self._submit(scenario).result()

    def _submit(self, scenario: Scenario) -> Future[ScenarioResult]:
        with self._lock:
            future = self._futures.get(scenario.id)
            if future is None:
                future = self._futures[scenario.id] = self._pool.submit(self._run, scenario)
            return future

    def pair(self, scenario: Scenario) -> tuple[list[Violation], str | None]:
        """consistency.nonstream_matches_stream: the scenario's final response compared with its
        streamed twin's (waiting for both). Judged once per scenario, here and not in a pytest
        item, so that results.json does not depend on which items ran. Returns the violations,
        or why the shapes could not be compared."""
        with self._lock:
            known = self._pairs.get(scenario.id)
        if known is not None:
            return known
        from .scenarios import load_all

        twin = next(s for s in load_all() if s.id == scenario.compare_shape_with)
        mine, other = self.result(scenario), self.result(twin)
        if mine.final_response is None or other.final_response is None:
            judged: tuple[list[Violation], str | None] = (
                [], f"no final response from {'this scenario' if mine.final_response is None else twin.id}")
        else:
            problems = shape_differences(other.final_response, mine.final_response)
            judged = (stamp([Finding("consistency.nonstream_matches_stream", problem, "$") for problem in problems],
                            self.profile), None)
        with self._lock:
            self._pairs[scenario.id] = judged
        return judged

    def pair_violations(self) -> dict[str, list[Violation]]:
        """The pair findings of every finished scenario whose twin has finished too."""
        done = self.results
        return {sid: self.pair(result.scenario)[0] for sid, result in done.items()
                if result.scenario.compare_shape_with in done}

    def _redact(self, violation: Violation) -> Violation:
        return replace(violation, message=self.redactor.text(violation.message),
                       excerpt=self.redactor.text(violation.excerpt) if violation.excerpt else violation.excerpt)

    def _journal(self, method: str) -> list[dict] | None:
        """The upstream reference server's journal (GET), or clear it (DELETE) before a request."""
        if self.target.upstream_url is None:
            return None
        origin = self.target.upstream_url.rstrip("/")
        origin = origin[: -len("/v1")] if origin.endswith("/v1") else origin
        url = origin + "/_reference/journal"
        try:
            answer = self._http().request(method, url)
            answer.raise_for_status()
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamError(f"cannot read the upstream journal at {url} (is --upstream-url our reference "
                                f"server?): {' '.join(str(exc).split())[:160]}") from None
        return body if isinstance(body, list) else []

    def _fidelity(self, final: Any, checks: list[str]) -> list[Violation]:
        entries = self._journal("GET") or []
        return stamp(fidelity.check(final, entries), self.profile, checks)

    def _http(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = make_client(self.limits)
            return self._client

    # -- one scenario -----------------------------------------------------------------------
    def _run(self, scenario: Scenario) -> ScenarioResult:
        """One scenario; never raises. An exception here is a bug of ours: the scenario is then
        errored with a line that says so (not a traceback on each of its items, and never a
        verdict), and the traceback goes to a file next to the transcripts."""
        try:
            return self._run_scenario(scenario)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            trace = self.redactor.text(traceback.format_exc(limit=30))
            where = self.reports_dir / "transcripts" / f"{safe_name(scenario.id)}.internal-error.txt"
            try:
                where.parent.mkdir(parents=True, exist_ok=True)
                where.write_text(trace, encoding="utf-8")
            except OSError:
                pass
            return ScenarioResult(scenario=scenario, error=self.redactor.text(_internal_error(exc)))

    def _run_scenario(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario=scenario, deterministic=self.target.deterministic)
        if self._down is not None:
            result.error = self._down
            return result
        checks_keys = any(step.auth != "valid" for step in scenario.steps)
        if checks_keys and self.preflight is not None and self.preflight.auth_enforced is False:
            result.not_applicable = ("not applicable: the target does not check API keys (it answered a request "
                                     "without a valid key)")
            return result
        context: dict[str, Any] = {"model": self.target.model, "steps": {}}
        checks = [c.id for c in scenario.checks(self.profile, upstream=self.target.upstream_url is not None)]
        several = len(scenario.steps) > 1
        with ws.Connections(limits=self.limits, redactor=self.redactor, base_url=self.target.base_url) as sockets:
            self._run_steps(scenario, result, context, checks, several, sockets)
        first = result.steps[0] if result.steps else None
        if first is not None:
            result.exchange, result.final_response = first.exchange, first.final_response
            result.events, result.transcript, result.curl = first.events, first.transcript, first.curl
        if result.error is None and result.unsupported is None and not result.asserted:
            result.violations += self._assertions(scenario, result)
        return result

    def _run_steps(self, scenario: Scenario, result: ScenarioResult, context: dict[str, Any], checks: list[str],
                   several: bool, sockets: ws.Connections) -> None:
        for step in scenario.steps:
            try:
                if step.websocket:
                    done = self._ws_exchange(scenario, step, context, checks, several, sockets)
                else:
                    done = self._run_step(scenario, step, context, checks, several)
            except UpstreamError as exc:
                result.error = self.redactor.text(str(exc))
                break
            except LookupError as exc:
                # A later step needs what an earlier answer lacks. When that answer broke a MUST
                # rule (its own checks, or the assertions on the steps that did run, e.g.
                # schema.compaction on a refused compact step), the scenario has its verdict;
                # otherwise it could not be carried out.
                if not any(v.severity is Severity.MUST for v in result.violations):
                    found = self._assertions(scenario, result)
                    if any(v.severity is Severity.MUST for v in found):
                        result.violations += found
                        result.asserted = True
                    else:
                        result.error = (f"step {step.name} refers to {exc.args[0]!r}, which the earlier answers "
                                        "did not contain")
                break
            result.steps.append(done)
            blocked = self._blocked(step, done)
            if blocked is not None:
                result.error = blocked
                break
            context["steps"][step.name] = {"status": done.exchange.status if done.exchange else None,
                                           "body": done.body_json, "response": done.final_response,
                                           "events": done.decoded_events, "request": done.request_json,
                                           **done.context}
            refusal = self._refusal(scenario, step, done, context)
            if refusal is not None:
                late = self._finished_before_cancel(step, context)
                if late is not None:
                    result.not_applicable = late
                else:
                    result.unsupported = refusal
                break
            ignored = self._trigger_ignored(step, done)
            if ignored is not None:
                result.not_applicable = ignored
                break
            result.violations += done.violations
            if done.error is not None:
                if self._down is not None:
                    result.error = self._down
                else:
                    result.error = f"step {step.name}: {done.error}" if several else done.error
                break

    @staticmethod
    def _trigger_ignored(step: Step, done: StepResult) -> str | None:
        """A scripted trigger only the reference model understands, not honoured: the step's
        response ended as an ordinary one, so the scenario cannot test what it is about."""
        status = done.final_response.get("status") if isinstance(done.final_response, dict) else None
        if step.trigger is None or status is None or status == step.trigger:
            return None
        return (f"not applicable: step {step.name} relies on a trigger of the reference model that this target "
                f"does not honour (its response ended {status!r}, not {step.trigger!r})")

    def _blocked(self, step: Step, done: StepResult) -> str | None:
        """A status that names a setup problem or a passing state of the target, on a step that
        did not ask for it: the step could not be tested; it says nothing of the protocol."""
        exchange = done.exchange
        status = exchange.status if exchange is not None else None
        if status is None or status not in preflight_mod.SETUP_STATUSES:
            return None
        if step.expect.kind == "error" and status in step.expect.statuses:
            return None
        if status in (401, 403) and step.auth != "valid":
            return None  # a key scenario: judged by its own checks
        if status in (401, 403) and self.preflight is not None and self.preflight.auth_enforced is False:
            return None  # a target that checks no keys refuses for another reason (e.g. no WebSocket route)
        error = done.body_json.get("error") if isinstance(done.body_json, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        said = f"HTTP {status}" + (f": {' '.join(str(message).split())[:160]}" if message else "")
        what = {"key": "the target refused the key for this request, though it accepted it for the preflight "
                       "request (a key without access to this feature or model?)",
                "rate": "the target is rate limiting: lower --concurrency, or try again later",
                "timeout": "the target gave up on the request (request timeout)"}[
            preflight_mod.SETUP_STATUSES[status]]
        return self.redactor.text(f"{what} ({said})")

    def _finished_before_cancel(self, step: Step, context: dict) -> str | None:
        """A cancel refused because the response had already finished lost a race; it says
        nothing about whether the target can cancel."""
        path = render(step.path, context).split("?")[0].rstrip("/")
        if step.method != "POST" or not path.endswith("/cancel"):
            return None
        api_key, headers = self.target.credentials(step.auth)
        exchange = run_exchange(self._http(), method="GET", url=self.target.base_url.rstrip("/") + path[:-len("/cancel")],
                                api_key=api_key, extra_headers=headers or None, limits=self.limits,
                                redactor=self.redactor)
        try:
            body = json.loads(exchange.body) if exchange.status == 200 else None
        except ValueError:
            body = None
        status = body.get("status") if isinstance(body, dict) else None
        if status in ("completed", "incomplete", "failed"):
            return (f"not tested: the response was already {status} when the cancel arrived (a race the target "
                    "won; a slower model or a longer task would let the cancel be judged)")
        return None

    def _assertions(self, scenario: Scenario, result: ScenarioResult) -> list[Violation]:
        chosen = profiles.get(self.profile)
        views = {done.step.name: done.view() for done in result.steps}
        found: list[Finding] = []
        for entry in scenario.asserts:
            args = {k: v for k, v in entry.items() if k != "check"}
            if not chosen.enabled(entry["check"]):
                continue
            missing = [v for k, v in args.items() if isinstance(v, str) and k in assertions.STEP_PARAMETERS and v not in views]
            if missing:
                continue  # the scenario stopped before that step, on a broken rule already reported
            why_not = assertions.inconclusive(entry["check"], views, args)
            if why_not is not None:
                # The scenario tested nothing on this target (a cancel that found the response
                # already completed): not a pass, not a failure.
                result.not_applicable = f"not tested: {why_not}"
                continue
            found += assertions.run(entry["check"], views, args)
        return [self._redact(v) for v in stamp(found, chosen)]

    def _refusal(self, scenario: Scenario, step: Step, done: StepResult, context: dict | None = None) -> str | None:
        """A clean 4xx to a request for an optional feature means "unsupported", not "broken".

        Clean: a 4xx status and OpenAI's error envelope with a message. A 5xx, an HTML page or a
        malformed body is a failure, and so is any refusal of a feature the user requires.
        """
        if step.websocket:
            return done.refusal
        # The first step stands for the scenario's features; a later step may be refused only for
        # the features it declares (resume, delete, input_items, cancel): a GET of a response the
        # target just stored answered 404 is broken (I-02), not unsupported.
        declared = step.features or (scenario.features if step is scenario.steps[0] else ())
        if not declared and "state" in scenario.features and _reads_back_unstored(step, context or {}):
            # ... unless the target never said it stored it: an answer without `store: true`
            # makes reading it back a request for a feature the target may not have.
            declared = ("state",)
        optional = set(declared) - CORE_FEATURES
        status = done.exchange.status if done.exchange is not None else None
        if not optional or step.expect.kind == "error" or status not in REFUSAL_STATUSES:
            return None
        if optional & self.required:
            return None
        error = done.body_json.get("error") if isinstance(done.body_json, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            return None
        if not _refuses_one_of(error.get("param"), optional, done.request_json):
            return None  # the refusal names a core part of the request: broken, not a missing feature
        short = " ".join(message.split())[:160]
        return self.redactor.text(f"HTTP {status}: {short}")

    def _run_step(self, scenario: Scenario, step: Step, context: dict, checks: list[str], several: bool) -> StepResult:
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
        checker = ExchangeChecker(step.expect, schemas=self.schemas, profile=self.profile, checks=checks, prefix=prefix)
        api_key, headers = self.target.credentials(step.auth)
        sink = _Sink(checker, self.limits.max_events)
        journal = self._journal("DELETE")
        for attempt in (1, 2):
            exchange = run_exchange(self._http(), method=step.method, url=self.target.base_url.rstrip("/") + path,
                                    api_key=api_key, json_body=json_body, raw_body=raw_body,
                                    extra_headers=headers or None, limits=self.limits, redactor=self.redactor, sink=sink)
            # A connection broken before any byte of the answer, on an idempotent request: most
            # likely a pooled keep-alive connection the server had just closed. HTTP clients retry
            # such a request once on a fresh connection; so does the suite, before it calls the
            # target untestable. Nothing reached the checker.
            if not (attempt == 1 and step.method in ("GET", "DELETE") and exchange.status is None
                    and exchange.end == "protocol_error" and exchange.bytes_received == 0):
                break
        self._note_answer(scenario, exchange)
        done = StepResult(step=step, exchange=exchange, request_json=json_body)
        if exchange.completed:
            violations = sink.close()
        else:
            reason = END_REASONS.get(exchange.end, exchange.end)
            done.error = self.redactor.text(f"{reason}: {exchange.error or exchange.end}")
            # What arrived before the end is still checked, so the transcript shows it.
            violations = checker.violations
        internal = None
        if sink.crash is not None:
            done.error = self.redactor.text(_internal_error(sink.crash))
            internal = self.redactor.text(sink.crash_trace or done.error)
        # Belt and braces: the HTTP layer already redacts what the checker sees, but a message
        # may be built from several chunks.
        final = checker.final_response or checker.body_json
        # Fidelity is about a model answer: a POST /responses that finished (not a retrieve, a
        # resume or cancel, nor a background response still queued).
        generated = (step.method == "POST" and path.split("?")[0].rstrip("/").endswith("/responses")
                     and isinstance(final, dict) and final.get("status") in ("completed", "incomplete", "failed"))
        if journal is not None and exchange.status == 200 and generated:
            violations = violations + self._fidelity(final, checks)
        done.violations = [self._redact(replace(v, step=step.name if several else None)) for v in violations]
        done.final_response = self.redactor.json(checker.final_response)
        done.body_json = self.redactor.json(checker.body_json)
        done.events = checker.events
        done.curl = curl_command(exchange)
        streamed = checker.stream is not None
        events = transcript_events(exchange) if streamed else None
        done.decoded_events = [e["data"] for e in events or [] if isinstance(e.get("data"), dict)]
        name = f"{scenario.id}.{step.name}" if several else scenario.id
        done.transcript = write_transcript(
            self.reports_dir / "transcripts", name, exchange,
            events=events,
            violations=[v.to_json() for v in done.violations],
            extra={"scenario": scenario.data, "step": step.name, "error": done.error, "events_checked": done.events,
                   "target": self.target.base_url, "model": self.target.model,
                   **({"violations_not_kept": checker.dropped} if checker.dropped else {}),
                   **({"internal_error": internal} if internal else {})},
            redactor=self.redactor)
        return done

    # -- WebSocket mode ---------------------------------------------------------------------
    def _ws_headers(self, step: Step) -> dict[str, str]:
        """The upgrade's headers: the key as for HTTP (Authorization: Bearer, or the target's own
        header and scheme) and the target's extra headers."""
        key, headers = self.target.credentials(step.auth)
        _check_api_key(key)
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _note_answer(self, scenario: Scenario, exchange: Any) -> None:
        """Which scenario the target last answered; and, when a target that passed the
        preflight can no longer be reached, that it stopped: said once, for all that follows."""
        if exchange.status is not None:
            self._last_answered = scenario.id
        elif exchange.end == "connect_error" and self.preflight is not None and self.preflight.ok:
            with self._lock:
                if self._down is None:
                    last = f"; the last answer came in scenario {self._last_answered}" if self._last_answered else ""
                    self._down = self.redactor.text(f"the target stopped answering ({exchange.error}){last}")

    def _ws_refusal(self, scenario: Scenario, outcome: ws.WsOutcome, judge: ws.StepJudge, step: Step) -> str | None:
        """A target without WebSocket mode refuses the upgrade with a 4xx: unsupported, unless
        `--require websocket`. A request for another optional feature refused with a clean
        error frame (4xx and a message) is unsupported too, unless one of them is required."""
        status = outcome.exchange.status
        if outcome.refused_upgrade and status is not None and 400 <= status < 500:
            if "websocket" in self.required or "websocket" not in scenario.features:
                return None
            said = f": {outcome.upgrade_message}" if outcome.upgrade_message else ""
            return self.redactor.text(f"WebSocket upgrade refused with HTTP {status}{said}")
        # As for HTTP: a later step may be refused only for the features it declares.
        declared = step.features or (scenario.features if step is scenario.steps[0] else ())
        optional = set(declared) - CORE_FEATURES
        if not optional or optional & self.required or step.expect.kind == "error":
            return None
        refused = judge.refusal()
        if refused is None:
            return None
        return self.redactor.text(f"error frame {refused[0]}: {' '.join(refused[1].split())[:160]}")

    def _ws_exchange(self, scenario: Scenario, step: Step, context: dict, checks: list[str], several: bool,
                     sockets: ws.Connections) -> StepResult:
        sends = [render(message, context) for message in step.send]
        judge = ws.StepJudge(step.expect, sent=len(sends), schemas=self.schemas, checks=checks,
                             profile=self.profile, error_code=step.error_code)
        headers = self._ws_headers(step)
        outcome = sockets.run(connection=step.connection, reconnect=step.reconnect, path=render(step.path, context),
                              sends=sends, judge=judge, headers=headers)
        exchange = outcome.exchange
        self._note_answer(scenario, exchange)
        done = StepResult(step=step, exchange=exchange,
                          request_json=outcome.sent[0] if len(outcome.sent) == 1 else outcome.sent)
        if exchange.completed:
            judge.finish(complete=outcome.complete)
        else:
            reason = WS_END_REASONS.get(exchange.end, exchange.end)
            done.error = self.redactor.text(f"{reason}: {exchange.error or exchange.end}")
        done.refusal = self._ws_refusal(scenario, outcome, judge, step)
        done.violations = [self._redact(replace(v, step=step.name if several else None)) for v in judge.violations]
        first, error = judge.first_response, judge.first_error
        done.final_response = self.redactor.json(first.response) if first is not None else None
        done.decoded_events = self.redactor.json(first.events) if first is not None else []
        done.body_json = self.redactor.json(error.error) if error is not None else None
        done.events = judge.events_checked
        done.context = {"responses": [self.redactor.json(a.response) for a in judge.answers if a.kind == "response"],
                        "errors": [self.redactor.json(a.error) for a in judge.answers if a.kind == "error"]}
        url = ws.ws_url(self.target.base_url, render(step.path, context))
        done.curl = ws.reproduce_command(self.redactor.text(url), headers, outcome.sent, redactor=self.redactor)
        name = f"{scenario.id}.{step.name}" if several else scenario.id
        done.transcript = ws.write_transcript(
            self.reports_dir / "transcripts", name, outcome, judge,
            violations=[v.to_json() for v in done.violations], curl=done.curl,
            extra={"scenario": scenario.data, "step": step.name, "connection": step.connection,
                   "error": done.error, "events_checked": done.events, "target": self.target.base_url,
                   "model": self.target.model,
                   **({"unsupported": done.refusal} if done.refusal else {}),
                   **({"violations_not_kept": judge.dropped} if judge.dropped else {})},
            redactor=self.redactor)
        return done
