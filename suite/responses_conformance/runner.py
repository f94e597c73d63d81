"""Runs scenarios against a target: each scenario once, shared by all its check items.

The layer between the transports (transports.py: HTTP, WebSocket; each feeds its sans-IO judge
and writes the transcript) and pytest: it schedules scenarios concurrently and their steps in
order, decides what an answer means for the scenario (a finding, unsupported, not applicable,
could not test), runs the scenario's assertions and the stream-vs-non-stream pair, and keeps
the result for every check item of the scenario to read.
"""
from __future__ import annotations

import json
import threading
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import httpx

from . import preflight as preflight_mod
from . import ws
from .engine import assertions, fidelity, profiles
from .engine.checks.consistency import nonstream_matches_stream
from .engine.checker import stamp
from .engine.violations import Finding, Severity, Violation
from .http import Exchange, Limits, make_client, run_exchange
from .redact import Redactor, header_secrets
from .results import Status
from .scenarios import CORE_FEATURES, WRONG_KEY, Scenario, Step, load_all, render
from .transcript import safe_name, write_transcript
from .transports import HttpTransport, StepResult, WebSocketTransport, internal_error

__all__ = ["Runner", "ScenarioResult", "StepResult", "Target", "UpstreamError"]


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


class Runner:
    def __init__(self, target: Target, *, limits: Limits, reports_dir: Path, schemas: Any,
                 profile: str = "openai", concurrency: int = 8, required: frozenset[str] = frozenset(),
                 scenarios: list[Scenario] | None = None, gate: threading.BoundedSemaphore | None = None) -> None:
        self.target = target
        # The scenarios a twin is looked up in: the run's (built-in and --scenarios DIR), or the built-in ones.
        self.scenarios = {s.id: s for s in (scenarios if scenarios is not None else load_all())}
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
        # Several targets in one run share one limit: no more than --concurrency scenarios in
        # flight over all of them, so ten targets do not mean ten times the load on a gateway.
        self._gate = gate

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def results(self) -> dict[str, ScenarioResult]:
        """The scenarios finished so far."""
        return {sid: f.result() for sid, f in list(self._futures.items()) if f.done()}

    def settled(self) -> dict[str, ScenarioResult]:
        """Every scenario sent, waiting for those still running (each is bounded by the limits):
        what the run's results are made of, whichever items happened to read them."""
        return {sid: f.result() for sid, f in list(self._futures.items()) if not f.cancelled()}

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
        for scenario in scenarios:
            self._submit(scenario)
            if scenario.compare_shape_with in self.scenarios:
                self._submit(self.scenarios[scenario.compare_shape_with])

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
        twin = self.scenarios[scenario.compare_shape_with]
        mine, other = self.result(scenario), self.result(twin)
        if mine.final_response is None or other.final_response is None:
            judged: tuple[list[Violation], str | None] = (
                [], f"no final response from {'this scenario' if mine.final_response is None else twin.id}")
        else:
            judged = (stamp(nonstream_matches_stream(other.final_response, mine.final_response), self.profile), None)
        with self._lock:
            self._pairs[scenario.id] = judged
        return judged

    def pair_violations(self) -> dict[str, list[Violation]]:
        """The pair findings of every finished scenario whose twin was sent (waiting for it)."""
        return {sid: self.pair(result.scenario)[0] for sid, result in self.results.items()
                if result.scenario.compare_shape_with in self._futures}

    def pair_violations_of(self, scenario: Scenario) -> list[Violation]:
        """pair_violations() of one scenario (a report row needs its own, not every scenario's)."""
        return self.pair(scenario)[0] if scenario.compare_shape_with in self._futures else []

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
            if self._gate is None:
                return self._run_scenario(scenario)
            with self._gate:
                return self._run_scenario(scenario)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            trace = self.redactor.text(traceback.format_exc(limit=30))
            where = self.reports_dir / "transcripts" / f"{safe_name(scenario.id)}.internal-error.txt"
            try:
                where.parent.mkdir(parents=True, exist_ok=True)
                where.write_text(trace, encoding="utf-8")
            except OSError:
                pass
            return ScenarioResult(scenario=scenario, error=self.redactor.text(internal_error(exc)))

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
            transports = {"http": HttpTransport(self), "websocket": WebSocketTransport(self, sockets)}
            self._run_steps(scenario, result, context, checks, several, transports)
        first = result.steps[0] if result.steps else None
        if first is not None:
            result.exchange, result.final_response = first.exchange, first.final_response
            result.events, result.transcript, result.curl = first.events, first.transcript, first.curl
        if result.error is None and result.unsupported is None and not result.asserted:
            result.violations += self._assertions(scenario, result)
        return result

    def _run_steps(self, scenario: Scenario, result: ScenarioResult, context: dict[str, Any], checks: list[str],
                   several: bool, transports: dict[str, Any]) -> None:
        for step in scenario.steps:
            transport = transports[step.transport]
            try:
                done = transport.run(scenario, step, context, checks, several)
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
            refusal = self._refusal(scenario, step, done, context, transport)
            if refusal is not None and self._refused_without_the_feature(scenario, step, done, context):
                # The same request without the optional feature is refused too: what the target
                # refuses is a core part of it (input items without `type`, say), not the feature.
                result.violations += done.violations
                break
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

    def _refused_without_the_feature(self, scenario: Scenario, step: Step, done: StepResult, context: dict) -> bool:
        """Send the refused request again without the parameters of its optional features
        (`stream`, `tools`, `previous_response_id`, ...). Refused again: the refusal was not of
        the feature. Answered: the feature is what the target does not offer. Only for a JSON
        request that carries such parameters; a feature asked for by the path (compact, resume,
        cancel) has nothing to take away."""
        from .scenarios import FEATURE_PARAMETERS

        body = done.request_json
        if step.websocket or not isinstance(body, dict):
            return False
        feature_keys = {key for feature in self._optional_features(scenario, step, context)
                        for key in FEATURE_PARAMETERS.get(feature, ())}
        stripped = {key: value for key, value in body.items() if key not in feature_keys}
        if stripped == body:
            return False
        api_key, headers = self.target.credentials(step.auth)
        exchange = run_exchange(self._http(), method=step.method,
                                url=self.target.base_url.rstrip("/") + render(step.path, context), api_key=api_key,
                                json_body=stripped, extra_headers=headers or None, limits=self.limits,
                                redactor=self.redactor)
        return exchange.status is not None and 400 <= exchange.status < 500 and exchange.status not in (401, 403, 429)

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

    @staticmethod
    def _optional_features(scenario: Scenario, step: Step, context: dict) -> frozenset[str]:
        """The optional features a step asks for: what a clean refusal may be "unsupported" for,
        and whose parameters are taken away to tell a refused feature from a refused request."""
        # The first step stands for the scenario's features; a later step may be refused only for
        # the features it declares (resume, delete, input_items, cancel): a GET of a response the
        # target just stored answered 404 is broken (I-02), not unsupported.
        declared = step.features or (scenario.features if step is scenario.steps[0] else ())
        if not declared and "state" in scenario.features and _reads_back_unstored(step, context):
            # ... unless the target never said it stored it: an answer without `store: true`
            # makes reading it back a request for a feature the target may not have.
            declared = ("state",)
        return frozenset(declared) - CORE_FEATURES

    def _refusal(self, scenario: Scenario, step: Step, done: StepResult, context: dict, transport: Any) -> str | None:
        """A clean refusal of an optional feature the step asks for means "unsupported", not
        "broken"; the transport says what a clean refusal looks like on its wire. Never for a
        step that expects an error, nor for a feature the user requires (--require)."""
        optional = self._optional_features(scenario, step, context)
        if optional & self.required or step.expect.kind == "error":
            optional = frozenset()
        return transport.refused(scenario, step, done, optional)

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
