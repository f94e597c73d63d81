"""pytest-xdist (`pytest -n N`): each scenario is sent exactly once, by one worker, and the run
writes one results.json, one HTML report and one JUnit file with the content of a serial run's.

Real `pytest -n N` processes against a reference server in this process, which counts every
request it serves, run from the same folder as the serial run they are compared with
(conftest.faulty_target_run).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import FaultyTarget, PytestRun
from .test_plugin import run_pytest

pytest.importorskip("xdist")


def _comparable(results: dict) -> tuple:
    scenarios = [(s["id"], s["status"], sorted((v["check"], v["message"]) for v in s["violations"]))
                 for s in results["scenarios"]]
    summary = {k: v for k, v in results["summary"].items()}
    return scenarios, results["findings"], summary, results["features"]


def _outputs(run: PytestRun) -> tuple:
    return (run.code, run.requests, _comparable(run.results), run.junit.count("<testcase "),
            run.html.count('class="rc-finding'), run.output.strip().splitlines()[-1])


@pytest.mark.parametrize("workers", [3])
def test_n_workers_send_each_scenario_once_and_write_a_serial_runs_outputs(
        workers: int, faulty_target: FaultyTarget, faulty_target_run: PytestRun) -> None:
    serial = _outputs(faulty_target_run)
    assert serial[0] == 1 and sum(serial[1].values()) > 40
    code, requests, comparable, cases, blocks, last = _outputs(faulty_target.run("-n", str(workers)))
    assert code == serial[0], last
    assert requests == serial[1], (workers, requests - serial[1], serial[1] - requests)
    assert comparable == serial[2]
    assert cases == serial[3] and blocks == serial[4] > 0
    assert last.split(" - report:")[0] == serial[5].split(" - report:")[0]


def test_n_workers_against_the_embedded_reference_server(tmp_path: Path) -> None:
    from responses_conformance.plugin import SUITE_MODULE

    # The scenarios that keep state on the embedded server across requests (stored responses,
    # background jobs, the streamed/non-streamed pair), on whichever worker: the rest of the
    # suite under xdist is the test above.
    code, output, _ = run_pytest(tmp_path, str(SUITE_MODULE), "-n", "2", "-k", "state or background or text",
                                 timeout=240)
    assert code == 0, output[-3000:]
    results = json.loads((tmp_path / "reports" / "results.json").read_text())
    assert results["summary"]["verdict"] == "conformant"
    statuses = [s["status"] for s in results["scenarios"]]
    assert set(statuses) == {"passed", "not selected"} and statuses.count("passed") >= 10, statuses
    assert output.strip().splitlines()[-1].startswith("responses-conformance: CONFORMANT")
