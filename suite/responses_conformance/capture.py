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
  - a top-level object whose `log` member is an object (seen in the first SNIFF_LIMIT bytes
    of the value, 64 KiB; HAR tools write it first) is a HAR 1.2 file: each entry of
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

Each format has its reader in `readers/` (see `readers/__init__.py`, which also says how to add
one); this module is the dispatcher that sniffs which reader a part of the input is for.

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

from typing import Any

from .engine import profiles
from .engine.exchange import MAX_JSON_BODY
from .readers import READERS
from .readers.base import (CHUNK_SIZE, MAX_HAR_ENTRY, MAX_HELD_NOTES, MAX_LINE, CaptureError, Context,
                           EmptyCapture, ExchangeReplay, ForeignTraffic, Reader, Transcript, checks_for, foreign)
from .readers.gzip import Gunzip
from .readers.har import _har_plan  # noqa: F401 - tests look at how a HAR entry is planned

__all__ = ["CHUNK_SIZE", "CaptureError", "CaptureReader", "EmptyCapture", "ExchangeReplay", "ForeignTraffic",
           "Transcript", "checks_for", "foreign"]

_TEXT_BYTES = 8192  # the first bytes looked at for NULs (a binary file is no capture)
SNIFF_LIMIT = 64 * 1024  # a reader that cannot tell from this many bytes is taken to say no
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


class CaptureReader:
    """Bytes of one capture in, checked transcripts out (see the module docstring)."""

    def __init__(self, source: str = "-", *, schemas: Any = None, profile: str | profiles.Profile | None = None,
                 max_body: int = MAX_JSON_BODY) -> None:
        self.source = source
        self.profile = profiles.get(profile)
        self.schemas = schemas
        self.max_body = max_body
        self._ctx = Context(source, schemas, self.profile, max_body)
        self.kinds: list[str] = self._ctx.kinds  # what was recognised, in order: json, jsonl, sse, har
        self.notes: list[str] = self._ctx.notes  # about the input as a whole (skipped HAR entries, ...)
        self._started = False  # the first bytes were looked at (gzip, binary)
        self._start_bytes = bytearray()  # bytes held back while too few to tell gzip or a byte-order mark
        self._gunzip: Gunzip | None = None
        self._seen_bytes = 0
        self._content = False  # anything but white space was seen
        self._reader: Reader | None = None  # who reads the bytes now (None: sniff what comes)
        self._head = bytearray()  # bytes held back while no reader can tell yet
        self._sniffed_at = 0  # ... and how many there were when they were last sniffed
        self._used: list[type[Reader]] = []  # the readers this input needed, in order
        self._closed = False

    # -- public ----------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> list[Transcript]:
        out: list[Transcript] = []
        if not chunk or self._closed:
            return out
        if not self._started:
            self._start_bytes += chunk
            if len(self._start_bytes) < len(_BOM):
                return out  # too short to tell a gzip header or a byte-order mark
            chunk = self._start(bytes(self._start_bytes))
            self._start_bytes = bytearray()
        self._run(self._inflate(chunk), out)
        return out

    def close(self) -> list[Transcript]:
        out: list[Transcript] = []
        if self._closed:
            return out
        if not self._started and self._start_bytes:
            self._run(self._inflate(self._start(bytes(self._start_bytes))), out)
        if self._gunzip is not None:
            rest = self._gunzip.flush()
            if rest:
                self._run(rest, out)
            note = self._gunzip.ended_early()
            if note is not None:
                self.notes.append(note)
        self._closed = True
        self._route(b"", out, final=True)  # what was held back for sniffing
        while self._reader is not None:  # the end of the input, for the reader at it
            reader = self._reader
            out += reader.close()
            self._reader = reader.successor if reader.rest is not None else None
            if reader.rest is not None:  # its part ended in what it held back
                self._route(reader.rest, out, final=True)
        for kind in self._used:
            kind.end_of_input(self._ctx)
        if self._ctx.index == 0:
            raise self._nothing_checked()
        return out

    # -- the input as a whole ------------------------------------------------------------------
    def _start(self, data: bytes) -> bytes:
        self._started = True
        if Gunzip.sniff(data):
            self._gunzip = Gunzip()
        return data

    def _inflate(self, chunk: bytes) -> bytes:
        return chunk if self._gunzip is None else self._gunzip.feed(chunk)

    def _check_text(self, data: bytes) -> None:
        """The first bytes of text (after any gzip) tell a binary file or UTF-16 from a capture."""
        if self._seen_bytes == 0 and data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise CaptureError("UTF-16 text; captures are read as UTF-8")
        if b"\x00" in data[:_TEXT_BYTES - self._seen_bytes]:
            raise CaptureError("binary data (NUL bytes), not a text capture")

    def _nothing_checked(self) -> CaptureError:
        if self._seen_bytes == 0 and self._gunzip is not None:
            return self._gunzip.empty()
        if self._seen_bytes == 0:
            return EmptyCapture("the input is empty")
        if not self._content:
            return EmptyCapture("the input holds only white space (no Responses API traffic)")
        for kind in self._used:
            error = kind.nothing_checked(self._ctx)
            if error is not None:
                return error
        return ForeignTraffic("no Responses API traffic found (neither server-sent events, JSON lines, "
                              "a JSON body nor a HAR file)")

    # -- dispatching -------------------------------------------------------------------------
    def _run(self, data: bytes, out: list[Transcript]) -> None:
        if self._seen_bytes < _TEXT_BYTES and data:
            self._check_text(data)
        self._seen_bytes += len(data)
        self._route(data, out)

    def _route(self, data: bytes, out: list[Transcript], *, final: bool = False) -> None:
        """Hand `data` to the reader at this point of the input, and what a reader hands on to the next."""
        while True:
            if self._reader is None:
                data = self._sniff(data, final)
                if data is None:
                    return
            reader = self._reader
            assert reader is not None
            if data:
                out += reader.feed(data)
            if reader.rest is None:
                return
            data, self._reader = reader.rest, reader.successor
            if not data and self._reader is None:
                return

    def _sniff(self, data: bytes, final: bool) -> bytes | None:
        """Choose the reader of what starts here; returns the bytes it is to read, or None while
        they are held back (too few to tell) or are only white space."""
        if not self._head:
            if not self.kinds and data.startswith(_BOM):
                data = data[len(_BOM):]
            data = data.lstrip(_WHITESPACE)
            if not data:
                return None
            self._content = True
        head = bytes(self._head) + data if self._head else data
        waiting = not final and len(head) < SNIFF_LIMIT
        if waiting and self._sniffed_at and len(head) < 2 * self._sniffed_at:
            self._head = bytearray(head)  # sniffing again only when the head has doubled: linear time
            return None
        for kind in READERS:
            verdict = kind.sniff(head)
            if verdict is None and waiting:
                self._head = bytearray(head)
                self._sniffed_at = len(head)
                return None
            if verdict:
                break
        self._head = bytearray()
        self._sniffed_at = 0
        self._reader = kind(self._ctx)
        self.kinds.append(kind.kind)
        if kind not in self._used:
            self._used.append(kind)
        return head
