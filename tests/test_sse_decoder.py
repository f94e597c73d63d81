"""The SSE decoder: WHATWG event-stream parsing, split-independence, wire notes, speed.

Every input is decoded whole, one byte at a time, split into two chunks at every offset and
split at a few random places (fixed seed); the events and the notes must be the same each time,
offsets included. The official `openai` package's decoder is a second opinion on event names,
data, ids and retry values; where we deliberately differ from it, a test below says so and why.
"""
from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import pytest
from responses_conformance.engine.sse import SseDecoder, SseEvent, WireNote, decode_all

CAPTURE = Path(__file__).parent / "fixtures" / "openai" / "openai-capture-2026-01.txt"
BOM = b"\xef\xbb\xbf"
SEED = 20260101


# -- helpers --------------------------------------------------------------------------------
def run(chunks, **kwargs) -> list:
    decoder = SseDecoder(**kwargs)
    out: list = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.close()


def cut(data: bytes, cuts) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def events(items) -> list[SseEvent]:
    return [i for i in items if isinstance(i, SseEvent)]


def notes(items, kind: str | None = None) -> list[WireNote]:
    return [i for i in items if isinstance(i, WireNote) and (kind is None or i.kind == kind)]


def assert_split_invariant(data: bytes, *, offsets=None, random_splits: int = 5, **kwargs) -> list:
    """Whole, byte by byte, two chunks at every offset (or at `offsets`), random multi-splits."""
    expected = run([data], **kwargs)
    if not kwargs:
        assert decode_all(data) == expected, "decode_all differs from one feed() + close()"
    assert run([data[i:i + 1] for i in range(len(data))], **kwargs) == expected, "byte by byte"
    for k in range(len(data) + 1) if offsets is None else offsets:
        assert run([data[:k], data[k:]], **kwargs) == expected, f"split at byte {k}"
    rng = random.Random(SEED)
    for _ in range(random_splits):
        cuts = rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(2, 40)))
        assert run(cut(data, cuts), **kwargs) == expected, f"split at bytes {sorted(cuts)}"
    return expected


def sdk_events(chunks) -> list[tuple]:
    """The official openai-python decoder on the same chunks: (event, data, id, retry)."""
    from openai._streaming import SSEDecoder

    return [(e.event, e.data, e.id, e.retry) for e in SSEDecoder().iter_bytes(iter(chunks))]


def ours(items) -> list[tuple]:
    return [(e.event, e.data, e.id, e.retry) for e in events(items)]


def capture(newline: bytes = b"\n") -> bytes:
    data = CAPTURE.read_bytes()
    assert b"\r" not in data  # the fixture is LF-only; the variants are made from it
    return data.replace(b"\n", newline)


def blocks(data: bytes, sep: bytes) -> list[bytes]:
    """The stream cut after each event separator: every piece ends with `sep`."""
    parts = data.split(sep)
    return [p + sep for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


# -- the real capture -----------------------------------------------------------------------
NEWLINES = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


@pytest.mark.parametrize("newline", NEWLINES.values(), ids=NEWLINES.keys())
def test_capture_decodes_like_the_sdk(newline):
    data = capture(newline)
    items = decode_all(data)
    got = events(items)
    assert len(got) == 108
    assert [e.index for e in got] == list(range(108))
    assert got[0].event == "response.created" and got[-1].event == "response.completed"
    assert all(e.data.startswith(f'{{"type":"{e.event}"') for e in got)
    # The capture opens with a JSON error body: seven lines a client ignores, noted as such.
    assert [n.kind for n in notes(items)] == ["unknown_field"] * 7
    assert notes(items)[1].offset == len(b"{" + newline)
    assert ours(items) == sdk_events([data])
    assert ours(items) == sdk_events([data[i:i + 7] for i in range(0, len(data), 7)])


@pytest.mark.parametrize("newline", NEWLINES.values(), ids=NEWLINES.keys())
def test_capture_split_anywhere(newline):
    """Every offset of the capture as a chunk boundary.

    Splitting the whole 43 kB stream at each of its offsets costs a quadratic minute, so each
    offset is split within a window (the event it falls in plus the next one, the decoder fresh
    at a block boundary, where it holds no state but the last id and the counters); and the whole
    stream is split at and around every line end, where line handling can go wrong.
    """
    data = capture(newline)
    parts = blocks(data, newline * 2)
    assert b"".join(parts) == data
    for i, part in enumerate(parts):
        window = part + (parts[i + 1] if i + 1 < len(parts) else b"")
        expected = run([window])
        for k in range(len(part) + 1):
            assert run([window[:k], window[k:]]) == expected, (i, k)
    line_ends = [i for i, b in enumerate(data) if b in b"\r\n"]
    assert_split_invariant(data, offsets=sorted({k for e in line_ends for k in (e - 1, e, e + 1, e + 2)}))


def test_capture_event_offsets_with_and_without_bom():
    for newline in NEWLINES.values():
        plain = capture(newline)
        for data, shift in ((plain, 0), (BOM + plain, 3)):
            items = assert_split_invariant(data, offsets=range(12), random_splits=3)
            got = events(items)
            # The first line of each event is its `event:` line (the JSON junk before the first
            # event is not part of it: those lines are noted, each at its own offset).
            assert all(data[e.offset:e.offset + 16] == b"event: " + e.event.encode()[:9] for e in got)
            assert [e.offset - shift for e in got] == [e.offset for e in events(decode_all(plain))]
            assert notes(items)[0].offset == shift


# -- line ends and separators -----------------------------------------------------------------
SEPARATORS = {  # line end inside events, event separator
    "lflf": (b"\n", b"\n\n"), "crlfcrlf": (b"\r\n", b"\r\n\r\n"), "crcr": (b"\r", b"\r\r"),
    "crlf-lf": (b"\r\n", b"\r\n\n"), "lf-crlf": (b"\n", b"\n\r\n"), "crlf-cr": (b"\r\n", b"\r\n\r"),
    "cr-lf": (b"\r", b"\r\n"),  # CR LF is one line end, not a separator: one event, then two
}


@pytest.mark.parametrize("nl, sep", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_event_separators(nl, sep):
    data = (b"event: a" + nl + b"data: 1" + sep + b"data: 2" + nl + b"data: 3" + sep
            + b"event: c" + nl + b"data: 4" + sep)
    items = assert_split_invariant(data)
    if sep == b"\r\n":
        assert [(e.event, e.data) for e in events(items)] == [("c", "1\n2\n3\n4")]
        assert [n.kind for n in notes(items)] == ["unterminated_event"]
        return
    assert [(e.event, e.data) for e in events(items)] == [("a", "1"), (None, "2\n3"), ("c", "4")]
    assert notes(items) == []
    assert [data[e.offset:e.offset + 5] for e in events(items)] == [b"event", b"data:", b"event"]
    assert ours(items) == sdk_events([data]) == sdk_events([data[i:i + 1] for i in range(len(data))])


def test_crlf_split_between_cr_and_lf():
    data = b"data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n"
    assert data[7:9] == b"\r\n" and data[9:11] == b"\r\n" and data[18:20] == b"\r\n"
    expected = run([data])
    assert [(e.data, e.offset) for e in events(expected)] == [("a", 0), ("b\nc", 11)]
    for k in (8, 10, 19, 28, 30):  # just after a CR, before its LF
        assert data[k - 1:k + 1] == b"\r\n"
        assert run([data[:k], data[k:]]) == expected, k
        assert ours(expected) == sdk_events([data[:k], data[k:]])
    # A lone CR at a chunk's end followed by a chunk not starting with LF is still a line end.
    assert ours(run([b"data: a\r", b"data: b\r\r"])) == [(None, "a\nb", None, None)]
    # ... and a CR followed by an LF-only chunk, then more.
    assert ours(run([b"data: a\r", b"\n", b"\n"])) == [(None, "a", None, None)]
    assert_split_invariant(data)


def test_final_line_without_newline_and_unterminated_event():
    data = b"data: a\n\nevent: e\ndata: last"
    items = assert_split_invariant(data)
    assert ours(items) == [(None, "a", None, None), ("e", "last", None, None)]
    [note] = notes(items)
    assert note.kind == "unterminated_event" and note.offset == 9
    assert items[-2] == note  # the note comes before the event it is about
    # Terminated line, no blank line: the same.
    items = assert_split_invariant(data + b"\n")
    assert ours(items) == [(None, "a", None, None), ("e", "last", None, None)]
    assert [n.kind for n in notes(items)] == ["unterminated_event"]
    # A trailing CR or CRLF ends the line just as well.
    assert run([data + b"\r"]) == run([data + b"\r\n"]) == items
    # Blank line at the end: nothing to note.
    assert notes(decode_all(data + b"\n\n")) == []
    # A stream ending in a comment or with nothing after the last blank line: nothing to note.
    assert [n.kind for n in notes(decode_all(b"data: a\n\n: bye"))] == ["comment"]


# -- fields -----------------------------------------------------------------------------------
def test_multiline_and_empty_data():
    data = (b"data: a\ndata: b\ndata:  two spaces\ndata:no space\ndata: trailing \n\n"
            b"data:\n\n"
            b"data\n\n"
            b"data:\ndata:\n\n"
            b"data: x\ndata\n\n"
            b"data: a:b: c\n\n")
    items = assert_split_invariant(data)
    assert [e.data for e in events(items)] == [
        "a\nb\n two spaces\nno space\ntrailing ", "", "", "\n", "x\n", "a:b: c"]
    assert notes(items) == []
    assert ours(items) == sdk_events([data])


def test_comments():
    data = b": hello\n:\n: \ndata: x\n:in the middle\ndata: y\n\n:keep-alive\n\n:tail"
    items = assert_split_invariant(data)
    assert ours(items) == [(None, "x\ny", None, None)]
    assert [(n.kind, n.message, n.offset) for n in notes(items)] == [
        ("comment", "hello", 0), ("comment", "", 8), ("comment", "", 10), ("comment", "in the middle", 21),
        ("comment", "keep-alive", 45), ("comment", "tail", 58)]
    assert events(items)[0].offset == 13  # the first data line, not the comments before it
    assert ours(items) == sdk_events([data])


def test_unknown_fields_and_odd_field_names():
    data = b"foo: bar\nData: X\ndata : y\n event: z\ndata: ok\n\n"
    items = assert_split_invariant(data)
    assert ours(items) == [(None, "ok", None, None)]
    assert [(n.kind, n.offset) for n in notes(items)] == [("unknown_field", o) for o in (0, 9, 17, 26)]
    assert events(items)[0].offset == 36
    assert ours(items) == sdk_events([data])


def test_event_field():
    data = (b"event: first\nevent: second\ndata: 1\n\n"
            b"data: 2\n\n"  # the event name does not carry over
            b"event:\ndata: 3\n\n"  # empty: the default type, like no field at all (WHATWG, SDK)
            b"event\ndata: 4\n\n"
            b"event:  spaced \ndata: 5\n\n")
    items = assert_split_invariant(data)
    assert [(e.event, e.data) for e in events(items)] == [
        ("second", "1"), (None, "2"), (None, "3"), (None, "4"), (" spaced ", "5")]
    assert ours(items) == sdk_events([data])


def test_event_without_data_is_not_dispatched():
    data = b"event: lonely\n\nevent: e\ndata: x\n\nid: 9\n\nretry: 5\n\n"
    items = assert_split_invariant(data)
    assert ours(items) == [("e", "x", None, None)]
    assert [(n.kind, n.offset) for n in notes(items)] == [("empty_event", 0), ("empty_event", 33), ("empty_event", 40)]


def test_id_and_retry():
    data = (b"id: 1\nretry: 1000\ndata: a\n\n"
            b"data: b\n\n"  # the last event id persists (WHATWG); retry belongs to its event
            b"id: x\x00y\ndata: c\n\n"  # id with NUL: ignored, the last id stays
            b"id\ndata: d\n\n"  # no colon: empty value, resets the id to ""
            b"id: 2\nretry: 12a\ndata: e\n\n"  # not digits: ignored
            b"retry:\ndata: f\n\n"
            b"retry: 0\ndata: g\n\n"
            b"retry:  7\ndata: h\n\n")  # two spaces: one is stripped, " 7" is not all digits
    items = assert_split_invariant(data)
    assert ours(items) == [
        (None, "a", "1", 1000), (None, "b", "1", None), (None, "c", "1", None), (None, "d", "", None),
        (None, "e", "2", None), (None, "f", "2", None), (None, "g", "2", 0), (None, "h", "2", None)]
    assert notes(items) == []
    # The SDK: the same except that it trusts int(), which accepts " 7" (see the test below).
    sdk = sdk_events([data])
    assert sdk[:7] == ours(items)[:7] and sdk[7] == (None, "h", "2", 7)


def test_retry_only_ascii_digits():
    # "²" and "٣" are str.isdigit() digits that int() rejects or reads: it used to raise here.
    data = "retry: ²\ndata: a\n\nretry: ٣\ndata: b\n\nretry: +5\ndata: c\n\nretry: -1\ndata: d\n\n".encode()
    items = assert_split_invariant(data)
    assert ours(items) == [(None, d, None, None) for d in "abcd"]
    # Deliberate difference: the SDK's int() takes "٣" as 3, "+5" as 5, "-1" as -1 (and "1_0" as
    # 10); WHATWG ignores a retry value that is not only ASCII digits.
    assert [r for *_, r in sdk_events([data])] == [None, 3, 5, -1]


# -- byte-order mark ------------------------------------------------------------------------------
def test_bom_at_start_is_stripped_once():
    data = BOM + b"event: e\ndata: x\n\n" + BOM + b"data: y\n\n"
    items = assert_split_invariant(data)
    # Only the first BOM is stripped; the second is part of its line's field name ("\ufeffdata"),
    # so that line is an unknown field and the event has no data.
    assert ours(items) == [("e", "x", None, None)]
    assert events(items)[0].offset == 3
    assert [(n.kind, n.offset) for n in notes(items)] == [("unknown_field", 21)]
    assert run([BOM + BOM + b"data: z\n\n"]) == [
        WireNote("unknown_field", "line with unknown field '\\ufeffdata'", 3)]


def test_bom_not_at_start_is_data():
    data = b"data: \xef\xbb\xbfx\n\ndata:\xef\xbb\xbf\n\n"
    items = assert_split_invariant(data)
    assert [e.data for e in events(items)] == ["\ufeffx", "\ufeff"]
    assert ours(items) == sdk_events([data])


def test_stream_shorter_than_a_bom():
    assert run([b"\xef"]) == run([b"\xef", b""]) == [
        WireNote("invalid_utf8", "invalid UTF-8 at byte 0: b'\\xef'", 0),
        WireNote("unknown_field", "line with unknown field '\ufffd'", 0)]
    assert run([BOM]) == run([b"\xef\xbb", b"\xbf"]) == []
    assert ours(run([b"d"])) == [] and ours(run([b"da", b"ta\n"])) == [(None, "", None, None)]


def test_sdk_difference_bom():
    # Deliberate difference: openai-python decodes lines with "utf-8" and keeps the BOM, so the
    # first field name becomes "\ufeffevent" and the first event loses its name. WHATWG (and
    # every browser) strips it, and so do we.
    data = BOM + b"event: e\ndata: x\n\n"
    assert ours(decode_all(data)) == [("e", "x", None, None)]
    assert sdk_events([data]) == [(None, "x", None, None)]


# -- what a client drops, noted -------------------------------------------------------------------
def test_invalid_utf8_is_replaced_and_noted():
    data = b"data: ok\n\ndata: bad \xff here\ndata: caf\xc3\xa9 cut \xc3\n\nevent: \xe2\x82\ndata: z\n\n"
    items = assert_split_invariant(data)
    assert [(e.event, e.data) for e in events(items)] == [
        (None, "ok"), (None, "bad \ufffd here\ncaf\u00e9 cut \ufffd"), ("\ufffd", "z")]
    found = notes(items, "invalid_utf8")
    assert [n.offset for n in found] == [data.index(b"\xff"), data.index(b"\xc3\n"), data.index(b"\xe2")]
    assert "byte 20" in found[0].message and data[20] == 0xFF
    # The SDK raises UnicodeDecodeError on such a stream: a deliberate difference.
    with pytest.raises(UnicodeDecodeError):
        sdk_events([data])


def test_invalid_utf8_offsets_with_bom():
    data = BOM + b"data: \x80\n\n"
    [note, event] = assert_split_invariant(data)
    assert note.kind == "invalid_utf8" and note.offset == 9 and data[9] == 0x80
    assert event.data == "\ufffd" and event.offset == 3


def test_oversized_event_is_dropped_up_to_its_blank_line():
    big = b"x" * 100
    data = (b"event: ok1\ndata: small\n\n"
            b"event: big\ndata: " + big + b"\ndata: tail\nevent: leak\n\n"
            b"event: ok2\ndata: after\n\n"
            b"data: " + b"y" * 30 + b"\ndata: " + b"z" * 30 + b"\n\n"  # too large in total, not per line
            b": " + b"c" * 200 + b"\ndata: after comment\n\n")  # a single line too large
    items = assert_split_invariant(data, max_event_bytes=64)
    assert [(e.event, e.data) for e in events(items)] == [("ok1", "small"), ("ok2", "after")]
    assert [(e.index, e.offset) for e in events(items)] == [(0, 0), (1, data.index(b"event: ok2"))]
    too_large = notes(items, "event_too_large")
    assert [n.offset for n in too_large] == [
        data.index(b"event: big"), data.index(b"data: yyy"), data.index(b": ccc")]
    assert "64 bytes" in too_large[0].message
    assert notes(items) == too_large
    # The same stream under the default limit: every event comes through.
    assert len(events(decode_all(data))) == 5


def test_oversized_last_event_without_blank_line():
    data = b"data: ok\n\ndata: " + b"x" * 100
    items = assert_split_invariant(data, max_event_bytes=32)
    assert [e.data for e in events(items)] == ["ok"]
    assert [(n.kind, n.offset) for n in notes(items)] == [("event_too_large", 10)]


def test_event_limit_boundary():
    # The limit counts the event's raw lines, one byte per line end included.
    data = b"data: 12345\n\n"  # 12 bytes of event
    assert events(run([data], max_event_bytes=12))[0].data == "12345"
    assert [n.kind for n in run([data], max_event_bytes=11)] == ["event_too_large"]
    for limit in (11, 12):
        assert_split_invariant(data, max_event_bytes=limit)


# -- deliberate differences from the SDK, on terminated streams -------------------------------
def test_sdk_difference_unterminated_last_event():
    # openai-python (and openai-node) drop an event the stream ends inside; WHATWG does too. We
    # dispatch it and add an `unterminated_event` note, so a check can see what was cut off.
    data = b"data: a\n\nevent: e\ndata: last\n"
    assert sdk_events([data]) == [(None, "a", None, None)]
    assert ours(decode_all(data)) == [(None, "a", None, None), ("e", "last", None, None)]


def test_sdk_difference_events_without_data():
    # WHATWG dispatches only events with data; openai-python also dispatches a block with only
    # `event:`/`id:`/`retry:` (data ""), and once an id was seen, every further blank line.
    data = b"event: lonely\n\nid: 1\ndata: a\n\n\n\ndata: b\n\n"
    assert sdk_events([data]) == [
        ("lonely", "", None, None), (None, "a", "1", None), (None, "", "1", None), (None, "", "1", None),
        (None, "b", "1", None)]
    items = decode_all(data)
    assert ours(items) == [(None, "a", "1", None), (None, "b", "1", None)]
    assert [n.kind for n in notes(items)] == ["empty_event"]


# -- performance ------------------------------------------------------------------------------
def test_many_tiny_events_fast():
    n = 200_000
    data = b"".join(b"event: e\ndata: %d\n\n" % i for i in range(n))
    start = time.perf_counter()
    items = decode_all(data)
    whole = time.perf_counter() - start
    assert len(items) == n and items[-1].data == str(n - 1) and items[-1].index == n - 1
    assert items[-1].offset == len(data) - len(b"event: e\ndata: %d\n\n" % (n - 1))
    start = time.perf_counter()
    decoder = SseDecoder()
    count = 0
    for i in range(0, len(data), 1500):  # about one TCP segment at a time
        count += len(decoder.feed(data[i:i + 1500]))
    count += len(decoder.close())
    chunked = time.perf_counter() - start
    assert count == n
    # About 0.7 s each on a laptop; a quadratic line search took minutes.
    assert whole < 3.0 and chunked < 3.0, (whole, chunked)


def test_one_huge_line_in_small_chunks_is_linear():
    data = b"data: " + b"x" * 4_000_000 + b"\n\n"
    start = time.perf_counter()
    items = run(data[i:i + 1000] for i in range(0, len(data), 1000))
    assert time.perf_counter() - start < 2.0
    assert len(items) == 1 and len(items[0].data) == 4_000_000


def test_offsets_stay_sorted():
    data = capture(b"\r\n")
    items = decode_all(data)
    offsets = [i.offset for i in items]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
