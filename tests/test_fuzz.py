"""Fuzz mode (issue 20): generated requests, judged through the engine, findings shrunk.

Proof that it works on the reference server: the clean server gets through 200 requests in
well under a minute with no finding (the time is printed), and each fuzz-only fault (a fault no
fixed scenario triggers) is found within the default budget and shrunk to a request with at
most the one parameter that matters.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hypothesis")
pytest.importorskip("hypothesis_jsonschema")

from jsonschema import Draft202012Validator  # noqa: E402

from responses_conformance import cli, fuzz, fuzz_strategies  # noqa: E402
from responses_conformance.engine.schemas import SchemaSet  # noqa: E402
from responses_conformance.http import Limits  # noqa: E402
from responses_conformance.redact import Redactor  # noqa: E402
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer  # noqa: E402
from responses_conformance.reference.app import FAULTS, FUZZ_FAULTS  # noqa: E402
from responses_conformance.results import Status  # noqa: E402
from responses_conformance.runner import Runner, Target  # noqa: E402
from responses_conformance.scenarios import load_all  # noqa: E402

REQUIRED = {"model", "input"}


def _target(server: ReferenceServer, profile: str = "openai") -> fuzz.FuzzTarget:
    key = server.api_key
    return fuzz.FuzzTarget(server.base_url, DEFAULT_MODEL, lambda choice: (key, {}),
                           Limits(timeout=10, idle_timeout=5), Redactor([key]), schemas=SchemaSet.load(profile=profile),
                           profile=profile, deterministic=True)


def _schema_for(model: str) -> dict[str, Any]:
    schema = fuzz_strategies.load_schema()
    schema["properties"]["model"] = {"const": model}
    return schema


# -- the request schema and the generators ---------------------------------------------------
def test_request_schema_is_ours_and_generator_friendly():
    schema = fuzz_strategies.load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://responses-conformance.invalid/schemas/requests/create-response.json"
    text = json.dumps(schema)
    # References only into its own $defs, and none of them recursive.
    for name, node in schema["$defs"].items():
        assert f'"#/$defs/{name}"' not in json.dumps(node), f"$defs/{name} refers to itself"
    assert '"$ref": "http' not in text


def test_same_seed_same_requests_and_another_seed_others():
    first = fuzz.generate(DEFAULT_MODEL, fuzz.FuzzConfig(cases=60, seed=11))
    again = fuzz.generate(DEFAULT_MODEL, fuzz.FuzzConfig(cases=60, seed=11))
    other = fuzz.generate(DEFAULT_MODEL, fuzz.FuzzConfig(cases=60, seed=12))
    assert [c.key for c in first] == [c.key for c in again]
    assert [c.key for c in first] != [c.key for c in other]
    assert len(first) == 60


def test_constants_of_local_modules_are_never_drawn(monkeypatch: pytest.MonkeyPatch):
    """Hypothesis mixes in constants from the source of "local" modules (ours among them: the
    reference server's key, its model's triggers); which ones depends on the folder and the
    imports, so fuzz mode leaves them out: the same seed gives the same requests anywhere."""
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    before = [c.key for c in fuzz.generate(DEFAULT_MODEL, fuzz.FuzzConfig(cases=120, seed=5))]
    planted = Constants(strings={f"planted constant {i}" for i in range(50)}, integers={4242})
    monkeypatch.setattr(providers, "_get_local_constants", lambda: planted)  # another folder, other imports
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        after = [c.key for c in fuzz.generate(DEFAULT_MODEL, fuzz.FuzzConfig(cases=120, seed=5))]
    finally:
        providers.CONSTANTS_CACHE.cache.clear()
    assert before == after
    assert "planted constant" not in " ".join(after)


def test_half_valid_half_invalid_and_every_kind_of_breakage_in_a_short_run():
    shares = fuzz_strategies.allocate(200)
    assert sum(n for _, n in shares) == 200
    assert sum(n for slot, n in shares if slot.family == "invalid") == 100
    assert {slot.family for slot, _ in shares} == {"invalid", "stream", "response"}
    assert all(n >= 2 for slot, n in shares if slot.family == "invalid")  # every slot, twice at 200
    kinds = {slot.name.split("/")[1] for slot, _ in fuzz_strategies.allocate(16) if slot.family == "invalid"}
    assert kinds == {"wrong_type", "unknown_enum", "out_of_range", "malformed_tool", "malformed_input_item",
                     "missing_required", "unknown_parameter"}


def test_valid_bodies_fit_the_schema_and_invalid_ones_break_it():
    schema = _schema_for(DEFAULT_MODEL)
    schema["properties"]["input"]["anyOf"][1]["maxItems"] += 1  # the repair may add half of a call pair
    validator = Draft202012Validator(schema)
    cases = fuzz.generate(DEFAULT_MODEL, fuzz.FuzzConfig(cases=120, seed=3))
    for case in cases:
        body = {k: v for k, v in case.body.items() if not (k == "stream" and v is True)}  # stream: the family
        errors = list(validator.iter_errors(body))
        if case.family == "invalid":
            assert errors, f"{case.mutation.describe()}: {body}"
        else:
            assert not errors, f"{body}: {errors[0].message}"
            assert case.body.get("stream") is (True if case.family == "stream" else None)


# -- against the reference server ------------------------------------------------------------
@pytest.mark.parametrize("profile", ["openai", "openresponses", "openai-strict"])
def test_clean_reference_server_200_requests_in_under_a_minute_without_a_finding(profile: str):
    with ReferenceServer(flavour=profile) as server:
        started = time.monotonic()
        result = fuzz.run(_target(server, profile), fuzz.FuzzConfig(cases=200, seed=20, concurrency=4))
        elapsed = time.monotonic() - started
    print(f"\nfuzz --fuzz=200 against the clean reference server ({profile}): {elapsed:.1f} s "
          f"(generation {result.generation_seconds:.1f} s), {result.counts()}")
    assert not result.findings, "\n".join(result.lines())
    assert elapsed < 60
    assert result.status is Status.PASSED
    assert result.stopped is None and result.budget_hit is None
    counts = result.counts()
    assert counts["invalid"].get("refused", 0) >= 95
    assert counts["valid"].get("served", 0) >= 90


# fault -> (the check that says it, the slot it comes from, the one parameter that matters)
FUZZ_FAULT_FINDINGS = {
    "fuzz_temperature_500": ("error.status_fits", "invalid/out_of_range/temperature", "temperature"),
    "fuzz_truncation_accepted": ("fuzz.invalid_refused", "invalid/unknown_enum/truncation", "truncation"),
    "fuzz_truncation_auto_fails": ("fuzz.valid_completes", "valid/stream", "truncation"),
}


def test_every_fuzz_fault_has_a_proof():
    assert set(FUZZ_FAULT_FINDINGS) == FUZZ_FAULTS
    assert not FUZZ_FAULTS & FAULTS


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("fault", sorted(FUZZ_FAULT_FINDINGS))
def test_fuzz_fault_is_found_within_the_default_budget_and_shrunk_to_its_parameter(fault: str, seed: int):
    check, slot, param = FUZZ_FAULT_FINDINGS[fault]
    with ReferenceServer(faults={fault}) as server:
        result = fuzz.run(_target(server), fuzz.FuzzConfig(cases=fuzz.DEFAULT_CASES, seed=seed, concurrency=4))
    assert result.elapsed < fuzz.DEFAULT_BUDGET
    assert [(f.check, f.slot) for f in result.findings] == [(check, slot)], "\n".join(result.lines())
    finding = result.findings[0]
    assert finding.shrunk, finding.shrink_note
    body = finding.example.case.body
    assert set(body) - REQUIRED - {"stream"} == {param}, body
    assert finding.example.curl and "$OPENAI_API_KEY" in finding.example.curl
    assert server.api_key not in finding.example.curl
    severity = "should" if check == "fuzz.invalid_refused" else "must"
    assert finding.severity.value == severity
    assert result.status is (Status.WARNED if severity == "should" else Status.FAILED)


def test_the_fuzz_faults_are_invisible_to_the_scenarios(tmp_path: Path):
    """What makes them fuzz-only: every scenario passes against a server with all three."""
    with ReferenceServer(faults=FUZZ_FAULTS) as server:
        runner = Runner(Target(server.base_url, server.api_key, DEFAULT_MODEL, embedded=True),
                        limits=Limits(timeout=10, idle_timeout=5), reports_dir=tmp_path, schemas=SchemaSet.load())
        try:
            runner.prefetch(load_all())
            broken = {(s.id, v.check) for s in load_all() for v in runner.result(s).violations}
        finally:
            runner.close()
    assert not broken


def test_the_budget_stops_sending_and_says_so():
    with ReferenceServer(request_delay=0.1) as server:
        result = fuzz.run(_target(server), fuzz.FuzzConfig(cases=200, seed=4, concurrency=2, budget=4.0))
    assert result.not_sent > 0
    assert result.budget_hit and "not sent" in result.budget_hit
    assert result.elapsed < 4.0 + 10  # the budget, and at most one request's time limit after it
    # What was sent was judged (a loaded machine may spend the whole budget generating).
    assert result.status is (Status.PASSED if result.judged else Status.COULD_NOT_TEST)


def test_a_hang_is_a_must_finding():
    """No answer within the time limit to a broken request: fuzz.answered. A valid request that
    runs past the limit could not be tested (a slow model is no hang)."""
    with ReferenceServer(request_delay=0.6) as server:
        target = _target(server)
        target.limits = Limits(timeout=0.3, idle_timeout=0.3)
        result = fuzz.run(target, fuzz.FuzzConfig(cases=2, seed=1, concurrency=2, budget=30))
    assert result.findings and {f.check for f in result.findings} == {"fuzz.answered"}
    assert {f.severity.value for f in result.findings} == {"must"}
    assert result.status is Status.FAILED
    assert "total deadline" in result.findings[0].message
    assert {f.slot.split("/")[0] for f in result.findings} == {"invalid"}
    assert result.counts()["valid"] == {"could not test": 1}


# -- judged through the registry ----------------------------------------------------------------
def test_fuzz_rules_are_checks_of_the_registry_stamped_by_the_profile():
    """fuzz.* are declared where they are judged (engine/fuzzing.py): the catalogue has them,
    and their findings get their severity from the profile's stamper, as every check's do."""
    from responses_conformance.engine import fuzzing, registry
    from responses_conformance.engine.checker import stamp

    fuzz_checks = [c for c in registry.CHECKS if c.category == "fuzz"]
    assert [c.id for c in fuzz_checks] == ["fuzz.answered", "fuzz.invalid_refused", "fuzz.valid_completes"]
    assert all(c.applies == registry.FUZZ and c.module.endswith(".engine.fuzzing") for c in fuzz_checks)
    for profile in ("openai", "openai-strict", "openresponses"):
        found = stamp(fuzzing.invalid_refused(200, both_refuse=True, broken="unknown enum: truncation = \"x\""),
                      profile)
        assert [(v.check, v.severity.value) for v in found] == [("fuzz.invalid_refused", "should")]
    # The check filter applies too: a run that leaves a check out never reports it.
    assert stamp(fuzzing.answered("idle", None, None, invalid=True), "openai", enabled=()) == []


def test_causes_are_per_slot_for_checks_declared_request_caused():
    from responses_conformance.engine import registry
    from responses_conformance.engine.violations import Severity, Violation
    from responses_conformance.fuzz_strategies import Case, Mutation

    case = Case("invalid", {"model": "m", "input": "0", "temperature": 3.0},
                Mutation("out_of_range", "temperature", 3.0, True))
    assert registry.get("error.status_fits").request_caused and not registry.get("error.param_named").request_caused
    judged = fuzz.Judged(case, "finding", violations=[
        Violation("error.status_fits", Severity.MUST, "HTTP 500, expected 400"),
        Violation("error.param_named", Severity.SHOULD, "error.param is null", "$.error.param")])
    assert list(judged.causes()) == ["invalid/out_of_range/temperature:error.status_fits",
                                     "invalid:error.param_named:$.error.param"]


def test_valid_requests_are_held_to_the_assertions_declared_any_request():
    from responses_conformance.engine import registry

    assert set(registry.ANY_REQUEST_ASSERTIONS) == {
        "consistency.params_echoed", "consistency.output_limit_enforced", "consistency.structured_output_strict",
        "consistency.structured_output_valid"}
    assert all("scenario" in registry.get(c).applies for c in registry.ANY_REQUEST_ASSERTIONS)


# -- the pytest option and the command ---------------------------------------------------------
def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240, env=env)


def test_pytest_fuzz_option_reports_findings_in_results_json_and_the_verdict(tmp_path: Path):
    with ReferenceServer(faults={"fuzz_temperature_500"}) as server:
        done = _pytest([str(Path(fuzz.__file__).with_name("test_conformance.py")), f"--target-url={server.base_url}",
                        f"--api-key={server.api_key}", f"--model={DEFAULT_MODEL}", "--fuzz=40", "--fuzz-seed=7",
                        "--fuzz-only", "--reports-dir=out", "-q"], tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "--fuzz-seed=7" in output and "minimal request" in output
    assert server.api_key not in output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    block = data["fuzz"]
    assert block["seed"] == 7 and block["status"] == "failed"
    assert [f["check"] for f in block["findings"]] == ["error.status_fits"]
    finding = block["findings"][0]
    assert finding["minimal_request"] == {"model": DEFAULT_MODEL, "input": "0", "temperature": 3.0}
    assert finding["curl"].startswith("curl ") and finding["shrunk"]
    transcript = json.loads((tmp_path / "out" / finding["transcript"]).read_text())
    assert transcript["fuzz"]["cause"] == finding["cause"] and transcript["fuzz"]["seed"] == 7
    assert data["summary"]["verdict"] == "not conformant" and data["summary"]["exit_code"] == 1
    assert data["summary"]["violations"]["must"] == 1
    assert output.rstrip().splitlines()[-1].startswith("responses-conformance: NOT CONFORMANT")


def _session(tmp_path: Path, **fuzz_state: Any) -> Any:
    from types import SimpleNamespace

    data = {"scenarios": [{"id": "a", "status": "passed"}, {"id": "b", "status": "not selected"}],
            "summary": {"verdict": "conformant", "exit_code": 0, "violations": {"must": 0, "should": 0}}}
    return SimpleNamespace(last_results=data, results_path=tmp_path / "results.json", runner_started=False,
                           **fuzz_state)


def test_the_fuzz_status_joins_the_one_verdict(tmp_path: Path):
    from responses_conformance import fuzz_plugin
    from responses_conformance.engine.violations import Severity, Violation
    from responses_conformance.fuzz_strategies import Case

    result = fuzz.FuzzResult(fuzz.FuzzConfig(cases=1, seed=1), deterministic=True)
    judged = fuzz.Judged(Case("response", {"model": "m", "input": "0"}), "finding",
                         violations=[Violation("fuzz.valid_completes", Severity.MUST, "failed")])
    result.judged.append(judged)
    result.findings.append(fuzz.FuzzFinding("valid/response:fuzz.valid_completes", "fuzz.valid_completes",
                                            Severity.MUST, "failed", "valid/response", 1, judged))
    session = _session(tmp_path, fuzz=result, fuzz_skipped=None)
    fuzz_plugin.amend_results(session, None)
    summary = json.loads(session.results_path.read_text())["summary"]
    assert (summary["verdict"], summary["exit_code"], summary["fuzz"]) == ("not conformant", 1, "failed")
    assert summary["violations"]["must"] == 1

    result.findings.clear()
    session = _session(tmp_path, fuzz=result, fuzz_skipped=None)
    fuzz_plugin.amend_results(session, None)
    assert session.last_results["summary"]["verdict"] == "conformant"

    # fuzz mode was asked for and crashed (a bug of ours): never conformant, the cause said once
    session = _session(tmp_path, fuzz=None, fuzz_skipped="internal error in fuzz mode: boom", fuzz_failed=True)
    fuzz_plugin.amend_results(session, None)
    summary = session.last_results["summary"]
    assert (summary["verdict"], summary["exit_code"]) == ("could not test", 6)
    assert "boom" in summary["cause"]


def test_fuzz_usage_errors(tmp_path: Path):
    suite = str(Path(fuzz.__file__).with_name("test_conformance.py"))
    done = _pytest([suite, "--fuzz=0", "--reports-dir=out", "-q"], tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    done = _pytest([suite, "--fuzz-seed=3", "--reports-dir=out", "-q"], tmp_path)
    assert done.returncode == 4 and "--fuzz=N" in done.stdout + done.stderr


def test_fuzz_command_help(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["fuzz", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--fuzz-seed" in text and "--fuzz-budget" in text and "shrunk" in text
