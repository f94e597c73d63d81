"""Runs the conformance suite as users do (`pytest --target-url=...` in a fresh folder) and
collects everything it wrote: exit code, output, results.json, transcripts, JUnit XML, wall
time and the child's peak memory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Small limits: the zoo is about ending in time, not about waiting for it.
SMALL_LIMITS = ("--timeout=3", "--idle-timeout=1", "--max-bytes=1000000")


@dataclass
class SuiteRun:
    cwd: Path
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    elapsed: float  # wall time of the whole pytest process, start-up included
    max_rss: int  # peak resident memory of the pytest process, bytes (0: not measured)
    results: dict[str, Any] | None = None
    transcripts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def scenario(self, scenario_id: str) -> dict[str, Any]:
        assert self.results is not None, self.output[-3000:]
        return next(s for s in self.results["scenarios"] if s["id"] == scenario_id)

    def ran(self) -> list[dict[str, Any]]:
        """The scenarios that were run: not deselected (a scenario refused as unsupported was sent)."""
        assert self.results is not None, self.output[-3000:]
        return [s for s in self.results["scenarios"] if s["status"] != "not selected"]

    def checks(self, scenario_id: str | None = None) -> set[str]:
        return {v["check"] for s in self.ran() if scenario_id in (None, s["id"]) for v in s["violations"]}

    def output_files(self) -> list[Path]:
        return [p for p in (self.cwd / "reports").rglob("*") if p.is_file()] + \
               [p for p in self.cwd.glob("*.xml") if p.is_file()]


# The child measures itself: its peak resident memory from /proc/self/status (VmHWM) at exit.
# Not wait4()'s ru_maxrss: on Linux that also counts the memory of this (forking) process.
_LAUNCHER = """
import os, resource, runpy, sys
limit = os.environ.pop("ZOO_MEMORY_LIMIT", "")
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
report = os.environ.pop("ZOO_PEAK_FILE")
sys.argv[0] = "pytest"
try:
    runpy.run_module("pytest", run_name="__main__", alter_sys=True)
finally:
    peak = 0
    try:
        with open("/proc/self/status") as status:
            peak = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    with open(report, "w") as out:
        out.write(str(peak))
"""


def run_suite(target_url: str, *args: str, env: dict[str, str] | None = None, timeout: float = 90,
              cwd: Path | None = None, memory_limit: int | None = None) -> SuiteRun:
    """`pytest --target-url=URL *args` in `cwd` (a new temporary folder by default).

    `memory_limit` (bytes) caps the child's address space (RLIMIT_AS), so a run that tried to
    hold a flood in memory would die instead of swapping.
    """
    cwd = Path(cwd or tempfile.mkdtemp(prefix="zoo-"))
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PYTEST_", "OPENAI_")) and k.lower() not in _PROXY_VARS}
    environment.update(env or {})
    peak_file = cwd / ".peak"
    environment["ZOO_PEAK_FILE"] = str(peak_file)
    if memory_limit is not None:
        environment["ZOO_MEMORY_LIMIT"] = str(memory_limit)
        environment["MALLOC_ARENA_MAX"] = "2"  # glibc reserves address space per thread otherwise
    argv = (sys.executable, "-c", _LAUNCHER, "-p", "no:cacheprovider", f"--target-url={target_url}", *args)
    out_path, err_path = cwd / ".stdout", cwd / ".stderr"
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=environment, stdout=out, stderr=err)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()  # ours: killed by its own handle, nothing else
            proc.wait()
            raise AssertionError(f"the suite did not end within {timeout} s (killed)") from None
    elapsed = time.monotonic() - started
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    peak = int(peak_file.read_text() or 0) if peak_file.is_file() else 0
    for path in (out_path, err_path, peak_file):
        path.unlink(missing_ok=True)
    run = SuiteRun(cwd=cwd, args=args, code=code, stdout=stdout, stderr=stderr, elapsed=elapsed, max_rss=peak)
    results = cwd / "reports" / "results.json"
    if results.is_file():
        run.results = json.loads(results.read_text())
    for path in sorted((cwd / "reports" / "transcripts").glob("*.json")):
        run.transcripts[path.stem] = json.loads(path.read_text())
    return run


_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy"}


# The suite run in a process of its own through the library (tests/_targets.run_suite_in_process),
# under a memory cap, measuring its peak: what a flood costs, without pytest's start-up.
_CHILD = """
import json, os, resource, sys
from pathlib import Path
limit = os.environ.pop("ZOO_MEMORY_LIMIT", "")
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
job = json.loads(sys.argv[1])
sys.path.insert(0, job["root"])
from tests._targets import limits_of, run_suite_in_process
run_suite_in_process(job["url"], Path(job["reports"]), select=job["select"], limits=limits_of(job["args"]))
with open("/proc/self/status") as status:
    print("peak", next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:")))
"""


def run_in_child(target_url: str, reports: Path, *, select: str, args: tuple[str, ...], memory_limit: int,
                 timeout: float = 90) -> tuple[Any, str]:
    """`run_suite_in_process` in a child process whose address space is capped at `memory_limit`
    bytes: its results (with the child's peak resident memory, and its wall time start-up
    included) and what it printed."""
    from tests._targets import SuiteResults

    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PYTEST_", "OPENAI_")) and k.lower() not in _PROXY_VARS}
    environment["ZOO_MEMORY_LIMIT"] = str(memory_limit)
    environment["MALLOC_ARENA_MAX"] = "2"  # glibc reserves address space per thread otherwise
    job = {"root": str(Path(__file__).resolve().parents[2]), "url": target_url, "reports": str(reports),
           "select": select, "args": list(args)}
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)], cwd=reports.parent, env=environment,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the suite did not end within {timeout} s (killed)") from None
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    peak = int(proc.stdout.split("peak ")[-1].split()[0])
    return SuiteResults.read(reports, time.monotonic() - started, max_rss=peak), output
