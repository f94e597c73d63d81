"""JSON lines: one event payload per line (the SSE `data:` values without their framing), one
stream after another. The event-name checks do not apply."""
from __future__ import annotations

from typing import Any

from ..engine.checker import parse_json
from ..engine.state import NO_SSE
from .base import MAX_LINE, Transcript, classify
from .streams import StreamReader


class JsonLinesReader(StreamReader):
    kind = "jsonl"

    @staticmethod
    def sniff(head: bytes) -> bool | None:
        """Its first line is a whole JSON event payload. A first event spread over several lines
        is a JSON value to the JSON body reader, which hands the lines after it to this one."""
        if head[:1] != b"{":
            return False
        end = head.find(b"\n")
        if end < 0:
            return None
        ok, value = parse_json(head[:end].strip())
        return ok and classify(value) == "event"

    def __init__(self, ctx: Any, first: str | None = None) -> None:
        super().__init__(ctx)
        self._line = bytearray()  # the unfinished line
        self._overflow = False  # ... is longer than MAX_LINE
        if first is not None:  # the first payload, read by the JSON body reader
            self._new_stream().feed_payload(first)

    def feed(self, data: bytes) -> list[Transcript]:
        out: list[Transcript] = []
        lines = data.split(b"\n")
        last = lines.pop()
        for line in lines:
            if self._line or self._overflow:
                self._add(line)
                line = bytes(self._line)
                self._line = bytearray()
            self._payload(line, out)
        if last:
            self._add(last)
        return out

    def close(self) -> list[Transcript]:
        """The end of JSON lines: a last line that is not whole JSON was cut (the capture may be
        truncated), a note like for SSE, not a violation."""
        out: list[Transcript] = []
        if self._overflow:
            self._payload(bytes(self._line), out)
            self._line = bytearray()
        elif self._line:
            line = bytes(self._line).strip()
            self._line = bytearray()
            if line and not parse_json(line)[0]:
                self._finish_cut(out, "the capture ends inside a JSON line: the capture may be truncated, so that "
                                      "line and the end-of-stream rules were not checked",
                                 "the capture ends inside a JSON line after its last whole stream: the capture "
                                 "may be truncated; that line was not checked")
                return out
            if line:
                self._payload(line, out)
        self._finish_stream(out)
        return out

    def _add(self, data: bytes) -> None:
        if self._overflow:
            return
        if len(self._line) + len(data) > MAX_LINE:
            self._overflow = True
            self._line = bytearray(self._line[:200])
            return
        self._line += data

    def _payload(self, line: bytes, out: list[Transcript]) -> None:
        if self._overflow:  # our limit, not the server's fault
            self._overflow = False
            self._hit_limit(f"a JSON line is larger than {MAX_LINE} bytes, the most replay holds of one line", out)
            return
        line = line.strip()
        if not line:
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("utf-8", "replace")
        stream = self._stream
        if stream is None or stream.state.ended:
            # Between two streams: the line is decoded once, to see whether it starts the next
            # stream, whether it is another API's, and for the checks.
            parsed = parse_json(text)
            ok, value = parsed
            if stream is not None and ok and isinstance(value, dict) and value.get("type") == "response.created":
                self._finish_stream(out)
                stream = None
            if stream is None:
                stream = self._first_of_stream(parsed)
            stream._check(text, NO_SSE, parsed)  # stream.feed_payload(text), decoded
            return
        stream.feed_payload(text)
