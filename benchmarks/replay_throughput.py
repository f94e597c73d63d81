"""Replay throughput: how fast `responses-conformance replay` checks a large capture.

    python benchmarks/replay_throughput.py                 # 1,000,000 events a shape, all measurements
    python benchmarks/replay_throughput.py --events 200000 # quicker
    python benchmarks/replay_throughput.py --shape seed    # one shape only
    python benchmarks/replay_throughput.py --sdk-events 100000   # the SDK on a prefix only (it is slow)

It writes synthetic captures modelled on real OpenAI traffic (the January 2026 capture's
Response object and event shapes; text streams with `obfuscation` padding and function-call
streams with argument deltas), as server-sent events, one stream after another, into a
temporary folder, in two shapes:

  long    50-350 deltas a stream: the cost of the deltas dominates;
  seed    shaped like the January capture itself: about 15 events a stream (2-14 deltas), so
          the large `response.created`, `response.in_progress` and `response.completed`
          objects are a good part of the bytes and of the work.

For each shape it measures, each in a fresh subprocess that reads the same file in 64 KiB chunks:

  floor   split the SSE lines and json.loads every `data:` payload: decoding and nothing else;
  sdk     the official `openai` package's types: pydantic TypeAdapter(ResponseStreamEvent)
          .validate_json on every payload (typed parsing; it checks far less than we do);
  replay  our replay: CaptureReader (SSE decoding, stream splitting, every check, JSON Schema
          validation), exactly what `responses-conformance replay FILE` runs.

Each subprocess reports events per CPU second over its processing loop (imports, schema loading
and process start-up excluded) and its peak resident memory (getrusage ru_maxrss), also relative
to its resident memory before the loop. The floor and replay run in three interleaved rounds
(`--repeat`) and keep their fastest; the SDK, slowest by far, runs once. `replay` is run a second
time on a capture a tenth the size, to show that peak memory does not grow with the number of
streams. Figures vary with the machine; the ratios to the floor ("vs floor", one line a shape at
the end) are what to look at.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 64 * 1024
SEED = 20260102
WORDS = ("the", "a", "response", "stream", "token", "model", "server", "client", "event", "delta", "and", "of",
         "to", "is", "in", "that", "it", "with", "for", "as", "on", "was", "can", "by", "this", "are", "be",
         "café", "naïve", "—", "data", "JSON", "\"quoted\"", "line\nbreak", "tab\t", "42", "3.14", "!", "?", ".")
OBFUSCATION = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
FUNCTIONS = ("get_weather", "search_flights", "lookup_order", "send_email")
# Per shape: how many deltas a text stream has, and how many words a function call's arguments.
SHAPES = {"long": {"deltas": (50, 350), "words": (10, 60)},
          "seed": {"deltas": (2, 14), "words": (1, 6)}}


def _response(rid: str, created: int, status: str, output: list, usage: dict | None) -> dict:
    # The January 2026 capture's Response object, field for field.
    return {
        "id": rid, "object": "response", "created_at": created, "status": status, "background": False,
        "completed_at": created + 2 if status == "completed" else None, "error": None, "incomplete_details": None,
        "instructions": None, "max_output_tokens": None, "max_tool_calls": None, "model": "gpt-4o-2024-08-06",
        "output": output, "parallel_tool_calls": True, "previous_response_id": None, "prompt_cache_key": None,
        "prompt_cache_retention": None, "reasoning": {"effort": None, "summary": None}, "safety_identifier": None,
        "service_tier": "default" if status == "completed" else "auto", "store": True, "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto", "tools": [],
        "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": None, "metadata": {},
    }


def _stream(rng: random.Random, n: int, shape: str = "long") -> list[dict]:
    """One response stream as event payloads (sequence numbers added by the caller)."""
    deltas_range, words_range = SHAPES[shape]["deltas"], SHAPES[shape]["words"]
    rid = f"resp_{rng.getrandbits(200):050x}"
    created = 1767340552 + n
    events: list[dict] = [
        {"type": "response.created", "response": _response(rid, created, "in_progress", [], None)},
        {"type": "response.in_progress", "response": _response(rid, created, "in_progress", [], None)},
    ]

    def pad() -> str:
        return "".join(rng.choice(OBFUSCATION) for _ in range(rng.randint(4, 15)))

    if rng.random() < 0.85:
        mid = f"msg_{rng.getrandbits(200):050x}"
        item = {"id": mid, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
        events.append({"type": "response.output_item.added", "output_index": 0, "item": item})
        events.append({"type": "response.content_part.added", "item_id": mid, "output_index": 0, "content_index": 0,
                       "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}})
        deltas = [(" " if i else "") + rng.choice(WORDS) for i in range(rng.randint(*deltas_range))]
        for delta in deltas:
            events.append({"type": "response.output_text.delta", "item_id": mid, "output_index": 0,
                           "content_index": 0, "delta": delta, "logprobs": [], "obfuscation": pad()})
        text = "".join(deltas)
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        events.append({"type": "response.output_text.done", "item_id": mid, "output_index": 0, "content_index": 0,
                       "text": text, "logprobs": []})
        events.append({"type": "response.content_part.done", "item_id": mid, "output_index": 0,
                       "content_index": 0, "part": part})
        done = {"id": mid, "type": "message", "status": "completed", "content": [part], "role": "assistant"}
        output_tokens = len(deltas)
    else:
        fid, call = f"fc_{rng.getrandbits(200):050x}", f"call_{rng.getrandbits(96):024x}"
        name = rng.choice(FUNCTIONS)
        item = {"id": fid, "type": "function_call", "status": "in_progress", "arguments": "", "call_id": call,
                "name": name}
        events.append({"type": "response.output_item.added", "output_index": 0, "item": item})
        arguments = json.dumps({"query": " ".join(rng.choice(WORDS) for _ in range(rng.randint(*words_range)))})
        pieces = [arguments[i:i + 4] for i in range(0, len(arguments), 4)]
        for piece in pieces:
            events.append({"type": "response.function_call_arguments.delta", "item_id": fid, "output_index": 0,
                           "delta": piece, "obfuscation": pad()})
        events.append({"type": "response.function_call_arguments.done", "item_id": fid, "output_index": 0,
                       "arguments": arguments})
        done = {**item, "status": "completed", "arguments": arguments}
        output_tokens = len(pieces)
    events.append({"type": "response.output_item.done", "output_index": 0, "item": done})
    input_tokens = rng.randint(8, 4000)
    # cache_write_tokens: the openai package's types (3.x) require it; real OpenAI traffic of January 2026
    # did not send it yet, and our checks accept it either way.
    usage = {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
             "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": input_tokens + output_tokens}
    events.append({"type": "response.completed", "response": _response(rid, created, "completed", [done], usage)})
    return events


def generate(path: Path, events: int, seed: int = SEED, shape: str = "long") -> tuple[int, int]:
    """Write a capture of at least `events` events of one shape; returns (events, streams)."""
    rng = random.Random(seed)
    written = streams = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        while written < events:
            for seq, payload in enumerate(_stream(rng, streams, shape)):
                payload = {"type": payload["type"], "sequence_number": seq, **payload}
                data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                out.write(f"event: {payload['type']}\ndata: {data}\n\n")
                written += 1
            streams += 1
    return written, streams


# -- the measurements, each run in its own process --------------------------------------------------
def _rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _data_lines(path: Path):
    """The `data:` payloads of an SSE file read in 64 KiB chunks (the floor's minimal SSE reading)."""
    carry = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            for line in lines:
                if line.startswith(b"data: "):
                    yield line[6:]
    if carry.startswith(b"data: "):
        yield carry[6:]


def measure(name: str, path: Path, limit: int | None) -> dict:
    if name == "floor":
        def run() -> tuple[int, int]:
            loads = json.loads
            count = 0
            for data in _data_lines(path):
                loads(data)
                count += 1
                if limit and count >= limit:
                    break
            return count, 0
    elif name == "sdk":
        from openai.types.responses import ResponseStreamEvent
        from pydantic import TypeAdapter, ValidationError

        adapter = TypeAdapter(ResponseStreamEvent)
        validate = adapter.validate_json

        def run() -> tuple[int, int]:
            count = errors = 0
            for data in _data_lines(path):
                try:
                    validate(data)
                except ValidationError:
                    errors += 1
                count += 1
                if limit and count >= limit:
                    break
            return count, errors
    elif name == "replay":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "suite"))
        from responses_conformance.capture import CaptureReader
        from responses_conformance.replay import load_schemas

        schemas = load_schemas("openai")

        def run() -> tuple[int, int]:
            reader = CaptureReader(str(path), schemas=schemas)
            count = failed = 0
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    for transcript in reader.feed(chunk):
                        count += transcript.events
                        failed += transcript.verdict != "pass"
            for transcript in reader.close():
                count += transcript.events
                failed += transcript.verdict != "pass"
            return count, failed
    else:
        raise SystemExit(f"unknown measurement {name!r}")
    before = _rss_kib()
    start = time.process_time()  # CPU time: less at the mercy of other processes than wall time
    count, errors = run()
    seconds = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"name": name, "events": count, "seconds": seconds, "errors": errors, "rss_before_kib": before,
            "peak_kib": peak}


def _child(name: str, path: Path, limit: int | None) -> dict:
    command = [sys.executable, __file__, "--measure", name, str(path)]
    if limit:
        command += ["--limit", str(limit)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


LABELS = {"floor": "(a) floor: json.loads of each data: line",
          "sdk": "(b) openai SDK: TypeAdapter.validate_json",
          "replay": "(c) replay: every check (CaptureReader)"}


def bench_shape(shape: str, folder: Path, args: argparse.Namespace, sdk: bool) -> float:
    """Generate and measure one shape; print its table and return replay's ratio to the floor."""
    big = (args.keep.with_name(f"{args.keep.stem}-{shape}{args.keep.suffix}") if args.keep
           else folder / f"capture-{shape}.sse")
    small = folder / f"capture-{shape}-tenth.sse"
    started = time.perf_counter()
    events, streams = generate(big, args.events, shape=shape)
    generate(small, max(1, args.events // 10), seed=SEED + 1, shape=shape)
    print(f"\nshape {shape}: {events:,} events in {streams:,} streams ({events / streams:.1f} a stream), "
          f"{big.stat().st_size / 2**20:,.0f} MiB (generated in {time.perf_counter() - started:.1f} s)")
    plan = [("floor", None), ("replay", None)]
    if sdk:
        plan.insert(1, ("sdk", args.sdk_events))
    results: dict[str, dict] = {}
    peaks: dict[str, int] = {}
    # Rounds interleave the measurements, so that a busy moment of the machine does not hit
    # one of them only; each keeps its fastest round, and its highest peak memory. The SDK,
    # the slowest by far, runs in the first round only.
    for round_ in range(max(1, args.repeat)):
        for name, limit in plan:
            if name == "sdk" and round_:
                continue
            run = _child(name, big, limit)
            if name not in results or run["seconds"] < results[name]["seconds"]:
                results[name] = run
            peaks[name] = max(peaks.get(name, 0), run["peak_kib"])
    for name in results:
        results[name]["peak_kib"] = peaks[name]
    tenth = _child("replay", small, None)

    floor = results["floor"]["events"] / results["floor"]["seconds"]
    print(f"{'measurement':<44} {'events':>11} {'events/s':>11} {'vs floor':>9} {'peak RSS':>10} {'growth':>9}")
    for name, _ in plan:
        r = results[name]
        rate = r["events"] / r["seconds"]
        print(f"{LABELS[name]:<44} {r['events']:>11,} {rate:>11,.0f} {floor / rate:>8.1f}x "
              f"{r['peak_kib'] / 1024:>8.1f}M {(r['peak_kib'] - r['rss_before_kib']) / 1024:>+8.1f}M")
    rate = tenth["events"] / tenth["seconds"]
    print(f"{'(c) replay on a capture a tenth the size':<44} {tenth['events']:>11,} {rate:>11,.0f} "
          f"{floor / rate:>8.1f}x {tenth['peak_kib'] / 1024:>8.1f}M "
          f"{(tenth['peak_kib'] - tenth['rss_before_kib']) / 1024:>+8.1f}M")
    replay = results["replay"]["events"] / results["replay"]["seconds"]
    if "sdk" in results:
        rate = results["sdk"]["events"] / results["sdk"]["seconds"]
        print(f"replay is {replay / rate:.1f}x the SDK's speed"
              + (f"; the SDK rejected {results['sdk']['errors']:,} events" if results["sdk"]["errors"] else ""))
    if results["replay"]["errors"]:
        print(f"WARNING: {results['replay']['errors']} transcripts did not pass: the capture is not clean")
    return floor / replay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events in the capture of each shape (default 1,000,000)")
    parser.add_argument("--shape", choices=(*SHAPES, "both"), default="both",
                        help="which shape of capture to measure (default: both)")
    parser.add_argument("--sdk-events", type=int, default=None,
                        help="measure the SDK on this many events only (default: all)")
    parser.add_argument("--skip-sdk", action="store_true", help="leave out the SDK measurement")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of the floor and replay measurements; the fastest counts (default 3)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the captures here (NAME-long.sse, NAME-seed.sse) and keep them")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.path, args.limit)))
        return 0

    sdk = not args.skip_sdk
    if sdk:
        import importlib.util

        if importlib.util.find_spec("openai") is None or importlib.util.find_spec("pydantic") is None:
            print("(b) left out: the openai package is not installed (pip install -e '.[test]')")
            sdk = False
    print(f"Python {sys.version.split()[0]}")
    shapes = list(SHAPES) if args.shape == "both" else [args.shape]
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as folder:
        for shape in shapes:
            ratios[shape] = bench_shape(shape, Path(folder), args, sdk)
    print("\ngrowth: peak RSS minus RSS before the loop (imports and schemas excluded)")
    for shape, ratio in ratios.items():
        print(f"replay vs floor, {shape} shape: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
