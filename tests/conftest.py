"""How `pytest tests` runs: on pytest-xdist workers, slowest files first; and what child
processes of tests share."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

# Our tests start about forty pytest processes of the suite. Where the environment forbids
# bytecode caches (PYTHONDONTWRITEBYTECODE, which some CI images set), each of them would compile
# and assertion-rewrite every module of the suite anew, about 0.35 s of CPU each: the first one
# writes the caches (__pycache__, which git ignores) and the others read them.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# What `pytest tests` runs on. Our budget is three minutes on a two-core machine; many tests wait
# on a server, a subprocess or a deadline, so a third worker fills time two would leave idle
# (measured in December 2026 with CI=true and no bytecode cache: 2 min 38 s on two workers;
# 2 min 15 s to 2 min 22 s on three).
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
