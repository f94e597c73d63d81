"""pytest-xdist (`pytest -n N`) against the embedded reference server, which each worker starts
for itself: the scenarios that keep state on it across requests pass on whichever worker runs
them. That each scenario is sent exactly once and the outputs are a serial run's is proven
against three targets at once (test_targets.py, under xdist).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_plugin import run_pytest

pytest.importorskip("xdist")


def test_n_workers_against_the_embedded_reference_server(tmp_path: Path) -> None:
    from responses_conformance.plugin import SUITE_MODULE

    # The scenarios that keep state on the embedded server across requests (stored responses,
    # background jobs, the streamed/non-streamed pair), on whichever worker.
    code, output, _ = run_pytest(tmp_path, str(SUITE_MODULE), "-n", "2", "-k", "state or background or text",
                                 "--results-json=out/r.json", timeout=240)
    assert code == 0, output[-3000:]
    # One results.json, written by the controller where --results-json asked.
    assert not (tmp_path / "reports" / "results.json").exists()
    results = json.loads((tmp_path / "out" / "r.json").read_text())
    assert results["summary"]["verdict"] == "conformant"
    statuses = [s["status"] for s in results["scenarios"]]
    assert set(statuses) == {"passed", "not selected"} and statuses.count("passed") >= 10, statuses
    assert output.strip().splitlines()[-1].startswith("responses-conformance: CONFORMANT")
