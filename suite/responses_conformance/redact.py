"""Secrets out of everything we keep: transcripts, reports, logs and error messages.

The target is broken by assumption, and a broken target may echo the API key back: in a
body, in a response header, in a JSON error message, URL-encoded in a Location header.
`Redactor` replaces every occurrence of each secret, and of each secret's URL-encoded and
JSON-escaped forms, with ``[REDACTED]``. Header values that carry credentials by design
(Authorization, cookies, ...) are replaced whole, whatever they contain.

Pure Python: this module imports nothing outside the standard library, so the report writers
and the sans-IO engine can use it too.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "SENSITIVE_HEADERS", "Redactor", "StreamRedactor"]

REDACTED = "[REDACTED]"

# Header names (lower case) whose values are credentials by design: replaced whole.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie"}
)


# What URL encoders leave unencoded besides letters, digits and "_.-~": Python's quote (safe=""
# and its default "/"), JavaScript's encodeURIComponent ("!*'()") and encodeURI (reserved
# characters too). quote_plus variants cover form encoding (Go's QueryEscape, urlencode).
_URL_SAFE_SETS = ("", "/", "!*'()", ";,/?:@&=+$#!*'()")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _forms(secret: str) -> set[str]:
    """The secret as it may appear in text: raw, URL-encoded (by the common encoders, with upper
    or lower case hex), JSON-escaped (with or without escaped solidus), and JSON-escaped
    URL-encoded.

    Any other re-encoding (base64, every character \\u-escaped, letters percent-encoded) is not
    recognised: the forms are literal strings so that a stream can be redacted chunk by chunk.
    """
    forms = {
        secret,
        json.dumps(secret)[1:-1],  # ASCII-only escapes: \u00e9, \"
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    for safe in _URL_SAFE_SETS:
        for encoded in (quote(secret, safe=safe), quote_plus(secret, safe=safe)):
            forms.add(encoded)
            forms.add(_PERCENT.sub(lambda m: m.group().lower(), encoded))  # %2f as well as %2F
    # Some JSON encoders (PHP, some Java ones) also escape the solidus.
    forms |= {f.replace("/", "\\/") for f in list(forms)}
    return {f for f in forms if f}


class Redactor:
    """Replaces secrets in text, bytes, headers and JSON values.

    ``None`` and empty strings among the secrets are ignored, so ``Redactor([api_key])`` works
    whether or not a key was configured.
    """

    def __init__(self, secrets: Iterable[str | None]):
        self._secrets: tuple[str, ...] = tuple(dict.fromkeys(s for s in secrets if s))
        forms: set[str] = set()
        for secret in self._secrets:
            forms |= _forms(secret)
        # Longest first, so that a longer form is not half-replaced through a shorter one.
        self._text_forms: tuple[str, ...] = tuple(sorted(forms, key=lambda f: (-len(f), f)))
        byte_forms: set[bytes] = set()
        for form in self._text_forms:
            byte_forms.add(form.encode("utf-8"))
            try:
                byte_forms.add(form.encode("latin-1"))
            except UnicodeEncodeError:
                pass
        self._byte_forms: tuple[bytes, ...] = tuple(
            sorted(byte_forms, key=lambda f: (-len(f), f))
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets this redactor removes (never print these)."""
        return self._secrets

    def __repr__(self) -> str:  # never the secrets themselves
        return f"Redactor(<{len(self._secrets)} secret(s)>)"

    def extended(self, *secrets: str | None) -> "Redactor":
        """A redactor for these secrets as well as ours (self if nothing is new)."""
        new = [s for s in secrets if s and s not in self._secrets]
        return Redactor([*self._secrets, *new]) if new else self

    def text(self, s: str) -> str:
        for form in self._text_forms:
            if form in s:
                s = s.replace(form, REDACTED)
        return s

    def bytes(self, b: bytes) -> bytes:
        replacement = REDACTED.encode("ascii")
        for form in self._byte_forms:
            if form in b:
                b = b.replace(form, replacement)
        return bytes(b)

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for name, value in headers:
            if name.strip().lower() in SENSITIVE_HEADERS:
                out.append((self.text(name), REDACTED))
            else:
                out.append((self.text(name), self.text(value)))
        return out

    def json(self, value: Any) -> Any:
        """A deep copy of a JSON-like value with every string (keys too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytes, bytearray)):
            return self.bytes(bytes(value))
        if isinstance(value, dict):
            return {
                (self.text(k) if isinstance(k, str) else k): self.json(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.json(v) for v in value)
        return value  # numbers, booleans, None

    def stream(self) -> "StreamRedactor":
        """An incremental redactor for a body that arrives in chunks."""
        return StreamRedactor(self._byte_forms)


class StreamRedactor:
    """Redacts a byte stream chunk by chunk, including secrets split across chunks.

    `feed` returns what can be released now. When a chunk ends with bytes that could be the
    start of a secret, those bytes are held back until the next chunk (or `flush`) shows
    whether the secret follows. Chunks that do not end with such a prefix pass straight
    through, so ordinary SSE traffic (which ends its chunks with a newline) is not delayed.
    """

    def __init__(self, forms: Iterable[bytes]):
        self._forms = tuple(sorted(set(forms), key=lambda f: (-len(f), f)))
        self._prefixes = {f[:i] for f in self._forms for i in range(1, len(f))}
        self._longest = max((len(f) for f in self._forms), default=0)
        self._held = b""
        self._replacement = REDACTED.encode("ascii")

    def feed(self, chunk: bytes) -> bytes:
        if not self._forms:
            return bytes(chunk)
        data = self._held + bytes(chunk)
        for form in self._forms:
            if form in data:
                data = data.replace(form, self._replacement)
        hold = 0
        for k in range(min(self._longest - 1, len(data)), 0, -1):
            if data[-k:] in self._prefixes:
                hold = k
                break
        if hold:
            self._held, data = data[-hold:], data[:-hold]
        else:
            self._held = b""
        return data

    def flush(self) -> bytes:
        """The held-back bytes at the end of the stream (they were not a secret)."""
        data, self._held = self._held, b""
        return data
