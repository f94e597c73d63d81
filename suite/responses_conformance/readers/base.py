"""What every reader of a capture shares: the transcript it makes, the errors it raises, our own
limits, what a JSON value looks like (a Response, an error body, an event, another API's
traffic), the `Context` of one input and the `Reader` interface.

A reader reads one format (server-sent events, JSON lines, a JSON body, a HAR file). The
dispatcher (`capture.CaptureReader`) looks at the first bytes of a part of the input, asks each
reader's `sniff(head)` in turn whether the part is its format, and hands the bytes to the first
that says yes; see `readers/__init__.py` for how to add one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable

from ..engine import profiles
from ..engine.exchange import MAX_JSON_BODY, Expectation, ExchangeChecker
from ..engine.violations import Violation
from ..results import Status, scenario_status

CHUNK_SIZE = 64 * 1024
MAX_LINE = 16 * 1024 * 1024  # one JSON-lines payload (as large as the SSE decoder allows an event)
MAX_HELD_NOTES = 64
MAX_HAR_ENTRY = 4 * MAX_JSON_BODY  # one HAR entry, its response body included


class CaptureError(Exception):
    """The input cannot be read as captured traffic; the message is one line for a human."""


class EmptyCapture(CaptureError):
    """The input holds nothing to check (empty, white space, an empty gzip or HAR file): not an
    error of the input, but nothing was judged."""


class ForeignTraffic(CaptureError):
    """The input is API traffic, but not the Responses API's (Chat Completions chunks, Anthropic
    events, other JSON): the message names what it looks like."""


def checks_for(kind: str, profile: str | profiles.Profile | None, *, head: bool) -> list[str]:
    """The check ids that apply to one kind of exchange, as the live suite chooses them."""
    # A check asked for by a scenario field (the same request sent streamed and not) never
    # applies to one capture; a check of the status line and headers (`head`) needs them.
    return [c.id for c in profiles.get(profile).checks_for(kind)
            if c.asked_by is None and (head or not c.head)]


@dataclass
class Transcript:
    """One checked exchange or stream of a capture, and its verdict."""

    source: str
    index: int  # position in its source, from 0
    kind: str  # stream | response | error
    violations: list[Violation]
    response_id: str | None = None
    events: int = 0
    notes: list[str] = field(default_factory=list)
    record: Any = None  # a live-suite transcript: the path of its .json record
    curl: str | None = None  # ... and the command that repeats its request
    # Why it could not be checked (to its end): a limit of ours, a capture cut before anything
    # could be checked. Never the server's fault: no violation is reported for it.
    could_not_check: str | None = None

    @property
    def status(self) -> Status:
        """Its status in the results model (results.scenario_status, as a live scenario's): failed
        (a MUST rule broken), could not test (a limit of ours or a cut capture kept it from being
        checked), warned, model behaviour, passed. A capture's model is not scripted, so a
        model-behaviour finding never fails it."""
        if not self.violations:  # what scenario_status says of no findings, said at once
            return Status.COULD_NOT_TEST if self.could_not_check is not None else Status.PASSED
        outcome = Status.COULD_NOT_TEST if self.could_not_check is not None else Status.PASSED
        return scenario_status(outcome, self.violations, deterministic=False)

    @property
    def verdict(self) -> str:
        """pass, warn, fail, or "could not check"."""
        return {Status.FAILED: "fail", Status.COULD_NOT_TEST: "could not check", Status.WARNED: "warn",
                Status.MODEL: "warn"}.get(self.status, "pass")

    @property
    def label(self) -> str:
        return f"{self.source}[{self.index}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "index": self.index,
            "kind": self.kind,
            "response_id": self.response_id,
            "verdict": self.verdict,
            "status": str(self.status),
            "could_not_check": self.could_not_check,
            "events": self.events,
            "notes": list(self.notes),
            "violations": [{"check": v.check, "category": v.category, "severity": v.severity.value,
                            "event_index": v.event_index, "message": v.message, "event_type": v.event_type,
                            "sequence_number": v.sequence_number, "path": v.path} for v in self.violations],
        }


def _response_id(response: Any) -> str | None:
    value = response.get("id") if isinstance(response, dict) else None
    return value if isinstance(value, str) else None


# -- one HTTP exchange whose head is known (a live transcript, a HAR entry) ----------------------
class ExchangeReplay:
    """An exchange replayed through `ExchangeChecker`: head, body chunks, close.

    `complete=False` replays an exchange the live run could not finish (a timeout, a broken
    connection): like the live runner, the end-of-stream rules are then not run.
    """

    def __init__(self, source: str, index: int, expectation: Expectation, status: int | None,
                 headers: Iterable[tuple[str, str]], *, schemas: Any = None,
                 profile: str | profiles.Profile | None = None, checks: Iterable[str] | None = None,
                 complete: bool = True, notes: Iterable[str] = (), prefix: Iterable[dict] = ()) -> None:
        self.source = source
        self.index = index
        self.kind = expectation.kind
        self.complete = complete
        self.notes = list(notes)
        if checks is None:
            checks = checks_for(expectation.kind, profile, head=True)
        # prefix: the events of the original stream up to `starting_after`, for a resumed stream
        # (checked, like live, as the tail of the original)
        extra = {"prefix": list(prefix)} if prefix else {}
        self.checker = ExchangeChecker(expectation, schemas=schemas, checks=checks, profile=profile, **extra)
        if status is not None:
            self.checker.head(status, list(headers))

    def body(self, chunk: bytes) -> None:
        if self.checker.status is not None:
            self.checker.body(chunk)

    def close(self) -> Transcript:
        checker = self.checker
        violations = checker.close() if self.complete else list(checker.violations)
        response_id = None
        if checker.stream is not None:
            identity = checker.stream.state.identity
            response_id = identity.get("id") if identity else None
            response_id = response_id if isinstance(response_id, str) else None
        if response_id is None:
            response_id = _response_id(checker.final_response)
        kind = self.kind
        if kind not in ("stream", "response", "error"):  # "any": judged by what arrived
            status = checker.status
            kind = "stream" if checker.stream is not None else "error" if status is not None and status >= 400 \
                else "response"
        return Transcript(self.source, self.index, kind, list(violations), response_id=response_id,
                          events=checker.events, notes=self.notes)


# -- what a JSON value is ---------------------------------------------------------------------
def classify(value: Any) -> str:
    """What a complete top-level JSON value is: an event payload, a Response or an error body."""
    if isinstance(value, dict):
        if value.get("object") == "response":
            return "response"
        etype = value.get("type")
        if isinstance(etype, str) and (etype.startswith("response.") or etype in ("error", "keepalive")
                                       or "sequence_number" in value):
            return "event"
        if "error" in value or ("message" in value and "object" not in value):
            return "error"
    return "response"


_ANTHROPIC_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "content_block_start",
                               "content_block_delta", "content_block_stop", "ping"})


def foreign(value: Any) -> str | None:
    """What a JSON value of another API looks like ("Chat Completions stream chunks
    (chat.completion.chunk)"), or None when it could be Responses API traffic."""
    if not isinstance(value, dict):
        return None
    obj, kind = value.get("object"), value.get("type")
    if obj == "chat.completion.chunk":
        return "Chat Completions stream chunks (chat.completion.chunk)"
    if obj == "chat.completion":
        return "a Chat Completions response (chat.completion)"
    if obj == "text_completion":
        return "a legacy Completions response (text_completion)"
    if "choices" in value and obj != "response":
        return "Chat Completions traffic (a `choices` member)"
    if isinstance(kind, str) and kind in _ANTHROPIC_EVENTS:
        return f"Anthropic Messages stream events ({kind})"
    if kind == "message" and "content" in value and "role" in value:
        return "an Anthropic Messages response (type message)"
    if "candidates" in value and obj != "response":
        return "a Gemini generateContent answer (`candidates`)"
    if "done" in value and "model" in value and ("message" in value or "response" in value) and obj != "response":
        return "Ollama chat or generate traffic (`done`, `model`)"
    if obj in ("list", "model", "embedding", "file", "batch", "assistant", "thread", "thread.run"):
        return f"an OpenAI `{obj}` object, not a response"
    return None


def responses_like(value: Any) -> bool:
    """A top-level JSON value that can be a (broken) Response or error body of the Responses API."""
    if not isinstance(value, dict):
        return False
    if value.get("object") == "response" or "output" in value or "error" in value:
        return True
    ident = value.get("id")
    if isinstance(ident, str) and ident.startswith("resp"):
        return True
    return ("status" in value and "model" in value) or ("message" in value and "object" not in value)


def describe_json(value: Any) -> str:
    """A few words about a JSON value for a one-line message."""
    if isinstance(value, dict):
        keys = ", ".join(str(k)[:30] for k in list(value)[:5])
        more = ", ..." if len(value) > 5 else ""
        kind = value.get("type")
        return f"an object with type {kind!r}" if isinstance(kind, str) else f"an object with members {keys}{more}"
    if isinstance(value, list):
        return "a JSON array"
    return f"a JSON {type(value).__name__}"


def refuse_foreign(value: Any) -> None:
    """Raise ForeignTraffic when a decoded JSON value is another API's traffic."""
    what = foreign(value)
    if what is not None:
        raise ForeignTraffic(f"not Responses API traffic: this looks like {what}")


# -- one input, and the readers of its parts ---------------------------------------------------
class Context:
    """What the readers of one input share: where it comes from, how to check it, the number of
    the next transcript, what was recognised (`kinds`) and the notes about the input as a whole."""

    def __init__(self, source: str, schemas: Any, profile: profiles.Profile, max_body: int) -> None:
        self.source = source
        self.schemas = schemas
        self.profile = profile
        self.max_body = max_body
        # a set: each stream's checker takes it as it is (a list it would turn into a set per stream)
        self.stream_checks = frozenset(checks_for("stream", profile, head=False))
        self.index = 0  # the number of the next transcript
        self.kinds: list[str] = []  # what was recognised, in order: json, jsonl, sse, har
        self.notes: list[str] = []
        self._tallies: dict[type, Any] = {}

    def tally(self, kind: type) -> Any:
        """The one `kind()` of this input: what the readers of one format count over the whole input."""
        found = self._tallies.get(kind)
        if found is None:
            found = self._tallies[kind] = kind()
        return found

    def add(self, transcript: Transcript, out: list[Transcript]) -> None:
        out.append(transcript)
        self.index += 1

    def unchecked(self, kind: str, why: str, out: list[Transcript]) -> None:
        """A transcript that could not be checked (a limit of ours, a cut capture): no violations."""
        self.add(Transcript(self.source, self.index, kind, [], notes=[f"could not check: {why}"],
                            could_not_check=why), out)

    def replay(self, expectation: Expectation, status: int | None, headers: Iterable[tuple[str, str]], *,
               checks: Iterable[str] | None = None, notes: Iterable[str] = ()) -> ExchangeReplay:
        """An exchange of this input, numbered as its next transcript."""
        return ExchangeReplay(self.source, self.index, expectation, status, headers, schemas=self.schemas,
                              profile=self.profile, checks=checks, notes=notes)

    def body_transcript(self, kind: str, body: bytes, out: list[Transcript], *,
                        notes: list[str] | None = None) -> None:
        """A JSON body captured without its HTTP head: the status and header checks cannot run."""
        json_type = [("content-type", "application/json")]
        if kind == "response":
            expectation, status = Expectation("response"), 200
        else:
            expectation, status = Expectation("error", statuses=()), 400
        replay = self.replay(expectation, status, json_type, checks=checks_for(kind, self.profile, head=False),
                             notes=[*(notes or []), "captured without its HTTP status line and headers: "
                                    "the checks of those did not run"])
        replay.body(body)
        self.add(replay.close(), out)


class Reader:
    """Reads one format, a piece at a time; finished transcripts come out as soon as they are.

    `sniff(head)` tells from the first bytes of a part of the input (after white space; at least
    one byte) whether the part is this reader's: True, False, or None when it cannot tell yet
    (the dispatcher then waits for more bytes, up to SNIFF_LIMIT or the end of the input, after
    which None counts as False).

    `feed(data)` and `close()` (the end of the input) return finished transcripts. When the
    reader's part of the input is over before the input is, it sets `rest` to the bytes after it
    and `successor` to the reader of those (None: the dispatcher sniffs them again), and gets no
    more bytes. A successor that reads the same part on (a JSON value that turned out to be the
    first line of JSON lines) updates `ctx.kinds` itself.
    """

    kind: ClassVar[str]  # what CaptureReader.kinds records for it

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.rest: bytes | None = None
        self.successor: Reader | None = None

    @staticmethod
    def sniff(head: bytes) -> bool | None:
        raise NotImplementedError

    def feed(self, data: bytes) -> list[Transcript]:
        raise NotImplementedError

    def close(self) -> list[Transcript]:
        return []

    def hand_over(self, rest: bytes, successor: Reader | None = None) -> None:
        """This reader's part of the input ends before `rest`, which `successor` reads."""
        self.rest = rest
        self.successor = successor

    # -- once per input, for a format that was read ---------------------------------------------
    @classmethod
    def end_of_input(cls, ctx: Context) -> None:
        """Notes about the whole input (things counted over all its parts of this format)."""

    @classmethod
    def nothing_checked(cls, ctx: Context) -> CaptureError | None:
        """Why an input with parts of this format had nothing to check, if the format can say."""
        return None
