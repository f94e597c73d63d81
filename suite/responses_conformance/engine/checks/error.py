"""error: HTTP error envelopes, streamed error events and failed responses (spec-notes §5)."""
from __future__ import annotations

from typing import Any, Iterator

from .. import grammar as g
from ..registry import ERROR, MUST, SHOULD, STREAM, WEBSOCKET, check
from ..state import Event, StreamState
from ..violations import Finding

ENVELOPE_KEYS = ("message", "type", "param", "code")


@check("error.status_fits", MUST, ERROR,
       "A refused request gets the fitting 4xx status, never a 200 or a 5xx.",
       "OBS: OpenAI answers bad input with 400, bad keys with 401, unknown ids with 404 before any byte of stream (G-01, G-08).",
       head=True, request_caused=True)
@check("error.envelope_shape", MUST, ERROR,
       "An HTTP error body is `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`.",
       "SPEC ErrorResponse; SDKs read body['error']; Zed fails on a missing `type` (G-03, G-08, G-13).",
       http_only=True)
@check("error.type_fits", SHOULD, ERROR,
       "`error.type` names the class of error OpenAI uses for it (`invalid_request_error`, ...).",
       "OBS: OpenAI capture; SDKs and proxies branch on it.")
@check("error.param_named", SHOULD, ERROR,
       "When one request field is at fault, `error.param` names it.",
       "OBS; SPEC ErrorResponse.param (I-13).")
def check_error_response(status: int | None, body: Any, *, expected_statuses: tuple[int, ...],
                         expected_type: str | None = None, expected_param: str | None = None,
                         body_note: str | None = None) -> Iterator[Finding]:
    """An HTTP error the target must send: fitting status, OpenAI's envelope, type and param."""
    if status not in expected_statuses:
        if status is not None and 200 <= status < 300:
            why = "a success status for a request that must be refused"
        elif status is not None and status >= 500:
            why = "a server error for a client mistake"
        else:
            why = "not the status OpenAI uses"
        yield Finding("error.status_fits",
                      f"HTTP {status}, expected {' or '.join(map(str, expected_statuses))} ({why})", "$")
    if body_note is not None:
        yield Finding("error.envelope_shape", body_note, "$")
        return
    if not isinstance(body, dict):
        yield Finding("error.envelope_shape", f"the body is a JSON {_json_kind(body)}, not an object with `error`", "$")
        return
    if not isinstance(body.get("error"), dict):
        if "error" in body:
            yield Finding("error.envelope_shape", f"`error` is a JSON {_json_kind(body['error'])}, not an object: "
                                                  f"{_short(body['error'])}", "$.error")
        else:
            yield Finding("error.envelope_shape", f"the body has no `error` field (top level: {sorted(body)[:6]})",
                          "$.error")
        return
    error = body["error"]
    for key in ENVELOPE_KEYS:
        if key not in error:
            yield Finding("error.envelope_shape", f"error.{key} is missing", f"$.error.{key}")
    if "message" in error and (not isinstance(error["message"], str) or not error["message"]):
        yield Finding("error.envelope_shape", f"error.message is {error['message']!r}", "$.error.message")
    for key in ("type", "param", "code"):
        if key in error and error[key] is not None and not isinstance(error[key], str):
            yield Finding("error.envelope_shape", f"error.{key} is {error[key]!r}, not a string or null",
                          f"$.error.{key}")
    if expected_type is not None and isinstance(error.get("type"), str) and error["type"] != expected_type:
        yield Finding("error.type_fits", f"error.type is {error['type']!r}, OpenAI uses {expected_type!r}",
                      "$.error.type")
    if expected_param is not None and error.get("param") != expected_param:
        yield Finding("error.param_named", f"error.param is {error.get('param')!r}, expected {expected_param!r}",
                      "$.error.param")


@check("error.ws_error_shape", MUST, WEBSOCKET,
       "A WebSocket error frame is `{\"type\": \"error\", \"status\": 4xx or 5xx, \"error\": {\"message\", "
       "\"code\", ...}}`: an integer HTTP-style status and a non-empty string message.",
       "OR WebSocketErrorEvent (type, status and error.code/message required); SPEC ResponseWsError example; "
       "clients branch on status and code.",
       reads=("error",))
def error_frame_shape(frame: dict) -> list[Finding]:
    """A WebSocket error frame has the shape of WebSocketErrorEvent."""
    return [Finding("error.ws_error_shape", message, path) for message, path in error_frame_problems(frame)]


def error_frame_problems(frame: dict) -> list[tuple[str, str]]:
    """What is wrong with a WebSocket error frame: (message, JSON path) pairs (error.ws_error_shape)."""
    problems = []
    status, number = frame.get("status"), _int(frame.get("status"))
    if "status" not in frame:
        problems.append(("the error frame has no `status` (the HTTP-style status of the failure)", "$.status"))
    elif number is None:
        problems.append((f"status is {status!r}, not an integer", "$.status"))
    elif not 400 <= number <= 599:
        problems.append((f"status is {status}, not a 4xx or 5xx error status", "$.status"))
    error = frame.get("error")
    if not isinstance(error, dict):
        where = "the error frame has no `error` object" if error is None else f"error is {error!r}, not an object"
        problems.append((where, "$.error"))
        return problems
    message = error.get("message")
    if not isinstance(message, str) or not message:
        problems.append((f"error.message is {message!r}, not a non-empty string", "$.error.message"))
    code = error.get("code")
    if code is not None and not isinstance(code, str):
        problems.append((f"error.code is {code!r}, not a string", "$.error.code"))
    return problems


@check("error.code_fits", MUST, WEBSOCKET,
       "A WebSocket error frame names the documented `error.code` of its cause (`previous_response_not_found`, ...).",
       "OR compliance tests websocket-reconnect-store-false-recovery and websocket-previous-response-not-found; "
       "clients restart a chain with full context on previous_response_not_found, and only on it.",
       asked_by="error_code")
def check_error_frame(frame: dict, *, expected_statuses: tuple[int, ...], expected_type: str | None = None,
                      expected_param: str | None = None, expected_code: str | None = None) -> list[Finding]:
    """A WebSocket error frame answering a request that must be refused: the fitting status,
    type, param and code (the HTTP twin is check_error_response)."""
    findings = []
    status = _int(frame.get("status"))
    error: dict = frame["error"] if isinstance(frame.get("error"), dict) else {}
    if status is not None and expected_statuses and status not in expected_statuses:
        why = "a server error for a client mistake" if status >= 500 else "not the status OpenAI uses"
        findings.append(Finding("error.status_fits",
                                f"status {status}, expected {' or '.join(map(str, expected_statuses))} ({why})",
                                "$.status"))
    if expected_type is not None and isinstance(error.get("type"), str) and error["type"] != expected_type:
        findings.append(Finding("error.type_fits",
                                f"error.type is {error['type']!r}, OpenAI uses {expected_type!r}",
                                "$.error.type"))
    if expected_param is not None and error.get("param") != expected_param:
        findings.append(Finding("error.param_named",
                                f"error.param is {error.get('param')!r}, expected {expected_param!r}",
                                "$.error.param"))
    if expected_code is not None and error.get("code") != expected_code:
        findings.append(Finding("error.code_fits",
                                f"error.code is {error.get('code')!r}, expected {expected_code!r}",
                                "$.error.code"))
    return findings


@check("error.event_shape", MUST, STREAM,
       "An `error` event carries a string message (flat or nested under `error`) and a sequence_number.",
       "SPEC (flat) and OBS (nested) shapes; Vercel AI SDK and Grok CLI reject others (G-03, G-04, C-07).")
@check("error.event_followed_by_failed", MUST, frozenset({"stream", "error"}),
       "An `error` event is followed by `response.failed`.",
       "OR: 'followed by a response.failed event'; OBS (G-11). Also judged when a request that must be refused "
       "is answered with a 200 stream.")
@check("error.failed_carries_error", MUST, STREAM,
       "`response.failed` carries `response.error` with `code` and `message`.",
       "SPEC field docs; Codex shows no usable message otherwise (G-02, G-07).")
def on_event(state: StreamState, event: Event) -> list[Finding]:
    etype = event.type
    if etype is None:
        return []
    found = []
    # Reported once, at the event right after the error (keepalives aside).
    if state.error_pending is not None and state.previous_type == g.ERROR and etype not in (g.KEEPALIVE, g.FAILED):
        found.append(Finding("error.event_followed_by_failed",
                             f"the error event #{state.error_pending} is followed by {etype}, not response.failed",
                             "$.type"))
    if state.ended:
        return found
    if etype == g.ERROR:
        found.extend(_error_event(event.payload))
    elif etype == g.FAILED:
        response = event.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        if not isinstance(error, dict):
            found.append(Finding("error.failed_carries_error", f"response.error is {error!r}", "$.response.error"))
        else:
            for key in ("code", "message"):
                if not isinstance(error.get(key), str) or not error.get(key):
                    found.append(Finding("error.failed_carries_error", f"response.error.{key} is {error.get(key)!r}",
                                         f"$.response.error.{key}"))
    return found


def on_close(state: StreamState) -> Iterator[Finding]:
    if state.error_pending is not None and state.previous_type == g.ERROR:
        yield Finding("error.event_followed_by_failed",
                      f"the stream ended after the error event #{state.error_pending} without response.failed")


def _error_event(payload: dict) -> Iterator[Finding]:
    # Two shapes are real: the documented flat one and OpenAI's nested wire shape.
    nested = payload.get("error")
    if "error" in payload and not isinstance(nested, dict):
        yield Finding("error.event_shape", f"error is {nested!r}, not an object", "$.error")
        return
    body, path = (nested, "$.error") if isinstance(nested, dict) else (payload, "$")
    message = body.get("message")
    if not isinstance(message, str) or not message:
        yield Finding("error.event_shape", f"error message is {message!r}", f"{path}.message")
    code = body.get("code")
    if code is not None and not isinstance(code, str):
        yield Finding("error.event_shape", f"error code is {code!r}, not a string or null", f"{path}.code")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), "number")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
