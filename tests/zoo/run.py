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
    max_rss: int  # peak resident memory of the pytest process, bytes
    results: dict[str, Any] | None = None
    transcripts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def scenario(self, scenario_id: str) -> dict[str, Any]:
        assert self.results is not None, self.output[-3000:]
        return next(s for s in self.results["scenarios"] if s["id"] == scenario_id)

    def ran(self) -> list[dict[str, Any]]:
        """The scenarios that were run (not skipped or deselected)."""
        assert self.results is not None, self.output[-3000:]
        return [s for s in self.results["scenarios"] if s["status"] != "skipped"]

    def checks(self, scenario_id: str | None = None) -> set[str]:
        return {v["check"] for s in self.ran() if scenario_id in (None, s["id"]) for v in s["violations"]}

    def output_files(self) -> list[Path]:
        return [p for p in (self.cwd / "reports").rglob("*") if p.is_file()] + \
               [p for p in self.cwd.glob("*.xml") if p.is_file()]


def run_suite(target_url: str, *args: str, env: dict[str, str] | None = None, timeout: float = 90,
              cwd: Path | None = None, memory_limit: int | None = None) -> SuiteRun:
    """`python -m pytest --target-url=URL *args` in `cwd` (a new temporary folder by default).

    `memory_limit` (bytes) caps the child's address space (RLIMIT_AS), so a run that tried to
    hold a flood in memory would die instead of swapping. Peak RSS comes from wait4().
    """
    cwd = Path(cwd or tempfile.mkdtemp(prefix="zoo-"))
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PYTEST_", "OPENAI_")) and k.lower() not in _PROXY_VARS}
    environment.update(env or {})
    launcher = ["-m", "pytest"]
    if memory_limit is not None:
        # The child limits itself before pytest starts (no preexec_fn: this process has threads).
        environment["MALLOC_ARENA_MAX"] = "2"  # glibc reserves address space per thread otherwise
        launcher = ["-c", "import resource, runpy, sys; "
                          f"resource.setrlimit(resource.RLIMIT_AS, ({memory_limit}, {memory_limit})); "
                          "sys.argv[0] = 'pytest'; runpy.run_module('pytest', run_name='__main__', alter_sys=True)"]
    argv = (sys.executable, *launcher, "-p", "no:cacheprovider", f"--target-url={target_url}", *args)

    out_path, err_path = cwd / ".stdout", cwd / ".stderr"
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=environment, stdout=out, stderr=err)
        status, rusage = _wait(proc, timeout)
    elapsed = time.monotonic() - started
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    run = SuiteRun(cwd=cwd, args=args, code=status, stdout=stdout, stderr=stderr, elapsed=elapsed,
                   max_rss=rusage.ru_maxrss * (1 if sys.platform == "darwin" else 1024))
    results = cwd / "reports" / "results.json"
    if results.is_file():
        run.results = json.loads(results.read_text())
    for path in sorted((cwd / "reports" / "transcripts").glob("*.json")):
        run.transcripts[path.stem] = json.loads(path.read_text())
    return run


_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy"}


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int, Any]:
    """Reap the child with wait4 (its own rusage, not the sum of all children); kill it at
    `timeout` (it is ours: killed by its pid only)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, rusage
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise AssertionError(f"the suite did not end within {timeout} s (killed)")
        time.sleep(0.02)
