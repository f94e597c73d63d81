"""What the tap costs a client: added time to first byte, added latency per event, throughput.

    python benchmarks/tap_overhead.py            # about 3 minutes on 2 cores
    python benchmarks/tap_overhead.py --quick    # about a minute, rougher figures

Three processes on 127.0.0.1: an upstream, the tap (`responses-conformance tap`, as a user runs
it: transcripts on, every check), and this one, the client. The upstream replays a stream the
reference server sent (a text answer, every event valid, so the tap's engine does its full
work), and writes into each `response.output_text.delta` event, in place of its `obfuscation`
string, the moment it sends it (`time.perf_counter_ns()`: CLOCK_MONOTONIC, one clock for every
process of the machine). The client notes when each event arrives. Every measurement is taken
directly against the upstream and through the tap, interleaved, so both see the same machine
load:

* time to first byte: request sent to first body byte of a streamed answer, one request at a
  time (new requests on a kept-alive connection);
* latency per event: arrival minus sending of each delta, with the upstream pacing events 5 ms
  apart (the tap's cost per event, without queueing);
* throughput: one long stream sent as fast as the upstream can, events and MB per second.

The upstream is a minimal HTTP/1.1 server on asyncio streams (keep-alive, chunked), so that its
own cost is small and the same for both paths.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLACEHOLDER = b"T" * 20
STAMP = re.compile(rb'"obfuscation":\s*"(\d{20})"')
KEY = "sk-reference-local"


# -- the upstream (its own process) ------------------------------------------------------------------
async def _serve_upstream(templates: dict[str, list[bytes]], port_file: Path) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = json.loads(await reader.readexactly(length)) if length else {}
                events = templates[body.get("template", "small")]
                delay = float(body.get("delay", 0))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                             b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
                for event in events:
                    if delay:
                        await asyncio.sleep(delay)
                    if PLACEHOLDER in event:
                        event = event.replace(PLACEHOLDER, b"%020d" % time.perf_counter_ns())
                    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                    if delay or writer.transport.get_write_buffer_size() > 256 * 1024:
                        await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


def _upstream_main(template_file: str, port_file: str) -> None:
    data = json.loads(Path(template_file).read_text())
    templates = {name: [e.encode() for e in events] for name, events in data.items()}
    asyncio.run(_serve_upstream(templates, Path(port_file)))


# -- the stream it replays ---------------------------------------------------------------------------
def _template(repeat: int) -> list[str]:
    """A streamed text answer of the reference server, split into events, each delta stamped; its
    deltas repeated `repeat` times (numbers, texts and usage made to agree again, so that the
    stream stays valid and the tap's engine does its full work on it)."""
    import httpx

    from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer

    with ReferenceServer() as server:
        raw = httpx.post(server.base_url + "/responses", headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                         json={"model": DEFAULT_MODEL, "input": "Tell me about the weather in Paris today",
                               "stream": True}).content
    payloads = []
    for block in raw.split(b"\n\n"):
        if block.strip():
            payloads.append(json.loads(b"".join(line[5:].strip() for line in block.split(b"\n")
                                                if line.startswith(b"data:"))))
    deltas = [p for p in payloads if p["type"] == "response.output_text.delta"]
    first = payloads.index(deltas[0])
    last = payloads.index(deltas[-1])
    text = "".join(d["delta"] for d in deltas) * repeat
    body = payloads[:first] + [dict(d) for _ in range(repeat) for d in deltas] + payloads[last + 1:]
    extra = len(deltas) * (repeat - 1)

    def fix(value):  # the full text wherever the answer's text stands, the usage grown with it
        if isinstance(value, dict):
            out = {k: fix(v) for k, v in value.items()}
            if out.get("type") == "output_text" and "text" in out:
                out["text"] = text
            if "output_tokens" in out and "total_tokens" in out:
                out["output_tokens"] += extra
                out["total_tokens"] += extra
            return out
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    events = []
    for number, payload in enumerate(body):
        payload = fix(payload)
        payload["sequence_number"] = number
        if payload["type"] == "response.output_text.done":
            payload["text"] = text
        if payload["type"] == "response.output_text.delta":
            payload["obfuscation"] = PLACEHOLDER.decode()
        events.append(f"event: {payload['type']}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n")
    return events


# -- the client ------------------------------------------------------------------------------------------
def _stream(client, url: str, template: str, delay: float) -> tuple[float, list[int], int, int, float]:
    """One streamed request: (time to first byte s, per-delta latencies ns, events, bytes, total s)."""
    latencies: list[int] = []
    events = size = 0
    buffer = b""
    start = time.perf_counter()
    first = None
    with client.stream("POST", url, json={"model": "m", "input": "x", "stream": True, "template": template,
                                          "delay": delay}, headers={"Authorization": f"Bearer {KEY}"}) as response:
        for chunk in response.iter_raw():
            now = time.perf_counter_ns()
            if first is None:
                first = time.perf_counter() - start
            size += len(chunk)
            buffer += chunk
            *complete, buffer = buffer.split(b"\n\n")
            for event in complete:
                events += 1
                match = STAMP.search(event)
                if match:
                    latencies.append(now - int(match.group(1)))
    return first or 0.0, latencies, events, size, time.perf_counter() - start


def _start_tap(upstream: str, reports: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "responses_conformance.cli", "tap", "--upstream", upstream,
                                "--listen", "127.0.0.1:0", "--reports-dir", str(reports), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    banner = process.stdout.readline() if process.stdout else ""
    if "listening on " not in banner:
        process.kill()
        raise SystemExit(f"the tap did not start: {banner}{process.stderr.read() if process.stderr else ''}")
    return process, banner.split("listening on ", 1)[1].split(",", 1)[0]


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.3f} ms"


def main(argv: list[str] | None = None) -> int:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and a shorter stream: rougher figures")
    parser.add_argument("--upstream-role", nargs=2, metavar=("TEMPLATES", "PORTFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.upstream_role:
        _upstream_main(*args.upstream_role)
        return 0
    rounds_ttfb, rounds_event, rounds_throughput = (10, 2, 2) if args.quick else (40, 6, 5)
    work = Path(tempfile.mkdtemp(prefix="tap-overhead-"))
    print("building the streams from the reference server ...", flush=True)
    templates = {"small": _template(10), "big": _template(2000 if args.quick else 4000)}
    (work / "templates.json").write_text(json.dumps(templates))
    port_file = work / "port"
    upstream = subprocess.Popen([sys.executable, __file__, "--upstream-role", str(work / "templates.json"),
                                 str(port_file)])
    tap = None
    rss: list = []
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or upstream.poll() is not None:
                raise SystemExit("the upstream did not start")
            time.sleep(0.02)
        upstream_url = f"http://127.0.0.1:{port_file.read_text()}"
        tap, tap_url = _start_tap(upstream_url, work / "reports")
        paths = {"direct": upstream_url + "/v1/responses", "tap": tap_url + "/v1/responses"}
        figures: dict[str, dict[str, list]] = {p: {"ttfb": [], "latency": [], "rate": [], "mbs": []} for p in paths}
        with httpx.Client(timeout=120) as client:
            for url in paths.values():  # warm up both paths (connections, the tap's first schema use)
                _stream(client, url, "small", 0)
            rss = [_rss(tap.pid)]
            for _ in range(rounds_ttfb):
                for name, url in paths.items():
                    figures[name]["ttfb"].append(_stream(client, url, "small", 0)[0])
            for _ in range(rounds_event):
                for name, url in paths.items():
                    figures[name]["latency"] += _stream(client, url, "small", 0.005)[1]
            for _ in range(rounds_throughput):
                for name, url in paths.items():
                    _, _, events, size, seconds = _stream(client, url, "big", 0)
                    figures[name]["rate"].append(events / seconds)
                    figures[name]["mbs"].append(size / seconds / 1e6)
                rss.append(_rss(tap.pid))
    finally:
        for process in (tap, upstream):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
    verdict = tap.returncode if tap is not None else None
    d, t = figures["direct"], figures["tap"]
    big_events = len(templates["big"])
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; the tap with transcripts on "
          f"(its verdict on this traffic: exit {verdict})")
    print(f"streams: {len(templates['small'])} events for latency, {big_events} events "
          f"({sum(map(len, templates['big'])) / 1e6:.1f} MB) for throughput\n")
    print("| measurement | direct | through the tap | added |")
    print("| --- | ---: | ---: | ---: |")
    for label, key, q in (("time to first byte, median", "ttfb", 0.5), ("time to first byte, p90", "ttfb", 0.9)):
        a, b = _quantile(d[key], q) * 1e9, _quantile(t[key], q) * 1e9
        print(f"| {label} ({len(d[key])} requests) | {_ms(a)} | {_ms(b)} | {_ms(b - a)} |")
    for label, q in (("latency per event, median", 0.5), ("latency per event, p99", 0.99)):
        a, b = _quantile(d["latency"], q), _quantile(t["latency"], q)
        print(f"| {label} ({len(d['latency'])} events) | {_ms(a)} | {_ms(b)} | {_ms(b - a)} |")
    a, b = statistics.median(d["rate"]), statistics.median(t["rate"])
    print(f"| throughput, events/s (median of {len(d['rate'])}) | {a:,.0f} | {b:,.0f} | {b / a:.2f}x |")
    a, b = statistics.median(d["mbs"]), statistics.median(t["mbs"])
    print(f"| throughput, MB/s | {a:.1f} | {b:.1f} | {b / a:.2f}x |")
    if rss and None not in rss:
        print(f"\nthe tap's resident memory after the warm-up and after each throughput round: "
              f"{', '.join(f'{k / 1024:.1f}' for k in rss)} MiB")
    return 0


def _rss(pid: int) -> int | None:
    """A process's resident memory in KiB (Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    sys.exit(main())
