"""Server-sent events: one stream after another (`event:` / `data:` lines, blank lines between
events), decoded by the engine's SseDecoder. What no other reader claims is read as this."""
from __future__ import annotations

from typing import Any

from ..engine.checker import parse_json
from ..engine.sse import SseDecoder, SseEvent, WireNote
from .base import MAX_HELD_NOTES, MAX_LINE, Transcript
from .streams import StreamReader


class SseReader(StreamReader):
    kind = "sse"

    @staticmethod
    def sniff(head: bytes) -> bool | None:
        return True  # the last reader asked: anything that is not JSON

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._decoder = SseDecoder()
        self._segment_bytes = 0  # non-blank bytes before the first event of this part

    def feed(self, data: bytes) -> list[Transcript]:
        out: list[Transcript] = []
        if self._stream is None:
            self._segment_bytes += len(data.strip())
        self._items(self._decoder.feed(data), out)
        return out

    def close(self) -> list[Transcript]:
        """The end of an SSE capture. Ending inside an event (no blank line after it) says the
        capture may be truncated: that is a note, not the server's fault, and the end-of-stream
        rules do not run; the cut event is checked only if its data is whole JSON."""
        out: list[Transcript] = []
        items = self._decoder.close()
        cut = any(isinstance(item, WireNote) and item.kind == "unterminated_event" for item in items)
        if not cut:
            self._items(items, out)
            if self._stream is None and self._segment_bytes:
                self.ctx.notes.append(f"{self._segment_bytes} bytes at the end hold no event; ignored")
            self._finish_stream(out)
            return out
        kept = []
        for item in items:
            if isinstance(item, WireNote) and item.kind == "unterminated_event":
                continue
            if type(item) is SseEvent and not parse_json(item.data)[0]:
                continue  # the cut event: its data stops short
            kept.append(item)
        self._items(kept, out)
        self._finish_cut(out, "the capture ends inside an event (no blank line after it): the capture may be "
                              "truncated, so the end-of-stream rules were not checked",
                         "the capture ends inside an event after its last whole stream: the capture may be "
                         "truncated; that event was not checked")
        return out

    def _items(self, items: list[SseEvent | WireNote], out: list[Transcript]) -> None:
        stream = self._stream
        for item in items:
            if type(item) is SseEvent:
                parsed = None
                if stream is None or stream.state.ended:
                    # Between two streams: the event is decoded once, to see whether it starts the
                    # next stream, whether it is another API's, and for the checks.
                    if stream is not None and item.event in (None, "response.created"):
                        parsed = parse_json(item.data)
                        if _starts_response(parsed):
                            self._finish_stream(out)
                            stream = None
                    if stream is None:
                        if parsed is None:
                            parsed = parse_json(item.data)
                        stream = self._first_of_stream(parsed)
                    if self._held:
                        for note in self._held:
                            stream.feed(note)
                        self._held = []
                # stream.feed(item) without its test for a wire note; `parsed` when it was decoded above
                stream._check(item.data, item.event, parsed, item.id)
            elif item.kind == "event_too_large":  # our limit, not the server's fault
                self._hit_limit(f"an event at byte {item.offset} is larger than {MAX_LINE} bytes, the most "
                                "replay holds of one event", out)
                stream = self._stream
            elif stream is not None and not stream.state.ended:
                stream.feed(item)
            elif len(self._held) < MAX_HELD_NOTES:
                self._held.append(item)  # belongs to whichever stream the next event is in


def _starts_response(parsed: tuple[bool, Any]) -> bool:
    ok, value = parsed
    return ok and isinstance(value, dict) and value.get("type") == "response.created"
