"""The tap's judging, sans-IO: what a proxied exchange is judged as, its judge, and the record of
everything the tap saw (counts, causes, listed exchanges, transcripts, the outputs).

`tap.py` is the I/O (the proxy on uvicorn, the command line) and `tap_mitm.py` the mitmproxy
addon; both hand their bytes to the judges here:

* `plan_for(method, path, query, body)`: whether a request is judged, and as what (`Plan`);
* `HttpJudge`: one HTTP exchange, the upstream's head and raw chunks in (decompressed here, fed
  to `capture.ExchangeReplay`, the live suite's `ExchangeChecker`), findings out as they appear,
  its transcript written as the body goes by;
* `WsJudge`: one WebSocket connection on `/responses`, a `ws.StepJudge` per `response.create`;
* `Recorder`: counts per status, check and cause (results.causes), the exchanges listed in the
  report (bounded), the background streams kept for judging their resumes (bounded), the
  transcripts on disk (rotated), and results.json, report.html and junit.xml at the end, with
  the verdict of results.py.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sys
import time
import zlib
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from . import capture
from .engine import profiles
from .engine.exchange import Expectation
from .engine.violations import Severity, Violation
from .redact import REDACTED, SENSITIVE_HEADERS, Redactor, header_secrets
from .results import (CAUSE_TIERS, Cause, Status, Tally, Verdict, causes, final_line, folded_count, message_shape,
                      scenario_status, verdict)

__all__ = ["HttpJudge", "Plan", "Recorder", "TapOptions", "WsJudge", "plan_for"]

MAX_LISTED_FINDINGS = 500  # exchanges with findings listed in results.json and the report (all are counted)
MAX_LISTED_PASSED = 50  # exchanges without findings listed (all are counted)
MAX_KEPT_VIOLATIONS = 20  # per listed exchange, for the report (the counts per check and cause are complete)
MAX_RECORD_REQUEST = 1024 * 1024  # a request body larger than this is not copied into the transcript
MAX_SECRETS = 64  # recent credentials remembered for redacting the final reports
MAX_NOTES = 50
MAX_KEPT_STREAM = 2 * 1024 * 1024  # a background stream's events kept for judging a resume (bytes)
MAX_KEPT_STREAMS_BYTES = 16 * 1024 * 1024  # all of them (the oldest go first)
MAX_KEPT_STREAMS = 64
MAX_CAUSES = 200  # distinct causes kept (check + message shape); further ones are counted together
MAX_CAUSE_EXAMPLES = 20  # occurrences kept per cause (its count is complete)
TIER_LABELS = {"must": "FAIL", "should": "WARN", "known": "KNOWN", "model behaviour": "MODEL"}


# -- what to judge ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """How one request's answer is judged: `kind` stream/response (by the request), an error
    envelope when the status says so."""

    kind: str  # "stream" | "response" | "sniff" (decided by the answer's Content-Type)
    what: str  # "POST /v1/responses (stream)"
    resumes: str | None = None  # the response id whose stream this one resumes (`starting_after`)
    starting_after: int | None = None
    keep: bool = False  # a background stream: its events are kept a while, for a resume to be judged


def _responses_route(path: str) -> tuple[str, str | None] | None:
    """("create", None), ("retrieve", id), ("cancel", id) for a Responses path, else None."""
    parts = [p for p in path.split("/") if p]
    if "responses" not in parts:
        return None
    at = len(parts) - 1 - parts[::-1].index("responses")
    rest = parts[at + 1:]
    if not rest:
        return "create", None
    if rest[0] in ("compact", "input_tokens"):
        return None
    if len(rest) == 1:
        return "retrieve", rest[0]
    if len(rest) == 2 and rest[1] == "cancel":
        return "cancel", rest[0]
    return None  # input_items and whatever else: not a Response


def plan_for(method: str, path: str, query: str, body: bytes | None) -> Plan | None:
    """The plan for one request, or None when it is not judged (passed through)."""
    route = _responses_route(path)
    if route is None:
        return None
    name = route[0]
    method = method.upper()
    if name == "create" and method == "POST":
        ok, value = _json(body) if body is not None else (False, None)
        if not ok or not isinstance(value, dict):
            # not read (a compressed or very large upload) or not JSON: judged by what the answer is
            return Plan("sniff", f"POST {path}")
        streamed = ok and isinstance(value, dict) and value.get("stream") is True
        background = streamed and value.get("background") is True
        return Plan("stream" if streamed else "response", f"POST {path}" + (" (stream)" if streamed else ""),
                    keep=background)
    if name == "retrieve" and method == "GET":
        args = parse_qs(query)
        streamed = args.get("stream", [""])[-1].lower() == "true"
        if streamed and args.get("starting_after"):
            # The tail of a stream: judged after the original's events, as the live suite judges it,
            # when the tap kept them (`Recorder.prefix`); passed through otherwise.
            try:
                after = int(args["starting_after"][-1])
            except ValueError:
                return None
            return Plan("stream", f"GET {path} (stream after {after})", resumes=route[1], starting_after=after)
        return Plan("stream" if streamed else "response", f"GET {path}" + (" (stream)" if streamed else ""))
    if name == "cancel" and method == "POST":
        return Plan("response", f"POST {path}")
    return None


def _json(body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False, None


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class _Decoder:
    """The body as the engine must see it: Content-Encoding (gzip, deflate) undone, chunk by
    chunk; the client gets the raw bytes. Another encoding cannot be judged."""

    def __init__(self, encoding: str | None) -> None:
        encoding = (encoding or "").strip().lower()
        self.problem: str | None = None
        self._inflate = None
        if encoding in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            self.problem = f"the body is sent with Content-Encoding {encoding}, which the tap cannot decode"

    def feed(self, chunk: bytes) -> bytes:
        if self._inflate is None:
            return chunk
        try:
            return self._inflate.decompress(chunk)
        except zlib.error as exc:
            self.problem = f"the body cannot be decompressed: {exc}"
            self._inflate = None
            return b""


def _secrets_of(headers: Iterable[tuple[str, str]], redact: frozenset[str]) -> list[str]:
    out: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname in SENSITIVE_HEADERS or lname in redact:
            out += header_secrets("authorization" if lname in redact else name, value) or [value.strip()]
    return [s for s in out if s]


def _clean_headers(headers: Iterable[tuple[str, str]], redactor: Redactor, redact: frozenset[str]
                   ) -> list[list[str]]:
    return [[n, REDACTED if n.lower() in redact else v] for n, v in redactor.headers(headers)]


# -- options --------------------------------------------------------------------------------------
@dataclass
class TapOptions:
    upstream: str
    host: str = "127.0.0.1"
    port: int = 8080
    profile: str = profiles.DEFAULT
    reports_dir: Path = Path("reports")
    results_json: Path | None = None
    html: Path | None = None
    junit: Path | None = None
    transcripts: bool = True
    max_transcripts: int = 1000
    max_exchanges: int | None = None
    duration: float | None = None
    max_bytes: int = 32 * 1024 * 1024
    max_events: int = 200_000
    idle_timeout: float | None = 600.0
    connect_timeout: float = 10.0
    redact_headers: frozenset[str] = frozenset()
    baseline: Path | None = None
    insecure: bool = False
    quiet: bool = False

    @property
    def results_path(self) -> Path:
        return self.results_json or self.reports_dir / "results.json"

    @property
    def html_path(self) -> Path:
        return self.html or self.reports_dir / "report.html"

    @property
    def junit_path(self) -> Path:
        return self.junit or self.reports_dir / "junit.xml"

    @property
    def transcripts_dir(self) -> Path:
        return self.reports_dir / "transcripts"


# -- what was seen: counts, listed exchanges, findings as they happen ------------------------------
@dataclass
class Seen:
    """One judged exchange, as kept for the report (its violations capped and redacted)."""

    number: int
    label: str
    transcript: capture.Transcript
    status: Status
    record: Path | None = None


class Recorder:
    """Everything the tap learnt, in constant memory, and the outputs written from it.

    Called from the event loop's thread only (the exchanges are judged there); `result()` after
    the server stopped."""

    def __init__(self, options: TapOptions, *, out: IO[str] | None = None,
                 known: Callable[[Violation], bool] = lambda v: False) -> None:
        self.options = options
        self.out = out if out is not None else sys.stdout
        self.known = known
        self.schemas = _load_schemas(options.profile)
        self.started_at = _now()
        self.started = time.monotonic()
        self.numbers = 0  # exchanges started (judged or not)
        self.statuses: Counter[Status] = Counter()
        self.passed_through: Counter[str] = Counter()  # "GET /v1/models" -> count (bounded)
        self.passed_through_total = 0
        self.upstream_errors = 0
        self.client_disconnects = 0
        self.ws_connections = 0
        self.checks: dict[str, dict[str, Any]] = {}  # check -> {severity, exchanges, violations, first}
        self.causes: dict[tuple[str, str, str], dict[str, Any]] = {}  # (check, shape, tier) -> cause, exchanges, first
        self.other_causes = 0  # occurrences of causes beyond MAX_CAUSES
        self.kept_streams: "OrderedDict[str, list[str]]" = OrderedDict()  # response id -> event payloads
        self.kept_bytes = 0
        self.listed_findings: list[Seen] = []
        self.listed_passed: list[Seen] = []
        self.unlisted = 0
        self.notes: deque[str] = deque(maxlen=MAX_NOTES)
        self.secrets: deque[str] = deque(maxlen=MAX_SECRETS)
        self.transcript_files: deque[list[Path]] = deque()
        self.ended_by: str | None = None
        self.on_judged: Callable[[int], None] | None = None

    # -- counting ------------------------------------------------------------------------------
    @property
    def judged(self) -> int:
        return sum(self.statuses.values())

    def next_number(self) -> int:
        self.numbers += 1
        return self.numbers

    def learn(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret not in self.secrets:
                self.secrets.append(secret)

    def pass_through(self, method: str, path: str) -> None:
        self.passed_through_total += 1
        key = f"{method} {_route_shape(path)}"
        if key in self.passed_through or len(self.passed_through) < 100:
            self.passed_through[key] += 1

    def note(self, text: str) -> None:
        self.notes.append(text)

    def say(self, line: str, *, always: bool = False) -> None:
        if self.options.quiet and not always:
            return
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError):
            pass

    # -- findings as they happen ---------------------------------------------------------------
    def tier(self, violation: Violation) -> str:
        """The cause tier of a finding (results.CAUSE_TIERS): a real client's model is not
        scripted, so a model-behaviour finding never counts."""
        if violation.severity is not Severity.MUST:
            return "should"
        if _model(violation.check):
            return "model behaviour"
        return "known" if self.known(violation) else "must"

    def cause_key(self, violation: Violation) -> tuple[str, str, str]:
        return violation.check, message_shape(violation.message), self.tier(violation)

    def finding(self, number: int, what: str, violation: Violation) -> None:
        """A finding as it happens: the first of its cause (check and message shape) in full, a
        cause seen before in one line that says so."""
        if folded_count(violation.message) is not None:
            return  # the checker's "and N more like it": said when the exchange ends
        key = self.cause_key(violation)
        label = TIER_LABELS[key[2]]
        entry = self._cause(key, violation.severity.value, number)
        if entry is None or entry["seen"] == 0:
            self.say(f"{label:<5} #{number} {what}: {violation.check} ({violation.severity.value.upper()}) "
                     f"{violation.where()}: {_one_line(violation.message)}")
        else:
            self.say(f"{label:<5} #{number} {what}: {violation.check} again (the cause first seen in "
                     f"#{entry['first']}; {entry['seen'] + 1} exchanges so far)")
        if entry is not None:
            entry["seen"] += 1

    def _cause(self, key: tuple[str, str, str], severity: str, number: int) -> dict[str, Any] | None:
        entry = self.causes.get(key)
        if entry is None and len(self.causes) < MAX_CAUSES:
            entry = self.causes[key] = {"cause": Cause(key[0], key[1], key[2], severity), "exchanges": 0,
                                        "first": number, "seen": 0}
        return entry

    def finished(self, number: int, what: str, transcript: capture.Transcript, redactor: Redactor,
                 record: Path | None = None) -> Status:
        """One judged exchange is over: count it, keep it (bounded), add its causes."""
        violations = [_redacted(v, redactor) for v in transcript.violations]
        outcome = Status.COULD_NOT_TEST if transcript.could_not_check is not None else Status.PASSED
        status = scenario_status(outcome, violations, deterministic=False, known=self.known)
        self.statuses[status] += 1
        per_check = Counter(v.check for v in violations)
        for check, count in per_check.items():
            first = next(v for v in violations if v.check == check)
            entry = self.checks.setdefault(check, {"severity": first.severity.value, "exchanges": 0,
                                                   "violations": 0, "first": number})
            entry["exchanges"] += 1
            entry["violations"] += count
            if first.severity is Severity.MUST:
                entry["severity"] = "must"
        label = f"#{number} {what}"
        self._add_causes(label, number, violations, record)
        kept = replace(transcript, violations=violations[:MAX_KEPT_VIOLATIONS],
                       notes=[redactor.text(n) for n in transcript.notes[:10]])
        seen = Seen(number, label, kept, status, record)
        bucket, cap = ((self.listed_findings, MAX_LISTED_FINDINGS) if violations or status is not Status.PASSED
                       else (self.listed_passed, MAX_LISTED_PASSED))
        if len(bucket) < cap:
            bucket.append(seen)
        else:
            self.unlisted += 1
        if status is Status.COULD_NOT_TEST:
            self.say(f"{'LIMIT':<5} #{number} {what}: could not check: {transcript.could_not_check}")
        if self.on_judged is not None:
            self.on_judged(self.judged)
        return status

    def _add_causes(self, label: str, number: int, violations: list[Violation], record: Path | None) -> None:
        """The exchange's findings grouped by cause (results.causes, as the live report groups
        them) and added to the run's causes: counts complete, examples bounded."""
        records = []
        for v in violations:
            tier = self.tier(v)
            records.append({**v.to_json(), "scenario": label, "transcript": str(record) if record else None,
                            **({"known": True} if tier == "known" else {}),
                            **({"model_behaviour": True} if tier == "model behaviour" else {})})
        for cause in causes(records):
            entry = self._cause((cause.check, cause.shape, cause.tier), cause.severity, number)
            if entry is None:
                self.other_causes += cause.count
                continue
            entry["exchanges"] += 1
            if cause.count > 1:
                self.say(f"      #{number}: and {cause.count - 1} more like it ({cause.check})")
            kept: Cause = entry["cause"]
            kept.count += cause.count
            room = MAX_CAUSE_EXAMPLES - len(kept.occurrences)
            if room > 0:
                kept.occurrences.extend(cause.occurrences[:room])

    def findings(self) -> list[dict[str, Any]]:
        """results.json's `findings`: the causes, MUST first, then by count (each with at most
        MAX_CAUSE_EXAMPLES exchanges named; its count is complete)."""
        ordered = sorted((e for e in self.causes.values() if e["cause"].count), key=lambda e: (CAUSE_TIERS.index(e["cause"].tier), -e["cause"].count,
                                                              e["cause"].check, e["cause"].shape))
        out = []
        for entry in ordered:
            data = entry["cause"].to_json()
            data["exchanges"] = entry["exchanges"]
            out.append(data)
        return out

    # -- background streams, for their resumes ---------------------------------------------------
    def keep_stream(self, response_id: str, payloads: list[str]) -> None:
        """The events of a background stream, from its first: a resume of it (`starting_after`)
        is judged after them, as the live suite judges it. The list grows as the stream goes on
        (`kept_grew`), so that a client that breaks off and resumes at once finds them. Bounded:
        the oldest streams go first."""
        self.forget_stream(response_id)
        self.kept_streams[response_id] = payloads
        self.kept_bytes += sum(map(len, payloads))
        self._evict()

    def kept_grew(self, response_id: str, size: int) -> None:
        if response_id in self.kept_streams:
            self.kept_bytes += size
            self._evict()

    def forget_stream(self, response_id: str) -> None:
        old = self.kept_streams.pop(response_id, None)
        if old is not None:
            self.kept_bytes -= sum(map(len, old))

    def _evict(self) -> None:
        while len(self.kept_streams) > 1 and (len(self.kept_streams) > MAX_KEPT_STREAMS
                                              or self.kept_bytes > MAX_KEPT_STREAMS_BYTES):
            _, dropped = self.kept_streams.popitem(last=False)
            self.kept_bytes -= sum(map(len, dropped))

    def prefix(self, response_id: str | None, after: int | None) -> list[dict] | None:
        """The kept events of `response_id` up to sequence_number `after`, or None."""
        payloads = self.kept_streams.get(response_id or "")
        if payloads is None or after is None:
            return None
        self.kept_streams.move_to_end(response_id)
        out = []
        for data in payloads:
            ok, value = _json(data.encode("utf-8", "surrogatepass"))
            seq = value.get("sequence_number") if ok and isinstance(value, dict) else None
            if isinstance(seq, int) and not isinstance(seq, bool) and seq <= after:
                out.append(value)
        return out

    # -- transcripts ---------------------------------------------------------------------------
    def transcript_paths(self, number: int, suffix: str) -> tuple[Path, Path] | None:
        if not self.options.transcripts:
            return None
        directory = self.options.transcripts_dir
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"tap-{number:06d}"
        return directory / f"{stem}{suffix}", directory / f"{stem}.json"

    def transcript_done(self, paths: Iterable[Path]) -> None:
        """A transcript is complete: keep it, and remove the oldest beyond --max-transcripts (the
        ones still being written are not counted: there is one per open exchange)."""
        self.transcript_files.append(list(paths))
        while len(self.transcript_files) > max(self.options.max_transcripts, 0):
            for old in self.transcript_files.popleft():
                with contextlib.suppress(OSError):
                    old.unlink()

    # -- the verdict and the outputs -----------------------------------------------------------
    def verdict(self) -> Verdict:
        return verdict(self.statuses.elements())

    def cause(self, chosen: Verdict) -> str | None:
        if chosen is Verdict.NOTHING_TESTED:
            if self.passed_through_total:
                return (f"the tap saw no Responses API exchange ({self.passed_through_total} other requests "
                        "passed through)")
            return "the tap saw no Responses API exchange"
        if chosen is Verdict.NOT_CONFORMANT:
            broken = sorted(c for c, e in self.checks.items() if e["severity"] == "must")
            return f"{self.statuses[Status.FAILED]} exchange(s) broke MUST rules: {', '.join(broken[:10])}"
        if chosen is Verdict.COULD_NOT_TEST:
            return f"{self.statuses[Status.COULD_NOT_TEST]} exchange(s) could not be checked to their end"
        return None

    def results(self) -> dict[str, Any]:
        chosen = self.verdict()
        redactor = Redactor(self.secrets)
        tally = Tally(dict(self.statuses))
        rows = []
        for seen in sorted(self.listed_findings + self.listed_passed, key=lambda s: s.number):
            t = seen.transcript
            rows.append({"id": seen.label, "description": " ".join(filter(None, [t.kind, t.response_id])),
                         "kind": t.kind, "status": str(seen.status), "events": t.events,
                         "notes": list(t.notes), "violations": [v.to_json() for v in t.violations],
                         **({"transcript": str(seen.record)} if seen.record is not None else {})})
        cause = self.cause(chosen)
        if self.other_causes:
            self.note(f"{self.other_causes} finding(s) of causes beyond the first {MAX_CAUSES} are counted per "
                      "check only")
        data = {
            "suite": {"name": "responses-conformance", "version": _suite_version(), "profile": self.options.profile},
            "generated_at": _now(),
            "mode": "tap",
            "target": {"url": self.options.upstream, "model": None, "profile": self.options.profile,
                       "label": f"tap of {self.options.upstream}"},
            "tap": {"listen": f"{self.options.host}:{self.options.port}", "started_at": self.started_at,
                    "seconds": round(time.monotonic() - self.started, 3), "ended_by": self.ended_by,
                    "requests": self.numbers, "judged": self.judged, "passed_through": self.passed_through_total,
                    "passed_through_routes": dict(self.passed_through.most_common(100)),
                    "upstream_errors": self.upstream_errors, "client_disconnects": self.client_disconnects,
                    "websocket_connections": self.ws_connections, "listed": len(rows), "not_listed": self.unlisted},
            "features": {},
            "scenarios": rows,
            "checks": {check: dict(entry) for check, entry in sorted(self.checks.items())},
            "findings": self.findings(),
            "summary": {"scenarios": self.judged, **tally.to_json(), "verdict": chosen.label,
                        "exit_code": chosen.exit_code, **({"cause": cause} if cause else {})},
            "notes": list(self.notes),
        }
        return redactor.json(data)

    def summary_lines(self) -> list[str]:
        chosen = self.verdict()
        lines = [f"tap: {self.numbers} request(s): {self.judged} Responses exchange(s) judged "
                 f"({Tally(dict(self.statuses)).line()}), {self.passed_through_total} passed through"
                 + (f", {self.upstream_errors} upstream error(s)" if self.upstream_errors else "")]
        found = self.findings()
        if found:
            lines.append(f"tap: {len(found)} cause(s):")
        for number, cause in enumerate(found, start=1):
            example = cause["example"]
            lines.append(f"  {number}. {TIER_LABELS.get(cause['severity'], cause['severity'].upper())} "
                         f"{cause['check']}: {cause['count']} occurrence(s) in {cause['exchanges']} exchange(s), "
                         f"e.g. {example.get('scenario')}: {_one_line(example.get('message') or '', 160)}")
        detail = f"{self.judged} exchange(s) judged, {Tally(dict(self.statuses)).line()}"
        cause = self.cause(chosen)
        lines.append(final_line(chosen, cause if cause and chosen is not Verdict.CONFORMANT else detail))
        return lines

    def write_outputs(self) -> list[str]:
        """results.json, report.html, junit.xml; returns problems (one line each)."""
        problems = []
        data = self.results()
        redactor = Redactor(self.secrets)
        for path, render in ((self.options.results_path, lambda: json.dumps(data, indent=2, ensure_ascii=False)),
                             (self.options.html_path, lambda: self._html(data, redactor)),
                             (self.options.junit_path, lambda: _junit(data))):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                text = redactor.text(render())
                temporary = path.with_name(f".{path.name}.tmp")
                temporary.write_text(text + ("\n" if not text.endswith("\n") else ""), encoding="utf-8")
                temporary.replace(path)
            except Exception as exc:  # noqa: BLE001 - one line, the other outputs still written
                problems.append(f"cannot write {path}: {type(exc).__name__}: {exc}")
        return problems

    def _html(self, data: dict[str, Any], redactor: Redactor) -> str:
        from .html_report import render_standalone, replay_inputs

        from types import SimpleNamespace

        kept = sorted(self.listed_findings + self.listed_passed, key=lambda s: s.number)
        views = [SimpleNamespace(label=s.label, verdict=s.transcript.verdict if s.status is not Status.FAILED else "fail",
                                 kind=s.transcript.kind, response_id=s.transcript.response_id,
                                 events=s.transcript.events, notes=s.transcript.notes,
                                 violations=s.transcript.violations, record=None, curl=None,
                                 source=str(s.record) if s.record is not None else s.label) for s in kept]
        results, findings = replay_inputs(views, profile=self.options.profile)
        results["summary"] = dict(data["summary"])
        results["target"] = dict(data["target"])
        results["notes"] = [f"tap: {data['tap']['requests']} requests, {data['tap']['judged']} Responses exchanges "
                            f"judged, {data['tap']['passed_through']} passed through; {data['tap']['not_listed']} "
                            "judged exchanges not listed here (counted in the summary)", *data["notes"]]
        for row, seen in zip(results.get("scenarios", []), kept):
            row["status"] = {Status.FAILED: "failed", Status.COULD_NOT_TEST: "errored"}.get(seen.status, "passed")
        # the run's causes, complete in their counts; the exchanges they name that the page lists
        listed = {s.label for s in kept}
        results["findings"] = [{**f, "scenarios": [x for x in f["scenarios"] if x in listed]} for f in data["findings"]]
        return render_standalone(results, findings, title="Responses API conformance report (tap)")


def _junit(data: dict[str, Any]) -> str:
    """One test case per listed exchange; the verdict as test-suite properties, as the live run."""
    from xml.sax.saxutils import escape, quoteattr

    summary = data["summary"]
    rows = data["scenarios"]
    failures = sum(1 for r in rows if r["status"] == "failed")
    skipped = sum(1 for r in rows if r["status"] in ("could not test",))
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<testsuites>",
             f'<testsuite name="responses-conformance tap" tests="{len(rows)}" failures="{failures}" errors="0" '
             f'skipped="{skipped}">',
             "<properties>",
             f'<property name="conformance_verdict" value={quoteattr(summary["verdict"])}/>',
             f'<property name="conformance_exit_code" value="{summary["exit_code"]}"/>',
             f'<property name="conformance_cause" value={quoteattr(summary.get("cause") or "")}/>',
             f'<property name="tap_judged" value="{summary["scenarios"]}"/>',
             "</properties>"]
    for row in rows:
        name = quoteattr(row["id"])
        lines.append(f'<testcase classname="tap" name={name}>')
        must = [v for v in row["violations"] if v["severity"] == "must"]
        if row["status"] == "failed":
            text = "\n".join(f"{v['check']}: {v['message']}" for v in must[:20])
            first = must[0]["check"] if must else "failed"
            lines.append(f"<failure message={quoteattr(first)}>{escape(text)}</failure>")
        elif row["status"] == "could not test":
            lines.append(f"<skipped message={quoteattr('could not test: ' + '; '.join(row['notes'])[:300])}/>")
        should = [v for v in row["violations"] if v["severity"] != "must"]
        if should:
            lines.append("<system-out>" + escape("\n".join(f"warning {v['check']}: {v['message']}"
                                                           for v in should[:20])) + "</system-out>")
        lines.append("</testcase>")
    lines += ["</testsuite>", "</testsuites>"]
    return "\n".join(lines)


def _model(check: str) -> bool:
    from .results import is_model_behaviour

    return is_model_behaviour(check)


def _redacted(violation: Violation, redactor: Redactor) -> Violation:
    return replace(violation, message=redactor.text(violation.message),
                   excerpt=redactor.text(violation.excerpt) if violation.excerpt else violation.excerpt)


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _route_shape(path: str) -> str:
    """A path with its ids folded (`/v1/responses/{id}/input_items`): the pass-through counts stay few."""
    parts = []
    for part in path.split("/"):
        parts.append("{id}" if len(part) > 24 or any(ch.isdigit() for ch in part) and "_" in part else part)
    return "/".join(parts)[:120]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _suite_version() -> str:
    from . import suite_version

    return suite_version()


def _load_schemas(profile: str) -> Any:
    from .engine.schemas import SchemaSet

    return SchemaSet.load(profile=profile)


# -- one HTTP exchange: head, chunks, close (no I/O but its transcript) -----------------------------
class HttpJudge:
    """One judged HTTP exchange: the upstream's head and raw body chunks in, findings out as they
    appear (`Recorder.finding`), the transcript written as the body goes by."""

    def __init__(self, recorder: Recorder, number: int, plan: Plan, *, method: str, url: str,
                 request_headers: list[tuple[str, str]], request_body: bytes | None,
                 prefix: list[dict] | None = None) -> None:
        self.recorder = recorder
        self.prefix = prefix or []
        self._kept: list[str] | None = [] if plan.keep or prefix is not None else None  # for resumes
        self._kept_size = 0
        self._kept_id: str | None = None
        self._kept_decoder: Any = None
        self.number = number
        self.plan = plan
        self.options = recorder.options
        redact = self.options.redact_headers
        secrets = _secrets_of(request_headers, redact)
        recorder.learn(secrets)
        self.redactor = Redactor(secrets)
        self.what = plan.what
        self.method, self.url = method, self.redactor.text(url)
        self.request_headers = _clean_headers(request_headers, self.redactor, redact)
        self.request_body = request_body
        self.replay: capture.ExchangeReplay | None = None
        self.decoder: _Decoder | None = None
        self.started = time.monotonic()
        self.first_byte: float | None = None
        self.bytes_in = 0
        self.judged_bytes = 0
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.limit: str | None = None
        self.problem: str | None = None
        self._shown: Counter[tuple[str, str, str]] = Counter()
        self._seen = 0
        self._body_file: IO[bytes] | None = None
        self._stream_redactor = self.redactor.stream()
        self._paths: tuple[Path, Path] | None = None
        self.closed = False

    def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, headers
        kind = self.plan.kind
        if status < 200 or 300 <= status < 400:  # a redirect or an interim answer: nothing to judge
            self.closed = True
            self.recorder.pass_through(self.method, urlsplit(self.url).path)
            return
        if status >= 400:
            expectation = Expectation("error", statuses=(status,))
        elif kind == "sniff":
            ctype = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
            expectation = Expectation("stream" if ctype == "text/event-stream" else "response")
        else:
            expectation = Expectation(kind, starting_after=self.plan.starting_after if self.prefix else None)
        self.replay = capture.ExchangeReplay(self.what, self.number, expectation, status, headers,
                                             schemas=self.recorder.schemas, profile=self.options.profile,
                                             prefix=self.prefix)
        if self._kept is not None and status == 200:
            from .engine.sse import SseDecoder

            self._kept_decoder = SseDecoder()
        else:
            self._kept = None
        self.decoder = _Decoder(_header(headers, "content-encoding"))
        if self.decoder.problem:
            self.problem = self.decoder.problem
        ctype = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        paths = self.recorder.transcript_paths(self.number, ".sse" if ctype == "text/event-stream" else ".body")
        if paths is not None:
            self._paths = paths
            try:
                self._body_file = open(paths[0], "wb")
            except OSError as exc:
                self.recorder.note(f"transcripts: cannot write {paths[0]}: {exc.strerror or exc}")
                self._paths = None
        self._report()

    def body(self, raw: bytes) -> None:
        if self.replay is None or self.closed:
            return
        if self.first_byte is None:
            self.first_byte = time.monotonic() - self.started
        self.bytes_in += len(raw)
        if self.problem is not None or self.limit is not None:
            return
        assert self.decoder is not None
        chunk = self.decoder.feed(raw)
        if self.decoder.problem:
            self.problem = self.decoder.problem
            return
        if not chunk:
            return
        if self.judged_bytes + len(chunk) > self.options.max_bytes:
            self.limit = f"the body is larger than {self.options.max_bytes} bytes (--max-bytes)"
            return
        self.judged_bytes += len(chunk)
        if self._body_file is not None:
            try:
                self._body_file.write(self._stream_redactor.feed(chunk))
            except OSError:
                self._body_file = None
        self.replay.body(chunk)
        if self._kept is not None:
            self._keep(chunk)
        checker = self.replay.checker
        if checker.events > self.options.max_events:
            self.limit = f"the stream has more than {self.options.max_events} events (--max-events)"
        self._report()

    def _resume_findings(self) -> list[Violation]:
        """The live suite's cross-step rule for a resume (consistency.resume_continues), on the
        original's events the tap kept and this stream's. When the tap saw the original only up
        to where the client broke off, what came after `starting_after` there is unknown: the
        resumed stream stands for it, so only where it starts is judged."""
        from .engine.assertions import StepView, run
        from .engine.checker import stamp

        tail = self._kept
        original = self.recorder.kept_streams.get(self.plan.resumes or "")
        after = self.plan.starting_after
        if tail is None or original is None or after is None or self.status != 200:
            return []
        decode = [_json(d.encode("utf-8", "surrogatepass")) for d in tail]
        again = [v for ok, v in decode if ok and isinstance(v, dict)]
        before = [v for ok, v in (_json(d.encode("utf-8", "surrogatepass")) for d in original)
                  if ok and isinstance(v, dict)]
        whole = bool(before) and before[-1].get("type") in ("response.completed", "response.failed",
                                                            "response.incomplete")
        if not whole:
            before = [e for e in before if isinstance(e.get("sequence_number"), int)
                      and e["sequence_number"] <= after] + again
        steps = {"original": StepView("original", events=before, status=200),
                 "resumed": StepView("resumed", events=again, status=self.status)}
        found = run("consistency.resume_continues", steps, {"original": "original", "resumed": "resumed",
                                                           "after": after})
        return stamp(found, self.options.profile)

    def _keep(self, chunk: bytes) -> None:
        """A background stream's payloads, kept (bounded) for a resume of it to be judged after them."""
        from .engine.sse import SseEvent

        kept = self._kept
        assert kept is not None
        grew = 0
        for item in self._kept_decoder.feed(chunk):
            if type(item) is SseEvent:
                kept.append(item.data)
                grew += len(item.data)
        self._kept_size += grew
        if self.plan.resumes is not None:  # a resumed stream's own events: for consistency.resume_continues
            if self._kept_size > MAX_KEPT_STREAM:
                self._kept = None
            return
        if self._kept_id is None and kept:
            ok, first = _json(kept[0].encode("utf-8", "surrogatepass"))
            response = first.get("response") if ok and isinstance(first, dict) else None
            rid = response.get("id") if isinstance(response, dict) else None
            if not isinstance(rid, str):
                self._kept = None  # no id to resume by
                return
            self._kept_id = rid
            self.recorder.keep_stream(rid, kept)
        elif self._kept_id is not None:
            self.recorder.kept_grew(self._kept_id, grew)
        if self._kept_size > MAX_KEPT_STREAM:
            if self._kept_id is not None:
                self.recorder.forget_stream(self._kept_id)
            self._kept = None

    def _report(self) -> None:
        assert self.replay is not None
        found = self.replay.checker.violations
        while self._seen < len(found):
            violation = found[self._seen]
            self._seen += 1
            self._show(violation)

    def _show(self, violation: Violation) -> None:
        violation = _redacted(violation, self.redactor)
        key = self.recorder.cause_key(violation)
        self._shown[key] += 1
        if self._shown[key] == 1:  # the rest of this cause in this exchange: one line when it ends
            self.recorder.finding(self.number, self.what, violation)

    def close(self, end: str = "eof", error: str | None = None) -> Status | None:
        """The exchange is over (`end`: eof, client_disconnected, upstream_error, tap_stopped)."""
        if self.closed:
            return None
        self.closed = True
        if self.replay is None:  # no answer at all: nothing judged
            return None
        notes = []
        complete = end == "eof" and self.limit is None and self.problem is None
        if end == "client_disconnected":
            notes.append("the client disconnected before the end of the answer: what arrived was judged, the "
                         "end-of-stream rules were not run")
        elif end == "upstream_error":
            notes.append(f"the upstream connection broke before the end of the answer ({error}): what arrived was "
                         "judged, the end-of-stream rules were not run")
        elif end == "tap_stopped":
            notes.append("the tap stopped before the end of the answer: what arrived was judged")
        self.replay.complete = complete
        self.replay.notes.extend(notes)
        transcript = self.replay.close()
        if self.plan.resumes is not None and complete:
            transcript.violations.extend(self._resume_findings())
        for violation in transcript.violations[self._seen:]:
            self._show(violation)
        if self.limit is not None:
            transcript.could_not_check = f"limit: {self.limit}"
            transcript.notes.append(f"could not check: {transcript.could_not_check}; what came before it was checked")
        elif self.problem is not None and not transcript.violations:
            transcript.could_not_check = self.problem
            transcript.notes.append(f"could not check: {self.problem}")
        self._kept = None  # what was kept stays with the recorder (a stream the client broke off: it resumes)
        record = self._write_record(transcript, end, error)
        return self.recorder.finished(self.number, self.what, transcript, self.redactor, record)

    def abandon(self) -> None:
        """Nothing judged (no answer came): remove the transcript that was begun."""
        self.closed = True
        if self._body_file is not None:
            self._body_file.close()
            self._body_file = None
        if self._paths is not None:
            with contextlib.suppress(OSError):
                self._paths[0].unlink()

    def _write_record(self, transcript: capture.Transcript, end: str, error: str | None) -> Path | None:
        if self._paths is None:
            return None
        body_path, record_path = self._paths
        if self._body_file is not None:
            with contextlib.suppress(OSError):
                self._body_file.write(self._stream_redactor.flush())
                self._body_file.close()
            self._body_file = None
        request_body: Any = None
        if self.request_body is not None:
            if len(self.request_body) <= MAX_RECORD_REQUEST:
                ok, value = _json(self.request_body)
                request_body = value if ok else self.request_body.decode("utf-8", "replace")
            else:
                request_body = f"<{len(self.request_body)} bytes, not kept>"
        redactor = self.redactor
        record = {
            "name": f"tap-{self.number:06d}",
            "request": {"method": self.method, "url": self.url, "headers": self.request_headers,
                        "body": request_body, "curl": None},
            "response": {"status": self.status,
                         "headers": _clean_headers(self.headers, redactor, self.options.redact_headers),
                         "end": end, "error": error, "elapsed_s": round(time.monotonic() - self.started, 4),
                         "first_byte_after_s": round(self.first_byte, 4) if self.first_byte is not None else None,
                         "content_encoding": _header(self.headers, "content-encoding"),
                         "bytes_received": self.bytes_in, "body_file": body_path.name},
            "events": [],
            "violations": [_redacted(v, redactor).to_json() for v in transcript.violations[:MAX_KEPT_VIOLATIONS]],
            "tap": {"exchange": self.number, "what": self.what, "kind": transcript.kind, "notes": transcript.notes},
        }
        try:
            record_path.write_text(redactor.text(json.dumps(redactor.json(record), indent=2, ensure_ascii=False))
                                   + "\n", encoding="utf-8")
        except OSError as exc:
            self.recorder.note(f"transcripts: cannot write {record_path}: {exc.strerror or exc}")
            self.recorder.transcript_done([body_path])
            return None
        self.recorder.transcript_done([body_path, record_path])
        return record_path


# -- one WebSocket connection on /responses: one StepJudge per response.create ------------------------
class WsJudge:
    """The frames of one WebSocket connection. Each client message opens a turn (a `StepJudge`
    with one message sent) unless the turn before is still waiting for answers; the server's
    frames go to the open turn. A turn ends when it is answered, or with the connection."""

    def __init__(self, recorder: Recorder, what: str, request_headers: list[tuple[str, str]], url: str) -> None:
        self.recorder = recorder
        self.what = what
        redact = recorder.options.redact_headers
        secrets = _secrets_of(request_headers, redact)
        recorder.learn(secrets)
        self.redactor = Redactor(secrets)
        self.request_headers = _clean_headers(request_headers, self.redactor, redact)
        self.url = self.redactor.text(url)
        self.turn: _Turn | None = None

    def client_message(self, data: str | bytes) -> None:
        turn = self.turn
        if turn is None or turn.judge.done:
            if turn is not None:
                self._finish(turn, complete=True)
            self.turn = turn = self._new_turn(sent=1)
        else:
            turn.judge.sent += 1
        turn.log({"dir": "out", **_frame_line(data)})

    def server_message(self, data: str | bytes) -> None:
        turn = self.turn
        if turn is None:
            self.turn = turn = self._new_turn(sent=0)
        turn.log({"dir": "in", **_frame_line(data)})
        turn.judge.frame(data)
        turn.report()
        if turn.judge.done and turn.judge.sent:
            self._finish(turn, complete=True)
            self.turn = None

    def closed(self, by: str, code: int | None, reason: str = "") -> None:
        turn = self.turn
        self.turn = None
        if turn is None:
            return
        turn.log({"dir": "close", "by": by, "code": code, "reason": reason})
        if by == "server":
            turn.judge.server_closed(code, reason)
            self._finish(turn, complete=True)
        else:
            turn.notes.append("the client closed the connection before the answer ended: what arrived was judged")
            self._finish(turn, complete=False)

    def _new_turn(self, sent: int) -> "_Turn":
        from .ws import StepJudge

        number = self.recorder.next_number()
        judge = StepJudge(Expectation("any"), sent=sent, schemas=self.recorder.schemas,
                          profile=self.recorder.options.profile)
        turn = _Turn(self, number, judge)
        paths = self.recorder.transcript_paths(number, ".ws.jsonl")
        if paths is not None:
            turn.paths = paths
            try:
                turn.file = open(paths[0], "w", encoding="utf-8")
            except OSError:
                turn.paths = None
        return turn

    def _finish(self, turn: "_Turn", *, complete: bool) -> None:
        judge = turn.judge
        judge.finish(complete=complete)
        turn.report()
        first = judge.first_response
        response_id = first.response.get("id") if first is not None and isinstance(first.response, dict) else None
        kind = "stream" if judge.responses else "error" if judge.answers else "stream"
        transcript = capture.Transcript(self.what, turn.number, kind, list(judge.violations),
                                        response_id=response_id if isinstance(response_id, str) else None,
                                        events=judge.events_checked, notes=list(turn.notes))
        if not judge.responses and not judge.answers and not judge.violations:
            # a message nobody answered before the connection ended, and nothing to judge
            turn.close_file()
            if turn.paths is not None:
                with contextlib.suppress(OSError):
                    turn.paths[0].unlink()
            return
        record = turn.write_record(transcript, complete)
        self.recorder.finished(turn.number, f"{self.what} (websocket)", transcript, self.redactor, record)

    def abandon(self) -> None:
        if self.turn is not None:
            self.closed("tap", None)


@dataclass
class _Turn:
    owner: WsJudge
    number: int
    judge: Any
    paths: tuple[Path, Path] | None = None
    file: IO[str] | None = None
    notes: list[str] = field(default_factory=list)
    shown: Counter = field(default_factory=Counter)
    seen: int = 0
    sent_lines: int = 0

    def log(self, line: dict) -> None:
        if line.get("dir") == "out" and self.sent_lines < 100:
            self.sent_lines += 1
        if self.file is not None:
            try:
                self.file.write(self.owner.redactor.text(json.dumps(line, ensure_ascii=False)) + "\n")
            except OSError:
                self.file = None

    def report(self) -> None:
        found = self.judge.violations
        while self.seen < len(found):
            violation = found[self.seen]
            self.seen += 1
            violation = _redacted(violation, self.owner.redactor)
            key = self.owner.recorder.cause_key(violation)
            self.shown[key] += 1
            if self.shown[key] == 1:
                self.owner.recorder.finding(self.number, f"{self.owner.what} (websocket)", violation)

    def close_file(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None

    def write_record(self, transcript: capture.Transcript, complete: bool) -> Path | None:
        self.close_file()
        if self.paths is None:
            return None
        frames, record_path = self.paths
        redactor = self.owner.redactor
        record = {
            "name": f"tap-{self.number:06d}",
            "transport": "websocket",
            "request": {"method": "GET", "url": self.owner.url, "headers": self.owner.request_headers,
                        "body": None, "curl": None},
            "response": {"status": 101, "headers": [], "end": "eof" if complete else "client_closed",
                         "error": None, "complete": complete, "body_file": frames.name},
            "events": [],
            "violations": [_redacted(v, redactor).to_json() for v in transcript.violations[:MAX_KEPT_VIOLATIONS]],
            "tap": {"exchange": self.number, "kind": transcript.kind, "notes": transcript.notes},
        }
        try:
            record_path.write_text(redactor.text(json.dumps(redactor.json(record), indent=2, ensure_ascii=False))
                                   + "\n", encoding="utf-8")
        except OSError:
            self.owner.recorder.transcript_done([frames])
            return None
        self.owner.recorder.transcript_done([frames, record_path])
        return record_path


def _frame_line(data: str | bytes) -> dict:
    if isinstance(data, (bytes, bytearray)):
        import base64

        return {"binary": base64.b64encode(bytes(data)).decode("ascii")}
    ok, value = _json(data.encode("utf-8", "surrogatepass"))
    return {"data": value} if ok else {"text": data}
