"""Transcripts: what was sent and received in one exchange, written so that a human (or
``responses-conformance replay``) can see what happened, and never containing a secret. The one
module for their format: the writers of the live run (HTTP and WebSocket steps) and the reader
replay uses to find them.

`write_transcript` writes two files per HTTP exchange:

- ``<name>.sse`` (the response is an event stream) or ``<name>.body`` (anything else): the
  response body bytes exactly as the engine saw them (decoded if Content-Encoding was used);
- ``<name>.json``: the record: request, response head, end reason, events, violations, a curl
  command, and what the run adds (scenario, step, error, target).

`write_ws_transcript` writes a WebSocket step: ``<name>.ws.jsonl`` (every frame, one JSON
object a line, tagged by direction) and the same ``<name>.json`` record with `"transport":
"websocket"`. `record_for` finds the record of any of these files.

Everything goes through the redactor once more on the way out, even though `run_exchange`
already redacted it: belt and braces (style-anchors §8, rule 12).
"""
from __future__ import annotations

import dataclasses
import enum
import json
import re
import shlex
from pathlib import Path
from typing import Any, Iterable

from .http import Exchange
from .redact import SENSITIVE_HEADERS, Redactor

__all__ = ["MAX_RECORD_EVENTS", "curl_command", "header_env_name", "is_record", "record_for", "safe_name",
           "write_transcript", "write_ws_transcript"]

MAX_RECORD_EVENTS = 10_000  # WebSocket frames listed in the .json record (the .ws.jsonl has them all)
# What a record starts with; replay tells a record from other JSON by it.
_RECORD_START = re.compile(rb'\A\s*\{\s*"name"\s*:')

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def safe_name(name: str, *, max_len: int = 120) -> str:
    """A file-name stem that is safe on Linux, macOS and Windows: ``[A-Za-z0-9._-]`` only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    stem = stem[:max_len].rstrip("._")
    if not stem:
        stem = "exchange"
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    return stem


def _plain(value: Any) -> Any:
    """Something JSON can hold: dataclasses, enums, bytes and objects with to_dict/as_dict too."""
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    for method in ("to_dict", "as_dict"):
        fn = getattr(value, method, None)
        if callable(fn):
            return _plain(fn())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


def _body_value(body: bytes | None) -> Any:
    """A request body for the JSON transcript: JSON-decoded if it is JSON, else text."""
    if body is None:
        return None
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def write_transcript(
    directory: Path,
    name: str,
    exchange: Exchange,
    *,
    events: list | None = None,
    violations: list[dict] | None = None,
    extra: dict | None = None,
    redactor: Redactor,
) -> dict[str, Path]:
    """Write ``<name>.sse`` or ``<name>.body``, and ``<name>.json``, into `directory`.

    Returns ``{"body": <path of the .sse/.body file>, "json": <path of the .json file>}``.
    `name` is sanitized with `safe_name`. `events` and `violations` may hold dicts or
    dataclasses; `extra` keys are merged into the top level of the JSON (they cannot replace
    the standard keys).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name)
    body_path = directory / f"{stem}.{'sse' if exchange.is_event_stream else 'body'}"
    json_path = directory / f"{stem}.json"

    record: dict[str, Any] = {}
    for key, value in (extra or {}).items():
        record[str(key)] = value
    record.update(
        {
            "name": name,
            "request": {
                "method": exchange.method,
                "url": exchange.url,
                "headers": [list(h) for h in exchange.request_headers],
                "body": _body_value(exchange.request_body),
                "curl": curl_command(exchange, redactor=redactor),
            },
            "response": _response_head(exchange, body_path.name),
            "events": list(events or []),
            "violations": list(violations or []),
        }
    )
    # Standard keys first, extras after, in a stable order.
    ordered = {k: record[k] for k in ("name", "request", "response", "events", "violations")}
    ordered.update({k: v for k, v in record.items() if k not in ordered})
    # Headers are redacted by name as well as by value, then everything by value once more.
    ordered["request"]["headers"] = [list(h) for h in redactor.headers(map(tuple, ordered["request"]["headers"]))]
    ordered["response"]["headers"] = [list(h) for h in redactor.headers(map(tuple, ordered["response"]["headers"]))]
    clean = redactor.json(_plain(ordered))
    text = redactor.text(json.dumps(clean, indent=2, ensure_ascii=False))

    body_path.write_bytes(redactor.bytes(exchange.body))
    json_path.write_text(text + "\n", encoding="utf-8")
    return {"body": body_path, "json": json_path}


def _response_head(exchange: Exchange, body_file: str) -> dict[str, Any]:
    """The response half of a record, for either transport."""
    return {
        "status": exchange.status,
        "headers": [list(h) for h in exchange.headers],
        "end": exchange.end,
        "error": exchange.error,
        "elapsed_s": round(exchange.elapsed, 4),
        "headers_after_s": _round(exchange.headers_after),
        "first_byte_after_s": _round(exchange.first_byte_after),
        "content_encoding": exchange.content_encoding,
        "bytes_received": exchange.bytes_received,
        "body_file": body_file,
    }


def write_ws_transcript(directory: Path, name: str, outcome: Any, *, violations: list[dict], extra: dict,
                        redactor: Redactor, curl: str | None) -> dict[str, Path]:
    """A WebSocket step (`outcome`: ws.WsOutcome): `<name>.ws.jsonl`, every frame one a line,
    and `<name>.json`, the record."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name)
    frames_path = directory / f"{stem}.ws.jsonl"
    json_path = directory / f"{stem}.json"
    x = outcome.exchange
    events: list[dict] = []
    for line in outcome.lines:
        entry = json.loads(line)
        if entry.get("dir") != "in":
            continue
        if len(events) >= MAX_RECORD_EVENTS:
            events.append({"truncated": f"more than {MAX_RECORD_EVENTS} frames"})
            break
        data = entry.get("data", entry.get("text", entry.get("binary")))
        events.append({"index": len(events), "event": None, "data": data})
    close = next((json.loads(line) for line in reversed(outcome.lines) if '"dir": "close"' in line), None)
    record: dict[str, Any] = {
        "name": name,
        "transport": "websocket",
        "request": {"method": "GET", "url": x.url, "headers": [list(h) for h in redactor.headers(x.request_headers)],
                    "body": outcome.sent, "curl": curl},
        "response": {**_response_head(x, frames_path.name),
                     "headers": [list(h) for h in redactor.headers(x.headers)], "content_encoding": None,
                     "close": close, "complete": outcome.complete,
                     "upgrade_body": x.body.decode("utf-8", "replace") if x.body else None},
        "events": events,
        "violations": violations,
    }
    for key, value in extra.items():
        record.setdefault(key, value)
    text = redactor.text(json.dumps(redactor.json(record), indent=2, ensure_ascii=False))
    frames_path.write_text("".join(redactor.text(line) + "\n" for line in outcome.lines), encoding="utf-8")
    json_path.write_text(text + "\n", encoding="utf-8")
    return {"body": frames_path, "json": json_path}


def is_record(path: Path) -> bool:
    """Is this file a transcript record of the live run?"""
    try:
        with open(path, "rb") as handle:
            start = handle.read(512)
    except OSError:
        return False
    return bool(_RECORD_START.match(start)) and b'"request"' in start


def record_for(path: Path) -> Path | None:
    """The record of a live-run transcript file (`.sse`, `.body`, `.ws.jsonl`, or the record
    itself), if there is one."""
    if path.suffix == ".json":
        return path if is_record(path) else None
    if path.name.endswith(".ws.jsonl"):  # the frames of a WebSocket step: its record is <name>.json
        sibling = path.with_name(path.name[: -len(".ws.jsonl")] + ".json")
        return sibling if sibling.is_file() and is_record(sibling) else None
    if path.suffix in (".sse", ".body"):
        sibling = path.with_suffix(".json")
        if sibling.is_file() and is_record(sibling):
            return sibling
    return None


def header_env_name(header: str) -> str:
    """The shell variable that stands for a header's secret value: `X-Gateway-Token` -> X_GATEWAY_TOKEN."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", header).strip("_").upper() or "HEADER"
    return name if not name[0].isdigit() else "_" + name


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


# Headers httpx adds by itself or that curl sets from its own options: not worth repeating.
_CURL_SKIP = {"host", "content-length", "accept-encoding", "connection", "user-agent", "transfer-encoding"}
# Headers whose value is the API key in some gateways' dialects: the command uses the variable.
_KEY_HEADERS = {"api-key", "x-api-key"}


def curl_command(
    exchange: Exchange | None = None,
    *,
    method: str | None = None,
    url: str | None = None,
    headers: Iterable[tuple[str, str]] | None = None,
    body: bytes | str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    redactor: Redactor | None = None,
) -> str:
    """A copy-paste ``curl -sS -N`` command that repeats the request.

    Takes an `Exchange`, or method/url/headers/body (keywords override the exchange's). The
    key never appears: Authorization becomes ``-H "Authorization: Bearer $OPENAI_API_KEY"``
    (the shell expands the variable), cookies are left out, a header whose value is one of
    `redactor`'s secrets (a `--header` value) reads it from a variable named after the header
    (``X-Gateway-Token`` -> ``$X_GATEWAY_TOKEN``), and the rest of the command is passed
    through `redactor` when one is given.
    """
    if exchange is not None:
        method = method or exchange.method
        url = url or exchange.url
        headers = exchange.request_headers if headers is None else headers
        body = exchange.request_body if body is None else body
    if url is None:
        raise ValueError("curl_command needs an exchange or a url")
    method = (method or "POST").upper()
    if isinstance(body, str):
        body = body.encode("utf-8")

    parts = ["curl", "-sS", "-N"]
    implied = "POST" if body is not None else "GET"  # what curl does without -X
    if method != implied:
        parts += ["-X", shlex.quote(method)]
    parts.append(shlex.quote(url))
    for name, value in headers or ():
        lname = name.lower()
        if lname in _CURL_SKIP:
            continue
        if lname == "authorization":
            parts += ["-H", f'"Authorization: Bearer ${api_key_env}"']
        elif lname in _KEY_HEADERS:
            parts += ["-H", f'"{name}: ${api_key_env}"']
        elif lname in SENSITIVE_HEADERS:
            continue  # cookies, proxy credentials: never in a command line
        elif redactor is not None and redactor.is_secret(value.strip()):
            # a secret `--header` value: the shell expands it from a variable named after the header
            parts += ["-H", f'"{name}: ${header_env_name(name)}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body is not None:
        parts += ["--data-raw", shlex.quote(body.decode("utf-8", "replace"))]
    command = " ".join(parts)
    if redactor is not None:
        command = redactor.text(command)
    return command
