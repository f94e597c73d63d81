"""WebSocket mode: `/responses` over a WebSocket, as the suite sends it and judges it.

The client sends `{"type": "response.create", ...}` messages (the body of `POST /responses`
without `stream`, `stream_options` or `background`); the server answers each with the event
objects an SSE stream would carry, one text frame per event, or with an error frame
`{"type": "error", "status": 400, "error": {"code", "message", ...}}`. One connection carries
several responses, one at a time (spec-notes sections 1 and 9).

Two layers, as on the HTTP side:

* `engine.websocket.StepJudge` is sans-IO: the frames of one scenario step go in, the
  violations come out (see there).
* `Connections`, here, is the I/O: the `websockets` library's synchronous client (RFC 6455 framing,
  UTF-8 validation, size limits and the closing handshake are the library's; no frame parsing
  here), one or more named connections per scenario. Every wait is bounded by the suite's
  `Limits`: the TCP connect by `connect_timeout`, the upgrade and each frame by `idle_timeout`,
  the whole step by `timeout`; a step reads at most `max_bytes` and `max_events`, and one
  message at most `max_bytes` (the library fails the connection with 1009 past it). Redirects
  of the upgrade are never followed (the socket is ours, so the library cannot), and the key,
  sent in the upgrade's Authorization header, is redacted from every frame, header, close
  reason and message kept.

Transcripts: `<scenario>[.<step>].ws.jsonl` holds the step's frames, one JSON object a line,
tagged by direction (`{"dir": "out", "data": ...}` sent, `{"dir": "in", "data": ...}` received;
`"text"` for a text frame that is not JSON, `"binary"` (base64) for a binary frame), plus
`open` and `close` lines; `<scenario>[.<step>].json` is the record, as for HTTP.
"""
from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from .engine.checker import parse_json
from .engine.exchange import Expectation
from .engine.violations import Violation
from .engine.websocket import StepJudge, WsAnswer, _int, _short, error_frame_problems
from .http import USER_AGENT, Exchange, Limits
from .redact import Redactor
from .transcript import header_env_name

__all__ = ["Connections", "StepJudge", "WsAnswer", "WsOutcome", "error_frame_problems", "replay_record"]



# --------------------------------------------------------------------------------------------
# The I/O: connections of one scenario


# The library's logger says nothing we keep: what matters is in the transcript, and a debug
# record could carry the handshake's headers.
_QUIET = logging.getLogger("responses_conformance.ws.library")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_QUIET.setLevel(logging.CRITICAL + 1)


@dataclass
class WsOutcome:
    """What one step did on the wire."""

    exchange: Exchange  # the connection's upgrade as an HTTP exchange; end, error and timing are the step's
    lines: list[str] = field(default_factory=list)  # the .ws.jsonl lines, redacted
    complete: bool = False  # judge.finish(complete=...)
    refused_upgrade: bool = False  # the step opened a connection and the upgrade was not 101
    upgrade_message: str | None = None  # the refusal's error message, if its body had one
    sent: list[Any] = field(default_factory=list)  # the client messages, redacted


class _Conn:
    def __init__(self, websocket: Any, url: str, request_headers: list[tuple[str, str]],
                 response_headers: list[tuple[str, str]]) -> None:
        self.websocket = websocket
        self.url = url
        self.request_headers = request_headers
        self.response_headers = response_headers


def ws_url(base_url: str, path: str) -> str:
    """`https://host/v1` + `/responses` -> `wss://host/v1/responses`."""
    parts = urlsplit(base_url.rstrip("/") + path)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme.lower(), parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


class Connections:
    """The WebSocket connections of one scenario, by name. Never raises for what the target does."""

    def __init__(self, *, limits: Limits, redactor: Redactor, base_url: str) -> None:
        self.limits = limits
        self.redactor = redactor
        self.base_url = base_url
        self._open: dict[str, _Conn] = {}
        self._gone: dict[str, tuple[int | None, str]] = {}  # closed by the server: its close code and reason

    def __enter__(self) -> "Connections":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for name in list(self._open):
            self._drop(name, code=1000, reason="done")

    # -- one step ------------------------------------------------------------------------------
    def run(self, *, connection: str, reconnect: bool, path: str, sends: list[Any], judge: StepJudge,
            headers: dict[str, str]) -> WsOutcome:
        """One step: open (or reuse) the connection, send, read until the judge is answered.

        `headers` go with the upgrade of a connection this step opens: the key's header and the
        target's extra headers."""
        limits, redactor = self.limits, self.redactor
        start = time.monotonic()
        deadline = start + limits.timeout
        url = ws_url(self.base_url, path)
        shown_url = redactor.text(url)
        outcome = WsOutcome(Exchange(method="GET", url=shown_url, request_headers=[], request_body=None))
        x = outcome.exchange

        def log(entry: dict) -> None:
            entry = {"dir": entry.pop("dir"), "t": round(time.monotonic() - start, 4), **entry}
            outcome.lines.append(redactor.text(json.dumps(redactor.json(entry), ensure_ascii=False)))

        def end(reason: str, error: str | None = None) -> WsOutcome:
            x.end = reason
            if error is not None:
                x.error = _one_line(redactor.text(error))
            x.elapsed = time.monotonic() - start
            return outcome

        outcome.sent = [redactor.json(s) for s in sends]
        x.request_body = redactor.bytes(json.dumps(sends, ensure_ascii=False).encode("utf-8"))
        if reconnect and connection in self._open:
            self._drop(connection, code=1000, reason="reconnect")
            log({"dir": "close", "by": "client", "code": 1000, "reason": "reconnect"})
        gone = None if reconnect else self._gone.get(connection)  # gone until a step reconnects
        if reconnect:
            self._gone.pop(connection, None)
        if gone is not None:  # the server closed it in an earlier step: it cannot carry this one
            code, reason = gone
            log({"dir": "close", "by": "server", "code": code, "reason": reason, "between_steps": True,
                 "seen": True})
            judge.closed_between_steps(code, reason, seen=True)
            x.status, outcome.complete = None, True
            return end("eof")
        conn = self._open.get(connection)
        if conn is None:
            conn = self._connect(url, deadline, outcome, judge, log, headers)
            if conn is None:
                return end(x.end, x.error) if x.end != "eof" else end("eof")
            self._open[connection] = conn
        x.request_headers, x.headers, x.status = conn.request_headers, conn.response_headers, 101
        websocket = conn.websocket
        from websockets.exceptions import ConnectionClosed

        for message in sends:
            text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
            try:
                websocket.send(text)
            except ConnectionClosed as exc:
                return self._closed(connection, exc, judge, outcome, log, end, before_send=True)
            except (OSError, TimeoutError) as exc:
                self._drop(connection)
                return end("protocol_error", f"broken while sending: {exc}")
            log({"dir": "out", "data": message})
        received = 0
        while not judge.done:
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                self._drop(connection)
                return end("deadline", f"frames still due at the {limits.timeout:g} s total deadline, after "
                                       f"{judge.frames} frames")
            wait = min(limits.idle_timeout, left)
            try:
                message = websocket.recv(timeout=wait)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    self._drop(connection)
                    return end("deadline", f"frames still due at the {limits.timeout:g} s total deadline, "
                                           f"after {judge.frames} frames")
                if judge.answers and not judge.open_responses:
                    # Every response ended, and a response.create is left without an answer.
                    outcome.complete = True
                    return end("eof")
                self._drop(connection)
                return end("idle", f"no frame for {wait:g} s after {judge.frames} frames (idle limit)")
            except ConnectionClosed as exc:
                return self._closed(connection, exc, judge, outcome, log, end)
            except OSError as exc:
                self._drop(connection)
                return end("protocol_error", f"after {judge.frames} frames: {exc}")
            if x.first_byte_after is None:
                x.first_byte_after = time.monotonic() - start
            size = len(message) if isinstance(message, bytes) else len(message.encode("utf-8", "surrogatepass"))
            received += size
            x.bytes_received = received
            if received > limits.max_bytes:
                self._drop(connection)
                return end("too_large", f"more than {limits.max_bytes} bytes (size limit) after {judge.frames} "
                                        "frames; stopped reading")
            if isinstance(message, bytes):
                message = redactor.bytes(message)
                log({"dir": "in", "binary": base64.b64encode(message).decode("ascii")})
            else:
                message = redactor.text(message)
                ok, value = parse_json(message)
                log({"dir": "in", "data": value} if ok else {"dir": "in", "text": message})
            judge.frame(message)
            if judge.frames > limits.max_events:
                self._drop(connection)
                return end("too_many_events", f"more than {limits.max_events} frames (event limit, --max-events); "
                                              "stopped reading")
        outcome.complete = True
        return end("eof")

    def _closed(self, connection: str, exc: Any, judge: StepJudge, outcome: WsOutcome, log: Any, end: Any,
                *, before_send: bool = False) -> WsOutcome:
        """The connection ended while the step used it: who closed it, and with what."""
        self._open.pop(connection, None)
        received, sent = exc.rcvd, exc.sent
        reason_of = (lambda close: self.redactor.text(close.reason or ""))  # noqa: E731
        if received is not None and (sent is None or exc.rcvd_then_sent):
            reason = reason_of(received)
            self._gone[connection] = (received.code, reason)
            log({"dir": "close", "by": "server", "code": received.code, "reason": reason,
                 **({"between_steps": True} if before_send else {})})
            if before_send:
                judge.closed_between_steps(received.code, reason)
            else:
                judge.server_closed(received.code, reason)
            outcome.complete = True
            return end("eof")
        if sent is not None:
            reason = reason_of(sent)
            log({"dir": "close", "by": "client", "code": sent.code, "reason": reason})
            if sent.code == 1007:
                judge.client_failed(1007, reason)
                return end("eof")  # a verdict (framing.ws_text_frames), not a broken exchange
            if sent.code == 1009:
                return end("too_large", f"a frame larger than {self.limits.max_bytes} bytes (size limit); the "
                                        "client closed the connection (1009)")
            return end("protocol_error", f"the client failed the connection with {sent.code} ({reason}) after "
                                         f"{judge.frames} frames")
        log({"dir": "close", "by": "network", "code": 1006, "reason": ""})
        when = "before the message could be sent" if before_send else f"after {judge.frames} frames"
        return end("protocol_error", f"closed without a close frame (1006) {when}")

    def _connect(self, url: str, deadline: float, outcome: WsOutcome, judge: StepJudge, log: Any,
                 extra: dict[str, str]) -> _Conn | None:
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        limits, redactor, x = self.limits, self.redactor, outcome.exchange
        started = time.monotonic()
        parts = urlsplit(url)
        host = parts.hostname or "?"
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        where = parts.netloc.rsplit("@", 1)[-1] or "?"
        headers = {"User-Agent": USER_AGENT, **extra}
        x.request_headers = redactor.headers([("Host", where), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                              *headers.items()])
        if parts.scheme not in ("ws", "wss"):
            x.end, x.error = "connect_error", f"invalid target URL for WebSocket mode: {redactor.text(url)}"
            return None
        left = deadline - time.monotonic()
        try:
            sock = socket.create_connection((host, port), timeout=max(min(limits.connect_timeout, left), 0.001))
        except OSError as exc:
            x.end = "connect_error"
            if isinstance(exc, TimeoutError) or isinstance(exc, socket.timeout):
                x.error = f"cannot connect to {where}: no connection within {limits.connect_timeout} s (connect limit)"
            else:
                x.error = f"cannot connect to {where}: {exc}"
            return None
        context = None
        if secure:
            context = ssl.create_default_context()
            if not limits.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        wait = max(min(limits.idle_timeout, deadline - time.monotonic()), 0.001)
        try:
            websocket = connect(url, sock=sock, ssl=context, additional_headers=list(extra.items()),
                                user_agent_header=USER_AGENT, compression=None, open_timeout=wait,
                                ping_interval=None, close_timeout=min(2.0, limits.idle_timeout),
                                max_size=limits.max_bytes, logger=_QUIET)
        except Exception as exc:  # noqa: BLE001 - every way a handshake can fail is sorted below
            sock.close()
            x.headers_after = time.monotonic() - started
            status_exc = exc if isinstance(exc, InvalidStatus) else exc.__cause__ \
                if isinstance(exc.__cause__, InvalidStatus) else None
            if status_exc is not None:
                response = status_exc.response
                x.status = response.status_code
                x.headers = redactor.headers((str(k), str(v)) for k, v in response.headers.raw_items())
                body = redactor.bytes(bytes(response.body or b""))
                x.body = body
                text = body.decode("utf-8", "replace")
                ok, value = parse_json(text)
                error = value.get("error") if ok and isinstance(value, dict) else None
                said = error.get("message") if isinstance(error, dict) else None
                outcome.upgrade_message = _short(said, 160) if isinstance(said, str) and said else None
                outcome.refused_upgrade = True
                log({"dir": "open", "url": url, "status": x.status})
                if 300 <= x.status < 400:
                    location = response.headers.get("Location")
                    if location:
                        target = urlsplit(urljoin(url, location)).netloc.rsplit("@", 1)[-1]
                        shown = "the same host" if target == where else target
                        x.end, x.error = "redirect", (f"HTTP {x.status} redirect to {shown} not followed (the API "
                                                      "key is only sent to the target URL)")
                    else:
                        x.end, x.error = "redirect", f"HTTP {x.status} without a Location header; not followed"
                    return None
                judge.upgrade(x.status, text)
                x.end = "eof"
                return None
            if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
                x.end, x.error = "tls_error", f"TLS with {where} failed: {exc}"
            elif isinstance(exc, TimeoutError):
                x.end = "idle"
                x.error = f"no answer to the WebSocket upgrade within {wait:g} s (idle limit)"
            elif isinstance(exc, (InvalidHandshake, InvalidURI, OSError, EOFError)):
                x.end = "protocol_error"
                x.error = f"no valid WebSocket handshake from {where}: {exc}"
            else:
                raise
            if time.monotonic() >= deadline:
                x.end, x.error = "deadline", f"no WebSocket connection within the {limits.timeout} s total deadline"
            x.error = _one_line(redactor.text(x.error))
            return None
        websocket.__enter__()  # what `with connect(...)` does; the runner closes it (Connections.close)
        response = websocket.response
        request = websocket.request
        x.headers_after = time.monotonic() - started
        request_headers = redactor.headers((str(k), str(v)) for k, v in request.headers.raw_items())
        response_headers = redactor.headers((str(k), str(v)) for k, v in response.headers.raw_items())
        log({"dir": "open", "url": url, "status": response.status_code})
        judge.upgrade(101)
        return _Conn(websocket, url, request_headers, response_headers)

    def _drop(self, name: str, *, code: int = 1000, reason: str = "") -> None:
        conn = self._open.pop(name, None)
        if conn is None:
            return
        try:
            conn.websocket.close(code=code, reason=reason)
        except Exception:  # noqa: BLE001 - closing a broken connection may fail any way; it is closed
            pass


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def reproduce_command(url: str, headers: dict[str, str], sends: list[Any], api_key_env: str = "OPENAI_API_KEY",
                      redactor: Redactor | None = None) -> str:
    """A shell line that repeats the step with websocat (the key from the environment, never in clear)."""
    import shlex

    lines = [s if isinstance(s, str) else json.dumps(s, ensure_ascii=False) for s in sends]
    parts = ["printf", "'%s\\n'", *map(shlex.quote, lines), "|", "websocat", "-n", shlex.quote(url)]
    for name, value in headers.items():
        lname = name.lower()
        if lname == "authorization":
            parts += ["-H", f'"Authorization: Bearer ${api_key_env}"']
        elif lname in ("api-key", "x-api-key"):
            parts += ["-H", f'"{name}: ${api_key_env}"']
        elif redactor is not None and redactor.is_secret(value.strip()):
            parts += ["-H", f'"{name}: ${header_env_name(name)}"']  # a secret header: read from the environment
        elif lname not in ("cookie", "proxy-authorization"):
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    command = " ".join(parts)
    return redactor.text(command) if redactor is not None else command


# --------------------------------------------------------------------------------------------
# Transcripts and their replay


def replay_record(record: dict, frames_path: Path, *, schemas: Any, profile: str) -> tuple[list[Violation], list[str],
                                                                                          str, str | None, int]:
    """Judge a WebSocket step transcript again: (violations, notes, kind, response id, events).

    The step's expectation and checks come from the scenario in the record, the frames from the
    `.ws.jsonl`; the judge is the live one, so the verdict is the live verdict.
    """
    from .scenarios import from_data

    notes: list[str] = []
    data = record.get("scenario")
    scenario = from_data(data) if isinstance(data, dict) else None
    step = None
    if scenario is not None:
        step = next((s for s in scenario.steps if s.name == record.get("step")), scenario.steps[0])
        notes.append(f"WebSocket transcript of the live suite: scenario {scenario.id}"
                     + (f", step {step.name}" if len(scenario.steps) > 1 else ""))
    expectation = step.expect if step is not None else Expectation("any")
    checks = [c.id for c in scenario.checks(profile)] if scenario is not None else None
    response: dict = record["response"] if isinstance(record.get("response"), dict) else {}
    from .capture import CaptureError

    try:
        lines = [json.loads(line) for line in frames_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaptureError(f"{frames_path.name} is not JSON lines of WebSocket frames: {exc}") from None
    if not all(isinstance(line, dict) for line in lines):
        raise CaptureError(f"{frames_path.name} is not JSON lines of WebSocket frames (a line is not an object)")
    request = record.get("request") if isinstance(record.get("request"), dict) else {}
    body = request.get("body")
    # The messages the step was to send (a step on a connection already closed sends none of them).
    sent = len(body) if isinstance(body, list) else sum(1 for line in lines if line.get("dir") == "out")
    judge = StepJudge(expectation, sent=sent, schemas=schemas, checks=checks, profile=profile,
                      error_code=getattr(step, "error_code", None))
    unsupported = record.get("unsupported")
    if unsupported:
        notes.append(f"the live run found this unsupported ({unsupported}): not judged")
        return [], notes, expectation.kind, None, 0
    for line in lines:
        direction = line.get("dir")
        if direction == "open" and line.get("status") != 101:
            judge.upgrade(_int(line.get("status")), str(response.get("upgrade_body") or ""))
        elif direction == "in":
            if "binary" in line:
                judge.frame(base64.b64decode(line["binary"]))
            elif "text" in line:
                judge.frame(str(line["text"]))
            else:
                judge.frame(json.dumps(line.get("data"), ensure_ascii=False))
        elif direction == "close":
            by, code, reason = line.get("by"), _int(line.get("code")), str(line.get("reason") or "")
            if by == "server" and line.get("between_steps"):
                judge.closed_between_steps(code, reason, seen=bool(line.get("seen")))
            elif by == "server":
                judge.server_closed(code, reason)
            elif by == "client" and code == 1007:
                judge.client_failed(code, reason)
    complete = bool(response.get("complete"))
    if response.get("end") not in (None, "eof"):
        notes.append(f"the live run could not finish this step ({response.get('end')}: {response.get('error')}); "
                     "as there, the end-of-step rules are not run")
    judge.finish(complete=complete)
    first = judge.first_response
    response_id = first.response.get("id") if first is not None and isinstance(first.response, dict) else None
    kind = "stream" if judge.responses else "error" if judge.answers else expectation.kind
    return judge.violations, notes, kind, response_id if isinstance(response_id, str) else None, judge.events_checked
