"""One verdict, every ending: the exit code, the last line, results.json, the HTML top and JUnit
agree, and setup mistakes are "could not test" (exit 6) with one cause line and its fix.

Each ending is a real `pytest --target-url=...` process (the exit code and the last line are
what CI sees), against the reference server or a small stub target. Runs that get past the
preflight select a few scenarios with -k, so each takes a couple of seconds.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from responses_conformance import results as results_mod
from responses_conformance.reference import ReferenceServer
from responses_conformance.results import Status, Verdict

from . import _targets
from .conftest import interruptible
from .test_plugin import run_pytest


@pytest.fixture(scope="module")
def server():
    with ReferenceServer() as running:
        yield running


def agreed_verdict(cwd: Path, code: int, output: str) -> Verdict:
    """The verdict every output states; fails unless they all state the same one."""
    data = json.loads((cwd / "reports" / "results.json").read_text())
    verdict = Verdict.from_label(data["summary"]["verdict"])
    assert data["summary"]["exit_code"] == verdict.exit_code == code, output[-2000:]
    last = output.strip().splitlines()[-1]
    if verdict is not Verdict.USAGE_ERROR:  # pytest prints its own ERROR line after ours
        assert last.startswith(f"responses-conformance: {verdict.label.upper()} - "), last
    else:
        assert f"responses-conformance: {verdict.label.upper()} - " in output
    html = cwd / "reports" / "report.html"
    if verdict is not Verdict.USAGE_ERROR:
        top = re.search(r"Verdict: ([a-z ]+)<", html.read_text())
        assert top is not None and top.group(1) == verdict.label
        junit = (cwd / "reports" / "junit.xml").read_text()
        assert f'name="conformance_verdict" value="{verdict.label}"' in junit
    return verdict


def could_not_test(cwd: Path, code: int, output: str, *, kind: str, says: str) -> dict:
    assert agreed_verdict(cwd, code, output) is Verdict.COULD_NOT_TEST
    assert "Traceback" not in output and "INTERNALERROR" not in output
    data = json.loads((cwd / "reports" / "results.json").read_text())
    assert data["preflight"]["kind"] == kind
    assert says in data["summary"]["cause"]
    assert output.count(data["summary"]["cause"]) <= 2  # the summary line and the last line
    statuses = {s["status"] for s in data["scenarios"]}
    assert "could not test" in statuses and statuses <= {"could not test", "not selected"}
    assert not any(s["violations"] for s in data["scenarios"])
    # Nothing was judged: every check of the run is listed as not tested, none as passed, in
    # results.json and in the report's count of checks.
    checks = len(data["checks"])
    assert checks and {c["status"] for c in data["checks"]} == {results_mod.NOT_TESTED}
    page = (cwd / "reports" / "report.html").read_text()
    assert f"Checks of the profile, each once: <strong>{checks}</strong> not tested." in page
    return data


def test_no_key_is_could_not_test_with_its_fix(tmp_path: Path, server) -> None:
    code, output, elapsed = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1")
    could_not_test(tmp_path, code, output, kind="no_key", says="set OPENAI_API_KEY or pass --api-key")
    assert elapsed < 20


def test_no_model_names_the_models_the_target_offers(tmp_path: Path, server) -> None:
    code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", env={"OPENAI_API_KEY": server.api_key})
    data = could_not_test(tmp_path, code, output, kind="unknown_model", says="pass --model=NAME")
    assert "ref-model-1" in data["summary"]["cause"]


def test_a_wrong_key_on_a_filtered_run_is_not_green(tmp_path: Path, server) -> None:
    code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1", "-k", "tools",
                                 env={"OPENAI_API_KEY": "sk-not-the-right-key-123"})
    could_not_test(tmp_path, code, output, kind="key_refused", says="check OPENAI_API_KEY")


@pytest.mark.parametrize("suffix, says", [("", "did you mean --target-url="), ("/responses", "did you mean --target-url=")])
def test_a_wrong_base_path_suggests_the_right_one(tmp_path: Path, server, suffix: str, says: str) -> None:
    base = server.base_url[: -len("/v1")] if not suffix else server.base_url + suffix
    code, output, _ = run_pytest(tmp_path, f"--target-url={base}", "--model=ref-model-1",
                                 env={"OPENAI_API_KEY": server.api_key})
    data = could_not_test(tmp_path, code, output, kind="wrong_path", says=says)
    assert data["summary"]["cause"].endswith(f"--target-url={server.base_url}?")


def test_a_rate_limiting_target_is_could_not_test(tmp_path: Path) -> None:
    body = b'{"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}'
    with _targets.target(_targets.respond("429 Too Many Requests", "application/json", body,
                                          "Retry-After: 120\r\n")) as url:
        code, output, elapsed = run_pytest(tmp_path, f"--target-url={url}", env={"OPENAI_API_KEY": "sk-abcdefgh1234"})
    could_not_test(tmp_path, code, output, kind="rate_limited", says="lower --concurrency")
    assert elapsed < 20  # a Retry-After beyond 30 s is not waited for


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.com/v1", "http://host:99999/v1"])
def test_a_bad_url_is_a_usage_error_before_any_request(tmp_path: Path, url: str) -> None:
    code, output, elapsed = run_pytest(tmp_path, f"--target-url={url}")
    assert agreed_verdict(tmp_path, code, output) is Verdict.USAGE_ERROR
    assert "--target-url" in output and "Traceback" not in output
    assert len(output.splitlines()) < 10 and elapsed < 20


def test_a_selection_that_judges_nothing_is_exit_5(tmp_path: Path, server) -> None:
    code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1",
                                 "-k", "no-such-scenario", env={"OPENAI_API_KEY": server.api_key})
    assert agreed_verdict(tmp_path, code, output) is Verdict.NOTHING_TESTED


def test_a_stale_baseline_entry_is_not_conformant_everywhere(tmp_path: Path, server) -> None:
    (tmp_path / "baseline.txt").write_text("usage.total_is_sum  # once broken, now fixed\n")
    code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1",
                                 "-k", "text-stream", "--baseline=baseline.txt", env={"OPENAI_API_KEY": server.api_key})
    assert agreed_verdict(tmp_path, code, output) is Verdict.NOT_CONFORMANT
    assert "stale baseline entry" in output


def test_a_usage_error_leaves_no_older_results_looking_current(tmp_path: Path, server) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "results.json").write_text('{"summary": {"verdict": "conformant", "exit_code": 0}}')
    code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--header=X-Gateway-Token-no-colon")
    assert agreed_verdict(tmp_path, code, output) is Verdict.USAGE_ERROR
    code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1", "-k", "foo and",
                                 env={"OPENAI_API_KEY": server.api_key})
    assert agreed_verdict(tmp_path, code, output) is Verdict.USAGE_ERROR


def test_a_header_value_is_a_secret_and_an_authorization_header_is_the_key(tmp_path: Path, server) -> None:
    canary = "gw-canary-7d1f0c2b9e"
    code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1",
                                 "-k", "text-stream or error-no-key", f"--header=X-Gateway-Token: {canary}",
                                 f"--header=Authorization: Bearer {server.api_key}")
    # The key came through --header: it is sent as the key, and left out of the no-key scenario.
    assert agreed_verdict(tmp_path, code, output) is Verdict.CONFORMANT, output[-3000:]
    assert canary not in output and server.api_key not in output
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path
            assert server.api_key.encode() not in path.read_bytes(), path


def test_an_interrupted_run_is_never_conformant(tmp_path: Path) -> None:
    import os

    with ReferenceServer(request_delay=3.0) as slow:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENAI_"))}
        env["OPENAI_API_KEY"] = slow.api_key
        proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                                 f"--target-url={slow.base_url}", "--model=ref-model-1", "-k", "text-stream",
                                 "--timeout=10"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, preexec_fn=interruptible)
        # Interrupted once collected, with the preflight in flight: the server has seen it
        # (a fixed sleep raced the start-up of pytest on a loaded machine).
        deadline = time.monotonic() + 60
        while not slow.requests and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == Verdict.INTERRUPTED.exit_code, output[-2000:]
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    assert data["summary"]["verdict"] == "interrupted"
    assert "INTERRUPTED" in output


# -- the verdict function itself, as data -------------------------------------------------
@pytest.mark.parametrize("statuses, kwargs, expected", [
    (["passed", "warned"], {}, Verdict.CONFORMANT),
    (["passed", "failed"], {}, Verdict.NOT_CONFORMANT),
    (["passed", "known"], {}, Verdict.CONFORMANT),
    (["passed"], {"stale_baseline": 1}, Verdict.NOT_CONFORMANT),
    (["passed", "could not test"], {}, Verdict.COULD_NOT_TEST),
    (["failed", "could not test"], {}, Verdict.NOT_CONFORMANT),
    (["unsupported", "not applicable", "not selected"], {}, Verdict.NOTHING_TESTED),
    ([], {}, Verdict.NOTHING_TESTED),
    (["not selected"], {"could_not_test": True}, Verdict.COULD_NOT_TEST),
    (["model behaviour"], {}, Verdict.CONFORMANT),
    (["failed"], {"interrupted": True}, Verdict.INTERRUPTED),
])
def test_the_verdict_function(statuses, kwargs, expected) -> None:
    assert results_mod.verdict(statuses, **kwargs) is expected


def _judged(scenario_id: str, status: str = "passed", *, steps: int | list[dict] | None = None, **record: Any):
    """A scenario's judgement from a synthetic record: `steps` the number of steps run, or the
    step records (their `http_status` and `answer`); `record` more of the scenario's record."""
    scenario = _scenario(scenario_id)
    twin = record.pop("twin", None)
    if isinstance(steps, list):
        record["steps"], steps = steps, len(steps)
    return scenario.judgement({"id": scenario_id, "status": status, "steps_total": len(scenario.steps),
                               "steps_run": len(scenario.steps) if steps is None else steps, **record}, twin=twin)


def test_a_check_passes_only_where_a_scenario_that_ran_to_a_judgement_judged_it() -> None:
    """results.check_statuses, as data: which checks a scenario judged follows from the
    registry's declarations and the steps it ran to a judgement; a finding fails a check
    whatever else happened; the rest of the profile is not tested."""
    from responses_conformance.engine import profiles, registry

    profile = profiles.get("openai")
    severities = {c.id: profile.severity(c.id) for c in registry.CHECKS
                  if profile.enabled(c.id) and registry.judged_in_run(c)}

    def statuses(*judgements, found=()) -> dict[str, str]:
        return results_mod.check_statuses(severities, judgements, found)

    def passed(*judgements) -> set[str]:
        return {c for c, status in statuses(*judgements).items() if status == "passed"}

    stream = {c.id for c in registry.CHECKS if "stream" in c.applies and c.asked_by is None and c.id in severities}
    # A streamed request judges the stream checks, and only them.
    assert passed(_judged("text-stream")) == stream == {c.id for c in _scenario("text-stream").checks()}
    table = statuses(_judged("text-stream"))
    assert table["schema.response"] == table["framing.ws_text_frames"] == results_mod.NOT_TESTED
    assert table["consistency.retrieve_matches_final"] == results_mod.NOT_TESTED
    # A scenario that did not run to a judgement judged nothing.
    for status in ("could not test", "unsupported", "not applicable", "not selected"):
        assert not passed(_judged("text-stream", status, error="x"))
    assert set(statuses().values()) == {results_mod.NOT_TESTED}
    # A finding is failed (MUST) or warned (SHOULD) even where nothing else was judged.
    found = statuses(found=["usage.total_is_sum", "framing.ws_close_clean"])
    assert found["usage.total_is_sum"] == "failed" and found["framing.ws_close_clean"] == "warned"
    # Over a WebSocket: the stream rules, not those about HTTP and SSE; error.code_fits only
    # where a step names the code it expects.
    ws = passed(_judged("ws-one-response"))
    assert "grammar.terminal_event_present" in ws and "framing.ws_text_frames" in ws
    assert not ws & registry.HTTP_ONLY_CHECKS and "error.code_fits" not in ws
    assert "error.code_fits" in passed(_judged("ws-reconnect-previous-not-found"))
    # A scenario that stopped on a step judged the steps before it and none of its assertions:
    # state-retrieve streams, then reads the response back (a non-streamed answer).
    stopped = passed(_judged("state-retrieve", "failed", error="step get: no answer"))
    assert "sequence.increasing" in stopped
    assert "schema.response" not in stopped and "consistency.retrieve_matches_final" not in stopped
    whole = passed(_judged("state-retrieve"))
    assert {"schema.response", "consistency.retrieve_matches_final"} <= whole
    assert passed(_judged("state-retrieve", "failed", steps=1)) == stopped  # the second step never sent
    # The stream-vs-non-stream pair is judged only when the twin ran to a judgement too.
    pair = "consistency.nonstream_matches_stream"
    twin = {"id": "text-stream", "status": "passed", "steps_run": 1, "steps_total": 1}
    assert pair in passed(_judged("text-nonstream", twin=twin))
    assert pair not in passed(_judged("text-nonstream"))
    assert pair not in passed(_judged("text-nonstream", twin={**twin, "status": "could not test", "error": "x"}))


def test_a_run_of_one_stream_scenario_lists_what_it_did_not_judge_as_not_tested(tmp_path: Path, server) -> None:
    """`-k text-stream` against the reference server: the stream checks passed; the WebSocket
    checks, the response and error checks and every other scenario's assertions were not tested,
    in results.json, the terminal's line, the report's count and its matrix."""
    from responses_conformance import html_report, report
    from responses_conformance.engine import registry

    run = _targets.run_suite_in_process(server.base_url, tmp_path / "reports", api_key=server.api_key,
                                        model="ref-model-1", select="text-stream")
    assert run.code == 0 and run.results["summary"]["verdict"] == "conformant"  # the verdict is unchanged
    table = {c["id"]: c["status"] for c in run.results["checks"]}
    passed = {c for c, status in table.items() if status == "passed"}
    not_tested = {c for c, status in table.items() if status == results_mod.NOT_TESTED}
    assert passed | not_tested == set(table)
    assert passed == {c.id for c in _scenario("text-stream").checks()}
    assert {"sequence.increasing", "grammar.terminal_event_present", "framing.sse_well_formed"} <= passed
    # What made them judged: the step's answer, an HTTP 200 read as server-sent events.
    record = run.scenario("text-stream")
    assert (record["http_status"], record["answer"]) == (200, ["stream"])
    websocket = {c.id for c in registry.CHECKS if c.applies == registry.WEBSOCKET}
    scenario = {c.id for c in registry.CHECKS if c.applies == registry.SCENARIO}
    assert len(websocket) == 8 and websocket <= not_tested
    assert scenario and scenario <= not_tested
    assert {"schema.response", "error.status_fits", "framing.content_type_json"} <= not_tested
    assert report.checks_line(run.results["checks"]) == (f"checks {len(passed)} passed, {len(not_tested)} "
                                                         f"not tested (results.json: checks)")
    items = html_report.items_from_results(run.results)
    assert {i.scenario for i in items} == {"text-stream"} and {i.status for i in items} == {"passed"}
    top = html_report.summary_html(run.results, items)
    assert (f"Checks of the profile, each once: <strong>{len(passed)}</strong> passed, "
            f"<strong>{len(not_tested)}</strong> not tested.") in top
    assert f"{len(not_tested)} checks not tested by this run" in top and "<code>framing.ws_text_frames</code>" in top


def _severities(asked: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The checks a run of the default profile lists (`asked`: upstream, for --upstream-url)."""
    from responses_conformance.engine import profiles, registry

    profile = profiles.get("openai")
    return {c.id: profile.severity(c.id) for c in registry.CHECKS
            if profile.enabled(c.id) and registry.judged_in_run(c, asked)}


def test_a_step_judges_only_the_checks_of_what_the_target_answered() -> None:
    """registry.judged_by over the step records: a step judges the checks of the kind it asked
    for only when the answer was of that kind (an HTTP 200 read as server-sent events for a
    stream, an HTTP 200 JSON body for a response, an HTTP 4xx or 5xx for an error); on any
    answer, the checks of its status line; on no answer, nothing."""
    from responses_conformance.engine import registry

    severities = _severities()

    def statuses(*judgements, found=()) -> dict[str, str]:
        return results_mod.check_statuses(severities, judgements, found)

    def passed(*judgements) -> set[str]:
        return {c for c, status in statuses(*judgements).items() if status == "passed"}

    stream = {c.id for c in _scenario("text-stream").checks()}
    status_line = {c.id for c in registry.CHECKS if c.judges_status}
    assert status_line == {"framing.http_status_ok", "error.status_fits"}  # derived: head and request_caused
    # HTTP 500 to the stream request: its status was judged (and failed), nothing of a stream.
    table = statuses(_judged("text-stream", "failed", http_status=500, answer=["error"]),
                     found=["framing.http_status_ok"])
    assert table["framing.http_status_ok"] == "failed"
    assert {table[c] for c in stream - status_line} == {results_mod.NOT_TESTED}
    assert table["framing.content_type_event_stream"] == table["sequence.increasing"] == results_mod.NOT_TESTED
    assert "passed" not in table.values()
    # A refusal (4xx) of a request that should have streamed, and a JSON body where a stream
    # was asked for: the same, only the status line.
    assert passed(_judged("text-stream", "failed", http_status=400, answer=["error"])) == {"framing.http_status_ok"}
    assert passed(_judged("text-stream", "failed", http_status=200, answer=["response"])) == {"framing.http_status_ok"}
    # A stream to judge: every stream check, as before.
    assert passed(_judged("text-stream", http_status=200, answer=["stream"])) == stream
    assert passed(_judged("text-stream")) == stream  # a record that does not say: as asked
    # No answer at all: nothing.
    assert not passed(_judged("text-stream", "failed", http_status=None, answer=[]))
    # Non-streamed: a 200 JSON body judges the response checks; a 200 neither JSON nor events
    # judges the status only.
    response = {c.id for c in _scenario("text-nonstream").checks()} - {"consistency.nonstream_matches_stream"}
    assert passed(_judged("text-nonstream", http_status=200, answer=["response"])) == response
    assert passed(_judged("text-nonstream", "failed", http_status=200, answer=[])) == {"framing.http_status_ok"}
    # An error step: an error answer judges the error checks; a success (the request accepted)
    # judges error.status_fits only, not the envelope nor its Content-Type.
    error = passed(_judged("error-missing-model", http_status=400, answer=["error"]))
    assert {"error.status_fits", "error.envelope_shape", "framing.content_type_json"} <= error
    accepted = statuses(_judged("error-missing-model", "failed", http_status=200, answer=["response"]),
                        found=["error.status_fits"])
    assert accepted["error.status_fits"] == "failed"
    assert accepted["error.envelope_shape"] == accepted["framing.content_type_json"] == results_mod.NOT_TESTED
    # Step by step: state-retrieve's stream answered 500, its retrieve answered with a Response.
    steps = [{"name": "create", "http_status": 500, "answer": ["error"]},
             {"name": "get", "http_status": 200, "answer": ["response"]}]
    retrieve = passed(_judged("state-retrieve", "failed", steps=steps))
    assert "schema.response" in retrieve and "framing.http_status_ok" in retrieve
    assert "sequence.increasing" not in retrieve and "framing.sse_well_formed" not in retrieve
    assert "sequence.increasing" in passed(_judged("state-retrieve", steps=[
        {"name": "create", "http_status": 200, "answer": ["stream"]}, *steps[1:]]))


def test_fidelity_is_judged_only_where_a_finished_response_was_compared_with_the_upstream() -> None:
    """With --upstream-url, the fidelity checks are judged on a POST /responses that finished
    (the step record's `answer` says `upstream`), not on every stream or response step: a run
    of the background scenarios (a create answered queued, a poll, a cancel) lists them as not
    tested; a finished stream compared with the upstream lists them as passed."""
    from responses_conformance.engine import registry
    from responses_conformance.scenarios import judgements, load_all

    fidelity = {c.id for c in registry.CHECKS if c.applies == registry.UPSTREAM}
    severities = _severities(frozenset({"upstream"}))
    assert fidelity and fidelity <= set(severities)

    def record(sid: str, *answers: list[str]) -> dict:
        steps = [{"name": step.name, "http_status": 200, "answer": answer}
                 for step, answer in zip(_scenario(sid).steps, answers)]
        return {"id": sid, "status": "passed", "steps_run": len(steps), "steps_total": len(steps),
                "http_status": 200, "answer": answers[0], "steps": steps if len(steps) > 1 else []}

    background = [record("background-poll", ["response"], ["response"]),
                  record("background-cancel", *[["response"]] * len(_scenario("background-cancel").steps))]
    judged = judgements(load_all(), background, upstream=True).values()
    table = results_mod.check_statuses(severities, judged, ())
    assert {table[c] for c in fidelity} == {results_mod.NOT_TESTED}
    assert table["schema.response"] == "passed"
    # Their items still name fidelity (a step may finish); the run says what was judged.
    assert fidelity <= {c.id for c in _scenario("background-poll").checks(upstream=True)}
    finished = record("text-stream", ["stream", "upstream"])
    table = results_mod.check_statuses(severities, judgements(load_all(), [*background, finished], upstream=True)
                                       .values(), ())
    assert {table[c] for c in fidelity} == {"passed"}
    # A run without --upstream-url never judges them, whatever a record says.
    assert not judgements(load_all(), [finished])["text-stream"].judges(registry.get(min(fidelity)))


def _stream_refused_with_500() -> Any:
    """A target that answers a plain request with a Response, and every `stream: true`
    request with HTTP 500 and OpenAI's error envelope."""
    response = json.dumps({"id": "resp_1", "object": "response", "created_at": 1, "model": "m",
                           "status": "completed", "output": []}).encode()
    failure = b'{"error": {"message": "streaming broke", "type": "server_error", "param": null, "code": null}}'

    def handler(conn, request) -> None:
        raw = request.partition(b"\r\n\r\n")[2]
        try:
            streamed = json.loads(raw or b"{}").get("stream") is True
        except (ValueError, AttributeError):
            streamed = False
        status, payload = (b"500 Internal Server Error", failure) if streamed else (b"200 OK", response)
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(payload)).encode() + b"\r\nConnection: close\r\n\r\n" + payload)
    return handler


def test_a_stream_answered_500_lists_the_stream_checks_as_not_tested(tmp_path: Path) -> None:
    """`-k text-stream` against a target that answers every stream request with HTTP 500:
    framing.http_status_ok failed, and not one stream check is listed as passed (results.json's
    table, the report's items, the pytest item's reason); the step record says what came."""
    from responses_conformance import html_report
    from responses_conformance.engine import registry
    from responses_conformance.engine.violations import Severity, Violation
    from responses_conformance.http import Exchange
    from responses_conformance.plugin import not_judged
    from responses_conformance.runner import ScenarioResult, StepResult
    from responses_conformance.scenarios import Case

    with _targets.target(_stream_refused_with_500()) as url:
        run = _targets.run_suite_in_process(url, tmp_path / "reports", api_key="sk-abcdefgh12345678", model="m",
                                            select="text-stream")
    assert run.code == 1 and run.results["summary"]["verdict"] == "not conformant"
    record = run.scenario("text-stream")
    assert (record["status"], record["http_status"], record["answer"]) == ("failed", 500, ["error"])
    table = {c["id"]: c["status"] for c in run.results["checks"]}
    assert table["framing.http_status_ok"] == "failed"
    stream = {c.id for c in _scenario("text-stream").checks() if not c.judges_status}
    assert {table[c] for c in stream} == {results_mod.NOT_TESTED}
    assert "passed" not in table.values()
    items = {i.check: i.status for i in html_report.items_from_results(run.results)}
    assert items["framing.http_status_ok"] == "failed" and items["sequence.increasing"] == "skipped"
    # The pytest item of a stream check is skipped as not tested, and says why.
    scenario = _scenario("text-stream")
    answered = StepResult(step=scenario.steps[0], answer=("error",),
                          exchange=Exchange("POST", url + "/responses", [], None, status=500))
    result = ScenarioResult(scenario=scenario, steps=[answered],
                            violations=[Violation("framing.http_status_ok", Severity.MUST, "HTTP 500")])
    why = not_judged(Case(scenario, registry.get("sequence.increasing"), Severity.MUST), result)
    assert why == "not tested: no answer in the scenario was one this check judges (HTTP 500, judged as error)"
    assert not_judged(Case(scenario, registry.get("framing.http_status_ok"), Severity.MUST), result) is None


def test_several_targets_take_the_worst_in_the_order_1_6_5_0() -> None:
    order = [Verdict.NOT_CONFORMANT, Verdict.COULD_NOT_TEST, Verdict.NOTHING_TESTED, Verdict.CONFORMANT]
    for i, verdict in enumerate(order):
        assert results_mod.worst(order[i:]) is verdict
        assert results_mod.worst(reversed(order[i:])) is verdict


def test_model_behaviour_never_fails_an_unscripted_target() -> None:
    from responses_conformance.engine import registry
    from responses_conformance.engine.violations import Severity, Violation

    model_checks = [c.id for c in registry.CHECKS if registry.is_model_behaviour(c.id)]
    assert model_checks, "the registry marks no model-behaviour check"
    finding = Violation(model_checks[0], Severity.MUST, "the model did not call the tool")
    assert results_mod.scenario_status(Status.PASSED, [finding], deterministic=False) is Status.MODEL
    assert results_mod.scenario_status(Status.PASSED, [finding], deterministic=True) is Status.FAILED
    protocol = Violation("sequence.increasing", Severity.MUST, "sequence_number went back")
    assert results_mod.scenario_status(Status.PASSED, [finding, protocol], deterministic=False) is Status.FAILED


def test_run_help_shows_our_options_first(capsys: pytest.CaptureFixture[str]) -> None:
    from responses_conformance import cli

    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("usage: responses-conformance run")
    assert out.index("--target-url") < out.index("pytest --help")
    assert "5 nothing tested" in out and "6 could not test" in out
    assert len(out.splitlines()) < 120


def test_run_takes_the_current_folder_as_its_root(tmp_path: Path, server) -> None:
    proc = subprocess.run([sys.executable, "-m", "responses_conformance.cli", "run", f"--target-url={server.base_url}",
                           "--model=ref-model-1", "-k", "no-such-scenario"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": server.api_key})
    assert proc.returncode == Verdict.NOTHING_TESTED.exit_code, proc.stdout + proc.stderr
    assert f"rootdir: {tmp_path}" in proc.stdout
    assert (tmp_path / "reports" / "results.json").is_file()


# -- in-process: the runner's own judgement of what is not the protocol ------------------------
def _runner(server, tmp_path: Path, *, url: str | None = None, key: str = "sk-abcdefgh12345678"):
    """A runner for `server` (a ReferenceServer), or for a stub target at `url`."""
    from responses_conformance.engine.schemas import SchemaSet
    from responses_conformance.http import Limits
    from responses_conformance.runner import Runner, Target

    target = Target(server.base_url, server.api_key, "ref-model-1") if server is not None else Target(url, key, "m")
    return Runner(target, limits=Limits(timeout=10, idle_timeout=5, connect_timeout=2), reports_dir=tmp_path,
                  schemas=SchemaSet.load())


def _one(runner, scenario_id: str):
    try:
        return runner.result(_scenario(scenario_id))
    finally:
        runner.close()


def _scenario(scenario_id: str):
    from responses_conformance.scenarios import load_all

    return next(s for s in load_all() if s.id == scenario_id)


def test_a_target_that_stops_answering_is_said_once_with_the_last_scenario_answered(tmp_path: Path) -> None:
    server = ReferenceServer()
    server.__enter__()
    runner = _runner(server, tmp_path)
    try:
        assert runner.run_preflight().ok
        first = runner.result(_scenario("text-stream"))
        server.__exit__(None, None, None)
        later = [runner.result(_scenario(sid)) for sid in ("text-nonstream", "instructions-stream", "tools-auto-stream")]
    finally:
        runner.close()
    assert first.status == "passed"
    assert {r.status for r in later} == {"could not test"}
    (cause,) = {r.error for r in later}  # one cause, the same words for every scenario after it
    assert cause.startswith("the target stopped answering (cannot connect to 127.0.0.1:")
    assert cause.endswith("the last answer came in scenario text-stream")


def test_a_cancel_that_arrives_after_completion_is_not_applicable(tmp_path: Path) -> None:
    # Every answer waits 0.6 s; the background response is done after two steps of 0.05 s: the
    # cancel always arrives too late. That is a race the target won, not a missing feature.
    with ReferenceServer(request_delay=0.6, background_step=0.05) as slow:
        runner = _runner(slow, tmp_path)
        try:
            assert runner.run_preflight().ok
            result = runner.result(_scenario("background-cancel"))
        finally:
            runner.close()
    assert result.status == "not applicable", (result.status, result.unsupported, result.error, result.violations)
    assert result.unsupported is None
    assert "already completed when the cancel arrived" in result.not_applicable


def test_a_trigger_the_target_ignores_makes_its_scenario_not_applicable(tmp_path: Path) -> None:
    from responses_conformance.runner import Runner, StepResult

    step = _scenario("ws-failed-response").steps[0]
    done = StepResult(step=step, final_response={"status": "completed"})
    assert "does not honour" in Runner._trigger_ignored(step, done)
    assert Runner._trigger_ignored(step, StepResult(step=step, final_response={"status": "failed"})) is None


def test_a_refusal_naming_a_core_parameter_is_not_unsupported() -> None:
    from responses_conformance.transports import refuses_one_of as _refuses_one_of

    body = {"model": "m", "stream": True, "input": [{"role": "user", "content": "Hi"}]}
    assert _refuses_one_of("input[0].type", {"streaming"}, body) is False  # a core input shape refused: broken
    assert _refuses_one_of("stream", {"streaming"}, body) is True
    assert _refuses_one_of(None, {"streaming"}, body) is True  # no param named: taken at the feature's word
    assert _refuses_one_of("previous_response_id", {"state"}, {"previous_response_id": "resp_1"}) is True
    # A path parameter (a cancel of a finished response, as Microsoft's agent server names it).
    assert _refuses_one_of("response_id", {"background"}, None) is True


def test_a_pair_finding_is_in_results_whichever_items_ran(tmp_path: Path) -> None:
    """consistency.nonstream_matches_stream is judged by the runner, once: results.json holds it
    even when -k leaves its own item out."""
    with ReferenceServer(faults=frozenset({"final_output_empty"})) as broken:
        code, output, _ = run_pytest(tmp_path, f"--target-url={broken.base_url}", "--model=ref-model-1",
                                     "-k", "text-nonstream and usage", env={"OPENAI_API_KEY": broken.api_key})
    assert agreed_verdict(tmp_path, code, output) is Verdict.NOT_CONFORMANT
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    record = next(s for s in data["scenarios"] if s["id"] == "text-nonstream")
    assert "consistency.nonstream_matches_stream" in {v["check"] for v in record["violations"]}


def test_an_idempotent_request_on_a_connection_closed_under_it_is_retried_once(tmp_path: Path) -> None:
    """A keep-alive connection the server closed just as the request went out is the client's
    race: a GET is sent again on a fresh connection, once, before the target is called untestable."""
    body = (b'{"error": {"message": "No response found with id resp_0.", "type": "invalid_request_error", '
            b'"param": null, "code": null}}')
    connections = []

    def first_closed_then_404(conn, request) -> None:
        connections.append(request.split(b"\r\n", 1)[0])
        if len(connections) == 1:
            conn.close()  # closed before any byte of the answer
            return
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    with _targets.target(first_closed_then_404) as url:
        result = _one(_runner(None, tmp_path, url=url), "error-unknown-response-id")
    assert len(connections) == 2 and all(line.startswith(b"GET ") for line in connections)
    assert result.error is None and result.status == "passed", (result.error, result.violations)


def _picky_target(refuses) -> Any:
    """A target that answers a plain request with a Response and refuses (400, OpenAI's
    envelope) the requests `refuses(body)` picks."""
    import json as json_module

    from .zoo import behaviours as zoo

    final = next(e["response"] for e in reversed(zoo.events()) if e.get("type") == "response.completed")
    ok = json_module.dumps(final).encode()
    refusal = (b'{"error": {"message": "Cannot determine type of item", "type": "invalid_request_error", '
               b'"param": null, "code": null}}')

    def handler(conn, request) -> None:
        head, _, raw = request.partition(b"\r\n\r\n")
        try:
            body = json_module.loads(raw or b"{}")
        except ValueError:
            body = {}
        if refuses(body):
            status, payload = b"400 Bad Request", refusal
        elif body.get("stream"):
            status, payload = b"200 OK", zoo.reference_stream()
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                         + payload)
            return
        else:
            status, payload = b"200 OK", ok
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(payload)).encode() + b"\r\nConnection: close\r\n\r\n" + payload)
    return handler


@pytest.mark.parametrize("refuses, expected", [
    # Input items without `type` refused whether streamed or not: a core shape refused, broken.
    (lambda body: isinstance(body.get("input"), list), "failed"),
    # Only streaming refused: the feature is what the target does not offer.
    (lambda body: body.get("stream") is True, "unsupported"),
])
def test_a_refusal_is_unsupported_only_if_the_request_without_the_feature_is_served(tmp_path: Path, refuses,
                                                                                   expected: str) -> None:
    with _targets.target(_picky_target(refuses)) as url:
        result = _one(_runner(None, tmp_path, url=url), "multi-turn-stream")
    assert result.status == expected, (result.status, result.unsupported, result.violations)
    if expected == "failed":
        assert "framing.http_status_ok" in {v.check for v in result.violations}


def test_a_feature_no_step_of_which_was_sent_is_never_supported() -> None:
    """ws-compact-new-connection failing at its HTTP compact step never reached its WebSocket
    step: it shows nothing about WebSocket mode (seen on Microsoft's agent server)."""
    from responses_conformance import report

    def record(sid: str, status: str, features: list[str], run: int, total: int, violations=()) -> dict:
        return {"id": sid, "status": status, "features": features, "steps_run": run, "steps_total": total,
                "violations": list(violations)}

    compact = {"check": "schema.compaction", "severity": "must", "message": "HTTP 405"}
    scenarios = [record("ws-compact-new-connection", "failed", ["websocket", "compact"], 1, 2, [compact]),
                 record("ws-one-response", "unsupported", ["websocket", "text"], 1, 1)]
    scenarios[1]["reason"] = "unsupported (WebSocket upgrade refused with HTTP 403)"
    table = report.feature_table(scenarios)
    assert table["websocket"]["status"] == "unsupported"
    assert table["compact"]["status"] == "broken"
    # A scenario that ran every step and failed on something else still shows its feature at work.
    scenarios[0]["steps_run"] = 2
    assert report.feature_table(scenarios)["websocket"]["status"] == "supported"


def test_a_websocket_step_judges_only_the_checks_of_what_its_judge_saw() -> None:
    """A WebSocket step's record says what came (StepJudge.answer): an error frame to a valid
    response.create judges the connection's checks and what reads an error frame, none of the
    stream checks; a response's events judge every check of the scenario; a connection that
    brought nothing judges the connection's checks only; no connection, nothing."""
    from responses_conformance.engine import registry
    from responses_conformance.engine.exchange import Expectation
    from responses_conformance.engine.websocket import StepJudge

    severities = _severities()

    def passed(*judgements) -> set[str]:
        return {c for c, s in results_mod.check_statuses(severities, judgements, ()).items() if s == "passed"}

    items = {c.id for c in _scenario("ws-one-response").checks()}
    stream = {c for c in items if registry.get(c).applies & {"stream"}}
    websocket = {c for c in items if registry.get(c).applies == registry.WEBSOCKET}
    connection = {c for c in websocket if not registry.get(c).reads}
    assert stream and {"grammar.terminal_event_present", "sequence.increasing"} <= stream
    assert {"framing.ws_upgrade_accepted", "framing.ws_close_clean", "framing.ws_text_frames"} <= connection
    assert {"sequence.ws_restarts_at_zero", "framing.ws_create_streamed"} <= websocket - connection
    # The judge says what it saw: an error frame, a response's events, nothing; a refused upgrade.
    frame = {"type": "error", "status": 400, "error": {"code": "x", "message": "no"}}
    refused = StepJudge(Expectation("stream"), sent=1, checks=items)
    refused.upgrade(101)
    refused.frame(json.dumps(frame))
    assert refused.answer(101) == ("websocket", "error") and refused.answer(426) == refused.answer(None) == ()
    assert StepJudge(Expectation("stream"), sent=1).answer(101) == ("websocket",)
    # An error frame answered the response.create: the stream checks are not tested.
    error = passed(_judged("ws-one-response", "failed", http_status=101, answer=list(refused.answer(101))))
    assert not error & stream and "sequence.ws_restarts_at_zero" not in error
    assert error == connection | {c for c in websocket if "error" in registry.get(c).reads}
    # An error frame's shape is judged where the step asked for an error frame, not where it
    # asked for a response (there the frame is framing.ws_create_streamed's one finding).
    shape, streamed_or_error = registry.get("error.ws_error_shape"), registry.get("framing.ws_create_streamed")
    came = frozenset({"websocket", "error"})
    asked_stream, asked_error = frozenset({"websocket", "stream"}), frozenset({"websocket", "error"})
    assert not registry.judged_by(shape, [registry.Exchange(asked_stream, came)])
    assert registry.judged_by(shape, [registry.Exchange(asked_error, came)])
    assert registry.judged_by(streamed_or_error, [registry.Exchange(asked_stream, came)])
    assert "error.ws_error_shape" not in error
    # A response stream: every check of the scenario passed, as before.
    assert passed(_judged("ws-one-response", http_status=101, answer=["websocket", "stream"])) == items
    assert passed(_judged("ws-one-response")) == items  # a record that does not say: as asked
    # A connection that brought nothing: the connection's checks only (no error frame came, so
    # error.ws_error_shape judged none); no connection: nothing.
    assert passed(_judged("ws-one-response", "failed", http_status=101, answer=["websocket"])) == connection
    assert not passed(_judged("ws-one-response", "failed", http_status=426, answer=[]))
    assert not passed(_judged("ws-one-response", "failed", http_status=None, answer=[]))
    # Step by step: ws-malformed-messages' error frames judge the error-frame checks, its last
    # step's response stream the stream checks; answered with error frames only, no stream check.
    names = [step.name for step in _scenario("ws-malformed-messages").steps]
    frames = [{"name": n, "http_status": 101, "answer": ["websocket", "error"]} for n in names]
    only_errors = passed(_judged("ws-malformed-messages", "failed", steps=frames))
    of_streams = {c for c in stream if "error" not in registry.get(c).applies}  # not of an error either
    assert {"error.ws_error_shape", "error.status_fits"} <= only_errors and not only_errors & of_streams
    streamed = passed(_judged("ws-malformed-messages", steps=[*frames[:-1], {
        "name": names[-1], "http_status": 101, "answer": ["websocket", "stream"]}]))
    assert stream & {c.id for c in _scenario("ws-malformed-messages").checks()} <= streamed
    assert "grammar.terminal_event_present" in streamed


def test_a_websocket_step_record_says_what_came(server, tmp_path: Path) -> None:
    """Against the reference server: a WebSocket step's record says `websocket` and `stream` for
    a response, `websocket` and `error` for an error frame (report.step_answer)."""
    from responses_conformance.report import step_answer

    runner = _runner(server, tmp_path)
    try:
        assert runner.run_preflight().ok
        one = runner.result(_scenario("ws-one-response"))
        malformed = runner.result(_scenario("ws-malformed-messages"))
    finally:
        runner.close()
    assert [step_answer(done) for done in one.steps] == [{"http_status": 101, "answer": ["websocket", "stream"]}]
    assert [step_answer(done)["answer"] for done in malformed.steps] == [["websocket", "error"]] * 3 + [
        ["websocket", "stream"]]
