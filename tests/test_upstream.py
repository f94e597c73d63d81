"""Upstream mode: with --upstream-url the suite checks that what the upstream model produced is
what reached the client. Here the reference server is both the target and its own upstream:
clean, nothing is lost; with a fault that alters the text on the way out, the loss is named.

The run that finds the loss is end to end (`pytest --upstream-url=...`: the plugin turns the
fidelity checks into items); the others run the suite in this process, as the plugin does."""
from __future__ import annotations

from pathlib import Path

from . import _targets
from .test_plugin import results, run_pytest
from responses_conformance import html_report
from responses_conformance.engine import registry
from responses_conformance.reference import ReferenceServer

FIDELITY = {c.id for c in registry.CHECKS if c.applies == registry.UPSTREAM}


def _listed(run: _targets.SuiteResults) -> tuple[dict[str, str], set[tuple[str, str, str]]]:
    """What a run lists per check: results.json's checks table, and the HTML report's items as
    it builds them from results.json (a run on pytest-xdist workers, several targets)."""
    table = {c["id"]: c["status"] for c in run.results["checks"]}
    items = {(i.scenario, i.check, i.status) for i in html_report.items_from_results(run.results)}
    return table, items


def test_a_faithful_target_passes_the_fidelity_checks(tmp_path: Path) -> None:
    with ReferenceServer() as server:
        run = _targets.run_suite_in_process(server.base_url, tmp_path / "reports", api_key=server.api_key,
                                            model="ref-model-1", upstream_url=server.base_url)
        journal = server.requests["GET /_reference/journal"]
    assert run.code == 0, run.results["summary"]
    assert journal > 0  # what the upstream produced was read, and compared
    # The fidelity checks were judged: every scenario passed them, text-stream among them.
    assert run.scenario("text-stream")["status"] == "passed"
    assert {s["status"] for s in run.results["scenarios"]} == {"passed"}
    # So they are listed, with that outcome: the checks table and the report's items.
    table, items = _listed(run)
    assert run.results["target"]["upstream_url"] == server.base_url
    assert {check: table.get(check) for check in FIDELITY} == dict.fromkeys(FIDELITY, "passed")
    assert {("text-stream", check, "passed") for check in FIDELITY} <= items
    # Where they were judged, the step record says so: a finished POST /responses, compared with
    # the journal; not a background create (answered before the model ran) nor its poll (a GET).
    assert run.scenario("text-stream")["answer"] == ["stream", "upstream"]
    assert [step["answer"] for step in run.scenario("background-poll")["steps"]] == [["response"], ["response"]]
    assert not [c for c in table if c.startswith("fuzz.")]  # fuzz mode's verdicts are its own block
    assert "consistency" in html_report.matrix_categories(["upstream"])


def test_a_run_without_upstream_never_lists_the_fidelity_checks(tmp_path: Path) -> None:
    """Without --upstream-url nothing judged the fidelity checks: no listing says they passed."""
    assert FIDELITY and registry.ASKED_KINDS == {"upstream", "fuzz"}
    with ReferenceServer() as server:
        run = _targets.run_suite_in_process(server.base_url, tmp_path / "reports", api_key=server.api_key,
                                            model="ref-model-1", select="text-stream")
    assert run.code == 0, run.results["summary"]
    table, items = _listed(run)
    assert "upstream_url" not in run.results["target"]
    assert table["sequence.increasing"] == "passed"  # the checks the run judged are listed
    assert not FIDELITY & set(table), table
    assert not [c for c in table if c.startswith("fuzz.")]
    assert items and not {check for _, check, _ in items} & FIDELITY
    # A category whose checks all wait to be asked for has no column in the matrix.
    assert "fuzz" not in html_report.matrix_categories() and "fuzz" not in html_report.matrix_categories(["upstream"])


def test_text_lost_between_upstream_and_client_is_named(tmp_path: Path) -> None:
    with ReferenceServer(faults=frozenset({"text_mismatch"})) as server:
        code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1",
                                     f"--upstream-url={server.base_url}", env={"OPENAI_API_KEY": server.api_key})
    data = results(tmp_path)
    assert code == 1
    assert "text-stream:consistency.upstream_text_preserved" in (tmp_path / "reports" / "junit.xml").read_text()
    found = {v["check"] for s in data["scenarios"] for v in s["violations"]}
    assert "consistency.upstream_text_preserved" in found
    text_stream = next(s for s in data["scenarios"] if s["id"] == "text-stream")
    lost = [v for v in text_stream["violations"] if v["check"] == "consistency.upstream_text_preserved"]
    assert lost and "the upstream produced 'You said:" in lost[0]["message"]


def test_an_upstream_that_is_not_the_reference_server_is_an_error(tmp_path: Path) -> None:
    with ReferenceServer() as server:
        run = _targets.run_suite_in_process(server.base_url, tmp_path / "reports", api_key=server.api_key,
                                            model="ref-model-1", upstream_url=_targets.closed_port_url(),
                                            select="text-stream")
    assert run.code == 6  # could not test
    errors = [s["error"] for s in run.ran()]
    assert errors and all("cannot read the upstream journal" in e for e in errors), errors
    assert not [e for e in errors if "Traceback" in e or "internal error" in e]
