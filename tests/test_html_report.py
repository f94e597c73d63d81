"""The HTML report: the top block, the matrix, the failure blocks, and the standalone page.

The live report is read as a browser would get it: the top block is plain HTML in the page,
the rows and their extras are pytest-html's JSON blob (`data-jsonblob`), parsed here with the
standard library. tests/test_browser.py renders the same page in headless Chromium.
"""
from __future__ import annotations

import glob
import html
import json
import re
import shutil
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import pytest

from responses_conformance import html_report as hr
from responses_conformance import replay
from responses_conformance.reference import ReferenceServer

from . import _targets
from .test_plugin import run_pytest

FAULTS = frozenset({"usage_total_wrong", "item_id_rotates"})
SELECTION = "text-stream or text-nonstream or error-no-key or tools-round-trip"


# -- reading pages ---------------------------------------------------------------------------------
class Page(HTMLParser):
    """Elements by id, the matrix cells, and every <a>, <script> and <link> of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: dict[str, dict[str, str | None]] = {}
        self.cells: dict[tuple[str, str], dict[str, str | None]] = {}
        self.links: list[dict[str, str | None]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.stylesheets: list[dict[str, str | None]] = []
        self.classes: list[str] = []
        self._matrix = False
        self._header: list[str] = []
        self._row: list[tuple[str, dict]] = []  # (text, attributes) of the current row's cells
        self._cell: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] = {"tag": tag, **a}
        self.classes += (a.get("class") or "").split()
        {"a": self.links, "script": self.scripts, "link": self.stylesheets}.get(tag, []).append(a)
        if tag == "table" and a.get("id") == "rc-matrix":
            self._matrix = True
        elif self._matrix and tag == "tr":
            self._row = []
        elif self._matrix and tag in ("th", "td"):
            self._cell = {"class": a.get("class"), "text": ""}
        elif self._matrix and tag == "a" and self._cell is not None:
            self._cell.update({k: v for k, v in a.items() if k != "class"})

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if not self._matrix:
            return
        if tag in ("th", "td") and self._cell is not None:
            self._row.append((self._cell["text"].strip(), self._cell))
            self._cell = None
        elif tag == "tr":
            if not self._header:
                self._header = [text for text, _ in self._row]
            else:
                scenario = self._row[0][0]
                for column, (_, cell) in zip(self._header[1:], self._row[1:]):
                    self.cells[(scenario, column)] = cell
        elif tag == "table":
            self._matrix = False

    def status(self, scenario: str, category: str) -> str:
        classes = (self.cells[(scenario, category)]["class"] or "").split()
        return next(c for c in classes if c.startswith("rc-s-"))[len("rc-s-"):]


def blob(page: str) -> dict:
    match = re.search(r'data-jsonblob="([^"]*)"', page)
    assert match, "pytest-html's data blob is missing"
    return json.loads(html.unescape(match.group(1)))


def node_id(data: dict, param: str) -> str:
    """The node id of `test_check[<param>]` (from another folder, pytest names it relative to it)."""
    return next(n for n in data["tests"] if n.endswith(f"::test_check[{param}]"))


def extras_html(data: dict, param: str) -> str:
    node = node_id(data, param)
    return "".join(e["content"] for t in data["tests"][node] for e in t["extras"] if e["format_type"] == "html")


def block_html(page: str, param: str) -> str:
    """An item's failure block: once in the page's findings section (its row only points to it)."""
    anchor = hr.anchor(node_id(blob(page), param))
    at = page.find(f'id="{anchor}"')
    if at < 0:
        return ""
    start = page.rindex("<section", 0, at)
    return page[start:page.index("</section>", at) + len("</section>")]


def summary_block(page: str) -> str:
    start = page.index('<section class="rc rc-summary"')
    return page[start:page.index("</section>", start)]


# -- a failing run of the live suite -------------------------------------------------------------
@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    cwd = tmp_path_factory.mktemp("failing")
    with ReferenceServer(faults=FAULTS) as server:
        code, output, _ = run_pytest(cwd, f"--target-url={server.base_url}", "--model=ref-model-1", "-k", SELECTION,
                                     env={"OPENAI_API_KEY": server.api_key})
        key = server.api_key
    assert code == 1, output
    page = (cwd / "reports" / "report.html").read_text()
    return {"cwd": cwd, "output": output, "page": page, "key": key,
            "results": json.loads((cwd / "reports" / "results.json").read_text())}


def test_the_top_block_shows_verdict_target_counts_matrix_and_features(failing_run: dict) -> None:
    page, results = failing_run["page"], failing_run["results"]
    top = summary_block(page)
    assert "Verdict: not conformant" in top
    assert results["target"]["url"] in top and "ref-model-1" in top and "<code>openai</code>" in top
    assert f"responses-conformance {results['suite']['version']}" in top
    assert results["generated_at"] in top
    # Counts are items (scenario x check), as pytest counts them.
    failed = int(re.search(r"(\d+) failed", failing_run["output"].splitlines()[-2]).group(1))
    passed = int(re.search(r"(\d+) passed", failing_run["output"].splitlines()[-2]).group(1))
    assert f"<strong>{failed}</strong> failed" in top and f"<strong>{passed}</strong> passed" in top
    assert "<strong>0</strong> warned" in top and "<strong>0</strong> errored" in top
    # The matrix: the broken categories fail where the faults show, the rest passes or does not apply.
    matrix = Page(page)
    assert matrix.status("text-stream", "ids") == "failed"
    assert matrix.status("text-stream", "usage") == "failed"
    assert matrix.status("text-stream", "sequence") == "passed"
    assert matrix.status("text-nonstream", "usage") == "failed"
    assert matrix.status("text-nonstream", "sequence") == "na"  # no stream: no sequence check
    assert matrix.status("error-no-key", "error") == "passed"
    assert matrix.status("error-no-key", "usage") == "na"
    assert ("instructions-stream", "usage") not in matrix.cells  # not selected: not a row
    # A failed cell links to its item's row and failure block.
    cell = matrix.cells[("text-stream", "ids")]
    node = node_id(blob(page), "text-stream:ids.item_id_matches")
    assert cell["data-row"] == node and cell["data-key"] == node
    assert cell["data-block"] == hr.anchor(node) and cell["href"] == "#rc=" + quote(node, safe="/")
    assert "data-row" not in matrix.cells[("text-stream", "sequence")]  # a passing cell is no link
    # The features table, from results.json: a feature is broken only by checks that concern it,
    # and says which; the others work, and name what else their scenarios broke.
    assert re.search(r"<th>streaming</th>\s*<td class=\"rc-f-broken\">broken</td>\s*"
                     r"<td class=\"rc-f-note\">broken: ids.item_id_matches</td>", top)
    assert re.search(r"<th>text</th>\s*<td class=\"rc-f-supported\">supported</td>\s*"
                     r"<td class=\"rc-f-note\">works, but see: ids.item_id_matches, usage.total_is_sum</td>", top)
    assert re.search(r"<th>errors</th>\s*<td class=\"rc-f-supported\">supported", top)
    assert re.search(r"<th>tools</th>\s*<td class=\"rc-f-supported\">supported</td>\s*"
                     r"<td class=\"rc-f-note\">works, but see: ids.item_id_matches, usage.total_is_sum</td>", top)
    features = failing_run["results"]["features"]
    assert features["streaming"]["broken_by"] == ["ids.item_id_matches"] and "broken_by" not in features["tools"]
    # Each check once, from results.json's checks table: the broken ones failed, those the four
    # scenarios judged passed, the others (WebSocket mode, other scenarios' assertions) not tested.
    table = {c["id"]: c["status"] for c in results["checks"]}
    assert table["usage.total_is_sum"] == table["ids.item_id_matches"] == "failed"
    assert table["sequence.increasing"] == table["error.status_fits"] == "passed"
    assert table["framing.ws_text_frames"] == table["consistency.background_lifecycle"] == "not tested"
    counted = [(s, sum(1 for v in table.values() if v == s)) for s in ("failed", "warned", "passed", "not tested")]
    assert ("Checks of the profile, each once: " + ", ".join(f"<strong>{n}</strong> {s}" for s, n in counted if n)
            + ".") in top
    assert "<code>framing.ws_text_frames</code>" in top and "<code>sequence.increasing</code>" not in top


def test_a_failure_block_shows_the_stream_around_the_offending_event(failing_run: dict) -> None:
    page = failing_run["page"]
    data = blob(page)
    node = node_id(data, "text-stream:ids.item_id_matches")
    block = block_html(page, "text-stream:ids.item_id_matches")
    scenario = next(s for s in failing_run["results"]["scenarios"] if s["id"] == "text-stream")
    first = next(v for v in scenario["violations"] if v["check"] == "ids.item_id_matches")
    parsed = Page(block)
    assert parsed.ids[hr.anchor(node)]["data-check"] == "ids.item_id_matches"
    assert "<code>ids.item_id_matches</code> <span class=\"rc-severity\">MUST</span>" in block
    assert "An event's <code>item_id</code> is the id of the item at its <code>output_index</code>." in block
    assert '<a class="rc-ev" href="#rc-ev-sdk-js">SDK-JS</a>' in block  # the basis, linked to its evidence
    assert 'id="rc-ev-sdk-js"' in page and 'id="rc-ev-d-01"' in page
    # The timeline: the offending event highlighted, with its coordinates and JSON path.
    row = re.search(r'<tr class="rc-event rc-offending" data-index="(\d+)">(.*?)</tr>', block, re.S)
    assert row and int(row.group(1)) == first["event_index"]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(2), re.S)
    assert cells[0] == str(first["event_index"]) and "response.output_text.delta" in cells[1]
    assert cells[2] == str(first["sequence_number"]) and cells[3] == "0" and cells[4] == "0"
    assert cells[5].startswith("msg_")
    assert '<code class="rc-path">$.item_id</code>' in block
    assert first["message"] in html.unescape(block)
    assert "The stream: " in block and "event hidden" in block  # the window says what it leaves out
    # The request, the command that repeats it, the transcript.
    assert "POST " + failing_run["results"]["target"]["url"] + "/responses" in block
    assert "Authorization: [REDACTED]" in block
    assert "curl -sS -N" in block and "$OPENAI_API_KEY" in block
    assert "Transcript: <code>reports/transcripts/text-stream.json</code>" in block
    # One rendering per failure: the row points to the block and shows no raw copy of the text.
    row = data["tests"][node][0]
    assert row["log"] == "" and f'data-block="{hr.anchor(node)}"' in extras_html(data, "text-stream:ids.item_id_matches")
    assert page.count(f'id="{hr.anchor(node)}"') == 1
    # Passing items carry no block and have no row; a non-streamed failure shows its body at the path.
    assert block_html(page, "text-stream:sequence.increasing") == ""
    assert data["tests"][node_id(data, "text-stream:sequence.increasing")] == []
    body = block_html(page, "text-nonstream:usage.total_is_sum")
    assert "The response body (HTTP 200)" in body and '<code class="rc-path">$.usage.total_tokens</code>' in body
    # A multi-step scenario shows the step each violation happened in.
    steps = block_html(page, "tools-round-trip:usage.total_is_sum")
    assert "Step <code>call</code>" in steps and "Step <code>answer</code>" in steps
    assert "tools-round-trip.call.json" in steps and "tools-round-trip.answer.json" in steps


def test_the_key_reaches_no_part_of_the_page(failing_run: dict) -> None:
    assert failing_run["key"] not in failing_run["page"]
    assert "[REDACTED]" in failing_run["page"]


def test_the_page_is_self_contained(failing_run: dict) -> None:
    page = Page(failing_run["page"])
    assert all(not s.get("src") for s in page.scripts) and not page.stylesheets
    assert "a.rc-jump" in failing_run["page"]  # our script, inline
    external = [a["href"] for a in page.links if (a.get("href") or "").startswith(("http:", "https:", "//"))]
    assert external == ["https://pypi.python.org/pypi/pytest-html"]  # pytest-html's credit line only


# -- statuses other than failed --------------------------------------------------------------------
def test_a_target_that_is_down_shows_errored_cells_and_the_cause(tmp_path: Path) -> None:
    code, _, _ = run_pytest(tmp_path, f"--target-url={_targets.closed_port_url()}", "-k", "text-stream")
    assert code == 6
    page = (tmp_path / "reports" / "report.html").read_text()
    matrix = Page(page)
    # The preflight request ended the run: no item ran, and the matrix still shows what could
    # not be tested, under the one cause.
    assert {matrix.status("text-stream", c) for c in hr.matrix_categories()} == {"errored"}
    assert "Verdict: could not test" in page
    checks = json.loads((tmp_path / "reports" / "results.json").read_text())["checks"]
    assert f"Checks of the profile, each once: <strong>{len(checks)}</strong> not tested." in page
    assert "Cause: cannot reach 127.0.0.1:" in page
    assert ("text-nonstream", "ids") not in matrix.cells  # not selected: not in the matrix


def test_a_baselined_failure_is_known_and_keeps_its_block(tmp_path: Path) -> None:
    (tmp_path / "baseline.txt").write_text("usage.total_is_sum  # off by one, upstream bug\n")
    with ReferenceServer(faults=frozenset({"usage_total_wrong"})) as server:
        code, output, _ = run_pytest(tmp_path, f"--target-url={server.base_url}", "--model=ref-model-1",
                                     "-k", "text-stream", "--baseline=baseline.txt",
                                     env={"OPENAI_API_KEY": server.api_key})
    assert code == 0, output
    page = (tmp_path / "reports" / "report.html").read_text()
    matrix = Page(page)
    assert matrix.status("text-stream", "usage") == "known"
    assert matrix.status("text-stream", "ids") == "passed"
    assert "<strong>1</strong> known" in summary_block(page)
    block = block_html(page, "text-stream:usage.total_is_sum")
    assert 'rc-finding rc-s-known' in block and "rc-offending" in block


# -- the timeline ----------------------------------------------------------------------------------
def events(n: int) -> list[dict]:
    return [{"index": i, "event": "response.output_text.delta",
             "data": {"type": "response.output_text.delta", "sequence_number": i, "item_id": "msg_1",
                      "output_index": 0, "content_index": 0, "delta": "x"}} for i in range(n)]


def violation(index: int, path: str = "$.sequence_number") -> dict:
    return {"check": "sequence.contiguous", "severity": "must", "message": f"wrong at {index}", "path": path,
            "event_index": index, "event_type": "response.output_text.delta", "sequence_number": index}


def test_a_huge_stream_shows_windows_and_says_how_many_events_are_hidden() -> None:
    t = hr.timeline(events(10_000), [violation(5000), violation(9000)])
    shown = [r for r in t["rows"] if r["kind"] == "event"]
    gaps = [r for r in t["rows"] if r["kind"] == "gap"]
    assert [r["index"] for r in shown] == [*range(4997, 5004), *range(8997, 9004)]
    assert [r["index"] for r in shown if r["offending"]] == [5000, 9000]
    assert [(g["hidden"], g["first"], g["last"]) for g in gaps] == [(4997, 0, 4996), (3993, 5004, 8996),
                                                                    (996, 9004, 9999)]
    assert len(shown) + sum(g["hidden"] for g in gaps) == t["total"] == 10_000
    mark = next(r for r in shown if r["offending"])["marks"][0]
    assert mark == {**mark, "path": "$.sequence_number", "found": True, "value": "5000"}


def test_many_offending_events_stay_within_the_row_limit() -> None:
    t = hr.timeline(events(3000), [violation(i) for i in range(0, 3000, 10)])
    assert sum(1 for r in t["rows"] if r["kind"] == "event") <= hr.MAX_TIMELINE_ROWS
    assert t["windows_not_shown"] > 0


def test_a_finding_about_the_whole_stream_shows_its_end() -> None:
    t = hr.timeline(events(50), [{**violation(0), "event_index": None}])
    assert t["whole"] and [r["index"] for r in t["rows"] if r["kind"] == "event"] == list(range(43, 50))


def test_without_recorded_events_the_offending_ones_come_from_the_excerpts() -> None:
    v = {**violation(7, "$.item_id"), "excerpt": json.dumps(events(8)[7]["data"])}
    t = hr.timeline(None, [v])
    assert not t["recorded"] and [r["index"] for r in t["rows"]] == [7]
    assert t["rows"][0]["item_id"] == "msg_1" and t["rows"][0]["marks"][0]["value"] == "msg_1"


@pytest.mark.parametrize("path, found, value", [
    ("$.response.usage.total_tokens", True, 18), ("$.output[1].id", True, "b"), ("$['odd key']", True, 1),
    ("$.missing", False, None), ("$.output[5]", False, None), ("$", True, None)])
def test_value_at(path: str, found: bool, value: object) -> None:
    data = {"response": {"usage": {"total_tokens": 18}}, "output": [{"id": "a"}, {"id": "b"}], "odd key": 1}
    got = hr.value_at(data, path)
    assert got[0] is found and (path == "$" or got[1] == value)


# -- the standalone page ---------------------------------------------------------------------------
def test_render_standalone_from_results_json(failing_run: dict) -> None:
    reports = failing_run["cwd"] / "reports"
    results = failing_run["results"]
    findings = hr.findings_from_results(results, reports)
    assert {(f.scenario, f.check) for f in findings} == {(s["id"], v["check"]) for s in results["scenarios"]
                                                          for v in s["violations"]}
    text = hr.render_standalone(results, findings)
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>") and "Verdict: not conformant" in text
    assert all(not s.get("src") for s in page.scripts) and not page.stylesheets
    assert not [a for a in page.links if (a.get("href") or "").startswith(("http:", "https:", "//"))]
    # The same matrix, linking to blocks of this page.
    assert page.status("text-stream", "ids") == "failed" and page.status("text-nonstream", "sequence") == "na"
    cell = page.cells[("text-stream", "ids")]
    assert cell["data-block"] in page.ids and "data-row" not in cell
    block = page.ids[cell["data-block"]]
    assert block["tag"] == "section" and block["data-check"] == "ids.item_id_matches"
    assert "rc-offending" in page.classes and "rc-curl" in page.classes
    assert "tools-round-trip.answer.json" in text  # multi-step transcripts found through results.json
    assert failing_run["key"] not in text


def test_render_standalone_escapes_what_the_target_sent() -> None:
    evil = "<script>alert(1)</script>"
    results = {"summary": {"verdict": "not conformant"}, "target": {"url": "http://x/v1", "profile": "openai"},
               "scenarios": [{"id": "s", "description": evil, "status": "failed", "kind": "stream",
                              "violations": [violation(1)]}]}
    finding = hr.Finding(key="s:sequence.contiguous", scenario="s", check="sequence.contiguous", severity="must",
                         violations=[{**violation(1), "message": evil}],
                         exchanges=[hr.ExchangeView(events=[{"index": 1, "event": evil, "data": {"type": evil}}],
                                                    curl=f"curl {evil}", request={"method": "POST", "url": evil})])
    text = hr.render_standalone(results, [finding])
    assert evil not in text and html.escape(evil) in text
    assert text.count("<script>") == 1  # ours


def test_items_from_results_rank_statuses() -> None:
    results = {"target": {"profile": "openai"}, "scenarios": [
        {"id": "a", "status": "passed", "kind": "stream",
         "violations": [{**violation(1), "check": "framing.event_name_present", "severity": "should"}]},
        {"id": "b", "status": "errored", "kind": "stream", "violations": []},
        {"id": "c", "status": "skipped", "kind": "response", "violations": []},
        {"id": "d", "status": "passed", "kind": "stream", "violations": [{**violation(1), "known": True}]},
        {"id": "e", "status": "skipped", "reason": "not selected", "violations": []}]}
    items = hr.items_from_results(results)
    by = {(i.scenario, i.check): i.status for i in items}
    assert by[("a", "framing.event_name_present")] == "warned" and by[("a", "sequence.contiguous")] == "passed"
    assert set(s for (sc, _), s in by.items() if sc == "b") == {"errored"}
    assert set(s for (sc, _), s in by.items() if sc == "c") == {"skipped"}
    assert by[("d", "sequence.contiguous")] == "known"
    assert not any(sc == "e" for sc, _ in by)
    page = Page(hr.render_standalone(results, []))
    assert page.status("a", "framing") == "warned" and page.status("a", "sequence") == "passed"
    assert page.status("b", "usage") == "errored" and page.status("d", "sequence") == "known"
    assert page.status("c", "sequence") == "na" and page.status("c", "usage") == "skipped"


def test_items_a_scenario_did_not_judge_are_skipped_as_their_pytest_items_were() -> None:
    """A scenario that failed on its first step and could not test its second (a retrieve): its
    items of what only the second step judges are skipped, not passed (results.Judgement)."""
    failing = {**violation(1), "check": "usage.total_is_sum"}
    results = {"target": {"profile": "openai"}, "scenarios": [
        {"id": "state-retrieve", "status": "failed", "error": "step get: no answer", "steps_run": 2,
         "steps_total": 2, "violations": [failing]},
        {"id": "text-stream", "status": "passed", "steps_run": 1, "steps_total": 1, "violations": []}]}
    by = {(i.scenario, i.check): i.status for i in hr.items_from_results(results)}
    assert by[("state-retrieve", "usage.total_is_sum")] == "failed"
    assert by[("state-retrieve", "sequence.increasing")] == "passed"  # the streamed first step
    assert by[("state-retrieve", "schema.response")] == "skipped"  # only the retrieve is non-streamed
    assert by[("state-retrieve", "consistency.retrieve_matches_final")] == "skipped"
    assert {s for (sid, _), s in by.items() if sid == "text-stream"} == {"passed"}


# -- what replay will call -------------------------------------------------------------------------
def test_replay_inputs_render_the_same_page(failing_run: dict, tmp_path: Path) -> None:
    records = sorted(glob.glob(str(failing_run["cwd"] / "reports" / "transcripts" / "*.json")))
    raw = tmp_path / "capture.sse"
    shutil.copy(failing_run["cwd"] / "reports" / "transcripts" / "text-stream.sse", raw)
    transcripts = list(replay.iter_transcripts([*records, str(raw)]))
    results, findings = hr.replay_inputs(transcripts, profile="openai", notes=[("x.sse", "a note")])
    text = hr.render_standalone(results, findings)
    page = Page(text)
    assert "Verdict: not conformant" in text and "replay of " in text and "x.sse: a note" in text
    recorded = next(f for f in findings if f.check == "ids.item_id_matches" and f.scenario.endswith("text-stream.json[0]"))
    captured = next(f for f in findings if f.check == "ids.item_id_matches" and f.scenario == f"{raw}[0]")
    for finding in (recorded, captured):
        assert finding.anchor in page.ids and page.status(finding.scenario, "ids") == "failed"
    first = next(v for v in recorded.violations)
    assert f'data-index="{first["event_index"]}"' in hr.finding_html(recorded)
    assert "curl -sS -N" in hr.finding_html(recorded)
    assert "The events were not recorded" in hr.finding_html(captured)
    assert f'data-index="{first["event_index"]}"' in hr.finding_html(captured)


def test_the_templates_are_package_data() -> None:
    folder = resources.files("responses_conformance") / "templates"
    names = {p.name for p in folder.iterdir()}
    assert {"summary.html.j2", "finding.html.j2", "page.html.j2", "report.css", "report.js"} <= names

