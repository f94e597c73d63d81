"""Server-sent events decoder: bytes in, events and wire notes out. Sans-IO.

Follows the WHATWG event-stream parsing rules that both official SDK decoders implement
(CR, LF and CRLF line ends; `data:` lines joined with "\\n"; lines starting with ":" are
comments; one space after the colon is stripped; an event is dispatched at a blank line and
only when it has data). Where a browser silently drops or repairs something, we dispatch
what we can and also emit a `WireNote`, because what a client silently drops is exactly
what a conformance suite has to see: invalid UTF-8, an unterminated last event, an
oversized event, unknown field names.

Feed chunks of any size, split at any byte; the result does not depend on the split.
"""
from __future__ import annotations

from dataclasses import dataclass

# Bytes that end a line. CR and LF are ASCII, so splitting raw bytes on them can never cut a
# multi-byte UTF-8 sequence in half.
_CR = 0x0D
_LF = 0x0A
_BOM = b"\xef\xbb\xbf"

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event.

    `event` is None when the event had no `event:` field, or an empty one: for WHATWG (and
    openai-python) an empty event type means the default type, exactly like no field at all.
    `id` is the last event ID, which (WHATWG) is not reset between events: an event without
    an `id:` line carries the id of an earlier one.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    index: int = 0  # position among the events dispatched by this decoder
    offset: int = 0  # byte offset of the event's first line in the stream


_object_new = object.__new__
_object_setattr = object.__setattr__


def _new_event(data: str, event: str | None, id: str | None, retry: int | None, index: int,
               offset: int) -> SseEvent:
    """SseEvent(data, event, id, retry, index, offset), made three times faster.

    A frozen dataclass's __init__ sets each field through object.__setattr__: about 1 us for
    six fields, for every event of a replay. This fills the new instance's __dict__ in one step
    instead. The result is an ordinary SseEvent, equal, hashed, printed and as frozen as one
    made by SseEvent(...) (tests/test_engine_equivalence.py pins that).
    """
    made = _object_new(SseEvent)
    _object_setattr(made, "__dict__", {"data": data, "event": event, "id": id, "retry": retry, "index": index,
                                       "offset": offset})
    return made


@dataclass(frozen=True)
class WireNote:
    """Something about the byte stream a tolerant client would drop or repair.

    kinds: invalid_utf8, unterminated_event, event_too_large, unknown_field, comment,
    empty_event (a blank-line-terminated block with fields but no data).
    """

    kind: str
    message: str
    offset: int = 0


class SseDecoder:
    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max_event_bytes = max_event_bytes
        self._line = bytearray()  # the current, unfinished line (only across chunk ends)
        self._line_start = 0  # offset of the current line's first byte
        self._pending_cr = False  # last byte seen was CR: a following LF belongs to it
        self._offset = 0  # bytes consumed so far, a stripped byte-order mark included
        self._at_start = True  # a BOM is only stripped at the very start
        self._skipping = False  # inside an oversized event: drop lines until its blank line
        self._skip_line_empty = True  # while skipping: no byte seen on the current line yet
        self._dispatched = 0
        # WHATWG's "last event ID buffer" survives dispatch; only an `id:` line changes it.
        self._last_id: str | None = None
        self._reset_event()

    def _reset_event(self) -> None:
        self._data: list[str] = []
        self._event_size = 0  # raw bytes of the event's lines so far, one per line end included
        self._event_name: str | None = None
        self._retry: int | None = None
        self._event_offset: int | None = None
        self._has_fields = False

    # -- public ---------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> list[SseEvent | WireNote]:
        out: list[SseEvent | WireNote] = []
        if not chunk:
            return out
        if self._at_start:
            # Hold back until we can tell whether the stream opens with a byte-order mark.
            self._line += chunk
            if len(self._line) < len(_BOM) and _BOM.startswith(bytes(self._line)):
                return out
            self._at_start = False
            chunk = bytes(self._line)
            self._line.clear()
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM):]
                self._offset = len(_BOM)
            self._line_start = self._offset
            if not chunk:
                return out
        if _LF not in chunk and _CR not in chunk:
            # No line end here: only part of a line, which a stream trickling a few bytes at a
            # time sends over and over (two memchr calls, not the line-by-line machinery). It is
            # what _lines does with such a chunk: a CR held back before it was a whole line end,
            # and the chunk goes onto the current line.
            self._pending_cr = False
            self._offset += len(chunk)
            self._append(chunk, out)
            return out
        self._consume(chunk, out)
        return out

    def close(self) -> list[SseEvent | WireNote]:
        """End of stream: flush an unterminated last line and event."""
        out: list[SseEvent | WireNote] = []
        if self._at_start and self._line:
            # A stream shorter than a byte-order mark: not one, consume it as it is.
            self._at_start = False
            data = bytes(self._line)
            self._line.clear()
            self._consume(data, out)
        self._pending_cr = False
        if self._line and not self._skipping:
            raw = bytes(self._line)
            self._line.clear()
            self._process_line(raw, self._line_start, out)
        self._line.clear()
        if self._has_fields:
            out.append(WireNote(
                "unterminated_event",
                "the stream ended inside an event (no blank line after it); clients discard such an event",
                self._event_offset or 0,
            ))
            self._dispatch(out)
        self._reset_event()
        self._skipping = False
        return out

    # -- internals --------------------------------------------------------------------------
    def _whole_events(self, chunk: bytes, out: list[SseEvent | WireNote]) -> int:
        """The events at the start of chunk that have the shape of nearly every event a Responses
        server sends, read whole; the bytes they took. The shape: `event: NAME` (optional), then
        `data: JSON` on one line, then a blank line; LF line ends, one space after each colon.
        Called between events only (no line, field or CR pending), it stops at anything else:
        another shape, bytes that are not UTF-8, an event over the size limit, an event whose
        end is in a later chunk. The line-by-line path (_lines) reads on from there and makes
        the same events."""
        last = chunk.rfind(b"\n\n")  # the end of the last event that ends in this chunk
        if last < 0:
            return 0
        at = 0
        offset = self._offset
        index = self._dispatched
        last_id = self._last_id
        limit = self._max_event_bytes  # the event's lines, each with its line end
        # One C split into events, and per event C calls without offset arguments: a call with
        # an offset (startswith(b"data: ", at)) parses its arguments the slow way, four times an
        # event. (`_CR in block`, an int: memchr.)
        for block in chunk[:last].split(b"\n\n"):  # an event's lines, without its last line end
            if _CR in block or len(block) >= limit:
                break  # a CR, or too large (its lines and their line ends)
            head, newline, rest = block.partition(b"\n")
            if not newline:
                if head[:6] != b"data: ":
                    break
                name = None
                data = head[6:]
            elif head[:7] == b"event: " and rest[:6] == b"data: " and _LF not in rest:
                name = head[7:]
                data = rest[6:]
            else:
                break  # several data lines, another field, a blank line too many
            try:
                text = data.decode("utf-8")
                event = (name.decode("utf-8") or None) if name is not None else None
            except UnicodeDecodeError:
                break
            out.append(_new_event(text, event, last_id, None, index, offset + at))
            index += 1
            at += len(block) + 2
        if at:
            self._dispatched = index
            self._offset = self._line_start = offset + at
        return at

    def _consume(self, chunk: bytes, out: list[SseEvent | WireNote]) -> None:
        if self._has_fields or self._line or self._pending_cr or self._skipping:
            # Inside an event (most often one that began in the chunk before): line by line up
            # to its blank line. After "\n\n" a line has ended and a blank line too.
            end = chunk.find(b"\n\n") + 2
            if end == 1 or end == len(chunk):
                self._lines(chunk, out)
                return
            self._lines(chunk[:end], out)
            chunk = chunk[end:]
            if self._has_fields or self._skipping:  # an event of fields without data, say: read on
                self._lines(chunk, out)
                return
        taken = self._whole_events(chunk, out)
        if taken < len(chunk):
            self._lines(chunk[taken:] if taken else chunk, out)

    def _lines(self, chunk: bytes, out: list[SseEvent | WireNote]) -> None:
        """Line by line: every shape of event, every line end, every field, every wire note."""
        pos = self._offset  # stream offset of the next byte of `chunk` to look at
        self._offset += len(chunk)
        if self._pending_cr:
            self._pending_cr = False
            if chunk[0] == _LF:
                # The LF of a CRLF split across chunks: part of the previous line end.
                chunk = chunk[1:]
                pos += 1
                self._line_start = pos
        # bytes.splitlines breaks at exactly CR, LF and CRLF (unlike str.splitlines), in C:
        # no per-byte Python loop, and a chunk without CR costs no extra scan for one.
        pieces = chunk.splitlines(True)
        if not pieces:
            return
        unfinished = None
        end_byte = pieces[-1][-1]
        if end_byte == _CR:
            # It may be the first half of a CRLF whose LF is in the next chunk.
            self._pending_cr = True
        elif end_byte != _LF:
            unfinished = pieces.pop()  # a line whose end is in a later chunk
        max_bytes = self._max_event_bytes
        next_start = self._line_start  # kept in a local in the loop, stored once after it
        for piece in pieces:
            line_start = next_start
            pos += len(piece)
            next_start = pos
            # A piece ends with exactly one CR, LF or CRLF and holds no other CR or LF.
            raw = piece.rstrip(b"\r\n")
            if self._line or self._skipping:
                # Slow path: the line began in an earlier chunk, or we are dropping an event.
                if self._skipping:
                    if self._skip_line_empty and not raw:
                        self._skipping = False  # the oversized event's blank line
                    self._skip_line_empty = True
                    continue
                self._line += raw
                raw = bytes(self._line)
                self._line.clear()
            if not raw:
                self._dispatch(out)
                continue
            size = self._event_size + len(raw) + 1
            if size > max_bytes:
                self._too_large(line_start, out)
                self._skip_line_empty = True  # this line has ended; the blank line is next
                continue
            # Fast path for the two lines of every Responses event, `data: ...` and `event: ...`:
            # what _process_line does for them, without its general field parsing (a replay
            # decodes millions of them). Any other line, and bytes that are not UTF-8 (reported
            # with their offset), go through _process_line.
            if raw.startswith(b"data: "):
                try:
                    self._data.append(raw[6:].decode("utf-8"))
                except UnicodeDecodeError:
                    self._process_line(raw, line_start, out)
                    continue
            elif raw.startswith(b"event: "):
                try:
                    self._event_name = raw[7:].decode("utf-8")
                except UnicodeDecodeError:
                    self._process_line(raw, line_start, out)
                    continue
            else:
                self._process_line(raw, line_start, out)
                continue
            # what _process_line does after any field line
            self._event_size = size
            self._has_fields = True
            if self._event_offset is None:
                self._event_offset = line_start
        self._line_start = next_start
        if unfinished is not None:
            self._append(unfinished, out)

    def _append(self, piece: bytes, out: list[SseEvent | WireNote]) -> None:
        """Part of a line whose end is in a later chunk."""
        if self._skipping:
            self._skip_line_empty = False
            return
        self._line += piece
        if len(self._line) + self._event_size > self._max_event_bytes:
            self._too_large(self._line_start, out)
            self._skip_line_empty = False  # inside the line that is too large

    def _too_large(self, line_start: int, out: list[SseEvent | WireNote]) -> None:
        # Bounded memory: drop the event up to its blank line instead of buffering it.
        out.append(WireNote(
            "event_too_large",
            f"an event exceeded {self._max_event_bytes} bytes; it was dropped",
            self._event_offset if self._event_offset is not None else line_start,
        ))
        self._line.clear()
        self._reset_event()
        self._skipping = True

    def _process_line(self, raw: bytes, line_start: int, out: list[SseEvent | WireNote]) -> None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Only the first bad sequence of the line is reported; one note per line is enough.
            out.append(WireNote(
                "invalid_utf8",
                f"invalid UTF-8 at byte {line_start + exc.start}: {raw[exc.start:exc.start + 4]!r}",
                line_start + exc.start,
            ))
            line = raw.decode("utf-8", errors="replace")
        if line[0] == ":":
            out.append(WireNote("comment", line[1:].strip()[:200], line_start))
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_name = value
        elif name == "id":
            if "\x00" not in value:
                self._last_id = value
        elif name == "retry":
            # WHATWG: ASCII digits only (str.isdigit alone also accepts "²", which int() rejects).
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        else:
            # Ignored by clients; not part of the event, so it does not set the event's offset.
            out.append(WireNote("unknown_field", f"line with unknown field {name[:60]!r}", line_start))
            return
        # Only the event's own lines count towards its size: comments and unknown fields are
        # not buffered, so only a single huge one of them is too large.
        self._event_size += len(raw) + 1
        self._has_fields = True
        if self._event_offset is None:
            self._event_offset = line_start

    def _dispatch(self, out: list[SseEvent | WireNote]) -> None:
        """The end of an event (a blank line, or the end of the stream): dispatch it, start the next."""
        if self._data:
            out.append(_new_event(
                "\n".join(self._data),
                self._event_name or None,
                self._last_id,
                self._retry,
                self._dispatched,
                self._event_offset or 0,
            ))
            self._dispatched += 1
        elif self._has_fields:
            out.append(WireNote(
                "empty_event",
                "an event without `data:` lines; clients ignore it",
                self._event_offset or 0,
            ))
        self._reset_event()


def decode_all(data: bytes) -> list[SseEvent | WireNote]:
    """Decode a complete byte string (a capture, a test's stream)."""
    decoder = SseDecoder()
    return decoder.feed(data) + decoder.close()
