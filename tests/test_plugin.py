"""The pytest plugin as users run it: a real `pytest` process, outputs on disk, exit codes.

The end-to-end tests start pytest in a subprocess from a temporary folder (not this checkout),
so what is tested is the installed entry point: `pytest --target-url=...` from any folder. One
run per exit code: 0 (the embedded reference server), 1 (a broken target, from the folder of
another project) and 6 (a target that is down). What the
suite makes of other targets that cannot be tested is asserted in this process (the zoo has
the rest), and the key echoed everywhere end to end in test_zoo.
"""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from responses_conformance import cli
from responses_conformance import results as results_mod
from responses_conformance.plugin import EXIT_COULD_NOT_TEST, SUITE_MODULE
from responses_conformance.scenarios import load_all

from . import _targets

ROOT = Path(__file__).resolve().parents[1]


def run_pytest(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str, float]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENAI_"))}
    environment.update(env or {})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def results(cwd: Path) -> dict:
    return json.loads((cwd / "reports" / "results.json").read_text())


def test_suite_passes_against_the_embedded_reference_server(tmp_path: Path) -> None:
    code, output, _ = run_pytest(tmp_path, str(SUITE_MODULE))
    assert code == 0, output
    data = results(tmp_path)
    assert data["target"]["embedded"] is True
    assert data["summary"]["verdict"] == "conformant"
    assert {s["status"] for s in data["scenarios"]} == {"passed"}
    for scenario in data["scenarios"]:
        assert set(scenario) >= {"id", "status", "violations"}
    html = (tmp_path / "reports" / "report.html").read_text()
    assert "Responses API conformance report" in html
    assert "<script src=" not in html  # self-contained: works offline
    # Our columns (the rows are rendered from pytest-html's JSON blob) and the verdict on top.
    # Passing checks are folded into the counts: a conformant run lists no row, and says so.
    assert 'data-column-type="scenario">Scenario</th>' in html
    assert re.search(r"\d+ passing checks are counted here and not listed in the table below", html)
    assert "Verdict: conformant" in html
    assert "verdict: CONFORMANT" in output
    # The last line is the one-line summary CI logs show.
    assert output.strip().splitlines()[-1].startswith("responses-conformance: CONFORMANT - 0 MUST")
    junit = (tmp_path / "reports" / "junit.xml").read_text()
    # One JUnit case per item: each scenario with each check it judges.
    scenarios = load_all()
    assert junit.count("<testcase ") == sum(len(s.checks()) for s in scenarios)
    assert 'name="test_check[text-stream:sequence.increasing]"' in junit
    # Every check the scenarios judge was judged, and passed (the reference server is conformant):
    # the checks table lists each once, none as not tested (no check of the profile is left
    # without a default scenario), and the terminal and the report count them alike.
    covered = {c.id for s in scenarios for c in s.checks()}
    table = {c["id"]: c["status"] for c in data["checks"]}
    assert set(table) == covered and set(table.values()) == {"passed"}
    assert f"checks {len(table)} passed (results.json: checks)" in output
    assert f"Checks of the profile, each once: <strong>{len(table)}</strong> passed." in html
    assert "not tested by this run" not in html
    # Checks judged only in fuzz mode or only with --upstream-url were not tested by a run without
    # them: never listed as passed.
    assert not [c["id"] for c in data["checks"]
                if c["category"] == "fuzz" or c["id"].startswith("consistency.upstream_")]
    assert "<th>fuzz</th>" not in html and ":fuzz." not in junit and ":consistency.upstream_" not in junit


def test_an_item_its_scenario_ended_before_is_not_tested_never_passed() -> None:
    """tools-round-trip against a model that called no tool: the second step (the tool's output
    sent back) cannot be built, the scenario ends on its first step's finding. The items of what
    only the second step judges are skipped as not tested, as results.json lists them."""
    from responses_conformance.engine import registry
    from responses_conformance.engine.violations import Severity, Violation
    from responses_conformance.plugin import not_judged
    from responses_conformance.runner import ScenarioResult, StepResult
    from responses_conformance.scenarios import Case

    scenario = next(s for s in load_all() if s.id == "tools-round-trip")
    result = ScenarioResult(scenario=scenario, steps=[StepResult(step=scenario.steps[0])],
                            violations=[Violation("consistency.tool_called", Severity.MUST, "no function_call")])

    def why(check_id: str) -> str | None:
        return not_judged(Case(scenario, registry.get(check_id), Severity.MUST), result)

    assert why("consistency.tool_round_trip") == ("not tested: the scenario ended after step 1 of 2, before what "
                                                  "this check is judged on")
    assert why("sequence.increasing") is None and why("consistency.params_echoed") is None  # the first step's
    assert why("consistency.tool_called") is None  # its finding
    record = {"status": result.status, "steps_run": 1, "steps_total": 2}
    table = results_mod.check_statuses({"consistency.tool_round_trip": "must", "consistency.tool_called": "must"},
                                       [scenario.judgement(record)], ["consistency.tool_called"])
    assert table == {"consistency.tool_round_trip": "not tested", "consistency.tool_called": "failed"}


def test_a_target_that_is_down_is_could_not_test_said_once(tmp_path: Path) -> None:
    code, output, elapsed = run_pytest(tmp_path, f"--target-url={_targets.closed_port_url()}")
    assert code == EXIT_COULD_NOT_TEST
    assert "Traceback" not in output and "INTERNALERROR" not in output
    # The preflight request names the cause once, with its fix; no scenario is sent.
    assert output.count("cannot reach 127.0.0.1:") == 2  # the summary and the last line
    assert "is the server running" in output
    assert " failed" not in output.splitlines()[-2]
    data = results(tmp_path)
    assert {s["status"] for s in data["scenarios"]} == {"could not test"}
    assert data["summary"]["verdict"] == "could not test" and data["preflight"]["kind"] == "unreachable"
    # Nothing was judged: no check is listed as passed, each is not tested.
    assert data["checks"] and {c["status"] for c in data["checks"]} == {"not tested"}
    assert elapsed < 60


# The cause of a target that cannot be tested, said once, is the run's cause in results.json:
# the exit-6 run above shows it reaching the summary and the last line.
def test_a_hanging_target_ends_within_the_timeout(tmp_path: Path) -> None:
    with _targets.target(_targets.hang(30)) as url:
        run = _targets.run_suite_in_process(url, tmp_path / "reports", select="text-stream or error-no-key",
                                            limits=_targets.limits_of(["--timeout=1.5", "--idle-timeout=0.5"]))
    assert run.code == EXIT_COULD_NOT_TEST
    cause = run.results["summary"]["cause"]
    assert "got no answer" in cause and "--timeout" in cause
    assert not [s for s in run.ran() if "internal error" in (s.get("error") or "")]
    # One preflight request, bounded by its 0.5 s idle limit.
    assert run.elapsed < 20


def test_a_target_answering_an_html_page_is_not_an_api(tmp_path: Path) -> None:
    page = b"<html><body>502 Bad Gateway</body></html>"
    with _targets.target(_targets.respond("200 OK", "text/html", page)) as url:
        run = _targets.run_suite_in_process(url, tmp_path / "reports")
    assert run.code == EXIT_COULD_NOT_TEST, run.results["summary"]
    assert "HTML page: not a Responses API endpoint" in run.results["summary"]["cause"]
    data = results(tmp_path)
    assert not any(s["violations"] for s in data["scenarios"])
    assert data["preflight"]["kind"] == "not_an_api"


def test_checks_catalogue_is_up_to_date() -> None:
    assert (ROOT / "CHECKS.md").read_text() == cli.render_catalogue(), \
        "CHECKS.md is stale: run `responses-conformance checks --markdown > CHECKS.md`"


def test_engine_imports_neither_httpx_nor_pytest() -> None:
    code = ("import sys; import responses_conformance.engine.checker, responses_conformance.engine.exchange, "
            "responses_conformance.engine.schemas, responses_conformance.engine.websocket; "
            "bad = {'httpx', 'pytest', 'starlette', 'websockets'} & set(sys.modules); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("argv", [["checks"], ["checks", "--markdown"]])
def test_cli_prints_the_catalogue(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "sequence.increasing" in out and "error.envelope_shape" in out
