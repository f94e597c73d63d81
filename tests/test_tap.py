"""Tap mode: real clients (the official openai SDK) talk to the reference server through the tap.

The tap forwards every request unchanged and every answer byte for byte, judges the Responses
exchanges with the live suite's checks, and ends with the suite's verdict. Everything here runs
on 127.0.0.1, in-process, every wait bounded.
"""
from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from responses_conformance import tap as tap_module
from responses_conformance import tap_judge
from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer
from responses_conformance.tap import Tap, TapOptions, plan_for

from .conftest import interruptible
from .test_end_to_end import FAULT_FINDINGS

MODEL = DEFAULT_MODEL
KEY = "sk-reference-local"  # the reference server's key
WEATHER = {"type": "function", "name": "get_weather", "description": "Get the weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def clean() -> Any:
    with ReferenceServer(background_step=0.05) as server:
        yield server


def start(upstream: str, tmp_path: Path, **options: Any) -> tuple[Tap, io.StringIO]:
    out = io.StringIO()
    tap = Tap(TapOptions(upstream=upstream, port=0, reports_dir=tmp_path / "reports", **options), out=out).start()
    return tap, out


def sdk(tap: Tap, **extra: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=tap.base_url, api_key=KEY, timeout=20, max_retries=0, **extra)


def results(tap: Tap) -> dict:
    return json.loads(tap.options.results_path.read_text(encoding="utf-8"))


def must_findings(data: dict) -> list[dict]:
    return [v for row in data["scenarios"] for v in row["violations"] if v["severity"] == "must"]


# -- what is judged ------------------------------------------------------------------------------
def test_plan_judges_responses_paths_only() -> None:
    assert plan_for("POST", "/v1/responses", "", b'{"stream": true}').kind == "stream"
    assert plan_for("POST", "/v1/responses", "", b'{"model": "m"}').kind == "response"
    assert plan_for("POST", "/openai/v1/responses", "", b"not json").kind == "sniff"  # by the answer's type
    assert plan_for("POST", "/v1/responses", "", None).kind == "sniff"  # a compressed or huge upload
    assert plan_for("GET", "/v1/responses/resp_1", "stream=true", None).kind == "stream"
    tail = plan_for("GET", "/v1/responses/resp_1", "stream=true&starting_after=3", None)
    assert (tail.kind, tail.resumes, tail.starting_after) == ("stream", "resp_1", 3)  # judged if the tap kept resp_1
    assert plan_for("POST", "/v1/responses", "", b'{"stream": true, "background": true}').keep
    assert plan_for("GET", "/v1/responses/resp_1", "", None).kind == "response"
    assert plan_for("POST", "/v1/responses/resp_1/cancel", "", b"").kind == "response"
    for method, path in [("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("DELETE", "/v1/responses/r"),
                         ("GET", "/v1/responses/r/input_items"), ("POST", "/v1/responses/compact"),
                         ("POST", "/v1/responses/input_tokens")]:
        assert plan_for(method, path, "", b"{}") is None, path


# -- the SDK through the tap, clean ------------------------------------------------------------------
def test_sdk_through_tap_clean(clean: ReferenceServer, tmp_path: Path) -> None:
    tap, out = start(clean.url, tmp_path)
    try:
        client = sdk(tap)
        plain = client.responses.create(model=MODEL, input="Hello")
        assert plain.output_text.startswith('You said: "Hello"')
        with client.responses.stream(model=MODEL, input="Hello again") as stream:
            final = stream.get_final_response()
        assert "Hello again" in final.output_text
        # tools: a call, then the round trip with its output
        called = client.responses.create(model=MODEL, input="What is the weather in Paris?", tools=[WEATHER])
        call = next(item for item in called.output if item.type == "function_call")
        answer = client.responses.create(model=MODEL, previous_response_id=called.id, tools=[WEATHER], input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
        assert "sunny" in answer.output_text
        with client.responses.stream(model=MODEL, input="weather in Rome?", tools=[WEATHER]) as stream:
            streamed_call = stream.get_final_response()
        assert any(item.type == "function_call" for item in streamed_call.output)
        # background: created queued, polled until done, then replayed as a stream, and resumed
        queued = client.responses.create(model=MODEL, input="Slowly", background=True)
        deadline = time.monotonic() + 10
        polled = queued
        while polled.status in ("queued", "in_progress") and time.monotonic() < deadline:
            time.sleep(0.05)
            polled = client.responses.retrieve(queued.id)
        assert polled.status == "completed"
        events = list(client.responses.retrieve(queued.id, stream=True))
        assert events and events[0].type == "response.created" and events[-1].type == "response.completed"
        tail = list(client.responses.retrieve(queued.id, stream=True, starting_after=2))
        assert tail[0].sequence_number == 3
        # WebSocket: the SDK's own client, two responses on one connection
        with client.responses.connect() as connection:
            for text in ("over a socket", "and again"):
                connection.response.create(model=MODEL, input=text)
                for event in connection:
                    if event.type == "response.completed":
                        assert text in event.response.output_text
                        break
        # passed through, not judged
        assert [m.id for m in client.models.list().data]
        client.responses.delete(plain.id)
    finally:
        code = tap.stop()
    data = results(tap)
    assert code == 0, out.getvalue()
    assert must_findings(data) == []
    assert data["summary"]["verdict"] == "conformant"
    # 5 creates, 2+ polls, the resumed stream, 2 WebSocket responses
    assert data["tap"]["judged"] >= 10
    kinds = {row["kind"] for row in data["scenarios"]}
    assert {"stream", "response"} <= kinds
    assert any("(websocket)" in row["id"] for row in data["scenarios"])
    assert data["tap"]["passed_through_routes"].get("GET /v1/models") == 1
    assert "FAIL" not in out.getvalue()
    assert "CONFORMANT" in out.getvalue().splitlines()[-1]
    assert (tmp_path / "reports" / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert 'name="conformance_verdict" value="conformant"' in (tmp_path / "reports" / "junit.xml").read_text()


# -- faults: the tap names the check the live suite names ---------------------------------------------
HTTP_FAULTS = ["usage_total_wrong", "sequence_repeat", "event_name_mismatch", "item_id_rotates", "no_output_text_done"]


@pytest.mark.parametrize("fault", HTTP_FAULTS)
def test_fault_reported_with_the_live_suites_check(fault: str, tmp_path: Path) -> None:
    expected, _ = FAULT_FINDINGS[fault]  # what the live suite reports for this fault (test_end_to_end)
    with ReferenceServer(faults={fault}) as server:
        tap, out = start(server.url, tmp_path)
        try:
            client = sdk(tap)
            client.responses.create(model=MODEL, input="Hello")
            with client.responses.with_streaming_response.create(model=MODEL, input="Hello", stream=True) as raw:
                b"".join(raw.iter_bytes())
        finally:
            code = tap.stop()
    data = results(tap)
    found = {v["check"] for v in must_findings(data)}
    assert code == 1
    assert found and found <= expected | {"schema.event"}, found
    assert found & expected
    printed = out.getvalue()
    assert any("FAIL" in line and check in line for line in printed.splitlines() for check in expected)
    page = (tmp_path / "reports" / "report.html").read_text(encoding="utf-8")
    assert all(check in page for check in found)
    assert data["summary"]["verdict"] == "not conformant"


def test_websocket_fault_reported(tmp_path: Path) -> None:
    with ReferenceServer(faults={"ws_sequence_reuse"}) as server:
        tap, out = start(server.url, tmp_path)
        try:
            with sdk(tap).responses.connect() as connection:
                for text in ("one", "two"):
                    connection.response.create(model=MODEL, input=text)
                    for event in connection:
                        if event.type == "response.completed":
                            break
        finally:
            code = tap.stop()
    found = {v["check"] for v in must_findings(results(tap))}
    assert code == 1
    assert "sequence.ws_restarts_at_zero" in found  # as the live suite's ws-sequential-responses
    # the WebSocket transcripts replay to the same findings
    from responses_conformance.replay import iter_transcripts

    records = sorted(str(p) for p in (tmp_path / "reports" / "transcripts").glob("*.json"))
    replayed = list(iter_transcripts(records))
    assert [sorted({v.check for v in t.violations}) for t in replayed] == \
        [sorted({v["check"] for v in row["violations"]}) for row in results(tap)["scenarios"]]


# -- byte identity ----------------------------------------------------------------------------------
def test_client_reads_exactly_the_upstreams_bytes(clean: ReferenceServer, tmp_path: Path) -> None:
    tap, _ = start(clean.url, tmp_path)
    try:
        client = sdk(tap)
        with client.responses.with_streaming_response.create(model=MODEL, input="Bytes please", stream=True,
                                                            tools=[WEATHER]) as raw:
            streamed = b"".join(raw.iter_bytes())
        plain = client.responses.with_raw_response.create(model=MODEL, input="Bytes please").http_response.content
        models = client.models.with_raw_response.list().http_response.content
    finally:
        tap.stop()
    transcripts = tmp_path / "reports" / "transcripts"
    assert (transcripts / "tap-000001.sse").read_bytes() == streamed  # the tap's record of the upstream's bytes
    assert (transcripts / "tap-000002.body").read_bytes() == plain
    assert json.loads(models)["object"] == "list"
    record = json.loads((transcripts / "tap-000001.json").read_text())
    assert record["response"]["bytes_received"] == len(streamed)


def test_chunks_are_forwarded_as_they_arrive(tmp_path: Path) -> None:
    """No buffering: each event reaches the client before the upstream sends the next."""
    with ReferenceServer(event_delay=0.05) as server:
        tap, _ = start(server.url, tmp_path)
        try:
            arrivals = []
            with httpx.Client(timeout=10) as client, client.stream(
                    "POST", tap.base_url + "/responses", headers={"Authorization": f"Bearer {KEY}"},
                    json={"model": MODEL, "input": "Hello there, slowly", "stream": True}) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        arrivals.append(time.monotonic())
        finally:
            tap.stop()
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert len(arrivals) > 8
    assert sorted(gaps)[len(gaps) // 2] > 0.025  # paced as the upstream paces them, not in one burst


# -- secrets -----------------------------------------------------------------------------------------
def test_credentials_never_written(clean: ReferenceServer, tmp_path: Path) -> None:
    wrong = "sk-wrong-key-0123456789abcdef"
    private = "tenant-secret-value-42"
    tap, out = start(clean.url, tmp_path, redact_headers=frozenset({"x-tenant"}))
    try:
        bad = openai.OpenAI(base_url=tap.base_url, api_key=wrong, max_retries=0, timeout=10,
                            default_headers={"X-Tenant": private})
        with pytest.raises(openai.AuthenticationError):
            bad.responses.create(model=MODEL, input="Hello")
        good = sdk(tap, default_headers={"X-Tenant": private, "api-key": KEY})
        good.responses.create(model=MODEL, input="Hello")
    finally:
        tap.stop()
    written = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert len(written) >= 7
    for path in written:
        text = path.read_bytes()
        for secret in (wrong, private, KEY):
            assert secret.encode() not in text, (path, secret)
    assert wrong not in out.getvalue() and private not in out.getvalue()
    record = json.loads((tmp_path / "reports" / "transcripts" / "tap-000002.json").read_text())
    headers = dict((name.lower(), value) for name, value in record["request"]["headers"])
    assert headers["authorization"] == headers["x-tenant"] == headers["api-key"] == "[REDACTED]"


# -- robustness ------------------------------------------------------------------------------------------
def test_client_disconnect_mid_stream_keeps_the_finding(tmp_path: Path) -> None:
    with ReferenceServer(faults={"sequence_repeat"}, event_delay=0.03) as server:
        tap, out = start(server.url, tmp_path)
        try:
            with httpx.Client(timeout=10) as client:
                with client.stream("POST", tap.base_url + "/responses", headers={"Authorization": f"Bearer {KEY}"},
                                   json={"model": MODEL, "input": "Hello there, tell me more", "stream": True}) as r:
                    seen = 0
                    for line in r.iter_lines():
                        if line.startswith("data:"):
                            seen += 1
                        if seen == 7:  # past the repeated sequence_number (after the first delta)
                            break
                # the tap still serves
                again = client.post(tap.base_url + "/responses", headers={"Authorization": f"Bearer {KEY}"},
                                    json={"model": MODEL, "input": "still there?"})
                assert again.status_code == 200
            deadline = time.monotonic() + 5
            while tap.recorder.judged < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            tap.stop()
    data = results(tap)
    assert data["tap"]["client_disconnects"] == 1
    cut = data["scenarios"][0]
    assert cut["status"] == "failed"
    assert "sequence.increasing" in {v["check"] for v in cut["violations"]}
    assert any("disconnected" in note for note in cut["notes"])


class _DyingUpstream:
    """An upstream that sends the head and a few events of a stream, then drops the connection."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            events = [{"type": "response.created", "sequence_number": 0},
                      {"type": "response.in_progress", "sequence_number": 0}]  # a repeated number: a finding
            body = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode()) for e in events)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                         + b"%x\r\n%s\r\n" % (len(body), body))
            time.sleep(0.2)
        self.sock.close()


def test_upstream_death_mid_stream_and_unreachable_upstream(tmp_path: Path) -> None:
    dying = _DyingUpstream()
    tap, out = start(dying.url, tmp_path)
    try:
        with httpx.Client(timeout=10) as client:
            with pytest.raises(httpx.HTTPError):  # the cut reaches the client: never a clean end
                with client.stream("POST", tap.base_url + "/v1/responses",
                                   json={"model": MODEL, "input": "x", "stream": True}) as response:
                    for _ in response.iter_bytes():
                        pass
            dying.thread.join(5)
            # nothing listens there any more: 502 from the tap, which keeps serving
            refused = client.post(tap.base_url + "/v1/responses", json={"model": MODEL, "input": "x"})
            assert refused.status_code == 502
            assert refused.json()["error"]["type"] == "tap_upstream_error"
    finally:
        code = tap.stop()
    data = results(tap)
    assert data["tap"]["upstream_errors"] == 1
    row = data["scenarios"][0]
    assert "sequence.increasing" in {v["check"] for v in row["violations"]}  # found before the cut, kept
    assert any("upstream connection broke" in note for note in row["notes"])
    assert code == 1


def test_fifty_concurrent_streams(tmp_path: Path) -> None:
    with ReferenceServer(faults={"usage_total_wrong"}, event_delay=0.002) as server:
        tap, out = start(server.url, tmp_path, max_transcripts=10)
        failures: list[str] = []
        bodies: dict[int, bytes] = {}

        def one(i: int) -> None:
            try:
                with httpx.Client(timeout=30) as client, client.stream(
                        "POST", tap.base_url + "/responses", headers={"Authorization": f"Bearer {KEY}"},
                        json={"model": MODEL, "input": f"stream number {i}", "stream": True}) as response:
                    bodies[i] = b"".join(response.iter_bytes())
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{i}: {exc!r}")

        try:
            threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            code = tap.stop()
    assert not failures
    assert all(b"response.completed" in body and f"stream number {i}".encode() in body for i, body in bodies.items())
    assert len(bodies) == 50
    data = results(tap)
    assert data["tap"]["judged"] == 50
    assert data["checks"]["usage.total_is_sum"]["exchanges"] == 50  # no finding lost
    assert set(data["checks"]) == {"usage.total_is_sum"}
    # one cause: said in full once, then one line per exchange that shows it again
    assert [(f["check"], f["count"], f["exchanges"]) for f in data["findings"]] == [("usage.total_is_sum", 50, 50)]
    printed = [line for line in out.getvalue().splitlines() if line.startswith("FAIL")]
    assert len(printed) == 50 and sum("usage.total_is_sum again (the cause first seen in #" in line for line in printed) == 49
    assert code == 1
    assert len(list((tmp_path / "reports" / "transcripts").iterdir())) == 20  # the last 10 exchanges, 2 files each


def test_memory_stays_bounded(clean: ReferenceServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tap_judge, "MAX_LISTED_PASSED", 5)
    tap, _ = start(clean.url, tmp_path, max_transcripts=3)
    try:
        with httpx.Client(timeout=10) as client:
            for i in range(60):
                client.post(tap.base_url + "/responses", headers={"Authorization": f"Bearer {KEY}"},
                            json={"model": MODEL, "input": f"n{i}", "stream": i % 2 == 0}).read()
                client.get(tap.base_url + "/models", headers={"Authorization": f"Bearer {KEY}"})
    finally:
        tap.stop()
    recorder = tap.recorder
    assert recorder.judged == 60 and recorder.passed_through_total == 60
    assert len(recorder.listed_passed) == 5 and recorder.unlisted == 55
    assert len(recorder.transcript_files) == 3
    assert len(list((tmp_path / "reports" / "transcripts").iterdir())) == 6
    assert len(recorder.passed_through) == 1  # routes are counted, not listed per request
    data = results(tap)
    assert data["summary"]["scenarios"] == 60 and len(data["scenarios"]) == 5


def test_memory_does_not_grow_with_traffic(clean: ReferenceServer, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """After a warm-up, 120 more requests (streams, bodies, failures, pass-through) leave the
    tap's memory where it was: what it keeps is bounded, not proportional to the traffic."""
    import gc
    import tracemalloc

    monkeypatch.setattr(tap_judge, "MAX_LISTED_PASSED", 5)
    monkeypatch.setattr(tap_judge, "MAX_LISTED_FINDINGS", 5)
    tap, _ = start(clean.url, tmp_path, max_transcripts=5)

    def traffic(client: httpx.Client, count: int) -> None:
        for i in range(count):
            client.post(tap.base_url + "/responses", headers={"Authorization": f"Bearer {KEY}"},
                        json={"model": MODEL, "input": f"n{i}", "stream": i % 2 == 0, "store": False}).read()
            client.post(tap.base_url + "/responses", json={"model": MODEL, "input": "no key"}).read()  # a 401
            client.get(tap.base_url + "/models", headers={"Authorization": f"Bearer {KEY}"}).read()

    try:
        with httpx.Client(timeout=10) as client:
            traffic(client, 20)
            gc.collect()
            # Eight frames reach from what the reference server's routes allocate up to the route
            # (filtered out below); a deeper trace made the test three times slower for 10% less
            # counted. The tap's own allocations count at any depth.
            tracemalloc.start(8)
            before = tracemalloc.take_snapshot()
            traffic(client, 40)
            gc.collect()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
    finally:
        tap.stop()
    # the reference server shares the process: what its frames allocate (its journal) is not the tap's
    upstream = [tracemalloc.Filter(False, "*/reference/*", all_frames=True)]
    before, after = before.filter_traces(upstream), after.filter_traces(upstream)
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert tap.recorder.judged == 120
    # about 50 KB of interpreter caches here; one judged exchange kept by mistake is several KB
    assert grown < 128 * 1024, [str(s) for s in after.compare_to(before, "lineno")[:10]]


# -- ending ------------------------------------------------------------------------------------------------
def test_max_exchanges_ends_the_tap(clean: ReferenceServer, tmp_path: Path) -> None:
    tap, _ = start(clean.url, tmp_path, max_exchanges=2, transcripts=False)
    client = sdk(tap)
    client.responses.create(model=MODEL, input="one")
    client.responses.create(model=MODEL, input="two")
    assert tap.wait(10)
    assert tap.stop() == 0
    data = results(tap)
    assert data["tap"]["ended_by"] == "--max-exchanges 2"
    assert not (tmp_path / "reports" / "transcripts").exists()


def test_duration_with_no_traffic_is_nothing_tested(clean: ReferenceServer, tmp_path: Path) -> None:
    tap, out = start(clean.url, tmp_path, duration=0.3)
    assert tap.wait(10)
    assert tap.stop() == 5
    data = results(tap)
    assert data["summary"]["verdict"] == "nothing tested"
    assert "no Responses API exchange" in data["summary"]["cause"]
    assert out.getvalue().splitlines()[-1].startswith("responses-conformance: NOTHING TESTED")


def _cli(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "responses_conformance.cli", "tap", *args,
                                "--listen", "127.0.0.1:0", "--reports-dir", str(tmp_path / "reports")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert process.stdout is not None
    banner = process.stdout.readline()
    url = banner.split("listening on ", 1)[1].split(",", 1)[0] if "listening on" in banner else ""
    return process, url


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_is_the_normal_end(sig: int, clean: ReferenceServer, tmp_path: Path) -> None:
    process, url = _cli(["--upstream", clean.url], tmp_path)
    try:
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.stderr else ""
        if sig == signal.SIGINT:
            reply = httpx.post(url + "/v1/responses", headers={"Authorization": f"Bearer {KEY}"},
                               json={"model": MODEL, "input": "Hello"}, timeout=10)
            assert reply.status_code == 200
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    if sig == signal.SIGINT:
        assert process.returncode == 0, stderr
        assert data["tap"]["ended_by"] == "SIGINT" and data["summary"]["verdict"] == "conformant"
    else:
        assert process.returncode == 5, stderr
        assert data["tap"]["ended_by"] == "SIGTERM"
    assert "Traceback" not in stderr
    assert stdout.strip().splitlines()[-1].startswith("responses-conformance: ")


def test_usage_errors(tmp_path: Path) -> None:
    assert tap_module.main(["--upstream", "ftp://example"]) == 4
    assert tap_module.main(["--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:99999"]) == 4
    assert tap_module.main([]) == 4
    baseline = tmp_path / "baseline.txt"
    baseline.write_text("no.such_check  # why\n")
    assert tap_module.main(["--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:0",
                            "--baseline", str(baseline)]) == 4


def test_exposure_warning() -> None:
    assert tap_module.exposure_warning("127.0.0.1") is None
    assert tap_module.exposure_warning("::1") is None
    warning = tap_module.exposure_warning("0.0.0.0")
    assert warning is not None and "anyone" in warning


def test_baseline_makes_a_finding_known(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.txt"
    baseline.write_text("usage.total_is_sum  # our gateway adds a token (#1)\n")
    with ReferenceServer(faults={"usage_total_wrong"}) as server:
        tap, out = start(server.url, tmp_path, baseline=baseline)
        try:
            sdk(tap).responses.create(model=MODEL, input="Hello")
        finally:
            code = tap.stop()
    assert code == 0
    assert results(tap)["summary"]["by_status"] == {"known": 1}
    assert "KNOWN" in out.getvalue()


def test_tap_transcripts_replay_to_the_same_verdict(tmp_path: Path) -> None:
    from responses_conformance.replay import iter_transcripts

    with ReferenceServer(faults={"usage_total_wrong"}) as server:
        tap, _ = start(server.url, tmp_path)
        try:
            client = sdk(tap)
            client.responses.create(model=MODEL, input="Hello")
            with client.responses.stream(model=MODEL, input="Hello") as stream:
                stream.get_final_response()
        finally:
            tap.stop()
    records = sorted(str(p) for p in (tmp_path / "reports" / "transcripts").glob("*.json"))
    replayed = list(iter_transcripts(records))
    live = results(tap)["scenarios"]
    assert [t.verdict for t in replayed] == ["fail", "fail"]
    assert [sorted({v.check for v in t.violations}) for t in replayed] == \
        [sorted({v["check"] for v in row["violations"]}) for row in live]


def test_refused_websocket_upgrade_is_passed_back(tmp_path: Path) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with ReferenceServer(disabled={"websocket"}) as server:
        tap, out = start(server.url, tmp_path)
        try:
            statuses = []
            for base in (server.url, tap.url):
                with pytest.raises(InvalidStatus) as refused:
                    connect(base.replace("http://", "ws://") + "/v1/responses", open_timeout=5,
                            additional_headers={"Authorization": f"Bearer {KEY}"})
                statuses.append((refused.value.response.status_code, refused.value.response.body))
        finally:
            code = tap.stop()
    assert statuses[0] == statuses[1]  # the upstream's refusal, status and body, as it was
    assert code == 5  # nothing judged
    assert "refused the upgrade" in out.getvalue()


def test_compressed_answers_are_judged_decoded() -> None:
    import gzip

    decoder = tap_judge._Decoder("gzip")
    packed = gzip.compress(b'{"object": "response"}' * 100)
    plain = b"".join(decoder.feed(packed[i:i + 7]) for i in range(0, len(packed), 7))
    assert plain == b'{"object": "response"}' * 100 and decoder.problem is None
    assert tap_judge._Decoder("br").problem is not None
    assert tap_judge._Decoder(None).feed(b"x") == b"x"


# -- the mitmproxy addon ----------------------------------------------------------------------------------
class _Headers(list):
    def items(self, multi: bool = False) -> list:
        return list(self)


def _flow(method: str, path: str, body: bytes | None, status: int, headers: list, request_headers: list) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(
        request=SimpleNamespace(method=method, path=path, raw_content=body, headers=_Headers(request_headers),
                                pretty_url="http://upstream" + path),
        response=SimpleNamespace(status_code=status, headers=_Headers(headers), stream=None), error=None)


def test_mitmproxy_addon_judges_the_flows_it_is_handed(tmp_path: Path) -> None:
    """The addon's hooks, fed as mitmproxy feeds them (duck-typed flows), with real upstream bytes."""
    from types import SimpleNamespace

    from websockets.sync.client import connect

    from responses_conformance.tap_mitm import ResponsesConformance

    auth = [("Authorization", f"Bearer {KEY}")]
    with ReferenceServer(faults={"usage_total_wrong"}) as server:
        request = {"model": MODEL, "input": "Hello", "stream": True}
        answer = httpx.post(server.base_url + "/responses", headers=dict(auth), json=request, timeout=10)
        frames = []
        with connect(server.url.replace("http://", "ws://") + "/v1/responses", additional_headers=dict(auth),
                     open_timeout=5) as websocket:
            websocket.send(json.dumps({"type": "response.create", "model": MODEL, "input": "Hi"}))
            while not frames or json.loads(frames[-1])["type"] != "response.completed":
                frames.append(websocket.recv(timeout=5))
    out = io.StringIO()
    addon = ResponsesConformance(TapOptions(upstream="(mitmproxy)", port=0, reports_dir=tmp_path / "reports"), out=out)
    addon.running()
    flow = _flow("POST", "/v1/responses", json.dumps(request).encode(), 200, list(answer.headers.items()), auth)
    addon.responseheaders(flow)
    assert callable(flow.response.stream)
    passed = b"".join(flow.response.stream(answer.content[i:i + 100]) for i in range(0, len(answer.content), 100))
    assert passed == answer.content
    flow.response.stream(b"")
    other = _flow("GET", "/v1/models", None, 200, [("content-type", "application/json")], auth)
    addon.responseheaders(other)
    assert other.response.stream is None  # not streamed, not judged
    socket_flow = _flow("GET", "/v1/responses", None, 101, [], auth)
    addon.websocket_start(socket_flow)
    messages = [SimpleNamespace(from_client=True, is_text=True, text=json.dumps({"type": "response.create"}),
                                content=b"")]
    socket_flow.websocket = SimpleNamespace(messages=messages, closed_by_client=True, close_code=1000, close_reason="")
    addon.websocket_message(socket_flow)
    for frame in frames:
        messages.append(SimpleNamespace(from_client=False, is_text=True, text=frame, content=frame.encode()))
        addon.websocket_message(socket_flow)
    addon.websocket_end(socket_flow)
    addon.done()
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    assert data["summary"]["verdict"] == "not conformant"
    assert data["checks"]["usage.total_is_sum"]["exchanges"] == 2  # the HTTP stream and the WebSocket response
    assert data["tap"]["passed_through"] == 1
    assert "usage.total_is_sum" in out.getvalue()
    assert KEY not in (tmp_path / "reports" / "transcripts" / "tap-000001.json").read_text()


def test_mitmdump_with_the_addon(clean: ReferenceServer, tmp_path: Path) -> None:
    """mitmproxy itself, in reverse mode in front of the reference server, with the SDK as client
    (runs where mitmproxy is installed: the `[mitm]` extra)."""
    pytest.importorskip("mitmproxy")
    import shutil

    mitmdump = shutil.which("mitmdump") or str(Path(sys.executable).with_name("mitmdump"))
    if not Path(mitmdump).exists():
        pytest.skip("mitmdump is not installed")
    from responses_conformance import tap_mitm

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([mitmdump, "--mode", f"reverse:{clean.url}", "--listen-host", "127.0.0.1",
                                "--listen-port", str(port), "-s", tap_mitm.__file__, "--set",
                                f"rc_reports={tmp_path / 'reports'}", "--set", f"confdir={tmp_path / 'mitm'}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0, timeout=20)
        client.responses.create(model=MODEL, input="Hello")
        with client.responses.stream(model=MODEL, input="Hello") as stream:
            stream.get_final_response()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    assert data["tap"]["judged"] == 2, output
    assert data["summary"]["verdict"] == "conformant", output
    assert "responses-conformance: CONFORMANT" in output


@pytest.mark.parametrize("fault", [None, "resume_from_zero"])
def test_resumed_background_stream_is_judged_after_its_start(fault: str | None, tmp_path: Path) -> None:
    """The SDK breaks off a background stream and resumes it with starting_after: the tap judges
    the tail after the events it kept, as the live suite's state-resume scenario does."""
    with ReferenceServer(faults={fault} if fault else set(), background_step=0.05) as server:
        tap, out = start(server.url, tmp_path)
        try:
            client = sdk(tap)
            stream = client.responses.create(model=MODEL, input="Hello there, in the background", background=True,
                                             stream=True)
            seen = []
            for event in stream:
                seen.append(event)
                if len(seen) == 5:
                    break
            stream.close()
            response_id = seen[0].response.id
            tail = list(client.responses.retrieve(response_id, stream=True, starting_after=seen[-1].sequence_number))
            assert tail[-1].type == "response.completed"
            untracked = list(client.responses.retrieve(response_id, stream=True, starting_after=2))  # kept too
            assert untracked
        finally:
            code = tap.stop()
    data = results(tap)
    rows = {row["id"]: row for row in data["scenarios"]}
    resumed = [row for label, row in rows.items() if "stream after" in label]
    assert len(resumed) == 2 and data["tap"]["passed_through"] == 0
    found = {v["check"] for row in resumed for v in row["violations"] if v["severity"] == "must"}
    if fault is None:
        assert code == 0 and found == set(), out.getvalue()
    else:
        assert "consistency.resume_continues" in found  # what the live suite reports for this fault
        assert code == 1


def test_compressed_request_is_judged_by_its_answer(tmp_path: Path) -> None:
    """A client that compresses its request body (as some CLIs do): the tap cannot read `stream`,
    so the answer's Content-Type says what it is; no false finding."""
    import gzip

    class Inflating:  # the upstream gets the body as sent; this one understands gzip, as a real server may
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and (b"content-encoding", b"gzip") in scope["headers"]:
                body = b""
                while True:
                    message = await receive()
                    body += message.get("body", b"")
                    if not message.get("more_body"):
                        break
                plain = gzip.decompress(body)
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"]
                                              if k not in (b"content-encoding", b"content-length")]
                         + [(b"content-length", str(len(plain)).encode())]}
                sent = False

                async def replay() -> dict:
                    nonlocal sent
                    if sent:
                        return await receive()
                    sent = True
                    return {"type": "http.request", "body": plain, "more_body": False}

                await self.app(scope, replay, send)
            else:
                await self.app(scope, receive, send)

    server = ReferenceServer()
    server.app = Inflating(server.app)
    with server:
        tap, out = start(server.url, tmp_path)
        try:
            body = gzip.compress(json.dumps({"model": MODEL, "input": "Hello", "stream": True}).encode())
            answer = httpx.post(tap.base_url + "/responses", content=body, timeout=10,
                                headers={"Authorization": f"Bearer {KEY}", "Content-Encoding": "gzip",
                                         "Content-Type": "application/json"})
            assert answer.status_code == 200 and b"response.completed" in answer.content
        finally:
            code = tap.stop()
    data = results(tap)
    assert code == 0 and must_findings(data) == [], out.getvalue()
    assert data["scenarios"][0]["kind"] == "stream"
