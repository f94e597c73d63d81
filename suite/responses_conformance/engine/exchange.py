"""Checks for one whole HTTP exchange: status line and headers, then the body.

Sans-IO like the stream checker: the HTTP layer calls `head()` once and `body()` per chunk
as bytes arrive, then `close()`. What the body is checked as depends on what the scenario
expects (`stream`, `response` or `error`) and on what actually arrived.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from . import profiles
from .checker import Stamper, StreamChecker, check_response_body, parse_json
from .checks import error as error_checks
from .registry import MUST, STREAM, SUCCESS, declare
from .violations import Finding, Violation

MAX_JSON_BODY = 8 * 1024 * 1024  # a Response object or an error envelope is far smaller


@dataclass(frozen=True)
class Expectation:
    kind: str  # "stream" | "response" | "error" | "any" (recorded, judged only by scenario assertions)
    statuses: tuple[int, ...] = (200,)
    error_type: str | None = None
    error_param: str | None = None
    starting_after: int | None = None
    resume_of: str | None = None  # the step whose stream a `starting_after` request resumes


def media_type(headers: Iterable[tuple[str, str]]) -> str | None:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return None


declare("framing.http_status_ok", MUST, SUCCESS,
        "A valid request is answered with HTTP 200.",
        "SPEC: POST /responses declares 200 for success; OBS: every OpenAI capture.",
        http_only=True, head=True, request_caused=True)
declare("framing.content_type_event_stream", MUST, STREAM,
        "A `stream: true` response has Content-Type text/event-stream.",
        "OR: 'MUST have Content-Type text/event-stream'; rig and routing proxies reject others (real-world A-04, A-05).",
        http_only=True, head=True)
declare("framing.content_type_json", MUST, frozenset({"response", "error"}),
        "A non-streamed response or an HTTP error has Content-Type application/json.",
        "OR: non-streaming responses are application/json; SDKs parse error bodies as JSON (A-05, G-08).",
        http_only=True, head=True)


class ExchangeChecker:
    def __init__(self, expectation: Expectation, *, schemas: Any = None, checks: Iterable[str] | None = None,
                 profile: str | profiles.Profile | None = None, prefix: Iterable[dict] = ()) -> None:
        self.expectation = expectation
        self._prefix = list(prefix)
        self.profile = profiles.get(profile)
        self._schemas = schemas
        self._checks = checks
        self._stamper = Stamper(checks, self.profile)
        self.status: int | None = None
        self.content_type: str | None = None
        self.stream: StreamChecker | None = None
        self._buffer = bytearray()
        self._overflow = False
        self._sniffing = True  # a 200 to a stream request: SSE unless the body turns out to be JSON
        self._wrong_stream_type = False  # a stream request answered 200 without text/event-stream
        self.body_json: Any = None
        self.violations: list[Violation] = []

    # -- ExchangeSink -------------------------------------------------------------------------
    def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status = status
        self.content_type = media_type(headers)
        kind = self.expectation.kind
        findings: list[Finding] = []
        if kind == "stream" and status == 200 and self.content_type != "text/event-stream":
            # Said once the body shows what came instead: an event stream with the wrong
            # Content-Type, or a JSON body (one cause, one finding).
            self._wrong_stream_type = True
        if kind == "response" and status == 200 and self.content_type == "text/event-stream":
            # The request did not ask for a stream; the target streamed anyway. One failure, and
            # the stream is still judged as a stream, so the scenario's assertions see its response.
            findings.append(Finding("framing.content_type_json",
                                    "the request did not ask for a stream (no `stream: true`), but the target "
                                    "answered with an event stream", "$"))
        elif kind == "error" and self._refusal_accepted():
            pass  # a success answer to a request that must be refused: error.status_fits says it, once
        elif kind in ("response", "error") and self.content_type != "application/json":
            findings.append(Finding("framing.content_type_json", f"Content-Type is {self.content_type or 'missing'}",
                                    "$"))
        self._add(findings)

    def body(self, chunk: bytes) -> None:
        if self._streaming_expected():
            if self._sniffing:
                self._buffer += chunk
                stripped = bytes(self._buffer).lstrip()
                if not stripped:
                    return
                self._sniffing = False
                if stripped.startswith(b"{") or stripped.startswith(b"["):
                    return  # a JSON body where a stream was asked for: judged at close
                if self._wrong_stream_type:
                    self._add([Finding("framing.content_type_event_stream",
                                       f"Content-Type is {self.content_type or 'missing'}", "$")])
                    self._wrong_stream_type = False
                self._start_stream()
                chunk, self._buffer = bytes(self._buffer), bytearray()
            if self.stream is not None:
                self.violations.extend(self._resumed(self.stream.feed_bytes(chunk)))
                return
        if len(self._buffer) + len(chunk) > MAX_JSON_BODY:
            self._overflow = True
            return
        self._buffer += chunk

    def close(self) -> list[Violation]:
        violations = self._close()
        violations.extend(self._stamper.summaries())  # "and N more like it" for what the cap folded
        return violations

    def _close(self) -> list[Violation]:
        if self.stream is not None:
            self.violations.extend(self._resumed(self.stream.close()))
            return self.violations
        kind = self.expectation.kind
        ok, value = (False, None) if self._overflow else parse_json(bytes(self._buffer))
        self.body_json = value if ok else None
        if kind in ("stream", "response") and self.status != 200:
            said = value.get("error") if ok and isinstance(value, dict) else None
            said = said.get("message") if isinstance(said, dict) else None
            self._add([Finding("framing.http_status_ok", f"HTTP {self.status} to a valid request"
                               + (f": {_show(str(said).encode())}" if said else ""), "$")])
            return self.violations
        if kind == "stream":
            if self.status == 200 and not bytes(self._buffer).strip() and self.content_type == "text/event-stream":
                # An empty event stream is a stream without events: the grammar says what is missing.
                self._start_stream()
                self.violations.extend(self._resumed(self.stream.close()))
            elif self.status == 200:
                what = "a JSON body" if ok else "no stream at all"
                self._add([Finding("framing.content_type_event_stream",
                                   f"a stream was asked for, the target sent {what} "
                                   f"(Content-Type {self.content_type or 'missing'})", "$")])
        elif kind == "any":
            pass  # recorded for the scenario's assertions, which judge it
        elif kind == "response":
            if self.status == 200:
                if ok:
                    self.violations.extend(check_response_body(value, schemas=self._schemas, checks=self._checks,
                                                               profile=self.profile))
                else:
                    self._add([Finding("schema.response", f"the body is not JSON: {_show(self._buffer)}", "$")])
        elif self._refusal_accepted():
            self._add(self._accepted_refusal(ok, value))
        else:
            note = None
            if self._overflow:
                note = f"the error body is larger than {MAX_JSON_BODY} bytes"
            elif not ok:
                note = f"the error body is not JSON: {_show(self._buffer)}"
            expectation = self.expectation
            self._add(error_checks.check_error_response(
                self.status, value, expected_statuses=expectation.statuses, expected_type=expectation.error_type,
                expected_param=expectation.error_param, body_note=note))
        return self.violations

    # -- results ------------------------------------------------------------------------------
    @property
    def final_response(self) -> dict | None:
        if self.stream is not None:
            return self.stream.final_response
        if self.expectation.kind == "response" and isinstance(self.body_json, dict):
            return self.body_json
        return None

    @property
    def events(self) -> int:
        return self.stream.event_count - len(self._prefix) if self.stream is not None else 0

    @property
    def dropped(self) -> dict[str, int]:
        """Violations counted but not kept (past MAX_KEPT_PER_CHECK), per check id."""
        out = dict(self._stamper.dropped)
        if self.stream is not None:
            for check, count in self.stream.dropped.items():
                out[check] = out.get(check, 0) + count
        return out

    def _start_stream(self) -> None:
        self.stream = StreamChecker(schemas=self._schemas, checks=self._checks, profile=self.profile,
                                    starting_after=None if self._prefix else self.expectation.starting_after)
        # A resumed stream (starting_after=N) is the tail of a stream already checked: the
        # original's events up to N go first, silently, so the tail is judged in full context
        # (its items were opened before N) and must continue it exactly.
        for payload in self._prefix:
            self.stream.feed_payload(payload)
        self.stream.violations.clear()

    def _resumed(self, violations: list[Violation]) -> list[Violation]:
        """Event indexes of a resumed stream count from its own first event."""
        if not self._prefix:
            return violations
        offset = len(self._prefix)
        return [replace(v, event_index=v.event_index - offset) if v.event_index is not None else v
                for v in violations]

    def _streaming_expected(self) -> bool:
        if self.status != 200:
            return False
        return self.expectation.kind == "stream" or (
            self.expectation.kind == "response" and self.content_type == "text/event-stream")

    def _refusal_accepted(self) -> bool:
        """A request that must be refused was answered with a success status."""
        return self.status is not None and 200 <= self.status < 300 and self.status not in self.expectation.statuses

    def _accepted_refusal(self, ok: bool, value: Any) -> list[Finding]:
        """One cause, one failure: the success status is the finding (error.status_fits); what the
        body was goes into its message as context, not into more failures. A body that is an
        event stream is read: an `error` event there without `response.failed` is a defect of
        its own (error.event_followed_by_failed)."""
        expected = " or ".join(map(str, self.expectation.statuses))
        body = bytes(self._buffer)
        found: list[Finding] = []
        if self.content_type == "text/event-stream" or (not ok and body.lstrip().startswith((b"event:", b"data:"))):
            # The stream checks that apply to a request that must be refused as well (applies:
            # stream and error): error.event_followed_by_failed.
            refusal_checks = [c.id for c in self.profile.checks_for("error") if "stream" in c.applies]
            stream = StreamChecker(checks=refusal_checks, profile=self.profile)
            stream.feed_bytes(body)
            stream.close()
            said = _first_error_message(body)
            what = f"an event stream ({stream.event_count} events" + (f"; error: {said}" if said else "") + ")"
            found.append(Finding("error.status_fits",
                                 f"HTTP {self.status}, expected {expected}: the request must be refused, and the "
                                 f"target answered with {what}", "$"))
            found += [Finding(v.check, v.message, v.path) for v in stream.violations]
            return found
        if ok and isinstance(value, dict) and value.get("object") == "response":
            what = f"a Response object (status {value.get('status')!r})"
        elif ok:
            what = f"a JSON {type(value).__name__}" if not isinstance(value, dict) else "a JSON object without an error"
        else:
            what = f"Content-Type {self.content_type or 'missing'} and {_show(self._buffer)}"
        found.append(Finding("error.status_fits",
                             f"HTTP {self.status}, expected {expected}: the request must be refused, and the target "
                             f"answered with {what}", "$"))
        return found

    def _add(self, findings: Iterable[Finding]) -> None:
        self.violations.extend(self._stamper.stamp(findings))


def _first_error_message(body: bytes) -> str | None:
    """The message of the first `error` event of an event stream, for a finding's context."""
    for line in body.decode("utf-8", errors="replace").splitlines():
        if not line.startswith("data:"):
            continue
        ok, payload = parse_json(line[5:].strip())
        if ok and isinstance(payload, dict) and payload.get("type") == "error":
            error = payload.get("error") if isinstance(payload.get("error"), dict) else payload
            message = error.get("message")
            return repr(message[:120]) if isinstance(message, str) else None
    return None


def _show(data: bytes | bytearray, limit: int = 120) -> str:
    text = bytes(data[:limit]).decode("utf-8", errors="replace")
    return repr(text + ("…" if len(data) > limit else "")) if data else "an empty body"
