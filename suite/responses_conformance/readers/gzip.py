"""gzip: not a format of its own but a layer around one. The dispatcher sniffs its magic bytes
at the very start of the input and reads everything through it."""
from __future__ import annotations

import zlib

from .base import CaptureError, EmptyCapture

MAGIC = b"\x1f\x8b"


class Gunzip:
    @staticmethod
    def sniff(head: bytes) -> bool:
        return head.startswith(MAGIC)

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=31)

    def feed(self, chunk: bytes) -> bytes:
        try:
            return self._inflate.decompress(chunk)
        except zlib.error as exc:
            raise CaptureError(f"gzip data is corrupt: {exc}") from None

    def flush(self) -> bytes:
        try:
            return self._inflate.flush()
        except zlib.error as exc:
            raise CaptureError(f"gzip data is corrupt: {exc}") from None

    @property
    def whole(self) -> bool:
        """The gzip data came to its proper end."""
        return self._inflate.eof

    def ended_early(self) -> str | None:
        """A note for data that stops before its end, after something was read."""
        return None if self.whole else "the gzip data ends early; what was there was checked"

    def empty(self) -> CaptureError:
        """What to say when it held nothing."""
        if self.whole:
            return EmptyCapture("the gzip data holds nothing")
        return CaptureError("the gzip data holds nothing (it ends early)")
