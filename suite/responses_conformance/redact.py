"""Secrets out of everything we keep: transcripts, reports, logs and error messages.

The target is broken by assumption, and a broken target may echo the API key back: in a
body, in a response header, in a JSON error message, URL-encoded in a Location header.
`Redactor` takes any number of secrets (the API key, every `--header` value: `header_secrets`
lists them, leaving out protocol vocabulary such as Accept or User-Agent) and replaces
each secret, and each of its URL-encoded and JSON-escaped forms, with ``[REDACTED]``. Header
values that carry credentials by design (Authorization, cookies, ...) are replaced whole,
whatever they contain; header names always stay visible.

How much of the text is searched depends on the secret's length, so that a short key cannot
mangle the output (with the key ``test``, "not tested" must not become "not [REDACTED]ed"):

* ``MIN_SUBSTRING`` (16) characters or more: a real key. Redacted wherever it occurs, inside
  other text too. A string this long and random does not occur in our own words.
* ``MIN_TOKEN`` (8) to 15 characters: redacted as a whole token only, never inside a word, an
  identifier, an HTML anchor or a file name (no letter, digit, ``_``, ``-`` or ``.`` may touch
  it; a final ``.`` ending a sentence does not count).
* shorter than ``MIN_TOKEN``: too short to tell from ordinary words, so it is redacted only
  where it stands as a credential: as a whole value (a header value, a JSON string, in quotes
  or not), and as a whole token right after a credential word (``Bearer test``, ``api_key=test``,
  ``"token": "test"``, ``key provided: test``). `Redactor.weak` says whether a redactor holds
  such a secret, so that the caller can say so once.

Pure Python: this module imports nothing outside the standard library, so the report writers
and the sans-IO engine can use it too.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MIN_SUBSTRING", "MIN_TOKEN", "PUBLIC_HEADERS", "REDACTED", "SENSITIVE_HEADERS", "Redactor",
           "StreamRedactor", "header_secrets"]

REDACTED = "[REDACTED]"
MIN_SUBSTRING = 16
MIN_TOKEN = 8

# Header names (lower case) whose values are credentials by design: replaced whole.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie"}
)


# What URL encoders leave unencoded besides letters, digits and "_.-~": Python's quote (safe=""
# and its default "/"), JavaScript's encodeURIComponent ("!*'()") and encodeURI (reserved
# characters too). quote_plus variants cover form encoding (Go's QueryEscape, urlencode).
_URL_SAFE_SETS = ("", "/", "!*'()", ";,/?:@&=+$#!*'()")
_PERCENT = re.compile(r"%[0-9A-F]{2}")

# A token: the characters of words, identifiers, URL paths, file names, base64 and percent
# encoding. A secret shorter than MIN_SUBSTRING is only redacted where none of these touches it.

# Credential words and the separators between one and its value, for secrets shorter than
# MIN_TOKEN: `Bearer test`, `key=test`, `"api_key": "test"`, `API key provided: test`.
_CREDENTIAL_WORDS = ("bearer", "basic", "token", "key", "apikey", "secret", "password", "passwd", "pass",
                     "auth", "authorization", "credential", "credentials", "provided")
_SEPARATORS = (" ", "=", ":", ": ", " = ", " : ", "='", '="', ": '", ': "', '":"', '": "', "':'", "': '",
               '\\":\\"', '\\": \\"', "%3D", "%3d", "%20", "+", "=%22", ":%20")


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


# Request headers whose values are protocol vocabulary, never credentials: redacting them would
# blank out the words the reports are made of ("text/event-stream", "application/json").
PUBLIC_HEADERS = frozenset({"accept", "accept-encoding", "accept-language", "content-type", "user-agent",
                            "openai-beta", "cache-control", "connection"})


def header_secrets(name: str, value: str) -> list[str]:
    """The secrets one `--header NAME: VALUE` carries: the value itself and, for a credential
    scheme (`Bearer X`, `Basic X`, `Token X`), the credential X alone, and for Basic the
    decoded `user:password` and the password. Pass them all to `Redactor`. Nothing for the
    headers of PUBLIC_HEADERS (Accept, Content-Type, User-Agent, OpenAI-Beta, ...)."""
    value = value.strip()
    if name.strip().lower() in PUBLIC_HEADERS:
        return []
    out = [value] if value else []
    scheme, _, credential = value.partition(" ")
    credential = credential.strip()
    if credential and scheme.lower() in ("bearer", "basic", "token", "key", "apikey", "api-key"):
        out.append(credential)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                decoded = ""
            if decoded:
                out.append(decoded)
                password = decoded.partition(":")[2]
                if password:
                    out.append(password)
    return out


class _Rules:
    """The compiled search of one redactor, for text (str) or bytes."""

    def __init__(self, literal: Iterable[Any], bounded: list[tuple[Any, Any]]) -> None:
        # Long forms: replaced wherever they occur, longest first.
        self.literal = tuple(sorted(set(literal), key=lambda f: (-len(f), f)))
        # Shorter forms: (the literal, a regex that finds it where it may be redacted).
        self.bounded = sorted(bounded, key=lambda fr: (-len(fr[0]), fr[0]))


def _bounded_pattern(form: Any, short: bool, text: bool) -> Any:
    """A regex for `form` as a whole token (short=False) or as a credential's value (short=True)."""
    def b(pattern: str) -> Any:  # the same pattern for bytes (ASCII only, UTF-8 letters as token bytes)
        return pattern if text else pattern.encode("ascii").replace(rb"\w", rb"A-Za-z0-9_\x80-\xff")

    esc = re.escape(form)
    after = b(r"(?![\w\-~+/%@])(?!\.[\w\-~+/%@])")
    if not short:
        # whole token: no word character, hyphen or dot (identifiers, anchors, file names) on either side
        return re.compile(b(r"(?<![\w\-.])") + esc + b(r"(?![\w\-])(?!\.[\w\-])"))
    # A fixed-width look-behind per length of credential word and separator (Python's look-behinds
    # are fixed-width), after the form so that they are only tried where the form was found.
    words: dict[int, list[str]] = {}
    for word in _CREDENTIAL_WORDS:
        words.setdefault(len(word), []).append(re.escape(word))
    seps: dict[int, list[str]] = {}
    for sep in _SEPARATORS:
        seps.setdefault(len(sep), []).append(re.escape(sep))
    behinds = []
    for word_group in words.values():
        for sep_group in seps.values():
            # the word must not continue a word: "monkey=" is not "key=" (but "api_key=" is)
            behinds.append(b(r"(?<=(?<![A-Za-z0-9])(?i:%s)(?:%s)" % ("|".join(word_group), "|".join(sep_group)))
                           + esc + b(")"))
    # a whole JSON string value: "test" (or \"test\" inside an escaped one), not a key
    behinds.append(b('(?<="') + esc + b(r')(?="(?!\s*:))'))  # a value, not a key
    behinds.append(b(r'(?<=\\"') + esc + b(r')(?=\\"(?!\s*:))'))
    alternatives = (b("|")).join(behinds)
    return re.compile(esc + after + b("(?:") + alternatives + b(")"))


class Redactor:
    """Replaces secrets in text, bytes, headers and JSON values.

    Takes any number of secrets. ``None`` and empty strings among them are ignored, so
    ``Redactor([api_key, *header_values])`` works whether or not each was configured. How much
    of the text is searched depends on each secret's length (see the module docstring).
    """

    def __init__(self, secrets: Iterable[str | None]):
        self._secrets: tuple[str, ...] = tuple(dict.fromkeys(s for s in secrets if s))
        text_literal: set[str] = set()
        text_bounded: dict[str, bool] = {}  # form -> short (credential context only)
        exact: set[str] = set()
        for secret in self._secrets:
            forms = _forms(secret)
            if len(secret) >= MIN_SUBSTRING:
                text_literal |= forms
            else:
                exact |= forms
                for form in forms:
                    # a form counted as short if any secret that has it is short
                    text_bounded[form] = text_bounded.get(form, False) or len(secret) < MIN_TOKEN
        text_bounded = {f: short for f, short in text_bounded.items() if f not in text_literal}
        self._exact_text = frozenset(exact)
        self._exact_bytes = frozenset(_encodings(exact))
        self._text = _Rules(text_literal, [(f, _bounded_pattern(f, short, True))
                                           for f, short in text_bounded.items()])
        bytes_bounded = []
        for form, short in text_bounded.items():
            for encoded in _encodings([form]):
                bytes_bounded.append((encoded, _bounded_pattern(encoded, short, False)))
        self._bytes = _Rules(_encodings(text_literal), bytes_bounded)
        self._weak = any(len(s) < MIN_TOKEN for s in self._secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets this redactor removes (never print these)."""
        return self._secrets

    @property
    def weak(self) -> bool:
        """A secret is shorter than MIN_TOKEN: it is only redacted where it stands as a credential
        (a whole value, or after `Bearer`, `key=`, ...). Say so to the user, once."""
        return self._weak

    def __repr__(self) -> str:  # never the secrets themselves
        return f"Redactor(<{len(self._secrets)} secret(s)>)"

    def extended(self, *secrets: str | None) -> "Redactor":
        """A redactor for these secrets as well as ours (self if nothing is new)."""
        new = [s for s in secrets if s and s not in self._secrets]
        return Redactor([*self._secrets, *new]) if new else self

    def is_secret(self, value: str) -> bool:
        """`value` is one of the secrets (or one of their encoded forms), whole."""
        return value in self._exact_text or value in self._secrets or self.text(value) == REDACTED

    def text(self, s: str) -> str:
        if s in self._exact_text:
            return REDACTED
        for form in self._text.literal:
            if form in s:
                s = s.replace(form, REDACTED)
        for form, pattern in self._text.bounded:
            if form in s:
                s = pattern.sub(REDACTED, s)
        return s

    def bytes(self, b: bytes) -> bytes:
        b = bytes(b)
        if b in self._exact_bytes:
            return REDACTED.encode("ascii")
        replacement = REDACTED.encode("ascii")
        for form in self._bytes.literal:
            if form in b:
                b = b.replace(form, replacement)
        for form, pattern in self._bytes.bounded:
            if form in b:
                b = pattern.sub(replacement, b)
        return b

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for name, value in headers:
            if name.strip().lower() in SENSITIVE_HEADERS:
                out.append((self.text(name), REDACTED))
            else:
                out.append((self.text(name), self.text(value.strip()) if value.strip() in self._exact_text
                            else self.text(value)))
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
        return StreamRedactor(self._bytes.literal, self._bytes.bounded, self._exact_bytes)


def _encodings(forms: Iterable[str]) -> set[bytes]:
    out: set[bytes] = set()
    for form in forms:
        out.add(form.encode("utf-8"))
        try:
            out.add(form.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    return out


# Bytes of context kept from what was already released, for the look-behinds of short secrets
# (the longest credential word and separator) and of whole tokens.
_CONTEXT = max(len(w) + len(s) for w in _CREDENTIAL_WORDS for s in _SEPARATORS) + 2


class StreamRedactor:
    """Redacts a byte stream chunk by chunk, including secrets split across chunks.

    `feed` returns what can be released now. When a chunk ends with bytes that could be the
    start of a secret (or a whole short secret, whose end is only known from the next byte),
    those bytes are held back until the next chunk (or `flush`) shows what follows. Chunks
    that do not end with such a prefix pass straight through, so ordinary SSE traffic (which
    ends its chunks with a newline) is not delayed.
    """

    def __init__(self, forms: Iterable[bytes], bounded: Iterable[tuple[bytes, Any]] = (),
                 exact: Iterable[bytes] = ()):
        self._exact = frozenset(exact)  # a whole body that is one of these is a secret
        self._forms = tuple(sorted(set(forms), key=lambda f: (-len(f), f)))
        self._bounded = list(bounded)
        self._prefixes = {f[:i] for f in self._forms for i in range(1, len(f))}
        # a bounded form is held back whole too: whether a token character follows is not known yet
        self._prefixes |= {f[:i] for f, _ in self._bounded for i in range(1, len(f) + 1)}
        self._prefixes |= {f + b"." for f, _ in self._bounded}  # `test.` may be `test.py`
        every = [*self._forms, *(f for f, _ in self._bounded)]
        self._longest = max((len(f) for f in every), default=0) + (1 if self._bounded else 0)
        self._held = b""
        self._context = b""  # the last bytes released, for the look-behinds
        self._replacement = REDACTED.encode("ascii")

    def _redact(self, data: bytes) -> bytes:
        for form in self._forms:
            if form in data:
                data = data.replace(form, self._replacement)
        for form, pattern in self._bounded:
            if form not in data:
                continue
            # Searched from the start of `data`, with what was released before as context for
            # the look-behinds (a match never starts in that context: it was decided already).
            buffer, start = self._context + data, len(self._context)
            pieces, last = [], start
            for match in pattern.finditer(buffer, start):
                pieces += [buffer[last:match.start()], self._replacement]
                last = match.end()
            if pieces:
                data = b"".join([*pieces, buffer[last:]])
        return data

    def _release(self, data: bytes) -> bytes:
        if data:
            self._context = (self._context + data)[-(_CONTEXT + self._longest):]
        return data

    def feed(self, chunk: bytes) -> bytes:
        if not self._forms and not self._bounded:
            return bytes(chunk)
        data = self._held + bytes(chunk)
        hold = 0
        for k in range(min(self._longest, len(data)), 0, -1):
            if data[-k:] in self._prefixes:
                hold = k
                break
        if hold:
            self._held, data = data[-hold:], data[:-hold]
        else:
            self._held = b""
        # A literal form split by the hold is whole again next time; bounded forms are held whole.
        return self._release(self._redact(data))

    def flush(self) -> bytes:
        """The held-back bytes at the end of the stream, redacted."""
        data, self._held = self._held, b""
        if not self._context and data in self._exact:  # the whole body is the secret
            return self._release(self._replacement)
        return self._release(self._redact(data))
