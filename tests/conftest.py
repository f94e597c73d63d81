"""Fixtures shared by several test modules, and how `pytest tests` runs them."""
from __future__ import annotations

import json
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
    rule), and the folder of another project that the suite is run from against it."""

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


@pytest.fixture(scope="session")
def faulty_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyTarget]:
    """The same server and folder for every run of the session: the runs compared with each
    other (test_xdist) name the same URL in their reproduce commands and the same transcripts."""
    from responses_conformance.reference import ReferenceServer

    cwd = tmp_path_factory.mktemp("faulty") / "project"
    cwd.mkdir()
    with ReferenceServer(faults=frozenset({"usage_total_wrong"})) as server:
        yield FaultyTarget(server, cwd)


@pytest.fixture(scope="session")
def faulty_target_run(faulty_target: FaultyTarget) -> PytestRun:
    """The serial run of the broken target: test_plugin's exit-1 run from a folder of another
    project, and the run that test_xdist's `pytest -n N` runs must match. Once per session."""
    return faulty_target.run()
