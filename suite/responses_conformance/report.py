"""What a run tells people: failure text, results.json, the terminal summary, and the hooks
that build the HTML report on pytest-html (its blocks and templates: html_report.py).

Everything here is built from already-redacted results; the key never reaches this module.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from pluggy import HookimplMarker

from . import evidence, html_report, suite_version
from . import results as results_mod
from .engine import profiles, registry
from .engine.violations import Severity, Violation
from .results import Status, Tally, Verdict

from .scenarios import Case, judgements


class RunView(Protocol):
    """What this module reads of a target's run (plugin.TargetRun), named here so that the report
    depends on no layer above it: the plugin builds runs, the report only reads them."""

    config: Any
    scenarios: list[Any]
    profile: str
    results_path: Path
    limits: Any
    target: Any
    baseline: Any
    baseline_hits: set[str]
    selected: set[str]
    last_results: dict[str, Any] | None

    @property
    def preflight(self) -> Any: ...
    @property
    def results(self) -> dict[str, Any]: ...
    @property
    def extra_violations(self) -> dict[str, list[Violation]]: ...
    def scenario_records(self) -> dict[str, dict[str, Any]]: ...
    def stale_baseline_entries(self) -> list[Any]: ...


class ScenarioResult(Protocol):
    """What this module reads of one scenario's result (runner.ScenarioResult)."""

    scenario: Any
    steps: list[Any]
    violations: list[Violation]
    exchange: Any
    transcript: dict[str, Path] | None
    curl: str | None
    events: int
    error: str | None
    deterministic: bool

    @property
    def reason(self) -> str | None: ...
    def outcome(self) -> Status: ...

SHOWN_PER_ITEM = 10
# pytest's hookimpl marker, without importing pytest here (replay prints through this module).
hookimpl = HookimplMarker("pytest")


def scenario_catalogue(profile: str | None = None, *, as_json: bool = False) -> str:
    """`responses-conformance scenarios`: every scenario with its features, steps and checks
    (the pytest items it makes: `-k <scenario id>` runs one)."""
    import textwrap

    from .scenarios import load_all

    chosen = profiles.get(profile)
    rows = [{"id": s.id, "description": s.description, "features": list(s.features),
             "steps": [step.name for step in s.steps], "checks": [c.id for c in s.checks(chosen.name)]}
            for s in load_all()]
    if as_json:
        return json.dumps({"profile": chosen.name, "scenarios": rows}, indent=2) + "\n"
    lines = [f"{len(rows)} scenarios (profile {chosen.name}); `pytest -k <id>` runs one", ""]
    for row in rows:
        steps = f"; steps {', '.join(row['steps'])}" if len(row["steps"]) > 1 else ""
        lines.append(f"{row['id']}  [{', '.join(row['features'])}]{steps}")
        lines.append(f"    {row['description']}")
        lines += textwrap.wrap(f"{len(row['checks'])} checks: {', '.join(row['checks'])}", width=100,
                               initial_indent="    ", subsequent_indent="      ")
    return "\n".join(lines) + "\n"


def _relative(path: Path | None, base: Path) -> str:
    if path is None:
        return "-"
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def step_evidence(result: "ScenarioResult", step: str | None) -> tuple[str | None, dict[str, Path], str | None]:
    """(step name, transcript files, reproduce command) of the step a finding was made in: the
    one its violation names, else the scenario's first. The terminal, results.json and the HTML
    report all cite this one."""
    for done in getattr(result, "steps", None) or []:
        if step is not None and done.step.name == step:
            return step, done.transcript or {}, done.curl
    steps = getattr(result, "steps", None) or []
    name = steps[0].step.name if len(steps) > 1 else None
    return name, getattr(result, "transcript", None) or {}, getattr(result, "curl", None)


def format_violations(case: "Case", result: "ScenarioResult", violations: list[Violation],
                      session: "RunView") -> str:
    check = case.check
    lines = [f"{check.id}  {case.severity}  {check.rule}",
             f"  scenario {result.scenario.id}: {result.scenario.description}"]
    for violation in violations[:SHOWN_PER_ITEM]:
        lines.append(f"  - {violation.where()}")
        lines.append(f"      {violation.message}")
        if violation.excerpt:
            lines.append(f"      data: {violation.excerpt}")
    if len(violations) > SHOWN_PER_ITEM:
        lines.append(f"  … and {len(violations) - SHOWN_PER_ITEM} more")
    lines.append(f"  basis: {check.basis}")
    refs = evidence.ids_in(check.basis)
    if refs:
        lines.append(f"  evidence: {evidence.DOC} ({', '.join(refs)})")
    base = session.config.invocation_params.dir
    # The evidence of the step each finding was made in (a poll step's GET, not the create's POST).
    steps = list(dict.fromkeys(getattr(v, "step", None) for v in violations[:SHOWN_PER_ITEM])) or [None]
    for step in steps:
        name, transcript, curl = step_evidence(result, step)
        label = f" (step {name})" if name and len(getattr(result, "steps", None) or []) > 1 else ""
        record = transcript.get("json")
        if record is not None:
            lines.append(f"  transcript{label}: {_relative(record, base)}")
        if curl:
            lines.append(f"  reproduce{label}: {curl}")
    return "\n".join(lines)


class ProgressLine:
    """One line of progress on a terminal, rewritten in place (`\\r`) at most every `every`
    seconds and cleared at the end; nothing when the stream is not a terminal (CI logs stay
    as they were). Replay uses it for long inputs."""

    def __init__(self, stream: Any, every: float = 1.0, after: float = 2.0) -> None:
        import time

        self.stream = stream
        self.every = every
        self.started = time.monotonic()
        self.after = after  # a replay that ends before this shows nothing
        self.last = 0.0
        self.width = 0
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def update(self, text: str) -> None:
        import time

        now = time.monotonic()
        if not self.tty or now - self.started < self.after or now - self.last < self.every:
            return
        self.last = now
        line = f"{text} ({now - self.started:.0f} s)"[:200]
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def done(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def scenario_progress(session: "RunView", scenarios: list[Any]) -> None:
    """A line per finished scenario, as they finish, on a terminal (or with -v): on a slow
    target the run says what it is waiting for instead of stalling on a dot. The scenarios
    are already sent (concurrently); this only waits for them in the order they end, so the
    items that follow read their results at once. Quiet (-q) and piped runs print nothing."""
    import time

    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    verbose = config.option.verbose
    tty = getattr(reporter, "isatty", False)
    tty = tty() if callable(tty) else bool(tty)  # a plain bool before pytest 8.x made it callable
    if reporter is None or verbose < 0 or not (verbose > 0 or tty):
        return
    ids = list(dict.fromkeys(s.id for s in scenarios))
    total, shown, started = len(ids), 0, time.monotonic()
    width = max(len(i) for i in ids) if ids else 0
    reporter.write_line(f"responses-conformance: {total} scenario{'s' if total != 1 else ''} sent to "
                        f"{session.target.label if session.target else '-'}; each line is one that finished")
    pending = set(ids)
    while pending:
        finished = session.runner.results
        for sid in [i for i in ids if i in pending and i in finished]:
            pending.discard(sid)
            shown += 1
            result = finished[sid]
            must = sum(1 for v in result.violations if counts_must(v, result))
            status = str(result.status)
            detail = f" ({must} MUST finding{'s' if must != 1 else ''})" if must else ""
            if result.reason and not must:
                detail = f" ({' '.join(str(result.reason).split())[:80]})"
            reporter.write_line(f"  [{shown:>{len(str(total))}}/{total}] {sid:<{width}}  {status}{detail}  "
                                f"{time.monotonic() - started:.1f} s")
        if pending:
            time.sleep(0.05)


def counts_must(violation: Violation, result: Any) -> bool:
    return results_mod.counts(violation, deterministic=getattr(result, "deterministic", True))


def could_not_test(result: "ScenarioResult") -> str:
    exchange = result.exchange
    request = f"{exchange.method} {exchange.url}" if exchange is not None else "-"
    return (f"could not test scenario {result.scenario.id}: {result.error}\n"
            f"  request: {request}\n"
            f"  (an error, not a verdict: no rule was judged for this scenario)")


def scenario_record(result: "ScenarioResult", extra: list[Violation], base: Path,
                    baseline: Any = None, *, deterministic: bool = True) -> dict[str, Any]:
    violations = result.violations + extra
    sid = result.scenario.id

    def known(v: Violation) -> bool:
        return baseline is not None and v.severity is Severity.MUST and baseline.find(sid, v.check) is not None

    def model(v: Violation) -> bool:
        return not deterministic and results_mod.is_model_behaviour(v.check)

    status = results_mod.scenario_status(result.outcome(), violations, deterministic=deterministic, known=known)
    exchange = result.exchange
    return {
        "id": result.scenario.id,
        "description": result.scenario.description,
        "status": str(status),
        **({"reason": result.reason} if result.reason and result.error is None else {}),
        "features": list(result.scenario.features),
        "steps": [{"name": done.step.name, "request": {"method": done.step.method,
                                                        "path": done.exchange.url if done.exchange else None},
                   **step_answer(done), "events": done.events,
                   "transcript": _relative(done.transcript.get("json"), base) if done.transcript else None}
                  for done in result.steps] if len(result.steps) > 1 else [],
        # Whether every step was sent: a scenario that stopped early saw nothing of its later steps.
        "steps_run": len(result.steps), "steps_total": len(result.scenario.steps),
        "request": {"method": result.scenario.method, "path": result.scenario.path},
        "http_status": exchange.status if exchange is not None else None,
        **({"answer": step_answer(result.steps[0])["answer"]}
           if result.steps and result.steps[0].answer is not None else {}),
        "events": result.events,
        "error": result.error,
        "violations": [{**_violation_record(v), **({"known": True} if known(v) else {}),
                        **({"model_behaviour": True} if model(v) else {})} for v in violations],
        "transcript": _relative(result.transcript.get("json"), base) if result.transcript else None,
    }


def step_answer(done: Any) -> dict[str, Any]:
    """What a step's record says of its answer (a scenario's record says it of its first step):
    the HTTP status, and the kinds of exchange the answer was judged as (`answer`, where the
    transport says: transports.answer_kinds). Scenario.judgement reads them: a step judged the
    checks of the kinds its answer was, and those of its status line on any answer."""
    return {"http_status": done.exchange.status if done.exchange is not None else None,
            **({"answer": list(done.answer)} if done.answer is not None else {})}


def _violation_record(v: Violation) -> dict[str, Any]:
    return {"check": v.check, "category": v.category, "severity": v.severity.value, "event_index": v.event_index,
            "event_type": v.event_type, "sequence_number": v.sequence_number, "path": v.path,
            "message": v.message, **({"step": v.step} if getattr(v, "step", None) else {})}


# A scenario of these statuses saw the feature work (or break) on the target's bytes.
_WORKED = {str(Status.PASSED), str(Status.WARNED), str(Status.KNOWN), str(Status.MODEL), str(Status.FAILED)}


def check_features(check_id: str) -> tuple[str, ...]:
    """The features a check is about by its nature: stream-only checks concern streaming (and
    WebSocket mode, which carries the same events), error checks the error envelope, WebSocket
    checks WebSocket mode, a check declared for one feature (`feature=`) that feature. Empty for checks
    that apply to every answer (HTTP status, Response schema, usage, ids): their findings
    concern a feature only when they follow it (feature_table)."""
    check = registry.BY_ID.get(check_id)
    if check is None:
        return ()
    if check.feature is not None:
        return (check.feature,)
    applies = set(check.applies)
    if applies == {"websocket"}:
        return ("websocket",)
    if applies == {"stream"}:
        return ("streaming", "websocket")
    if applies == {"error"}:
        return ("errors",)
    if applies == {"error", "stream"}:
        return ("errors", "streaming", "websocket")
    return ()


def _counting(v: dict[str, Any]) -> bool:
    return v.get("severity") == "must" and not v.get("known") and not v.get("model_behaviour")


def feature_table(scenarios: list[dict[str, Any]], error_only: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """Per feature: supported, unsupported (refused cleanly), broken or not tested, with the
    scenarios behind the verdict. A feature is broken only by checks that concern it, named in
    `broken_by` ("broken: ids.item_id_matches"): a check about the feature by its nature
    (check_features), or a check about every answer whose failures all fall in the feature's
    scenarios, the feature being the narrowest that holds them (a 500 on every reasoning
    request breaks reasoning, not streaming). Other MUST findings in its scenarios are listed in
    `see` ("works, but see: usage.total_is_sum"). A scenario that only asks for an error
    (`error_only`) shows that the target refuses, never that a feature works."""
    from .scenarios import FEATURES

    features_of = {s["id"]: set(s.get("features", ())) for s in scenarios}
    failing: dict[str, set[str]] = {}  # check -> scenarios where it broke a counting MUST rule
    for s in scenarios:
        for v in s.get("violations", ()):
            if _counting(v):
                failing.setdefault(v["check"], set()).add(s["id"])
    using_count = {f: sum(1 for fs in features_of.values() if f in fs) for f in FEATURES}
    blames: dict[str, set[str]] = {}  # check -> features it breaks
    for check, where in failing.items():
        tied = check_features(check)
        if tied:
            blames[check] = {f for f in tied if any(f in features_of[sid] for sid in where)}
            continue
        holding = [f for f in FEATURES if all(f in features_of[sid] for sid in where)]
        narrowest = min((using_count[f] for f in holding), default=None)
        blames[check] = {f for f in holding if using_count[f] == narrowest}
    table = {}
    for feature, description in FEATURES.items():
        using = [s for s in scenarios if feature in s.get("features", ())]
        # A scenario shows a feature at work when it was judged on the target's answers to every
        # one of its steps; one that failed before its later steps saw nothing of them.
        statuses = {s["status"] for s in using if (s["id"] not in error_only or feature == "errors")
                    and (s["status"] != str(Status.FAILED) or s.get("steps_run", 1) >= s.get("steps_total", 1))}
        refused = [s for s in using if s.get("status") == str(Status.UNSUPPORTED)]
        mine = {s["id"] for s in using}
        broken_by = [c for c in failing if feature in blames.get(c, ()) and failing[c] & mine]
        see = [c for c in failing if c not in broken_by and failing[c] & mine]
        if broken_by:
            status = "broken"
        elif statuses & _WORKED:
            status = "supported"
        elif refused:
            status = "unsupported"
        else:
            status = "not tested"
        entry: dict[str, Any] = {"status": status, "description": description, "scenarios": [s["id"] for s in using]}
        if broken_by:
            entry["broken_by"] = sorted(broken_by)
        if see:
            entry["see"] = sorted(see)
        if status == "unsupported":
            entry["reason"] = refused[0]["reason"]
        table[feature] = entry
    return table


def build_results(session: "RunView", ending: Verdict | None = None) -> dict[str, Any]:
    """results.json, with THE verdict (results.verdict). `ending`: the run ended before any
    verdict (interrupted, a usage error found by pytest)."""
    ran = session.scenario_records()
    probe = session.preflight
    cause = probe.cause if probe is not None and not probe.ok else None
    scenarios = []
    occurrences: list[dict[str, Any]] = []
    for scenario in session.scenarios:
        entry = ran.get(scenario.id)
        if entry is None:
            why = f"not sent: {cause}" if cause else "not selected"
            status = Status.COULD_NOT_TEST if cause and ending is None and _selected(session, scenario.id) else Status.NOT_SELECTED
            scenarios.append({"id": scenario.id, "description": scenario.description, "status": str(status),
                              "reason" if status is Status.NOT_SELECTED else "error": why,
                              "features": list(scenario.features), "violations": []})
        else:
            scenarios.append(entry["record"])
            occurrences += entry["occurrences"]
    findings = [cause.to_json() for cause in results_mod.causes(occurrences, prefer=_simplest(scenarios))]
    tally = Tally.of(s["status"] for s in scenarios)
    counts = tally.to_json()
    error_only = frozenset(s.id for s in session.scenarios if all(step.expect.kind == "error" for step in s.steps))
    features = feature_table(scenarios, error_only)
    all_violations = [v for s in scenarios for v in s["violations"]]
    by_check: dict[str, list[dict]] = {}
    for violation in all_violations:
        by_check.setdefault(violation["check"], []).append(violation)
    target = session.target
    target_block = {"url": target.base_url if target else None, "model": target.model if target else None,
                    "embedded": bool(target and target.embedded), "profile": session.profile,
                    **({"upstream_url": target.upstream_url} if target and target.upstream_url else {})}
    asked = results_mod.asked_kinds(target_block)
    profile = profiles.get(session.profile)
    # The checks this run could judge: of its profile, and not judged only when asked for (upstream
    # without --upstream-url; fuzz mode's are in the `fuzz` block). Each has its status from what
    # the run judged (results.check_statuses): passed only where a scenario judged it.
    listed = [(check, profile.severity(check.id)) for check in registry.CHECKS
              if profile.severity(check.id) is not None and registry.judged_in_run(check, asked)]
    judged = judgements(session.scenarios, scenarios, upstream="upstream" in asked).values()
    statuses = results_mod.check_statuses({check.id: severity for check, severity in listed}, judged, by_check)
    checks = [{"id": check.id, "category": check.category, "severity": severity.value, "rule": check.rule,
               "basis": check.basis, "status": statuses[check.id], "violations": len(by_check.get(check.id, []))}
              for check, severity in listed]
    must = sum(1 for v in all_violations if v["severity"] == "must" and not v.get("known")
               and not v.get("model_behaviour"))
    known_count = sum(1 for v in all_violations if v.get("known"))
    should = sum(1 for v in all_violations if v["severity"] == "should" and not v.get("model_behaviour"))
    model = sum(1 for v in all_violations if v.get("model_behaviour"))
    stale = [e.key for e in session.stale_baseline_entries()]
    verdict = ending or results_mod.verdict((s["status"] for s in scenarios), stale_baseline=len(stale),
                                            could_not_test=cause is not None)
    summary_cause = cause or _shared_cause(scenarios)
    return {
        "suite": {"name": "responses-conformance", "version": suite_version(), "profile": session.profile},
        "generated_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "target": target_block,
        "features": features,
        "scenarios": scenarios,
        "checks": checks,
        "findings": findings,
        **({"preflight": probe.to_json()} if probe is not None else {}),
        "summary": {"scenarios": len(scenarios), **counts,
                    "violations": {"must": must, "should": should, "known": known_count, "model_behaviour": model},
                    "verdict": verdict.label, "exit_code": verdict.exit_code,
                    **({"cause": summary_cause} if summary_cause and verdict is not Verdict.CONFORMANT else {})},
        **({"baseline": {"file": str(session.baseline.path.name), "entries": len(session.baseline.entries),
                         "stale": stale}} if session.baseline is not None else {}),
    }


def scenario_records(session: "RunView") -> dict[str, dict[str, Any]]:
    """Every scenario run, as results.json records it, with each finding's evidence for the
    causes (results.causes): `{id: {"record": ..., "occurrences": [...]}}`. Plain JSON, so
    that a pytest-xdist worker can send it to the controller (xdist_support.py)."""
    deterministic = session.target is not None and session.target.deterministic
    base = session.results_path.parent
    out = {}
    for sid, result in session.results.items():
        record = scenario_record(result, session.extra_violations.get(sid, []), base, session.baseline,
                                 deterministic=deterministic)
        out[sid] = {"record": record, "occurrences": _occurrences(result, record, base)}
    return out


def _occurrences(result: "ScenarioResult", record: dict[str, Any], base: Path) -> list[dict[str, Any]]:
    """Every violation of one scenario with the evidence of its step (transcript, relative to
    results.json, and the command that repeats the request)."""
    out = []
    for v in record["violations"]:
        occurrence = {**v, "scenario": record["id"]}
        step, transcript, curl = step_evidence(result, v.get("step"))
        occurrence["step"] = step
        occurrence["transcript"] = _relative(transcript.get("json"), base) if transcript.get("json") else None
        if curl:
            occurrence["reproduce"] = curl
        out.append(occurrence)
    return out


def _simplest(scenarios: list[dict[str, Any]]) -> Any:
    """A sort key for occurrences: a cause's example is taken from its simplest scenario (fewest
    features, fewest steps), so that `text-stream` shows it rather than a WebSocket compaction."""
    basic = {"text", "streaming", "errors", "instructions", "input-array"}
    rank = {s["id"]: (len(set(s.get("features", ())) - basic), len(s.get("features", ())), len(s.get("steps") or ()), i)
            for i, s in enumerate(scenarios)}
    return lambda record: rank.get(record.get("scenario"), (99, 99, 99, 0))


def _selected(session: "RunView", scenario_id: str) -> bool:
    return scenario_id in getattr(session, "selected", ())


def _shared_cause(scenarios: list[dict[str, Any]]) -> str | None:
    """When scenarios could not be tested, the cause most of them share (said once)."""
    errors = [s["error"] for s in scenarios if s["status"] == str(Status.COULD_NOT_TEST) and s.get("error")]
    if not errors:
        return None
    common, count = max(((e, errors.count(e)) for e in set(errors)), key=lambda pair: pair[1])
    return common if count > 1 or len(errors) == 1 else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """results.json (already redacted: each target's block by its own runner's redactor)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def several_targets(blocks: list[tuple[str, dict[str, Any]]],
                    selected: dict[str, bool] | None = None) -> dict[str, Any]:
    """results.json of a run of several targets: one block per target (each what results.json
    would be with that target alone), and the run's verdict: the worst of theirs (results.worst:
    not conformant, then could not test, then nothing tested, then conformant). A target none
    of whose items was selected (`-k` naming another target) has no say in it."""
    verdicts = {name: Verdict.from_label(block["summary"]["verdict"]) for name, block in blocks}
    counted = [v for name, v in verdicts.items() if selected is None or selected.get(name)] or list(verdicts.values())
    verdict = results_mod.worst(counted)
    first = blocks[0][1]
    # The cause, when the worst verdict has one: each target of that verdict with its own.
    cause = "; ".join(f"{name}: {block['summary']['cause']}" for name, block in blocks
                      if verdicts[name] is verdict and block["summary"].get("cause")) or None
    if verdict is Verdict.CONFORMANT:
        cause = None
    violations = {key: sum(block["summary"].get("violations", {}).get(key, 0) for _, block in blocks)
                  for key in ("must", "should", "known", "model_behaviour")}
    return {
        "suite": first["suite"],
        "generated_at": first["generated_at"],
        "targets": [{"name": name, **block} for name, block in blocks],
        "summary": {"targets": len(blocks),
                    "by_target": {name: v.label for name, v in verdicts.items()},
                    "violations": violations,
                    "verdict": verdict.label, "exit_code": verdict.exit_code,
                    **({"cause": cause} if cause else {})},
    }


def targets_lines(data: dict[str, Any], outputs: str) -> list[str]:
    """The end of the terminal summary of a run of several targets: each target's verdict."""
    summary = data.get("summary") or {}
    lines = [outputs,
             "targets: " + ", ".join(f"{name} {label.upper()}" for name, label in (summary.get("by_target") or {}).items())]
    lines.append(f"verdict: {str(summary.get('verdict', '-')).upper()} (the worst over {summary.get('targets', 0)} targets)")
    return lines


def write_usage_error(path: Path, message: str) -> None:
    """A run that ended on a usage error: its results.json says so (no older one stays behind
    looking current). The message names options, never their secret values."""
    data = {"suite": {"name": "responses-conformance", "version": suite_version()},
            "generated_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "target": None, "features": {}, "scenarios": [], "checks": [],
            "summary": {"scenarios": 0, "verdict": Verdict.USAGE_ERROR.label,
                        "exit_code": Verdict.USAGE_ERROR.exit_code, "cause": message}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass


def counts_line(summary: dict[str, Any]) -> str:
    """`scenarios 40 passed, 1 failed, 2 unsupported`: every status that occurs."""
    by_status = summary.get("by_status") or {}
    return f"scenarios {Tally({Status(k): n for k, n in by_status.items()}).line() if by_status else 'none run'}"


def checks_line(checks: list[dict[str, Any]]) -> str | None:
    """`checks 57 passed, 34 not tested`: results.json's checks table (results.check_statuses),
    each status that occurs, worst first; None for an empty table."""
    counted = Counter(c.get("status") for c in checks)
    parts = [f"{counted[s]} {s}" for s in results_mod.CHECK_STATUSES if counted[s]]
    return f"checks {', '.join(parts)} (results.json: checks)" if parts else None


def final_line(data: dict[str, Any], profile: str, html_path: str | None) -> str:
    """The last line of the output, where CI logs are read: the verdict, and its cause or counts."""
    s = data["summary"]
    verdict = Verdict.from_label(s["verdict"])
    where = f" - report: {html_path}" if html_path and verdict not in (Verdict.USAGE_ERROR,) else ""
    if data.get("targets"):  # several targets: each one's verdict, with its MUST count or its cause
        parts = []
        for block in data["targets"]:
            mine = block["summary"]
            label = mine["verdict"].upper()
            if mine["verdict"] == Verdict.NOT_CONFORMANT.label:
                label += f" ({mine.get('violations', {}).get('must', 0)} MUST)"
            elif mine.get("cause") and mine["verdict"] != Verdict.CONFORMANT.label:
                label += f" ({' '.join(str(mine['cause']).split())[:100]})"
            parts.append(f"{block['name']} {label}")
        return results_mod.final_line(verdict, f"{len(parts)} targets: {'; '.join(parts)} (profile {profile}){where}")
    if verdict in (Verdict.COULD_NOT_TEST, Verdict.USAGE_ERROR) and s.get("cause") and not s.get("failed"):
        detail = s["cause"]
    elif verdict is Verdict.USAGE_ERROR:
        detail = "the run stopped on a usage error (the ERROR line says which); nothing was judged"
    elif verdict is Verdict.INTERRUPTED:
        detail = f"the run was interrupted before it finished; nothing is concluded ({counts_line(s)})"
    elif verdict is Verdict.NOTHING_TESTED:
        detail = (f"no check was judged ({counts_line(s)}); a -k or -m that selects nothing, or a target that "
                  f"refused every feature, tests nothing")
    else:
        v = s.get("violations", {})
        model = f", {v['model_behaviour']} model behaviour" if v.get("model_behaviour") else ""
        detail = (f"{v.get('must', 0)} MUST and {v.get('should', 0)} SHOULD violations{model}; "
                  f"{counts_line(s)}")
    return results_mod.final_line(verdict, f"{detail} (profile {profile}){where}")


def summary_lines(session: "RunView", *, one_of_several: bool = False) -> list[str]:
    """The terminal summary of a target; `one_of_several`: a block of a run of several targets
    (the outputs are then said once, after the last, with the run's verdict: targets_lines)."""
    data = getattr(session, "last_results", None) or build_results(session)
    summary = data["summary"]
    base = session.config.invocation_params.dir
    features = data.get("features", {})
    by_status: dict[str, list[str]] = {}
    for name, entry in features.items():
        by_status.setdefault(entry["status"], []).append(name)
    target = data.get("target") or {}
    lines = [
        f"target: {session.target.label if session.target else session.target_url or '-'}   "
        f"model: {target.get('model')}   profile: {session.profile}",
    ]
    cause = summary.get("cause")
    found = data.get("preflight") or {}
    if found and not found.get("ok"):
        lines.append(f"could not test: {cause}")
    else:
        named = {name: f"{name} ({', '.join(entry['broken_by'])})" if entry.get("broken_by") else name
                 for name, entry in features.items()}
        lines.append("features: " + "; ".join(f"{status} {', '.join(named[n] for n in names)}"
                                              for status, names in sorted(by_status.items())))
        lines.append(f"{counts_line(summary)}   violations: {summary['violations']['must']} MUST, "
                     f"{summary['violations']['should']} SHOULD")
        listed = checks_line(data.get("checks") or [])
        if listed:
            lines.append(listed)
        lines += _grouped_reasons(data["scenarios"])
        lines += cause_lines(data.get("findings") or [], session.results_path.parent, base,
                             item_prefix=getattr(session, "item_prefix", ""))
    if not session.limits.verify_tls:
        lines.append("WARNING: --insecure: the target's TLS certificate was NOT verified")
    if not one_of_several:
        lines.append(outputs_line(session.config, session.results_path))
    for entry in session.stale_baseline_entries():
        lines.append(f"stale baseline entry: remove it: {entry.key} (line {entry.line}) no longer fails")
    if session.baseline is not None:
        lines.append(f"baseline: {len(session.baseline_hits)} known failures accepted from {session.baseline.path.name}")
    lines.append(f"verdict{' of ' + session.name if one_of_several else ''}: {summary['verdict'].upper()}")
    return lines


def outputs_line(config: Any, results_path: Path) -> str:
    base = config.invocation_params.dir
    html_path = getattr(config.option, "htmlpath", None)
    outputs = f"results: {_relative(results_path, base)}"
    if html_path:
        outputs = f"report: {_relative(Path(html_path).resolve(), base)}   " + outputs
    return outputs


SHOWN_CAUSES = 10


def cause_lines(findings: list[dict[str, Any]], results_dir: Path, base: Path, item_prefix: str = "") -> list[str]:
    """The causes (results.json's `findings`, results.causes): a headline naming them all
    ("3 causes: usage.total_is_sum in 40 scenarios, ..."), then each with one example and where
    to look. Model-behaviour causes are a section of their own: never a verdict."""
    judged = [f for f in findings if not f.get("model_behaviour")]
    model = [f for f in findings if f.get("model_behaviour")]
    lines: list[str] = []
    if judged:
        lines.append(f"{_plural(len(judged), 'cause')}: " + ", ".join(_headline(f) for f in judged))
        lines += [line for f in judged[:SHOWN_CAUSES] for line in _cause(f, results_dir, base, item_prefix)]
        if len(judged) > SHOWN_CAUSES:
            lines.append(f"  ... and {len(judged) - SHOWN_CAUSES} more causes (results.json: findings)")
    if model:
        lines.append(f"model behaviour, {_plural(len(model), 'cause')} (the model's answers, not the protocol: "
                     f"never a verdict): " + ", ".join(_headline(f) for f in model))
        lines += [line for f in model[:SHOWN_CAUSES] for line in _cause(f, results_dir, base, item_prefix)]
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _headline(finding: dict[str, Any]) -> str:
    tag = {"should": " (SHOULD)", "known": " (known)"}.get(finding.get("severity", ""), "")
    if finding.get("known"):
        tag = " (known, baseline)"
    return f"{finding['check']}{tag} in {_plural(len(finding.get('scenarios') or ()), 'scenario')}"


def _cause(finding: dict[str, Any], results_dir: Path, base: Path, item_prefix: str = "") -> list[str]:
    ex = finding.get("example") or {}
    severity = "model behaviour" if finding.get("model_behaviour") else str(finding.get("severity", "")).upper()
    lines = [f"  {finding['check']}  {severity}  {_plural(finding.get('count', 0), 'occurrence')} in "
             f"{_plural(len(finding.get('scenarios') or ()), 'scenario')}"]
    where = ex.get("scenario") or "-"
    if ex.get("step"):
        where += f", step {ex['step']}"
    if ex.get("event_index") is not None:
        where += f", event #{ex['event_index']}"
    message = " ".join(str(ex.get("message", "")).split())
    lines.append(f"    e.g. {where}: {message if len(message) <= 240 else message[:239] + '…'}")
    look = []
    if ex.get("transcript"):
        look.append(f"transcript {_relative((results_dir / ex['transcript']).resolve(), base)}")
    look.append(f"test_check[{item_prefix}{ex.get('scenario')}:{finding['check']}]")
    check = registry.BY_ID.get(finding["check"])
    refs = evidence.ids_in(check.basis) if check is not None else []
    if refs:
        look.append(f"evidence {evidence.DOC} ({', '.join(refs)})")
    lines.append("    look at: " + "; ".join(look))
    return lines


def _grouped_reasons(scenarios: list[dict[str, Any]]) -> list[str]:
    """Scenarios without a verdict, one line per distinct reason (a target that stopped is one
    cause, not one error per scenario)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for s in scenarios:
        status = s["status"]
        if status in (str(Status.COULD_NOT_TEST), str(Status.UNSUPPORTED), str(Status.NOT_APPLICABLE)):
            reason = s.get("error") or s.get("reason") or "-"
            groups.setdefault((status, reason), []).append(s["id"])
    lines = []
    for (status, reason), ids in sorted(groups.items(), key=lambda kv: (kv[0][0] != str(Status.COULD_NOT_TEST),
                                                                          -len(kv[1]))):
        shown = ", ".join(ids[:6]) + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")
        lines.append(f"{status} ({len(ids)}: {shown}): {reason}")
    return lines


class HtmlHooks:
    """pytest-html hooks, registered only when pytest-html is active.

    The page is pytest-html's: these hooks add the columns, the top block (verdict, counts,
    the category x scenario matrix, the features) and, as an HTML extra of each item with a
    finding, its failure block (html_report.py, templates/).
    """

    def __init__(self, session: Any) -> None:
        self.session = session  # plugin.ConformanceSession: its runs (RunView each) and outputs
        self.items: dict[str, Any] = {}  # node id -> html_report.Item, in run order
        self.blocks: dict[str, tuple[Any, str]] = {}  # node id -> (html_report.Finding, its block)

    def pytest_html_report_title(self, report) -> None:
        report.title = "Responses API conformance report"

    def pytest_html_results_summary(self, prefix, summary, postfix) -> None:
        session = self.session
        data = getattr(session, "last_results", None)
        if data is None:
            return
        if data.get("targets"):
            self._several_targets(data, prefix, postfix)
            return
        if session.target is not None:
            data = {**data, "target": {**data["target"], "label": session.target.label}}
        if not session.limits.verify_tls:
            data = {**data, "notes": ["--insecure: the target's TLS certificate was NOT verified"]}
        data = self._local_transcripts(data)
        items = list(self.items.values())
        blocks = dict(self.blocks)
        if not items:
            # No item ran here: the preflight ended the run, or pytest-xdist ran the items in its
            # workers. The matrix shows the scenarios that were meant to run, each with the status
            # results.json gives it, and their failure blocks come from results.json too.
            found, items = self._from_results(data)
            blocks = {f.key: (f, html_report.finding_html(f)) for f in found}
        folded = sum(1 for item in self.items.values() if item.status == "passed" and not item.block)
        block = html_report.summary_html(data, items, live=True, folded=folded)
        prefix.append(session.runner.redactor.text(block) if session.runner_started else block)
        if blocks:
            redact = session.runner.redactor.text if session.runner_started else str
            postfix.append(html_report.findings_section([finding for finding, _ in blocks.values()],
                                                        [redact(markup) for _, markup in blocks.values()],
                                                        data.get("scenarios", [])))

    def _from_results(self, data: dict[str, Any], target: str | None = None
                      ) -> tuple[list["html_report.Finding"], list["html_report.Item"]]:
        """The failure blocks and the (scenario, check) verdicts of results.json, for a page
        whose items did not run here: the scenarios that were meant to run, each with the status
        results.json gives it."""
        meant = {**data, "scenarios": [s for s in data.get("scenarios", []) if s["status"] != "not selected"]}
        found = html_report.findings_from_results(meant, self.session.results_path.parent, target=target)
        return found, html_report.items_from_results(meant, found, target=target)

    def _local_transcripts(self, data: dict[str, Any]) -> dict[str, Any]:
        """Transcripts as the terminal and the failure blocks name them: from where pytest ran."""
        base, results_dir = self.session.config.invocation_params.dir, self.session.results_path.parent
        return {**data, "findings": [
            {**f, "example": {**f["example"], "transcript": _relative((results_dir / f["example"]["transcript"]).resolve(),
                                                                     base)}}
            if (f.get("example") or {}).get("transcript") else f for f in data.get("findings") or []]}

    def _several_targets(self, data: dict[str, Any], prefix, postfix) -> None:
        """The page of a run of several targets: the targets x categories matrix and the causes
        per target on top, each target's block below, built from results.json like a replay's
        page (each finding's block names its target)."""
        session = self.session
        views, found_all = [], []
        for block in data["targets"]:
            run = session.runs[block["name"]]
            view = self._local_transcripts({**block, "target": {**block["target"], "label": run.label}})
            found, items = self._from_results(view, target=run.name)
            views.append((run.name, view, items))
            found_all += [(run, finding) for finding in found]
        markup = html_report.targets_html(data, views, live=True)
        for run in session.runs.values():
            markup = run.runner.redactor.text(markup) if run.runner_started else markup
        prefix.append(markup)
        if found_all:
            blocks = [run.runner.redactor.text(html_report.finding_html(f)) if run.runner_started
                      else html_report.finding_html(f) for run, f in found_all]
            scenarios = [s for block in data["targets"] for s in block.get("scenarios", [])]
            postfix.append(html_report.findings_section([f for _, f in found_all], blocks, scenarios))

    @hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        try:
            self._record(item, call, report)
        except Exception as exc:  # noqa: BLE001 - a report block must never break the run
            from pytest_html import extras

            report.extras = [*getattr(report, "extras", []), extras.html(
                f"<p>responses-conformance could not build this item's report block: "
                f"{html.escape(type(exc).__name__)}: {html.escape(str(exc)[:200])}</p>")]

    def _record(self, item, call, report) -> None:
        """Keep the item's verdict for the matrix; attach its failure block as an extra."""
        import pytest

        from .scenarios import Case

        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("conformance_case") if callspec else None
        if not isinstance(case, Case) or report.when == "teardown":
            return
        entry = html_report.Item(key=item.nodeid, scenario=case.scenario.id, check=case.check.id, status="passed",
                                 row=item.nodeid)
        if report.when == "setup":
            if report.passed:
                return
            # pytest-html names the row of a setup error or skip "<node id>::setup".
            entry.status, entry.row = ("errored" if report.failed else "skipped"), f"{item.nodeid}::setup"
            self.items[item.nodeid] = entry
            return
        if call.excinfo is not None and call.excinfo.errisinstance(pytest.xfail.Exception):
            entry.status = "known"
        elif report.failed:
            entry.status = "failed"
        elif report.skipped:
            entry.status = "skipped"
        self.items[item.nodeid] = entry
        if entry.status == "skipped" or self.session.several:  # several: blocks from results.json
            return
        run = self.session.run_of(case)
        result = run.runner.result(case.scenario)  # done already: the item has read it
        violations = [v for v in result.violations + run.runner.pair_violations_of(case.scenario)
                      if v.check == case.check.id]
        if not violations:
            return
        if entry.status == "passed":
            entry.status = "warned"  # a SHOULD finding
        finding = self._finding(item.nodeid, case, result, violations, entry.status)
        entry.block = finding.anchor
        from pytest_html import extras

        # The block is rendered once, in the findings section of the page (the summary's
        # postfix); the item's row points to it. As a row's extra it would be escaped twice
        # into pytest-html's data blob and shown a second time beside the raw failure text.
        self.blocks[item.nodeid] = (finding, self.session.runner.redactor.text(html_report.finding_html(finding)))
        report.extras = [*getattr(report, "extras", []), extras.html(html_report.pointer_html(finding))]

    def _finding(self, key: str, case: "Case", result: "ScenarioResult", violations: list[Violation],
                 status: str) -> "html_report.Finding":
        base = self.session.config.invocation_params.dir
        several = len(result.steps) > 1
        exchanges = []
        for done in result.steps:
            record = done.transcript.get("json") if done.transcript else None
            if record is not None:
                view = html_report.load_exchange(record, display=_relative(record, base),
                                                 step=done.step.name if several else None)
            else:
                exchange = done.exchange
                view = html_report.ExchangeView(step=done.step.name if several else None,
                                                status=exchange.status if exchange else None, events=None)
            view.curl = done.curl or view.curl
            exchanges.append(view)
        return html_report.Finding(key=key, scenario=case.scenario.id, check=case.check.id,
                                   severity=case.severity.value, violations=[v.to_json() for v in violations],
                                   exchanges=exchanges, status=status,
                                   scenario_description=case.scenario.description)

    def pytest_html_results_table_header(self, cells) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="scenario">Scenario</th>')
        cells.insert(2, '<th class="sortable" data-column-type="check">Check</th>')
        cells.insert(3, '<th class="sortable" data-column-type="severity">Severity</th>')

    def pytest_html_results_table_row(self, report, cells) -> None:
        entry = self.items.get(report.nodeid)
        if report.when == "call" and report.passed and entry is not None and entry.status == "passed" \
                and not entry.block:
            # A passing check is folded into the counts on top: a row each would be most of the
            # page (1,500 rows for one run). pytest-html still counts it as passed.
            cells.clear()
            self._count_passed()
            return
        props = dict(report.user_properties)
        cells.insert(1, f'<td class="col-scenario">{html.escape(str(props.get("scenario", "")))}</td>')
        cells.insert(2, f'<td class="col-check">{html.escape(str(props.get("check", "")))}</td>')
        cells.insert(3, f'<td class="col-severity">{html.escape(str(props.get("severity", "")))}</td>')

    def pytest_html_results_table_html(self, report, data) -> None:
        """One rendering per failure: an item with our block (the rich rendering of its failure
        text) does not also show pytest-html's grey copy of that text."""
        entry = self.items.get(report.nodeid)
        if entry is not None and entry.block:
            data[:] = []

    def _count_passed(self) -> None:
        """pytest-html counts an outcome only for a row it lists; a folded row is counted here,
        so its filter still says how many passed."""
        try:
            from pytest_html.basereport import BaseReport

            for plugin in self.session.config.pluginmanager.get_plugins():
                if isinstance(plugin, BaseReport):
                    plugin._report.outcomes = "passed"
                    return
        except Exception:  # noqa: BLE001 - another pytest-html: its count is off, the page still renders
            return
