"""Runs scenarios against a target: one HTTP request per scenario, shared by all its checks.

The layer between the sans-IO engine and pytest: it sends the request (http.py), feeds the
bytes to an ExchangeChecker as they arrive, writes the transcript, and keeps the result for
every check item of the scenario to read.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .engine import profiles
from .engine.checks.consistency import shape_differences
from .engine.checker import parse_json
from .engine.exchange import ExchangeChecker
from .engine.sse import SseEvent, decode_all
from .engine.violations import Severity, Violation
from .http import Exchange, Limits, make_client, run_exchange
from .redact import Redactor
from .scenarios import WRONG_KEY, Scenario
from .transcript import curl_command, write_transcript

# How a target that did not let us finish is described (end reasons of http.Exchange).
END_REASONS = {
    "deadline": "the exchange ran past its total time limit",
    "idle": "the target stopped sending",
    "too_large": "the body exceeded the size limit",
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
    for item in decode_all(exchange.body):
        if isinstance(item, SseEvent):
            ok, payload = parse_json(item.data)
            events.append({"index": item.index, "event": item.event, "data": payload if ok else item.data})
            if len(events) >= MAX_TRANSCRIPT_EVENTS:
                events.append({"truncated": f"more than {MAX_TRANSCRIPT_EVENTS} events"})
                break
    return events


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
        if self._client is None:
            self._client = make_client(self.limits)
        key = {"valid": self.target.api_key, "wrong": WRONG_KEY, "none": None}[scenario.auth]
        json_body, raw_body = scenario.body(self.target.model)
        checker = ExchangeChecker(scenario.expect, schemas=self.schemas, profile=self.profile,
                                  checks=[c.id for c in scenario.checks(self.profile)])
        url = self.target.base_url.rstrip("/") + scenario.path
        exchange = run_exchange(self._client, method=scenario.method, url=url, api_key=key,
                                json_body=json_body, raw_body=raw_body, limits=self.limits,
                                redactor=self.redactor, sink=checker)
        result = ScenarioResult(scenario=scenario, exchange=exchange)
        if exchange.completed:
            violations = checker.close()
        else:
            reason = END_REASONS.get(exchange.end, exchange.end)
            result.error = self.redactor.text(f"{reason}: {exchange.error or exchange.end}")
            # What arrived before the end is still checked, so the transcript shows it.
            violations = checker.violations
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
                   "target": self.target.base_url, "model": self.target.model},
            redactor=self.redactor)
        return result
