"""Scenarios across the API surface: the format, capabilities, user scenarios, broken variants."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.http import Limits
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer
from responses_conformance.runner import Runner, Target
from responses_conformance.scenarios import FEATURES, ScenarioError, from_data, load_all, render, resolve

from .test_plugin import results, run_pytest

SCENARIOS = load_all()


def test_every_feature_is_exercised_and_every_scenario_names_its_features() -> None:
    used = {feature for scenario in SCENARIOS for feature in scenario.features}
    assert used == set(FEATURES)
    assert all(scenario.features for scenario in SCENARIOS)


def test_references_resolve_into_earlier_answers() -> None:
    context = {"model": "m", "steps": {"call": {"response": {"id": "resp_1", "output": [{"call_id": "call_9"}]}}}}
    assert resolve("steps.call.response.output[0].call_id", context) == "call_9"
    assert render({"model": "{model}", "previous_response_id": "{steps.call.response.id}",
                   "input": [{"$from": "steps.call.response.output[0]"}]}, context) == {
        "model": "m", "previous_response_id": "resp_1", "input": [{"call_id": "call_9"}]}
    with pytest.raises(LookupError):
        render("{steps.call.response.output[3].id}", context)


@pytest.mark.parametrize("data, message", [
    ({"description": "x", "request": {"path": "/responses"}, "expect": {"kind": "stream"}}, "`id` is required"),
    ({"id": "a", "description": "x", "request": {"path": "/r"}, "expect": {"kind": "nope"}}, "expect.kind"),
    ({"id": "a", "description": "x", "features": ["teleport"], "request": {"path": "/r"},
      "expect": {"kind": "stream"}}, "unknown features"),
    ({"id": "a", "description": "x", "steps": [{"name": "s", "request": {"path": "/r"}, "expect": {"kind": "any"}},
                                              {"name": "s", "request": {"path": "/r"}, "expect": {"kind": "any"}}]},
     "step names must be unique"),
    ({"id": "a", "description": "x", "request": {"path": "/r"}, "expect": {"kind": "any"},
      "assert": [{"check": "consistency.mind_reading"}]}, "unknown assertion"),
    ({"id": "a", "description": "x", "request": {"path": "/r"}, "expect": {"kind": "any"},
      "assert": [{"check": "consistency.context_kept", "step": "second", "contains": "x"}]}, "names step 'second'"),
])
def test_malformed_scenarios_are_refused_with_a_reason(data: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        from_data(data, "bad.json")


def run_all(server: ReferenceServer, reports: Path, *, required: frozenset[str] = frozenset()) -> Runner:
    runner = Runner(Target(server.base_url, server.api_key, DEFAULT_MODEL, embedded=True),
                    limits=Limits(timeout=20, idle_timeout=10), reports_dir=reports, schemas=SchemaSet.load(),
                    required=required)
    runner.prefetch(SCENARIOS)
    for scenario in SCENARIOS:
        runner.result(scenario)
    return runner


def test_a_switched_off_feature_is_unsupported_not_broken(tmp_path: Path) -> None:
    with ReferenceServer(disabled=frozenset({"tools"})) as server:
        runner = run_all(server, tmp_path)
        runner.close()
    statuses = {sid: r.status for sid, r in runner.results.items()}
    tool_scenarios = {s.id for s in SCENARIOS if "tools" in s.features}
    assert {statuses[sid] for sid in tool_scenarios - {"error-unknown-tool-type"}} == {"unsupported"}
    unsupported = runner.results["tools-required-stream"].unsupported
    assert unsupported.startswith("HTTP 400: ")
    assert {statuses[s.id] for s in SCENARIOS if "tools" not in s.features} == {"passed"}


def test_a_required_feature_that_is_refused_fails(tmp_path: Path) -> None:
    with ReferenceServer(disabled=frozenset({"background"})) as server:
        runner = run_all(server, tmp_path, required=frozenset({"background"}))
        runner.close()
    result = runner.results["background-poll"]
    assert result.status == "failed"
    assert any(v.check == "framing.http_status_ok" for v in result.violations)


def test_the_feature_table_and_exit_code_of_a_partial_target(tmp_path: Path) -> None:
    with ReferenceServer(disabled=frozenset({"reasoning"})) as server:
        # The feature switched off and one that works: the whole suite twice cost this test 13 s.
        args = [f"--target-url={server.base_url}", "--model=ref-model-1", "-k", "reasoning or text-stream"]
        env = {"OPENAI_API_KEY": server.api_key}
        code, output, _ = run_pytest(tmp_path, *args, env=env)
        assert code == 0, output
        features = results(tmp_path)["features"]
        assert features["reasoning"]["status"] == "unsupported"
        assert features["reasoning"]["reason"].startswith("unsupported (HTTP 400")
        assert features["streaming"]["status"] == "supported"
        assert "SKIPPED" in output or "skipped" in output
        code, output, _ = run_pytest(tmp_path, *args, "--require=reasoning", env=env)
    assert code == 1
    assert results(tmp_path)["features"]["reasoning"]["status"] == "broken"


# Broken variants of the reference server for the scenario rules: each fails its check.
SCENARIO_FAULTS = {
    "context_lost": ("state-previous-response", "consistency.context_kept"),
    "retrieve_differs": ("state-retrieve", "consistency.retrieve_matches_final"),
    "call_id_mismatch_output": ("tools-round-trip", "consistency.tool_round_trip"),
    "unknown_param_500": ("error-unknown-parameter", "error.status_fits"),
    "resume_from_zero": ("state-resume", "consistency.resume_continues"),
    "delete_keeps": ("state-delete", "consistency.deleted_not_retrievable"),
}


@pytest.mark.parametrize("fault", sorted(SCENARIO_FAULTS))
def test_broken_variant_fails_its_scenario_rule(fault: str, tmp_path: Path) -> None:
    scenario_id, check = SCENARIO_FAULTS[fault]
    scenario = next(s for s in SCENARIOS if s.id == scenario_id)
    with ReferenceServer(faults=frozenset({fault})) as server:
        runner = Runner(Target(server.base_url, server.api_key, DEFAULT_MODEL, embedded=True),
                        limits=Limits(timeout=20, idle_timeout=10), reports_dir=tmp_path, schemas=SchemaSet.load())
        result = runner.result(scenario)
        runner.close()
    assert result.error is None, result.error
    assert check in {v.check for v in result.violations}, [(v.check, v.message) for v in result.violations]


def test_user_scenarios_run_beside_the_built_in_ones(tmp_path: Path) -> None:
    folder = tmp_path / "my-scenarios"
    folder.mkdir()
    (folder / "mine.json").write_text(json.dumps({
        "id": "my-short-answer", "description": "Our gateway's shortest request.", "features": ["text"],
        "request": {"method": "POST", "path": "/responses", "json": {"model": "{model}", "input": "Hi"}},
        "expect": {"kind": "response"}}))
    code, output, _ = run_pytest(tmp_path, f"--scenarios={folder}", "-k", "my-short-answer",
                                 str(Path(__file__).parents[1] / "suite"))
    assert code == 0, output
    mine = next(s for s in results(tmp_path)["scenarios"] if s["id"] == "my-short-answer")
    assert mine["status"] == "passed"


def test_a_malformed_user_scenario_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.json").write_text("{not json")
    code, output, _ = run_pytest(tmp_path, f"--scenarios={folder}", str(Path(__file__).parents[1] / "suite"))
    assert code == 4
    assert "x.json: not JSON" in output


def test_only_the_first_step_or_a_declared_one_can_be_refused_as_unsupported(tmp_path: Path) -> None:
    from responses_conformance.http import Exchange
    from responses_conformance.runner import StepResult
    from responses_conformance.transports import HttpTransport

    runner = Runner(Target("http://127.0.0.1:9/v1", "sk-x", "m"), limits=Limits(), reports_dir=tmp_path,
                    schemas=None)
    try:
        retrieve = next(s for s in SCENARIOS if s.id == "state-retrieve")
        resume = next(s for s in SCENARIOS if s.id == "state-resume")

        def refused(step) -> StepResult:
            exchange = Exchange(method="GET", url="http://127.0.0.1:9/v1/responses/x", request_headers=[],
                                request_body=None, status=404)
            return StepResult(step=step, exchange=exchange, body_json={"error": {"message": "No response found"}})

        # The stored response is gone at once: broken (I-02), never "unsupported".
        http = HttpTransport(runner)
        assert runner._refusal(retrieve, retrieve.steps[1], refused(retrieve.steps[1]), {}, http) is None
        stored = {"steps": {"create": {"response": {"id": "resp_1", "store": True}}}}
        assert runner._refusal(retrieve, retrieve.steps[1], refused(retrieve.steps[1]), stored, http) is None
        # ... but a target that never said it stored the response (no `store: true` in its answer,
        # as llama.cpp's server) may refuse to read it back: it has no state.
        unstored = {"steps": {"create": {"response": {"id": "resp_1"}}}}
        assert runner._refusal(retrieve, retrieve.steps[1], refused(retrieve.steps[1]), unstored, http) == \
            "HTTP 404: No response found"
        # Refusing to resume is an honest answer for a target without resume (I-07).
        assert runner._refusal(resume, resume.steps[1], refused(resume.steps[1]), {}, http) == "HTTP 404: No response found"
        # The first step stands for the scenario's features.
        assert runner._refusal(retrieve, retrieve.steps[0], refused(retrieve.steps[0]), {}, http) is not None
    finally:
        runner.close()


def test_the_published_scenario_schema_names_every_feature_and_kind() -> None:
    from responses_conformance import scenarios

    schema = scenarios.file_schema_validator().schema
    assert set(schema["$defs"]["features"]["items"]["enum"]) == set(scenarios.FEATURES)
    assert set(schema["$defs"]["expect"]["properties"]["kind"]["enum"]) == set(scenarios.KINDS)


def test_the_features_are_data_and_each_optional_one_names_its_parameters() -> None:
    from responses_conformance import scenarios

    assert scenarios.CORE_FEATURES <= set(scenarios.FEATURES)
    assert set(scenarios.FEATURE_PARAMETERS) == set(scenarios.FEATURES) - scenarios.CORE_FEATURES
    assert all(isinstance(names, tuple) for names in scenarios.FEATURE_PARAMETERS.values())


@pytest.mark.parametrize("data, says", [
    ([], "an object with `features`"),
    ({"features": {"Tools": {"description": "d", "parameters": []}}}, "lowercase words"),
    ({"features": {"tools": {"description": "", "parameters": []}}}, "`description` is a non-empty string"),
    ({"features": {"tools": {"description": "d"}}}, "an optional one names the request parameters"),
    ({"features": {"text": {"description": "d", "core": True, "parameters": ["input"]}}}, "a core feature"),
    ({"features": {"tools": {"description": "d", "parameters": "tools"}}}, "a list of request parameter names"),
    ({"features": {"tools": {"description": "d", "parameters": [], "params": []}}}, "an entry has"),
])
def test_a_malformed_feature_table_is_refused(data: object, says: str) -> None:
    from responses_conformance import scenarios

    with pytest.raises(ScenarioError, match=re.escape(says)):
        scenarios.features_from_data(data, "features.json")


@pytest.mark.parametrize("data, says", [
    ({"id": "x", "description": "d", "request": {"path": "/responses"}, "expcet": {"kind": "stream"}},
     "'expcet' was unexpected"),
    ({"id": "x", "description": "d", "request": {"path": "/responses"}, "expect": {"kind": "strem"}},
     "at expect.kind"),
    ({"id": "x", "description": "d", "steps": [{"name": "a", "request": {"path": "/responses"}}]},
     "'expect' is a required property (at steps[0]"),
    ({"id": "x", "description": "d", "features": ["tool"], "request": {"path": "/responses"},
      "expect": {"kind": "stream"}}, "at features[0]"),
])
def test_a_malformed_scenario_file_is_named_with_where(data: dict, says: str) -> None:
    from responses_conformance import scenarios

    with pytest.raises(scenarios.ScenarioError) as raised:
        scenarios._read(json.dumps(data), "mine.json")
    assert str(raised.value).startswith("mine.json: ") and says in str(raised.value)


def test_a_runs_own_scenario_folders_do_not_stay_for_the_next_run(tmp_path: Path) -> None:
    """Scenario folders are an argument of each load, not state of the module: a second run in
    the same process (pytest.main twice, a tool embedding the suite) sees only its own."""
    from responses_conformance import scenarios

    (tmp_path / "mine.json").write_text(json.dumps({
        "id": "my-own", "description": "d", "features": ["text"],
        "request": {"method": "POST", "path": "/responses", "json": {"model": "{model}", "input": "Hi"}},
        "expect": {"kind": "response"}}))
    assert "my-own" in {s.id for s in scenarios.load_all([tmp_path])}
    assert "my-own" not in {s.id for s in scenarios.load_all()}
    with pytest.raises(scenarios.ScenarioError, match="not a directory"):
        scenarios.load_all([tmp_path / "missing"])
