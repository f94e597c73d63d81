"""Many targets in one run: `--target-url` repeated (NAME=URL), `--targets FILE` (JSON or TOML,
keys by environment variable name), one block per target in results.json, the worst verdict,
one concurrency limit shared by all targets, and a target that cannot be tested leaving the
others to run."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from responses_conformance import report
from responses_conformance.http import Limits
from responses_conformance.reference import ReferenceServer
from responses_conformance.runner import Runner, ScenarioResult, Target
from responses_conformance.scenarios import load_all
from responses_conformance.targets import Defaults, TargetsError, combine, default_name, from_command_line, load_file

from .test_plugin import run_pytest

KEY = "sk-targets-canary-0123456789"


# -- parsing ---------------------------------------------------------------------------------------
def test_target_urls_are_named_by_the_user_or_after_their_host() -> None:
    specs = from_command_line(["vllm=http://gpu1:8000/v1", "http://gpu2:11434/v1", "http://gpu2:11434/other/v1"],
                              Defaults(model="m", api_key="k"))
    assert [(s.name, s.url, s.model, s.api_key) for s in specs] == [
        ("vllm", "http://gpu1:8000/v1", "m", "k"), ("gpu2-11434", "http://gpu2:11434/v1", "m", "k"),
        ("gpu2-11434-2", "http://gpu2:11434/other/v1", "m", "k")]
    assert default_name("https://api.example.com/v1") == "api.example.com"


@pytest.mark.parametrize("value, message", [
    ("bad name=http://h/v1", "--target-url"),  # a space: not a name, so the whole value is a (bad) URL
    ("-x=http://h/v1", "--target-url -x=: target name '-x'"),
    ("vllm=ftp://h/v1", "--target-url vllm="),
])
def test_a_malformed_target_url_is_a_usage_error(value: str, message: str) -> None:
    with pytest.raises(TargetsError) as raised:
        from_command_line([value], Defaults())
    assert str(raised.value).startswith(message)


def test_two_targets_of_one_name_are_a_usage_error() -> None:
    specs = from_command_line(["a=http://h1/v1", "a=http://h2/v1"], Defaults())
    with pytest.raises(TargetsError, match="two targets are named 'a'"):
        combine(specs)


def test_a_targets_file_in_toml_and_json_gives_each_target_its_model_and_key(tmp_path: Path) -> None:
    toml = tmp_path / "targets.toml"
    toml.write_text('[targets.vllm]\nurl = "http://gpu1:8000/v1"\nmodel = "qwen"\napi_key_env = "VLLM_KEY"\n\n'
                    '[targets.gw]\nurl = "https://gw.example/openai/v1"\nauth_header = "api-key"\nauth_scheme = ""\n'
                    'baseline = "known.gw.txt"\n')
    specs = load_file(toml, Defaults(model="default-model", api_key="global"), environ={"VLLM_KEY": KEY})
    assert [(s.name, s.model, s.api_key, s.auth_header, s.auth_scheme, s.problem) for s in specs] == [
        ("vllm", "qwen", KEY, None, None, None), ("gw", "default-model", "global", "api-key", "", None)]
    assert KEY not in repr(specs)  # a key never shows in a repr that could reach a log
    assert specs[1].baseline == tmp_path / "known.gw.txt" and specs[0].baseline is None
    as_json = tmp_path / "targets.json"
    as_json.write_text(json.dumps({"targets": {"vllm": {"url": "http://gpu1:8000/v1", "api_key_env": "VLLM_KEY"}}}))
    assert load_file(as_json, Defaults(), environ={"VLLM_KEY": KEY})[0].api_key == KEY


def test_a_key_variable_that_is_not_set_makes_that_target_untestable_not_the_run(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"targets": {"a": {"url": "http://h/v1", "api_key_env": "NOT_SET_ANYWHERE"}}}))
    spec, = load_file(path, Defaults(api_key="global"), environ={})
    assert spec.api_key is None
    assert "NOT_SET_ANYWHERE" in spec.problem and "export NOT_SET_ANYWHERE" in spec.problem


@pytest.mark.parametrize("entry, message", [
    ({"url": "http://h/v1", "api_key": KEY}, "keys are never written in the targets file"),
    ({"url": "http://h/v1", "modle": "x"}, "unknown keys 'modle'"),
    ({"model": "x"}, "url is required"),
    ({"url": "notaurl"}, "target 'a'"),
    ({"url": "http://h/v1", "model": 3}, "model must be a non-empty string"),
])
def test_a_malformed_targets_file_is_a_usage_error_that_never_echoes_a_key(tmp_path: Path, entry: dict,
                                                                           message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"targets": {"a": entry}}))
    with pytest.raises(TargetsError) as raised:
        load_file(path, Defaults())
    assert message in str(raised.value)
    assert KEY not in str(raised.value)


def test_a_targets_file_that_is_not_a_table_of_targets_says_what_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('url = "http://h/v1"\n')
    with pytest.raises(TargetsError, match=r"expected a table of targets by name"):
        load_file(path, Defaults())
    path.write_text("[targets.a\n")
    with pytest.raises(TargetsError, match="not valid TOML"):
        load_file(path, Defaults())


# -- the verdict over targets ----------------------------------------------------------------------
def _block(verdict: str, cause: str | None = None, must: int = 0) -> dict:
    return {"suite": {"name": "responses-conformance"}, "generated_at": "now", "target": {"url": "u"},
            "summary": {"verdict": verdict, "violations": {"must": must, "should": 0},
                        **({"cause": cause} if cause else {})}}


@pytest.mark.parametrize("verdicts, expected", [
    (["conformant", "not conformant", "could not test"], "not conformant"),
    (["conformant", "could not test"], "could not test"),
    (["conformant", "nothing tested"], "nothing tested"),
    (["conformant", "conformant"], "conformant"),
])
def test_the_run_of_several_targets_takes_the_worst_verdict(verdicts: list[str], expected: str) -> None:
    data = report.several_targets([(f"t{i}", _block(v)) for i, v in enumerate(verdicts)])
    assert data["summary"]["verdict"] == expected
    assert data["summary"]["by_target"] == {f"t{i}": v for i, v in enumerate(verdicts)}
    assert [t["name"] for t in data["targets"]] == [f"t{i}" for i in range(len(verdicts))]


def test_a_target_whose_items_were_all_filtered_out_has_no_say_in_the_verdict() -> None:
    blocks = [("a", _block("conformant")), ("b", _block("nothing tested"))]
    data = report.several_targets(blocks, selected={"a": True, "b": False})
    assert data["summary"]["verdict"] == "conformant"


def test_the_cause_of_an_untestable_run_names_each_untestable_target() -> None:
    data = report.several_targets([("a", _block("could not test", "no key")), ("b", _block("conformant"))])
    assert data["summary"]["cause"] == "a: no key"
    line = report.final_line(data, "openai", None)
    assert line.startswith("responses-conformance: COULD NOT TEST - 2 targets: a COULD NOT TEST (no key); b CONFORMANT")


# -- one concurrency limit over all targets --------------------------------------------------------
def test_runners_that_share_a_gate_never_have_more_scenarios_in_flight_than_it_allows(tmp_path: Path,
                                                                                         monkeypatch) -> None:
    active, peak, lock = 0, 0, threading.Lock()

    def slow(self: Runner, scenario) -> ScenarioResult:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return ScenarioResult(scenario=scenario)

    monkeypatch.setattr(Runner, "_run_scenario", slow)
    gate = threading.BoundedSemaphore(3)
    scenarios = [s for s in load_all() if not s.compare_shape_with][:12]
    runners = [Runner(Target(f"http://127.0.0.1:9/{n}/v1", None, "m"), limits=Limits(), reports_dir=tmp_path / n,
                      schemas=None, concurrency=8, gate=gate, scenarios=scenarios) for n in ("a", "b", "c")]
    try:
        for runner in runners:
            runner.prefetch(scenarios)
        done = [runner.settled() for runner in runners]
    finally:
        for runner in runners:
            runner.close()
    assert all(len(d) == len(scenarios) for d in done)
    assert 1 < peak <= 3


# -- end to end ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def servers():
    # Background responses finish as they are accepted (`background_step=0`): how many times a
    # run polls one, and whether its cancel needs a second look, then depend on nothing but the
    # scenarios, and the xdist run below sends exactly what the serial run sent. (With time in
    # it, a loaded machine turned one poll late and the counts of two runs differed by one.)
    with ReferenceServer(api_key=KEY, background_step=0) as clean, \
            ReferenceServer(api_key=KEY, faults={"usage_total_wrong"}, background_step=0) as faulty:
        yield clean, faulty


def _run(servers, cwd: Path, *extra: str) -> tuple[int, str, dict, Counter, Path]:
    """The reference server, the same with a fault, and a target whose key variable is not set,
    in one run from `cwd`: (exit code, output, results.json, requests served, reports folder)."""
    clean, faulty = servers
    clean.requests.clear()
    faulty.requests.clear()
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "targets.toml").write_text(
        f'[targets.faulty]\nurl = "{faulty.base_url}"\nmodel = "ref-model-1"\napi_key_env = "FAULTY_KEY"\n\n'
        f'[targets.nokey]\nurl = "{clean.base_url}"\napi_key_env = "UNSET_KEY_VARIABLE"\n')
    code, output, _ = run_pytest(cwd, f"--target-url=clean={clean.base_url}", "--model=ref-model-1",
                                 "--targets=targets.toml", "--concurrency=4", *extra,
                                 env={"OPENAI_API_KEY": KEY, "FAULTY_KEY": KEY}, timeout=240)
    served = Counter({("clean", k): n for k, n in clean.requests.items()})
    served.update({("faulty", k): n for k, n in faulty.requests.items()})
    return code, output, json.loads((cwd / "reports" / "results.json").read_text()), served, cwd / "reports"


@pytest.fixture(scope="module")
def serial(servers, tmp_path_factory):
    return _run(servers, tmp_path_factory.mktemp("serial"))


def test_two_targets_in_one_run_one_report_the_faulty_one_not_conformant(serial) -> None:
    """One run, one results.json with a block each, the worst verdict (not conformant, exit 1),
    the untestable target said once without stopping the others, the key never in an output."""
    code, output, data, served, _ = serial
    assert code == 1, output[-3000:]
    assert data["summary"]["by_target"] == {"clean": "conformant", "faulty": "not conformant",
                                            "nokey": "could not test"}
    assert data["summary"]["verdict"] == "not conformant" and data["summary"]["exit_code"] == 1
    blocks = {t["name"]: t for t in data["targets"]}
    assert {c["check"] for c in blocks["faulty"]["findings"]} == {"usage.total_is_sum"}
    assert blocks["clean"]["findings"] == [] and blocks["clean"]["summary"]["passed"] >= 40
    assert "UNSET_KEY_VARIABLE" in blocks["nokey"]["summary"]["cause"]
    assert all(s["status"] == "could not test" for s in blocks["nokey"]["scenarios"])
    assert sum(n for k, n in served.items() if k[0] == "clean") > 40  # both testable targets run in full
    assert sum(n for k, n in served.items() if k[0] == "faulty") > 40
    reports = Path(blocks["faulty"]["scenarios"][0]["transcript"]).parts[:3]
    assert reports == ("targets", "faulty", "transcripts")  # each target's transcripts are its own
    last = output.strip().splitlines()[-1]
    assert last.startswith("responses-conformance: NOT CONFORMANT - 3 targets: clean CONFORMANT; faulty NOT "
                           "CONFORMANT (")
    assert "test_check[faulty:text-stream:usage.total_is_sum]" in output
    assert "UNSET_KEY_VARIABLE (api_key_env of target nokey) is not set" in output
    for written in (output, json.dumps(data)):
        assert KEY not in written


def test_the_report_of_several_targets_opens_with_targets_by_category(serial) -> None:
    _, _, data, _, reports = serial
    html = (reports / "report.html").read_text()
    assert 'id="rc-targets"' in html and 'id="rc-t-faulty"' in html and 'id="rc-t-clean"' in html
    assert html.index('id="rc-targets"') < html.index('id="rc-t-clean"')
    assert "of target</span> <code>faulty</code>" in html  # each finding's block names its target
    junit = (reports / "junit.xml").read_text()
    assert 'name="conformance_verdict" value="not conformant"' in junit
    example = next(t for t in data["targets"] if t["name"] == "faulty")["findings"][0]["example"]["transcript"]
    assert (reports / example).is_file()
    for written in (html, junit):
        assert KEY not in written


def _as_written(run: tuple[int, str, dict, Counter, Path]) -> dict:
    """What a run wrote, minus what differs between any two runs (where and when)."""
    code, output, data, served, reports = run
    return {
        "exit code": code,
        "requests served": served,
        "summary": data["summary"],
        "targets": [(t["name"], t["summary"], t["findings"], t["features"],
                     [(s["id"], s["status"], sorted((v["check"], v["message"]) for v in s["violations"]))
                      for s in t["scenarios"]]) for t in data["targets"]],
        "junit test cases": (reports / "junit.xml").read_text().count("<testcase "),
        "html finding blocks": (reports / "report.html").read_text().count('class="rc-finding'),
        "last line": output.strip().splitlines()[-1].split(" - report:")[0],
    }


def test_under_xdist_each_scenario_of_each_target_is_sent_once_and_the_outputs_are_a_serial_runs(
        servers, serial, tmp_path: Path) -> None:
    """`pytest -n 2`: each scenario of each target sent exactly once, by one worker, and one
    results.json, HTML report and JUnit file with the serial run's content (the faulty target's
    findings, the untestable target's cause, the worst verdict)."""
    pytest.importorskip("xdist")
    expected = _as_written(serial)
    assert expected["exit code"] == 1 and sum(expected["requests served"].values()) > 80
    assert expected["html finding blocks"] > 0 and expected["junit test cases"] > 1000
    spread = _as_written(_run(servers, tmp_path / "n2", "-n", "2"))
    served, wanted = spread.pop("requests served"), expected.pop("requests served")
    assert served == wanted, (served - wanted, wanted - served)
    for part, value in expected.items():
        assert spread[part] == value, part
