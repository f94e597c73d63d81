"""What the readers of streams (server-sent events, JSON lines) share: splitting the input into
streams and finishing each into a Transcript.

A stream ends where the next begins: at a `response.created` event that comes after the
terminal event (or after `data: [DONE]`) of the stream before; the last one ends with the
input. Memory holds one stream's state, bounded by that response.
"""
from __future__ import annotations

from typing import Any

from ..engine.checker import StreamChecker
from ..engine.sse import WireNote
from .base import Reader, Transcript, refuse_foreign


class StreamReader(Reader):
    """A reader whose input is one stream after another, each checked by a StreamChecker."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._stream: StreamChecker | None = None
        self._held: list[WireNote] = []  # wire notes between two streams: for the next one
        self._limit: str | None = None  # a limit of ours stopped the check of the current stream
        self._kept = 0  # ... and how many of its violations came before that

    def _new_stream(self) -> StreamChecker:
        ctx = self.ctx
        self._stream = StreamChecker(schemas=ctx.schemas, checks=ctx.stream_checks, profile=ctx.profile)
        return self._stream

    def _first_of_stream(self, parsed: tuple[bool, Any]) -> StreamChecker:
        """The first event of a new stream (`parsed`: parse_json of its data): refused if it is
        another API's traffic."""
        ok, value = parsed
        if ok:
            refuse_foreign(value)
        return self._new_stream()

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
        ctx = self.ctx
        ctx.add(Transcript(ctx.source, ctx.index, "stream", violations,
                           response_id=response_id if isinstance(response_id, str) else None,
                           events=stream.event_count, notes=notes, could_not_check=could_not_check), out)

    def _finish_cut(self, out: list[Transcript], cut: str, after_last: str) -> None:
        """The input ends inside an event (or line) that cannot be checked. The stream it is in
        ends cut (`cut` says so); when that event would have started a new stream, the streams
        before stay whole and a note (`after_last`) says what was left out, unless nothing came
        before it: then it is a stream of its own, cut before anything could be checked."""
        if self._stream is not None and not self._stream.state.ended:
            self._finish_stream(out, cut=cut)
            return
        self._finish_stream(out)  # a stream that ended before the cut: whole
        if self.ctx.index == 0:  # the cut event is all there is
            self._new_stream()
            self._finish_stream(out, cut=cut)
        else:
            self.ctx.notes.append(after_last)

    def _hit_limit(self, what: str, out: list[Transcript]) -> None:
        """A limit of ours stops the check of the current stream (or of the next one, between two)."""
        if self._stream is not None and self._stream.state.ended:
            self._finish_stream(out)
        if self._stream is None:
            self._new_stream()
        if self._limit is None:
            self._limit = what
            assert self._stream is not None
            self._kept = len(self._stream.violations)
