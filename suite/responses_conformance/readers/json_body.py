"""A JSON body: one JSON value, scanned as it arrives (strings and nesting tracked, nothing decoded)
and decoded when it ends: a Response object (`"object": "response"`), else an error envelope (an
`error` member), else checked as a Response body (and so fails). After it, the dispatcher sniffs
what follows: another JSON body, or server-sent events.

Two things a JSON value can turn out to be hand the rest of the input to another reader:

* an event payload (a string `type` such as `response.created`): the first line of JSON lines
  (one spread over several lines, which the JSON lines reader's sniff cannot see);
* a body cut short by a line that starts with `event:` or `data:` (a capture that lost a body's
  last bytes and then goes on with a stream, like the January OpenAI capture): checked with its
  open brackets closed again, with a note saying so; the SSE reader reads on.
"""
from __future__ import annotations

import re
from typing import Any

from ..engine.checker import parse_json
from .base import ForeignTraffic, Reader, Transcript, classify, describe_json, refuse_foreign, responses_like
from .jsonl import JsonLinesReader
from .jsonscan import JsonScanner, guess
from .sse import SseReader

_SSE_LINE = re.compile(rb"(?:event|data|id|retry):")
_SSE_LOOKAHEAD = 6  # len("event:"): enough to tell whether a line starts an SSE field


class JsonBodyReader(Reader):
    kind = "json"

    @staticmethod
    def sniff(head: bytes) -> bool | None:
        return head[:1] in (b"{", b"[")

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._scanner = JsonScanner()
        self._body = bytearray()
        self._overflow = False
        self._nl_tail: bytes | None = None  # bytes after a line end at the end of the previous chunk

    def feed(self, data: bytes) -> list[Transcript]:
        out: list[Transcript] = []
        self._scan(data, out)
        return out

    def close(self) -> list[Transcript]:
        out: list[Transcript] = []
        if self._nl_tail is not None:
            self._scan(b"", out, final=True)
            if self.rest is not None:  # the value ended (or SSE began) in the held-back bytes
                return out
        body = bytes(self._body)
        self._body = bytearray()
        guessed = guess(body)
        refuse_foreign(guessed)
        kind = classify(guessed)
        if kind == "event":  # one event payload cut short: JSON lines of one line
            self.ctx.kinds[-1] = "jsonl"
            kind = "stream"
        # A capture cut short, not the server's fault: noted, not checked.
        self.ctx.unchecked(kind, "the capture ends inside this JSON value: the capture may be truncated", out)
        return out

    def _scan(self, data: bytes, out: list[Transcript], *, final: bool = False) -> None:
        """Scan `data` as the continuation of the JSON value; hands over what follows the value."""
        scanner = self._scanner
        if self._nl_tail is not None:
            # A line end came too close to the end of the previous chunk to see what follows it.
            data, self._nl_tail = self._nl_tail + data, None
            if _SSE_LINE.match(data):
                self._truncated(out, data)
                return
            if len(data) < _SSE_LOOKAHEAD and not final:
                self._nl_tail = data
                return
        for kind, pos in scanner.scan(data):
            if kind == "newline":
                after = data[pos + 1:pos + 1 + _SSE_LOOKAHEAD]
                if len(after) < _SSE_LOOKAHEAD and not final:
                    self._keep(data[:pos + 1])  # stop here; the rest is scanned with the next chunk
                    self._nl_tail = data[pos + 1:]
                    return
                if _SSE_LINE.match(after):
                    self._keep(data[:pos + 1])
                    self._truncated(out, data[pos + 1:])
                    return
            elif kind == "end":
                self._keep(data[:pos])
                self._end(out, data[pos:])
                return
        self._keep(data)

    def _keep(self, data: bytes) -> None:
        if self._overflow or not data:
            return
        if len(self._body) + len(data) > self.ctx.max_body:
            self._overflow = True
            self._body = bytearray(self._body[:1024])  # the start, for the message
            return
        self._body += data

    def _end(self, out: list[Transcript], rest: bytes) -> None:
        """The value is whole; `rest` follows it."""
        ctx = self.ctx
        body = bytes(self._body)
        self._body = bytearray()
        if self._overflow:  # our limit, not the server's fault
            ctx.unchecked("response", f"limit: a JSON body larger than {ctx.max_body} bytes, the most replay "
                                      "holds of one body", out)
            self.hand_over(rest)
            return
        ok, value = parse_json(body)
        if ok:
            refuse_foreign(value)
        kind = classify(value) if ok else "response"
        if ok and kind != "event" and not responses_like(value):
            raise ForeignTraffic(f"not Responses API traffic: the JSON is {describe_json(value)}, neither a "
                                 "Response, an error envelope nor an event of a stream")
        if ok and kind == "event":  # the first line of JSON lines
            ctx.kinds[-1] = JsonLinesReader.kind
            self.hand_over(rest, JsonLinesReader(ctx, first=body.decode("utf-8", "replace")))
            return
        ctx.body_transcript(kind, body, out)
        self.hand_over(rest)

    def _truncated(self, out: list[Transcript], rest: bytes) -> None:
        """A JSON body cut short, followed directly by server-sent events (`rest`)."""
        scanner = self._scanner
        closers = "" if scanner.in_string else scanner.closers()
        body = bytes(self._body).rstrip()
        self._body = bytearray()
        repaired = body + closers.encode()
        ok, value = parse_json(repaired)
        kind = classify(value if ok else guess(body))
        kind = "response" if kind == "event" else kind
        if ok:
            note = (f"truncated in the capture: the body stops without its closing {closers!r} and server-sent "
                    f"events follow directly; checked with {closers!r} restored")
            self.ctx.body_transcript(kind, repaired, out, notes=[note])
        else:
            note = ("truncated in the capture: the body stops short and server-sent events follow directly; "
                    "it cannot be repaired")
            self.ctx.body_transcript(kind, body, out, notes=[note])
        self.ctx.kinds.append(SseReader.kind)
        self.hand_over(rest, SseReader(self.ctx))
