"""Every check fires where its rule is broken, and nowhere else.

The cases are data, in the manner of the JSON-Schema-Test-Suite: `tests/cases/<category>.json`
holds groups of cases, one group per check id; `tests/case-schema.json` describes the format.
A case names a real stream (`"base": "openai-capture#4"`, `"recorded/openai-error.1"`) and a
list of mutations that break exactly one rule, or gives a tiny literal stream, raw SSE text,
or a whole HTTP exchange. Its `expect` lists the (check, event_index) pairs that must fire;
no other MUST check may fire, and a SHOULD check only when named under `also`.

Real traffic is the other half: every captured and recorded stream is clean.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from responses_conformance import ws
from responses_conformance.engine import assertions, fidelity, fuzzing, profiles, registry
from responses_conformance.engine.assertions import StepView
from responses_conformance.engine.checker import StreamChecker, stamp
from responses_conformance.engine.checks.consistency import nonstream_matches_stream
from responses_conformance.engine.exchange import ExchangeChecker, Expectation
from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.engine.violations import Severity, Violation

HERE = Path(__file__).parent
CASES_DIR = HERE / "cases"
CASE_SCHEMA = HERE / "case-schema.json"
CAPTURE = HERE / "fixtures" / "openai" / "openai-capture-2026-01.txt"
RECORDED = HERE / "fixtures" / "recorded"
CAPTURE_STREAMS = 7
RECORDED_STREAMS = 7

SCHEMAS = SchemaSet.load()


def schemas_for(profile: str | None) -> SchemaSet:
    return SCHEMAS if profile in (None, "openai") else SchemaSet.load(profile=profile)


# --------------------------------------------------------------------------------------------
# Real traffic


@cache
def capture_parts() -> tuple[str, tuple[str, ...]]:
    """The capture as saved: the 401 body (final brace lost), then seven SSE streams."""
    text = CAPTURE.read_text(encoding="utf-8")
    start = text.index("event: response.created")
    error_body, rest = text[:start], text[start:]
    streams, marker = [], "event: response.created\n"
    at = 0
    while at < len(rest):
        following = rest.find(marker, at + 1)
        end = len(rest) if following == -1 else following
        streams.append(rest[at:end])
        at = end
    return error_body, tuple(streams)


@cache
def base_payloads(name: str) -> tuple[str, ...]:
    """The JSON payloads of a named real stream, as text (copied per case)."""
    if name.startswith("openai-capture#"):
        number = int(name.split("#", 1)[1])
        streams = capture_parts()[1]
        if not 1 <= number <= len(streams):
            raise KeyError(f"the capture has {len(streams)} streams, not {number}")
        # The capture is plain `event:`/`data:` pairs: read it without the decoder under test.
        return tuple(line[len("data: "):] for line in streams[number - 1].splitlines() if line.startswith("data: "))
    if name.startswith("recorded/"):
        path = RECORDED / f"{name.split('/', 1)[1]}.chunks.txt"
        return tuple(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    raise KeyError(f"unknown base stream {name!r}")


def recorded_names() -> list[str]:
    return sorted(p.name[: -len(".chunks.txt")] for p in RECORDED.glob("*.chunks.txt"))


# --------------------------------------------------------------------------------------------
# Building a stream: frames and mutations
#
# A frame is one SSE event:
#   {...}                                  a payload: `event: <type>` + `data: <json>`
#   {"$event": name|null, "$data": ...,    explicit event name (null: no `event:` line) and
#    "$id": "..."}                         optional `id:` line; data a payload object or a
#                                          raw data string
#   {"$raw": "..."}                        verbatim bytes ("\udcXX" stands for the byte 0xXX)


def payload_of(frame: Any) -> Any:
    """The JSON object a frame carries, or None for raw text."""
    if isinstance(frame, dict) and "$raw" in frame:
        return None
    if isinstance(frame, dict) and "$data" in frame:
        data = frame["$data"]
        return data if isinstance(data, dict) else None
    return frame if isinstance(frame, dict) else None


def select(frames: list[Any], op: dict) -> list[int]:
    """The positions an operation applies to: index, range, type (+ nth), or all."""
    n = len(frames)
    if "index" in op:
        wanted = op["index"] if isinstance(op["index"], list) else [op["index"]]
        out = []
        for i in wanted:
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for {n} events")
            out.append(i % n)
        return out
    if "range" in op:
        start, stop = op["range"]
        return list(range(start % n if start < 0 else start, stop % n if stop < 0 else min(stop, n)))
    if "type" in op:
        hits = [i for i, f in enumerate(frames) if isinstance(payload_of(f), dict) and payload_of(f).get("type") == op["type"]]
        if not hits:
            raise LookupError(f"no event of type {op['type']!r}")
        if "nth" in op:
            return [hits[op["nth"]]]
        return hits
    if op.get("all"):
        return list(range(n))
    raise ValueError(f"operation {op} selects nothing")


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.lstrip("-").isdigit() else p for p in path.split(".")]


def set_path(target: dict, path: str, value: Any) -> None:
    """Set the value at a dotted path; a last step "-" appends to an array (as in JSON Pointer)."""
    steps = _steps(path)
    node: Any = target
    for step in steps[:-1]:
        node = node[step]
    if steps[-1] == "-":
        node.append(copy.deepcopy(value))
    else:
        node[steps[-1]] = copy.deepcopy(value)


def unset_path(target: dict, path: str) -> None:
    steps = _steps(path)
    node: Any = target
    for step in steps[:-1]:
        node = node[step]
    if isinstance(node, list):
        del node[steps[-1]]
    else:
        node.pop(steps[-1], None)


def apply_mutations(frames: list[Any], mutations: list[dict]) -> list[Any]:
    """Apply the operations in order; `frames` is the case's own copy and is changed in place."""
    for op in mutations:
        kind = op["op"]
        if kind == "drop":
            doomed = set(select(frames, op))
            frames = [f for i, f in enumerate(frames) if i not in doomed]
        elif kind == "keep":
            kept = select(frames, op)
            frames = [frames[i] for i in kept]
        elif kind in ("set", "unset"):
            for i in select(frames, op):
                payload = payload_of(frames[i])
                if payload is None:
                    raise TypeError(f"event {i} is raw text; {kind} needs a JSON object")
                for path, value in (op["values"].items() if "values" in op else [(op["path"], op.get("value"))]):
                    if kind == "set":
                        set_path(payload, path, value)
                    else:
                        unset_path(payload, path)
        elif kind == "move":
            frame = frames.pop(op["from"])
            to = op["to"]
            frames.insert(len(frames) + 1 + to if to < 0 else to, frame)
        elif kind == "swap":
            a, b = op["indexes"]
            frames[a], frames[b] = frames[b], frames[a]
        elif kind == "insert":
            if "copy" in op:
                frame = copy.deepcopy(frames[op["copy"]])
                for path, value in op.get("set", {}).items():
                    set_path(payload_of(frame), path, value)
            else:
                frame = copy.deepcopy(op["event"])
            frames.insert(_position(frames, op["index"]), frame)
        elif kind == "raw":
            frames.insert(_position(frames, op["index"]), {"$raw": op["sse"]})
        elif kind == "frame":
            for i in select(frames, op):
                frames[i] = _framed(frames[i], op)
        elif kind == "reorder":
            for i in select(frames, op):
                steps = _steps(op["path"])
                node: Any = payload_of(frames[i])
                for step in steps:
                    node = node[step]
                node[:] = [node[k] for k in op["order"]]
        elif kind == "renumber":
            first = op.get("from", 0)
            number = op.get("start", sum(1 for f in frames[:first] if isinstance(payload_of(f), dict)))
            for frame in frames[first:]:
                payload = payload_of(frame)
                if isinstance(payload, dict):
                    payload["sequence_number"] = number
                    number += 1
        else:
            raise ValueError(f"unknown operation {kind!r}")
    return frames


def _framed(frame: Any, op: dict) -> dict:
    """The frame with an explicit SSE event name and/or id."""
    if isinstance(frame, dict) and "$raw" in frame:
        raise TypeError("a raw frame has no event name or id to change")
    if isinstance(frame, dict) and "$data" in frame:
        out = dict(frame)
    else:
        out = {"$event": frame.get("type") if isinstance(frame.get("type"), str) else None, "$data": frame}
    if "event_name" in op:
        out["$event"] = op["event_name"]
    if "id" in op:
        out["$id"] = op["id"]
    return out


def _position(frames: list[Any], index: int | str) -> int:
    if index == "end":
        return len(frames)
    return len(frames) + 1 + index if index < 0 else index


def dump(value: Any, *, multiline: bool = False) -> str:
    if multiline:
        return json.dumps(value, ensure_ascii=False, indent=1)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render_sse(frames: list[Any], *, line_ending: str = "lf", multiline: bool = False) -> bytes:
    eol = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}[line_ending]
    out: list[str] = []
    for frame in frames:
        if isinstance(frame, dict) and "$raw" in frame:
            out.append(frame["$raw"])
            continue
        sse_id = None
        if isinstance(frame, dict) and "$data" in frame:
            name, data, sse_id = frame.get("$event"), frame["$data"], frame.get("$id")
        else:
            name = frame.get("type") if isinstance(frame.get("type"), str) else None
            data = frame
        text = data if isinstance(data, str) else dump(data, multiline=multiline)
        lines = ([f"event: {name}"] if name is not None else []) + ([f"id: {sse_id}"] if sse_id is not None else [])
        lines += [f"data: {line}" for line in text.split("\n")]
        out.append(eol.join(lines) + eol + eol)
    return "".join(out).encode("utf-8", "surrogateescape")


def chunks_of(data: bytes, size: int | None) -> Iterator[bytes]:
    if not size:
        yield data
        return
    for at in range(0, len(data), size):
        yield data[at:at + size]


# --------------------------------------------------------------------------------------------
# Running a case


def build_frames(case: dict, group: dict) -> list[Any] | None:
    if "events" in case:
        frames: list[Any] = copy.deepcopy(case["events"])
    else:
        base = case.get("base", group.get("base"))
        if base is None:
            return None
        frames = [json.loads(data) for data in base_payloads(base)]
    return apply_mutations(frames, case.get("mutations", []))


def stream_bytes(case: dict, frames: list[Any] | None) -> bytes:
    if "sse" in case:
        sse = case["sse"]
        return ("".join(sse) if isinstance(sse, list) else sse).encode("utf-8", "surrogateescape")
    assert frames is not None, "the case gives no stream"
    data = render_sse(frames, line_ending=case.get("line_ending", "lf"), multiline=case.get("multiline_data", False))
    return data[: -case["cut_bytes"]] if case.get("cut_bytes") else data


def run_stream(case: dict, frames: list[Any] | None) -> list[Violation]:
    checker = StreamChecker(schemas=schemas_for(case.get("profile")), profile=case.get("profile"))
    if case.get("framing") == "jsonl":
        assert frames is not None and "sse" not in case, "jsonl framing needs events"
        for frame in frames:
            if isinstance(frame, dict) and "$raw" in frame:
                raise ValueError("a raw SSE frame cannot be fed as a JSON line")
            data = frame["$data"] if isinstance(frame, dict) and "$data" in frame else frame
            checker.feed_payload(data)
    elif isinstance(case.get("sse"), list) and not case.get("chunk_size"):
        for piece in case["sse"]:  # the case's own read boundaries
            checker.feed_bytes(piece.encode("utf-8", "surrogateescape"))
    else:
        for piece in chunks_of(stream_bytes(case, frames), case.get("chunk_size")):
            checker.feed_bytes(piece)
    checker.close()
    return checker.violations


def run_exchange(case: dict, frames: list[Any] | None) -> list[Violation]:
    spec = case["exchange"]
    expectation = Expectation(spec["kind"], tuple(spec.get("statuses", [200])), spec.get("error_type"),
                              spec.get("error_param"))
    source = spec.get("body_from")
    if "body" in spec:
        body, sse = dump(spec["body"]).encode(), False
    elif "body_text" in spec:
        body, sse = spec["body_text"].encode("utf-8", "surrogateescape"), False
    elif source == "final_response" or (source is None and spec["kind"] == "response"):
        assert frames is not None, "body_from final_response needs a base or events"
        body, sse = dump(final_response(frames)).encode(), False
    else:
        body, sse = stream_bytes(case, frames), True
    default_type = "text/event-stream" if sse else "application/json"
    headers = [tuple(h) for h in spec.get("headers", [["content-type", default_type]])]
    checker = ExchangeChecker(expectation, schemas=schemas_for(case.get("profile")), profile=case.get("profile"))
    checker.head(spec.get("status", 200), headers)
    for piece in chunks_of(body, case.get("chunk_size")):
        checker.body(piece)
    violations = list(checker.close())
    if "twin" in spec:
        # consistency.nonstream_matches_stream, as the runner judges it: this body against the
        # final response of the same request streamed.
        streamed = final_response([json.loads(data) for data in base_payloads(spec["twin"])])
        plain = checker.final_response
        assert plain is not None, "no non-streamed body to compare with the twin"
        violations += [Violation(f.check, registry.get(f.check).severity, f.message, f.path)
                       for f in nonstream_matches_stream(streamed, plain)]
    return violations


def final_response(frames: list[Any]) -> Any:
    payload = payload_of(frames[-1])
    assert isinstance(payload, dict) and "response" in payload, "the last event carries no response"
    return payload["response"]


def run_scenario(case: dict) -> list[Violation]:
    """A scenario assertion over hand-made step views (what each step sent and received)."""
    spec = case["scenario"]
    steps = {name: StepView(name=name, **view) for name, view in spec["steps"].items()}
    args = dict(spec["assert"])
    check = args.pop("check")
    profile = profiles.get(case.get("profile"))
    return [Violation(f.check, profile.severity(f.check), f.message, f.path)
            for f in assertions.run(check, steps, args) if profile.severity(f.check) is not None]


def run_upstream(case: dict) -> list[Violation]:
    """Upstream fidelity: the client's final Response against the upstream's journal entries."""
    spec = case["upstream"]
    profile = profiles.get(case.get("profile"))
    return [Violation(f.check, profile.severity(f.check), f.message, f.path)
            for f in fidelity.check(spec["final"], spec["journal"]) if profile.severity(f.check) is not None]


def run_websocket(case: dict) -> list[Violation]:
    """One WebSocket step through ws.StepJudge, as the runner and replay feed it."""
    spec = case["websocket"]
    wanted = spec.get("expect", {})
    expectation = Expectation(wanted.get("kind", "stream"), tuple(wanted.get("statuses", [400])),
                              wanted.get("error_type"), wanted.get("error_param"))
    judge = ws.StepJudge(expectation, sent=spec.get("sent", 1), schemas=schemas_for(case.get("profile")),
                         profile=case.get("profile"), error_code=wanted.get("error_code"))
    if "upgrade" in spec:
        judge.upgrade(spec["upgrade"], spec.get("upgrade_body", ""))
    for frame in spec["frames"]:
        if "$stream" in frame:
            for payload in build_frames(frame["$stream"], {}) or []:
                judge.frame(dump(payload_of(payload)))
        elif "$text" in frame:
            judge.frame(frame["$text"])
        elif "$binary" in frame:
            judge.frame(frame["$binary"].encode("utf-8", "surrogateescape"))
        elif "$close" in frame:
            close = frame["$close"]
            if close.get("by", "server") == "server":
                judge.server_closed(close.get("code"), close.get("reason", ""))
            else:
                judge.client_failed(close.get("code"), close.get("reason", ""))
        elif "$closed_before" in frame:
            judge.closed_between_steps(frame["$closed_before"].get("code"), frame["$closed_before"].get("reason", ""))
        else:
            judge.frame(dump(frame))
    judge.finish(complete=spec.get("complete", True))
    return judge.violations


def run_fuzz(case: dict) -> list[Violation]:
    """The outcome of one generated request, judged as fuzz mode judges it (fuzz.Judge): an
    exchange that did not complete, an invalid body's status, a valid request's final Response."""
    spec = case["fuzz"]
    invalid = spec["request"] == "invalid"
    status = spec.get("status", 200)
    if spec.get("end", "complete") != "complete":
        findings = fuzzing.answered(spec["end"], spec.get("error"), status, invalid=invalid)
    elif invalid:
        findings = fuzzing.invalid_refused(status, both_refuse=spec.get("both_refuse", True),
                                           broken=spec.get("broken", ""))
    else:
        findings = fuzzing.valid_completes(status, spec.get("response"))
    return stamp(findings, case.get("profile"))


def run_case(case: dict, group: dict) -> list[Violation]:
    if "websocket" in case:
        return run_websocket(case)
    if "fuzz" in case:
        return run_fuzz(case)
    if "scenario" in case:
        return run_scenario(case)
    if "upstream" in case:
        return run_upstream(case)
    frames = build_frames(case, group) if "sse" not in case else None
    if "exchange" in case:
        return run_exchange(case, frames)
    return run_stream(case, frames)


# --------------------------------------------------------------------------------------------
# Loading


@cache
def case_files() -> tuple[tuple[str, tuple[dict, ...]], ...]:
    files = []
    for path in sorted(CASES_DIR.glob("*.json")):
        files.append((path.stem, tuple(json.loads(path.read_text(encoding="utf-8")))))
    return tuple(files)


def all_cases() -> Iterator[tuple[str, dict, dict]]:
    for category, groups in case_files():
        for group in groups:
            for case in group["cases"]:
                yield category, group, case


def case_id(category: str, group: dict, case: dict) -> str:
    return f"{category}: {group['description']}: {case['description']}"


def _kind(case: dict) -> str:
    if "websocket" in case:
        return "websocket"
    if "scenario" in case:
        return "scenario"
    if "upstream" in case:
        return "upstream"
    if "fuzz" in case:
        return "fuzz"
    return case["exchange"]["kind"] if "exchange" in case else "stream"


CASES = list(all_cases())


def expected_pairs(case: dict) -> set[tuple[str, int | None]]:
    pairs = set()
    for entry in case["expect"]:
        where = entry.get("event_index")
        for index in where if isinstance(where, list) else [where]:
            pairs.add((entry["check"], index))
    return pairs


@pytest.mark.parametrize(("category", "group", "case"), CASES, ids=[case_id(*c) for c in CASES])
def test_case(category: str, group: dict, case: dict) -> None:
    profile = profiles.get(case.get("profile"))
    expected = expected_pairs(case)
    listed = {check for check, _ in expected}
    also = set(case.get("also", []))
    for check in listed | also:
        assert check in registry.BY_ID, f"unknown check {check!r}"
        applies = registry.get(check).applies
        if _kind(case) == "websocket":  # a WebSocket step carries streams and error frames too
            applies = applies | ({"websocket"} if applies & {"stream", "error"} else set())
        assert _kind(case) in applies, f"{check} does not apply to a {_kind(case)} exchange"
        assert profile.enabled(check), f"{check} is not part of the {profile.name} profile"
    for check in also:
        assert profile.severity(check) is Severity.SHOULD, f"`also` may only name SHOULD checks, not {check}"
    if expected:
        assert group["check"] in listed, f"a firing case in the {group['check']} group must expect that check"

    violations = run_case(case, group)

    def show(vs: list[Violation]) -> str:
        return "\n".join(f"  {v.check} [{v.severity}] event_index={v.event_index}: {v.message}" for v in vs) or "  (none)"

    fired = {(v.check, v.event_index) for v in violations if v.check in listed}
    for entry in case["expect"]:
        if "message" in entry:
            said = [v.message for v in violations if v.check == entry["check"]]
            assert any(entry["message"] in m for m in said), \
                f"no {entry['check']} finding says {entry['message']!r}:\n{show(violations)}"
    assert fired == expected, (
        f"expected {sorted(expected, key=str)}, fired {sorted(fired, key=str)}\nall violations:\n{show(violations)}")
    others = [v for v in violations if v.check not in listed and v.check not in also]
    assert not others, f"checks fired that the case does not list:\n{show(others)}"


# --------------------------------------------------------------------------------------------
# The case files themselves


@cache
def case_validator() -> Draft202012Validator:
    schema = json.loads(CASE_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted(CASES_DIR.glob("*.json")), ids=lambda p: p.name)
def test_case_file_matches_schema(path: Path) -> None:
    errors = sorted(case_validator().iter_errors(json.loads(path.read_text(encoding="utf-8"))),
                    key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_one_case_file_per_category() -> None:
    assert sorted(stem for stem, _ in case_files()) == sorted(registry.CATEGORIES)


def test_groups_belong_to_their_file() -> None:
    for category, groups in case_files():
        for group in groups:
            assert group["check"] in registry.BY_ID, f"{category}: unknown check {group['check']!r}"
            assert registry.get(group["check"]).category == category, f"{group['check']} is filed under {category}"


def test_case_descriptions_are_unique() -> None:
    ids = [case_id(*c) for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_check_has_firing_and_clean_case() -> None:
    firing = {e["check"] for _, _, case in CASES for e in case["expect"]}
    clean = {group["check"] for _, group, case in CASES if not case["expect"]}
    missing_firing = [c.id for c in registry.CHECKS if c.id not in firing]
    missing_clean = [c.id for c in registry.CHECKS if c.id not in clean]
    assert not missing_firing, f"checks without a firing case: {missing_firing}"
    assert not missing_clean, f"checks without a clean case: {missing_clean}"


# Real-world bugs (design notes, real-world-bugs.md) that every run must reproduce.
REAL_WORLD_BUGS = [
    "A-01", "A-02", "A-03", "A-07", "A-09", "A-11",
    "B-01", "B-02", "B-04", "B-05", "B-06", "B-10", "B-11", "B-12",
    "C-01", "C-02", "C-03", "C-04", "C-05", "C-06",
    "D-01", "D-02", "D-03", "D-04", "D-05", "D-06", "D-07", "D-08", "D-09", "D-10", "D-11", "D-12",
    "E-01", "E-02", "E-05",
    "F-01", "F-02", "F-03", "F-04", "F-05", "F-07", "F-08", "F-09",
    "G-01", "G-02", "G-03", "G-04", "G-05", "G-08", "G-13",
    "H-01", "H-02", "H-04", "H-05", "H-06", "H-08",
]


def test_real_world_bugs_have_cases() -> None:
    covered: set[str] = set()
    for _, _, case in CASES:
        bug = case.get("bug", [])
        covered.update([bug] if isinstance(bug, str) else bug)
    missing = [b for b in REAL_WORLD_BUGS if b not in covered]
    assert not missing, f"real-world bugs without a case: {missing}"


# --------------------------------------------------------------------------------------------
# Real traffic yields no violation at all, MUST or SHOULD


def _show_all(violations: list[Violation]) -> str:
    return "\n".join(f"{v.check} at event {v.event_index}: {v.message}" for v in violations)


def test_real_traffic_is_all_there() -> None:
    assert len(capture_parts()[1]) == CAPTURE_STREAMS
    assert len(recorded_names()) == RECORDED_STREAMS


@pytest.mark.parametrize("number", range(1, CAPTURE_STREAMS + 1), ids=lambda n: f"openai-capture#{n}")
def test_capture_stream_is_clean(number: int) -> None:
    stream = capture_parts()[1][number - 1].encode()
    checker = StreamChecker(schemas=SCHEMAS)
    checker.feed_bytes(stream)
    checker.close()
    assert checker.event_count > 0
    assert checker.final_response is not None
    assert not checker.violations, _show_all(checker.violations)


@pytest.mark.parametrize("name", recorded_names())
def test_recorded_stream_is_clean(name: str) -> None:
    checker = StreamChecker(schemas=SCHEMAS)
    for line in base_payloads(f"recorded/{name}"):
        checker.feed_payload(line)
    checker.close()
    assert checker.final_response is not None
    assert not checker.violations, _show_all(checker.violations)


def test_capture_error_body_is_clean() -> None:
    body = capture_parts()[0].rstrip()
    assert body.endswith("}") and not body.endswith("}\n}"), "the capture's 401 body lost its final brace"
    checker = ExchangeChecker(Expectation("error", (401,), "invalid_request_error"), schemas=SCHEMAS)
    checker.head(401, [("content-type", "application/json")])
    checker.body((body + "\n}").encode())
    assert not checker.close(), _show_all(checker.violations)
    assert checker.body_json["error"]["code"] == "invalid_api_key"


# --------------------------------------------------------------------------------------------
# Scenarios that test nothing on a target say so (the runner reports "could not test")


def test_a_cancel_that_arrives_after_completion_is_inconclusive() -> None:
    queued = {"id": "resp_1", "object": "response", "status": "queued", "background": True, "output": []}
    done = dict(queued, status="completed")
    steps = {"c": StepView("c", status=200, body=queued), "x": StepView("x", status=200, body=done)}
    args = {"create": "c", "poll": "x", "final": "cancelled"}
    assert assertions.run("consistency.background_lifecycle", steps, args) == []
    assert "completed before the cancel" in assertions.inconclusive("consistency.background_lifecycle", steps, args)
    steps["x"] = StepView("x", status=200, body=dict(queued, status="cancelled"))
    assert assertions.inconclusive("consistency.background_lifecycle", steps, args) is None


def test_model_behaviour_tier_is_data_on_the_check() -> None:
    assert registry.is_model_behaviour("consistency.context_kept")
    assert registry.is_model_behaviour("consistency.truncation_reported")
    assert not registry.is_model_behaviour("consistency.previous_response_echoed")
    assert not registry.is_model_behaviour("consistency.output_limit_enforced")
    assert not registry.is_model_behaviour("no.such_check")
    for check in registry.CHECKS:
        assert check.model_behaviour == (check.id in registry.MODEL_BEHAVIOUR_CHECKS)
        if check.model_behaviour:
            assert registry.MODEL_BEHAVIOUR_NOTE in check.basis, "CHECKS.md shows the tier through the basis"


def test_a_json_answer_to_a_stream_request_is_one_finding() -> None:
    checker = ExchangeChecker(Expectation("stream"), schemas=SCHEMAS)
    checker.head(200, [("content-type", "application/json")])
    checker.body(b'{"id": "resp_1", "object": "response"}')
    found = [v for v in checker.close() if v.check == "framing.content_type_event_stream"]
    assert [v.message for v in found] == [
        "a stream was asked for, the target sent a JSON body (Content-Type application/json)"]
