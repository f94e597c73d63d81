"""The structure of a JSON text, followed without decoding it: where a value opens, closes and
ends, in constant memory, whatever the chunks. The JSON body and HAR readers use it, and so does
the HAR sniffer."""
from __future__ import annotations

import re
from typing import Any, Iterator

from ..engine.checker import parse_json

# Outside strings only these bytes change the structure; inside a string, only `"` and `\`.
_STRUCTURE = re.compile(rb'[{}\[\]"\n]')
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\[\s\S][^"\\]*)*')
_KEY_LIMIT = 64  # object keys longer than this are never the ones we look for (`log`, `entries`)
_CLOSERS = {ord("{"): "}", ord("["): "]"}


class JsonScanner:
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


def guess(body: bytes) -> Any:
    """A best guess at what a cut JSON body was: its open brackets closed again, if that parses."""
    scanner = JsonScanner()
    for _ in scanner.scan(body):
        pass
    if scanner.in_string:
        return None
    ok, value = parse_json(body.rstrip().rstrip(b",:") + scanner.closers().encode())
    return value if ok else None
