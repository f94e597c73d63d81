"""Fuzz mode: property-based requests find what the fixed scenarios cannot.

`--fuzz=N` (pytest) and `responses-conformance fuzz` send N requests generated with Hypothesis
from our own request schema (`fuzz_strategies.py`): half of them valid (streamed and not), half
with exactly one field broken. This module does the I/O (generating, sending within the time
limits, shrinking); the engine does all the judging, and fuzz mode's own rules are checks of
the registry like any other (`engine/fuzzing.py`, category `fuzz`, kind `fuzz`: judged only
here), stamped with the run's profile. How each request is judged:

- **invalid** (wrong type, unknown enum value, out-of-range number, missing required field,
  unknown parameter, malformed input item or tool): a 4xx with OpenAI's error envelope. A 5xx,
  a malformed envelope (the engine's `error.*` checks), a hang or a broken connection
  (`fuzz.answered`) break a MUST rule. A 200 is a SHOULD remark (`fuzz.invalid_refused`) only
  when the published schema and observed OpenAI behaviour both refuse the body (spec-notes
  section 7: they differ); otherwise it is counted as tolerated, never a finding.
- **valid**: HTTP 200 and a conformant stream or Response through the whole engine
  (ExchangeChecker, and the scenario assertions declared `any_request`: parameters echoed,
  the output limit, structured output), ending completed or incomplete, never `failed`
  (`fuzz.valid_completes`); or a clean refusal (a 4xx with a message), counted as unsupported.
  A valid request that runs past the time limits could not be tested (a slow model is no hang);
  one that breaks the connection breaks `fuzz.answered`.

Findings are grouped by cause: a finding of a check declared `request_caused` (its HTTP status
or its hang, which the broken field explains) by the slot that produced the case and the check,
any other by check and place; each cause is shrunk by Hypothesis to its smallest request, shown
with its curl.

Bounded and reproducible: the run has a seed (printed; `--fuzz-seed`), a time budget
(`--fuzz-budget`; sending and shrinking stop there and say so), the suite's concurrency limit
(requests are generated first, then sent concurrently; shrinking is sequential), and no
Hypothesis example database, in CI or anywhere (Hypothesis turns it off for seeded runs: the
seed is what reproduces a run). The same seed gives the same requests: each slot's cases come
from its own Hypothesis run seeded from the run's seed and the slot's name, without the
constants Hypothesis would otherwise pick up from the local source.

The run's status comes from `results.scenario_status` over the minimal findings, and joins the
scenarios' statuses in `results.verdict` (fuzz_plugin.py); results.json gets a `fuzz` block.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import secrets
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

from . import results as results_mod
from .engine import assertions, fuzzing, profiles, registry
from .engine.checker import stamp
from .engine.exchange import ExchangeChecker, Expectation
from .engine.violations import Severity, Violation
from .fuzz_strategies import SLOTS, Case, Slot, allocate, valid_bodies
from .http import Limits, StopReading, make_client, run_exchange
from .preflight import SETUP_STATUSES
from .redact import Redactor
from .results import Status
from .transcript import curl_command

DEFAULT_BUDGET = 120.0  # seconds for a whole fuzz run: generation, sending and shrinking
DEFAULT_CASES = 200
MAX_SHRUNK_CAUSES = 100  # causes shrunk per run (the others are reported as found)
SHOWN_FINDINGS = 30  # causes listed in the terminal (results.json has them all)

# Parameters a Response echoes as they were sent (consistency.params_echoed).
ECHOED = ("instructions", "temperature", "top_p", "max_output_tokens", "top_logprobs", "parallel_tool_calls",
          "truncation", "metadata", "tools", "tool_choice", "text", "store")
VALID_REFUSALS = frozenset({400, 404, 405, 422, 501})  # as runner.REFUSAL_STATUSES


@dataclass
class FuzzConfig:
    cases: int = DEFAULT_CASES
    seed: int | None = None
    budget: float = DEFAULT_BUDGET
    concurrency: int = 8
    shrink: bool = True

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = secrets.randbelow(2**32)


@dataclass
class FuzzTarget:
    """What fuzz mode needs of the target: where, with which key and model, and how to judge."""

    base_url: str
    model: str
    credentials: Callable[[str], tuple[str | None, dict[str, str]]]
    limits: Limits
    redactor: Redactor
    schemas: Any = None
    profile: str = "openai"
    deterministic: bool = False


@dataclass
class Judged:
    """One case sent and judged."""

    case: Case
    outcome: str  # served | refused | accepted | finding | could not test
    violations: list[Violation] = field(default_factory=list)
    status: int | None = None
    reason: str | None = None  # a refusal's or could-not-test's reason
    curl: str | None = None
    stop: str | None = None  # the target cannot be tested any more (down, key refused, rate limited)
    exchange: Any = field(default=None, repr=False)  # http.Exchange, for the transcript of a finding

    @property
    def slot(self) -> str:
        return slot_of(self.case)

    def causes(self) -> dict[str, list[Violation]]:
        """The violations by cause: a status that the broken field explains (a 500, a 200, a
        hang: a check declared `request_caused`) is a cause per slot; anything else (an envelope
        without `param`, an event off its schema) is one cause per check and place, whichever
        request showed it."""
        out: dict[str, list[Violation]] = {}
        family = "invalid" if self.case.family == "invalid" else f"valid/{self.case.family}"
        request_caused = registry.REQUEST_CAUSED_CHECKS
        for violation in self.violations:
            if violation.check in request_caused:
                cause = f"{self.slot}:{violation.check}"
            else:
                cause = f"{family}:{violation.check}:{violation.path}"
            out.setdefault(cause, []).append(violation)
        return out


def slot_of(case: Case) -> str:
    if case.mutation is None:
        return f"valid/{case.family}"
    kind, param, note = case.mutation.kind, case.mutation.param, case.mutation.note
    if kind in ("malformed_tool", "malformed_input_item"):
        return f"invalid/{kind}/{note}"
    if kind == "unknown_parameter":
        return "invalid/unknown_parameter"
    return f"invalid/{kind}/{param}"


@dataclass
class FuzzFinding:
    """One cause: what broke, how often, and the smallest request that shows it."""

    cause: str
    check: str
    severity: Severity
    message: str
    slot: str
    occurrences: int
    example: Judged
    slots: tuple[str, ...] = ()  # every slot whose requests showed it
    shrunk: bool = False
    shrink_note: str | None = None
    model_behaviour: bool = False
    transcript: str | None = None  # the minimal exchange's transcript, when one was written

    def violation(self) -> Violation:
        first = self.example.causes().get(self.cause, [None])[0]
        return first or Violation(self.check, self.severity, self.message)

    def to_json(self) -> dict[str, Any]:
        case = self.example.case
        return {"cause": self.cause, "check": self.check, "severity": self.severity.value, "message": self.message,
                "slot": self.slot, "family": case.family, "occurrences": self.occurrences,
                **({"slots": list(self.slots)} if len(self.slots) > 1 else {}),
                **({"mutation": case.mutation.to_json()} if case.mutation else {}),
                "status": self.example.status, "minimal_request": case.body, "curl": self.example.curl,
                "shrunk": self.shrunk, **({"shrink_note": self.shrink_note} if self.shrink_note else {}),
                **({"model_behaviour": True} if self.model_behaviour else {}),
                **({"transcript": self.transcript} if self.transcript else {})}


@dataclass
class FuzzResult:
    config: FuzzConfig
    planned: int = 0
    judged: list[Judged] = field(default_factory=list)
    findings: list[FuzzFinding] = field(default_factory=list)
    not_sent: int = 0
    stopped: str | None = None  # why the run stopped early (the target, not the budget)
    budget_hit: str | None = None  # what the budget cut short
    elapsed: float = 0.0
    generation_seconds: float = 0.0
    shrink_requests: int = 0
    deterministic: bool = False

    def outcome(self) -> Status:
        """Could not test: the run stopped on the target, or every valid request (or every
        request) went unjudged; otherwise passed, and the findings decide the rest."""
        def judged(family: str | None) -> bool:
            return any(j.outcome != "could not test" for j in self.judged
                       if family is None or (j.case.family == "invalid") == (family == "invalid"))

        valid_sent = any(j.case.family != "invalid" for j in self.judged)
        if self.stopped is not None or not judged(None) or (valid_sent and not judged("valid")):
            return Status.COULD_NOT_TEST
        return Status.PASSED

    @property
    def status(self) -> Status:
        """The fuzz run's status in the results model (like one scenario's)."""
        return results_mod.scenario_status(self.outcome(), [f.violation() for f in self.findings],
                                           deterministic=self.deterministic)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for judged in self.judged:
            family = "invalid" if judged.case.family == "invalid" else "valid"
            bucket = out.setdefault(family, {})
            bucket[judged.outcome] = bucket.get(judged.outcome, 0) + 1
        return out

    def refusals(self) -> list[tuple[str, int]]:
        """Valid requests the target refused cleanly, by reason (unsupported, not findings)."""
        reasons: dict[str, int] = {}
        for judged in self.judged:
            if judged.case.family != "invalid" and judged.outcome == "refused":
                reasons[judged.reason or "?"] = reasons.get(judged.reason or "?", 0) + 1
        return sorted(reasons.items(), key=lambda kv: -kv[1])

    def tolerated(self) -> list[tuple[str, int]]:
        """Invalid bodies served with 200 that the schema or OpenAI tolerate: counted, not findings."""
        kinds: dict[str, int] = {}
        for judged in self.judged:
            if judged.outcome == "accepted" and not judged.violations:
                kinds[judged.slot] = kinds.get(judged.slot, 0) + 1
        return sorted(kinds.items())

    def reproduce(self, command: str = "pytest") -> str:
        return f"{command} --fuzz={self.config.cases} --fuzz-seed={self.config.seed}"

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.config.seed, "cases": self.config.cases, "planned": self.planned,
            "sent": sum(1 for j in self.judged if j.outcome != "could not test"), "not_sent": self.not_sent,
            "budget_seconds": self.config.budget, "elapsed_seconds": round(self.elapsed, 2),
            "generation_seconds": round(self.generation_seconds, 2), "shrink_requests": self.shrink_requests,
            "concurrency": self.config.concurrency,
            "status": str(self.status), "outcomes": self.counts(),
            "findings": [f.to_json() for f in self.findings],
            "refused_valid": [{"reason": r, "count": n} for r, n in self.refusals()],
            "tolerated_invalid": [{"slot": s, "count": n} for s, n in self.tolerated()],
            **({"stopped": self.stopped} if self.stopped else {}),
            **({"budget_hit": self.budget_hit} if self.budget_hit else {}),
            "reproduce": self.reproduce(),
        }

    def lines(self, command: str = "pytest") -> list[str]:
        """The fuzz section of the terminal summary."""
        sent = sum(1 for j in self.judged if j.outcome != "could not test")
        counts = self.counts()
        out = [f"fuzz: {sent} of {self.planned} requests sent in {self.elapsed:.1f} s (seed {self.config.seed}, "
               f"budget {self.config.budget:g} s, concurrency {self.config.concurrency}): {self.status}"]
        for family in ("invalid", "valid"):
            if family in counts:
                out.append(f"  {family}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts[family].items())))
        if self.stopped:
            out.append(f"  stopped: {self.stopped}")
        if self.budget_hit:
            out.append(f"  time budget: {self.budget_hit}")
        refused = self.refusals()
        if refused:
            out.append(f"  valid requests refused cleanly (unsupported, not findings): {sum(n for _, n in refused)}")
            out += [f"    {n} x {r}" for r, n in refused[:5]]
        tolerated = self.tolerated()
        if tolerated:
            out.append("  invalid bodies served that the published schema or OpenAI tolerate (not findings): "
                       + ", ".join(f"{s} x{n}" for s, n in tolerated))
        for finding in self.findings[:SHOWN_FINDINGS]:
            what = "model behaviour" if finding.model_behaviour else str(finding.severity)
            shrunk = "minimal request" if finding.shrunk else "smallest request seen (not shrunk"
            shrunk += "" if finding.shrunk else f": {finding.shrink_note or 'shrinking off'})"
            where = finding.slot if len(finding.slots) < 2 else f"{len(finding.slots)} kinds of request"
            out.append(f"  {what} {finding.check} [{where}] x{finding.occurrences}: {finding.message}")
            out.append(f"    {shrunk}: {json.dumps(finding.example.case.body, ensure_ascii=False)[:400]}")
            if finding.example.curl and finding.severity is Severity.MUST and not finding.model_behaviour:
                out.append(f"    {finding.example.curl}")  # the others' curls are in results.json
        if len(self.findings) > SHOWN_FINDINGS:
            out.append(f"  ... and {len(self.findings) - SHOWN_FINDINGS} more causes (results.json, `fuzz.findings`)")
        if self.findings:
            out.append(f"  reproduce: {self.reproduce(command)} (and this run's target options), or the curl above")
        return out


# -- judging one case ---------------------------------------------------------------------------
class _Sink:
    """The checker behind run_exchange, with the event limit and a guard for our own bugs."""

    def __init__(self, checker: ExchangeChecker, max_events: int) -> None:
        self.checker = checker
        self.max_events = max_events
        self.crash: str | None = None

    def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self._guard(self.checker.head, status, headers)

    def body(self, chunk: bytes) -> None:
        self._guard(self.checker.body, chunk)
        if self.checker.events > self.max_events:
            raise StopReading("too_many_events", f"more than {self.max_events} events (event limit, --max-events)")

    def close(self) -> list[Violation]:
        self._guard(self.checker.close)
        return self.checker.violations

    def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.crash is not None:
            return
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a bug of ours: the case could not be judged
            self.crash = traceback.format_exc(limit=8)


def encode(body: Any) -> bytes:
    """The body as sent: UTF-8 JSON, escaped where a character cannot be encoded."""
    try:
        return json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body).encode("ascii")


class Judge:
    """Sends cases to the target and judges them (thread-safe; one HTTP client per judge)."""

    def __init__(self, target: FuzzTarget) -> None:
        self.target = target
        self.profile = profiles.get(target.profile)
        self._client = make_client(target.limits)
        self.sent = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __call__(self, case: Case) -> Judged:
        try:
            return self._judge(case)
        except Exception as exc:  # noqa: BLE001 - a bug of ours, never the target's
            return Judged(case, "could not test", reason=f"internal error in fuzz mode: {type(exc).__name__}: {exc}")

    def _judge(self, case: Case) -> Judged:
        target = self.target
        invalid = case.family == "invalid"
        streamed = case.body.get("stream") is True
        if invalid:
            expectation = Expectation("error", statuses=(400,))  # any 4xx will do: see _invalid
        else:
            expectation = Expectation("stream" if streamed else "response")
        checker = ExchangeChecker(expectation, schemas=target.schemas, profile=target.profile)
        sink = _Sink(checker, target.limits.max_events)
        api_key, headers = target.credentials("valid")
        if streamed:
            headers = {**headers, "Accept": "text/event-stream"}
        with self._lock:
            self.sent += 1
        exchange = run_exchange(self._client, method="POST", url=target.base_url.rstrip("/") + "/responses",
                                api_key=api_key, raw_body=encode(case.body), extra_headers=headers or None,
                                limits=target.limits, redactor=target.redactor, sink=sink)
        curl = curl_command(exchange, redactor=target.redactor)
        done = Judged(case, "finding", status=exchange.status, curl=curl, exchange=exchange)
        if exchange.end in ("connect_error", "tls_error", "redirect"):
            done.outcome, done.reason = "could not test", exchange.error or exchange.end
            done.stop = f"the target could not be reached: {exchange.error or exchange.end}"
            return done
        if exchange.end in ("too_large", "too_many_events"):
            done.outcome, done.reason = "could not test", exchange.error or exchange.end
            return done
        if not exchange.completed:  # deadline, idle, protocol_error
            done.violations = stamp(fuzzing.answered(exchange.end, exchange.error, exchange.status, invalid=invalid),
                                    self.profile)
            if not done.violations:  # a valid request past the time limits: a slow model is no hang
                done.outcome, done.reason = "could not test", exchange.error or exchange.end
            return done
        violations = sink.close()
        if sink.crash is not None:
            done.outcome, done.reason = "could not test", "internal error in the engine: " + sink.crash.splitlines()[-1]
            return done
        status = exchange.status or 0
        if status in SETUP_STATUSES and status not in (408,):
            message = _message(checker.body_json)
            done.outcome, done.reason = "could not test", f"HTTP {status}" + (f": {message}" if message else "")
            done.stop = {"key": "the target refused the key", "rate": "the target is rate limiting (lower "
                         "--concurrency)"}.get(SETUP_STATUSES[status], "the target refused") + f" ({done.reason})"
            return done
        if invalid:
            done.violations, done.outcome = self._invalid(case, status, violations)
        else:
            done.violations, done.outcome, done.reason = self._valid(case, status, violations, checker)
        done.violations = [replace(v, message=target.redactor.text(v.message)) for v in done.violations]
        return done

    def _invalid(self, case: Case, status: int, violations: list[Violation]) -> tuple[list[Violation], str]:
        mutation = case.mutation
        assert mutation is not None
        if 200 <= status < 300:  # served: a finding only when the schema and OpenAI both refuse the body
            return stamp(fuzzing.invalid_refused(status, both_refuse=mutation.both_refuse,
                                                 broken=mutation.describe()), self.profile), "accepted"
        if 400 <= status < 500:  # any 4xx is a refusal; which one is not fuzz mode's concern
            violations = [v for v in violations if v.check != "error.status_fits"]
        return violations, ("finding" if violations else "refused")

    def _valid(self, case: Case, status: int, violations: list[Violation], checker: ExchangeChecker,
               ) -> tuple[list[Violation], str, str | None]:
        if status in VALID_REFUSALS:
            message = _message(checker.body_json)
            if message:
                return [], "refused", self.target.redactor.text(f"HTTP {status}: {' '.join(message.split())[:120]}")
        if status != 200:
            return violations, "finding", None
        final = checker.final_response
        findings = list(fuzzing.valid_completes(status, final))
        view = assertions.StepView(name="fuzz", request=case.body, status=status, body=checker.body_json,
                                   response=final)
        text = case.body.get("text") if isinstance(case.body.get("text"), dict) else {}
        fmt = text.get("format") if isinstance(text.get("format"), dict) else {}
        # `text` without a format is echoed with the default one: only a format sent is compared.
        echoed = [k for k in ECHOED if k in case.body and (k != "text" or fmt)]
        # Structured output is judged only on a completed message: a response cut by
        # max_output_tokens holds cut JSON, and a tool call is no answer in the format.
        structured = fmt.get("type") in ("json_schema", "json_object") and _answered(final)
        for check_id in registry.ANY_REQUEST_ASSERTIONS:  # the assertions any valid request is held to
            declared = registry.get(check_id)
            if declared.feature == "structured-output" and not structured:
                continue
            args: dict[str, Any] = {"step": "fuzz"}
            if "fields" in inspect.signature(declared.function).parameters:  # the parameters to compare
                args["fields"] = echoed
            findings += assertions.run(check_id, {"fuzz": view}, args)
        # The engine's stamper: a check the profile leaves out is dropped.
        found = list(violations) + stamp(findings, self.profile)
        return found, ("finding" if found else "served"), None


def _answered(final: Any) -> bool:
    """A completed response with a message in its output."""
    output = final.get("output") if isinstance(final, dict) and final.get("status") == "completed" else None
    return any(isinstance(item, dict) and item.get("type") == "message" for item in output or [])


def _message(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else None


# -- the run ------------------------------------------------------------------------------------
def slot_seed(seed: int, slot: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{slot}".encode()).digest()[:8], "big")


def _settings(count: int, phases: list[Any]) -> Any:
    from hypothesis import HealthCheck, Verbosity, settings

    return settings(max_examples=max(count, 1), phases=phases, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False,
                    print_blob=False)


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Hypothesis now and then draws a constant it found in the source of "local" modules (ours,
    and whatever the folder the run starts in holds). Which ones depends on what is imported and
    where: the same seed would not give the same requests everywhere; and our constants include
    the reference server's key and its model's scripted triggers. Fuzz mode draws without them
    (Hypothesis' own list of tricky values stays). A private hook: without it, nothing changes."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover - another Hypothesis
        yield
        return
    saved = getattr(providers, "_get_local_constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if saved is None or not hasattr(cache, "clear"):  # pragma: no cover - another Hypothesis
        yield
        return
    with _CONSTANTS_LOCK:
        providers._get_local_constants = Constants  # an empty set of constants
        cache.clear()
        try:
            yield
        finally:
            providers._get_local_constants = saved
            cache.clear()


_CONSTANTS_LOCK = threading.RLock()


def generate(model: str, config: FuzzConfig, schema: dict[str, Any] | None = None) -> list[Case]:
    """The run's requests: every slot's share, each from its own seeded Hypothesis run. The same
    seed gives the same list."""
    from hypothesis import Phase, given, seed as seed_

    valid = valid_bodies(model, schema)
    out: list[Case] = []
    with _no_local_constants():
        for slot, count in allocate(config.cases):
            drawn: list[Case] = []

            @seed_(slot_seed(config.seed, slot.name))
            @_settings(count, [Phase.generate])
            @given(slot.strategy(valid))
            def collect(case: Case) -> None:
                drawn.append(case)

            collect()
            out += drawn[:count]
    return out


class _Reproduced(Exception):
    pass


def run(target: FuzzTarget, config: FuzzConfig, *, schema: dict[str, Any] | None = None,
        progress: Callable[[str], None] | None = None) -> FuzzResult:
    """A whole fuzz run against one target."""
    start = time.monotonic()
    deadline = start + config.budget
    result = FuzzResult(config, deterministic=target.deterministic)
    say = progress or (lambda text: None)
    cases = generate(target.model, config, schema)
    result.generation_seconds = time.monotonic() - start
    result.planned = len(cases)
    say(f"fuzz: seed {config.seed}, {len(cases)} requests generated in {result.generation_seconds:.1f} s")
    judge = Judge(target)
    cache: dict[str, Judged] = {}
    try:
        _send_all(judge, cases, config, deadline, result, cache)
        _collect_findings(judge, config, deadline, result, cache, schema, target.model)
    finally:
        judge.close()
        result.elapsed = time.monotonic() - start
    return result


def _send_all(judge: Judge, cases: list[Case], config: FuzzConfig, deadline: float, result: FuzzResult,
              cache: dict[str, Judged]) -> None:
    unique: dict[str, Case] = {}
    for case in cases:
        unique.setdefault(case.key, case)
    result.planned = len(unique)  # a request drawn twice is sent once
    stop: list[str] = []

    def one(case: Case) -> Judged | None:
        if stop or time.monotonic() >= deadline:
            return None
        done = judge(case)
        if done.stop is not None and not stop:
            stop.append(done.stop)
        return done

    pool = ThreadPoolExecutor(max_workers=max(1, config.concurrency), thread_name_prefix="fuzz")
    try:
        answers = list(pool.map(one, unique.values()))
    except BaseException:  # Ctrl-C: what is queued is not sent, what runs ends within its limits
        stop.append("interrupted")
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    for case, done in zip(unique.values(), answers):
        if done is None:
            result.not_sent += 1
            continue
        cache[case.key] = done
        result.judged.append(done)
    if stop:
        result.stopped = stop[0]
    elif result.not_sent:
        result.budget_hit = f"{result.not_sent} of {len(unique)} requests not sent within {config.budget:g} s"


def _collect_findings(judge: Judge, config: FuzzConfig, deadline: float, result: FuzzResult,
                      cache: dict[str, Judged], schema: dict[str, Any] | None, model: str) -> None:
    by_cause: dict[str, list[Judged]] = {}
    for judged in result.judged:
        for cause in judged.causes():
            by_cause.setdefault(cause, []).append(judged)
    # Shrink what decides the verdict first: MUST, then SHOULD, then model behaviour.
    def rank(cause: str) -> tuple[int, str]:
        first = by_cause[cause][0].causes()[cause][0]
        model = results_mod.is_model_behaviour(first.check) and not result.deterministic
        return (2 if model else 0 if first.severity is Severity.MUST else 1, cause)

    valid = valid_bodies(model, schema) if by_cause else None
    before = judge.sent
    for index, cause in enumerate(sorted(by_cause, key=rank)):
        seen = by_cause[cause]
        smallest = min(seen, key=lambda j: (len(j.case.key), j.case.key))
        first = smallest.causes()[cause][0]
        finding = FuzzFinding(cause=cause, check=first.check, severity=first.severity, message=first.message,
                              slot=smallest.slot, occurrences=len(seen), example=smallest,
                              slots=tuple(sorted({j.slot for j in seen})),
                              model_behaviour=results_mod.is_model_behaviour(first.check) and not result.deterministic)
        if not config.shrink:
            finding.shrink_note = "shrinking off"
        elif result.stopped is not None:
            finding.shrink_note = "the run stopped before shrinking"
        elif index >= MAX_SHRUNK_CAUSES:
            finding.shrink_note = f"only the first {MAX_SHRUNK_CAUSES} causes are shrunk"
        elif time.monotonic() >= deadline:
            finding.shrink_note = "the time budget ran out before shrinking"
        else:
            _shrink(finding, judge, config, deadline, cache, valid)
        finding.message = finding.violation().message
        result.findings.append(finding)
    result.shrink_requests = judge.sent - before
    if any(f.shrink_note and "budget" in f.shrink_note for f in result.findings) and not result.budget_hit:
        result.budget_hit = "shrinking stopped at the time budget; some findings show the smallest request seen"


def _shrink(finding: FuzzFinding, judge: Judge, config: FuzzConfig, deadline: float, cache: dict[str, Judged],
            valid: Any) -> None:
    """Hypothesis shrinks the cause's slot run to its smallest request that still shows the
    cause. The run replays the slot's seeded cases (answered from the cache, nothing re-sent)
    up to the first that shows it, then shrinks with new requests, one at a time."""
    from hypothesis import Phase, given, seed as seed_

    slot: Slot = SLOTS[finding.slot]
    count = dict((s.name, n) for s, n in allocate(config.cases)).get(slot.name, 1)
    shown: list[Judged] = []
    budget_hit: list[bool] = []

    @seed_(slot_seed(config.seed, slot.name))
    @_settings(count, [Phase.generate, Phase.shrink])
    @given(slot.strategy(valid))
    def probe(case: Case) -> None:
        done = cache.get(case.key)
        if done is None:
            if time.monotonic() >= deadline:
                budget_hit.append(True)
                return
            done = cache[case.key] = judge(case)
        if finding.cause in done.causes():
            shown.append(done)
            raise _Reproduced(finding.cause)

    try:
        with _no_local_constants():
            probe()
    except _Reproduced:
        pass
    except Exception as exc:  # noqa: BLE001 - Flaky: a cause that did not show again
        finding.shrink_note = f"not reproducible while shrinking ({type(exc).__name__})"
    if shown:
        best = min(shown, key=lambda j: (len(j.case.key), j.case.key))
        if len(best.case.key) <= len(finding.example.case.key):
            finding.example = best
        finding.shrunk = not budget_hit and finding.shrink_note is None
        if budget_hit:
            finding.shrink_note = "the time budget ran out while shrinking"
    elif finding.shrink_note is None:
        finding.shrink_note = "not reproduced when replayed"
