"""Fixtures shared by several test modules, and how `pytest tests` runs them."""
from __future__ import annotations

import json
import os
import shutil
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# What `pytest tests` runs on. Our budget is three minutes on a two-core machine; many tests wait
# on a server, a subprocess or a deadline, so a third worker fills time two would leave idle
# (measured: 3 min 11 s on two workers; 2 min 27 s to 2 min 53 s on three in a checkout, 3 min 7 s and
# 3 min 11 s as .ci/run's second step in a fresh clone, on a shared machine).
WORKERS = 3


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads -n
def pytest_cmdline_main(config: pytest.Config) -> None:
    """`pytest tests` (the whole folder) runs on WORKERS pytest-xdist workers, a test file per
    worker at a time (`--dist loadfile`: a module's fixtures are made once). A file, a test, an
    explicit `-n` (`-n 0`: one process), `-p no:xdist` or a debugger run as asked."""
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist"):
        return
    if config.option.numprocesses is not None or config.option.dist != "no" or config.getoption("usepdb"):
        return
    here = Path(__file__).resolve().parent
    if [(config.invocation_params.dir / arg).resolve() for arg in config.args] != [here]:
        return
    config.option.numprocesses = WORKERS
    config.option.dist = "loadfile"
    # pytest-xdist hands out the files with the most tests first; ours with the fewest tests
    # (whole runs, servers, deadlines) are the slowest. They go first instead (LONGEST_FIRST),
    # so that no worker is left alone with a slow file at the end.
    config.option.loadscopereorder = False
    # Every worker must collect the same tests in the same order: the same string hashes (a set
    # of parameters is then ordered alike), whatever this process's were.
    os.environ.setdefault("PYTHONHASHSEED", "0")


# The files that take longest on one worker (measured with --durations=0), slowest first: the
# workers start on them, and the many quick files fill in around them.
LONGEST_FIRST = ("test_zoo.py", "test_xdist.py", "test_fuzz.py", "test_verdicts.py", "test_tap.py",
                 "test_engine_equivalence.py", "test_scenarios.py", "test_baseline.py", "test_browser.py",
                 "test_replay.py", "test_targets.py", "test_end_to_end.py", "test_plugin.py", "test_http.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist loadfile` (`pytest tests`), the slow files come first (LONGEST_FIRST); the
    order of the tests within a file is kept. Every worker orders alike: it is data, not timing."""
    if getattr(config.option, "dist", "no") != "loadfile":
        return
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files keep their order


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A gzip member's modification time (bytes 4-7 of its header) is when the test module was
    imported: it is left out of the test's id, so that two workers importing it a second apart
    name the test alike (pytest-xdist refuses to run otherwise)."""
    if isinstance(val, bytes) and val[:2] == b"\x1f\x8b" and len(val) >= 8:
        from _pytest.compat import ascii_escaped

        return ascii_escaped(val[:4] + b"\0\0\0\0" + val[8:])
    return None


def interruptible() -> None:
    """`preexec_fn` of a child process that a test stops with SIGINT (Ctrl-C). A shell that starts
    a command in the background (`pytest tests &`, a CI step in a subshell) starts it with SIGINT
    ignored, and a child inherits that: Python then installs no KeyboardInterrupt handler, and
    the child never sees the test's Ctrl-C. The child gets the default back, as a terminal's
    foreground process has it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class PytestRun:
    """What one `pytest --target-url` process said and wrote, read as soon as it ended."""

    code: int
    output: str
    cwd: Path
    requests: Counter[str]  # what the reference server served during the run, "METHOD /path"
    results: dict[str, Any]  # out/r.json (--results-json)
    junit: str
    html: str


class FaultyTarget:
    """A reference server with `usage_total_wrong` (every finished response breaks one MUST
    rule), and the folder of another project that the suite is run from against it.

    Its background responses finish as they are accepted (`background_step=0`): how many
    times a run polls, and whether its cancel needs a second look, then depend on nothing but
    the scenarios. With time in it (0.4 s per state by default), a loaded machine turned one
    poll or one cancel late and the request counts of two runs differed by one."""

    ARGS = ("--model=ref-model-1", "--results-json=out/r.json")

    def __init__(self, server: Any, cwd: Path) -> None:
        self.server = server
        self.cwd = cwd
        (cwd / "test_unrelated.py").write_text("def test_unrelated():\n    assert False\n")

    def run(self, *args: str) -> PytestRun:
        """`pytest --target-url=... *ARGS *args` from the folder, with nothing left of an earlier run."""
        from .test_plugin import run_pytest

        for output in ("reports", "out"):
            shutil.rmtree(self.cwd / output, ignore_errors=True)
        self.server.requests.clear()
        code, output, _ = run_pytest(self.cwd, f"--target-url={self.server.base_url}", *self.ARGS, *args,
                                     env={"OPENAI_API_KEY": self.server.api_key}, timeout=240)
        read = (lambda path: (self.cwd / path).read_text() if (self.cwd / path).is_file() else "")  # noqa: E731
        results = json.loads(read("out/r.json") or "null")
        return PytestRun(code, output, self.cwd, Counter(self.server.requests), results,
                         read("reports/junit.xml"), read("reports/report.html"))


@pytest.fixture(scope="module")
def faulty_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyTarget]:
    """The same server and folder for every run of a module: the runs compared with each
    other (test_xdist) name the same URL in their reproduce commands and the same transcripts."""
    from responses_conformance.reference import ReferenceServer

    cwd = tmp_path_factory.mktemp("faulty") / "project"
    cwd.mkdir()
    with ReferenceServer(faults=frozenset({"usage_total_wrong"}), background_step=0) as server:
        yield FaultyTarget(server, cwd)


@pytest.fixture(scope="module")
def faulty_target_run(faulty_target: FaultyTarget) -> PytestRun:
    """The serial run of the broken target, which test_xdist's `pytest -n N` runs must match."""
    return faulty_target.run()
