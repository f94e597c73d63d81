"""The judge of WebSocket mode, sans-IO: the frames of one scenario step go in (text, binary,
a close), the violations come out.

Each response's events go through their own `StreamChecker` (`feed_payload`: every stream rule
applies as it is, and sequence numbers restart per response). What only a connection can break
is judged here: frames that are not JSON text, close codes, error frames, responses that
interleave or carry their numbering on, a `response.create` left without an answer. The live
runner (through ws.py's connections), replay and the tap feed it the same frames, so every one
of them reaches the same verdict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from . import grammar as g
from . import profiles, registry
from .checker import Stamper, StreamChecker, parse_json
from .checks import error as error_checks
from .checks.error import error_frame_problems
from .exchange import Expectation
from .registry import MUST, SHOULD, WEBSOCKET, declare
from .state import Event
from .violations import Finding, Violation

__all__ = ["NORMAL_CLOSE_CODES", "StepJudge", "WsAnswer", "error_frame_problems"]

NORMAL_CLOSE_CODES = frozenset({1000, 1001, 1005})  # 1005: a close frame without a code
_EXCERPT = 400


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------------------------
# The judge (sans-IO)


@dataclass
class WsAnswer:
    """What answered one `response.create`: a response stream or an error frame."""

    kind: str  # "response" | "error"
    frame: int  # the frame (index among the step's incoming frames) that completed it
    response: dict | None = None  # the terminal event's Response
    events: list[dict] = field(default_factory=list)
    error: dict | None = None  # the error frame


class _Response:
    def __init__(self, checker: StreamChecker) -> None:
        self.checker = checker
        self.frames: list[int] = []  # the step's frame index of each event fed, in order
        self.events: list[dict] = []
        self.answered = False

    @property
    def id(self) -> Any:
        identity = self.checker.state.identity
        return identity.get("id") if identity else None

    @property
    def ended(self) -> bool:
        return self.checker.state.ended


declare("framing.ws_upgrade_accepted", MUST, WEBSOCKET,
        "A WebSocket upgrade to `/responses` is answered with HTTP 101 (a target without WebSocket mode refuses "
        "it with a 4xx, which is reported as unsupported).",
        "OR: `x-openresponses-websocket` on /responses; RFC 6455 section 4.1: any other answer fails the handshake.")
declare("framing.ws_text_frames", MUST, WEBSOCKET,
        "Every frame the server sends is a text frame of valid UTF-8 holding one JSON object.",
        "OR/SPEC: server messages are the streaming event objects (ResponsesServerEvent); RFC 6455 section 8.1: "
        "clients fail the connection (1007) on a text frame that is not UTF-8; SDKs json-decode every message.")
declare("framing.ws_close_clean", SHOULD, WEBSOCKET,
        "The server closes the connection with a close frame and a normal code (1000 or 1001).",
        "RFC 6455 section 7.4.1: other codes report a failure (1011 internal error, 1002 protocol error, ...); "
        "clients retry or fall back to HTTP on them.")
declare("framing.ws_create_streamed", MUST, WEBSOCKET,
        "A valid `response.create` is answered with the response's events, not with an error frame.",
        "OR compliance tests (websocket-response, websocket-sequential-responses): every turn ends with a valid "
        "completed response; the HTTP twin of framing.http_status_ok.",
        reads=("stream", "error"))
declare("grammar.ws_sequential_responses", MUST, WEBSOCKET,
        "A connection carries several responses one at a time: each ends with its terminal event before the next "
        "`response.created`, every `response.create` gets an answer (its response, or an error frame while another "
        "is in flight), and the server keeps the connection open between them.",
        "OR 2026-04-24: one in-flight response per connection; OR compliance test websocket-sequential-responses; "
        "SPEC ResponsesClientEventResponseCreate: requests are processed FIFO. Events carry no response id: "
        "interleaved responses cannot be told apart.")
declare("sequence.ws_restarts_at_zero", MUST, WEBSOCKET,
        "Over a WebSocket every response's events are numbered from 0, as on their own stream: the numbering does "
        "not carry on from the previous response on the connection.",
        "OR: sequence_number has 'the same meaning on both transports'; SPEC starting_after resumes address a "
        "response's own numbers; OBS: every stream starts at 0.",
        reads=("stream",))


class StepJudge:
    """The frames of one WebSocket step (after its `sent` client messages) in, violations out.

    Feed `upgrade()` when the step opened the connection, `frame()` per incoming frame, then
    `server_closed()` / `client_failed()` when the connection ended, and `finish()` once.
    `done` says when every message sent has its answer and no response is open: the step stops
    reading there.
    """

    def __init__(self, expectation: Expectation, *, sent: int, schemas: Any = None,
                 checks: Iterable[str] | None = None, profile: str | profiles.Profile | None = None,
                 error_code: str | None = None) -> None:
        self.expectation = expectation
        self.sent = sent
        self.error_code = error_code
        self.profile = profiles.get(profile)
        self._schemas = schemas
        if checks is None:
            chosen = [c.id for c in registry.CHECKS if c.applies & {"stream", "websocket", "error"}]
        else:
            chosen = list(checks)
        self._checks = [c for c in chosen if c not in registry.HTTP_ONLY_CHECKS]
        self._stamper = Stamper(self._checks, self.profile)
        self.responses: list[_Response] = []
        self._open: list[_Response] = []
        self.answers: list[WsAnswer] = []
        self.frames = 0
        self.violations: list[Violation] = []
        self.closed_by_server: tuple[int | None, str] | None = None
        self.upgrade_status: int | None = None
        self._closed_before = False
        self._finished = False

    # -- results ------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return len(self.answers) >= self.sent and not self._open

    @property
    def open_responses(self) -> int:
        return len(self._open)

    @property
    def first_response(self) -> WsAnswer | None:
        return next((a for a in self.answers if a.kind == "response"), None)

    @property
    def first_error(self) -> WsAnswer | None:
        return next((a for a in self.answers if a.kind == "error"), None)

    @property
    def events_checked(self) -> int:
        return sum(r.checker.event_count for r in self.responses)

    @property
    def dropped(self) -> dict[str, int]:
        out = dict(self._stamper.dropped)
        for response in self.responses:
            for check, count in response.checker.dropped.items():
                out[check] = out.get(check, 0) + count
        return out

    def refusal(self) -> tuple[int, str] | None:
        """(status, message) when the step's answer is a clean refusal: an error frame with a 4xx
        status and a message, and no response at all."""
        if self.responses or not self.answers or self.answers[0].kind != "error":
            return None
        frame = self.answers[0].error or {}
        status, error = _int(frame.get("status")), frame.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        if status is None or not 400 <= status < 500 or not isinstance(message, str) or not message:
            return None
        return status, message

    def answer(self, status: int | None) -> tuple[str, ...]:
        """What the step's answer was judged as (registry.Exchange: the step record's `answer`),
        `status` the HTTP status of its connection's upgrade: `websocket` for a connection to
        judge (the upgrade answered 101), with `stream` where a response's events came and
        `error` where an error frame came (registry.judged_by: the connection's checks on any
        step that connected, a check that `reads` a response or an error frame only where one
        came); empty for a refused upgrade or no connection at all (None: the record's
        `http_status` says that no connection answered, and nothing was judged)."""
        if status != 101:
            return ()
        kinds = ["websocket"]
        if self.responses:
            kinds.append("stream")
        if any(answer.kind == "error" for answer in self.answers):
            kinds.append("error")
        return tuple(kinds)

    # -- input ----------------------------------------------------------------------------------
    def upgrade(self, status: int | None, body: str = "") -> None:
        """The answer to the upgrade request of a connection this step opened."""
        self.upgrade_status = status
        if status != 101:
            said = f": {_short(body, 120)!r}" if body.strip() else ""
            self._add([Finding("framing.ws_upgrade_accepted",
                               f"the WebSocket upgrade was answered with HTTP {status}{said}", "$")])

    def frame(self, data: str | bytes) -> None:
        index = self.frames
        self.frames += 1
        if isinstance(data, (bytes, bytearray)):
            raw = bytes(data)
            shown = raw[:_EXCERPT].decode("utf-8", "replace")
            self._add([Finding("framing.ws_text_frames",
                               f"a binary frame of {len(raw)} bytes: Responses events are sent as text frames")],
                      Event(index=index, data=shown))
            try:
                data = raw.decode("utf-8")
            except UnicodeDecodeError:
                return
        ok, payload = parse_json(data)
        if not ok or not isinstance(payload, dict):
            what = "not JSON" if not ok else f"a JSON {_json_kind(payload)}, not an object"
            self._add([Finding("framing.ws_text_frames", f"the frame is {what}: {_short(data)!r}")],
                      Event(index=index, data=data, payload=payload, json_ok=ok))
            return
        self._event(payload, data, index)

    def server_closed(self, code: int | None, reason: str = "") -> None:
        """The server closed the connection with a close frame (after the frames fed so far)."""
        self.closed_by_server = (code, reason)
        if code not in NORMAL_CLOSE_CODES:
            said = f" ({_short(reason)})" if reason else ""
            self._add([Finding("framing.ws_close_clean",
                               f"the server closed the connection with code {code}{said}, not 1000 or 1001")])

    def client_failed(self, code: int | None, reason: str = "") -> None:
        """Our side failed the connection on something the server sent (the library's verdict)."""
        if code == 1007:
            self._add([Finding("framing.ws_text_frames",
                               f"a text frame is not valid UTF-8 (the client failed the connection with 1007: "
                               f"{_short(reason)})")])

    def closed_between_steps(self, code: int | None, reason: str = "", *, seen: bool = False) -> None:
        """The connection this step was to use was closed by the server after an earlier step
        (`seen`: during it, where its close code was judged already)."""
        if seen:
            self.closed_by_server = (code, reason)
        else:
            self.server_closed(code, reason)
        self._closed_before = True

    def finish(self, *, complete: bool) -> list[Violation]:
        """End of the step. `complete`: reading ended because the step was answered, the server
        closed the connection, or it stayed silent with every response finished; the
        end-of-stream rules then run, as at the end of an HTTP body. Otherwise (limits, a
        broken connection) they do not: the target was not allowed to finish."""
        if self._finished:
            return []
        self._finished = True
        before = len(self.violations)
        if not complete:
            self.violations.extend(self._stamper.summaries())  # what the per-cause cap folded
            return self.violations[before:]
        cut = 0
        for response in list(self._open):
            self._stream_violations(response, response.checker.close())
            cut += 1
        self._open = []
        missing = self.sent - len(self.answers) - cut
        if missing > 0 and self.upgrade_status in (None, 101):
            if self.closed_by_server is not None:
                code, reason = self.closed_by_server
                said = f" ({_short(reason)})" if reason else ""
                if self._closed_before:
                    message = (f"the server closed the connection (code {code}{said}) after an earlier step: "
                               f"it cannot carry the next response.create ({missing} unanswered)")
                else:
                    message = (f"the server closed the connection (code {code}{said}) with {missing} "
                               f"response.create unanswered")
            else:
                message = (f"{missing} of {self.sent} response.create got no answer (no response and no error "
                           "frame) before the target fell silent")
            self._add([Finding("grammar.ws_sequential_responses", message)])
        self.violations.extend(self._stamper.summaries())  # what the per-cause cap folded
        return self.violations[before:]

    # -- the events ---------------------------------------------------------------------------
    def _event(self, payload: dict, data: str, index: int) -> None:
        etype = payload.get("type")
        current = self._open[-1] if self._open else None
        if etype == g.ERROR and (current is None or _int(payload.get("sequence_number")) is None):
            self._error_answer(payload, data, index)
            return
        if etype == g.KEEPALIVE and current is None:
            return  # between responses: keeps the connection warm, answers nothing
        event = Event(index=index, data=data, payload=payload, json_ok=True)
        if etype == g.CREATED:
            if current is not None:
                self._add([Finding("grammar.ws_sequential_responses",
                                   f"response.created of a second response while {current.id!r} is still in "
                                   "progress (no terminal event yet): the two responses interleave", "$.type")],
                          event)
            response = self._start()
        elif current is None:
            last = self.responses[-1] if self.responses else None
            # After the last response ended: fed to it, so that `nothing after terminal` judges it.
            response = last if last is not None and last.ended else self._start()
        else:
            response = self._route(payload, current)
        self._feed(response, payload, data, index)

    def _start(self) -> _Response:
        checker = StreamChecker(schemas=self._schemas, checks=self._checks, profile=self.profile)
        response = _Response(checker)
        self.responses.append(response)
        self._open.append(response)
        return response

    def _route(self, payload: dict, current: _Response) -> _Response:
        """Lifecycle events name their response; every other event belongs to the newest one."""
        body = payload.get("response")
        wanted = body.get("id") if isinstance(body, dict) else None
        if isinstance(wanted, str):
            for response in self._open:
                if response.id == wanted:
                    return response
        return current

    def _feed(self, response: _Response, payload: dict, data: str, index: int) -> None:
        if not response.frames:
            seq = _int(payload.get("sequence_number"))
            if seq is not None and seq != 0:
                self._add([Finding("sequence.ws_restarts_at_zero",
                                   f"the response's first event has sequence_number {seq}, not 0",
                                   "$.sequence_number")],
                          Event(index=index, data=data, payload=payload, json_ok=True))
        response.frames.append(index)
        response.events.append(payload)
        self._stream_violations(response, response.checker.feed_payload(payload))
        if response.ended and not response.answered:
            response.answered = True
            if response in self._open:
                self._open.remove(response)
            final = response.checker.final_response
            self.answers.append(WsAnswer("response", index, response=final, events=response.events))
            if self.expectation.kind == "error":
                status = final.get("status") if isinstance(final, dict) else None
                self._add([Finding("error.status_fits",
                                   f"a response stream (status {status!r}) where an error frame was expected "
                                   "(a request that must be refused)", "$")],
                          Event(index=index, data=data, payload=payload, json_ok=True))

    def _stream_violations(self, response: _Response, found: list[Violation]) -> None:
        """A response's violations, their event index turned into the step's frame index."""
        for violation in found:
            where = violation.event_index
            if where is not None and 0 <= where < len(response.frames):
                violation = _replace_index(violation, response.frames[where])
            self.violations.append(violation)

    def _error_answer(self, frame: dict, data: str, index: int) -> None:
        event = Event(index=index, data=data, payload=frame, json_ok=True)
        self.answers.append(WsAnswer("error", index, error=frame))
        findings = error_checks.error_frame_shape(frame)
        kind = self.expectation.kind
        if kind == "stream":
            status = _int(frame.get("status"))
            error: dict = frame["error"] if isinstance(frame.get("error"), dict) else {}
            message = error.get("message")
            said = f": {_short(str(message))!r}" if message else ""
            findings.append(Finding("framing.ws_create_streamed",
                                    f"an error frame (status {status}){said} answered a valid response.create",
                                    "$"))
        elif kind == "error":
            expectation = self.expectation
            findings += error_checks.check_error_frame(
                frame, expected_statuses=expectation.statuses, expected_type=expectation.error_type,
                expected_param=expectation.error_param, expected_code=self.error_code)
        self._add(findings, event)

    def _add(self, findings: list[Finding], event: Event | None = None) -> None:
        if findings:
            self.violations.extend(self._stamper.stamp(findings, event))


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__)


def _replace_index(violation: Violation, index: int) -> Violation:
    from dataclasses import replace

    return replace(violation, event_index=index)
