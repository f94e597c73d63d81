"""Upstream mode: with --upstream-url the suite checks that what the upstream model produced is
what reached the client. Here the reference server is both the target and its own upstream:
clean, nothing is lost; with a fault that alters the text on the way out, the loss is named."""
from __future__ import annotations

from pathlib import Path

from . import _targets
from .test_plugin import results, run_pytest
from responses_conformance.reference import ReferenceServer


def run(tmp_path: Path, faults: frozenset[str]) -> tuple[int, str, dict]:
    with ReferenceServer(faults=faults) as server:
        code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1",
                                     f"--upstream-url={server.base_url}", env={"OPENAI_API_KEY": server.api_key})
    return code, output, results(tmp_path)


def test_a_faithful_target_passes_the_fidelity_checks(tmp_path: Path) -> None:
    code, output, data = run(tmp_path, frozenset())
    assert code == 0, output
    assert "text-stream:consistency.upstream_text_preserved" in (tmp_path / "reports" / "junit.xml").read_text()


def test_text_lost_between_upstream_and_client_is_named(tmp_path: Path) -> None:
    code, output, data = run(tmp_path, frozenset({"text_mismatch"}))
    assert code == 1
    found = {v["check"] for s in data["scenarios"] for v in s["violations"]}
    assert "consistency.upstream_text_preserved" in found
    text_stream = next(s for s in data["scenarios"] if s["id"] == "text-stream")
    lost = [v for v in text_stream["violations"] if v["check"] == "consistency.upstream_text_preserved"]
    assert lost and "the upstream produced 'You said:" in lost[0]["message"]


def test_an_upstream_that_is_not_the_reference_server_is_an_error(tmp_path: Path) -> None:
    with ReferenceServer() as server:
        code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1",
                                     f"--upstream-url={_targets.closed_port_url()}", "-k", "text-stream",
                                     env={"OPENAI_API_KEY": server.api_key})
    assert code == 6  # could not test
    assert "cannot read the upstream journal" in output and "Traceback" not in output
