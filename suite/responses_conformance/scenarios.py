"""Scenarios as data: one JSON file per scenario in `scenarios/` (and in `--scenarios DIR`).

A scenario is one request, or a few steps that depend on each other (create, then retrieve;
call a tool, then send its output), and what the target must answer: a stream, a Response
object, an error envelope with a fitting status, plus assertions across the steps.

Single request:

    {"id": "text-stream", "description": "...", "features": ["streaming"],
     "request": {"method": "POST", "path": "/responses", "json": {...}},
     "expect": {"kind": "stream"}}

Several steps (later steps refer to earlier answers with `{steps.<name>.<path>}` inside
strings, or `{"$from": "steps.<name>.<path>"}` for a whole value):

    {"id": "state-retrieve", "features": ["state"],
     "steps": [
       {"name": "create", "request": {...}, "expect": {"kind": "stream"}},
       {"name": "get", "request": {"method": "GET", "path": "/responses/{steps.create.response.id}"},
        "expect": {"kind": "response"}}],
     "assert": [{"check": "consistency.retrieve_matches_final", "created": "create", "retrieved": "get"}]}

A step's view for references: `status`, `body` (decoded JSON), `response` (the final
Response), `events` (decoded stream events), `request` (the JSON sent).

WebSocket mode (ws.py): a step with `"transport": "websocket"` sends client messages on a
connection instead of an HTTP request, and expects the answer to them (`stream`: one
response's events up to its terminal event per message; `error`: an error frame; `any`):

    {"name": "first", "transport": "websocket", "connection": "main",
     "send": [{"type": "response.create", "model": "{model}", "input": "Hi", "store": false}],
     "expect": {"kind": "stream"}}

`connection` names the connection (steps that name the same one share it; default
"default"), `reconnect: true` closes it and opens a new one first, a string in `send` is
sent as a raw text frame, and `expect.error_code` is the `error.code` an error frame must
carry. Its view: `response`/`events` of the first response answered, `body` the first error
frame, `responses` and `errors` every one of them.

Every file is checked against the published JSON Schema `scenario.schema.json` (next to this
module) when it is loaded: a malformed file is a usage error that names the file and where.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from .engine import registry
from .engine.assertions import STEP_PARAMETERS
from .engine.exchange import Expectation
from .results import JUDGED, Judgement, Status

WRONG_KEY = "sk-responses-conformance-wrong-key-0000"
KINDS = ("stream", "response", "error", "any")
AUTH = ("valid", "wrong", "none")
TRANSPORTS = ("http", "websocket")
WS_KINDS = ("stream", "error", "any")

class Case:
    """One conformance item: a scenario judged by one check (`text-stream:sequence.increasing`)."""

    def __init__(self, scenario: Scenario, check: registry.Check, severity: Any, target: str | None = None) -> None:
        self.scenario = scenario
        self.check = check
        self.severity = severity
        self.target = target  # the target's name in a run of several targets, else None
        self.id = f"{scenario.id}:{check.id}" if target is None else f"{target}:{scenario.id}:{check.id}"

    def __repr__(self) -> str:
        return self.id


class ScenarioError(ValueError):
    """A scenario file is malformed (a usage error)."""


def _load_features() -> dict[str, dict]:
    """features.json (next to this module): the features a scenario can need, checked on load."""
    where = "features.json"
    try:
        data = json.loads((resources.files(__package__) / where).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ScenarioError(f"{where}: not JSON ({exc})") from None
    return features_from_data(data, where)


def features_from_data(data: Any, where: str) -> dict[str, dict]:
    """The feature table of a features.json document; ScenarioError names what is malformed."""
    table = data.get("features") if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table:
        raise ScenarioError(f"{where}: holds an object with `features`: feature name -> its entry")
    for name, entry in table.items():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise ScenarioError(f"{where}: feature names are lowercase words joined by hyphens, got {name!r}")
        if not isinstance(entry, dict) or set(entry) - {"description", "core", "parameters"}:
            raise ScenarioError(f"{where}: {name}: an entry has `description`, and `core` or `parameters`")
        if not isinstance(entry.get("description"), str) or not entry["description"]:
            raise ScenarioError(f"{where}: {name}: `description` is a non-empty string")
        core = entry.get("core", False)
        parameters = entry.get("parameters")
        if not isinstance(core, bool):
            raise ScenarioError(f"{where}: {name}: `core` is true or false")
        if core == (parameters is not None):
            raise ScenarioError(f"{where}: {name}: a core feature names no parameters; an optional one names "
                                "the request parameters that ask for it ([] when the path or transport does)")
        if parameters is not None and (not isinstance(parameters, list)
                                       or not all(isinstance(p, str) and p for p in parameters)):
            raise ScenarioError(f"{where}: {name}: `parameters` is a list of request parameter names")
    return table


_FEATURE_TABLE = _load_features()
# The features a scenario can need; a target may honestly not offer one (reported "unsupported").
FEATURES: dict[str, str] = {name: entry["description"] for name, entry in _FEATURE_TABLE.items()}
# Features every Responses server must offer: refusing them is broken, never "unsupported".
CORE_FEATURES = frozenset(name for name, entry in _FEATURE_TABLE.items() if entry.get("core"))
# The request parameters through which an optional feature is asked for. A refusal whose error
# names a parameter (`param`) is "unsupported" only when that parameter belongs to one of the
# step's optional features: `input[0].type` refused on a streamed request is a core input shape
# refused (broken), not streaming unsupported. A refusal that names no parameter is taken at
# the feature's word. Features asked for by the path (compact, resume, cancel) have none.
FEATURE_PARAMETERS: dict[str, tuple[str, ...]] = {
    name: tuple(entry["parameters"]) for name, entry in _FEATURE_TABLE.items() if "parameters" in entry}


@dataclass(frozen=True)
class Poll:
    """Repeat a step until the answer's `status` is one of `until`, within `timeout` seconds."""

    until: tuple[str, ...]
    interval: float = 0.2
    timeout: float = 20.0


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    path: str
    expect: Expectation
    json_body: Any = None
    raw_body: str | None = None
    auth: str = "valid"
    poll: Poll | None = None
    features: tuple[str, ...] = ()  # what this step may be refused for (later steps; see runner._refusal)
    # WebSocket mode (ws.py): the client messages sent, on which named connection
    transport: str = "http"
    send: tuple[Any, ...] = ()
    connection: str = "default"
    reconnect: bool = False
    error_code: str | None = None  # the `error.code` an expected error frame carries
    # The response status a scripted trigger of the reference model produces (e.g. "failed" for
    # FAIL_MIDSTREAM). A target whose response ends otherwise did not honour the trigger: the
    # scenario is then "not applicable" to it, never a pass that tested nothing.
    trigger: str | None = None

    @property
    def websocket(self) -> bool:
        return self.transport == "websocket"


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    steps: tuple[Step, ...]
    features: tuple[str, ...] = ()
    asserts: tuple[dict, ...] = ()
    compare_shape_with: str | None = None
    source: str = ""
    data: dict = field(default_factory=dict, repr=False, compare=False)

    # The first step stands for the scenario where one request is meant (reports, curl).
    @property
    def method(self) -> str:
        return self.steps[0].method

    @property
    def path(self) -> str:
        return self.steps[0].path

    @property
    def expect(self) -> Expectation:
        return self.steps[0].expect

    def exchanges(self, upstream: bool = False, steps: int | None = None,
                  answers: Iterable[Any] = ()) -> tuple[registry.Exchange, ...]:
        """Each step, or the first `steps`, as registry.judged_by reads it (registry.Exchange):
        the kinds of exchange (registry.KIND_TABLE) it asks for, a step's expected answer
        (stream, response, error; `any` is judged only by assertions), `websocket` for a
        WebSocket step, and `upstream` for an HTTP answer a proxy relays from our reference
        server (`upstream`: the run named it, --upstream-url); and what its answer was judged
        as. `answers`: what a run's record says of each step (Scenario.judgement: a dict with
        `http_status` and `answer`); a step it says nothing of is taken as answered as asked
        (the scenario's items, a record from an earlier version)."""
        answers = list(answers)
        out = []
        for index, step in enumerate(self.steps[:steps]):
            kinds = {step.expect.kind} - {"any"}
            if step.websocket:
                kinds.add("websocket")
            elif upstream and kinds & {"stream", "response"}:
                kinds.add("upstream")
            said = answers[index] if index < len(answers) else None
            if isinstance(said, dict) and isinstance(said.get("answer"), list):
                answer = frozenset(said["answer"]) if said.get("http_status") is not None else None
                out.append(registry.Exchange(frozenset(kinds), answer))
            else:
                out.append(registry.Exchange.as_asked(kinds))
        return tuple(out)

    def asked(self, steps: int | None = None) -> frozenset[str]:
        """The fields with which the scenario (or its first `steps`) asks for checks judged only
        where asked (registry: `asked_by`)."""
        fields = {"compare_shape_with"} if self.compare_shape_with is not None else set()
        if any(step.error_code for step in self.steps[:steps]):
            fields.add("error_code")
        return frozenset(fields)

    def checks(self, profile: str = "openai", upstream: bool = False) -> tuple[registry.Check, ...]:
        """The checks this scenario is judged by in a profile (its items): those of its steps'
        kinds of exchange, its assertions and what it asks for (registry.judged_by), upstream
        fidelity for answers a proxy relays from our reference server."""
        exchanges, asked = self.exchanges(upstream), self.asked()
        wanted = {a["check"] for a in self.asserts}
        return tuple(check for check in registry.CHECKS if _enabled(check.id, profile)
                     and registry.judged_by(check, exchanges, asked=asked, assertions=wanted, features=self.features))

    def judgement(self, record: dict, *, upstream: bool = False, twin: dict | None = None) -> Judgement:
        """What this scenario judged in a run, from its results.json record (`twin`: the record
        of the scenario it is compared with, compare_shape_with): the steps that ran to their
        judgement, with what the target answered to each (a stream request answered HTTP 500
        judged the status, not the stream: registry.judged_by), and the assertions over them,
        for results.check_statuses. A scenario that stopped on a step (could not test it,
        refused it, or found it not applicable) judged the steps before that one, and none of
        its assertions; its shapes are compared only when both it and its twin ran every step
        to a judgement."""
        status = Status(record.get("status", Status.NOT_SELECTED))
        steps = record.get("steps_run", 0)
        stopped = bool(record.get("error") or record.get("reason"))
        if stopped:
            steps = max(0, steps - 1)
        whole = not stopped and steps == len(self.steps)
        ran = {step.name for step in self.steps[:steps]}
        assertions = frozenset() if stopped else frozenset(
            entry["check"] for entry in self.asserts
            if not any(isinstance(value, str) and value not in ran for key, value in entry.items()
                       if key in STEP_PARAMETERS))
        asked = self.asked(steps)
        if "compare_shape_with" in asked and not (whole and twin is not None and _whole(twin)):
            asked -= {"compare_shape_with"}
        # What each step's answer was: the record's `steps` (one entry per step sent, when more
        # than one was), or the record itself (the first step's status and answer).
        answers = record.get("steps") or [record]
        return Judgement(status, self.exchanges(upstream, steps, answers), asked=asked, assertions=assertions,
                         features=frozenset(self.features))


def judgements(scenarios: Iterable[Scenario], records: Iterable[dict], *, upstream: bool = False
               ) -> dict[str, Judgement]:
    """What each scenario of a run judged (Scenario.judgement), by id, from results.json's
    scenario records (a scenario without a record judged nothing); `upstream`: the run named the
    target's upstream (--upstream-url)."""
    by_id = {record["id"]: record for record in records}
    return {scenario.id: scenario.judgement(by_id[scenario.id], upstream=upstream,
                                            twin=by_id.get(scenario.compare_shape_with or ""))
            for scenario in scenarios if scenario.id in by_id}


def _whole(record: dict) -> bool:
    """A scenario's record says it ran every step to a judgement."""
    return (Status(record.get("status", Status.NOT_SELECTED)) in JUDGED and not record.get("error")
            and not record.get("reason") and record.get("steps_run", 0) >= record.get("steps_total", 1))


def _enabled(check_id: str, profile: str) -> bool:
    from .engine.profiles import get

    return get(profile).enabled(check_id)


# -- templates -------------------------------------------------------------------------------
_TEMPLATE = re.compile(r"\{([a-zA-Z_][\w.\[\]-]*)\}")
_STEP = re.compile(r"[^.\[\]]+|\[\d+\]")


def resolve(path: str, context: dict) -> Any:
    """`steps.create.response.output[0].id` in the context of earlier steps."""
    value: Any = context
    for token in _STEP.findall(path):
        if token.startswith("["):
            index = int(token[1:-1])
            if not isinstance(value, list) or index >= len(value):
                raise LookupError(path)
            value = value[index]
        else:
            if not isinstance(value, dict) or token not in value:
                raise LookupError(path)
            value = value[token]
    return value


def render(value: Any, context: dict) -> Any:
    """Fill `{...}` references in strings and `{"$from": ...}` objects; LookupError when one is missing."""
    if isinstance(value, str):
        if "{" not in value:
            return value
        return _TEMPLATE.sub(lambda m: str(resolve(m.group(1), context)), value)
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$from"}:
            return resolve(value["$from"], context)
        return {k: render(v, context) for k, v in value.items()}
    return value


# -- loading ---------------------------------------------------------------------------------
def _expectation(data: dict, where: str) -> Expectation:
    kind = data.get("kind")
    if kind not in KINDS:
        raise ScenarioError(f"{where}: expect.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return Expectation(kind=kind, statuses=tuple(data.get("statuses", (200,))), error_type=data.get("error_type"),
                       error_param=data.get("error_param"), starting_after=data.get("starting_after"),
                       resume_of=data.get("resume_of"))


def _ws_step(data: dict, where: str, default_name: str) -> Step:
    """A WebSocket step: client messages on a named connection, and the answer expected."""
    send = data.get("send")
    if not isinstance(send, list) or not send or not all(isinstance(m, (dict, str)) for m in send):
        raise ScenarioError(f"{where}: a websocket step needs `send`: a non-empty list of messages (objects, or "
                            "strings sent as raw text frames)")
    for key in ("poll", "raw_body"):
        if key in data:
            raise ScenarioError(f"{where}: `{key}` is for HTTP steps, not websocket ones")
    request = data.get("request") or {}
    if not isinstance(request, dict) or "json" in request or "raw_body" in request:
        raise ScenarioError(f"{where}: a websocket step sends `send`, not request.json")
    auth = data.get("auth", "valid")
    if auth not in AUTH:
        raise ScenarioError(f"{where}: auth must be one of {', '.join(AUTH)}")
    expect = data.get("expect") or {}
    if expect.get("kind") not in WS_KINDS:
        raise ScenarioError(f"{where}: a websocket step's expect.kind must be one of {', '.join(WS_KINDS)}")
    connection = data.get("connection", "default")
    if not isinstance(connection, str) or not connection:
        raise ScenarioError(f"{where}: `connection` must be a name")
    if not isinstance(data.get("reconnect", False), bool):
        raise ScenarioError(f"{where}: `reconnect` must be true or false")
    error_code = expect.get("error_code")
    if error_code is not None and (not isinstance(error_code, str) or expect.get("kind") != "error"):
        raise ScenarioError(f"{where}: expect.error_code is a string, for expect.kind error")
    return Step(name=data.get("name", default_name), method="GET", path=request.get("path", "/responses"),
                auth=auth, expect=_expectation(expect, where), transport="websocket", send=tuple(send),
                connection=connection, reconnect=data.get("reconnect", False), error_code=error_code,
                features=_features(data.get("features", ()), where), trigger=_trigger(data, where))


def _step(data: dict, where: str, default_name: str) -> Step:
    transport = data.get("transport", "http")
    if transport not in TRANSPORTS:
        raise ScenarioError(f"{where}: transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    if transport == "websocket":
        return _ws_step(data, where, default_name)
    request = data.get("request")
    if not isinstance(request, dict) or "path" not in request:
        raise ScenarioError(f"{where}: a step needs request.path")
    auth = data.get("auth", "valid")
    if auth not in AUTH:
        raise ScenarioError(f"{where}: auth must be one of {', '.join(AUTH)}")
    poll = data.get("poll")
    return Step(
        name=data.get("name", default_name),
        method=request.get("method", "POST").upper(),
        path=request["path"],
        json_body=request.get("json"),
        raw_body=request.get("raw_body"),
        auth=auth,
        expect=_expectation(data.get("expect") or {}, where),
        poll=Poll(tuple(poll["until"]), poll.get("interval", 0.2), poll.get("timeout", 20.0)) if poll else None,
        features=_features(data.get("features", ()), where),
        trigger=_trigger(data, where),
    )


def _trigger(data: dict, where: str) -> str | None:
    trigger = data.get("trigger")
    if trigger is not None and trigger not in ("failed", "incomplete", "completed", "cancelled"):
        raise ScenarioError(f"{where}: `trigger` is the response status the step's scripted trigger produces "
                            f"(failed, incomplete, completed, cancelled), got {trigger!r}")
    return trigger


def _features(names: Any, where: str) -> tuple[str, ...]:
    unknown = sorted(set(names) - set(FEATURES))
    if unknown:
        raise ScenarioError(f"{where}: unknown features {unknown}; known: {', '.join(FEATURES)}")
    return tuple(names)


def from_data(data: dict, source: str = "") -> Scenario:
    where = source or data.get("id", "<scenario>")
    for key in ("id", "description"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ScenarioError(f"{where}: `{key}` is required")
    if "steps" in data:
        raw_steps = data["steps"]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise ScenarioError(f"{where}: `steps` must be a non-empty list")
        steps = tuple(_step(s, f"{where} step {i}", f"step{i}") for i, s in enumerate(raw_steps))
    else:
        steps = (_step(data, where, "main"),)
    names = [s.name for s in steps]
    if len(names) != len(set(names)):
        raise ScenarioError(f"{where}: step names must be unique: {names}")
    features = tuple(data.get("features", ()))
    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise ScenarioError(f"{where}: unknown features {unknown}; known: {', '.join(FEATURES)}")
    asserts = tuple(data.get("assert", ()))
    for entry in asserts:
        if entry.get("check") not in registry.ASSERTIONS:
            raise ScenarioError(f"{where}: unknown assertion {entry.get('check')!r}; "
                                f"known: {', '.join(registry.ASSERTIONS)}")
        for key, value in entry.items():
            if key in STEP_PARAMETERS and value not in names:
                raise ScenarioError(f"{where}: {entry['check']} names step {value!r} ({key}), not one of {names}")
    return Scenario(id=data["id"], description=data["description"], steps=steps, features=features,
                    asserts=asserts, compare_shape_with=data.get("compare_shape_with"), source=source, data=data)


_FILE_SCHEMA: Any = None


def file_schema_validator() -> Any:
    """The published JSON Schema of scenario files (scenario.schema.json), as a validator."""
    global _FILE_SCHEMA
    if _FILE_SCHEMA is None:
        from jsonschema import Draft202012Validator

        schema = json.loads((resources.files(__package__) / "scenario.schema.json").read_text(encoding="utf-8"))
        _FILE_SCHEMA = Draft202012Validator(schema)
    return _FILE_SCHEMA


def _read(text: str, source: str) -> Scenario:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScenarioError(f"{source}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario file holds one JSON object")
    from jsonschema.exceptions import best_match

    error = best_match(file_schema_validator().iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "the file"
        raise ScenarioError(f"{source}: {error.message} (at {where.lstrip('.')}; see scenario.schema.json)")
    return from_data(data, source)


_BUILTIN: list[Scenario] | None = None  # the package's own files, read once (they do not change)


def load_all(directories: Iterable[Path] = ()) -> list[Scenario]:
    """The built-in scenarios and those of `directories` (`--scenarios DIR`): each run passes
    its own folders, so nothing of one run stays behind for the next in the same process."""
    global _BUILTIN
    if _BUILTIN is None:
        folder = resources.files(__package__) / "scenarios"
        _BUILTIN = [_read(entry.read_text(encoding="utf-8"), entry.name)
                    for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".json")]
    scenarios = list(_BUILTIN)
    for directory in directories:
        if not Path(directory).is_dir():
            raise ScenarioError(f"--scenarios {directory}: not a directory")
        scenarios += [_read(path.read_text(encoding="utf-8"), str(path))
                      for path in sorted(Path(directory).glob("*.json"))]
    ids = [s.id for s in scenarios]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ScenarioError(f"duplicate scenario ids: {', '.join(duplicates)}")
    known = set(ids)
    for scenario in scenarios:
        if scenario.compare_shape_with is not None and scenario.compare_shape_with not in known:
            raise ScenarioError(f"{scenario.id}: compare_shape_with names no scenario: {scenario.compare_shape_with!r}")
    return scenarios
