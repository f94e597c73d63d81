"""The report that names causes (issue 16): findings grouped by cause in the results model, the
same evidence in the terminal, results.json and the HTML report, every basis id explained, and
the discovery commands.

The live part runs the whole suite once against the reference server with three faults, the
run of the issue's definition of done: three causes, in all three outputs.
"""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from responses_conformance import cli, evidence, report
from responses_conformance import html_report as hr
from responses_conformance import results as results_mod
from responses_conformance.engine import registry
from responses_conformance.reference import ReferenceServer

from .test_plugin import run_pytest

ROOT = Path(__file__).resolve().parents[1]
FAULTS = frozenset({"item_id_rotates", "usage_total_wrong", "error_envelope_flat"})
CAUSES = ["ids.item_id_matches", "usage.total_is_sum", "error.envelope_shape"]


# -- the grouping, in the results model ------------------------------------------------------------
def record(scenario: str, check: str, message: str, **extra) -> dict:
    return {"scenario": scenario, "check": check, "severity": "must", "message": message, "path": "$.x", **extra}


def test_a_message_shape_has_no_values() -> None:
    shape = results_mod.message_shape
    assert shape("total_tokens 19 but input_tokens + output_tokens = 18") == \
        shape("total_tokens 7 but input_tokens + output_tokens = 6") == \
        "total_tokens <n> but input_tokens + output_tokens = <n>"
    assert shape("item_id 'msg_0a1b2c3d' but output_index 0 is item 'msg_9f8e7d'") == \
        "item_id <s> but output_index <n> is item <s>"
    assert shape("id resp_7c9e0a12 changed to resp_ff00aa11") == "id <id> changed to <id>"
    assert shape('expected "completed", got "failed"') == "expected <s>, got <s>"
    # The words that say what is wrong stay: two different defects of one check are two causes.
    assert shape("the body has no `error` field") != shape("`error` is a list, not an object")


def test_causes_group_across_scenarios_and_steps_must_first_then_by_count() -> None:
    records = [
        record("a", "usage.total_is_sum", "total_tokens 3 but input_tokens + output_tokens = 2"),
        record("b", "usage.total_is_sum", "total_tokens 9 but input_tokens + output_tokens = 8", step="poll"),
        record("b", "ids.item_id_matches", "item_id 'msg_1a' but output_index 0 is item 'msg_2b'"),
        record("b", "ids.item_id_matches", "item_id 'msg_3c' but output_index 0 is item 'msg_2b'"),
        # The checker's summary of what its per-cause cap folded counts toward the same cause.
        record("b", "ids.item_id_matches", "and 15 more like it (ids.item_id_matches at $.x; the first 2 are listed)"),
        {**record("c", "framing.event_name_present", "event 4 has no event: line"), "severity": "should"},
        {**record("d", "consistency.tool_called", "no function_call item in the output"), "model_behaviour": True},
        {**record("e", "usage.nonzero", "usage is all zero"), "known": True},
    ]
    causes = results_mod.causes(records)
    assert [(c.check, c.tier, c.count, c.scenarios) for c in causes] == [
        ("ids.item_id_matches", "must", 17, ["b"]),
        ("usage.total_is_sum", "must", 2, ["a", "b"]),
        ("framing.event_name_present", "should", 1, ["c"]),
        ("usage.nonzero", "known", 1, ["e"]),
        ("consistency.tool_called", "model behaviour", 1, ["d"]),
    ]
    found = [c.to_json() for c in causes]
    assert found[0]["example"]["message"].startswith("item_id 'msg_1a'")  # a listed one, not the summary
    assert found[1]["example"] == {"scenario": "a", "step": None, "event_index": None, "path": "$.x",
                                   "message": "total_tokens 3 but input_tokens + output_tokens = 2", "transcript": None}
    # Model behaviour is a cause of its own and never MUST, whatever its check's severity.
    assert found[-1]["severity"] == "model behaviour" and found[-1]["model_behaviour"] is True
    assert found[-2]["known"] is True
    # The example can be chosen (the simplest scenario shows a cause best): here, b's first.
    preferred = results_mod.causes(records, prefer=lambda r: r["scenario"] != "b")
    assert preferred[1].check == "usage.total_is_sum" and preferred[1].example["scenario"] == "b"
    assert preferred[1].example["step"] == "poll"


def test_a_feature_is_broken_only_by_checks_that_concern_it() -> None:
    def scenario(sid: str, features: list[str], *checks: str) -> dict:
        return {"id": sid, "features": features, "status": "failed" if checks else "passed",
                "violations": [{"check": c, "severity": "must", "message": "x"} for c in checks]}

    table = report.feature_table([
        scenario("text-stream", ["streaming", "text"], "usage.total_is_sum"),
        scenario("tools-stream", ["tools", "streaming"], "usage.total_is_sum"),
        scenario("error-no-key", ["errors"], "error.envelope_shape"),
        scenario("reasoning-a", ["reasoning", "streaming"], "framing.http_status_ok"),
        scenario("reasoning-b", ["reasoning", "streaming", "include"], "framing.http_status_ok"),
        scenario("text-stream-2", ["streaming", "text"], "ids.item_id_matches"),
    ])
    # Usage arithmetic broken everywhere is no feature's fault: the features work, "but see".
    assert table["text"]["status"] == "supported" and "usage.total_is_sum" in table["text"]["see"]
    assert hr.feature_note(table["tools"]) == "works, but see: usage.total_is_sum"
    # An error check concerns the error envelope; a stream check, streaming.
    assert table["errors"]["broken_by"] == ["error.envelope_shape"]
    assert "ids.item_id_matches" in table["streaming"]["broken_by"]
    # A check about every answer that fails only where reasoning is asked for breaks reasoning,
    # the narrowest feature that holds its failures, not streaming.
    assert table["reasoning"]["broken_by"] == ["framing.http_status_ok"]
    assert "framing.http_status_ok" not in table["streaming"].get("broken_by", [])
    assert hr.feature_note(table["reasoning"]) == "broken: framing.http_status_ok"


# -- the evidence ---------------------------------------------------------------------------------
def test_every_basis_id_the_registry_cites_has_an_entry() -> None:
    cited = evidence.cited()
    assert {"SPEC", "OR", "OBS", "SDK-PY", "SDK-JS", "F-04", "A-01", "I-02", "spec-notes section 7"} <= set(cited)
    missing = sorted(set(cited) - set(evidence.ENTRIES))
    assert not missing, f"basis ids without an entry in evidence.py (docs/evidence.md): {missing}"
    # Every real bug links a public thread; every entry says something.
    for entry in evidence.ENTRIES.values():
        assert entry.title and len(entry.text) > 40, entry.id
        if re.fullmatch(r"[A-M]-\d\d", entry.id):
            assert entry.links, entry.id
            assert all(url.startswith("https://github.com/") for _, url in entry.urls())


def test_docs_evidence_md_is_generated_and_resolves_every_id() -> None:
    doc = (ROOT / "docs" / "evidence.md").read_text()
    assert doc == evidence.render(), \
        "docs/evidence.md is stale: run `python -m responses_conformance.evidence > docs/evidence.md`"
    headings = {evidence.anchor(h) for h in re.findall(r"(?m)^### (.+)$", doc)}
    for entry_id in evidence.cited():
        assert evidence.anchor(entry_id) in headings, entry_id
    assert "[D-01](" not in doc or "github.com" in doc  # threads are links
    assert "https://github.com/BerriAI/litellm/issues/30071" in doc  # D-01's thread


def test_checks_md_links_every_basis_id_to_its_entry() -> None:
    text = (ROOT / "CHECKS.md").read_text()
    headings = {evidence.anchor(h) for h in re.findall(r"(?m)^### (.+)$", (ROOT / "docs" / "evidence.md").read_text())}
    links = re.findall(r"\[([^\]]+)\]\(docs/evidence\.md#([^)]+)\)", text)
    assert links
    assert all(anchor in headings for _, anchor in links)
    for check in registry.CHECKS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{check.id}` |"))
        basis = row.rsplit(" | ", 1)[1]
        for entry_id in evidence.ids_in(check.basis):
            assert f"[{entry_id}](docs/evidence.md#{evidence.anchor(entry_id)})" in basis, (check.id, entry_id)


def test_the_html_basis_links_each_id_to_its_entry_on_the_page() -> None:
    rendered = str(hr._basis(registry.BY_ID["usage.total_is_sum"].basis))
    assert rendered == ('<a class="rc-ev" href="#rc-ev-obs">OBS</a>: every capture '
                        '(<a class="rc-ev" href="#rc-ev-f-04">F-04</a>, <a class="rc-ev" href="#rc-ev-f-05">F-05</a>).')
    entries = hr.evidence_entries(["usage.total_is_sum"])
    assert [e["id"] for e in entries] == ["OBS", "F-04", "F-05"]
    assert entries[1]["doc"] == "docs/evidence.md#f-04"


# -- the three-fault run --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def three_faults(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The run, from the folder of another project (its own failing test beside it)."""
    cwd = tmp_path_factory.mktemp("causes")
    (cwd / "test_unrelated.py").write_text("def test_unrelated():\n    assert False\n")
    with ReferenceServer(faults=FAULTS) as server:
        code, output, _ = run_pytest(cwd, f"--target-url={server.base_url}", "--model=ref-model-1", "-v",
                                     env={"OPENAI_API_KEY": server.api_key})
    assert code == 1, output[-3000:]
    return {"cwd": cwd, "output": output, "page": (cwd / "reports" / "report.html").read_text(),
            "results": json.loads((cwd / "reports" / "results.json").read_text())}


def test_from_any_folder_only_the_suite_runs(three_faults: dict) -> None:
    output, data = three_faults["output"], three_faults["results"]
    assert "test_unrelated" not in output  # the other project's tests were not collected
    assert "FAILED" in output and "text-stream:usage.total_is_sum" in output
    assert "usage.total_is_sum  MUST  `total_tokens` equals" in output and "at $.response.usage.total_tokens" in output
    assert data["summary"]["verdict"] == "not conformant"
    # Every scenario with a finished response fails, and only on the three broken rules.
    assert {v["check"] for s in data["scenarios"] for v in s["violations"]} == set(CAUSES)
    assert {s["status"] for s in data["scenarios"]} == {"passed", "failed"}
    violation = next(v for s in data["scenarios"] for v in s["violations"] if v["check"] == "usage.total_is_sum")
    assert violation == {**violation, "category": "usage", "severity": "must"}


def test_the_terminal_names_exactly_three_causes(three_faults: dict) -> None:
    output = three_faults["output"]
    headline = next(line for line in output.splitlines() if re.match(r"\d+ causes?: ", line))
    assert headline == ("3 causes: ids.item_id_matches in 20 scenarios, usage.total_is_sum in 31 scenarios, "
                        "error.envelope_shape in 14 scenarios")
    block = output[output.index(headline):]
    for check in CAUSES:
        assert re.search(rf"^  {re.escape(check)}  MUST  \d+ occurrences? in \d+ scenarios", block, re.M), check
    # One example each, and where to look: its transcript, its test item, its evidence.
    assert "    e.g. text-stream, event #" in block and "    e.g. text-nonstream: total_tokens" in block
    assert "look at: transcript reports/transcripts/text-stream.json; " \
           "test_check[text-stream:ids.item_id_matches]; evidence docs/evidence.md (SDK-JS, D-01, D-04)" in block
    # The features name what broke them.
    assert "broken streaming (ids.item_id_matches), errors (error.envelope_shape), websocket (ids.item_id_matches)" in output


def test_results_json_lists_the_three_causes(three_faults: dict) -> None:
    findings = three_faults["results"]["findings"]
    assert [f["check"] for f in findings] == CAUSES  # MUST first, then by count
    assert [f["count"] for f in findings] == sorted((f["count"] for f in findings), reverse=True)
    for f in findings:
        assert set(f) >= {"check", "severity", "count", "scenarios", "example"} and f["severity"] == "must"
        assert set(f["example"]) >= {"scenario", "step", "event_index", "message", "transcript"}
        assert (three_faults["cwd"] / "reports" / f["example"]["transcript"]).is_file()
    usage = findings[1]
    assert usage["example"]["scenario"] == "text-nonstream" and len(usage["scenarios"]) == 31
    assert usage["count"] == sum(1 for s in three_faults["results"]["scenarios"] for v in s["violations"]
                                 if v["check"] == "usage.total_is_sum")


def test_the_html_report_opens_with_the_three_causes(three_faults: dict) -> None:
    page = three_faults["page"]
    top = page[page.index('<section class="rc rc-summary"'):]
    causes = top[top.index('<ol class="rc-causes" id="rc-causes">'):]
    causes = causes[:causes.index("</ol>")]
    assert re.findall(r'<li class="rc-cause-item rc-s-failed" data-check="([^"]+)"', causes) == CAUSES
    assert top.index("rc-causes") < top.index("rc-matrix")
    assert "3 causes: <code>ids.item_id_matches</code> in 20 scenarios" in top
    # Each cause expands to its occurrences, capped, each one click from its finding block.
    usage = causes[causes.index('data-check="usage.total_is_sum"'):]
    usage = usage[:usage.index('<li class="rc-cause-item')]  # up to the next cause
    jumps = re.findall(r'<a class="rc-jump" href="#rc=[^"]+" data-key="([^"]+)" data-block="([^"]+)"', usage)
    assert len(jumps) == hr.SHOWN_OCCURRENCES and "… and 19 more scenarios" in usage
    for key, block in jumps:
        assert f'id="{block}"' in page and key.endswith(":usage.total_is_sum]")


def test_terminal_results_and_html_cite_the_same_step_transcript_and_command(three_faults: dict) -> None:
    # background-poll breaks usage.total_is_sum in its poll step (a GET), not in its create step.
    output, page = three_faults["output"], three_faults["page"]
    scenario = next(s for s in three_faults["results"]["scenarios"] if s["id"] == "background-poll")
    found = [v for v in scenario["violations"] if v["check"] == "usage.total_is_sum"]
    assert {v.get("step") for v in found} == {"poll"}
    step = next(s for s in scenario["steps"] if s["name"] == "poll")
    # The terminal: the failure text of the item.
    text = output[output.index("_ test_check[background-poll:usage.total_is_sum] _"):]
    text = text[:text.index("\n_")]
    terminal_transcript = re.search(r"^  transcript \(step poll\): (\S+)$", text, re.M).group(1)
    terminal_command = re.search(r"^  reproduce \(step poll\): (.+)$", text, re.M).group(1)
    assert "background-poll.create" not in text and "/responses/resp_" in terminal_command
    # results.json: the step's transcript (relative to results.json's folder).
    assert "reports/" + step["transcript"] == terminal_transcript
    # The HTML: the item's block, once, with the same transcript and command.
    node = next(n for n in re.findall(r"::test_check\[[^\]]+\]", page) if n.endswith("[background-poll:usage.total_is_sum]"))
    at = page.index(f'id="{hr.anchor(node)}"')
    block = page[page.rindex("<section", 0, at):page.index("</section>", at)]
    assert f"Transcript: <code>{terminal_transcript}</code>" in block
    assert "background-poll.create.json" not in block
    assert html.unescape(re.search(r'<div class="rc-curl">.*?<pre>(.*?)</pre>', block, re.S).group(1)) == terminal_command


def test_a_line_per_finished_scenario(three_faults: dict) -> None:
    output = three_faults["output"]
    assert "responses-conformance: 46 scenarios sent to http://127.0.0.1:" in output
    lines = re.findall(r"^  \[\s*(\d+)/46\] (\S+)\s+(passed|failed)", output, re.M)
    assert len(lines) == 46 and [int(n) for n, _, _ in lines] == list(range(1, 47))
    assert ("text-stream", "failed") in {(sid, status) for _, sid, status in lines}


# -- discovery --------------------------------------------------------------------------------------
def test_version_and_the_scenario_list(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["--version"]) == 0
    assert re.fullmatch(r"responses-conformance \S+\n", capsys.readouterr().out)
    assert cli.main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("46 scenarios (profile openai)") or re.match(r"\d+ scenarios \(profile openai\)", out)
    assert "text-stream  [streaming, text]" in out and "ids.item_id_matches" in out
    assert "background-poll  [background, state]; steps create, poll" in out
    assert cli.main(["scenarios", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    text_stream = next(s for s in data["scenarios"] if s["id"] == "text-stream")
    assert text_stream["features"] == ["streaming", "text"] and "sequence.contiguous" in text_stream["checks"]
    proc = subprocess.run([sys.executable, "-m", "responses_conformance.cli", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("responses-conformance ")


def test_the_progress_line_stays_off_a_pipe() -> None:
    import io

    stream = io.StringIO()
    line = report.ProgressLine(stream, every=0, after=0)
    line.update("replay: 3 transcripts checked")
    line.done()
    assert stream.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    line = report.ProgressLine(tty, every=0, after=0)
    line.update("replay: 3 transcripts checked")
    line.done()
    assert tty.getvalue().startswith("\rreplay: 3 transcripts checked (0 s)") and tty.getvalue().endswith("\r")


def test_model_behaviour_is_a_section_of_its_own_on_the_page() -> None:
    violations = [{"check": "usage.total_is_sum", "severity": "must", "message": "total_tokens 3 but input_tokens + "
                   "output_tokens = 2", "path": "$.usage.total_tokens", "event_index": None},
                  {"check": "consistency.tool_called", "severity": "must", "message": "no function_call item",
                   "path": "$", "event_index": None, "model_behaviour": True}]
    scenarios = [{"id": "s", "status": "failed", "kind": "response", "violations": violations}]
    results = {"summary": {"verdict": "not conformant"}, "target": {"url": "http://x/v1", "profile": "openai"},
               "scenarios": scenarios, "findings": [c.to_json() for c in results_mod.causes(
                   {**v, "scenario": "s"} for v in violations)]}
    page = hr.render_standalone(results, hr.findings_from_results(results, "."))
    top = page[page.index('id="rc-causes"'):]
    assert re.findall(r'data-check="([^"]+)"', top[:top.index("</ol>")]) == ["usage.total_is_sum"]
    model = page[page.index('id="rc-model-causes"'):]
    assert re.findall(r'data-check="([^"]+)"', model[:model.index("</ol>")]) == ["consistency.tool_called"]
    assert "Model behaviour: 1 cause" in page and "1 cause: <code>usage.total_is_sum</code>" in page
