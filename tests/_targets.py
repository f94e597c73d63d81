"""Tiny broken targets on 127.0.0.1 for the plugin tests: each answers every request the same
broken way. Threads, bounded, and stopped by the context manager.

And the suite run in this process (`run_suite_in_process`): what `pytest --target-url=URL -k ...`
makes of a target, through the runner and the results model as the plugin drives them, in a
second instead of a pytest process; the end-to-end runs are kept for what only the plugin does."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .zoo.server import closed_port_url, read_request  # noqa: F401 - closed_port_url is re-exported

Handler = Callable[[socket.socket, bytes], None]


@contextmanager
def target(handler: Handler) -> Iterator[str]:
    """Serve `handler(conn, request_bytes)` for every connection; yields the base URL (…/v1)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def serve_one(conn: socket.socket) -> None:
        with conn:
            try:
                handler(conn, read_request(conn))
            except OSError:
                pass

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            worker = threading.Thread(target=serve_one, args=(conn,), daemon=True)
            worker.start()
            workers.append(worker)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


def respond(status: str, content_type: str, body: bytes, extra_headers: str = "") -> Handler:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                     f"{extra_headers}Connection: close\r\n\r\n".encode() + body)
    return handler


def hang(seconds: float) -> Handler:
    def handler(conn: socket.socket, request: bytes) -> None:
        threading.Event().wait(seconds)
    return handler


def echo_key() -> Handler:
    """Echoes the Authorization header into a header, the body and an error message."""
    def handler(conn: socket.socket, request: bytes) -> None:
        auth = ""
        for line in request.split(b"\r\n"):
            if line.lower().startswith(b"authorization:"):
                auth = line.split(b":", 1)[1].strip().decode(errors="replace")
        body = ('{"error": {"message": "Incorrect API key provided: %s", "type": "invalid_request_error", '
                '"param": null, "code": "invalid_api_key"}, "echo": "%s"}' % (auth, auth)).encode()
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Echo: {auth}\r\n"
                     f"Connection: close\r\n\r\n".encode()
                     + b"event: response.created\ndata: " + body + b"\n\n")
    return handler


# --------------------------------------------------------------------------------------------
# The suite run in this process: what `pytest --target-url=URL -k ...` does, through the library


def limits_of(args: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The Limits keywords of command-line limits (`--timeout=3`, `--max-bytes=1000000`, `--insecure`)."""
    names = {"--timeout": ("timeout", float), "--conformance-timeout": ("timeout", float),
             "--idle-timeout": ("idle_timeout", float), "--max-bytes": ("max_bytes", int),
             "--max-events": ("max_events", int)}
    out: dict[str, Any] = {}
    for arg in args:
        if arg == "--insecure":
            out["verify_tls"] = False
            continue
        option, _, value = arg.partition("=")
        if option not in names:
            raise ValueError(f"not a limit: {arg}")
        name, kind = names[option]
        out[name] = kind(value)
    return out


def selector(expression: str | None) -> Callable[[str], bool]:
    """The scenarios a `-k` expression of scenario-id fragments joined by `or` selects (every
    item of a scenario is named `test_check[<scenario>:<check>]`); None selects every one."""
    if expression is None:
        return lambda scenario_id: True
    terms = [term.strip() for term in expression.split(" or ")]
    assert all(terms) and not any(" " in term for term in terms), expression
    return lambda scenario_id: any(term in scenario_id for term in terms)


@dataclass
class SuiteResults:
    """What a run wrote: results.json's content, its verdict's exit code, the transcripts."""

    reports: Path
    results: dict[str, Any]
    elapsed: float
    transcripts: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_rss: int = 0  # bytes; measured only where the run had a process of its own

    @property
    def code(self) -> int:
        return self.results["summary"]["exit_code"]

    @property
    def cwd(self) -> Path:
        return self.reports.parent

    def scenario(self, scenario_id: str) -> dict[str, Any]:
        return next(s for s in self.results["scenarios"] if s["id"] == scenario_id)

    def ran(self) -> list[dict[str, Any]]:
        """The scenarios that were run: not deselected (a scenario refused as unsupported was sent)."""
        return [s for s in self.results["scenarios"] if s["status"] != "not selected"]

    def checks(self, scenario_id: str | None = None) -> set[str]:
        return {v["check"] for s in self.ran() if scenario_id in (None, s["id"]) for v in s["violations"]}

    def output_files(self) -> list[Path]:
        return [p for p in self.reports.rglob("*") if p.is_file()]

    @classmethod
    def read(cls, reports: Path, elapsed: float, max_rss: int = 0) -> "SuiteResults":
        run = cls(reports, json.loads((reports / "results.json").read_text()), elapsed, max_rss=max_rss)
        for path in sorted((reports / "transcripts").glob("*.json")):
            run.transcripts[path.stem] = json.loads(path.read_text())
        return run


class _Session:
    """What report.build_results reads of the plugin's ConformanceSession, for one run."""

    def __init__(self, runner: Any, scenarios: list[Any], selected: set[str], profile: str, results_path: Path) -> None:
        self.runner = self._runner = runner
        self.scenarios = scenarios
        self.selected = selected
        self.profile = profile
        self.results_path = results_path
        self.target = runner.target
        self.baseline = None
        self.preflight = runner.preflight

    @property
    def results(self) -> dict[str, Any]:
        return self.runner.settled()

    @property
    def extra_violations(self) -> dict[str, list]:
        return self.runner.pair_violations()

    def scenario_records(self) -> dict[str, dict]:
        from responses_conformance import report

        return report.scenario_records(self)

    def stale_baseline_entries(self) -> list:
        return []


def run_suite_in_process(base_url: str, reports: Path, *, select: str | None = None, api_key: str | None = None,
                         model: str = "gpt-4o-mini", limits: dict[str, Any] | None = None,
                         profile: str = "openai", upstream_url: str | None = None,
                         embedded: bool = False) -> SuiteResults:
    """The conformance suite against `base_url`, as the plugin runs it (preflight, then every
    selected scenario at once, the stream-vs-non-stream pairs), without pytest: results.json
    and the transcripts written under `reports`, and read back."""
    from responses_conformance import report
    from responses_conformance.engine.schemas import SchemaSet
    from responses_conformance.http import Limits
    from responses_conformance.runner import Runner, Target
    from responses_conformance.scenarios import load_all

    started = time.monotonic()
    scenarios = load_all()
    wanted = selector(select)
    selected = [s for s in scenarios if wanted(s.id)]
    (reports / "transcripts").mkdir(parents=True, exist_ok=True)
    runner = Runner(Target(base_url, api_key, model, embedded=embedded, upstream_url=upstream_url),
                    limits=Limits(**(limits or {})), reports_dir=reports, profile=profile,
                    schemas=SchemaSet.load(profile=profile), scenarios=scenarios)
    try:
        if selected and runner.run_preflight().ok:
            runner.prefetch(selected)
            pair_check = "consistency.nonstream_matches_stream"
            for scenario in selected:  # what each scenario's items read, the pair item included
                result = runner.result(scenario)
                judged = result.reason is None or result.for_check(pair_check)
                if judged and any(c.id == pair_check for c in scenario.checks(profile, upstream=bool(upstream_url))):
                    runner.pair(scenario)
        session = _Session(runner, scenarios, {s.id for s in selected}, profile, reports / "results.json")
        data = runner.redactor.json(report.build_results(session))
    finally:
        runner.close()
    (reports / "results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return SuiteResults.read(reports, time.monotonic() - started)
