"""The engine's outputs, pinned byte for byte on a fixed corpus (a guard for speed work).

The replay hot path (engine/sse.py, schemas.py, checker.py, state.py, checks/*, capture.py) has
fast paths whose only job is to be faster: they must never change what is reported. This test
runs a deterministic corpus through the engine and compares every output with golden outputs
recorded from the code before the fast paths (tests/fixtures/equivalence/golden.jsonl.gz):

  * the SSE decoder: every event and wire note (offsets included) of hostile byte streams,
    fed in random chunk sizes;
  * JSON Schema validation: the errors (message, path, schema path) and the fast predicate's
    verdict for real events with one leaf broken, under every profile;
  * the stream checker: every violation (check, severity, message, path, event coordinates,
    excerpt) of real and synthetic streams with random mutations, framings and profiles;
  * the capture reader: every transcript of every fixture and of multi-stream captures.

Everything is generated from the fixtures with a fixed seed; only the outputs are stored.
After an intended change of behaviour, record again (and say why in the commit):

    python tests/test_engine_equivalence.py record
    python tests/test_engine_equivalence.py record --streams 3000 --out big.jsonl.gz  # a wider net
    python tests/test_engine_equivalence.py compare --streams 3000 --golden big.jsonl.gz
"""
from __future__ import annotations

import argparse
import copy
import functools
import gzip
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = FIXTURES / "equivalence" / "golden.jsonl.gz"
SEED = 20260301
STREAMS = 400  # mutated streams in the committed corpus
PROFILES = ("openai", "openai-strict", "openresponses")


# -- base material -------------------------------------------------------------------------------
def _capture_streams() -> list[list[str]]:
    """The January capture's seven streams, as their `data:` payload texts."""
    text = (FIXTURES / "openai" / "openai-capture-2026-01.txt").read_text(encoding="utf-8")
    text = text[text.index("event: response.created"):]
    streams: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: "):]
            if '"type":"response.created"' in payload:
                streams.append([])
            streams[-1].append(payload)
    return streams


def _recorded_streams() -> list[list[str]]:
    return [[line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            for path in sorted((FIXTURES / "recorded").glob("*.chunks.txt"))]


def _function_call_stream(rng: random.Random) -> list[str]:
    """A function-call stream shaped like the benchmark's (argument deltas with obfuscation)."""
    created = {"id": "resp_0123456789", "object": "response", "created_at": 1767340552, "status": "in_progress",
               "background": False, "error": None, "incomplete_details": None, "instructions": None,
               "max_output_tokens": None, "model": "gpt-4o-2024-08-06", "output": [], "parallel_tool_calls": True,
               "previous_response_id": None, "reasoning": {"effort": None, "summary": None}, "store": True,
               "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
               "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled", "usage": None,
               "user": None, "metadata": {}}
    item = {"id": "fc_0123", "type": "function_call", "status": "in_progress", "arguments": "",
            "call_id": "call_0123", "name": "get_weather"}
    arguments = json.dumps({"query": " ".join(rng.choice(("a", "b", "café", "\"q\"")) for _ in range(12))})
    events: list[dict] = [{"type": "response.created", "response": created},
                          {"type": "response.in_progress", "response": created},
                          {"type": "response.output_item.added", "output_index": 0, "item": item}]
    for at in range(0, len(arguments), 4):
        events.append({"type": "response.function_call_arguments.delta", "item_id": "fc_0123", "output_index": 0,
                       "delta": arguments[at:at + 4], "obfuscation": "abcd"})
    done = {**item, "status": "completed", "arguments": arguments}
    events.append({"type": "response.function_call_arguments.done", "item_id": "fc_0123", "output_index": 0,
                   "arguments": arguments})
    events.append({"type": "response.output_item.done", "output_index": 0, "item": done})
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
    events.append({"type": "response.completed",
                   "response": {**created, "status": "completed", "output": [done], "usage": usage}})
    return [json.dumps({"type": e["type"], "sequence_number": n, **e}, separators=(",", ":"))
            for n, e in enumerate(events)]


# -- mutations -----------------------------------------------------------------------------------
VALUES: tuple[Any, ...] = (None, 1.0, 7, -1, 0, "x", "", True, [], {}, "response.completed", 2**64, 3.5)
TYPES = ("response.created", "response.in_progress", "response.queued", "response.completed",
         "response.incomplete", "response.failed", "error", "keepalive", "response.output_item.added",
         "response.output_item.done", "response.content_part.added", "response.content_part.done",
         "response.output_text.delta", "response.output_text.done", "response.output_text.annotation.added",
         "response.refusal.delta", "response.reasoning_summary_part.added", "response.reasoning_text.delta",
         "response.reasoning.delta", "response.function_call_arguments.delta", "response.done",
         "codex.response.metadata", "vendor:custom", "message_start", "response.web_search_call.searching",
         "response.code_interpreter_call_code.delta", "response.mcp_call.completed")
RAW_DATA = ("[DONE]", " [DONE] ", "not json", "[1, 2]", "null", "42", '"text"', "{\"a\": NaN}", "{",
            "[" * 150 + "]" * 150, '{"choices": []}', '{"object": "chat.completion.chunk"}', "")


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            yield from _paths(value, path + (index,))


def _parent(node: Any, path: tuple) -> Any:
    for key in path[:-1]:
        node = node[key]
    return node


def mutate(frames: list[Any], rng: random.Random) -> list[Any]:
    """A few random changes; frames are payload dicts or raw data strings."""
    for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3, 5))):
        objects = [i for i, f in enumerate(frames) if isinstance(f, dict)]
        op = rng.randrange(14)
        if not frames:
            break
        at = rng.randrange(len(frames))
        if op == 0:
            del frames[at]
        elif op == 1:
            frames.insert(at, copy.deepcopy(frames[at]))
        elif op == 2 and at + 1 < len(frames):
            frames[at], frames[at + 1] = frames[at + 1], frames[at]
        elif op in (3, 4, 5) and objects:
            frame = frames[rng.choice(objects)]
            paths = list(_paths(frame))
            path = rng.choice(paths)
            parent = _parent(frame, path)
            if op == 5 and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
        elif op == 6 and objects:
            frames[rng.choice(objects)]["type"] = rng.choice(TYPES)
        elif op == 7:
            frames.insert(rng.choice((at, len(frames))), "[DONE]")
        elif op == 8:
            frames.insert(at, rng.choice(RAW_DATA))
        elif op == 9:
            del frames[at + 1:]
        elif op == 10 and objects:
            frame = frames[rng.choice(objects)]
            for key in ("delta", "text", "arguments"):
                if isinstance(frame.get(key), str):
                    frame[key] += rng.choice(("!", "é", "\n"))
                    break
        elif op == 11 and objects:
            frame = frames[rng.choice(objects)]
            key = rng.choice(("output_index", "content_index", "item_id", "summary_index", "annotation_index"))
            frame[key] = rng.choice((0, 1, 2, 5, "msg_x", None))
        elif op == 12:
            frames.insert(at, {"type": "keepalive", "sequence_number": at})
        elif op == 13:
            frames.insert(at, rng.choice(({"type": "error", "sequence_number": at, "code": "server_error",
                                           "message": "boom", "param": None},
                                          {"type": "error", "sequence_number": at,
                                           "error": {"type": "server_error", "code": None, "message": ""}})))
    if rng.random() < 0.6:
        number = rng.choice((0, 0, 0, 3))
        for frame in frames:
            if isinstance(frame, dict):
                frame["sequence_number"] = number
                number += 1
    return frames


def render(frames: list[Any], rng: random.Random) -> bytes:
    """SSE bytes with random (legal and illegal) framing around the payloads."""
    eol = rng.choice(("\n", "\n", "\n", "\r\n", "\r"))
    multiline = rng.random() < 0.1
    out: list[bytes] = [b"\xef\xbb\xbf"] if rng.random() < 0.05 else []
    for number, frame in enumerate(frames):
        lines: list[str] = []
        if isinstance(frame, dict):
            data = json.dumps(frame, ensure_ascii=rng.random() < 0.2, separators=(",", ":"),
                              indent=1 if multiline else None)
            name = frame.get("type") if isinstance(frame.get("type"), str) else None
        else:
            data, name = frame, None
        roll = rng.random()
        if roll < 0.03:
            name = None
        elif roll < 0.06:
            name = "response.other"
        elif roll < 0.08:
            name = ""
        if name is not None:
            lines.append(rng.choice(("event: ",) * 30 + ("event:",) * 5 + ("event:  ",)) + name)
        if rng.random() < 0.03:
            lines.append(f"id: {number}")
        if rng.random() < 0.02:
            lines.append(rng.choice((": keepalive comment", "retry: 1000", "retry: 1²", "foo: bar", "data",
                                      ":")) if rng.random() < 0.9 else "id: a\x00b")
        for line in data.split("\n"):
            lines.append(rng.choice(("data: ", "data: ", "data:")) + line)
        text = eol.join(lines) + eol + eol
        raw = text.encode("utf-8")
        if rng.random() < 0.01:
            cut = rng.randrange(len(raw))
            raw = raw[:cut] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80")) + raw[cut:]
        out.append(raw)
    data = b"".join(out)
    if rng.random() < 0.05:
        data = data[:-rng.randint(1, 40)]
    return data


def chunks(data: bytes, rng: random.Random) -> list[bytes]:
    size = rng.choice((1, 2, 3, 7, 64, 500, 4096, 65536, 0))
    if size == 0:
        bounds = sorted(rng.sample(range(1, max(2, len(data))), min(max(1, len(data) - 1), 20)))
        bounds = [0, *bounds, len(data)]
        return [data[a:b] for a, b in zip(bounds, bounds[1:])]
    return [data[at:at + size] for at in range(0, len(data), size)]


# -- rendering outputs ------------------------------------------------------------------------------
def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def violations(found: list[Any]) -> list:
    """Every field of every violation; the excerpts (event data) as one digest, to stay small."""
    return [[[v.check, v.severity.value, v.message, v.path, v.event_index, v.event_type, v.sequence_number, v.step]
             for v in found], _digest(json.dumps([v.excerpt for v in found]))]


def sse_items(items: list[Any]) -> list:
    """The wire notes in full; the events (data, event, id, retry, index, offset) as a count and a digest."""
    from responses_conformance.engine.sse import SseEvent

    events = [[i.data, i.event, i.id, i.retry, i.index, i.offset] for i in items if isinstance(i, SseEvent)]
    notes = [[n, i.kind, i.message, i.offset] for n, i in enumerate(items) if not isinstance(i, SseEvent)]
    return [len(events), _digest(json.dumps(events)), notes]


# -- the corpus ---------------------------------------------------------------------------------------
# Its sections, in the golden record's order. Sections "stream" and "capture" draw on one random
# stream: a run that leaves out "stream" still draws what it would have drawn (_stream_inputs,
# cheap), so that every section can be compared on its own (one test each, on either worker).
SECTIONS = ("schema", "stream", "many", "capture")
_AFTER_STREAMS: dict[int, Any] = {}  # streams -> the random stream's state after the stream section


def corpus(streams: int = STREAMS, sections: tuple[str, ...] = SECTIONS) -> Iterator[tuple[str, Any]]:
    """(case id, output) for the corpus, or for some of its sections, in a fixed order."""
    from responses_conformance.engine.schemas import SchemaSet

    rng = random.Random(SEED)
    schema_sets = {p: SchemaSet.load(profile=p) for p in PROFILES}
    bases = _capture_streams() + _recorded_streams() + [_function_call_stream(random.Random(n)) for n in range(3)]
    if "schema" in sections:
        yield from _schema_section(bases, schema_sets, streams)
    if "stream" in sections:
        yield from _stream_section(_stream_inputs(bases, rng, streams), schema_sets)
        _AFTER_STREAMS[streams] = rng.getstate()
    elif "capture" in sections:
        if streams in _AFTER_STREAMS:  # the stream section ran in this process: where it left off
            rng.setstate(_AFTER_STREAMS[streams])
        else:
            for _ in _stream_inputs(bases, rng, streams):  # the draws the capture section follows
                pass
    if "many" in sections:
        yield from _many_section(bases, schema_sets)
    if "capture" in sections:
        yield from _capture_section(bases, rng, schema_sets, streams)


def _schema_section(bases: list[list[str]], schema_sets: dict[str, Any], streams: int) -> Iterator[tuple[str, Any]]:
    """1. JSON Schema: real events with one leaf broken."""
    samples: dict[str, int] = {}
    for base in bases:
        for text in base:
            event = json.loads(text)
            kind = event.get("type")
            if samples.get(kind, 0) >= (1 if streams <= STREAMS else 3):  # a wider net: more samples
                continue
            samples[kind] = samples.get(kind, 0) + 1
            paths = list(_paths(event))
            variants = [event]
            for path in paths[:: max(1, len(paths) // 40)]:
                for value in (..., None, 1.0, 7, -3, "x", True, [], {}):
                    mutated = copy.deepcopy(event)
                    parent = _parent(mutated, path)
                    if value is ...:
                        if not isinstance(parent, dict):
                            continue
                        del parent[path[-1]]
                    else:
                        parent[path[-1]] = value
                    variants.append(mutated)
            for number, variant in enumerate(variants):
                for profile, loaded in schema_sets.items():
                    errors = loaded.validate_event(variant)
                    kind_now = variant.get("type")
                    name = loaded._event_names.get(kind_now) if isinstance(kind_now, str) else None
                    fast = loaded._fast[name](variant) if name else None
                    yield (f"schema/{kind}/{samples[kind]}/{number}/{profile}",
                           [fast, None if errors is None else [[e.message, e.path, e.schema_path] for e in errors]])
                    if kind == "response.completed":
                        response = variant.get("response")
                        errors = loaded.validate("objects/response", response)
                        yield (f"schema-response/{samples[kind]}/{number}/{profile}",
                               [loaded._fast["objects/response"](response),
                                [[e.message, e.path, e.schema_path] for e in errors]])

def _stream_inputs(bases: list[list[str]], rng: random.Random, streams: int) -> Iterator[dict[str, Any]]:
    """2's inputs: mutated streams, each with its profile, checker options and framing (JSON
    lines, with which payloads go in parsed; or SSE bytes and their chunks). Everything drawn
    from `rng` is drawn here, whatever is done with it."""
    from responses_conformance.capture import checks_for

    for number in range(streams):
        base = rng.choice(bases)
        frames: list[Any] = mutate([json.loads(t) for t in base], rng)
        profile = rng.choice(PROFILES)
        options: dict[str, Any] = {"profile": profile}
        if rng.random() < 0.05:
            options["starting_after"] = rng.choice((0, 4))
        if rng.random() < 0.05:
            options["max_event_bytes"] = rng.choice((200, 1500))
        if rng.random() < 0.2:
            options["checks"] = checks_for("stream", profile, head=False)
        case: dict[str, Any] = {"number": number, "profile": profile, "options": options}
        if rng.random() < 0.15:  # JSON lines: payloads without SSE framing, some handed over parsed
            case["payloads"] = [frame if isinstance(frame, dict) and rng.random() < 0.5
                                else frame if isinstance(frame, str) else json.dumps(frame) for frame in frames]
        else:
            case["pieces"] = chunks(render(frames, rng), rng)
        yield case


def _stream_section(inputs: Iterator[dict[str, Any]], schema_sets: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """2. the stream checker and the SSE decoder on mutated streams."""
    from responses_conformance.engine.checker import StreamChecker
    from responses_conformance.engine.sse import SseDecoder

    for case in inputs:
        number, profile, options = case["number"], case["profile"], case["options"]
        checker = StreamChecker(schemas=schema_sets[profile], **options)
        crash = None
        if "payloads" in case:
            framing = "jsonl"
            try:
                for payload in case["payloads"]:
                    checker.feed_payload(payload)
            except Exception as exc:  # pinned too: a fast path must not crash elsewhere, or less
                crash = type(exc).__name__
        else:
            framing = "sse"
            pieces = case["pieces"]
            decoder = SseDecoder(**({"max_event_bytes": options["max_event_bytes"]}
                                    if "max_event_bytes" in options else {}))
            items = [i for piece in pieces for i in decoder.feed(piece)] + decoder.close()
            yield f"sse/{number}", sse_items(items)
            try:
                for piece in pieces:
                    checker.feed_bytes(piece)
            except Exception as exc:
                crash = type(exc).__name__
        if crash is None:
            checker.close()
        yield (f"stream/{number}/{framing}/{profile}",
               [crash, checker.event_count, sorted(checker.dropped.items()), violations(checker.violations)])


def _many_section(bases: list[list[str]], schema_sets: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """3. a check broken on every event: past MAX_KEPT_PER_CHECK only counted."""
    from responses_conformance.engine.checker import StreamChecker

    frames = [json.loads(t) for t in bases[-1]]
    deltas = [f for f in frames if f["type"].endswith(".delta")]
    long = frames[:3] + [copy.deepcopy(deltas[0]) for _ in range(260)] + frames[-3:]
    for seq, frame in enumerate(long):
        frame["sequence_number"] = seq if seq % 2 else 1
    checker = StreamChecker(schemas=schema_sets["openai"])
    for piece in chunks(render(long, random.Random(1)), random.Random(2)):
        checker.feed_bytes(piece)
    checker.close()
    yield "stream/many", [checker.event_count, sorted(checker.dropped.items()), violations(checker.violations)]


def _capture_section(bases: list[list[str]], rng: random.Random, schema_sets: dict[str, Any],
                     streams: int) -> Iterator[tuple[str, Any]]:
    """4. the capture reader: every fixture, and captures of several mutated streams back to back."""
    from responses_conformance.capture import CaptureError, CaptureReader

    inputs: list[tuple[str, bytes]] = [
        (path.relative_to(FIXTURES).as_posix(), path.read_bytes())
        for folder in ("openai", "recorded", "replay") for path in sorted((FIXTURES / folder).glob("*"))
        if path.suffix in (".txt", ".sse", ".json", ".har")
    ]
    for number in range(max(4, streams // 20)):
        parts = [render(mutate([json.loads(t) for t in rng.choice(bases)], rng), rng) for _ in range(rng.randint(2, 6))]
        if rng.random() < 0.3:
            parts = [p + b"data: [DONE]\n\n" for p in parts]
        inputs.append((f"multi/{number}", b"".join(parts)))
    for number in range(max(2, streams // 100)):
        lines = [t for _ in range(3) for t in rng.choice(bases)]
        inputs.append((f"jsonl/{number}", "\n".join(lines).encode()))
    for name, data in inputs:
        for profile in PROFILES:
            reader = CaptureReader(name, schemas=schema_sets[profile], profile=profile)
            transcripts: list[Any] = []
            try:
                for piece in chunks(data, rng):
                    transcripts += reader.feed(piece)
                transcripts += reader.close()
                error = None
            except CaptureError as exc:
                error = str(exc)
            except Exception as exc:
                error = type(exc).__name__
            yield (f"capture/{name}/{profile}",
                   [error, reader.kinds, reader.notes,
                    [[t.source, t.index, t.kind, t.response_id, t.verdict, t.events, t.notes,
                      violations(t.violations)] for t in transcripts]])


def record(path: Path, streams: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as out:
        for key, value in corpus(streams):
            out.write(json.dumps([key, value], ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


@functools.lru_cache(maxsize=2)
def _golden(path: Path) -> list[Any]:
    """The golden record, read once per process (each section's test compares its part)."""
    with gzip.open(path, "rt", encoding="utf-8") as golden:
        return [json.loads(line) for line in golden]


def section_of(key: str) -> str:
    """The corpus section of an output's case id."""
    if key == "stream/many":
        return "many"
    head = key.split("/", 1)[0]
    return {"schema-response": "schema", "sse": "stream"}.get(head, head)


def differences(path: Path, streams: int, limit: int = 5,
                sections: tuple[str, ...] = SECTIONS) -> tuple[int, list[str]]:
    expected = [entry for entry in _golden(path) if section_of(entry[0]) in sections]
    got = [json.loads(json.dumps([k, v], ensure_ascii=False)) for k, v in corpus(streams, sections)]
    problems = []
    if len(got) != len(expected):
        problems.append(f"{len(got)} outputs, golden has {len(expected)}")
    for (key, value), (golden_key, golden_value) in zip(got, expected):
        if key != golden_key or value != golden_value:
            problems.append(f"{key} (golden {golden_key}):\n  got    {json.dumps(value)[:1500]}\n"
                            f"  golden {json.dumps(golden_value)[:1500]}")
            if len(problems) >= limit:
                break
    return len(got), problems


@pytest.mark.parametrize("section", SECTIONS)
def test_engine_outputs_match_the_golden_record(section: str):
    count, problems = differences(GOLDEN, STREAMS, sections=(section,))
    assert count, f"the {section} section has no outputs"
    assert not problems, f"{len(problems)}+ of {count} outputs differ:\n" + "\n".join(problems)


# -- the fast paths, one by one ---------------------------------------------------------------------
def test_an_sse_event_made_by_the_fast_constructor_is_an_ordinary_one():
    import dataclasses

    from responses_conformance.engine.sse import SseEvent, _new_event

    fields = ("data", "event", "id", "retry", 3, 17)
    fast, plain = _new_event(*fields), SseEvent(*fields)
    assert type(fast) is SseEvent
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert dataclasses.asdict(fast) == dataclasses.asdict(plain)
    assert dataclasses.replace(fast, index=4) == SseEvent("data", "event", "id", "retry", 4, 17)
    assert fast != _new_event("data", "event", "id", "retry", 3, 18)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.data = "changed"  # type: ignore[misc]


LINES = (b"data: x", b"data:x", b"data:  x", b"data: ", b"data:", b"data", b"event: a", b"event:a", b"event:  a",
         b"event: ", b"event:", b"event", b"data: caf\xc3\xa9", b"data: \xff\xfe", b"event: \xc3", b"data: a: b",
         b"event: a:b", b"id: 7", b"retry: 10", b": comment", b"dat: x", b"DATA: x", b"data : x", b" data: x")


def test_the_decoders_fast_lines_read_like_process_line():
    """`data: ` and `event: ` lines skip _process_line: the event must be what it would have made."""
    from responses_conformance.engine.sse import SseDecoder, SseEvent

    for first in LINES:
        for second in LINES:
            decoded = [i for i in SseDecoder().feed(first + b"\n" + second + b"\n\n") if isinstance(i, SseEvent)]
            general, out = SseDecoder(), []
            general._process_line(first, 0, out)
            general._process_line(second, len(first) + 1, out)
            general._dispatch(out)
            expected = [i for i in out if isinstance(i, SseEvent)]
            assert [(e.data, e.event, e.id, e.retry, e.offset) for e in decoded] == \
                   [(e.data, e.event, e.id, e.retry, e.offset) for e in expected], (first, second)


def test_parse_json_reads_like_the_full_decoder():
    from responses_conformance.engine import checker

    reference = json.JSONDecoder(parse_constant=checker._reject_constant)
    texts = ['{"a":1}', ' {"a":1}', '{"a":1} ', '{"a":1}\n', '\t[1]\r\n', '{"a":1}{"b":2}', '{"a":1} x', "", " ",
             "NaN", '{"a":NaN}', "-Infinity", "[1,2", '"x"', "1", "1.5e3", "null", "true", "[DONE]", "{", "}",
             "[" * 101 + "]" * 101, "[" * 100 + "]" * 100, "[" * 5000 + "]" * 5000, '{"a":"\\ud800"}',
             '{"a":1,}', "\ufeff{}", '{"a":{"b":[1,{"c":null}]}}']
    for text in texts:
        try:
            value = reference.decode(text)
            expected = (False, None) if checker._too_deep(text, value) else (True, value)
        except (ValueError, RecursionError):
            expected = (False, None)
        assert checker.parse_json(text) == expected, text[:40]


def test_state_caches_stay_in_step():
    """StreamState.ended and ItemState.id/type are kept, not computed: they must not drift."""
    from responses_conformance.engine.checker import StreamChecker
    from responses_conformance.engine.sse import SseDecoder

    rng = random.Random(SEED + 1)
    bases = _capture_streams() + _recorded_streams()
    for _ in range(60):
        frames = mutate([json.loads(t) for t in rng.choice(bases)], rng)
        checker = StreamChecker()
        decoder = SseDecoder()
        for item in decoder.feed(render(frames, rng)) + decoder.close():
            try:
                checker.feed(item)
            except TypeError:  # an unhashable `type` ({} or []): a known crash, pinned by the golden record
                break
            state = checker.state
            assert state.ended == (state.terminal is not None or state.done_sentinel)
            for added in state.items.values():
                assert (added.id, added.type) == (added.added.get("id"), added.added.get("type"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("--streams", type=int, default=STREAMS)
    parser.add_argument("--out", "--golden", dest="path", type=Path, default=GOLDEN)
    args = parser.parse_args()
    if args.action == "record":
        print(f"{record(args.path, args.streams)} outputs written")
    else:
        total, found = differences(args.path, args.streams, limit=20)
        print("\n".join(found) or f"all {total} outputs match")
        sys.exit(1 if found else 0)
