"""Fixtures shared by several test modules, and how `pytest tests` runs them."""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

WORKERS = 2  # what `pytest tests` runs on: our budget is three minutes on a two-core machine


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
    # Every worker must collect the same tests in the same order: the same string hashes (a set
    # of parameters is then ordered alike), whatever this process's were.
    os.environ.setdefault("PYTHONHASHSEED", "0")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A gzip member's modification time (bytes 4-7 of its header) is when the test module was
    imported: it is left out of the test's id, so that two workers importing it a second apart
    name the test alike (pytest-xdist refuses to run otherwise)."""
    if isinstance(val, bytes) and val[:2] == b"\x1f\x8b" and len(val) >= 8:
        from _pytest.compat import ascii_escaped

        return ascii_escaped(val[:4] + b"\0\0\0\0" + val[8:])
    return None


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
