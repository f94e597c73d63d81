"""The whole path, live: scenarios -> httpx -> engine -> verdicts, against the reference server.

The clean server passes every scenario; each deliberately broken variant (a `fault` of the
reference server) fails exactly the checks of the rule it breaks, so every category is
proven to fire against a live target, not only on hand-made streams.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.engine.violations import Severity
from responses_conformance.http import Limits
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer
from responses_conformance.runner import Runner, Target
from responses_conformance.scenarios import load_all

SCENARIOS = load_all()

# fault -> (MUST checks that fire, SHOULD checks that fire). Nothing else may fire.
FAULT_FINDINGS = {
    "sequence_repeat": ({"sequence.increasing"}, set()),
    "sequence_gap": (set(), {"sequence.contiguous"}),
    "event_name_mismatch": ({"framing.event_name_matches_type"}, set()),
    "content_type_json_on_stream": ({"framing.content_type_event_stream"}, set()),
    "created_at_float": ({"schema.event", "schema.response"}, set()),
    "no_output_text_done": ({"grammar.text_done_once"}, set()),
    "item_id_rotates": ({"ids.item_id_matches"}, set()),
    # The terminal output is what scenario assertions read, so they fail with it: the answer
    # holds no text to recall, no tool call, no JSON, and differs from the stored response.
    "final_output_empty": ({"consistency.final_output_matches_items", "consistency.nonstream_matches_stream",
                            "consistency.retrieve_matches_final", "consistency.context_kept",
                            "consistency.tool_called", "consistency.structured_output_strict"}, set()),
    "usage_total_wrong": ({"usage.total_is_sum"}, set()),
    "error_status_200": ({"error.status_fits"}, set()),
    "error_envelope_flat": ({"error.envelope_shape"}, set()),
    # The final text lacks its first delta: structured output is no longer valid JSON.
    "text_mismatch": ({"consistency.deltas_match_done", "consistency.structured_output_strict"}, set()),
}


def run_suite(server: ReferenceServer, reports: Path) -> tuple[Runner, dict[str, set[str]]]:
    runner = Runner(Target(server.base_url, server.api_key, DEFAULT_MODEL, embedded=True),
                    limits=Limits(timeout=10, idle_timeout=5), reports_dir=reports, schemas=SchemaSet.load())
    found: dict[str, set[str]] = {"must": set(), "should": set()}
    try:
        runner.prefetch(SCENARIOS)  # all sent at once, as the plugin sends them
        for scenario in SCENARIOS:
            result = runner.result(scenario)
            assert result.error is None, f"{scenario.id}: {result.error}"
            assert result.unsupported is None, f"{scenario.id}: {result.unsupported}"
            violations = list(result.violations)
            if scenario.compare_shape_with:
                extra, missing = runner.pair(scenario)
                assert missing is None
                violations += extra
            for violation in violations:
                found[violation.severity.value].add(violation.check)
    finally:
        runner.close()
    return runner, found


def test_reference_server_passes_every_scenario(tmp_path: Path) -> None:
    with ReferenceServer() as server:
        runner, found = run_suite(server, tmp_path)
    assert found == {"must": set(), "should": set()}
    assert {r.status for r in runner.results.values()} == {"passed"}


@pytest.mark.parametrize("fault", sorted(FAULT_FINDINGS))
def test_broken_variant_fails_with_the_right_checks(fault: str, tmp_path: Path) -> None:
    must, should = FAULT_FINDINGS[fault]
    with ReferenceServer(faults=frozenset({fault})) as server:
        _, found = run_suite(server, tmp_path)
    assert found["must"] == must
    assert found["should"] == should


def test_every_category_has_a_failing_live_variant() -> None:
    categories = {check.split(".")[0] for must, _ in FAULT_FINDINGS.values() for check in must}
    assert categories == {"framing", "schema", "grammar", "sequence", "ids", "consistency", "usage", "error"}


def test_transcripts_hold_the_exchange_without_the_key(tmp_path: Path) -> None:
    with ReferenceServer(faults=frozenset({"text_mismatch"})) as server:
        run_suite(server, tmp_path)
        key = server.api_key
    transcripts = tmp_path / "transcripts"
    record = json.loads((transcripts / "text-stream.json").read_text())
    assert record["response"]["status"] == 200
    assert any(v["check"] == "consistency.deltas_match_done" for v in record["violations"])
    raw = (transcripts / "text-stream.sse").read_bytes()
    assert raw.startswith(b"event: response.created\n")
    for path in transcripts.iterdir():
        assert key not in path.read_text(errors="replace"), path.name


def test_scenario_statuses_follow_severity(tmp_path: Path) -> None:
    with ReferenceServer(faults=frozenset({"sequence_gap", "usage_total_wrong"})) as server:
        runner, _ = run_suite(server, tmp_path)
    statuses = {sid: r.status for sid, r in runner.results.items()}
    # A SHOULD finding alone leaves a scenario passed; a MUST one fails it.
    assert statuses["text-stream"] == "failed"
    assert statuses["error-no-key"] == "passed"
    assert all(v.severity in (Severity.MUST, Severity.SHOULD) for r in runner.results.values() for v in r.violations)
