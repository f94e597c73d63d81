"""The readers of replay's input formats, one module each, and the order they are asked in.

    module        reads
    sse.py        server-sent events, one stream after another (what no other reader claims)
    jsonl.py      JSON lines: one event payload a line, one stream after another
    json_body.py  one JSON body (a Response, an error envelope); hands JSON lines or SSE on
    har.py        a HAR 1.2 file: each /responses entry checked as one exchange
    gzip.py       the gzip layer around any of them (sniffed by its magic bytes)

    base.py       shared: Transcript, the errors, our limits, what JSON is (foreign traffic
                  included), the Context of one input, the Reader interface
    streams.py    shared by the stream readers: splitting streams, finishing one into a Transcript
    jsonscan.py   shared: the structure of a JSON text followed without decoding it

`capture.CaptureReader` is the dispatcher: it takes the gzip layer off, refuses binary and
UTF-16 data, skips a byte-order mark and white space, then asks each reader of READERS, in
order, to `sniff` the head of the input (or of what follows a JSON body) and hands the bytes
to the first that says yes.

Adding a format: write one module with a `Reader` subclass (`kind`, `sniff(head)`, `feed(data)`,
`close()`; `end_of_input` and `nothing_checked` when the format has something to say about a
whole input), use `Context` for numbering transcripts and for the checks (`ctx.replay`,
`ctx.body_transcript`, `ctx.unchecked`; `StreamReader` for a format of streams), and put it in
READERS before the readers whose `sniff` would also claim its head. A format that wraps another
(like gzip) is a layer in the dispatcher instead.
"""
from __future__ import annotations

from .base import Reader
from .har import HarReader
from .json_body import JsonBodyReader
from .jsonl import JsonLinesReader
from .sse import SseReader

# Asked in this order; the first whose sniff says yes reads the part. SseReader takes anything.
READERS: tuple[type[Reader], ...] = (HarReader, JsonLinesReader, JsonBodyReader, SseReader)

__all__ = ["READERS", "HarReader", "JsonBodyReader", "JsonLinesReader", "Reader", "SseReader"]
