"""A HAR 1.2 file (what a browser's or a proxy's "save as HAR" writes): each entry of
`log.entries` is decoded on its own when its closing brace arrives, and every entry whose URL path
is `/responses` (or `/responses/{id}`) is checked as one exchange, its HTTP status, headers and
request included. Memory holds one entry, never the whole file."""
from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..engine.checker import parse_json
from ..engine.exchange import Expectation
from .base import CHUNK_SIZE, MAX_HAR_ENTRY, CaptureError, Context, EmptyCapture, ForeignTraffic, Reader, Transcript
from .jsonscan import JsonScanner

_PATHS_KEPT = 100  # URL paths of skipped entries remembered, to say what a HAR without /responses holds


class HarTally:
    """What the HAR readers of one input count over all of it."""

    def __init__(self) -> None:
        self.entries = 0
        self.skipped = 0
        self.paths: dict[str, int] = {}  # URL paths of skipped entries (for a foreign HAR)


class HarReader(Reader):
    kind = "har"

    @staticmethod
    def sniff(head: bytes) -> bool | None:
        """A top-level object whose `log` member is an object."""
        if head[:1] != b"{":
            return False
        scanner = JsonScanner()
        for token, _ in scanner.scan(head):
            if token == "open" and scanner.depth == 2 and scanner.stack[1] == (0x7B, "log"):
                return True
            if token == "end":
                return False
        return None

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._scanner = JsonScanner()
        self._tally: HarTally = ctx.tally(HarTally)
        self._entry: bytearray | None = None  # the entry being read
        self._overflow = False  # ... is larger than MAX_HAR_ENTRY
        self._entry_from = 0  # where it starts in the current chunk

    def feed(self, data: bytes) -> list[Transcript]:
        out: list[Transcript] = []
        scanner = self._scanner
        for token, pos in scanner.scan(data):
            if token == "end":
                self.hand_over(data[pos:])
                return out
            if token == "open":
                if scanner.depth == 4 and self._entry is None and _in_entries(scanner.stack):
                    self._entry = bytearray()
                    self._overflow = False
                    self._entry_from = pos
            elif token == "close" and scanner.depth == 3 and self._entry is not None and _in_entries(scanner.stack):
                self._add(data[self._entry_from:pos + 1])
                entry, overflow = bytes(self._entry), self._overflow
                self._entry = None
                self._entry_from = 0
                self._check_entry(entry, overflow, out)
        if self._entry is not None:
            self._add(data[self._entry_from:])
        self._entry_from = 0
        return out

    def close(self) -> list[Transcript]:
        self.ctx.notes.append("the HAR file ends early (truncated); the entries before the cut were checked")
        if self._entry is not None:
            self.ctx.notes.append("the HAR entry at the cut is incomplete and was not checked")
        return []

    @classmethod
    def end_of_input(cls, ctx: Context) -> None:
        skipped = ctx.tally(HarTally).skipped
        if skipped:
            ctx.notes.append(f"{skipped} HAR entr{'y' if skipped == 1 else 'ies'} skipped "
                             "(not a /responses exchange with a recorded response body)")

    @classmethod
    def nothing_checked(cls, ctx: Context) -> CaptureError | None:
        tally = ctx.tally(HarTally)
        if not tally.entries:
            return EmptyCapture("the HAR file holds no /responses exchange (it has no entries)")
        paths = ", ".join(sorted(tally.paths, key=lambda p: -tally.paths[p])[:3])
        return ForeignTraffic("the HAR file holds no /responses exchange with a recorded response body"
                              + (f" (its entries are for {paths})" if paths else ""))

    def _add(self, data: bytes) -> None:
        assert self._entry is not None
        if self._overflow:
            return
        if len(self._entry) + len(data) > MAX_HAR_ENTRY:
            self._overflow = True
            self._entry = bytearray()
            return
        self._entry += data

    def _check_entry(self, raw: bytes, overflow: bool, out: list[Transcript]) -> None:
        ctx, tally = self.ctx, self._tally
        number = tally.entries
        tally.entries += 1
        if overflow:  # our limit, not the server's fault
            ctx.unchecked("exchange", f"limit: HAR entry {number} is larger than {MAX_HAR_ENTRY} bytes, the most "
                                      "replay holds of one entry", out)
            return
        ok, entry = parse_json(raw)
        if not ok or not isinstance(entry, dict):
            ctx.notes.append(f"HAR entry {number} is not a JSON object; not checked")
            return
        plan = _har_plan(entry)
        if plan is None:
            tally.skipped += 1
            request = entry.get("request")
            url = request.get("url") if isinstance(request, dict) else None
            if isinstance(url, str) and len(tally.paths) < _PATHS_KEPT:
                path = urlsplit(url).path or "/"
                tally.paths[path] = tally.paths.get(path, 0) + 1
            return
        expectation, status, headers, body, what = plan
        replay = ctx.replay(expectation, status, headers, notes=[f"HAR entry {number}: {what}"])
        for start in range(0, len(body), CHUNK_SIZE):
            replay.body(body[start:start + CHUNK_SIZE])
        ctx.add(replay.close(), out)


def _in_entries(stack: list[tuple[int, str | None]]) -> bool:
    """The stack is inside `log.entries` of a HAR document."""
    return (len(stack) >= 3 and stack[0][0] == 0x7B and stack[1] == (0x7B, "log")
            and stack[2] == (0x5B, "entries"))


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
