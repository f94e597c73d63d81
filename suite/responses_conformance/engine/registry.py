"""The catalogue of checks: every rule the suite enforces, collected from where it is judged.

A check is declared where its finding is made, with its row: the decorator on the function
that yields it (stacked when one function yields several ids),

    @check("usage.total_is_sum", MUST, SUCCESS,
           "`total_tokens` equals `input_tokens + output_tokens`.",
           "OBS: every capture (F-04, F-05).")
    def on_response(response, path="$", status=None): ...

or, for a finding made inside a state machine or a class rather than by one function (the
exchange checker, the WebSocket judge, a module's event hook), `declare(...)` with the same
arguments beside that code. Nothing else names checks: this module only collects the
declarations (`CHECKS`, `BY_ID`, `get`) and derives every set of ids the suite needs from
them (`HTTP_ONLY_CHECKS`, `MODEL_BEHAVIOUR_CHECKS`, `HEAD_CHECKS`, `ASSERTIONS`,
`ANY_REQUEST_ASSERTIONS`, `REQUEST_CAUSED_CHECKS`, ...).

A check's id (`category.name`) is stable: reports, baselines and CI gates refer to it. The
rule is one line a server author can act on; the basis says why we believe it (observed
OpenAI traffic, the Open Responses spec, what the official SDKs throw on, the published
OpenAPI description). The catalogue (reports, the pytest parametrization, CHECKS.md) lists
checks by category (CATEGORIES), then by the order of the modules in MODULES, then in the
order they are declared in their module.

`severity` is one severity for every profile, or a table of the profiles the check belongs to
(`{"openresponses": MUST}`); a profile the table leaves out does not run the check. Profiles
(profiles.py) read their severity table from here: it is said once, where the check is.

`applies` names the kinds of exchange a check is about: KIND_TABLE below says what each is
(stream, response, error, websocket, scenario, upstream, fuzz; CHECKS.md's header quotes it).
For a scenario check the decorated function is the assertion: `function(steps, **arguments)`.
Upstream and fuzz are judged only in a run that asks for them (their `asked_with` option,
--upstream-url or --fuzz): a run that did not ask never lists a check of only such kinds as
tested (`judged_in_run`: the report's checks table and matrix leave it out). Which checks a
scenario judges is `judged_by`, from its exchanges (`Exchange`: the kinds each step asks for
and, in a run, the kinds its answer was judged as), the `asked_by` fields and the assertions
it gives: its items, and in a run (results.check_statuses) what decides whether a check passed
or was not tested. An answer other than the one asked for (an HTTP 500 to a stream request)
judges only the checks of its status line (`judges_status`). Fuzz mode judges its checks apart
from the scenarios (fuzzing.py): results.json's `fuzz` block holds their verdicts, not the
checks table.

`model_behaviour` marks the checks whose outcome depends on what the model chose to say (did
it recall the earlier turn, call the tool, write valid JSON, run into the token limit). A tiny
or scripted model behind a correct server fails them, so they are not conformance: results
report them apart ("model behaviour", with what was asked and what came back) and count them
only where the outcome is deterministic (the embedded reference server, or a proxy in front
of a scripted upstream with --upstream-url). Each has a protocol half that stays a check of
its own (truncation: `consistency.output_limit_enforced`; previous_response_id:
`consistency.previous_response_echoed`; ...).

What a check needs to be judged at all:
  http_only - it is about HTTP and server-sent events: a WebSocket step has nothing for it
  head      - it reads the HTTP status line and headers: a capture of bodies alone cannot judge it
  asked_by  - it is judged only in a scenario that asks for it with that field
              (`compare_shape_with`: the same request sent streamed and not; `error_code`: a
              WebSocket step that names the error code it expects)
  folds     - findings of these checks at the same JSON path are folded under this one (one
              cause, one failure: the specific message says more than the schema's)
  reads     - for a check of the websocket kind: the answers to a `response.create` it reads
              (`stream`: a response's events; `error`: an error frame), judged only on a step
              that asks for one of them and whose answer holds one; empty, it is about the
              connection itself (the upgrade, its frames, its close), judged by any step that
              connected
  feature   - the optional feature (features.json) a check is judged for, when it is judged
              only where that feature is asked for (a stored response read back: "state"):
              a finding of it is about that feature in the features table
  inconclusive - for a scenario check, a function of the same arguments that says why the
              scenario tested nothing on this target though nothing broke (or None)

How fuzz mode uses a check (the suite's fuzz.py sends generated requests, judged through the
same engine):
  any_request - for a scenario check: an assertion any valid request can be held to. Fuzz
              mode holds every valid request it sends to each, with that request as the one
              step (`step`) and, when the assertion takes `fields`, the parameters the request
              sent that a Response echoes
  request_caused - a finding of it is explained by the request that produced it (its HTTP
              status or its hang, not a detail of the answer): fuzz mode groups such findings
              by the request's slot (which field broke how), the others by check and place

A check both `head` and `request_caused` judges the answer's status line (`judges_status`:
framing.http_status_ok, error.status_fits): every answer has one, so any step that got an
answer judges it, whatever the answer was; every other check is judged only on an answer of a
kind it applies to (judged_by). Over a WebSocket the answer is `websocket` when the step had a
connection (the upgrade answered 101), with `stream` where a response's events came and `error`
where an error frame did: the checks of the connection count as judged on any step that
connected, a check that `reads` a response or an error frame only where one came.
"""
from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, NamedTuple, TypeVar

from .violations import Severity

MUST = Severity.MUST
SHOULD = Severity.SHOULD

CATEGORIES = ("framing", "schema", "grammar", "sequence", "ids", "consistency", "usage", "error", "fuzz")

STREAM = frozenset({"stream"})
RESPONSE = frozenset({"response"})
ERROR = frozenset({"error"})
SUCCESS = frozenset({"stream", "response"})
ANY = frozenset({"stream", "response", "error"})
UPSTREAM = frozenset({"upstream"})
SCENARIO = frozenset({"scenario"})
WEBSOCKET = frozenset({"websocket"})
# What can answer a `response.create` over a WebSocket: a response's events, or an error frame.
WS_ANSWERS = frozenset({"stream", "error"})
FUZZ = frozenset({"fuzz"})


class Kind(NamedTuple):
    """A kind of exchange a check applies to (`applies`)."""

    about: str  # what a check of this kind is about (one line: CHECKS.md's header quotes it)
    asked_with: str | None = None  # the option a run asks for it with; None: judged in any run


# Every kind, in the order CHECKS.md explains them. The one source of their words and of which
# kinds a run judges only when asked (ASKED_KINDS).
KIND_TABLE: Mapping[str, Kind] = MappingProxyType({
    "stream": Kind("a `stream: true` request answered with server-sent events"),
    "response": Kind("a non-streamed request answered with one JSON Response object"),
    "error": Kind("a request the target must refuse with an HTTP error envelope"),
    "websocket": Kind("WebSocket mode (`/responses` over a WebSocket): the upgrade, the connection and its frames"),
    "scenario": Kind("named by a scenario's assertions, judged across its steps"),
    "upstream": Kind("what our reference server produced, as the upstream of the proxy under test, reaches the "
                     "client intact", "--upstream-url"),
    "fuzz": Kind("the outcome of one generated request's exchange in fuzz mode", "--fuzz"),
})
KINDS = frozenset(KIND_TABLE)
# Judged only in a run that asks for them (their option): a run that did not ask never lists a
# check of only these kinds as tested.
ASKED_KINDS = frozenset(kind for kind, row in KIND_TABLE.items() if row.asked_with is not None)

# The profiles a severity table may name (profiles.py describes them); the first is the default.
PROFILE_NAMES = ("openai", "openai-strict", "openresponses")
ALL_PROFILES = frozenset(PROFILE_NAMES)
ASKED_BY = frozenset({"compare_shape_with", "error_code"})

# The modules that declare checks, in catalogue order (within a category). A module that
# declares checks is listed here: the registry imports them all before it answers.
MODULES = ("exchange", "checks.framing", "checks.schema", "checks.grammar", "checks.sequence", "checks.ids",
           "checks.consistency", "checks.usage", "checks.error", "websocket", "assertions", "fidelity", "fuzzing")

CHECK_ID = re.compile(r"^[a-z]+\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity  # in the default (openai) profile, or in the first profile the check belongs to
    rule: str
    basis: str
    applies: frozenset[str]
    profiles: frozenset[str] = ALL_PROFILES  # the profiles this check belongs to
    # The outcome depends on the model's choices, not only on the protocol (module docstring).
    model_behaviour: bool = False
    # The severity in each profile it belongs to (a profile it does not belong to is absent).
    severities: Mapping[str, Severity] = field(default_factory=dict, compare=False)
    http_only: bool = False
    head: bool = False
    asked_by: str | None = None
    folds: tuple[str, ...] = ()
    feature: str | None = None  # the optional feature it is judged for (features.json), if only one
    any_request: bool = False  # an assertion any valid request can be held to (fuzz mode)
    request_caused: bool = False  # a finding of it is explained by the request that produced it
    # A websocket check's answers to a response.create it reads (stream, error); empty: the connection's.
    reads: frozenset[str] = frozenset()
    module: str = field(default="", compare=False)  # where it is declared (engine module, dotted)
    function: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    # A scenario check's reason it tested nothing on this target though nothing broke (or None).
    inconclusive: Callable[..., str | None] | None = field(default=None, compare=False, repr=False)

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def judges_status(self) -> bool:
        """It judges the answer's HTTP status (it reads the head, and a finding of it is the
        request's doing): judged on any answer, not only on one of the kind asked for."""
        return self.head and self.request_caused


class Exchange(NamedTuple):
    """One step of a scenario as judged_by reads it. `asks`: the kinds of exchange (KIND_TABLE)
    the step asks for: its expected answer (stream, response, error), `websocket` over a
    WebSocket, `upstream` where the answer is relayed from our reference server (--upstream-url).
    `answer`: the kinds the target's answer was judged as, None when the target did not answer.
    Before a run (a scenario's items) every step is taken as answered as asked: `answer` is
    `asks`. In a run, the step's record says (`answer` in results.json): `stream` for an HTTP
    200 the checker read as server-sent events, `response` for an HTTP 200 JSON body, `error`
    for an HTTP 4xx or 5xx, and `upstream` where fidelity was judged (a finished POST
    /responses compared with the upstream's journal). A WebSocket step's answer is what its
    judge saw: `websocket` where the step had a connection (the upgrade answered 101), plus
    `stream` where a response's events came and `error` where an error frame came; empty where
    the upgrade was refused; None where no connection answered at all."""

    asks: frozenset[str]
    answer: frozenset[str] | None

    @classmethod
    def as_asked(cls, kinds: Iterable[str]) -> "Exchange":
        """A step taken as answered with what it asks for (its items; a record that does not say)."""
        kinds = frozenset(kinds)
        return cls(kinds, kinds)


# Said in the basis of every model-behaviour check, so that the catalogue (CHECKS.md) shows the tier.
MODEL_BEHAVIOUR_NOTE = ("Model behaviour: reported apart and not counted against conformance, except against the "
                        "embedded reference server or with --upstream-url.")

_declared: dict[str, tuple[tuple[int, int, int], Check]] = {}  # id -> (catalogue position, row)
_sequence = 0
_loaded = False
_loading = False

F = TypeVar("F", bound=Callable[..., Any])


def declare(id: str, severity: Severity | Mapping[str, Severity], applies: Iterable[str], rule: str, basis: str, *,
            model_behaviour: bool = False, http_only: bool = False, head: bool = False,
            asked_by: str | None = None, folds: Iterable[str] = (), feature: str | None = None,
            any_request: bool = False, request_caused: bool = False, reads: Iterable[str] = (),
            function: Callable[..., Any] | None = None,
            inconclusive: Callable[..., str | None] | None = None, _depth: int = 1) -> Check:
    """Registers one check, declared in the calling module (the module that makes its findings)."""
    global _sequence
    module = sys._getframe(_depth).f_globals.get("__name__", "")
    short = module[len(__package__) + 1:] if module.startswith(f"{__package__}.") else module
    if not CHECK_ID.match(id) or id.split(".", 1)[0] not in CATEGORIES:
        raise ValueError(f"{id!r}: a check id is `category.name`, the category one of {', '.join(CATEGORIES)}")
    if short not in MODULES:
        raise ValueError(f"{id} is declared in {module}, which registry.MODULES does not list")
    table = dict(severity) if isinstance(severity, Mapping) else dict.fromkeys(PROFILE_NAMES, severity)
    if not table or set(table) - ALL_PROFILES or not all(isinstance(s, Severity) for s in table.values()):
        raise ValueError(f"{id}: severity is a Severity or a table of profiles ({', '.join(PROFILE_NAMES)}) to one")
    applies = frozenset(applies)
    if not applies or applies - KINDS:
        raise ValueError(f"{id}: applies names kinds of exchange among {sorted(KINDS)}, got {sorted(applies)}")
    if not rule or not basis:
        raise ValueError(f"{id}: a check needs a rule and a basis")
    if asked_by is not None and asked_by not in ASKED_BY:
        raise ValueError(f"{id}: asked_by is one of {sorted(ASKED_BY)}")
    if any_request and "scenario" not in applies:
        raise ValueError(f"{id}: any_request marks a scenario assertion (applies SCENARIO)")
    reads = frozenset(reads)
    if reads and ("websocket" not in applies or reads - WS_ANSWERS):
        raise ValueError(f"{id}: reads names answers over a WebSocket ({', '.join(sorted(WS_ANSWERS))}) of a "
                         "check that applies to the websocket kind")
    earlier = _declared.get(id)
    if earlier is not None and earlier[1].module != module:
        raise ValueError(f"{id} is declared twice: in {earlier[1].module} and in {module}")
    if model_behaviour:
        basis = f"{basis} {MODEL_BEHAVIOUR_NOTE}"
    ordered = {name: table[name] for name in PROFILE_NAMES if name in table}
    row = Check(id=id, severity=ordered.get(PROFILE_NAMES[0], next(iter(ordered.values()))), rule=rule,
                basis=basis, applies=applies, profiles=frozenset(ordered), model_behaviour=model_behaviour,
                severities=MappingProxyType(ordered), http_only=http_only, head=head, asked_by=asked_by,
                folds=tuple(folds), feature=feature, any_request=any_request, request_caused=request_caused,
                reads=reads, module=module, function=function, inconclusive=inconclusive)
    _sequence += 1
    _declared[id] = ((CATEGORIES.index(row.category), MODULES.index(short), _sequence), row)
    if _loaded:
        _collect()  # a module imported again (importlib.reload): the tables follow
    return row


def check(id: str, severity: Severity | Mapping[str, Severity], applies: Iterable[str], rule: str, basis: str,
          **options: Any) -> Callable[[F], F]:
    """`declare` as a decorator of the function that yields the check's findings (for a scenario
    check, the assertion itself). The function is returned unchanged."""
    row = declare(id, severity, applies, rule, basis, _depth=2, **options)  # _depth: the module calling check()

    def register(function: F) -> F:
        position, declared = _declared[row.id]
        _declared[row.id] = (position, _with_function(declared, function))
        if _loaded:
            _collect()
        return function
    return register


def _with_function(row: Check, function: Callable[..., Any]) -> Check:
    from dataclasses import replace

    return replace(row, function=function)


# -- the collected catalogue --------------------------------------------------------------------
CHECKS: tuple[Check, ...]
BY_ID: dict[str, Check]
HTTP_ONLY_CHECKS: frozenset[str]
MODEL_BEHAVIOUR_CHECKS: frozenset[str]
HEAD_CHECKS: frozenset[str]
ASSERTIONS: Mapping[str, Callable[..., Any]]
ANY_REQUEST_ASSERTIONS: tuple[str, ...]  # in catalogue order
REQUEST_CAUSED_CHECKS: frozenset[str]
FOLDED_UNDER: Mapping[str, frozenset[str]]
_COLLECTED = ("CHECKS", "BY_ID", "HTTP_ONLY_CHECKS", "MODEL_BEHAVIOUR_CHECKS", "HEAD_CHECKS", "ASSERTIONS",
              "ANY_REQUEST_ASSERTIONS", "REQUEST_CAUSED_CHECKS", "FOLDED_UNDER")


def _load() -> None:
    """Imports every module of MODULES (their declarations run), then collects the catalogue."""
    global _loaded, _loading
    if _loaded:
        return
    if _loading:
        raise RuntimeError("the check registry was read while the modules that declare checks were being "
                           "imported: read it at call time, not at import time")
    _loading = True
    try:
        for name in MODULES:
            importlib.import_module(f"{__package__}.{name}")
    finally:
        _loading = False
    _collect()
    _loaded = True


def _collect() -> None:
    global CHECKS, BY_ID, HTTP_ONLY_CHECKS, MODEL_BEHAVIOUR_CHECKS, HEAD_CHECKS, ASSERTIONS, ANY_REQUEST_ASSERTIONS
    global REQUEST_CAUSED_CHECKS, FOLDED_UNDER
    rows = [row for _, row in sorted(_declared.values(), key=lambda entry: entry[0])]
    by_id = {row.id: row for row in rows}
    missing = [row.id for row in rows if "scenario" in row.applies and row.function is None]
    if missing:
        raise ValueError(f"scenario checks are assertions: declare them with @check on their function: {missing}")
    unknown = [(row.id, folded) for row in rows for folded in row.folds if folded not in by_id]
    if unknown:
        raise ValueError(f"checks folded under others must be declared: {unknown}")
    folded_under: dict[str, set[str]] = {}
    for row in rows:
        for folded in row.folds:
            folded_under.setdefault(folded, set()).add(row.id)
    CHECKS = tuple(rows)
    BY_ID = by_id
    HTTP_ONLY_CHECKS = frozenset(row.id for row in rows if row.http_only)
    MODEL_BEHAVIOUR_CHECKS = frozenset(row.id for row in rows if row.model_behaviour)
    HEAD_CHECKS = frozenset(row.id for row in rows if row.head)
    ASSERTIONS = MappingProxyType({row.id: row.function for row in rows if "scenario" in row.applies})
    ANY_REQUEST_ASSERTIONS = tuple(row.id for row in rows if row.any_request)
    REQUEST_CAUSED_CHECKS = frozenset(row.id for row in rows if row.request_caused)
    FOLDED_UNDER = MappingProxyType({key: frozenset(value) for key, value in folded_under.items()})


def __getattr__(name: str) -> Any:
    if name in _COLLECTED:
        _load()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get(check_id: str) -> Check:
    _load()
    return BY_ID[check_id]


def judged_in_run(check: Check, asked: Iterable[str] = ()) -> bool:
    """Whether a run judges `check` at all, given the kinds among ASKED_KINDS it asked for
    (`asked`): not when every kind the check applies to is judged only when asked and the run did
    not ask for it. What a run did not judge it never lists as passed: its listings (results.json's
    checks table, the report's matrix) leave such a check out."""
    return bool(check.applies - (ASKED_KINDS - frozenset(asked)))


def judged_by(check: Check, exchanges: Iterable[Exchange], *, asked: Iterable[str] = (),
              assertions: Iterable[str] = (), features: Iterable[str] = ()) -> bool:
    """Whether a scenario judges `check`, from what it puts before the checks: `exchanges`, one
    per step (`Exchange`: the kinds it asks for, and those its answer was judged as), `asked` the
    `asked_by` fields it gives, `assertions` the scenario checks its assertions name and
    `features` the features it asks for. The one rule for the checks of a scenario (its items:
    every step, answered as asked) and for what a run judged (results.check_statuses: the steps
    that ran to their judgement, with the answers they got): a scenario check where an assertion
    names it; an asked_by check where its field is given; any other check only where its
    `feature` is asked for, on a step that asks for a kind it applies to (not over a WebSocket
    when it is http_only) and got an answer: a check of the status line (`judges_status`) on any
    answer, the others on an answer judged as a kind they apply to that the step asked for (a
    stream request answered HTTP 500 judged framing.http_status_ok, none of the stream checks),
    and a check that `reads` answers over a WebSocket (a response's events, an error frame) only
    where the step asked for one of them and the answer holds one (an error frame to a
    response.create judged the connection's checks and framing.ws_create_streamed, not the
    response's checks nor error.ws_error_shape); over a WebSocket a check of the status line only
    where a response or an error frame answered."""
    if check.id in frozenset(assertions):
        return True
    if check.asked_by is not None:
        return check.asked_by in frozenset(asked)
    if check.feature is not None and check.feature not in frozenset(features):
        return False
    for asks, answer in exchanges:
        if not check.applies & asks or (check.http_only and "websocket" in asks) or answer is None:
            continue
        if check.judges_status and ("websocket" not in asks or answer & WS_ANSWERS):
            return True  # over a WebSocket, what answered the response.create is its status
        # A check that reads answers over a WebSocket: one of them came, and the step asked for
        # one of them (what the scenario's items were chosen by: a check the step's judge was not
        # given judged nothing, whatever came).
        if check.applies & asks & answer and (not check.reads or check.reads & answer and check.reads & asks):
            return True
    return False


def is_model_behaviour(check_id: str) -> bool:
    """The check's outcome depends on the model's choices (see the module docstring); False for unknown ids."""
    _load()
    check = BY_ID.get(check_id)
    return check is not None and check.model_behaviour
