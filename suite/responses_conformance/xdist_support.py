"""pytest-xdist (`pytest -n N`): every scenario sent exactly once, one set of outputs.

Without this, every worker would collect every item and send every scenario it has an item
of, so a target would get each request up to N times, and each worker would write its own
results.json over the others'. The design follows pytest-xdist's grain:

* The **controller** alone owns the target and the outputs: it starts the embedded reference
  server (when no --target-url is given), prepares the transcripts folder, sends the one
  preflight request, and hands the target and what the preflight learnt to each worker
  (`workerinput`). At the end it merges what the workers send back and computes results.json,
  the HTML report, JUnit and the verdict exactly as a serial run does (results.py).
* **Workers** run the items xdist gives them. The controller schedules by scenario (its own
  scheduler, whatever `--dist` says): all the items of a scenario, and of its streamed twin
  that `consistency.nonstream_matches_stream` compares it with, go to one worker, so a scenario
  is sent by one worker only. (xdist's `loadgroup` would say the same with `xdist_group`
  marks, but it renames node ids in a way pytest 9 no longer honours.) Each worker returns its
  scenarios' records (`workeroutput`), with the baseline entries it hit.

`-n` spreads the judging over processes; the requests of one worker still go one scenario at a
time. For a target that is slow to answer, the suite's own `--concurrency` (threads, default 8)
is usually the better knob: it overlaps the waiting without starting processes.
"""
from __future__ import annotations

from typing import Any

import pytest

from .preflight import preflights

KEY = "responses_conformance"


def role(config: pytest.Config) -> str:
    """`worker`, `controller` (xdist distributes this run), or `solo`."""
    if hasattr(config, "workerinput"):
        return "worker"
    try:
        distributed = config.getoption("dist") != "no" and bool(config.getoption("tx"))
    except ValueError:  # pytest-xdist is not installed
        return "solo"
    return "controller" if distributed else "solo"


def configure(config: pytest.Config, session: Any) -> None:
    session.role = role(config)
    if session.role == "controller":
        config.pluginmanager.register(Controller(session), "responses-conformance-xdist")
    elif session.role == "worker":
        handed = (config.workerinput.get(KEY) or {}).get("targets") or {}
        for name, run in session.runs.items():
            run.worker_input = handed.get(name)


def _scheduler(config: pytest.Config, log: Any, scenarios: list[Any], several: bool) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    # The unit of scheduling of a scenario's items: the scenario, with its streamed twin.
    twins = {s.id: s.compare_shape_with for s in scenarios if s.compare_shape_with}

    def group_of(scenario_id: str) -> str:
        return twins.get(scenario_id, scenario_id)

    class ScenarioScheduling(LoadScopeScheduling):
        """Whole scenarios to workers: the scope of `...::test_check[<scenario>:<check>]` is
        the scenario's group (of one target: `[<target>:<scenario>:<check>]` with several);
        any other item is its own scope."""

        def _split_scope(self, nodeid: str) -> str:
            name = nodeid.rsplit("::", 1)[-1]
            if name.startswith("test_check[") and ":" in name:
                parts = name[len("test_check["):].split(":")
                if several and len(parts) >= 3:
                    return f"scenario {parts[0]}/{group_of(parts[1])}"
                return "scenario " + group_of(parts[0])
            return nodeid

    return ScenarioScheduling(config, log)


def preflight_fields(found: Any) -> dict[str, Any]:
    return {"kind": found.kind, "cause": found.cause, "status": found.status,
            "auth_enforced": found.auth_enforced, "echoed_model": found.echoed_model,
            "elapsed": found.elapsed, "exchanges": found.exchanges}


def worker_output(session: Any) -> dict[str, Any]:
    """What a worker sends back, per target: its scenarios' records (JSON), the baseline
    entries it hit, and the scenarios its items used."""
    return {"targets": {name: {"records": run.scenario_records(), "baseline_hits": sorted(run.baseline_hits),
                               "selected": sorted(run.selected)} for name, run in session.runs.items()}}


class Controller:
    """The controller's side: the target and the preflight out to the workers, records back."""

    def __init__(self, session: Any) -> None:
        self.session = session
        for run in session.runs.values():
            run.worker_records = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        return _scheduler(config, log, self.session.scenarios, self.session.several)

    def pytest_configure_node(self, node: Any) -> None:
        # The first node starts the targets and sends their preflights (together); later nodes
        # get what they learnt.
        found = preflights(list(self.session.runs.values()))
        handed = {}
        for name, run in self.session.runs.items():
            target = run.target
            handed[name] = {"base_url": target.base_url, "api_key": target.api_key, "model": target.model,
                            "embedded": target.embedded, "upstream_url": target.upstream_url,
                            "preflight": preflight_fields(found[name])}
        node.workerinput[KEY] = {"targets": handed}

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = (getattr(node, "workeroutput", None) or {}).get(KEY)
        if not out:
            return
        for name, sent in out["targets"].items():
            run = self.session.runs[name]
            run.worker_records.update(sent["records"])
            run.baseline_hits.update(sent["baseline_hits"])
            run.selected.update(sent["selected"])
