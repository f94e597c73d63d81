"""Hostile and broken targets: the suite never hangs, crashes, leaks the key, or misleads.

Every behaviour of the zoo (`tests/zoo/`) gets the conformance suite run against it, then
`replay` over the transcripts that run wrote. Each test asserts that the run ended within its
limits, with the failure (a rule the target broke, by check id) or the error (could not test,
by reason) that names the problem, without an internal error of ours, and with bounded memory.

Most runs are the suite in this process, through the library as the plugin drives it
(`tests/_targets.run_suite_in_process`): what the suite makes of a target is the runner's and
the results model's, and needs no pytest start-up. The floods, and the conformant run they are
compared with, run in a process of their own under a memory cap that measures its peak (the
process would die holding a flood). What only the plugin can get wrong is run end to end, as
users run it (`pytest --target-url=...` in a fresh folder): the key echoed everywhere never
reaching an output, and TLS refused by default or accepted loudly with --insecure.

The runs are started together, a few at a time, when the module starts (`zoo_runs`), and each
test waits for its own. Only the selected tests' runs are started: `-k redirect` runs one.
"""
from __future__ import annotations

import contextlib
import io
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from responses_conformance.results import Status

from responses_conformance.engine.checker import MAX_JSON_DEPTH

from ._targets import SuiteResults, limits_of, run_suite_in_process
from .zoo import behaviours as zoo
from .zoo import websocket as zws
from .zoo.run import SMALL_LIMITS, SuiteRun, run_in_child, run_suite
from .zoo.server import Handler, ZooServer, closed_port_url

WORKERS = 4
SLACK = 2.0  # seconds an exchange may run past its limit on a loaded CI machine
MEMORY_CAP = 768 << 20  # address space of each suite process: a run that held a flood would die
MAX_RSS = 200 << 20  # peak resident memory of a suite process; the suite alone is about 60 MB
CANARY = "sk-canary/DO+NOT=LEAK-5f0c2e9a71d3b846"

STREAMED = "text-stream"
EVERY_KIND = "text-stream or text-nonstream or error-no-key"  # a stream, a Response, an error
WS_ONE = "ws-one-response"  # WebSocket mode: one response.create on a connection


@dataclass(frozen=True)
class Case:
    """One zoo behaviour and what the suite must make of it."""

    id: str
    handler: Callable[[], Handler] | None  # None: nothing listens (connection refused)
    select: str  # -k expression: which scenarios run against it
    # every selected scenario is "could not test", "failed", "passed" or "unsupported"
    outcome: str
    error: str = ""  # could not test: each scenario's error contains this
    checks: dict[str, set[str]] = field(default_factory=dict)  # failed: scenario -> check ids among its findings
    args: tuple[str, ...] = SMALL_LIMITS
    timeout: float = 3.0  # the --timeout in args: no exchange may take longer (plus SLACK)
    passing: frozenset[str] = frozenset()  # scenarios that pass although the others do not

    @property
    def memory(self) -> bool:
        """Run in a process of its own, under MEMORY_CAP, its peak memory measured."""
        return self.id in FLOODS or self.id == "conformant-control"


# The floods: each would cost 100 MB (the line) to 2 GB (the gzip body) if it were held.
FLOODS = ["one-100MB-line", "gzip-inflating-to-gigabytes", "endless-stream", "body-far-larger-than-any-response",
          "million-tiny-events-default-limit"]


CASES = [
    Case("conformant-control", lambda: zoo.stream(zoo.reference_stream()), STREAMED, "passed"),
    # A target that cannot answer the preflight request is not sent any scenario: one cause.
    Case("connection-refused", None, STREAMED, "could not test",
         error="cannot reach 127.0.0.1:"),
    Case("hang-before-status-line", zoo.hang_before_status, "text-stream or error-no-key", "could not test",
         error="got no answer (no response status line within 1.0 s (idle limit))"),
    Case("hang-after-headers", zoo.hang_after_headers, STREAMED, "could not test",
         error="the target stopped sending: no bytes for 1.0 s after 0 bytes (idle limit)"),
    Case("hang-mid-stream", zoo.hang_mid_stream, STREAMED, "could not test",
         error="the target stopped sending: no bytes for 1.0 s after "),
    # The deadline falls halfway between two bytes: with bytes due at 1, 2, 3 s, a deadline of
    # 3 s raced the third byte, and a loaded machine now and then said "still arriving".
    Case("one-byte-per-second", lambda: zoo.drip(1.0), STREAMED, "could not test",
         error="the exchange ran past its total time limit: body not finished within the 3.5 s total deadline",
         args=("--timeout=3.5", "--idle-timeout=2", "--max-bytes=1000000"), timeout=3.5),
    Case("endless-stream", zoo.endless_stream, STREAMED, "could not test",
         error="the body exceeded the size limit: body exceeded 1000000 bytes (size limit); stopped reading"),
    Case("one-100MB-line", zoo.long_line, STREAMED, "could not test",
         error="the body exceeded the size limit: body exceeded 1000000 bytes (size limit)"),
    Case("body-far-larger-than-any-response", zoo.huge_body, "text-nonstream", "could not test",
         error="the body exceeded the size limit: body exceeded 1000000 bytes (size limit)"),
    Case("gzip-inflating-to-gigabytes", zoo.gzip_body, STREAMED, "could not test",
         error="the body exceeded the size limit: decoded gzip body exceeded 1000000 bytes (size limit)"),
    # Every `data: {}` breaks rules before the limit stops the reading: what was checked is a
    # verdict (a MUST shown by the bytes), the limit itself is said in the scenario's error.
    Case("million-tiny-events", zoo.tiny_events, STREAMED, "failed", checks={STREAMED: {"framing.type_present"}},
         args=("--timeout=10", "--idle-timeout=2", "--max-bytes=20000000", "--max-events=5000"), timeout=10),
    Case("million-tiny-events-default-limit", zoo.tiny_events, STREAMED, "failed",
         checks={STREAMED: {"framing.type_present"}},
         # A generous deadline: this one is CPU-bound (200 000 events checked), and a loaded CI
         # machine must not turn the event limit into a deadline.
         args=("--timeout=60", "--idle-timeout=5", "--max-bytes=20000000"), timeout=60),
    Case("reset-mid-stream", zoo.reset_mid_stream, STREAMED, "could not test",
         error="the connection broke, or what came was not valid HTTP: connection broken after "),
    Case("binary-garbage-instead-of-http", zoo.garbage_instead_of_http, STREAMED, "could not test",
         error="did not answer with HTTP (no valid HTTP response from 127.0.0.1:"),
    Case("invalid-utf8", zoo.invalid_utf8, STREAMED, "failed", checks={STREAMED: {"framing.sse_well_formed"}}),
    Case("binary-garbage-body", zoo.garbage_body, STREAMED, "failed",
         checks={STREAMED: {"framing.sse_well_formed", "grammar.terminal_event_present"}}),
    # A page where the API should be is a setup mistake (a wrong URL, a login wall), and a
    # gateway failing the simplest request leaves nothing to test: one cause, not MUST findings.
    Case("html-page-with-200", zoo.html_200, EVERY_KIND, "could not test",
         error="answered 200 with an HTML page: not a Responses API endpoint"),
    Case("502-from-a-gateway", zoo.gateway_502, EVERY_KIND, "could not test",
         error="answered 502 with an HTML page: not a Responses API endpoint"),
    Case("chat-completion-chunks", zoo.chat_chunks, STREAMED, "failed",
         checks={STREAMED: {"framing.no_foreign_frames", "grammar.terminal_event_present"}}),
    Case("data-after-done-and-terminal", zoo.data_after_terminal, STREAMED, "failed",
         checks={STREAMED: {"grammar.nothing_after_terminal"}}),
    Case("deeply-nested-json", lambda: zoo.deeply_nested(100_000), STREAMED, "failed",
         checks={STREAMED: {"framing.data_is_json_object"}}),
    Case("nested-json-at-the-depth-limit", lambda: zoo.deep_at_the_limit(MAX_JSON_DEPTH),
         "text-stream or text-nonstream", "failed", checks={STREAMED: {"schema.event"}},
         passing=frozenset({"text-nonstream"})),
    Case("nan-and-infinity", zoo.nan_and_infinity, STREAMED, "failed",
         checks={STREAMED: {"framing.data_is_json_object"}}),
    Case("numbers-as-strings", zoo.numbers_as_strings, STREAMED, "failed",
         checks={STREAMED: {"schema.event", "sequence.present"}}),
    # Duplicate names: RFC 8259 says they SHOULD be unique and leaves the meaning to the parser;
    # every client we hold the target to (JSON.parse, Python's json, serde's last-wins maps)
    # keeps the last value, so the stream is what clients see: conformant, not flagged.
    Case("duplicate-json-keys", zoo.duplicate_keys, STREAMED, "passed"),
    # WebSocket mode (tests/zoo/websocket.py): the key goes in the upgrade's Authorization header.
    Case("ws-conformant-control", zws.conformant, WS_ONE, "passed"),
    Case("ws-upgrade-never-answered", lambda: zoo.answers_plain_requests(zoo.hang_before_status()), WS_ONE,
         "could not test",
         error="the target stopped sending: no answer to the WebSocket upgrade within 1 s (idle limit)"),
    Case("ws-never-answers", zws.never_answers, WS_ONE, "could not test",
         error="the target stopped sending: no frame for 1 s after 0 frames (idle limit)"),
    # Frames of 3 kB (zws.frame_flood): the size limit comes after a few hundred of them, long
    # before a deadline that a loaded machine cannot turn into the reason.
    Case("ws-frame-flood", zws.frame_flood, WS_ONE, "could not test",
         error="the frames exceeded the size limit: more than 1000000 bytes (size limit) after ",
         args=("--timeout=20", "--idle-timeout=5", "--max-bytes=1000000"), timeout=20),
    Case("ws-one-8MB-frame", zws.huge_frame, WS_ONE, "could not test",
         error="the frames exceeded the size limit: a frame larger than 1000000 bytes (size limit); the client "
               "closed the connection (1009)"),
    Case("ws-invalid-utf8", zws.invalid_utf8, WS_ONE, "failed", checks={WS_ONE: {"framing.ws_text_frames"}}),
    Case("ws-binary-frames", zws.binary_frames, WS_ONE, "failed", checks={WS_ONE: {"framing.ws_text_frames"}}),
    Case("ws-close-mid-response", zws.close_mid_response, WS_ONE, "failed",
         checks={WS_ONE: {"grammar.terminal_event_present"}}),
    Case("ws-drop-mid-response", zws.drop_mid_response, WS_ONE, "could not test",
         error="the connection broke, or what came was not a valid WebSocket exchange: closed without a close "
               "frame (1006) after "),
    # A target without WebSocket mode: every WebSocket scenario is unsupported, none broken.
    Case("ws-upgrade-refused", zws.upgrade_refused, "ws-", "unsupported"),
]
BY_ID = {case.id: case for case in CASES}


# --------------------------------------------------------------------------------------------
# Running the zoo


@dataclass
class Replay:
    code: int
    output: str
    elapsed: float


@dataclass
class ZooRun:
    suite: SuiteResults | SuiteRun
    servers: list[ZooServer] = field(default_factory=list)
    output: str = ""  # what the process printed (a subprocess run); nothing in-process
    measured: bool = False  # the run had a process of its own: its peak memory was measured
    _replay: Replay | None = None

    @property
    def transcripts(self) -> Path:
        return self.suite.cwd / "reports" / "transcripts"

    @property
    def replay(self) -> Replay | None:
        """`responses-conformance replay <transcripts folder>`: what the run wrote, checked offline
        (the command, in this process; asked for in a test, not while the zoo runs)."""
        if self._replay is None and self.transcripts.is_dir():
            self._replay = replay(self.transcripts)
        return self._replay


def replay(transcripts: Path) -> Replay:
    from responses_conformance import cli

    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["replay", str(transcripts)])
    return Replay(code, out.getvalue() + err.getvalue(), time.monotonic() - started)


def _run_case(case: Case, tmp: Path) -> ZooRun:
    reports = tmp / "reports"
    if case.memory:  # a flood, or what it is compared with: a process of its own, capped, measured
        with ZooServer(case.handler(), lifetime=case.timeout * 3 + 60) as server:
            run, output = run_in_child(server.base_url, reports, select=case.select, args=case.args,
                                       memory_limit=MEMORY_CAP, timeout=case.timeout * 2 + 60)
        return ZooRun(run, [server], output=output, measured=True)
    if case.handler is None:
        return ZooRun(run_suite_in_process(closed_port_url(), reports, select=case.select,
                                           limits=limits_of(case.args)))
    with ZooServer(case.handler(), lifetime=case.timeout * 3 + 60) as server:
        run = run_suite_in_process(server.base_url, reports, select=case.select, limits=limits_of(case.args))
    return ZooRun(run, [server])


def _run_redirect(tmp: Path) -> ZooRun:
    with ZooServer(lambda peer: peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) as other:
        location = f"http://localhost:{other.port}/v1/responses"
        with ZooServer(zoo.redirect(location)) as first:
            run = run_suite_in_process(first.base_url, tmp / "reports", select=STREAMED, api_key=CANARY,
                                       limits=limits_of(SMALL_LIMITS))
        time.sleep(0.2)  # a follow-up request would have arrived by now
    return ZooRun(run, [first, other])


def _tls_context(tmp: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1, made by the openssl binary (no Python package)."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _run_tls(insecure: bool, tmp: Path) -> ZooRun:
    """End to end, as users run it: the refusal, and --insecure's warning, are the plugin's to say."""
    flags = ("--insecure",) if insecure else ()
    with ZooServer(zoo.stream(zoo.reference_stream()), tls=_tls_context(tmp)) as server:
        run = run_suite(server.base_url, *SMALL_LIMITS, *flags, "-k", STREAMED, env={"OPENAI_API_KEY": CANARY},
                        memory_limit=MEMORY_CAP)
    return ZooRun(run, [server], output=run.output, measured=True)


def echo_everywhere(thief_port: int) -> Handler:
    """The key echoed over HTTP (zoo.echo_key: headers, bodies, errors, a redirect of plain GETs
    to another host) and over WebSocket (zws.echo_key: frames, close reasons)."""
    http, websocket = zoo.echo_key(other_host=f"localhost:{thief_port}"), zws.echo_key()

    def handler(peer: Any) -> None:
        upgrade = (peer.header("upgrade") or "").lower() == "websocket"
        (websocket if upgrade else http)(peer)
    return handler


def _run_canary(tmp: Path) -> ZooRun:
    """End to end, as users run it: the whole suite against a target that echoes the key
    everywhere, over HTTP and WebSocket, with every output on (JUnit XML, -rA -v --tb=long). The
    key is both in the environment and on the command line: neither may leak."""
    with ZooServer(lambda peer: None) as thief:  # where the echoing target redirects GETs to
        with ZooServer(echo_everywhere(thief.port)) as server:
            run = run_suite(server.base_url, *SMALL_LIMITS, "--api-key", CANARY, "--junitxml=junit.xml", "-rA",
                            "-v", "--tb=long", env={"OPENAI_API_KEY": CANARY}, memory_limit=MEMORY_CAP)
    return ZooRun(run, [server, thief], output=run.output, measured=True)


SPECIAL: dict[str, Callable[[Path], ZooRun]] = {
    "redirect-to-another-host": _run_redirect,
    "tls-self-signed-refused": lambda tmp: _run_tls(False, tmp),
    "tls-self-signed-insecure": lambda tmp: _run_tls(True, tmp),
    "canary-key": _run_canary,
}


SLOW_FIRST = {"million-tiny-events-default-limit", "canary-key", "one-byte-per-second",
              "hang-before-status-line", "gzip-inflating-to-gigabytes"}


@pytest.fixture(scope="module")
def zoo_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Starts the runs of every selected test of this module at once, WORKERS at a time."""
    wanted: list[str] = []
    for item in request.session.items:
        params = getattr(item, "callspec", None)
        if getattr(item, "module", None) is sys.modules[__name__] and params is not None \
                and "case_id" in params.params:
            wanted.append(params.params["case_id"])
            if item.originalname == "test_floods_do_not_grow_memory":
                wanted.append("conformant-control")  # what the floods are compared with
    zoo.reference_stream()  # made once, before the threads need it
    if "gzip-inflating-to-gigabytes" in wanted:
        zoo.gzip_bomb()
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="zoo")
    futures: dict[str, Future[ZooRun]] = {}
    # The long runs first, so that the short ones fill the gaps.
    for name in sorted(dict.fromkeys(wanted), key=lambda n: n not in SLOW_FIRST):
        tmp = tmp_path_factory.mktemp(name)
        if name in SPECIAL:
            if name.startswith("tls") and shutil.which("openssl") is None:
                continue  # the test skips itself
            futures[name] = pool.submit(SPECIAL[name], tmp)
        else:
            futures[name] = pool.submit(_run_case, BY_ID[name], tmp)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)
    for future in futures.values():
        if future.done() and not future.cancelled() and future.exception() is None:
            shutil.rmtree(future.result().suite.cwd, ignore_errors=True)


def result_of(zoo_runs: dict[str, Future[ZooRun]], name: str) -> ZooRun:
    return zoo_runs[name].result(timeout=240)


def assert_sane(zoo_run: ZooRun, timeout: float = 3.0) -> None:
    """What holds for every run: no traceback or internal error of ours, exchanges within their
    total limit, bounded memory where a run had a process of its own, and results written."""
    run, output = zoo_run.suite, zoo_run.output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-4000:]
    assert "internal error in responses-conformance" not in output, output[-4000:]
    assert run.results is not None, output[-4000:]
    errors = [s.get("error") or "" for s in run.results["scenarios"]]
    assert not [e for e in errors if "internal error in responses-conformance" in e], errors
    assert not list(zoo_run.transcripts.glob("*.internal-error.txt"))
    assert run.code in (0, 1, 5, 6), (run.code, output[-4000:])  # passed, failed, nothing tested, could not test
    assert run.ran(), "no scenario ran"
    for name, record in run.transcripts.items():
        assert record["response"]["elapsed_s"] <= timeout + SLACK, (name, record["response"])
    if zoo_run.measured:
        assert 0 < run.max_rss < MAX_RSS, f"peak memory {run.max_rss >> 20} MiB"
    assert run.elapsed < 120, run.elapsed


def assert_replay_sane(zoo_run: ZooRun, failed_checks: set[str] = frozenset()) -> None:
    results = zoo_run.suite.results or {}
    if not (results.get("preflight") or {}).get("http_status") and not (results.get("preflight") or {}).get("ok", True):
        return  # the preflight request got no answer at all: there is nothing to replay
    replayed = zoo_run.replay
    assert replayed is not None, "the run wrote no transcripts"
    assert "Traceback" not in replayed.output, replayed.output[-4000:]
    # 2: could not read our own files. 6: a transcript cut at one of our limits could not be checked.
    assert replayed.code in (0, 1, 6), (replayed.code, replayed.output[-4000:])
    assert replayed.elapsed < 60
    for check in failed_checks:
        assert check in replayed.output, (check, replayed.output[-4000:])
    if failed_checks:
        assert replayed.code == 1, replayed.output[-4000:]


# --------------------------------------------------------------------------------------------
# The zoo


@pytest.mark.parametrize("case_id", [case.id for case in CASES])
def test_zoo(case_id: str, zoo_runs: dict[str, Future[ZooRun]]) -> None:
    case = BY_ID[case_id]
    zoo_run = result_of(zoo_runs, case_id)
    run = zoo_run.suite
    assert_sane(zoo_run, case.timeout)
    ran = run.ran()
    statuses = {s["id"]: s["status"] for s in ran}
    assert statuses == {s["id"]: "passed" if s["id"] in case.passing else case.outcome for s in ran}, \
        [(s["id"], s["status"], s["error"]) for s in ran]
    ran = [s for s in ran if s["id"] not in case.passing]
    checks_table = {c["id"]: c["status"] for c in run.results["checks"]}
    if case.outcome == "could not test":
        assert run.code == 6, run.results["summary"]
        assert run.results["summary"]["verdict"] == "could not test"
        for scenario in ran:
            assert case.error in scenario["error"], scenario["error"]
    elif case.outcome == "failed":
        assert run.code == 1, run.results["summary"]
        assert set(case.checks) == {s["id"] for s in ran}
        for scenario_id, checks in case.checks.items():
            found = run.checks(scenario_id)
            assert checks <= found, (scenario_id, found)
            for check in checks:
                assert checks_table[check] == "failed", check  # the check's row in results.json fails
    else:
        # Unsupported everywhere judges nothing: exit 5, never a green run.
        assert run.code == (5 if case.outcome == "unsupported" else 0), run.results["summary"]
        assert not [v for s in ran for v in s["violations"] if v["severity"] == "must"]
    assert_replay_sane(zoo_run, {c for checks in case.checks.values() for c in checks})


def test_limits_are_options_with_defaults() -> None:
    from responses_conformance.http import Limits

    limits = Limits()
    assert (limits.timeout, limits.idle_timeout, limits.max_bytes, limits.max_events) == (30, 15, 32 << 20, 200_000)
    assert limits.verify_tls
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--help"],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent / "zoo")
    for option in ("--idle-timeout", "--max-bytes", "--max-events", "--insecure", "--conformance-timeout"):
        assert option in proc.stdout


@pytest.mark.parametrize("bad", ["--max-events=0", "--timeout=-1", "--idle-timeout=nan", "--max-bytes=0"])
def test_a_limit_that_is_not_positive_is_a_usage_error(bad: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           f"--target-url={closed_port_url()}", bad], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "must be a positive number" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("case_id", ["million-tiny-events"])
def test_the_event_limit_stops_reading_and_keeps_what_was_checked(case_id: str,
                                                                  zoo_runs: dict[str, Future[ZooRun]]) -> None:
    run = result_of(zoo_runs, case_id).suite
    record = run.transcripts[STREAMED]
    assert record["response"]["end"] == "too_many_events"
    # Stopped soon after the limit: a slice of the body at most, not the 20 MB allowed.
    assert 5000 < record["events_checked"] < 8000, record["events_checked"]
    assert record["response"]["bytes_received"] < 200_000
    # Every event broke rules; a bounded number of violations is kept, the rest counted.
    assert sum(record["violations_not_kept"].values()) > 5000
    assert len(run.scenario(STREAMED)["violations"]) < 1000


@pytest.mark.parametrize("case_id", ["redirect-to-another-host"])
def test_a_redirect_to_another_host_is_not_followed_with_the_key(case_id: str,
                                                                 zoo_runs: dict[str, Future[ZooRun]]) -> None:
    zoo_run = result_of(zoo_runs, case_id)
    run = zoo_run.suite
    first, other = zoo_run.servers
    assert_sane(zoo_run)
    assert other.connections == 0 and other.requests == []  # not followed at all, so never with the key
    assert len(first.requests) == 1
    error = run.scenario(STREAMED)["error"]  # the preflight request met the redirect: nothing else was sent
    assert (f"HTTP 307 redirect to localhost:{other.port} not followed (the API key is only sent to the target "
            f"URL); give the final URL as --target-url") in error
    assert run.code == 6
    assert_replay_sane(zoo_run)


@pytest.mark.parametrize("case_id", ["tls-self-signed-refused"])
def test_tls_is_verified_by_default(case_id: str, zoo_runs: dict[str, Future[ZooRun]]) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl binary is needed to make a self-signed certificate")
    zoo_run = result_of(zoo_runs, case_id)
    run = zoo_run.suite
    (server,) = zoo_run.servers
    assert_sane(zoo_run)
    scenario = run.scenario(STREAMED)
    assert scenario["status"] == "could not test"
    assert f"the TLS handshake with 127.0.0.1:{server.port} failed (TLS with 127.0.0.1:{server.port} failed: " in \
        scenario["error"] and "--insecure" in scenario["error"]
    assert "certificate verify failed" in scenario["error"]
    assert server.requests == []  # the key never went over the unverified connection
    assert "WARNING: --insecure" not in run.output


@pytest.mark.parametrize("case_id", ["tls-self-signed-insecure"])
def test_insecure_accepts_any_certificate_and_says_so_loudly(case_id: str,
                                                             zoo_runs: dict[str, Future[ZooRun]]) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl binary is needed to make a self-signed certificate")
    zoo_run = result_of(zoo_runs, case_id)
    run = zoo_run.suite
    assert_sane(zoo_run)
    assert run.scenario(STREAMED)["status"] == "passed"
    assert run.code == 0, run.output[-3000:]
    assert "WARNING: --insecure: the target's TLS certificate was NOT verified" in run.stdout
    # The preflight request, the wrong-key request that learns whether keys are checked, the scenario.
    assert len(zoo_run.servers[0].requests) == 3
    assert_replay_sane(zoo_run)


# One run, end to end, for the three tests below: the key in the environment and on the command
# line, echoed over HTTP and WebSocket (_run_canary).
@pytest.mark.parametrize("case_id", ["canary-key"])
def test_the_api_key_never_reaches_any_output_over_websocket(case_id: str,
                                                             zoo_runs: dict[str, Future[ZooRun]]) -> None:
    zoo_run = result_of(zoo_runs, case_id)
    run = zoo_run.suite
    server, _ = zoo_run.servers
    assert_sane(zoo_run)
    ws = {s["id"] for s in run.results["scenarios"] if s["id"].startswith("ws-")}
    assert ws and ws <= {s["id"] for s in run.ran()}
    # The key went in the upgrade's Authorization header, and came back in frames.
    assert any(CANARY.encode() in r for r in server.requests)
    forms = {CANARY, quote(CANARY, safe=""), quote_plus(CANARY, safe=""), CANARY.replace("/", "\\/")}
    files = run.output_files()
    assert any(p.name.endswith(".ws.jsonl") for p in files)
    for form in forms:
        assert form not in run.stdout and form not in run.stderr, form
        for path in files:
            assert form.encode() not in path.read_bytes(), (form, path.name)
    frames = "".join(p.read_text() for p in files if p.name.endswith(".ws.jsonl"))
    assert "[REDACTED]" in frames  # the echo reached the transcript, redacted
    assert_replay_sane(zoo_run)
    for form in forms:
        assert form not in zoo_run.replay.output


@pytest.mark.parametrize("case_id", ["canary-key"])
def test_the_api_key_never_reaches_any_output(case_id: str, zoo_runs: dict[str, Future[ZooRun]]) -> None:
    zoo_run = result_of(zoo_runs, case_id)
    run = zoo_run.suite
    server, thief = zoo_run.servers
    assert_sane(zoo_run)
    assert len(run.ran()) == len(run.results["scenarios"])  # the whole suite ran
    # The target really had the key to echo, and echoed it, on every valid-key request.
    assert sum(1 for r in server.requests if CANARY.encode() in r) >= 8
    assert thief.connections == 0
    assert run.code == 1, run.output[-3000:]  # the echoes break rules: found, with nothing leaked
    forms = {CANARY, quote(CANARY, safe=""), quote_plus(CANARY, safe=""), quote(CANARY),
             CANARY.replace("/", "\\/"), quote(CANARY, safe="").replace("%2F", "%2f").replace("%2B", "%2b")}
    files = run.output_files()
    assert len(files) > 10
    names = {p.name for p in files}
    assert {"results.json", "report.html", "junit.xml", f"{STREAMED}.sse", f"{STREAMED}.json"} <= names, names
    for form in forms:
        assert form not in run.stdout and form not in run.stderr, form
        for path in files:
            assert form.encode() not in path.read_bytes(), (form, path.name)
    # The echo did reach the outputs, redacted: this test would see a leak.
    assert "[REDACTED]" in (run.cwd / "reports" / "transcripts" / f"{STREAMED}.sse").read_text()
    assert_replay_sane(zoo_run)
    for form in forms:
        assert form not in zoo_run.replay.output


def test_the_gzip_bomb_is_what_it_claims() -> None:
    """A test of the zoo itself: the bomb is valid gzip (checked whole on a small one, built the
    same way) and its trailer announces more than 2 GiB, in about 2 MB."""
    import gzip
    import struct

    small = zoo.gzip_bomb(8 << 20)
    assert len(gzip.decompress(small)) == (9 << 20) + len(zoo.sse(zoo.events()[:2])) + 1  # CRC checked too
    bomb = zoo.gzip_bomb()
    assert len(bomb) < 3 << 20
    size = (2 << 30) + (1 << 20) + len(zoo.sse(zoo.events()[:2])) + 1
    assert struct.unpack("<I", bomb[-4:])[0] == size % (1 << 32)


# --------------------------------------------------------------------------------------------
# Memory: the floods cost no more than a conformant exchange, give or take the limits


@pytest.mark.parametrize("case_id", FLOODS)
def test_floods_do_not_grow_memory(case_id: str, zoo_runs: dict[str, Future[ZooRun]]) -> None:
    flood = result_of(zoo_runs, case_id).suite
    control = result_of(zoo_runs, "conformant-control").suite
    # 1 MB read (20 MB for the tiny events), a few copies of it for the transcript: tens of MB
    # at most, where holding the flood would take 100 MB (the line) or 2 GB (the gzip body).
    assert flood.max_rss - control.max_rss < 64 << 20, (flood.max_rss >> 20, control.max_rss >> 20)


# --------------------------------------------------------------------------------------------
# The plumbing behind the zoo, in-process


def test_json_nested_deeper_than_the_limit_is_not_parsed() -> None:
    from responses_conformance.engine.checker import parse_json

    ok, value = parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert ok and isinstance(value, list)
    assert parse_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)) == (False, None)
    assert parse_json(b'{"a":' * 200_000) == (False, None)  # RecursionError inside json: caught
    deep = zoo.dumps(zoo.nested_value(MAX_JSON_DEPTH + 1))
    assert parse_json(deep) == (False, None)
    assert parse_json(zoo.dumps(zoo.nested_value(MAX_JSON_DEPTH)))[0]
    # Brackets inside strings are not nesting.
    assert parse_json(zoo.dumps({"s": "[{" * 500, "t": [[1], [2]] * 300}))[0]


def test_violations_kept_per_check_are_bounded() -> None:
    from responses_conformance.engine.checker import MAX_SHOWN_PER_CAUSE, StreamChecker

    checker = StreamChecker()
    checker.feed_bytes(b"data: {}\n\n" * 5000)
    checker.close()
    per_check: dict[str, int] = {}
    for violation in checker.violations:
        per_check[violation.check] = per_check.get(violation.check, 0) + 1
    # One cause (one check at one JSON path) is listed a few times, then summarised once.
    assert per_check and max(per_check.values()) == MAX_SHOWN_PER_CAUSE + 1
    assert checker.dropped["sequence.present"] == 5000 - MAX_SHOWN_PER_CAUSE
    notes = [v for v in checker.violations if "more like it" in v.message]
    assert {v.check for v in notes} == set(checker.dropped)


def _runner(base_url: str, tmp_path: Path, **limits: Any) -> Any:
    from responses_conformance.engine.schemas import SchemaSet
    from responses_conformance.http import Limits
    from responses_conformance.runner import Runner, Target

    return Runner(Target(base_url, CANARY, "m"), limits=Limits(timeout=3, idle_timeout=1, **limits),
                  reports_dir=tmp_path, schemas=SchemaSet.load())


def _scenario(scenario_id: str) -> Any:
    from responses_conformance.scenarios import load_all

    return next(s for s in load_all() if s.id == scenario_id)


def test_a_crash_in_the_checker_is_an_internal_error_not_a_traceback(tmp_path: Path, monkeypatch) -> None:
    from responses_conformance.engine.exchange import ExchangeChecker

    def broken(self: Any, chunk: bytes) -> None:
        raise RuntimeError(f"boom {CANARY}")

    monkeypatch.setattr(ExchangeChecker, "body", broken)
    with ZooServer(zoo.stream(zoo.reference_stream())) as server:
        runner = _runner(server.base_url, tmp_path)
        try:
            result = runner.result(_scenario(STREAMED))
        finally:
            runner.close()
    assert result.outcome() is Status.COULD_NOT_TEST
    assert result.error.startswith("internal error in responses-conformance (a bug of ours, not the target's; "
                                   "please report it with the transcript): RuntimeError: boom [REDACTED]")
    record = (tmp_path / "transcripts" / f"{STREAMED}.json").read_text()
    assert "internal_error" in record and "Traceback" in record and CANARY not in record
    assert result.exchange is not None and result.exchange.end == "eof"  # the body was still read


def test_a_crash_after_the_exchange_is_an_internal_error_too(tmp_path: Path, monkeypatch) -> None:
    from responses_conformance import transports as transports_module

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(transports_module, "write_transcript", broken)
    with ZooServer(zoo.stream(zoo.reference_stream())) as server:
        runner = _runner(server.base_url, tmp_path)
        try:
            result = runner.result(_scenario(STREAMED))
        finally:
            runner.close()
    assert result.outcome() is Status.COULD_NOT_TEST
    assert "internal error in responses-conformance" in result.error and "RecursionError" in result.error
    assert "Traceback" in (tmp_path / "transcripts" / f"{STREAMED}.internal-error.txt").read_text()


def test_the_event_limit_is_exact_to_a_slice_even_for_one_huge_chunk(tmp_path: Path) -> None:
    """A gzip body can inflate to the whole byte limit in one chunk; the limit still holds."""
    import gzip as gzip_module

    body = zoo.sse(zoo.events()[:2]) + b"data: {}\n\n" * 100_000
    packed = gzip_module.compress(body)

    def handler(peer: Any) -> None:
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(packed) + packed)

    with ZooServer(handler) as server:
        runner = _runner(server.base_url, tmp_path, max_events=1000)
        try:
            result = runner.result(_scenario(STREAMED))
        finally:
            runner.close()
    assert result.exchange.end == "too_many_events"
    assert result.error.startswith("the stream exceeded the event limit: more than 1000 events (event limit, "
                                   "--max-events); stopped reading after ")
    assert 1000 < result.events <= 1000 + 2000  # at most one 16 KiB slice of 10-byte events past it
