"""Captured traffic: recognised, split into transcripts, each checked as it is read. Sans-IO.

Bytes go in, in chunks of any size; finished `Transcript`s come out. Nothing here opens a
file: `replay.py` reads files and standard input and prints; this module only decides what
the bytes are and feeds them, a piece at a time, to the same checkers the live suite uses
(`StreamChecker`, `ExchangeChecker`).

    reader = CaptureReader("capture.txt", schemas=SchemaSet.load())
    for chunk in chunks:                 # 64 KiB at a time, say
        for transcript in reader.feed(chunk):
            ...
    for transcript in reader.close():
        ...

What the input is, is detected from its first bytes (after a UTF-8 byte-order mark and
white space):

* `{` or `[`: JSON. One JSON value is scanned (strings and nesting tracked, nothing decoded):
  - a top-level object whose `log` member is an object is a HAR 1.2 file: each entry of
    `log.entries` is decoded on its own when its closing brace arrives, and every entry whose
    URL path is `/responses` (or `/responses/{id}`) is checked as one exchange, its HTTP status,
    headers and request included;
  - a value that is an event payload (a string `type` such as `response.created`) starts
    JSON lines: one event payload per line, one stream after another;
  - otherwise the value is a body: a Response object (`"object": "response"`), else an error
    envelope (an `error` member), else checked as a Response body (and so fails). After a body,
    detection starts again: another JSON body, or server-sent events.
  - a body cut short by a line that starts with `event:` or `data:` (a capture that lost a
    body's last bytes and then goes on with a stream, like the January OpenAI capture) is
    checked with its open brackets closed again, and says so in a note; the SSE that follows
    is read as usual.
* anything else: server-sent events, one stream after another.

Traffic of another API is refused with `ForeignTraffic` (a `CaptureError`) naming what it looks
like: Chat Completions chunks or bodies, Anthropic Messages events, Gemini or Ollama answers, and
JSON that is neither a Response, an error envelope nor a stream event. An input with nothing in
it (empty, white space, an empty gzip or HAR file) raises `EmptyCapture`: nothing to judge.

Our own limits (an event or JSON line over MAX_LINE, a body over MAX_JSON_BODY, a HAR entry over
MAX_HAR_ENTRY) are never the server's fault: the transcript is `could_not_check` ("limit: ..."),
keeps only the violations found before the limit, and its status is "could not test" unless a
MUST rule was broken before it. A capture that ends inside an event (or inside a JSON line or
value) may simply have been cut: it gets a note saying so, the cut event is checked only if it
is whole JSON, and the end-of-stream rules do not run.

A stream ends where the next begins: at a `response.created` event that comes after the
terminal event (or after `data: [DONE]`) of the stream before; the last one ends with the
input. Memory holds one stream's state (bounded by that response) and one JSON body or HAR
entry, never the whole input.
"""
from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

from .engine import profiles, registry
from .engine.checker import StreamChecker, parse_json
from .engine.exchange import MAX_JSON_BODY, Expectation, ExchangeChecker
from .engine.sse import SseDecoder, SseEvent, WireNote
from .engine.violations import Severity, Violation
from .results import Status, scenario_status

__all__ = ["CHUNK_SIZE", "CaptureError", "CaptureReader", "EmptyCapture", "ExchangeReplay", "ForeignTraffic",
           "Transcript", "HEAD_CHECKS", "checks_for", "foreign"]

CHUNK_SIZE = 64 * 1024
MAX_LINE = 16 * 1024 * 1024  # one JSON-lines payload (as large as the SSE decoder allows an event)
MAX_HELD_NOTES = 64
MAX_HAR_ENTRY = 4 * MAX_JSON_BODY  # one HAR entry, its response body included
_SNIFF_BYTES = 8192  # the first bytes looked at for NULs (a binary file is no capture)
_SSE_LOOKAHEAD = 6  # len("event:"): enough to tell whether a line starts an SSE field

# Checks about the HTTP status line and headers: they cannot run on a body captured without them.
HEAD_CHECKS = frozenset({"framing.http_status_ok", "framing.content_type_event_stream",
                         "framing.content_type_json", "error.status_fits"})
# Needs the same request sent twice (streamed and not): never in one capture.
PAIR_CHECKS = frozenset({"consistency.nonstream_matches_stream"})

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_SSE_LINE = re.compile(rb"(?:event|data|id|retry):")
# Outside strings only these bytes change the structure; inside a string, only `"` and `\`.
_STRUCTURE = re.compile(rb'[{}\[\]"\n]')
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\[\s\S][^"\\]*)*')
_KEY_LIMIT = 64  # object keys longer than this are never the ones we look for (`log`, `entries`)
_CLOSERS = {ord("{"): "}", ord("["): "]"}


class CaptureError(Exception):
    """The input cannot be read as captured traffic; the message is one line for a human."""


class EmptyCapture(CaptureError):
    """The input holds nothing to check (empty, white space, an empty gzip or HAR file): not an
    error of the input, but nothing was judged."""


class ForeignTraffic(CaptureError):
    """The input is API traffic, but not the Responses API's (Chat Completions chunks, Anthropic
    events, other JSON): the message names what it looks like."""


def checks_for(kind: str, profile: str | profiles.Profile | None, *, head: bool) -> list[str]:
    """The check ids that apply to one kind of exchange, as the live suite chooses them."""
    chosen = profiles.get(profile)
    ids = [c.id for c in chosen.checks_for(kind) if c.id not in PAIR_CHECKS]
    return ids if head else [c for c in ids if c not in HEAD_CHECKS]


@dataclass
class Transcript:
    """One checked exchange or stream of a capture, and its verdict."""

    source: str
    index: int  # position in its source, from 0
    kind: str  # stream | response | error
    violations: list[Violation]
    response_id: str | None = None
    events: int = 0
    notes: list[str] = field(default_factory=list)
    record: Any = None  # a live-suite transcript: the path of its .json record
    curl: str | None = None  # ... and the command that repeats its request
    # Why it could not be checked (to its end): a limit of ours, a capture cut before anything
    # could be checked. Never the server's fault: no violation is reported for it.
    could_not_check: str | None = None

    @property
    def status(self) -> Status:
        """Its status in the results model (results.scenario_status, as a live scenario's): failed
        (a MUST rule broken), could not test (a limit of ours or a cut capture kept it from being
        checked), warned, model behaviour, passed. A capture's model is not scripted, so a
        model-behaviour finding never fails it."""
        outcome = Status.COULD_NOT_TEST if self.could_not_check is not None else Status.PASSED
        return scenario_status(outcome, self.violations, deterministic=False)

    @property
    def verdict(self) -> str:
        """pass, warn, fail, or "could not check"."""
        return {Status.FAILED: "fail", Status.COULD_NOT_TEST: "could not check", Status.WARNED: "warn",
                Status.MODEL: "warn"}.get(self.status, "pass")

    @property
    def label(self) -> str:
        return f"{self.source}[{self.index}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "index": self.index,
            "kind": self.kind,
            "response_id": self.response_id,
            "verdict": self.verdict,
            "status": str(self.status),
            "could_not_check": self.could_not_check,
            "events": self.events,
            "notes": list(self.notes),
            "violations": [{"check": v.check, "category": v.category, "severity": v.severity.value,
                            "event_index": v.event_index, "message": v.message, "event_type": v.event_type,
                            "sequence_number": v.sequence_number, "path": v.path} for v in self.violations],
        }


def _response_id(response: Any) -> str | None:
    value = response.get("id") if isinstance(response, dict) else None
    return value if isinstance(value, str) else None


# -- one HTTP exchange whose head is known (a live transcript, a HAR entry) ----------------------
class ExchangeReplay:
    """An exchange replayed through `ExchangeChecker`: head, body chunks, close.

    `complete=False` replays an exchange the live run could not finish (a timeout, a broken
    connection): like the live runner, the end-of-stream rules are then not run.
    """

    def __init__(self, source: str, index: int, expectation: Expectation, status: int | None,
                 headers: Iterable[tuple[str, str]], *, schemas: Any = None,
                 profile: str | profiles.Profile | None = None, checks: Iterable[str] | None = None,
                 complete: bool = True, notes: Iterable[str] = (), prefix: Iterable[dict] = ()) -> None:
        self.source = source
        self.index = index
        self.kind = expectation.kind
        self.complete = complete
        self.notes = list(notes)
        if checks is None:
            checks = checks_for(expectation.kind, profile, head=True)
        # prefix: the events of the original stream up to `starting_after`, for a resumed stream
        # (checked, like live, as the tail of the original)
        extra = {"prefix": list(prefix)} if prefix else {}
        self.checker = ExchangeChecker(expectation, schemas=schemas, checks=checks, profile=profile, **extra)
        if status is not None:
            self.checker.head(status, list(headers))

    def body(self, chunk: bytes) -> None:
        if self.checker.status is not None:
            self.checker.body(chunk)

    def close(self) -> Transcript:
        checker = self.checker
        violations = checker.close() if self.complete else list(checker.violations)
        response_id = None
        if checker.stream is not None:
            identity = checker.stream.state.identity
            response_id = identity.get("id") if identity else None
            response_id = response_id if isinstance(response_id, str) else None
        if response_id is None:
            response_id = _response_id(checker.final_response)
        kind = self.kind
        if kind not in ("stream", "response", "error"):  # "any": judged by what arrived
            status = checker.status
            kind = "stream" if checker.stream is not None else "error" if status is not None and status >= 400 \
                else "response"
        return Transcript(self.source, self.index, kind, list(violations), response_id=response_id,
                          events=checker.events, notes=self.notes)


# -- the structure of a JSON text, without decoding it -----------------------------------------
class _JsonScanner:
    """Follows nesting and strings of one JSON value fed in chunks. Constant memory.

    `scan` yields ("open", pos), ("close", pos), ("newline", pos) (outside strings, inside the
    value) and ("end", pos) (just after the value). `stack` holds, per open container, its
    bracket and the key it is the value of (for objects up to depth 2; enough to find
    `log.entries`).
    """

    def __init__(self) -> None:
        self.stack: list[tuple[int, str | None]] = []
        self.in_string = False
        self._escape = False
        self._key: bytearray | None = None  # the string being read, when it may be a key we need
        self._last_string: str | None = None  # the last short string completed at this depth
        self.done = False

    @property
    def depth(self) -> int:
        return len(self.stack)

    def closers(self) -> str:
        return "".join(_CLOSERS[opener] for opener, _ in reversed(self.stack))

    def scan(self, data: bytes, pos: int = 0) -> Iterator[tuple[str, int]]:
        end = len(data)
        stack = self.stack
        while pos < end and not self.done:
            if self.in_string:
                if self._escape:
                    self._escape = False
                    if self._key is not None:
                        self._key += data[pos:pos + 1]
                    pos += 1
                    continue
                match = _STRING_BODY.match(data, pos)
                stop = match.end()
                if self._key is not None:
                    self._key += data[pos:stop]
                    if len(self._key) > _KEY_LIMIT:
                        self._key = None
                if stop >= end:
                    return
                if data[stop] == 0x5C:  # a backslash whose escaped byte is in the next chunk
                    self._escape = True
                    if self._key is not None:
                        self._key += b"\\"
                    pos = stop + 1
                    continue
                self.in_string = False  # the closing quote
                if self._key is not None:
                    self._last_string = self._key.decode("utf-8", "replace")
                    self._key = None
                pos = stop + 1
                continue
            match = _STRUCTURE.search(data, pos)
            if match is None:
                return
            pos = match.start()
            byte = data[pos]
            if byte == 0x22:  # "
                self.in_string = True
                self._key = bytearray() if len(stack) <= 2 else None
                self._last_string = None
            elif byte in (0x7B, 0x5B):  # { [
                key = self._last_string if stack and stack[-1][0] == 0x7B else None
                stack.append((byte, key))
                self._last_string = None
                yield "open", pos
            elif byte in (0x7D, 0x5D):  # } ]
                if stack:
                    stack.pop()
                self._last_string = None
                yield "close", pos
                if not stack:
                    self.done = True
                    yield "end", pos + 1
                    return
            elif stack:  # a line end inside the value
                yield "newline", pos
            pos += 1


def _classify(value: Any) -> str:
    """What a complete top-level JSON value is: an event payload, a Response or an error body."""
    if isinstance(value, dict):
        if value.get("object") == "response":
            return "response"
        etype = value.get("type")
        if isinstance(etype, str) and (etype.startswith("response.") or etype in ("error", "keepalive")
                                       or "sequence_number" in value):
            return "event"
        if "error" in value or ("message" in value and "object" not in value):
            return "error"
    return "response"


_ANTHROPIC_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "content_block_start",
                               "content_block_delta", "content_block_stop", "ping"})


def foreign(value: Any) -> str | None:
    """What a JSON value of another API looks like ("Chat Completions stream chunks
    (chat.completion.chunk)"), or None when it could be Responses API traffic."""
    if not isinstance(value, dict):
        return None
    obj, kind = value.get("object"), value.get("type")
    if obj == "chat.completion.chunk":
        return "Chat Completions stream chunks (chat.completion.chunk)"
    if obj == "chat.completion":
        return "a Chat Completions response (chat.completion)"
    if obj == "text_completion":
        return "a legacy Completions response (text_completion)"
    if "choices" in value and obj != "response":
        return "Chat Completions traffic (a `choices` member)"
    if isinstance(kind, str) and kind in _ANTHROPIC_EVENTS:
        return f"Anthropic Messages stream events ({kind})"
    if kind == "message" and "content" in value and "role" in value:
        return "an Anthropic Messages response (type message)"
    if "candidates" in value and obj != "response":
        return "a Gemini generateContent answer (`candidates`)"
    if "done" in value and "model" in value and ("message" in value or "response" in value) and obj != "response":
        return "Ollama chat or generate traffic (`done`, `model`)"
    if obj in ("list", "model", "embedding", "file", "batch", "assistant", "thread", "thread.run"):
        return f"an OpenAI `{obj}` object, not a response"
    return None


def _responses_like(value: Any) -> bool:
    """A top-level JSON value that can be a (broken) Response or error body of the Responses API."""
    if not isinstance(value, dict):
        return False
    if value.get("object") == "response" or "output" in value or "error" in value:
        return True
    ident = value.get("id")
    if isinstance(ident, str) and ident.startswith("resp"):
        return True
    return ("status" in value and "model" in value) or ("message" in value and "object" not in value)


def _describe_json(value: Any) -> str:
    """A few words about a JSON value for a one-line message."""
    if isinstance(value, dict):
        keys = ", ".join(str(k)[:30] for k in list(value)[:5])
        more = ", ..." if len(value) > 5 else ""
        kind = value.get("type")
        return f"an object with type {kind!r}" if isinstance(kind, str) else f"an object with members {keys}{more}"
    if isinstance(value, list):
        return "a JSON array"
    return f"a JSON {type(value).__name__}"


# -- the reader --------------------------------------------------------------------------------
class CaptureReader:
    """Bytes of one capture in, checked transcripts out (see the module docstring)."""

    def __init__(self, source: str = "-", *, schemas: Any = None, profile: str | profiles.Profile | None = None,
                 max_body: int = MAX_JSON_BODY) -> None:
        self.source = source
        self.profile = profiles.get(profile)
        self.schemas = schemas
        self.max_body = max_body
        self.kinds: list[str] = []  # what was recognised, in order: json, jsonl, sse, har
        self.notes: list[str] = []  # about the input as a whole (skipped HAR entries, ...)
        self._stream_checks = checks_for("stream", self.profile, head=False)
        self._index = 0
        self._mode = "start"
        self._started = False  # the first bytes were looked at (gzip, binary)
        self._gunzip: Any = None
        self._head = bytearray()  # bytes held back while the kind is not known yet
        self._seen_bytes = 0
        # a JSON value being scanned
        self._scanner: _JsonScanner | None = None
        self._body = bytearray()
        self._body_overflow = False
        self._nl_tail: bytes | None = None  # bytes after a line end at the end of the previous chunk
        # HAR
        self._har = False
        self._entry: bytearray | None = None
        self._entry_overflow = False
        self._har_entries = 0
        self._har_skipped = 0
        # streams
        self._decoder: SseDecoder | None = None
        self._stream: StreamChecker | None = None
        self._held: list[WireNote] = []
        self._line = bytearray()  # JSON lines: the unfinished line
        self._line_overflow = False
        self._segment_bytes = 0  # non-blank bytes of the current SSE part before its first event
        self._limit: str | None = None  # a limit of ours stopped the check of the current stream
        self._kept = 0  # ... and how many of its violations came before that
        self._content = False  # anything but white space was seen
        self._har_paths: dict[str, int] = {}  # URL paths of skipped HAR entries (for a foreign HAR)
        self._entry_from = 0
        self._closed = False

    # -- public ----------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> list[Transcript]:
        out: list[Transcript] = []
        if not chunk or self._closed:
            return out
        if not self._started:
            self._head += chunk
            if len(self._head) < len(_BOM):
                return out  # too short to tell a gzip header or a byte-order mark
            chunk = self._start(bytes(self._head))
            self._head = bytearray()
        self._run(self._inflate(chunk), out)
        return out

    def _inflate(self, chunk: bytes) -> bytes:
        if self._gunzip is None:
            return chunk
        try:
            return self._gunzip.decompress(chunk)
        except zlib.error as exc:
            raise CaptureError(f"gzip data is corrupt: {exc}") from None

    def close(self) -> list[Transcript]:
        out: list[Transcript] = []
        if self._closed:
            return out
        if not self._started and self._head:
            self._run(self._inflate(self._start(bytes(self._head))), out)
        if self._gunzip is not None:
            try:
                rest = self._gunzip.flush()
            except zlib.error as exc:
                raise CaptureError(f"gzip data is corrupt: {exc}") from None
            if rest:
                self._run(rest, out)
            if not self._gunzip.eof:
                self.notes.append("the gzip data ends early; what was there was checked")
        self._closed = True
        mode = self._mode
        if mode == "json":
            self._end_json_at_eof(out)
        elif mode == "sse":
            self._close_sse(out)
        elif mode == "jsonl":
            self._close_jsonl(out)
        if self._har_skipped:
            self.notes.append(f"{self._har_skipped} HAR entr{'y' if self._har_skipped == 1 else 'ies'} skipped "
                              "(not a /responses exchange with a recorded response body)")
        if self._index == 0:
            if self._seen_bytes == 0 and self._gunzip is not None:
                if self._gunzip.eof:
                    raise EmptyCapture("the gzip data holds nothing")
                raise CaptureError("the gzip data holds nothing (it ends early)")
            if self._seen_bytes == 0:
                raise EmptyCapture("the input is empty")
            if not self._content:
                raise EmptyCapture("the input holds only white space (no Responses API traffic)")
            if "har" in self.kinds:
                if not self._har_entries:
                    raise EmptyCapture("the HAR file holds no /responses exchange (it has no entries)")
                paths = ", ".join(sorted(self._har_paths, key=lambda p: -self._har_paths[p])[:3])
                raise ForeignTraffic("the HAR file holds no /responses exchange with a recorded response body"
                                     + (f" (its entries are for {paths})" if paths else ""))
            raise ForeignTraffic("no Responses API traffic found (neither server-sent events, JSON lines, "
                                 "a JSON body nor a HAR file)")
        return out

    def _close_sse(self, out: list[Transcript]) -> None:
        """The end of an SSE capture. Ending inside an event (no blank line after it) says the
        capture may be truncated: that is a note, not the server's fault, and the end-of-stream
        rules do not run; the cut event is checked only if its data is whole JSON."""
        assert self._decoder is not None
        items = self._decoder.close()
        cut = any(isinstance(item, WireNote) and item.kind == "unterminated_event" for item in items)
        if not cut:
            self._sse_items(items, out)
            if self._stream is None and self._segment_bytes:
                self.notes.append(f"{self._segment_bytes} bytes at the end hold no event; ignored")
            self._finish_stream(out)
            return
        kept = []
        for item in items:
            if isinstance(item, WireNote) and item.kind == "unterminated_event":
                continue
            if type(item) is SseEvent and not parse_json(item.data)[0]:
                continue  # the cut event: its data stops short
            kept.append(item)
        self._sse_items(kept, out)
        cut = ("the capture ends inside an event (no blank line after it): the capture may be truncated, so the "
               "end-of-stream rules were not checked")
        if self._stream is not None and not self._stream.state.ended:
            self._finish_stream(out, cut=cut)
            return
        self._finish_stream(out)  # a stream that ended before the cut: whole
        if self._index == 0:  # the cut event is all there is
            self._stream = self._new_stream()
            self._finish_stream(out, cut=cut)
        else:
            self.notes.append("the capture ends inside an event after its last whole stream: the capture may be "
                              "truncated; that event was not checked")

    def _close_jsonl(self, out: list[Transcript]) -> None:
        """The end of JSON lines: a last line that is not whole JSON was cut (the capture may be
        truncated), a note like for SSE, not a violation."""
        if self._line_overflow:
            self._jsonl_line(bytes(self._line), out)
            self._line = bytearray()
        elif self._line:
            line = bytes(self._line).strip()
            self._line = bytearray()
            if line and not parse_json(line)[0]:
                cut = ("the capture ends inside a JSON line: the capture may be truncated, so that line and the "
                       "end-of-stream rules were not checked")
                if self._stream is not None and not self._stream.state.ended:
                    self._finish_stream(out, cut=cut)
                    return
                self._finish_stream(out)
                if self._index == 0:
                    self._stream = self._new_stream()
                    self._finish_stream(out, cut=cut)
                else:
                    self.notes.append("the capture ends inside a JSON line after its last whole stream: the capture "
                                      "may be truncated; that line was not checked")
                return
            if line:
                self._jsonl_line(line, out)
        self._finish_stream(out)

    # -- detection -------------------------------------------------------------------------
    def _start(self, data: bytes) -> bytes:
        self._started = True
        if data.startswith(_GZIP_MAGIC):
            self._gunzip = zlib.decompressobj(wbits=31)
        return data

    def _check_text(self, data: bytes) -> None:
        """The first bytes of text (after any gzip) tell a binary file or UTF-16 from a capture."""
        if self._seen_bytes == 0 and data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise CaptureError("UTF-16 text; captures are read as UTF-8")
        if b"\x00" in data[:_SNIFF_BYTES - self._seen_bytes]:
            raise CaptureError("binary data (NUL bytes), not a text capture")

    def _run(self, data: bytes, out: list[Transcript]) -> None:
        if self._seen_bytes < _SNIFF_BYTES and data:
            self._check_text(data)
        self._seen_bytes += len(data)
        while data:
            mode = self._mode
            if mode == "sse":
                if self._stream is None:
                    self._segment_bytes += len(data.strip())
                assert self._decoder is not None
                self._sse_items(self._decoder.feed(data), out)
                return
            if mode == "jsonl":
                self._jsonl(data, out)
                return
            if mode == "json":
                data = self._json(data, out)
            else:  # at the start, or after a JSON body
                data = self._detect(data)

    def _detect(self, data: bytes) -> bytes:
        if not self.kinds and data.startswith(_BOM):
            data = data[len(_BOM):]
        stripped = data.lstrip(_WHITESPACE)
        if not stripped:
            return b""
        self._content = True
        if stripped[:1] in (b"{", b"["):
            self._mode = "json"
            self.kinds.append("json")
            self._scanner = _JsonScanner()
            self._body = bytearray()
            self._body_overflow = False
            self._nl_tail = None
            return stripped
        self._start_sse()
        return stripped

    def _start_sse(self) -> None:
        self._mode = "sse"
        self.kinds.append("sse")
        self._decoder = SseDecoder()
        self._segment_bytes = 0

    # -- a JSON value ------------------------------------------------------------------------
    def _json(self, data: bytes, out: list[Transcript], *, final: bool = False) -> bytes:
        """Scan `data` as the continuation of the JSON value; returns what follows the value."""
        scanner = self._scanner
        assert scanner is not None
        if self._nl_tail is not None:
            # A line end came too close to the end of the previous chunk to see what follows it.
            data, self._nl_tail = self._nl_tail + data, None
            if _SSE_LINE.match(data):
                self._truncated_body(out)
                return data
            if len(data) < _SSE_LOOKAHEAD and not final:
                self._nl_tail = data
                return b""
        har = self._har
        for kind, pos in scanner.scan(data):
            if kind == "newline":
                if har:
                    continue
                after = data[pos + 1:pos + 1 + _SSE_LOOKAHEAD]
                if len(after) < _SSE_LOOKAHEAD and not final:
                    self._keep(data[:pos + 1])  # stop here; the rest is scanned with the next chunk
                    self._nl_tail = data[pos + 1:]
                    return b""
                if _SSE_LINE.match(after):
                    self._keep(data[:pos + 1])
                    self._truncated_body(out)
                    return data[pos + 1:]
            elif har:
                if kind == "end":
                    self._end_har()
                    return data[pos:]
                self._har_token(kind, pos, data, out)
            elif kind == "open" and scanner.depth == 2 and scanner.stack[1] == (0x7B, "log") \
                    and scanner.stack[0][0] == 0x7B:
                self._start_har()
                har = True
            elif kind == "end":
                self._keep(data[:pos])
                self._end_json(out)
                return data[pos:]
        if har:
            if self._entry is not None:
                self._entry_bytes(data[self._entry_from:])
            self._entry_from = 0
        else:
            self._keep(data)
        return b""

    def _keep(self, data: bytes) -> None:
        if self._body_overflow or not data:
            return
        if len(self._body) + len(data) > self.max_body:
            self._body_overflow = True
            self._body = bytearray(self._body[:1024])  # the start, for the message
            return
        self._body += data

    def _end_json(self, out: list[Transcript]) -> None:
        self._scanner = None
        self._mode = "between"
        body = bytes(self._body)
        self._body = bytearray()
        if self._body_overflow:  # our limit, not the server's fault
            self._unchecked("response", f"limit: a JSON body larger than {self.max_body} bytes, the most replay "
                                        "holds of one body", out)
            return
        ok, value = parse_json(body)
        what = foreign(value) if ok else None
        if what is not None:
            raise ForeignTraffic(f"not Responses API traffic: this looks like {what}")
        kind = _classify(value) if ok else "response"
        if ok and kind != "event" and not _responses_like(value):
            raise ForeignTraffic(f"not Responses API traffic: the JSON is {_describe_json(value)}, neither a "
                                 "Response, an error envelope nor an event of a stream")
        if ok and kind == "event":  # the first line of JSON lines
            self._mode = "jsonl"
            self.kinds[-1] = "jsonl"
            self._stream = self._new_stream()
            self._stream.feed_payload(body.decode("utf-8", "replace"))
            return
        self._body_transcript(kind, body, out)

    def _truncated_body(self, out: list[Transcript]) -> None:
        """A JSON body cut short, followed directly by server-sent events."""
        scanner = self._scanner
        assert scanner is not None
        closers = "" if scanner.in_string else scanner.closers()
        self._scanner = None
        body = bytes(self._body).rstrip()
        self._body = bytearray()
        repaired = body + closers.encode()
        ok, value = parse_json(repaired)
        kind = _classify(value if ok else _guess(body))
        kind = "response" if kind == "event" else kind
        if ok:
            note = (f"truncated in the capture: the body stops without its closing {closers!r} and server-sent "
                    f"events follow directly; checked with {closers!r} restored")
            self._body_transcript(kind, repaired, out, notes=[note])
        else:
            note = ("truncated in the capture: the body stops short and server-sent events follow directly; "
                    "it cannot be repaired")
            self._body_transcript(kind, body, out, notes=[note])
        self._start_sse()

    def _end_json_at_eof(self, out: list[Transcript]) -> None:
        if self._nl_tail is not None:
            rest = self._json(b"", out, final=True)
            if self._mode != "json":  # the value ended (or SSE began) in the held-back bytes
                self._mode_after_eof(rest, out)
                return
        if self._har:
            self.notes.append("the HAR file ends early (truncated); the entries before the cut were checked")
            if self._entry is not None:
                self.notes.append("the HAR entry at the cut is incomplete and was not checked")
            return
        body = bytes(self._body)
        self._body = bytearray()
        guess = _guess(body)
        what = foreign(guess)
        if what is not None:
            raise ForeignTraffic(f"not Responses API traffic: this looks like {what}")
        kind = _classify(guess)
        if kind == "event":  # one event payload cut short: JSON lines of one line
            self.kinds[-1] = "jsonl"
            self._mode = "jsonl"
            kind = "stream"
        # A capture cut short, not the server's fault: noted, not checked.
        self._unchecked(kind, "the capture ends inside this JSON value: the capture may be truncated", out)

    def _unchecked(self, kind: str, why: str, out: list[Transcript]) -> None:
        """A transcript that could not be checked (a limit of ours, a cut capture): no violations."""
        out.append(Transcript(self.source, self._index, kind, [], notes=[f"could not check: {why}"],
                              could_not_check=why))
        self._index += 1

    def _mode_after_eof(self, rest: bytes, out: list[Transcript]) -> None:
        """End of input right after held-back bytes were read: finish whatever they started."""
        if rest:
            self._run(rest, out)
        if self._mode == "sse":
            assert self._decoder is not None
            self._sse_items(self._decoder.close(), out)
            self._finish_stream(out)
        elif self._mode == "jsonl":
            if self._line:
                self._jsonl_line(bytes(self._line), out)
                self._line = bytearray()
            self._finish_stream(out)
        elif self._mode == "json":
            self._end_json_at_eof(out)

    def _body_transcript(self, kind: str, body: bytes, out: list[Transcript], *,
                         notes: list[str] | None = None) -> None:
        """A JSON body captured without its HTTP head: the status and header checks cannot run."""
        json_type = [("content-type", "application/json")]
        if kind == "response":
            expectation, status = Expectation("response"), 200
        else:
            expectation, status = Expectation("error", statuses=()), 400
        replay = ExchangeReplay(self.source, self._index, expectation, status, json_type, schemas=self.schemas,
                                profile=self.profile, checks=checks_for(kind, self.profile, head=False),
                                notes=[*(notes or []), "captured without its HTTP status line and headers: "
                                       "the checks of those did not run"])
        replay.body(body)
        self._index += 1
        out.append(replay.close())

    # -- HAR ------------------------------------------------------------------------------------
    def _start_har(self) -> None:
        self._har = True
        self.kinds[-1] = "har"
        self._body = bytearray()
        self._body_overflow = False
        self._entry = None
        self._entry_from = 0

    def _end_har(self) -> None:
        self._mode = "between"
        self._scanner = None
        self._har = False
        self._entry = None

    def _har_token(self, kind: str, pos: int, data: bytes, out: list[Transcript]) -> None:
        scanner = self._scanner
        assert scanner is not None
        if kind == "open":
            if scanner.depth == 4 and self._entry is None and _in_entries(scanner.stack):
                self._entry = bytearray()
                self._entry_overflow = False
                self._entry_from = pos
        elif kind == "close" and scanner.depth == 3 and self._entry is not None and _in_entries(scanner.stack):
            self._entry_bytes(data[self._entry_from:pos + 1])
            entry, overflow = bytes(self._entry), self._entry_overflow
            self._entry = None
            self._entry_from = 0
            self._har_entry(entry, overflow, out)

    def _entry_bytes(self, data: bytes) -> None:
        assert self._entry is not None
        if self._entry_overflow:
            return
        if len(self._entry) + len(data) > MAX_HAR_ENTRY:
            self._entry_overflow = True
            self._entry = bytearray()
            return
        self._entry += data

    def _har_entry(self, raw: bytes, overflow: bool, out: list[Transcript]) -> None:
        number = self._har_entries
        self._har_entries += 1
        if overflow:  # our limit, not the server's fault
            self._unchecked("exchange", f"limit: HAR entry {number} is larger than {MAX_HAR_ENTRY} bytes, the most "
                                        "replay holds of one entry", out)
            return
        ok, entry = parse_json(raw)
        if not ok or not isinstance(entry, dict):
            self.notes.append(f"HAR entry {number} is not a JSON object; not checked")
            return
        plan = _har_plan(entry)
        if plan is None:
            self._har_skipped += 1
            request = entry.get("request")
            url = request.get("url") if isinstance(request, dict) else None
            if isinstance(url, str) and len(self._har_paths) < 100:
                path = urlsplit(url).path or "/"
                self._har_paths[path] = self._har_paths.get(path, 0) + 1
            return
        expectation, status, headers, body, what = plan
        replay = ExchangeReplay(self.source, self._index, expectation, status, headers, schemas=self.schemas,
                                profile=self.profile, notes=[f"HAR entry {number}: {what}"])
        for start in range(0, len(body), CHUNK_SIZE):
            replay.body(body[start:start + CHUNK_SIZE])
        self._index += 1
        out.append(replay.close())

    # -- streams ---------------------------------------------------------------------------------
    def _new_stream(self) -> StreamChecker:
        return StreamChecker(schemas=self.schemas, checks=self._stream_checks, profile=self.profile)

    def _finish_stream(self, out: list[Transcript], *, cut: str | None = None) -> None:
        """The current stream is done. `cut`: the capture ends inside it (a note; the end-of-stream
        rules do not run). After a limit of ours, only what came before it counts."""
        stream = self._stream
        if stream is None:
            return
        limit, self._limit = self._limit, None
        if self._held:
            if limit is None and cut is None:
                for note in self._held:
                    stream.feed(note)
            self._held = []
        notes: list[str] = []
        could_not_check = None
        if limit is not None:
            violations = stream.violations[:self._kept]
            could_not_check = f"limit: {limit}"
            notes.append(f"could not check: {could_not_check}; what came before it was checked, nothing after it")
        elif cut is not None:
            violations = stream.violations
            notes.append(cut)
            if not stream.event_count:
                could_not_check = "the capture ends inside the first event: nothing to check"
        else:
            stream.close()
            violations = stream.violations
        identity = stream.state.identity
        response_id = identity.get("id") if identity else None
        self._stream = None
        out.append(Transcript(self.source, self._index, "stream", violations,
                              response_id=response_id if isinstance(response_id, str) else None,
                              events=stream.event_count, notes=notes, could_not_check=could_not_check))
        self._index += 1

    def _hit_limit(self, what: str, out: list[Transcript]) -> None:
        """A limit of ours stops the check of the current stream (or of the next one, between two)."""
        if self._stream is not None and self._stream.state.ended:
            self._finish_stream(out)
        if self._stream is None:
            self._stream = self._new_stream()
        if self._limit is None:
            self._limit = what
            self._kept = len(self._stream.violations)

    def _check_foreign(self, data: str) -> None:
        ok, value = parse_json(data)
        what = foreign(value) if ok else None
        if what is not None:
            raise ForeignTraffic(f"not Responses API traffic: this looks like {what}")

    def _sse_items(self, items: list[SseEvent | WireNote], out: list[Transcript]) -> None:
        stream = self._stream
        for item in items:
            if type(item) is SseEvent:
                if stream is None or stream.state.ended:
                    if stream is not None and _starts_response(item.data, item.event):
                        self._finish_stream(out)
                        stream = None
                    if stream is None:
                        self._check_foreign(item.data)
                        stream = self._stream = self._new_stream()
                    if self._held:
                        for note in self._held:
                            stream.feed(note)
                        self._held = []
                stream.feed(item)
            elif item.kind == "event_too_large":  # our limit, not the server's fault
                self._hit_limit(f"an event at byte {item.offset} is larger than {MAX_LINE} bytes, the most "
                                "replay holds of one event", out)
                stream = self._stream
            elif stream is not None and not stream.state.ended:
                stream.feed(item)
            elif len(self._held) < MAX_HELD_NOTES:
                self._held.append(item)  # belongs to whichever stream the next event is in

    def _jsonl(self, data: bytes, out: list[Transcript]) -> None:
        lines = data.split(b"\n")
        last = lines.pop()
        for line in lines:
            if self._line or self._line_overflow:
                self._line_add(line)
                line = bytes(self._line)
                self._line = bytearray()
            self._jsonl_line(line, out)
        if last:
            self._line_add(last)

    def _line_add(self, data: bytes) -> None:
        if self._line_overflow:
            return
        if len(self._line) + len(data) > MAX_LINE:
            self._line_overflow = True
            self._line = bytearray(self._line[:200])
            return
        self._line += data

    def _jsonl_line(self, line: bytes, out: list[Transcript]) -> None:
        if self._line_overflow:  # our limit, not the server's fault
            self._line_overflow = False
            self._hit_limit(f"a JSON line is larger than {MAX_LINE} bytes, the most replay holds of one line", out)
            return
        else:
            line = line.strip()
            if not line:
                return
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                text = line.decode("utf-8", "replace")
        stream = self._stream
        if stream is None or stream.state.ended:
            ok, value = parse_json(text)
            if stream is not None and ok and isinstance(value, dict) and value.get("type") == "response.created":
                self._finish_stream(out)
                stream = None
            if stream is None:
                what = foreign(value) if ok else None
                if what is not None:
                    raise ForeignTraffic(f"not Responses API traffic: this looks like {what}")
                stream = self._stream = self._new_stream()
        stream.feed_payload(text)



def _in_entries(stack: list[tuple[int, str | None]]) -> bool:
    """The stack is inside `log.entries` of a HAR document."""
    return (len(stack) >= 3 and stack[0][0] == 0x7B and stack[1] == (0x7B, "log")
            and stack[2] == (0x5B, "entries"))


def _starts_response(data: str, name: str | None) -> bool:
    if name is not None and name != "response.created":
        return False
    ok, value = parse_json(data)
    return ok and isinstance(value, dict) and value.get("type") == "response.created"


def _guess(body: bytes) -> Any:
    """A best guess at what a cut JSON body was: its open brackets closed again, if that parses."""
    scanner = _JsonScanner()
    for _ in scanner.scan(body):
        pass
    if scanner.in_string:
        return None
    ok, value = parse_json(body.rstrip().rstrip(b",:") + scanner.closers().encode())
    return value if ok else None


def _header_list(headers: Any) -> list[tuple[str, str]]:
    if not isinstance(headers, list):
        return []
    return [(str(h.get("name", "")), str(h.get("value", ""))) for h in headers if isinstance(h, dict)]


def _answers_with_a_response(method: str, path: str) -> bool:
    """Does a successful answer to this request carry a Response (or its stream)? `POST
    /responses`, `GET /responses/{id}` and `POST /responses/{id}/cancel` do; `input_items` (a
    list), `DELETE` (a deletion object) and `/responses/compact` (a compaction) do not."""
    tail = [part for part in path[path.rindex("/responses") + len("/responses"):].split("/") if part]
    if not tail:
        return method == "POST"
    if len(tail) == 1:
        return method == "GET" and tail[0] != "compact"
    return len(tail) == 2 and tail[1] == "cancel" and method == "POST"


def _har_plan(entry: dict) -> tuple[Expectation, int, list[tuple[str, str]], bytes, str] | None:
    """How to check one HAR entry, or None when it is not a /responses exchange we can check."""
    request = entry.get("request")
    response = entry.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        return None
    url = request.get("url")
    method = str(request.get("method") or "GET").upper()
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not (path.endswith("/responses") or "/responses/" in path):
        return None
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or status < 200 or 300 <= status < 400:
        return None  # 0: the browser never got an answer; 1xx/3xx: nothing to check
    if status < 400 and not _answers_with_a_response(method, path):
        return None  # a list of input items, a deletion, a compaction: not a Response to check
    content = response.get("content")
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        return None  # the tool did not record the body
    if content.get("encoding") == "base64":
        try:
            body = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return None
    else:
        body = text.encode("utf-8", "surrogatepass")
    if not body and isinstance(content.get("size"), int) and content["size"] > 0:
        return None  # recorded size but no text: the body was not kept
    streamed = False
    post = request.get("postData")
    if method == "POST" and isinstance(post, dict) and isinstance(post.get("text"), str):
        ok, value = parse_json(post["text"])
        streamed = ok and isinstance(value, dict) and value.get("stream") is True
    elif method == "GET":
        streamed = parse_qs(parts.query).get("stream", [""])[-1].lower() == "true"
    if status >= 400:
        expectation = Expectation("error", statuses=(status,))
        note = f"{method} {parts.path} answered HTTP {status}: checked as an error envelope"
    else:
        expectation = Expectation("stream" if streamed else "response")
        note = f"{method} {parts.path} ({'stream' if streamed else 'no stream'}) answered HTTP {status}"
    return expectation, status, _header_list(response.get("headers")), body, note
