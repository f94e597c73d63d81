"""`responses-conformance replay`: captured traffic checked offline, in constant memory.

Real traffic passes (the January capture: its lost-brace error body as an error envelope, then
seven streams; every recorded stream); hand-broken copies fire exactly the checks of what was
broken; every kind of input is recognised whatever the chunking; garbage, empty, binary and
truncated input gives a verdict or one line, never a traceback; and what the live suite writes
to reports/transcripts/ replays to exactly the live verdicts, broken servers included.
"""
from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from responses_conformance import cli
from responses_conformance.capture import CaptureError, CaptureReader, Transcript
from responses_conformance.engine.schemas import SchemaSet
from responses_conformance.http import Limits
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer
from responses_conformance.replay import load_schemas, replay_record
from responses_conformance.runner import Runner, Target
from responses_conformance.scenarios import load_all

FIXTURES = Path(__file__).parent / "fixtures"
JANUARY = FIXTURES / "openai" / "openai-capture-2026-01.txt"
RECORDED = sorted((FIXTURES / "recorded").glob("*.chunks.txt"))
REPLAY = FIXTURES / "replay"
sys.path.insert(0, str(REPLAY))
import make_fixtures  # noqa: E402  (tests/fixtures/replay/make_fixtures.py)

# broken copy -> [per transcript: (MUST checks, SHOULD checks)]
BROKEN = {
    "jan-usage-total-wrong.sse": [({"usage.total_is_sum"}, set())],
    "jan-no-output-text-done.sse": [({"grammar.text_done_once"}, {"sequence.contiguous"})],
    "jan-sequence-repeat.sse": [({"sequence.increasing"}, {"sequence.contiguous"})],
    "jan-event-name-mismatch.sse": [({"framing.event_name_matches_type"}, set())],
    "jan-truncated.sse": [(set(), set())],  # cut mid-event: a note that the capture may be truncated
    "jan-two-streams-second-item-id.sse": [(set(), set()), ({"ids.item_id_matches"}, set())],
    # One cause, one finding: a stream that ends on an `error` event is judged by the error check alone.
    "openai-error-no-failed.chunks.txt": [({"error.event_followed_by_failed"}, set())],
    "error-envelope-no-type.json": [({"error.envelope_shape"}, set())],
    "response-usage-total-wrong.json": [({"usage.total_is_sum"}, set())],
    "reference-usage-total-wrong.har": [({"usage.total_is_sum"}, set()), ({"usage.total_is_sum"}, set()),
                                        (set(), set()), (set(), set())],
}


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return load_schemas("openai")


def replay_bytes(data: bytes, schemas, *, chunk: int = 65536, source: str = "capture",
                 profile: str = "openai") -> tuple[list[Transcript], CaptureReader]:
    reader = CaptureReader(source, schemas=schemas, profile=profile)
    out: list[Transcript] = []
    for start in range(0, len(data), chunk):
        out += reader.feed(data[start:start + chunk])
    out += reader.close()
    return out, reader


def findings(transcript: Transcript) -> tuple[set[str], set[str]]:
    must = {v.check for v in transcript.violations if v.severity.value == "must"}
    return must, {v.check for v in transcript.violations if v.severity.value == "should"}


def summary(transcripts: list[Transcript]) -> list[tuple]:
    return [(t.index, t.kind, t.verdict, t.response_id, t.events,
             sorted((v.check, v.event_index, v.message) for v in t.violations)) for t in transcripts]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(["replay", *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- real traffic passes --------------------------------------------------------------------------
def test_january_capture_is_an_error_envelope_then_seven_passing_streams(schemas) -> None:
    transcripts, reader = replay_bytes(JANUARY.read_bytes(), schemas)
    assert [t.kind for t in transcripts] == ["error"] + ["stream"] * 7
    assert [t.verdict for t in transcripts] == ["pass"] * 8, [t.violations for t in transcripts]
    assert reader.kinds == ["json", "sse"]
    error = transcripts[0]
    assert any("truncated" in note and "'}'" in note for note in error.notes), error.notes
    assert all(t.response_id and t.response_id.startswith("resp_") for t in transcripts[1:])
    assert len({t.response_id for t in transcripts[1:]}) == 7
    assert [t.events for t in transcripts[1:]] == [25, 14, 14, 13, 16, 13, 13]


@pytest.mark.parametrize("path", RECORDED, ids=[p.name.split(".")[0] for p in RECORDED])
def test_recorded_streams_pass(path: Path, schemas) -> None:
    transcripts, reader = replay_bytes(path.read_bytes(), schemas)
    assert reader.kinds == ["jsonl"]
    assert [(t.kind, t.verdict) for t in transcripts] == [("stream", "pass")], transcripts[0].violations
    assert transcripts[0].events == len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
def test_the_result_does_not_depend_on_the_chunking(chunk: int, schemas) -> None:
    for path in (JANUARY, RECORDED[0], REPLAY / "reference.har", REPLAY / "jan-two-streams-second-item-id.sse"):
        data = path.read_bytes()
        whole, _ = replay_bytes(data, schemas, chunk=len(data))
        split, _ = replay_bytes(data, schemas, chunk=chunk)
        assert summary(split) == summary(whole), (path.name, chunk)


def test_json_lines_hold_several_streams_one_after_another(schemas) -> None:
    data = b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in RECORDED)
    transcripts, _ = replay_bytes(data, schemas)
    assert [t.verdict for t in transcripts] == ["pass"] * len(RECORDED)


def test_sse_streams_split_only_at_response_created_after_the_end(schemas) -> None:
    streams = make_fixtures.january_streams()
    # Without its terminal event, a stream runs into the next: one transcript, two responses in it.
    cut = streams[0][:streams[0].index(b"event: response.completed")]
    transcripts, _ = replay_bytes(cut + streams[1], schemas)
    assert len(transcripts) == 1
    assert "grammar.lifecycle_event_once" in findings(transcripts[0])[0]


def test_gzip_input_is_read_as_what_it_holds(schemas) -> None:
    transcripts, _ = replay_bytes(gzip.compress(JANUARY.read_bytes()), schemas, chunk=1000)
    assert [t.verdict for t in transcripts] == ["pass"] * 8


def test_a_truncated_gzip_capture_checks_what_is_there(schemas) -> None:
    data = gzip.compress(JANUARY.read_bytes())
    transcripts, reader = replay_bytes(data[:len(data) // 2], schemas, chunk=777)
    assert transcripts[0].kind == "error"
    assert [t.verdict for t in transcripts] == ["pass"] * len(transcripts)  # a cut capture is not the server's fault
    assert any("may be truncated" in note for note in transcripts[-1].notes), transcripts[-1].notes
    assert any("gzip data ends early" in note for note in reader.notes)


def test_a_byte_order_mark_and_crlf_line_ends_are_fine(schemas) -> None:
    data = b"\xef\xbb\xbf" + b"".join(make_fixtures.january_streams()).replace(b"\n", b"\r\n")
    transcripts, _ = replay_bytes(data, schemas, chunk=5)
    assert [t.verdict for t in transcripts] == ["pass"] * 7


# -- hand-broken copies fire the matching checks ----------------------------------------------------
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_copies_fire_the_matching_checks(name: str, schemas) -> None:
    transcripts, _ = replay_bytes((REPLAY / name).read_bytes(), schemas)
    assert [findings(t) for t in transcripts] == BROKEN[name]
    for transcript, (must, should) in zip(transcripts, BROKEN[name]):
        assert transcript.verdict == ("fail" if must else "warn" if should else "pass")


def test_broken_copies_are_what_make_fixtures_writes() -> None:
    for name, data in make_fixtures.broken_copies().items():
        assert (REPLAY / name).read_bytes() == data, f"{name} is stale: run tests/fixtures/replay/make_fixtures.py"


def test_har_from_a_live_reference_server(tmp_path: Path, schemas) -> None:
    with ReferenceServer() as server:
        clean = make_fixtures.build_har(server.base_url, server.api_key, DEFAULT_MODEL)
    with ReferenceServer(faults=frozenset({"usage_total_wrong"})) as server:
        broken = make_fixtures.build_har(server.base_url, server.api_key, DEFAULT_MODEL, binary_body=True)
    transcripts, reader = replay_bytes(json.dumps(clean, indent=1).encode(), schemas, chunk=333)
    assert reader.kinds == ["har"]
    assert [(t.kind, t.verdict) for t in transcripts] == [("stream", "pass"), ("response", "pass"),
                                                          ("error", "pass"), ("error", "pass")]
    assert any("1 HAR entry skipped" in note for note in reader.notes)
    transcripts, _ = replay_bytes(json.dumps(broken).encode(), schemas, chunk=1000)
    assert [findings(t) for t in transcripts] == BROKEN["reference-usage-total-wrong.har"]


def test_a_truncated_har_checks_the_entries_before_the_cut(schemas) -> None:
    data = (REPLAY / "reference.har").read_bytes()
    cut = data[:data.index(b'"no-such-model')]
    transcripts, reader = replay_bytes(cut, schemas)
    assert [(t.kind, t.verdict) for t in transcripts] == [("stream", "pass"), ("response", "pass"), ("error", "pass")]
    assert any("truncated" in note for note in reader.notes)


# -- every kind of input, recognised ----------------------------------------------------------------
def test_json_bodies_one_after_another_then_a_stream(schemas) -> None:
    response = (REPLAY / "response-usage-total-wrong.json").read_bytes()
    envelope = (b'{"error": {"message": "No such model", "type": "invalid_request_error", "param": "model", '
                b'"code": null}}')
    stream = make_fixtures.january_streams()[0]
    transcripts, reader = replay_bytes(response + envelope + b"\n" + stream, schemas, chunk=11)
    assert [(t.kind, t.verdict) for t in transcripts] == [("response", "fail"), ("error", "pass"), ("stream", "pass")]
    assert transcripts[0].response_id and transcripts[0].response_id.startswith("resp_")
    assert reader.kinds == ["json", "json", "sse"]


@pytest.mark.parametrize("data, kind, must", [
    (b'{"error": "flat"}', "error", {"error.envelope_shape"}),
    (b'{"id": "resp_1", "status": "completed"}', "response", {"schema.response", "usage.present"}),
    (b"data: [DONE]\n\n", "stream", {"grammar.terminal_event_present"}),
    (b"event: x\ndata: not json\n\n", "stream", {"framing.data_is_json_object", "grammar.terminal_event_present"}),
    (b"data: \xff\xfe\xfd\n\n", "stream", {"framing.sse_well_formed", "framing.data_is_json_object",
                                           "grammar.terminal_event_present"}),
])
def test_odd_inputs_get_a_verdict(data: bytes, kind: str, must: set[str] | None, schemas) -> None:
    transcripts, _ = replay_bytes(data, schemas)
    assert [t.kind for t in transcripts] == [kind]
    assert transcripts[0].verdict == "fail"
    if must is not None:
        assert findings(transcripts[0])[0] == must


@pytest.mark.parametrize("data, kind", [
    (b'{"error": {"message": "x", "type": "server_error", "param": null, "code": null}', "error"),
    (b"data: {\"type\": \"response.created\"", "stream"),
    (b'{"type": "response.created", "sequence_number": 0', "stream"),  # one cut JSON-lines payload
    (b'{"type": "response.created", "sequence_number": 0}\n{"type": "response.in_prog', "stream"),
])
def test_a_capture_cut_short_is_a_note_not_a_violation(data: bytes, kind: str, schemas) -> None:
    for chunk in (65536, 1):
        transcripts, _ = replay_bytes(data, schemas, chunk=chunk)
        assert [t.kind for t in transcripts][-1:] == [kind]
        cut_rules = {"framing.sse_well_formed", "framing.data_is_json_object", "grammar.terminal_event_present",
                     "error.envelope_shape"}
        assert all(not findings(t)[0] & cut_rules for t in transcripts), [t.violations for t in transcripts]
        assert any("truncated" in note for t in transcripts for note in t.notes), [t.notes for t in transcripts]


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"   \n\n  ", "no Responses API traffic"),
    (b"hello, world\nthis is not a capture\n", "no Responses API traffic"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00", "binary"),
    (b"\xff\xfe{\x00}\x00", "UTF-16"),
    (gzip.compress(b"")[:-3], "the gzip data holds nothing"),
    (gzip.compress(b"x" * 100)[:15], "no Responses API traffic"),
    (b'{"log": {"version": "1.2", "entries": []}}', "HAR file holds no /responses exchange"),
])
def test_unreadable_inputs_are_one_line_errors(data: bytes, reason: str, schemas) -> None:
    for chunk in (65536, 1):
        with pytest.raises(CaptureError, match=reason) as raised:
            replay_bytes(data, schemas, chunk=chunk)
        assert "\n" not in str(raised.value)


def test_deep_nesting_and_huge_lines_do_not_crash(schemas) -> None:
    deep = b'{"type": "response.created", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    transcripts, _ = replay_bytes(deep, schemas)
    assert transcripts[0].verdict == "fail"
    deep_sse = b"data: " + b"[" * 100_000 + b"\n\n"
    transcripts, _ = replay_bytes(deep_sse, schemas)
    assert transcripts[0].verdict == "fail"


# -- the command line -----------------------------------------------------------------------------
def test_cli_passes_real_traffic_with_exit_0(capsys) -> None:
    code, out, err = run_cli([str(JANUARY), *map(str, RECORDED)], capsys)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("PASS  ") and lines[0].split()[2] == "error"
    assert sum(line.startswith("PASS ") for line in lines) == 8 + len(RECORDED)
    assert lines[-2].startswith(f"replayed {8 + len(RECORDED)} transcripts: {8 + len(RECORDED)} pass, 0 warn, 0 fail")
    assert lines[-1] == f"responses-conformance: CONFORMANT - {8 + len(RECORDED)} transcripts: {8 + len(RECORDED)} " \
                        "pass, 0 warn, 0 fail"


def test_cli_reports_violations_as_the_live_suite_does_with_exit_1(capsys) -> None:
    code, out, _ = run_cli([str(REPLAY / "jan-sequence-repeat.sse")], capsys)
    assert code == 1
    assert out.startswith("FAIL  ")
    assert "sequence.increasing  MUST  Each event's `sequence_number` is greater than the previous event's." in out
    assert "- event #7 response.output_text.delta (sequence_number 6), at $.sequence_number" in out
    assert "sequence_number 6 after 6" in out and "basis: OR: 'monotonically increasing'" in out
    assert "sequence.contiguous  SHOULD" in out


def test_cli_a_should_finding_alone_exits_0(tmp_path: Path, capsys) -> None:
    stream = make_fixtures._edit_data(make_fixtures.january_streams()[0], "response.completed",
                                      lambda p: {**p, "sequence_number": p["sequence_number"] + 1})
    path = tmp_path / "gap.sse"
    path.write_bytes(stream)
    code, out, _ = run_cli([str(path)], capsys)
    assert code == 0 and out.startswith("WARN  ")


def test_cli_json_document(capsys) -> None:
    code, out, _ = run_cli(["--json", str(JANUARY), str(REPLAY / "jan-two-streams-second-item-id.sse")], capsys)
    assert code == 1
    document = json.loads(out)
    assert document["summary"] == {"transcripts": 10, "pass": 9, "warn": 0, "fail": 1, "could_not_check": 0,
                                   "verdict": "not conformant", "exit_code": 1}
    first = document["transcripts"][0]
    assert {"source", "index", "kind", "response_id", "verdict", "violations"} <= set(first)
    assert (first["source"], first["index"], first["kind"], first["verdict"]) == (str(JANUARY), 0, "error", "pass")
    broken = document["transcripts"][-1]
    assert broken["index"] == 1 and broken["verdict"] == "fail"
    assert broken["violations"] and {"check", "category", "severity", "event_index", "message"} <= set(
        broken["violations"][0])
    assert broken["violations"][0]["check"] == "ids.item_id_matches"
    assert broken["violations"][0]["category"] == "ids" and broken["violations"][0]["severity"] == "must"


def test_cli_reads_standard_input(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(RECORDED[0].read_bytes())))
    code, out, _ = run_cli(["-"], capsys)
    assert code == 0 and out.startswith("PASS  -[0]  stream")


def test_cli_profile(capsys) -> None:
    # Open Responses requires data: [DONE] after the terminal event; OpenAI does not send it.
    code, out, _ = run_cli(["--profile", "openresponses", "--json", str(RECORDED[0])], capsys)
    checks = {v["check"] for t in json.loads(out)["transcripts"] for v in t["violations"]}
    assert code == 1 and "framing.done_sentinel_present" in checks


@pytest.mark.parametrize("args, reason", [
    ([], "the following arguments are required: FILE"),
    (["--profile", "nope", "x"], "invalid choice: 'nope'"),
    (["--what", "x"], "unrecognized arguments: --what"),
])
def test_cli_wrong_calls_exit_2_with_one_line(args: list[str], reason: str, capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["replay", *args])
    out, err = capsys.readouterr()
    assert raised.value.code == 2
    assert reason in err and len(err.strip().splitlines()) == 1


def test_cli_unreadable_inputs_exit_2_and_the_rest_is_still_checked(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "garbage.txt").write_bytes(b"lorem ipsum\n" * 10)
    paths = [str(tmp_path / "missing.sse"), str(tmp_path / "empty.txt"), str(tmp_path / "binary.bin"),
             str(tmp_path / "garbage.txt"), str(tmp_path), str(RECORDED[0])]
    code, out, err = run_cli(paths, capsys)
    assert code == 2
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 4
    assert "No such file or directory" in err and "binary data" in err
    assert "a folder without transcripts" in err and "no Responses API traffic found" in err
    assert "the input is empty: nothing to check" in out  # empty is not unreadable: a note
    assert "PASS  " in out and "; 4 input(s) could not be read" in out
    assert out.splitlines()[-1].startswith("responses-conformance: INPUT ERROR - 1 transcript: 1 pass")


def test_checks_and_serve_commands_still_work(capsys) -> None:
    assert cli.main(["checks"]) == 0
    assert "framing.http_status_ok" in capsys.readouterr().out
    assert cli.main(["serve", "--fault", "no-such-fault"]) == 2


# -- round trip: the live suite's transcripts replay to the live verdicts ---------------------------
ROUND_TRIP_FAULTS = [frozenset(), frozenset({"usage_total_wrong"}), frozenset({"sequence_gap", "text_mismatch"}),
                     frozenset({"content_type_json_on_stream"}), frozenset({"error_envelope_flat"}),
                     frozenset({"error_status_200"}), frozenset({"created_at_float"}),
                     frozenset({"event_name_mismatch", "no_output_text_done"})]


def live_run(faults: frozenset[str], reports: Path) -> Runner:
    with ReferenceServer(faults=faults) as server:
        runner = Runner(Target(server.base_url, server.api_key, DEFAULT_MODEL, embedded=True),
                        limits=Limits(timeout=10, idle_timeout=5), reports_dir=reports, schemas=SchemaSet.load())
        try:
            for scenario in load_all():
                result = runner.result(scenario)
                assert result.error is None, result.error
        finally:
            runner.close()
    return runner


def key(violations) -> Counter:
    return Counter((v.check, v.severity.value, v.event_index) for v in violations)


@pytest.mark.parametrize("faults", ROUND_TRIP_FAULTS, ids=lambda f: "+".join(sorted(f)) or "clean")
def test_live_transcripts_replay_to_the_live_verdicts(faults: frozenset[str], tmp_path: Path, schemas,
                                                     capsys) -> None:
    runner = live_run(faults, tmp_path)
    fired = exchanges = failed = 0
    for scenario_id, result in runner.results.items():
        for step in result.steps:  # one transcript pair per exchange (a step of the scenario)
            record_path = step.transcript["json"]
            replayed = replay_record(record_path, schemas=schemas, profile="openai")
            assert key(replayed.violations) == key(step.violations), (scenario_id, step.step.name)
            recorded = json.loads(record_path.read_text(encoding="utf-8"))["violations"]
            assert Counter((v["check"], v["severity"], v["event_index"]) for v in recorded) == key(replayed.violations)
            must = any(v.severity.value == "must" for v in step.violations)
            assert replayed.verdict == ("fail" if must else "warn" if step.violations else "pass")
            fired += len(step.violations)
            exchanges += 1
            failed += must
    assert (fired > 0) == bool(faults)
    # The command line on the folder: one transcript per exchange, the same verdicts and exit code.
    code, out, _ = run_cli(["--json", str(tmp_path / "transcripts")], capsys)
    document = json.loads(out)
    assert document["summary"]["transcripts"] == exchanges
    assert document["summary"]["fail"] == failed and code == (1 if failed else 0)


def test_a_transcript_pair_named_twice_is_replayed_once(tmp_path: Path, capsys) -> None:
    live_run(frozenset({"usage_total_wrong"}), tmp_path)
    folder = tmp_path / "transcripts"
    code, out, _ = run_cli([str(folder / "text-stream.sse"), str(folder / "text-stream.json")], capsys)
    assert code == 1
    assert out.count("FAIL  ") == 1 and "usage.total_is_sum  MUST" in out
    assert "transcript: " in out and "reproduce: curl " in out and "note: transcript of the live suite: " \
           "scenario text-stream" in out


# -- constant memory --------------------------------------------------------------------------------
def _many_streams(count: int) -> Iterator[bytes]:
    """`count` streams of the January capture, generated lazily in 64 KiB pieces."""
    streams = make_fixtures.january_streams()
    buffer = bytearray()
    for n in range(count):
        buffer += streams[n % len(streams)]
        if len(buffer) >= 65536:
            yield bytes(buffer)
            buffer.clear()
    yield bytes(buffer)


def _peak(count: int, schemas) -> tuple[int, int]:
    reader = CaptureReader("many", schemas=schemas)
    tracemalloc.start()
    tracemalloc.reset_peak()
    seen = 0
    for chunk in _many_streams(count):
        for transcript in reader.feed(chunk):
            assert transcript.verdict == "pass"
            seen += 1
    seen += len(reader.close())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seen, peak


def test_peak_memory_does_not_grow_with_the_number_of_streams(schemas) -> None:
    few, few_peak = _peak(50, schemas)
    many, many_peak = _peak(1500, schemas)
    assert (few, many) == (50, 1500)
    assert many_peak < 1.5 * few_peak + 256 * 1024, (few_peak, many_peak)


def test_replay_writes_the_html_report(tmp_path: Path) -> None:
    page = tmp_path / "replay.html"
    broken = FIXTURES / "replay" / "jan-usage-total-wrong.sse"
    code = subprocess.run([sys.executable, "-m", "responses_conformance.cli", "replay", str(broken),
                           f"--html={page}"], capture_output=True, text=True, timeout=60).returncode
    assert code == 1
    html = page.read_text(encoding="utf-8")
    assert "Verdict: not conformant" in html and "usage.total_is_sum" in html
    assert "<script src=" not in html  # self-contained


def test_har_entries_that_answer_with_no_response_are_not_judged_as_one() -> None:
    """input_items is a list, DELETE a deletion object, compact a compaction: a success there is
    not a Response, and judging it as one would be a false finding. Errors are still envelopes."""
    from responses_conformance.capture import _har_plan

    def entry(method: str, url: str, status: int = 200, body: str = '{"object": "list", "data": []}') -> dict:
        return {"request": {"method": method, "url": url},
                "response": {"status": status, "headers": [], "content": {"text": body, "size": len(body)}}}

    base = "https://api.example/v1/responses"
    assert _har_plan(entry("GET", base + "/resp_1/input_items")) is None
    assert _har_plan(entry("DELETE", base + "/resp_1")) is None
    assert _har_plan(entry("POST", base + "/compact")) is None
    assert _har_plan(entry("GET", base + "/resp_1"))[0].kind == "response"
    assert _har_plan(entry("POST", base + "/resp_1/cancel"))[0].kind == "response"
    assert _har_plan(entry("POST", base))[0].kind == "response"
    refused = _har_plan(entry("GET", base + "/resp_1/input_items", 404, '{"error": {"message": "No such"}}'))
    assert refused is not None and refused[0].kind == "error"


def test_a_record_without_a_scenario_that_asked_for_a_stream_by_query_is_a_stream() -> None:
    """A tap's transcript of `GET /responses/{id}?stream=true` (no scenario in its record) is a
    stream, as the request asked, not a Response body."""
    from responses_conformance import replay

    record = {"name": "tap-000001", "request": {"method": "GET", "url": "http://127.0.0.1:1/v1/responses/resp_1?stream=true",
                                                 "headers": [], "body": None},
              "response": {"status": 200, "headers": [["content-type", "text/event-stream"]]}}
    expectation, _, what = replay._expectation(record, "openai")
    assert expectation.kind == "stream" and "stream" in what
    record["request"]["url"] = "http://127.0.0.1:1/v1/responses/resp_1"
    assert replay._expectation(record, "openai")[0].kind == "response"
