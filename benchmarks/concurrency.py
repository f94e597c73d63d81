"""Concurrency benchmark: the whole suite against a slow target, serial versus concurrent.

The reference server is started with a fixed delay before every answer (default 1 s), the
way a real model takes seconds per request. Each scenario is one request (a few have
several steps), so run serially the suite takes about (requests x delay); with
`--concurrency` the independent scenarios overlap.

    python benchmarks/concurrency.py [--delay 1.0] [--concurrency 8]

Prints the wall time of each run and their ratio. Both runs must reach the same verdicts.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.http import Limits
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer
from responses_conformance.runner import Runner, Target
from responses_conformance.scenarios import load_all


def run(server: ReferenceServer, concurrency: int, reports: Path) -> tuple[float, dict[str, str], int]:
    scenarios = load_all()
    runner = Runner(Target(server.base_url, server.api_key, DEFAULT_MODEL, embedded=True),
                    limits=Limits(timeout=60, idle_timeout=30), reports_dir=reports, schemas=SchemaSet.load(),
                    concurrency=concurrency)
    started = time.perf_counter()
    try:
        runner.prefetch(scenarios)
        verdicts = {s.id: runner.result(s).status for s in scenarios}
        requests = sum(len(runner.result(s).steps) for s in scenarios)
    finally:
        runner.close()
    return time.perf_counter() - started, verdicts, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the target waits before each answer")
    parser.add_argument("--concurrency", type=int, default=8, help="scenarios at once in the concurrent run")
    args = parser.parse_args()
    # Background responses stay queued and in progress long enough (2 delays a state) for the
    # delayed cancel request to find them still running, as a long generation would be.
    with ReferenceServer(request_delay=args.delay, background_step=2 * args.delay) as server, \
            tempfile.TemporaryDirectory() as tmp:
        serial, serial_verdicts, requests = run(server, 1, Path(tmp) / "serial")
        concurrent, concurrent_verdicts, _ = run(server, args.concurrency, Path(tmp) / "concurrent")
    assert serial_verdicts == concurrent_verdicts, "the verdicts differ between the two runs"
    passed = sum(1 for v in concurrent_verdicts.values() if v == "passed")
    print(f"scenarios: {len(concurrent_verdicts)} ({passed} passed), requests: {requests}, "
          f"delay per answer: {args.delay:g} s")
    print(f"serial     (--concurrency 1):  {serial:7.2f} s")
    print(f"concurrent (--concurrency {args.concurrency}):  {concurrent:7.2f} s")
    print(f"speed-up: {serial / concurrent:.1f}x")


if __name__ == "__main__":
    main()
