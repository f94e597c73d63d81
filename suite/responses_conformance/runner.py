"""Runs scenarios against a target: one HTTP request per scenario, shared by all its checks.

The layer between the sans-IO engine and pytest: it sends the request (http.py), feeds the
bytes to an ExchangeChecker as they arrive, writes the transcript, and keeps the result for
every check item of the scenario to read.
"""
from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from .engine import profiles
from .engine.checks.consistency import shape_differences
from .engine.checker import parse_json
from .engine.exchange import ExchangeChecker
from .engine.sse import SseDecoder, SseEvent, WireNote
from .engine.violations import Severity, Violation
from .http import Exchange, Limits, StopReading, make_client, run_exchange
from .redact import Redactor
from .scenarios import WRONG_KEY, Scenario
from .transcript import curl_command, safe_name, write_transcript

# How a target that did not let us finish is described (end reasons of http.Exchange).
END_REASONS = {
    "deadline": "the exchange ran past its total time limit",
    "idle": "the target stopped sending",
    "too_large": "the body exceeded the size limit",
    "too_many_events": "the stream exceeded the event limit",
    "connect_error": "the target could not be reached",
    "tls_error": "the TLS handshake failed (certificate not verified, or no TLS at all)",
    "protocol_error": "the connection broke",
    "redirect": "the target answered with a redirect, which is not followed",
}


@dataclass
class Target:
    base_url: str  # ends with /v1 (or whatever prefix precedes /responses)
    api_key: str | None
    model: str
    embedded: bool = False

    @property
    def label(self) -> str:
        return f"{self.base_url} (embedded reference server)" if self.embedded else self.base_url


@dataclass
class ScenarioResult:
    scenario: Scenario
    exchange: Exchange | None = None
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None  # the target could not be tested: a pytest error, not a failure
    events: int = 0
    final_response: dict | None = None
    transcript: dict[str, Path] = field(default_factory=dict)
    curl: str | None = None

    def for_check(self, check_id: str) -> list[Violation]:
        return [v for v in self.violations if v.check == check_id]

    @property
    def status(self) -> str:
        if self.error is not None:
            return "errored"
        if any(v.severity is Severity.MUST for v in self.violations):
            return "failed"
        return "passed"


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


class Runner:
    def __init__(self, target: Target, *, limits: Limits, reports_dir: Path, schemas: Any,
                 profile: str = "openai") -> None:
        self.target = target
        self.profile = profile
        self.limits = limits
        self.reports_dir = reports_dir
        self.schemas = schemas
        self.redactor = Redactor([target.api_key, WRONG_KEY])
        self._client = None
        self._results: dict[str, ScenarioResult] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def results(self) -> dict[str, ScenarioResult]:
        return dict(self._results)

    def result(self, scenario: Scenario) -> ScenarioResult:
        with self._lock:
            if scenario.id not in self._results:
                self._results[scenario.id] = self._run(scenario)
            return self._results[scenario.id]

    def shape_violations(self, scenario: Scenario, other: ScenarioResult) -> tuple[list[Violation], str | None]:
        """consistency.nonstream_matches_stream: compare with the streamed twin's final response."""
        mine = self.result(scenario)
        if mine.final_response is None or other.final_response is None:
            return [], f"no final response from {'this scenario' if mine.final_response is None else other.scenario.id}"
        severity = profiles.get(self.profile).severity("consistency.nonstream_matches_stream")
        if severity is None:
            return [], None
        problems = shape_differences(other.final_response, mine.final_response)
        return [Violation("consistency.nonstream_matches_stream", severity, problem, "$") for problem in problems], None

    def _redact(self, violation: Violation) -> Violation:
        return replace(violation, message=self.redactor.text(violation.message),
                       excerpt=self.redactor.text(violation.excerpt) if violation.excerpt else violation.excerpt)

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
        if self._client is None:
            self._client = make_client(self.limits)
        key = {"valid": self.target.api_key, "wrong": WRONG_KEY, "none": None}[scenario.auth]
        json_body, raw_body = scenario.body(self.target.model)
        checker = ExchangeChecker(scenario.expect, schemas=self.schemas, profile=self.profile,
                                  checks=[c.id for c in scenario.checks(self.profile)])
        url = self.target.base_url.rstrip("/") + scenario.path
        sink = _Sink(checker, self.limits.max_events)
        exchange = run_exchange(self._client, method=scenario.method, url=url, api_key=key,
                                json_body=json_body, raw_body=raw_body, limits=self.limits,
                                redactor=self.redactor, sink=sink)
        result = ScenarioResult(scenario=scenario, exchange=exchange)
        if exchange.completed:
            violations = sink.close()
        else:
            reason = END_REASONS.get(exchange.end, exchange.end)
            result.error = self.redactor.text(f"{reason}: {exchange.error or exchange.end}")
            # What arrived before the end is still checked, so the transcript shows it.
            violations = checker.violations
        internal = None
        if sink.crash is not None:
            result.error = self.redactor.text(_internal_error(sink.crash))
            internal = self.redactor.text(sink.crash_trace or result.error)
        # Belt and braces: the HTTP layer already redacts what the checker sees, but a message
        # may be built from several chunks.
        result.violations = [self._redact(v) for v in violations]
        result.final_response = self.redactor.json(checker.final_response)
        result.events = checker.events
        result.curl = curl_command(exchange)
        result.transcript = write_transcript(
            self.reports_dir / "transcripts", scenario.id, exchange,
            events=transcript_events(exchange) if checker.stream is not None else None,
            violations=[v.to_json() for v in result.violations],
            extra={"scenario": scenario.data, "error": result.error, "events_checked": result.events,
                   "target": self.target.base_url, "model": self.target.model,
                   **({"violations_not_kept": checker.dropped} if checker.dropped else {}),
                   **({"internal_error": internal} if internal else {})},
            redactor=self.redactor)
        return result
