"""Fuzz mode in the pytest run: the options, the run after the scenarios, its block in
results.json and its status in the verdict.

`--fuzz=N` runs fuzz mode (fuzz.py) once the scenarios are done, against the same target with
the same key, limits, profile and concurrency. `--fuzz-only` (what `responses-conformance fuzz`
passes) leaves the scenarios out. The fuzz run's status (results.scenario_status over its
minimal findings) joins the scenarios' statuses in results.verdict: the one verdict decides
the exit code, the last line and results.json as for any run.
"""
from __future__ import annotations

import sys
from typing import Any

import pytest

from . import results as results_mod
from .results import Status, Verdict


def add_options(group: Any) -> None:
    group.addoption("--fuzz", dest="fuzz_cases", type=int, default=None, metavar="N",
                    help="fuzz mode: after the scenarios, send N requests generated from the request schema "
                         "(half valid, streamed and not; half with one field broken) and shrink every finding to "
                         "its smallest request (needs the [fuzz] extra)")
    group.addoption("--fuzz-seed", dest="fuzz_seed", type=int, default=None,
                    help="the fuzz run's seed (default: a random one, printed): the same seed sends the same requests")
    group.addoption("--fuzz-budget", dest="fuzz_budget", type=float, default=None, metavar="SECONDS",
                    help="time budget of the fuzz run, shrinking included (default: 120)")
    group.addoption("--fuzz-only", dest="fuzz_only", action="store_true", default=False,
                    help="with --fuzz: run fuzz mode alone, without the scenarios")


def register(config: pytest.Config, session: Any) -> None:
    """Called by the plugin once its session exists: checks the options (a usage error otherwise)
    and registers the hooks when --fuzz is given."""
    cases = config.getoption("fuzz_cases")
    if cases is None:
        if config.getoption("fuzz_only") or config.getoption("fuzz_seed") is not None:
            raise pytest.UsageError("--fuzz-only and --fuzz-seed need --fuzz=N")
        return
    if cases < 1:
        raise pytest.UsageError(f"--fuzz must be a positive number of requests, got {cases}")
    budget = config.getoption("fuzz_budget")
    if budget is not None and not (0 < budget < float("inf")):
        raise pytest.UsageError(f"--fuzz-budget must be a positive number of seconds, got {budget!r}")
    seed = config.getoption("fuzz_seed")
    if seed is not None and not 0 <= seed < 2**64:
        raise pytest.UsageError(f"--fuzz-seed must be a number from 0 to 2**64-1, got {seed}")
    import importlib.util

    # Looked up, not imported: Hypothesis counts what it does before the session starts as
    # plugin initialisation and warns about it.
    if any(importlib.util.find_spec(name) is None for name in ("hypothesis", "hypothesis_jsonschema")):
        raise pytest.UsageError("fuzz mode needs Hypothesis and hypothesis-jsonschema: "
                                "pip install 'responses-conformance[fuzz]'")
    options = {"cases": cases, "seed": seed, "budget": budget, "concurrency": max(1, config.getoption("concurrency"))}
    config.pluginmanager.register(FuzzHooks(session, options), "responses-conformance-fuzz")


class FuzzHooks:
    def __init__(self, session: Any, options: dict[str, Any]) -> None:
        self.session = session
        self.options = options
        session.fuzz = None
        session.fuzz_skipped = None

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not config.getoption("fuzz_only"):
            return
        dropped = [item for item in items if "conformance_case" in getattr(getattr(item, "callspec", None),
                                                                             "params", {})]
        if dropped:
            items[:] = [item for item in items if item not in dropped]
            config.hook.pytest_deselected(items=dropped)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session: pytest.Session):
        yield
        if session.config.option.collectonly:
            return
        if session.shouldstop or session.shouldfail:
            self.session.fuzz_skipped = "not run: the run stopped before it (-x, --maxfail)"
            return
        self.run(session.config)

    def run(self, config: pytest.Config) -> None:
        from .fuzz import DEFAULT_BUDGET, FuzzConfig, FuzzTarget, run

        options = dict(self.options)
        options["budget"] = options["budget"] or DEFAULT_BUDGET
        self.config = FuzzConfig(**options)
        conformance = self.session
        reporter = config.pluginmanager.get_plugin("terminalreporter")

        def say(text: str) -> None:
            if reporter is not None:
                reporter.write_line(text)
            else:
                print(text, file=sys.stderr)

        found = conformance.runner.run_preflight()
        if not found.ok:
            conformance.fuzz_skipped = f"not run: {found.cause}"
            return
        runner = conformance.runner
        target = runner.target
        fuzz_target = FuzzTarget(base_url=target.base_url, model=target.model, credentials=target.credentials,
                                 limits=runner.limits, redactor=runner.redactor, schemas=runner.schemas,
                                 profile=runner.profile, deterministic=target.deterministic)
        say(f"fuzz: {self.config.cases} requests, seed {self.config.seed} (--fuzz-seed={self.config.seed} repeats "
            f"them), budget {self.config.budget:g} s, concurrency {self.config.concurrency}")
        try:
            conformance.fuzz = run(fuzz_target, self.config, progress=say)
        except Exception as exc:  # noqa: BLE001 - a bug of ours: said once, and the run could not test
            what = " ".join(str(exc).split())[:200]
            conformance.fuzz_skipped = (f"internal error in fuzz mode (a bug of responses-conformance, not the "
                                        f"target's): {type(exc).__name__}{': ' + what if what else ''}")
            conformance.fuzz_failed = True
            return
        _write_transcripts(conformance)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        result = self.session.fuzz
        if result is None and self.session.fuzz_skipped is None:
            return
        terminalreporter.write_sep("=", "responses-conformance fuzz")
        if result is None:
            terminalreporter.write_line(f"fuzz: {self.session.fuzz_skipped}")
            return
        for line in result.lines(command=_command()):
            terminalreporter.write_line(self.session.runner.redactor.text(line))


def _write_transcripts(conformance: Any) -> None:
    """The minimal request of each finding and what the target answered, beside the scenarios'
    transcripts (`fuzz-<n>-<check>`)."""
    from .transcript import write_transcript

    result = conformance.fuzz
    folder = conformance.reports_dir / "transcripts"
    for index, finding in enumerate(result.findings, 1):
        exchange = finding.example.exchange
        if exchange is None:
            continue
        try:
            paths = write_transcript(folder, f"fuzz-{index:02d}-{finding.check}", exchange,
                                     violations=[v.to_json() for v in finding.example.violations],
                                     extra={"fuzz": {"cause": finding.cause, "slot": finding.slot,
                                                     "seed": result.config.seed, "shrunk": finding.shrunk}},
                                     redactor=conformance.runner.redactor)
        except OSError:
            continue
        try:
            finding.transcript = str(paths["json"].relative_to(conformance.results_path.parent))
        except ValueError:
            finding.transcript = str(paths["json"])


def _command() -> str:
    argv0 = sys.argv[0] if sys.argv else ""
    return "responses-conformance fuzz" if argv0.endswith("responses-conformance") else "pytest"


def amend_results(session: Any, ending: Verdict | None) -> None:
    """results.json with the fuzz block, and the verdict over the scenarios and the fuzz run
    (results.verdict, the one computation). Rewrites the file and `session.last_results`."""
    import json

    data = session.last_results
    summary = data["summary"]
    result = getattr(session, "fuzz", None)
    skipped = getattr(session, "fuzz_skipped", None)
    if result is None:
        if skipped is None and ending is None:
            return
        data["fuzz"] = {"not_run": skipped or "the run ended before fuzz mode"}
        if getattr(session, "fuzz_failed", False) and ending is None:  # asked for and not done: never conformant
            _verdict(data, Status.COULD_NOT_TEST, skipped)
    else:
        block = result.to_json()
        block["reproduce"] = result.reproduce(_command())
        data["fuzz"] = session.runner.redactor.json(block) if session.runner_started else block
        counted = [f for f in result.findings if results_mod.counts(f.violation(), deterministic=result.deterministic)]
        should = [f for f in result.findings if f.severity.value == "should" and not f.model_behaviour]
        violations = summary.setdefault("violations", {})
        violations["must"] = violations.get("must", 0) + len(counted)
        violations["should"] = violations.get("should", 0) + len(should)
        summary["fuzz"] = str(result.status)
        if ending is None:
            _verdict(data, result.status, f"fuzz mode: {result.stopped}" if result.stopped else None)
    session.results_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    session.last_results = data


def _verdict(data: dict[str, Any], fuzz_status: Status, cause: str | None) -> None:
    """The run's verdict again, with the fuzz run's status beside the scenarios' statuses."""
    summary = data["summary"]
    statuses = [s["status"] for s in data.get("scenarios", [])] + [fuzz_status]
    stale = len((data.get("baseline") or {}).get("stale", []))
    verdict = results_mod.verdict(statuses, stale_baseline=stale,
                                  could_not_test=(data.get("preflight") or {}).get("ok") is False)
    summary["verdict"], summary["exit_code"] = verdict.label, verdict.exit_code
    if verdict is Verdict.CONFORMANT:
        summary.pop("cause", None)
    elif fuzz_status is Status.COULD_NOT_TEST and cause and not summary.get("cause"):
        summary["cause"] = cause


FUZZ_HELP = """\
usage: responses-conformance fuzz [--fuzz=N] [--fuzz-seed=S] [--fuzz-budget=SECONDS] [--target-url=URL]
                                  [run options] [pytest options]

Fuzz mode alone (`run --fuzz=N --fuzz-only`): N requests (default 200) generated with Hypothesis
from the suite's request schema, half valid (streamed and not), half with one field broken, sent to
--target-url (or the embedded reference server) with the run's key, limits and --concurrency.

  invalid body  must get a 4xx with OpenAI's error envelope; a 5xx, a hang or a malformed envelope
                is a MUST finding; a 200 is a SHOULD remark when both the published schema and
                OpenAI refuse the body, and only counted otherwise
  valid body    must get 200 and a conformant stream or Response that does not end failed, or a
                clean 4xx refusal (counted as unsupported)

Every finding is shrunk to its smallest request and shown with its curl, grouped by cause; the
seed is printed, and --fuzz-seed=S sends the same requests again (Hypothesis' example database is
not used). The run stops sending and shrinking at --fuzz-budget (default 120 s). results.json gets
a `fuzz` block; each finding's exchange is in the transcripts folder as fuzz-<n>-<check>.

exit codes: 0 conformant, 1 not conformant, 2 interrupted, 4 usage error, 5 nothing tested,
            6 could not test
Every option of `responses-conformance run` works too: see `run --help`.
"""


def cli_main(argv: list[str], run: Any) -> int:
    """`responses-conformance fuzz`: `run` with --fuzz (200 unless given) and --fuzz-only."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(FUZZ_HELP, end="")
        return 0
    from .fuzz import DEFAULT_CASES

    args = list(argv)
    if not any(arg == "--fuzz" or arg.startswith("--fuzz=") for arg in args):
        args.insert(0, f"--fuzz={DEFAULT_CASES}")
    if "--fuzz-only" not in args:
        args.append("--fuzz-only")
    return run(args)
