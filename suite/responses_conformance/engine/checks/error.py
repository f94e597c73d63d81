"""error: HTTP error envelopes, streamed error events and failed responses (spec-notes §5)."""
from __future__ import annotations

from typing import Any, Iterator

from .. import grammar as g
from ..state import Event, StreamState
from ..violations import Finding

ENVELOPE_KEYS = ("message", "type", "param", "code")


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


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), "number")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
