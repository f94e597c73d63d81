"""What a run tells people: failure text, results.json, the terminal summary, HTML columns.

Everything here is built from already-redacted results; the key never reaches this module.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine import profiles, registry
from .engine.violations import Severity, Violation

if TYPE_CHECKING:  # pragma: no cover
    from .plugin import Case, ConformanceSession
    from .runner import ScenarioResult

SHOWN_PER_ITEM = 10


def suite_version() -> str:
    try:
        return metadata.version("responses-conformance")
    except metadata.PackageNotFoundError:
        return "dev"


def _relative(path: Path | None, base: Path) -> str:
    if path is None:
        return "-"
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def format_violations(case: "Case", result: "ScenarioResult", violations: list[Violation],
                      session: "ConformanceSession") -> str:
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
    transcript = result.transcript.get("json") if result.transcript else None
    base = session.config.invocation_params.dir
    if transcript is not None:
        lines.append(f"  transcript: {_relative(transcript, base)}")
    if result.curl:
        lines.append(f"  reproduce: {result.curl}")
    return "\n".join(lines)


def could_not_test(result: "ScenarioResult") -> str:
    exchange = result.exchange
    request = f"{exchange.method} {exchange.url}" if exchange is not None else "-"
    return (f"could not test scenario {result.scenario.id}: {result.error}\n"
            f"  request: {request}\n"
            f"  (an error, not a verdict: no rule was judged for this scenario)")


def scenario_record(result: "ScenarioResult", extra: list[Violation], base: Path,
                    baseline: Any = None) -> dict[str, Any]:
    violations = result.violations + extra
    sid = result.scenario.id

    def known(v: Violation) -> bool:
        return baseline is not None and v.severity is Severity.MUST and baseline.find(sid, v.check) is not None

    status = result.status
    if status not in ("errored", "skipped"):
        status = "failed" if any(v.severity is Severity.MUST and not known(v) for v in violations) else "passed"
    exchange = result.exchange
    return {
        "id": result.scenario.id,
        "description": result.scenario.description,
        "status": status,
        **({"reason": f"unsupported ({result.unsupported})"} if result.unsupported else {}),
        "features": list(result.scenario.features),
        "steps": [{"name": done.step.name, "request": {"method": done.step.method,
                                                        "path": done.exchange.url if done.exchange else None},
                   "http_status": done.exchange.status if done.exchange else None, "events": done.events,
                   "transcript": _relative(done.transcript.get("json"), base) if done.transcript else None}
                  for done in result.steps] if len(result.steps) > 1 else [],
        "request": {"method": result.scenario.method, "path": result.scenario.path},
        "http_status": exchange.status if exchange is not None else None,
        "events": result.events,
        "error": result.error,
        "violations": [{**_violation_record(v), **({"known": True} if known(v) else {})} for v in violations],
        "transcript": _relative(result.transcript.get("json"), base) if result.transcript else None,
    }


def _violation_record(v: Violation) -> dict[str, Any]:
    return {"check": v.check, "category": v.category, "severity": v.severity.value, "event_index": v.event_index,
            "event_type": v.event_type, "sequence_number": v.sequence_number, "path": v.path,
            "message": v.message}


def feature_table(scenarios: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per feature: supported, unsupported (refused cleanly), broken (a scenario using it
    failed) or not tested, with the scenarios behind the verdict."""
    from .scenarios import FEATURES

    table = {}
    for feature, description in FEATURES.items():
        using = [s for s in scenarios if feature in s.get("features", ())]
        statuses = {s["status"] for s in using if s.get("reason") != "not selected"}
        refused = [s for s in using if s.get("reason", "").startswith("unsupported")]
        if "failed" in statuses:
            status = "broken"
        elif "passed" in statuses:
            status = "supported"
        elif refused:
            status = "unsupported"
        else:
            status = "not tested"
        entry = {"status": status, "description": description, "scenarios": [s["id"] for s in using]}
        if status == "unsupported":
            entry["reason"] = refused[0]["reason"]
        table[feature] = entry
    return table


def build_results(session: "ConformanceSession") -> dict[str, Any]:
    from .scenarios import load_all

    runner = session.runner
    results = runner.results
    base = session.results_path.parent
    scenarios = []
    for scenario in load_all():
        result = results.get(scenario.id)
        if result is None:
            scenarios.append({"id": scenario.id, "description": scenario.description, "status": "skipped",
                              "reason": "not selected", "features": list(scenario.features), "violations": []})
        else:
            scenarios.append(scenario_record(result, session.extra_violations.get(scenario.id, []), base,
                                             session.baseline))
    counts = {status: sum(1 for s in scenarios if s["status"] == status)
              for status in ("passed", "failed", "skipped", "errored")}
    features = feature_table(scenarios)
    all_violations = [v for s in scenarios for v in s["violations"]]
    by_check: dict[str, list[dict]] = {}
    for violation in all_violations:
        by_check.setdefault(violation["check"], []).append(violation)
    checks = []
    profile = profiles.get(session.profile)
    for check in registry.CHECKS:
        severity = profile.severity(check.id)
        if severity is None:
            continue
        found = by_check.get(check.id, [])
        status = ("failed" if severity is Severity.MUST else "warned") if found else "passed"
        checks.append({"id": check.id, "category": check.category, "severity": severity.value,
                       "rule": check.rule, "basis": check.basis, "status": status, "violations": len(found)})
    must = sum(1 for v in all_violations if v["severity"] == "must" and not v.get("known"))
    known_count = sum(1 for v in all_violations if v.get("known"))
    should = sum(1 for v in all_violations if v["severity"] == "should")
    stale = [e.key for e in session.stale_baseline_entries()]
    if counts["failed"] or stale:
        verdict = "not conformant"
    elif counts["errored"]:
        verdict = "could not test"
    else:
        verdict = "conformant"
    target = session.target
    return {
        "suite": {"name": "responses-conformance", "version": suite_version(), "profile": session.profile},
        "generated_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "target": {"url": target.base_url if target else None, "model": target.model if target else None,
                   "embedded": bool(target and target.embedded), "profile": session.profile},
        "features": features,
        "scenarios": scenarios,
        "checks": checks,
        "summary": {"scenarios": len(scenarios), **counts,
                    "violations": {"must": must, "should": should, "known": known_count},
                    "verdict": verdict},
        **({"baseline": {"file": str(session.baseline.path.name), "entries": len(session.baseline.entries),
                         "stale": stale}} if session.baseline is not None else {}),
    }


def write_results_json(session: "ConformanceSession") -> None:
    data = build_results(session)
    data = session.runner.redactor.json(data)
    session.results_path.parent.mkdir(parents=True, exist_ok=True)
    session.results_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    session.last_results = data


def summary_lines(session: "ConformanceSession") -> list[str]:
    data = getattr(session, "last_results", None) or build_results(session)
    summary = data["summary"]
    base = session.config.invocation_params.dir
    features = data.get("features", {})
    by_status: dict[str, list[str]] = {}
    for name, entry in features.items():
        by_status.setdefault(entry["status"], []).append(name)
    lines = [
        f"target: {session.target.label if session.target else '-'}   model: {data['target']['model']}   "
        f"profile: {data['target']['profile']}",
        "features: " + "; ".join(f"{status} {', '.join(names)}" for status, names in sorted(by_status.items())),
        f"scenarios: {summary['scenarios']} ({summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['errored']} errored, {summary['skipped']} skipped)   "
        f"violations: {summary['violations']['must']} MUST, {summary['violations']['should']} SHOULD",
    ]
    if not session.limits.verify_tls:
        lines.append("WARNING: --insecure: the target's TLS certificate was NOT verified")
    html_path = getattr(session.config.option, "htmlpath", None)
    outputs = f"results: {_relative(session.results_path, base)}"
    if html_path:
        outputs = f"report: {_relative(Path(html_path).resolve(), base)}   " + outputs
    lines.append(outputs)
    for entry in session.stale_baseline_entries():
        lines.append(f"stale baseline entry: remove it: {entry.key} (line {entry.line}) no longer fails")
    if session.baseline is not None:
        lines.append(f"baseline: {len(session.baseline_hits)} known failures accepted from {session.baseline.path.name}")
    lines.append(f"verdict: {summary['verdict'].upper()}")
    return lines


class HtmlHooks:
    """pytest-html hooks, registered only when pytest-html is active."""

    def __init__(self, session: "ConformanceSession") -> None:
        self.session = session

    def pytest_html_report_title(self, report) -> None:
        report.title = "Responses API conformance report"

    def pytest_html_results_summary(self, prefix, summary, postfix) -> None:
        session = self.session
        if not session.runner_started:
            return
        data = getattr(session, "last_results", None) or build_results(session)
        s = data["summary"]
        prefix.extend([
            f"<p><strong>Verdict: {html.escape(s['verdict'])}</strong></p>",
            f"<p>Target: {html.escape(session.target.label if session.target else '-')} &middot; "
            f"model {html.escape(str(data['target']['model']))} &middot; profile {html.escape(session.profile)} &middot; "
            f"responses-conformance {html.escape(data['suite']['version'])}</p>",
            f"<p>Scenarios: {s['scenarios']} ({s['passed']} passed, {s['failed']} failed, {s['errored']} errored, "
            f"{s['skipped']} skipped). Violations: {s['violations']['must']} MUST, "
            f"{s['violations']['should']} SHOULD.</p>",
        ])

    def pytest_html_results_table_header(self, cells) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="scenario">Scenario</th>')
        cells.insert(2, '<th class="sortable" data-column-type="check">Check</th>')
        cells.insert(3, '<th class="sortable" data-column-type="severity">Severity</th>')

    def pytest_html_results_table_row(self, report, cells) -> None:
        props = dict(report.user_properties)
        cells.insert(1, f'<td class="col-scenario">{html.escape(str(props.get("scenario", "")))}</td>')
        cells.insert(2, f'<td class="col-check">{html.escape(str(props.get("check", "")))}</td>')
        cells.insert(3, f'<td class="col-severity">{html.escape(str(props.get("severity", "")))}</td>')
