"""The pytest plugin: `pytest --target-url=https://host/v1` from any folder.

Registered through the `pytest11` entry point. It adds the options, turns scenarios x checks
into test items (`test_check[text-stream:sequence.contiguous]`), runs one request per
scenario on first use, reports a broken MUST rule as a failure and a broken SHOULD rule as a
warning, a target that could not be tested as an error, and writes results.json, the HTML
report (pytest-html) and the transcripts.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from . import baseline as baseline_mod
from . import report
from . import results as results_mod
from .engine import profiles
from .http import Limits
from .preflight import preflights
from .results import Verdict
from .runner import Runner, Target
from .scenarios import FEATURES, Case, Scenario, ScenarioError, load_all
from .targets import Defaults, TargetsError, TargetSpec, combine, from_command_line, load_file

SUITE_MODULE = Path(__file__).with_name("test_conformance.py")
PACKAGE_DIR = Path(__file__).parent
SESSION_KEY = pytest.StashKey["ConformanceSession"]()
DEFAULT_REMOTE_MODEL = "gpt-4o-mini"
# Exit codes: results.Verdict (0 conformant, 1 not conformant, 2 interrupted, 4 usage error,
# 5 nothing tested, 6 could not test); pytest's 3 (internal error) stays as it is.
EXIT_COULD_NOT_TEST = Verdict.COULD_NOT_TEST.exit_code


class ConformanceWarning(UserWarning):
    """A SHOULD rule is broken: worth knowing, not a failure."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("responses-conformance", "Responses API conformance")
    group.addoption("--target-url", action="append", default=[],
                    help="base URL of the target, up to and including the version prefix (https://host/v1). "
                         "Without it, the embedded reference server is the target. Repeat it (NAME=URL) to "
                         "test several targets in one run")
    group.addoption("--targets", dest="targets_file", default=None,
                    help="a JSON or TOML file of targets by name, each with its url, model and the environment "
                         "variable of its key (api_key_env); see the README's 'Many targets'")
    group.addoption("--api-key", default=None,
                    help="API key for the target (default: $OPENAI_API_KEY). Never printed or written.")
    group.addoption("--model", dest="conformance_model", default=None,
                    help=f"model to request (default: {DEFAULT_REMOTE_MODEL}, or the reference model)")
    group.addoption("--profile", dest="conformance_profile", default=profiles.DEFAULT, choices=sorted(profiles.PROFILES),
                    help="which flavour of the protocol to hold the target to: openai (what the real API sends, "
                         "default), openai-strict (the published schema as written), openresponses")
    group.addoption("--results-json", default=None, help="where to write results.json (default: <reports>/results.json)")
    group.addoption("--reports-dir", default="reports", help="folder for the report, results and transcripts")
    timeout_help = "total time limit in seconds for one request and its whole body (default: 30)"
    if not _has_plugin_option("pytest_timeout"):
        # pytest-timeout owns --timeout where it is installed; --conformance-timeout always works.
        group.addoption("--timeout", dest="conformance_timeout", type=float, default=None, help=timeout_help)
    group.addoption("--conformance-timeout", dest="conformance_timeout", type=float, default=None,
                    help=timeout_help)
    group.addoption("--idle-timeout", type=float, default=None,
                    help="longest silence in seconds allowed before or between bytes (default: 15)")
    group.addoption("--max-bytes", type=int, default=None, help="largest body read, in bytes (default: 32 MiB)")
    group.addoption("--max-events", type=int, default=None,
                    help=f"most events checked in one stream before it is cut off (default: {Limits().max_events})")
    group.addoption("--upstream-url", default=None,
                    help="our reference server's URL when it is the upstream of the target under test (a proxy): "
                         "the suite then checks that what the upstream produced reaches the client intact "
                         "(runs scenarios one at a time)")
    group.addoption("--concurrency", type=int, default=8,
                    help="scenarios sent at the same time (default: 8; steps of one scenario stay in order)")
    group.addoption("--require", default="",
                    help="comma-separated features the target must offer (e.g. tools,state): a refusal is then a "
                         "failure, not 'unsupported'. Features: " + ", ".join(FEATURES))
    group.addoption("--scenarios", dest="scenario_dirs", action="append", default=[],
                    help="a folder of your own scenario files (same format as the built-in ones); repeatable")
    group.addoption("--auth-header", default="Authorization",
                    help="header that carries the key (default: Authorization; e.g. api-key for Azure-style gateways)")
    group.addoption("--auth-scheme", default="Bearer", help="scheme before the key (default: Bearer; '' for the bare key)")
    group.addoption("--header", dest="extra_headers", action="append", default=[],
                    help="an extra request header 'Name: value', sent with every request; repeatable")
    group.addoption("--baseline", default=None,
                    help="file of known failures (`check.id` or `scenario:check.id`, each with '# reason'): "
                         "they do not fail the run; an entry that now passes does")
    group.addoption("--write-baseline", default=None, help="write a baseline of this run's failures to this file")
    group.addoption("--insecure", action="store_true", default=False,
                    help="do not verify the target's TLS certificate (loudly reported)")
    from . import fuzz_plugin  # --fuzz and its options (fuzz_plugin.py)

    fuzz_plugin.add_options(group)


def _has_plugin_option(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.hookimpl(tryfirst=True)  # before pytest-html and junitxml read their output paths
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a conformance check item (scenario x check)")
    if (config.getoption("target_url") or config.getoption("targets_file")) \
            and config.args_source != pytest.Config.ArgsSource.ARGS:
        # `pytest --target-url=...` from any folder runs the conformance suite, not local tests.
        config.args = [str(SUITE_MODULE)]
    if not _collects_suite(config):
        return
    try:
        session = _configure_session(config)
    except pytest.UsageError as exc:
        # No older results.json may stay behind looking current: this run's says "usage error".
        report.write_usage_error(_results_path(config), str(exc))
        print(results_mod.final_line(Verdict.USAGE_ERROR, str(exc)), file=sys.stderr)
        raise
    if config.pluginmanager.hasplugin("html"):
        if not getattr(config.option, "htmlpath", None):
            config.option.htmlpath = str(session.reports_dir / "report.html")
        config.option.self_contained_html = True
        config.pluginmanager.register(report.HtmlHooks(session), "responses-conformance-html")
    if hasattr(config.option, "xmlpath") and not config.option.xmlpath:
        # One JUnit case per scenario and check, for CI systems that read JUnit.
        config.option.xmlpath = str(session.reports_dir / "junit.xml")


def _configure_session(config: pytest.Config) -> "ConformanceSession":
    try:
        scenarios = load_all((config.invocation_params.dir / folder).resolve()
                             for folder in config.getoption("scenario_dirs"))
    except ScenarioError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = ConformanceSession(config, scenarios)
    config.stash[SESSION_KEY] = session
    baseline_path = config.getoption("baseline")
    known = {s.id for s in session.scenarios}
    try:
        shared = (baseline_mod.load((config.invocation_params.dir / baseline_path).resolve(), known)
                  if baseline_path else None)
        for run in session.runs.values():  # a target's own (--targets FILE), else --baseline's; hit per target
            run.baseline = baseline_mod.load(run.spec.baseline, known) if run.spec.baseline else shared
    except baseline_mod.BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    if session.several and config.getoption("fuzz_cases") is not None:
        raise pytest.UsageError("--fuzz runs against one target: give one --target-url, or run it once per target")
    from . import fuzz_plugin, xdist_support

    xdist_support.configure(config, session)  # -n N: each scenario sent once, one set of outputs
    if session.role != "worker":  # fuzz mode runs once, beside the scenarios, not in every worker
        fuzz_plugin.register(config, session)  # --fuzz: checks its options, registers its hooks
    return session


def _results_path(config: pytest.Config) -> Path:
    base = config.invocation_params.dir
    results = config.getoption("results_json")
    return (base / results).resolve() if results else (base / config.getoption("reports_dir")).resolve() / "results.json"


def _collects_suite(config: pytest.Config) -> bool:
    base = config.invocation_params.dir
    for arg in config.args:
        if config.option.pyargs and arg.split("::")[0].split(".")[0] == __package__:
            return True
        path = Path(arg.split("::")[0])
        path = (base / path).resolve() if not path.is_absolute() else path.resolve()
        if path == SUITE_MODULE.resolve() or path in SUITE_MODULE.resolve().parents:
            return True
    return False


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    session.stop()
    line = session.final_line()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if line and reporter is not None:
        # The last line of the output, where CI logs are read.
        reporter.write_line(line, bold=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_case" not in metafunc.fixturenames:
        return
    profile = metafunc.config.getoption("conformance_profile")
    session = metafunc.config.stash.get(SESSION_KEY, None)
    scenarios = session.scenarios if session is not None else load_all()
    # One target: `text-stream:grammar.created_first`; several: `vllm:text-stream:grammar.created_first`.
    if session is not None:
        targets = [(run.name if session.several else None, bool(run.spec.upstream_url)) for run in session.runs.values()]
    else:
        targets = [(None, bool(metafunc.config.getoption("upstream_url")))]
    cases = [Case(scenario, check, profiles.get(profile).severity(check.id), target=name)
             for name, upstream in targets for scenario in scenarios
             for check in scenario.checks(profile, upstream=upstream)]
    metafunc.parametrize("conformance_case", cases, ids=[case.id for case in cases])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("conformance_case") if callspec else None
        if isinstance(case, Case):
            item.add_marker(pytest.mark.conformance)
            if case.target is not None:
                item.user_properties.append(("target", case.target))
            item.user_properties.extend([("scenario", case.scenario.id), ("check", case.check.id),
                                         ("severity", str(case.severity)),
                                         ("category", case.check.category)])


@pytest.hookimpl(tryfirst=True)  # before pytest-html and junitxml write their files: they show this verdict
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The one verdict (results.py): it sets the exit code, and results.json, JUnit, the HTML
    top and the last line all read it from here."""
    conformance = session.config.stash.get(SESSION_KEY, None)
    if conformance is None or session.config.option.collectonly:
        return
    if conformance.role == "worker":  # the controller writes the outputs, from every worker's records
        from .xdist_support import KEY, worker_output

        session.config.workeroutput[KEY] = worker_output(conformance)
        return
    ending = {pytest.ExitCode.INTERRUPTED: Verdict.INTERRUPTED,
              pytest.ExitCode.USAGE_ERROR: Verdict.USAGE_ERROR}.get(session.exitstatus)
    conformance.write_results(ending)
    verdict = Verdict.from_label(conformance.last_results["summary"]["verdict"])
    if session.exitstatus != pytest.ExitCode.INTERNAL_ERROR:
        session.exitstatus = verdict.exit_code
    _junit_properties(session.config, conformance.last_results)
    target = session.config.getoption("write_baseline")
    if target:
        path = (session.config.invocation_params.dir / target).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        for run in conformance.runs.values():  # several targets: one file each, `known.<name>.txt`
            where = path.with_name(f"{path.stem}.{run.name}{path.suffix}") if conformance.several else path
            where.write_text(baseline_mod.render(run.must_failures()), encoding="utf-8")


def _junit_properties(config: pytest.Config, data: dict) -> None:
    """The verdict as properties of the JUnit test suite, for CI systems that read only JUnit."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest moved it
        return
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    summary = data["summary"]
    xml.add_global_property("conformance_verdict", summary["verdict"])
    xml.add_global_property("conformance_exit_code", summary["exit_code"])
    if summary.get("cause"):
        xml.add_global_property("conformance_cause", summary["cause"])


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    conformance = config.stash.get(SESSION_KEY, None)
    if conformance is not None and getattr(conformance, "last_results", None):
        terminalreporter.write_sep("=", "responses-conformance")
        for line in conformance.summary_lines():
            terminalreporter.write_line(line)


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def conformance_result(request: pytest.FixtureRequest, conformance_case: Case):
    session: ConformanceSession = request.config.stash[SESSION_KEY]
    result = session.run_of(conformance_case).runner.result(conformance_case.scenario)
    if result.reason is not None and not result.for_check(conformance_case.check.id):
        # No verdict on this rule: the target could not be tested (the summary says why, once,
        # grouped by cause), refused an optional feature cleanly, or the scenario does not
        # apply to it. What the steps before that broke is still judged.
        prefix = "could not test: " if result.error is not None else ""
        pytest.skip(prefix + " ".join(result.reason.split())[:200])
    target = session.run_of(conformance_case).target
    why = not_judged(conformance_case, result, upstream=target is not None and target.upstream_url is not None)
    if why is not None:
        pytest.skip(why)
    return result


def not_judged(case: Case, result: Any, *, upstream: bool = False) -> str | None:
    """Why a scenario that ran to a judgement did not judge the item's check, or None: it ended
    before a step the check is judged on (a later step could not be built from an earlier answer
    that broke a rule), or no answer it got was one the check judges (HTTP 500 to a stream
    request: the stream checks). The item is not tested, as results.json's checks table says
    (the same results.Judgement), never passed. A check with a finding was judged; the
    stream-vs-non-stream pair says in its own item why it could not compare."""
    check = case.check
    if result.reason is not None or check.asked_by == "compare_shape_with" or result.for_check(check.id):
        return None
    ran = {"status": result.status, "steps_run": len(result.steps)}
    answers = [report.step_answer(done) for done in result.steps]
    if case.scenario.judgement({**ran, "steps": answers}, upstream=upstream).judges(check):
        return None
    if case.scenario.judgement(ran, upstream=upstream).judges(check):  # the steps sent, answered as asked
        said = "; ".join(f"{done.step.name}: " * (len(answers) > 1) + _answered(answer)
                         for done, answer in zip(result.steps, answers))
        return f"not tested: no answer in the scenario was one this check judges ({said})"
    return (f"not tested: the scenario ended after step {len(result.steps)} of {len(case.scenario.steps)}, "
            f"before what this check is judged on")


def _answered(answer: dict[str, Any]) -> str:
    """One step's answer in a line: `HTTP 500, judged as error`."""
    if answer.get("http_status") is None:
        return "no answer"
    kinds = answer.get("answer")
    return f"HTTP {answer['http_status']}" + (f", judged as {' and '.join(kinds) or 'nothing'}"
                                              if kinds is not None else "")


@pytest.hookimpl(tryfirst=True)  # a preflight that ends the run clears the items before pytest-xdist lists them
def pytest_collection_finish(session: pytest.Session) -> None:
    """Send every selected scenario now, concurrently; items then only read their results."""
    conformance = session.config.stash.get(SESSION_KEY, None)
    if conformance is None or session.config.option.collectonly:
        return
    selected: dict[str, dict[str, Scenario]] = {}  # target -> scenarios its items use
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("conformance_case") if callspec else None
        if isinstance(case, Case):
            selected.setdefault(conformance.run_of(case).name, {}).setdefault(case.scenario.id, case.scenario)
    for name, scenarios in selected.items():
        conformance.runs[name].selected = set(scenarios)
    if not selected:
        return
    # Under xdist, the controller's, sent once. Several targets are probed at once: a target
    # that does not answer costs its timeout once, not once per target before it.
    found = preflights([conformance.runs[name] for name in selected])
    failed = {name for name, probe in found.items() if not probe.ok}
    if failed:
        # A setup mistake, or a target that cannot be tested at all: said once, with its fix;
        # none of its scenarios is sent, none reported failed or unsupported because of it. The
        # other targets go on.
        dropped = [item for item in session.items if _target_of(conformance, item) in failed]
        session.items[:] = [item for item in session.items if _target_of(conformance, item) not in failed]
        session.config.hook.pytest_deselected(items=dropped)
    if conformance.role == "worker":
        return  # xdist hands this worker its items one group at a time: each scenario runs on its first item
    for name, scenarios in selected.items():
        if name not in failed:
            conformance.runs[name].runner.prefetch(scenarios.values())
    for name, scenarios in selected.items():
        if name not in failed:  # a line per finished scenario (a terminal, -v)
            report.scenario_progress(conformance.runs[name], list(scenarios.values()))


def _target_of(conformance: "ConformanceSession", item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("conformance_case") if callspec else None
    return conformance.run_of(case).name if isinstance(case, Case) else None


def judge(case: Case, result, conformance: "ConformanceSession") -> None:
    """The body of every conformance item."""
    session = conformance.run_of(case)
    if case.check.asked_by == "compare_shape_with":  # judged across the scenario and its twin
        violations, missing = session.runner.pair(case.scenario)
        if missing is not None:
            pytest.skip(f"cannot compare shapes: {missing}")
    else:
        violations = result.for_check(case.check.id)
    deterministic = session.target is not None and session.target.deterministic
    must = [v for v in violations if results_mod.counts(v, deterministic=deterministic)]
    entry = session.baseline.find(case.scenario.id, case.check.id) if session.baseline else None
    if entry is not None:
        if must:
            session.baseline_hits.add(entry.key)
            print(report.format_violations(case, result, violations, session))
            pytest.xfail(f"known failure, baseline {entry.key} (line {entry.line}): {entry.reason}")
        if entry.scenario is not None:
            pytest.fail(f"stale baseline entry: remove it: {entry.key} (line {entry.line} of "
                        f"{session.baseline.path.name}) now passes", pytrace=False)
    if not violations:
        return
    text = report.format_violations(case, result, violations, session)
    if must:
        pytest.fail(text, pytrace=False)
    if any(results_mod.is_model_behaviour(v.check) for v in violations) and not deterministic:
        # What the model chose to answer, not the protocol: reported apart, never a verdict.
        text = "model behaviour (not a conformance finding: the model's answer, not the protocol)\n" + text
    # Attributed to the scenario and event, not to a line of ours: it is the target's finding.
    first = violations[0]
    warnings.warn_explicit(ConformanceWarning(text), ConformanceWarning,
                           filename=f"{case.scenario.id}", lineno=first.event_index or 0,
                           module="responses_conformance")


def _limits(config: pytest.Config) -> Limits:
    """The limits from the command line; a zero, negative or non-finite one is a usage error."""
    given = {"timeout": ("--timeout", config.getoption("conformance_timeout")),
             "idle_timeout": ("--idle-timeout", config.getoption("idle_timeout")),
             "max_bytes": ("--max-bytes", config.getoption("max_bytes")),
             "max_events": ("--max-events", config.getoption("max_events"))}
    values = {}
    for name, (option, value) in given.items():
        if value is None:
            continue
        if not (0 < value < float("inf")):
            raise pytest.UsageError(f"{option} must be a positive number, got {value!r}")
        values[name] = value
    return Limits(verify_tls=not config.getoption("insecure"), **values)


def _required(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in (text or "").split(",") if n.strip())
    unknown = sorted(names - set(FEATURES))
    if unknown:
        raise pytest.UsageError(f"--require: unknown features {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    return names


def _headers(values: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for value in values:
        name, colon, content = value.partition(":")
        if not colon or not name.strip():
            # The name alone: the value is a secret and never echoed.
            shown = name.strip()[:40] if colon or len(value) <= 40 and " " not in value else "(not shown)"
            raise pytest.UsageError(f"--header {shown!r}: expected 'Name: value'")
        out.append((name.strip(), content.strip()))
    return tuple(out)


def _target_specs(config: pytest.Config, header_key: str | None) -> list[TargetSpec]:
    """The targets of the run (targets.py): `--target-url` (once or more, `NAME=URL`) and
    `--targets FILE`; none: the embedded reference server."""
    values = config.getoption("target_url") or []
    targets_file = config.getoption("targets_file")
    upstream = config.getoption("upstream_url")
    remote = bool(values or targets_file)
    defaults = Defaults(model=config.getoption("conformance_model"), upstream_url=upstream,
                        api_key=(config.getoption("api_key") or header_key
                                 or (os.environ.get("OPENAI_API_KEY") if remote else None)))
    try:
        specs = from_command_line(values, defaults)
        if targets_file:
            specs += load_file((config.invocation_params.dir / targets_file).resolve(), defaults)
        specs = combine(specs)
    except TargetsError as exc:
        raise pytest.UsageError(str(exc)) from None
    if len(specs) > 1 and upstream:
        raise pytest.UsageError("--upstream-url names the upstream of one proxy: with several targets, give each "
                                "its upstream_url in the --targets file")
    return specs or [TargetSpec(name="reference", url=None, model=defaults.model)]


def _split_key(headers: tuple[tuple[str, str], ...], auth_header: str, auth_scheme: str,
               ) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """A key given as `--header 'Authorization: Bearer KEY'` (or the target's own auth header)
    is the key: it goes where keys go, and the no-key and wrong-key scenarios leave it out."""
    key, rest = None, []
    for name, value in headers:
        if name.lower() == auth_header.lower():
            scheme = auth_scheme.strip()
            key = value[len(scheme):].strip() if scheme and value.lower().startswith(scheme.lower() + " ") else value
        else:
            rest.append((name, value))
    return key, tuple(rest)


class TargetRun:
    """One target of the run: its runner, its preflight and its results (results.json's block of
    it). A run has one (`--target-url` once, or the embedded reference server) or several
    (`--target-url` repeated, `--targets FILE`): each is judged on its own, with the same
    scenarios, profile and limits, and the verdict of the run is the worst of theirs."""

    def __init__(self, session: "ConformanceSession", spec: TargetSpec, *, reports_dir: Path,
                 gate: threading.BoundedSemaphore) -> None:
        self.session = session
        self.spec = spec
        self.name = spec.name
        self.config = session.config
        self.scenarios = session.scenarios
        self.profile = session.profile
        self.limits = session.limits
        self.required = session.required
        self.results_path = session.results_path  # transcript paths are relative to it
        self.reports_dir = reports_dir  # its transcripts go in <reports_dir>/transcripts
        self.target_url = spec.url
        self.gate = gate  # shared by every target: at most --concurrency scenarios at once in all
        self.baseline: baseline_mod.Baseline | None = None
        self.baseline_hits: set[str] = set()
        self._runner: Runner | None = None
        self._server = None
        self.target: Target | None = None
        self.selected: set[str] = set()  # the scenarios this run's items use
        self.worker_input: dict | None = None  # a pytest-xdist worker: the target and preflight handed over
        self.worker_records: dict | None = None  # the controller: the scenario records the workers sent
        self.last_results: dict | None = None  # this target's results (all of results.json with one target)

    @property
    def runner_started(self) -> bool:
        return self._runner is not None

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = self._start()
        return self._runner

    def _start(self) -> Runner:
        from .engine.schemas import SchemaSet

        config = self.config
        transcripts = self.reports_dir / "transcripts"
        if self.worker_input is None:  # a worker writes beside the others, into the controller's folder
            if transcripts.is_dir():
                shutil.rmtree(transcripts)  # only this run's transcripts, never a stale one
            transcripts.mkdir(parents=True, exist_ok=True)
        auth = {"auth_header": self.spec.auth_header or config.getoption("auth_header"),
                "auth_scheme": self.spec.auth_scheme if self.spec.auth_scheme is not None
                else config.getoption("auth_scheme"),
                "headers": self.session.headers}
        if self.worker_input is not None:
            given = self.worker_input
            self.target = Target(given["base_url"], given["api_key"], given["model"], embedded=given["embedded"],
                                 upstream_url=given["upstream_url"], **auth)
        elif self.spec.url:
            self.target = Target(self.spec.url, self.spec.api_key, self.spec.model or DEFAULT_REMOTE_MODEL,
                                 upstream_url=self.spec.upstream_url, **auth)
        else:
            from .reference import ReferenceServer
            from .reference.model import DEFAULT_MODEL

            # The reference server speaks the flavour of the profile the suite holds it to.
            flavour = self.profile if self.profile in ("openresponses", "openai-strict") else "openai"
            self._server = ReferenceServer(flavour=flavour)
            self._server.__enter__()
            self.target = Target(self._server.base_url, self._server.api_key, self.spec.model or DEFAULT_MODEL,
                                 embedded=True)
        runner = Runner(self.target, limits=self.limits, reports_dir=self.reports_dir, profile=self.profile,
                        schemas=SchemaSet.load(profile=self.profile),
                        concurrency=config.getoption("concurrency"), required=self.required,
                        scenarios=self.scenarios, gate=self.gate)
        if self.worker_input is not None:  # the controller sent the preflight; a worker sends none
            from .preflight import Preflight

            runner.preflight = Preflight(**self.worker_input["preflight"])
        elif self.spec.problem is not None:  # known before any request: nothing is sent to this target
            from .preflight import Preflight

            runner.preflight = Preflight(kind="no_key", cause=self.spec.problem)
        return runner

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.close()
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None

    @property
    def label(self) -> str:
        return self.target.label if self.target is not None else (self.target_url or "-")

    @property
    def item_prefix(self) -> str:
        """How this target's items begin: `vllm:` (`test_check[vllm:text-stream:...]`) with several."""
        return f"{self.name}:" if self.session.several else ""

    @property
    def results(self) -> dict:
        """The scenarios run so far (none when nothing was selected or the preflight failed)."""
        return self._runner.settled() if self._runner is not None else {}

    @property
    def extra_violations(self) -> dict[str, list]:
        """Findings judged across two scenarios (runner.pair): part of each scenario's record."""
        return self._runner.pair_violations() if self._runner is not None else {}

    @property
    def preflight(self):
        return self._runner.preflight if self._runner is not None else None

    def scenario_records(self) -> dict[str, dict]:
        """The scenarios run, as results.json records them (report.scenario_records); under
        pytest-xdist, the controller's are those its workers sent."""
        return self.worker_records if self.worker_records is not None else report.scenario_records(self)

    def stale_baseline_entries(self) -> list:
        """Entries that matched no failure on what ran: a check-wide entry once anything ran, a
        scenario entry once its scenario ran (its own item also fails, naming it)."""
        if self.baseline is None:
            return []
        ran = {sid for sid, entry in self.scenario_records().items()
               if entry["record"]["status"] != str(results_mod.Status.COULD_NOT_TEST)}
        return [e for e in self.baseline.entries
                if e.key not in self.baseline_hits and (e.scenario in ran if e.scenario is not None else ran)]

    def must_failures(self) -> list[tuple[str, str, str]]:
        """Every MUST finding that counts, for --write-baseline."""
        return [(sid, v["check"], v["message"]) for sid, entry in self.scenario_records().items()
                for v in entry["record"]["violations"] if v["severity"] == "must" and not v.get("model_behaviour")]

    def build_results(self, ending: Verdict | None = None) -> dict:
        """This target's results, redacted (its key and headers never reach an output)."""
        data = report.build_results(self, ending)
        self.last_results = self.runner.redactor.json(data) if self._runner is not None else data
        return self.last_results


class ConformanceSession:
    """Per pytest run: the scenarios, the targets (one TargetRun each), where the outputs go."""

    def __init__(self, config: pytest.Config, scenarios: list[Scenario] | None = None) -> None:
        self.config = config
        self.scenarios = scenarios if scenarios is not None else load_all()  # built-in and --scenarios DIR
        base = config.invocation_params.dir
        self.reports_dir = (base / config.getoption("reports_dir")).resolve()
        self.results_path = _results_path(config)
        header_key, self.headers = _split_key(_headers(config.getoption("extra_headers")),
                                              config.getoption("auth_header"), config.getoption("auth_scheme"))
        self.profile = config.getoption("conformance_profile")
        self.limits = _limits(config)
        self.required = _required(config.getoption("require"))
        specs = _target_specs(config, header_key)
        self.several = len(specs) > 1
        concurrency = config.getoption("concurrency")
        if concurrency is None or concurrency < 1:
            raise pytest.UsageError(f"--concurrency must be at least 1, got {concurrency!r}")
        gate = threading.BoundedSemaphore(concurrency)
        # With several targets each has its own folder of transcripts (reports/targets/<name>/).
        self.runs: dict[str, TargetRun] = {
            spec.name: TargetRun(self, spec, gate=gate,
                                 reports_dir=self.reports_dir / "targets" / spec.name if self.several
                                 else self.reports_dir)
            for spec in specs}
        self.role = "solo"  # pytest-xdist: "controller" or "worker" (xdist_support.py)
        self.last_results: dict | None = None

    # -- the targets ---------------------------------------------------------------------------
    @property
    def first(self) -> TargetRun:
        """The only target of a one-target run (fuzz mode and the one-target outputs use it)."""
        return next(iter(self.runs.values()))

    def run_of(self, case: Case) -> TargetRun:
        return self.runs[case.target] if case.target is not None else self.first

    @property
    def runner(self) -> Runner:
        return self.first.runner

    @property
    def runner_started(self) -> bool:
        return self.first.runner_started

    @property
    def target(self) -> Target | None:
        return self.first.target

    def stop(self) -> None:
        for run in self.runs.values():
            run.stop()

    # -- the outputs ---------------------------------------------------------------------------
    def final_line(self) -> str | None:
        data = self.last_results
        if not data:
            return None
        html_path = getattr(self.config.option, "htmlpath", None)
        return report.final_line(data, self.profile, html_path)

    def write_results(self, ending: Verdict | None = None) -> None:
        """results.json: with one target, its results; with several, a block per target and the
        worst verdict over them (results.worst)."""
        blocks = [run.build_results(ending) for run in self.runs.values()]
        data = blocks[0] if not self.several else report.several_targets(
            [(run.name, block) for run, block in zip(self.runs.values(), blocks)],
            selected={run.name: bool(run.selected) for run in self.runs.values()})
        report.write_json(self.results_path, data)
        self.last_results = data
        if self.config.getoption("fuzz_cases") is not None:  # the fuzz block, and its status in the verdict
            from . import fuzz_plugin

            fuzz_plugin.amend_results(self, ending)

    def must_failures(self) -> list[tuple[str, str, str]]:
        return self.first.must_failures()

    def summary_lines(self) -> list[str]:
        if not self.several:
            return report.summary_lines(self.first)
        lines = []
        for run in self.runs.values():
            lines.append(f"-- target {run.name}")
            lines += report.summary_lines(run, one_of_several=True)
        return lines + report.targets_lines(self.last_results or {}, report.outputs_line(self.config, self.results_path))
