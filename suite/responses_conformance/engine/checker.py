"""The stream checker: fed one event (or one chunk of bytes) at a time, it yields violations.

    checker = StreamChecker(schemas=SchemaSet.load())
    for chunk in chunks:                 # a live stream, a capture file, a test's bytes
        for violation in checker.feed_bytes(chunk):
            ...
    for violation in checker.close():    # end-of-stream rules run once
        ...

Checks yield `Finding`s that know only their id, message and JSON path; the checker adds the
severity from the registry and the coordinates of the event (index, type, sequence_number)
and an excerpt of its data.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from . import profiles, registry
from .checks import STREAM_MODULES, consistency, ids, schema, usage
from .checks import framing as framing_checks
from .sse import SseDecoder, SseEvent, WireNote
from .state import NO_SSE, Event, StreamState
from .violations import Finding, Severity, Violation, excerpt


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python accepts them unless told not to.
    raise ValueError(f"{name} is not valid JSON")


# RFC 8259 §9 lets a parser limit the depth of nesting. No Responses payload comes near this
# one, and everything downstream that walks a payload (schema validation, redaction, the
# transcript writer) recurses: a payload nested deeper than the interpreter's recursion limit
# allows would crash it. Deeper JSON is treated as not parseable.
MAX_JSON_DEPTH = 100


# One decoder for every event: json.loads(text, parse_constant=...) builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# Its C scanner. JSONDecoder.decode(text) is scan_once(text, <after leading white space>) plus a
# check that only white space follows: two Python-level calls and two regex matches around it.
_SCAN = _DECODER.scan_once


def parse_json(text: str | bytes) -> tuple[bool, Any]:
    try:
        if isinstance(text, str):
            # Fast path: an event's data is one JSON value with no white space around it, which
            # is exactly what scan_once(text, 0) reads when it ends at the end of the text.
            # Anything else (white space around, extra data, not JSON) takes the full decode,
            # with its result and its exceptions.
            try:
                value, end = _SCAN(text, 0)
            except StopIteration:  # nothing decodable at offset 0
                value = _DECODER.decode(text)
            else:
                if end != len(text):
                    value = _DECODER.decode(text)
            # _too_deep's first test, inline (it runs on every event): few brackets, no deep nesting
            if len(text) <= 2 * MAX_JSON_DEPTH or text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
                return True, value
        else:  # bytes: json.loads detects UTF-8/16/32
            value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return False, None
    if _too_deep(text, value):
        return False, None
    return True, value


def _too_deep(text: str | bytes, value: Any) -> bool:
    if len(text) <= 2 * MAX_JSON_DEPTH:
        return False  # too short to hold MAX_JSON_DEPTH + 1 brackets and their closers
    if isinstance(text, str):
        if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
            return False  # cannot be nested deeper than it has brackets (counted in C: cheap)
    elif text.count(b"{") + text.count(b"[") <= MAX_JSON_DEPTH:
        return False
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:  # no recursion: that is the point
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


# One cause, one failure: a stream that breaks a rule on every event (no sequence_number, an
# item never opened) has one defect, not hundreds. Per stream, findings of one check at one
# JSON path are listed up to MAX_SHOWN_PER_CAUSE times; the rest are counted and summarised in
# one violation at the end ("and 15 more like it"). MAX_KEPT_PER_CHECK bounds what is kept of a
# check whatever its paths, so memory and reports stay bounded whatever the stream does.
MAX_SHOWN_PER_CAUSE = 3
MAX_KEPT_PER_CHECK = 100


# One cause, one failure: a schema finding is folded under the specific check that reports the
# same field (the specific message says more; the specific check declares it: `folds=`). A schema
# finding is about the same field when it has the same path, or is its parent object's
# "'<field>' is a required property".
def fold_derived(derived: list[Finding], primary: list[Finding]) -> list[Finding]:
    """`derived` without the findings a `primary` finding already reports (registry.FOLDED_UNDER)."""
    covered: set[tuple[str, str]] = set()
    for finding in primary:
        for check, primaries in registry.FOLDED_UNDER.items():
            if finding.check in primaries:
                covered.add((check, finding.path))
    if not covered:
        return derived
    out = []
    for finding in derived:
        if (finding.check, finding.path) in covered:
            continue
        missing = finding.message.split("'", 2)[1] if finding.message.startswith("'") else None
        if missing and " is a required property" in finding.message and \
                (finding.check, f"{finding.path}.{missing}") in covered:
            continue
        out.append(finding)
    return out


class Stamper:
    """Turns findings into violations: severity from the profile, dropping checks it switches off
    and, when `enabled` is given, checks outside that set. Lists at most MAX_SHOWN_PER_CAUSE
    violations per (check, path) and MAX_KEPT_PER_CHECK per check; `summaries()` says how many
    more there were. The one way any finding becomes a violation: streams, exchanges, WebSocket
    steps, scenario assertions, upstream fidelity and the stream-vs-non-stream pair."""

    def __init__(self, enabled: Iterable[str] | None, profile: profiles.Profile) -> None:
        self._enabled = frozenset(enabled) if enabled is not None else None
        self._profile = profile
        self._kept: dict[str, int] = {}
        self._shown: dict[tuple[str, str], int] = {}
        self._folded: dict[tuple[str, str], tuple[Severity, int]] = {}  # (check, path) -> severity, count
        self.dropped: dict[str, int] = {}  # check id -> violations counted but not listed

    def stamp(self, findings: Iterable[Finding], event: Event | None = None) -> list[Violation]:
        out = []
        for finding in findings:
            if self._enabled is not None and finding.check not in self._enabled:
                continue
            severity = self._profile.severity(finding.check)
            if severity is None:
                continue
            cause = (finding.check, finding.path)
            shown = self._shown.get(cause, 0)
            kept = self._kept.get(finding.check, 0)
            if shown >= MAX_SHOWN_PER_CAUSE or kept >= MAX_KEPT_PER_CHECK:
                self._folded[cause] = (severity, self._folded.get(cause, (severity, 0))[1] + 1)
                self.dropped[finding.check] = self.dropped.get(finding.check, 0) + 1
                continue
            self._shown[cause] = shown + 1
            self._kept[finding.check] = kept + 1
            out.append(Violation(
                check=finding.check,
                severity=severity,
                message=finding.message,
                path=finding.path,
                event_index=event.index if event is not None else None,
                event_type=event.type if event is not None else None,
                sequence_number=event.seq if event is not None else None,
                excerpt=excerpt(event.data) if event is not None else None,
            ))
        return out

    def summaries(self) -> list[Violation]:
        """One violation per folded cause: how many more findings like the listed ones there were."""
        out = [Violation(check=check, severity=severity, path=path,
                         message=f"and {count} more like it ({check} at {path}; the first "
                                 f"{min(self._shown.get((check, path), 0), MAX_SHOWN_PER_CAUSE)} are listed)")
               for (check, path), (severity, count) in self._folded.items()]
        self._folded.clear()
        return out


def stamp(findings: Iterable[Finding], profile: str | profiles.Profile | None,
          enabled: Iterable[str] | None = None) -> list[Violation]:
    """Findings judged outside a stream (assertions, fidelity, the pair): stamped, capped and
    summarised as a stream's are."""
    stamper = Stamper(enabled, profiles.get(profile))
    return stamper.stamp(findings) + stamper.summaries()


class StreamChecker:
    """Checks one response stream. Sans-IO: bytes or events in, violations out."""

    def __init__(self, *, schemas: Any = None, checks: Iterable[str] | None = None,
                 profile: str | profiles.Profile | None = None,
                 starting_after: int | None = None, max_event_bytes: int | None = None) -> None:
        self.profile = profiles.get(profile)
        self.state = StreamState(starting_after=starting_after)
        self._schemas = schemas
        self._stamper = Stamper(checks, self.profile)
        self._max_event_bytes = max_event_bytes
        self._decoder: SseDecoder | None = None  # made by the first feed_bytes (a replay feeds decoded events)
        self._index = 0
        self._closed = False
        self.violations: list[Violation] = []

    @property
    def event_count(self) -> int:
        return self._index

    @property
    def dropped(self) -> dict[str, int]:
        """Violations counted but not listed (folded into an "and N more like it"), per check id."""
        return dict(self._stamper.dropped)

    @property
    def final_response(self) -> dict | None:
        response = self.state.terminal_response
        return response if isinstance(response, dict) else None

    # -- input ------------------------------------------------------------------------------
    def feed_bytes(self, chunk: bytes) -> list[Violation]:
        out: list[Violation] = []
        decoder = self._decoder
        if decoder is None:
            max_bytes = self._max_event_bytes
            decoder = self._decoder = SseDecoder(**({"max_event_bytes": max_bytes} if max_bytes else {}))
        for item in decoder.feed(chunk):
            out.extend(self.feed(item))
        return out

    def feed(self, item: SseEvent | WireNote) -> list[Violation]:
        if isinstance(item, WireNote):
            findings = framing_checks.on_wire_note(item)
            if not findings:
                return []
            found = self._stamper.stamp(findings)
            self.violations.extend(found)
            return found
        return self._check(item.data, item.event, None, item.id)

    def feed_payload(self, data: str | dict) -> list[Violation]:
        """One event without SSE framing (a JSON-lines capture): event-name checks do not apply."""
        if isinstance(data, dict):
            return self._check(json.dumps(data), NO_SSE, parsed=(True, data))
        return self._check(data, NO_SSE)

    def close(self) -> list[Violation]:
        if self._closed:
            return []
        self._closed = True
        out: list[Violation] = []
        if self._decoder is not None:
            for item in self._decoder.close():
                out.extend(self.feed(item))
        findings: list[Finding] = []
        for on_close in _CLOSE_HOOKS:
            findings.extend(on_close(self.state))
        closing = self._stamper.stamp(findings) + self._stamper.summaries()
        self.violations.extend(closing)
        return out + closing

    # -- the loop ---------------------------------------------------------------------------
    def _check(self, data: str, name: Any, parsed: tuple[bool, Any] | None = None,
               sse_id: str | None = None) -> list[Violation]:
        ok, payload = parsed if parsed is not None else parse_json(data)
        event = Event(self._index, data, payload, ok, name, sse_id)
        self._index += 1
        state = self.state
        # Each module's on_event returns a list (usually empty): a generator per module and
        # event cost more than most of the checks themselves.
        findings: list[Finding] = []
        for on_event in _HOOKS.get(event.type, _HOOKS_ANY_TYPE):
            found = on_event(state, event)
            if found:  # (nearly always empty: no list to extend)
                findings += found
        if event.is_object and not state.ended:
            schema_findings = schema.on_event(state, event, self._schemas, self.profile)
            findings += fold_derived(schema_findings, findings) if findings and schema_findings else schema_findings
        state.apply(event)
        if not findings:
            return []
        found = self._stamper.stamp(findings, event)
        self.violations.extend(found)
        return found


def _hooks_for(event_type: str | None) -> tuple[Any, ...]:
    """The on_event functions of STREAM_MODULES, in order, that can report on this event type.

    A module may declare EVENT_TYPES: the only event types its on_event ever reports on (it is
    skipped for the others, which saves a call per module and event); without it, it runs on
    every event.
    """
    return tuple(module.on_event for module in STREAM_MODULES
                 if getattr(module, "EVENT_TYPES", None) is None or event_type in module.EVENT_TYPES)


_DECLARED_TYPES = frozenset().union(*(getattr(m, "EVENT_TYPES", None) or () for m in STREAM_MODULES))
_HOOKS: dict[str | None, tuple[Any, ...]] = {t: _hooks_for(t) for t in _DECLARED_TYPES}
_HOOKS_ANY_TYPE = _hooks_for(None)  # any other type (or none): the modules without EVENT_TYPES
# The on_close functions of STREAM_MODULES, in order.
_CLOSE_HOOKS = tuple(m.on_close for m in STREAM_MODULES if getattr(m, "on_close", None) is not None)


def check_stream(chunks: Iterable[bytes], **kwargs: Any) -> list[Violation]:
    """Check a whole stream given as byte chunks (a capture, a test)."""
    checker = StreamChecker(**kwargs)
    for chunk in chunks:
        checker.feed_bytes(chunk)
    checker.close()
    return checker.violations


def check_response_body(response: Any, *, schemas: Any = None, checks: Iterable[str] | None = None,
                        profile: str | profiles.Profile | None = None) -> list[Violation]:
    """Checks for one non-streamed Response object."""
    findings: Iterator[Finding]
    stamper = Stamper(checks, profiles.get(profile))
    if not isinstance(response, dict):
        return stamper.stamp([Finding("schema.response", f"the body is a JSON {type(response).__name__}, "
                                               "not a Response object")])
    specific = [*ids.on_response(response), *consistency.on_response(response), *usage.on_response(response)]
    findings = [*fold_derived(list(schema.on_response(response, schemas)), specific), *specific]
    return stamper.stamp(findings) + stamper.summaries()
