"""The HTML conformance report: the page a maintainer reads first.

What it shows, built from the same records as results.json:

* on top, the verdict, the target, suite version and date, counts of items (scenario x check)
  per status, a matrix of check categories by scenario (each cell coloured by its worst
  status and linking to its findings) and the features table;
* per failure (or warning, or known failure), the check, its rule and basis, what was seen
  versus expected, the stream as a bounded timeline with the offending events highlighted and
  their JSON paths, the request sent, a `curl` command and the transcript's path.

Two pages are built from the same Jinja2 templates (``templates/``, autoescaped):

* the live suite's pytest-html report: `summary_html` is the top block
  (``pytest_html_results_summary``) and `finding_html` the extra of a failing item
  (`report.HtmlHooks`); pytest-html keeps rendering the rows, filters and logs;
* a standalone page, `render_standalone(results, findings)`, for offline use (replay).

Both are self-contained: inline CSS, one small inline script, nothing fetched. Everything here
is built from already-redacted records (transcripts, violations); the key never reaches it.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import evidence, suite_version
from . import results as results_mod
from .engine import profiles, registry

__all__ = ["ExchangeView", "Finding", "Item", "findings_from_results", "finding_html", "items_from_results",
           "load_exchange", "render_standalone", "replay_inputs", "summary_html", "timeline"]

# A scenario without a verdict on its rules (results.Status), as the status of each of its items.
SCENARIO_ITEM_STATUS = {"could not test": "errored", "unsupported": "skipped", "not applicable": "skipped",
                        "not selected": "skipped", "errored": "errored", "skipped": "skipped"}
# Worst first: a cell, a scenario or a run takes the first status any of its items has.
STATUS_ORDER = ("failed", "errored", "warned", "known", "passed", "skipped", "na")
STATUS_LABELS = {"failed": "fail", "errored": "error", "warned": "warn", "known": "known", "passed": "pass",
                 "skipped": "skip", "na": "n/a"}
SHOWN_OCCURRENCES = 12  # per cause, at the top of the page; "and N more" says the rest
SHOWN_VIOLATIONS = 10  # per failure block, as in the failure text (report.SHOWN_PER_ITEM)
WINDOW = 3  # events shown before and after an offending one
MAX_TIMELINE_ROWS = 40  # events shown per exchange, whatever the stream's length
MAX_EVENT_JSON = 2500  # characters of an offending event's JSON
MAX_CONTEXT_JSON = 1200  # characters of the object holding the offending value
MAX_REQUEST_JSON = 4000
MAX_BODY_READ = 64 * 1024  # of a non-streamed body file, for the value at the path


# -- the records the templates show ------------------------------------------------------------
@dataclass
class Item:
    """One verdict of one check on one scenario: a pytest item in the live suite."""

    key: str  # pytest node id (live) or "<scenario>:<check>" (standalone)
    scenario: str
    check: str
    status: str  # failed | errored | warned | known | passed | skipped
    row: str | None = None  # the id pytest-html gives the item's row (live only)
    block: str | None = None  # the element id of its failure block, when it has one

    @property
    def category(self) -> str:
        return self.check.split(".", 1)[0]


@dataclass
class ExchangeView:
    """One request and its answer, as a transcript record holds them (already redacted)."""

    step: str | None = None  # the step of a multi-step scenario
    transcript: str | None = None  # the path shown to the reader
    request: Mapping[str, Any] | None = None  # {"method", "url", "headers": [[name, value]], "body"}
    curl: str | None = None
    status: int | None = None  # HTTP status of the answer
    events: list[dict] | None = None  # [{"index", "event", "data"}]; None: not recorded
    body: Any = None  # a non-streamed body (parsed JSON when it is JSON), None when not read


@dataclass
class Finding:
    """The violations of one check in one scenario: one failure block.

    `violations` are dicts as `Violation.to_json()` writes them (or results.json's violation
    records): check, severity, message, path, event_index, event_type, sequence_number, and
    optionally excerpt and step. `exchanges` are the requests they were found in.
    """

    key: str
    scenario: str
    check: str
    severity: str  # "must" | "should"
    violations: list[dict]
    exchanges: list[ExchangeView] = field(default_factory=list)
    status: str = "failed"  # failed | warned | known
    scenario_description: str = ""
    target: str | None = None  # the target's name, in a report of several targets

    @property
    def anchor(self) -> str:
        return anchor(self.key)


def anchor(key: str) -> str:
    """The element id of a failure block (ids may hold anything but white space)."""
    return "rc-" + re.sub(r"\s", "_", key)


def worst(statuses: Iterable[str]) -> str:
    found = set(statuses)
    return next((s for s in STATUS_ORDER if s in found), "na")


# -- small helpers -------------------------------------------------------------------------------
def _bounded(text: str, limit: int) -> tuple[str, int]:
    """(text cut to `limit` characters, how many were cut)."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def _pretty(value: Any, limit: int) -> dict[str, Any]:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    shown, cut = _bounded(text, limit)
    return {"text": shown, "cut": cut}


_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def value_at(data: Any, path: str | None) -> tuple[bool, Any, Any]:
    """(found, value, parent) for a JSON path like ``$.response.usage.total_tokens``."""
    if not path or not path.startswith("$"):
        return False, None, None
    parent, value = None, data
    for match in _PATH_TOKEN.finditer(path, 1):
        key = match.group(1) or match.group(3) or match.group(4)
        index = match.group(2)
        parent = value
        if index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        elif key is not None and isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return False, None, parent
    return True, value, parent


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(v: Mapping[str, Any]) -> str:
    """As `Violation.where()`: 'step s: event #6 response.output_text.delta (sequence_number 7)'."""
    prefix = f"step {v['step']}: " if v.get("step") else ""
    if v.get("event_index") is None:
        return prefix.rstrip(": ")
    label = f"event #{v['event_index']}"
    if v.get("event_type"):
        label += f" {v['event_type']}"
    if v.get("sequence_number") is not None:
        label += f" (sequence_number {v['sequence_number']})"
    return prefix + label


# -- the timeline ----------------------------------------------------------------------------------
def _event_row(index: Any, name: str | None, data: Any) -> dict[str, Any]:
    payload = data if isinstance(data, dict) else {}
    item = payload.get("item") if isinstance(payload.get("item"), dict) else {}
    what = ""
    for key in ("delta", "text", "arguments"):
        if isinstance(payload.get(key), str):
            what = _short(payload[key], 40)
            break
    else:
        response = payload.get("response")
        if isinstance(response, dict) and "status" in response:
            what = f"status {response['status']}"
        elif item:
            what = f"{item.get('type', '?')} {item.get('status', '')}".strip()
        elif not isinstance(data, dict) and data is not None:
            what = _short(data, 40)
    return {"kind": "event", "index": index, "type": payload.get("type") or name or "?",
            "name": name, "sequence_number": payload.get("sequence_number"),
            "output_index": payload.get("output_index"), "content_index": payload.get("content_index"),
            "item_id": payload.get("item_id") or item.get("id"), "what": what, "offending": False, "marks": []}


def _mark(row: dict[str, Any], data: Any, violation: Mapping[str, Any]) -> None:
    found, value, parent = value_at(data, violation.get("path"))
    mark = {"path": violation.get("path") or "$", "message": violation.get("message", ""),
            "found": found, "value": _short(value, 200) if found else None,
            "context": _pretty(parent, MAX_CONTEXT_JSON) if found and isinstance(parent, (dict, list))
            and parent is not data else None}
    row["offending"] = True
    row["marks"].append(mark)


def timeline(events: list[dict] | None, violations: list[Mapping[str, Any]], *, window: int = WINDOW,
             limit: int = MAX_TIMELINE_ROWS) -> dict[str, Any]:
    """The rows to show of one stream: windows of `window` events around each offending one,
    at most `limit` events in all, and gap rows saying how many events are hidden.

    `events` are a transcript's ``[{"index", "event", "data"}]``; None when they were not
    recorded, in which case the offending events are rebuilt from the violations' excerpts.
    """
    marked = [v for v in violations if isinstance(v.get("event_index"), int)]
    if events is None:
        rows = []
        for index in sorted({v["event_index"] for v in marked}):
            at = [v for v in marked if v["event_index"] == index]
            data: Any = None
            if at[0].get("excerpt"):
                try:
                    data = json.loads(at[0]["excerpt"])
                except ValueError:
                    data = at[0]["excerpt"]
            row = _event_row(index, at[0].get("event_type"), data)
            if not isinstance(data, dict):
                row.update(type=at[0].get("event_type") or "?", sequence_number=at[0].get("sequence_number"))
            for v in at:
                _mark(row, data, v)
            row["full"] = _pretty(data, MAX_EVENT_JSON) if data is not None else None
            rows.append(row)
        return {"rows": rows, "total": None, "recorded": False, "whole": not marked, "windows_not_shown": 0,
                "truncated": None}

    listed = [e for e in events if isinstance(e, dict) and "index" in e]
    truncated = next((e["truncated"] for e in events if isinstance(e, dict) and "truncated" in e), None)
    position = {e["index"]: i for i, e in enumerate(listed)}
    offending = sorted({position[v["event_index"]] for v in marked if v["event_index"] in position})
    whole = not offending
    if whole:  # a finding about the stream as a whole: its end is where it shows
        offending_windows = [(max(0, len(listed) - 2 * window - 1), len(listed) - 1)]
    else:
        offending_windows = [(max(0, p - window), min(len(listed) - 1, p + window)) for p in offending]
    shown: list[int] = []
    not_shown = 0
    for start, end in offending_windows:
        span = [i for i in range(start, end + 1) if not shown or i > shown[-1]]
        if len(shown) + len(span) > limit:
            not_shown += 1
            continue
        shown += span
    rows: list[dict[str, Any]] = []
    previous = -1
    for i in shown:
        if i > previous + 1:
            rows.append({"kind": "gap", "hidden": i - previous - 1, "first": listed[previous + 1]["index"],
                         "last": listed[i - 1]["index"]})
        event = listed[i]
        row = _event_row(event["index"], event.get("event"), event.get("data"))
        for v in marked:
            if v["event_index"] == event["index"]:
                _mark(row, event.get("data"), v)
        row["full"] = _pretty(event.get("data"), MAX_EVENT_JSON) if row["offending"] else None
        rows.append(row)
        previous = i
    if listed and previous < len(listed) - 1:
        rows.append({"kind": "gap", "hidden": len(listed) - 1 - previous, "first": listed[previous + 1]["index"],
                     "last": listed[-1]["index"]})
    return {"rows": rows, "total": len(listed), "recorded": True, "whole": whole,
            "windows_not_shown": not_shown, "truncated": truncated}


# -- loading transcripts ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _record(path: str) -> dict | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _body(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BODY_READ + 1)
    except OSError:
        return None
    text = raw[:MAX_BODY_READ].decode("utf-8", "replace")
    if len(raw) > MAX_BODY_READ:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_exchange(record_path: str | Path, display: str | None = None, step: str | None = None) -> ExchangeView:
    """An ExchangeView from a live-suite transcript record (``transcripts/<name>.json``).

    Records are read whole (the live suite bounds them) and the last few are cached: the
    checks of one scenario share one record.
    """
    path = Path(record_path)
    record = _record(str(path.resolve())) or {}
    request = record.get("request") if isinstance(record.get("request"), dict) else None
    response = record.get("response") if isinstance(record.get("response"), dict) else {}
    events = record.get("events")
    body = None
    if not events and isinstance(response.get("body_file"), str):
        body = _body(path.parent / response["body_file"])
    return ExchangeView(step=step,
                        transcript=display or str(record_path), request=request,
                        curl=(request or {}).get("curl"), status=response.get("status"),
                        events=events if isinstance(events, list) and events else ([] if record else None),
                        body=body)


def _merge_details(violations: list[dict], records: list[dict]) -> list[dict]:
    """results.json's violation records lack the excerpt and the step: take them from the
    transcript records, matched by check, event index, path and message."""
    known = {}
    for record in records:
        for v in record.get("violations") or []:
            if isinstance(v, dict):
                known.setdefault((v.get("check"), v.get("event_index"), v.get("path"), v.get("message")), v)
    out = []
    for v in violations:
        extra = known.get((v.get("check"), v.get("event_index"), v.get("path"), v.get("message")), {})
        out.append({**{k: extra[k] for k in ("excerpt", "step") if k in extra}, **v})
    return out


def findings_from_results(results: Mapping[str, Any], base: str | Path, target: str | None = None) -> list[Finding]:
    """The failure blocks of a results.json, with the transcripts it names (relative to `base`,
    the folder results.json is in). `target`: the name of the target whose block `results` is,
    in a report of several (it prefixes each block's key, unique on the page)."""
    base = Path(base)
    findings = []
    for scenario in results.get("scenarios", []):
        violations = [v for v in scenario.get("violations") or [] if isinstance(v, dict)]
        if not violations:
            continue
        steps = [s for s in scenario.get("steps") or [] if s.get("transcript")]
        paths = [(s["transcript"], s.get("name")) for s in steps] or (
            [(scenario["transcript"], None)] if scenario.get("transcript") else [])
        exchanges = [load_exchange(base / p, display=p, step=name) for p, name in paths]
        records = [_record(str((base / p).resolve())) or {} for p, _ in paths]
        violations = _merge_details(violations, records)
        by_check: dict[str, list[dict]] = {}
        for v in violations:
            by_check.setdefault(v["check"], []).append(v)
        for check, found in by_check.items():
            finding = _finding(f"{_prefix(target)}{scenario['id']}:{check}", scenario["id"], check, found, exchanges,
                               scenario.get("description", ""))
            finding.target = target
            findings.append(finding)
    return findings


def _prefix(target: str | None) -> str:
    return f"{target}:" if target is not None else ""


def _finding(key: str, scenario: str, check: str, violations: list[dict], exchanges: list[ExchangeView],
             description: str = "") -> Finding:
    must = [v for v in violations if v.get("severity") == "must"]
    if must and all(v.get("known") for v in must):
        status = "known"
    else:
        status = "failed" if must else "warned"
    return Finding(key=key, scenario=scenario, check=check, severity="must" if must else "should",
                   violations=violations, exchanges=exchanges, status=status, scenario_description=description)


def items_from_results(results: Mapping[str, Any], findings: Iterable[Finding] = (), target: str | None = None
                       ) -> list[Item]:
    """The (scenario, check) verdicts of a results document, for a page without pytest items.

    A scenario's checks are, in order of preference: its ``"checks"`` (a list of ids), the
    checks of the built-in scenario of that id (the upstream fidelity checks among them only when
    the run named an upstream: results.asked_kinds), or the checks that apply to its ``"kind"``
    (stream, response, error; guessed from its events and HTTP status when absent). A check
    with violations is failed (MUST), known (MUST, all in the baseline) or warned (SHOULD);
    an errored or skipped scenario makes all its checks errored or skipped, and a check without a
    finding that its built-in scenario did not judge (a step it did not run to a judgement:
    results.Judgement) is skipped, as its pytest item was; the others passed.
    """
    profile = (results.get("target") or {}).get("profile") or (results.get("suite") or {}).get("profile")
    try:
        chosen = profiles.get(profile)
    except ValueError:
        chosen = profiles.get(None)
    blocks = {(f.scenario, f.check): f.anchor for f in findings}
    upstream = "upstream" in results_mod.asked_kinds(results.get("target"))
    builtin = _builtin_checks(chosen.name, upstream)
    judged = _judgements(results.get("scenarios", []), upstream)
    items = []
    for scenario in results.get("scenarios", []):
        if scenario.get("reason") == "not selected":
            continue
        sid = scenario["id"]
        if isinstance(scenario.get("checks"), list):
            checks = list(scenario["checks"])
        elif sid in builtin:
            checks = builtin[sid]
        else:
            kind = scenario.get("kind") or _guess_kind(scenario)
            checks = [c.id for c in registry.CHECKS if kind in c.applies and chosen.enabled(c.id)]
        by_check: dict[str, list[dict]] = {}
        for v in scenario.get("violations") or []:
            by_check.setdefault(v["check"], []).append(v)
        checks += [c for c in by_check if c not in checks]
        for check in checks:
            found = by_check.get(check, [])
            if scenario.get("status") in SCENARIO_ITEM_STATUS:
                status = SCENARIO_ITEM_STATUS[scenario["status"]]
            elif not found:
                judgement, row = judged.get(sid), registry.BY_ID.get(check)
                status = "passed" if judgement is None or row is None or judgement.judges(row) else "skipped"
            else:
                status = _finding("", sid, check, found, []).status
            items.append(Item(key=f"{_prefix(target)}{sid}:{check}", scenario=sid, check=check, status=status,
                              block=blocks.get((sid, check))))
    return items


@functools.lru_cache(maxsize=1)
def _builtin_scenarios() -> tuple[Any, ...]:
    try:
        from .scenarios import load_all

        return tuple(load_all())
    except Exception:  # noqa: BLE001 - a page without them still renders (from each scenario's kind)
        return ()


@functools.lru_cache(maxsize=8)
def _builtin_checks(profile: str, upstream: bool = False) -> dict[str, list[str]]:
    return {s.id: [c.id for c in s.checks(profile, upstream=upstream)] for s in _builtin_scenarios()}


def _judgements(records: list[Mapping[str, Any]], upstream: bool) -> dict[str, results_mod.Judgement]:
    """What each built-in scenario of a live run's results document judged (scenarios.judgements;
    a record that does not say how many steps ran, a replayed exchange's, is left to its status)."""
    from .scenarios import judgements

    return judgements(_builtin_scenarios(), [r for r in records if isinstance(r, Mapping) and "steps_run" in r],
                      upstream=upstream)


def _guess_kind(scenario: Mapping[str, Any]) -> str:
    if scenario.get("events"):
        return "stream"
    status = scenario.get("http_status")
    return "error" if isinstance(status, int) and status >= 400 else "response"


# -- replay ----------------------------------------------------------------------------------------
def replay_inputs(transcripts: Iterable[Any], *, profile: str = profiles.DEFAULT,
                  notes: Iterable[tuple[str, str]] = (), errors: Iterable[tuple[str, str]] = ()
                  ) -> tuple[dict[str, Any], list[Finding]]:
    """`render_standalone`'s two arguments for what `replay` checked.

    `transcripts` are `capture.Transcript`s (source, index, kind, violations, response_id,
    events, notes, record, curl, verdict, label): each is a row of the matrix. A live-suite
    transcript (`record` set) shows its recorded stream; any other capture shows the offending
    events rebuilt from the violations' excerpts (replay keeps no events).
    """
    scenarios, findings = [], []
    verdicts = Counter()
    for t in transcripts:
        violations = [v.to_json() if hasattr(v, "to_json") else dict(v) for v in t.violations]
        verdicts[t.verdict] += 1
        description = " ".join(filter(None, [t.kind, t.response_id, f"{t.events} events" if t.kind == "stream"
                                             else None])) + "".join(f"; note: {n}" for n in t.notes)
        scenarios.append({"id": t.label, "description": description, "kind": t.kind,
                          "status": "failed" if t.verdict == "fail" else "passed",
                          "events": t.events, "violations": violations,
                          "transcript": str(t.record) if t.record is not None else t.source})
        if not violations:
            continue
        if t.record is not None:
            exchange = load_exchange(t.record, display=str(t.record))
            exchange.curl = exchange.curl or t.curl
        else:
            exchange = ExchangeView(transcript=t.source, curl=t.curl, events=None)
        by_check: dict[str, list[dict]] = {}
        for v in violations:
            by_check.setdefault(v["check"], []).append(v)
        for check, found in by_check.items():
            findings.append(_finding(f"{t.label}:{check}", t.label, check, found, [exchange], description))
    if verdicts["fail"]:
        verdict = "not conformant"
    elif list(errors):
        verdict = "could not test"
    else:
        verdict = "conformant"
    results = {
        "suite": {"name": "responses-conformance", "version": suite_version(), "profile": profile},
        "generated_at": _now(),
        "target": {"url": None, "model": None, "profile": profile,
                   "label": f"replay of {sum(verdicts.values())} captured transcripts"},
        "features": {},
        "scenarios": scenarios,
        "summary": {"verdict": verdict, "scenarios": len(scenarios), "passed": verdicts["pass"] + verdicts["warn"],
                    "failed": verdicts["fail"], "errored": 0, "skipped": 0},
        "findings": [c.to_json() for c in results_mod.causes(
            {**v, "scenario": sc["id"]} for sc in scenarios for v in sc["violations"])],
        "notes": [f"{source}: {message}" for source, message in notes]
        + [f"could not read {source}: {message}" for source, message in errors],
    }
    return results, findings


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# -- rendering -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("responses_conformance", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(status_label=STATUS_LABELS)
    env.filters["ticks"] = _ticks
    env.filters["basis"] = _basis
    return env


def _ticks(text: Any) -> Any:
    """Markdown's `code` spans (rules, bases, feature descriptions) as <code>, the rest escaped."""
    from markupsafe import Markup, escape  # Jinja2's own escaping library


    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: plain text
        return escape(str(text))
    return Markup("").join(escape(p) if i % 2 == 0 else Markup("<code>%s</code>") % p for i, p in enumerate(parts))


def _basis(text: Any) -> Any:
    """A check's basis with its `code` spans, and each cited id (F-04, SPEC, ...) a link to its
    entry in the page's evidence list (evidence.py, docs/evidence.md)."""
    from markupsafe import Markup, escape

    out = Markup("")
    for piece, entry in evidence.split(str(text)):
        if entry is None:
            out += _ticks(piece)
        else:
            out += Markup('<a class="rc-ev" href="#rc-ev-%s">%s</a>') % (entry.anchor, piece)
    return out


def evidence_entries(checks: Iterable[str]) -> list[dict[str, Any]]:
    """The evidence entries the bases of these checks cite, in the order of evidence.ENTRIES."""
    cited: set[str] = set()
    for check_id in checks:
        check = registry.BY_ID.get(check_id)
        if check is not None:
            cited.update(evidence.ids_in(check.basis))
    return [{"id": e.id, "anchor": e.anchor, "title": e.title, "text": e.text, "links": list(e.links),
             "doc": f"{evidence.DOC}#{e.anchor}"} for e in evidence.ENTRIES.values() if e.id in cited]


def cause_views(results: Mapping[str, Any], items: list[Item]) -> list[dict[str, Any]]:
    """The causes of results.json's `findings` (results.causes), each with its occurrences: one
    per scenario, linking to that scenario's failure block for the check (capped, the rest
    counted)."""
    by_item = {(i.scenario, i.check): i for i in items}
    scenarios = {s["id"]: s for s in results.get("scenarios", [])}
    views = []
    for finding in results.get("findings") or []:
        check, shape = finding["check"], finding.get("shape")
        occurrences = []
        for sid in finding.get("scenarios") or []:
            mine = [v for v in (scenarios.get(sid) or {}).get("violations") or [] if v.get("check") == check]
            listed = [v for v in mine if results_mod.folded_count(v.get("message", "")) is None
                      and (shape is None or results_mod.message_shape(v.get("message", "")) == shape)]
            first = (listed or mine or [{}])[0]
            count = len(listed) + sum(results_mod.folded_count(v.get("message", "")) or 0 for v in mine
                                      if results_mod.folded_count(v.get("message", "")) is not None)
            occurrences.append({"scenario": sid, "item": by_item.get((sid, check)), "count": max(count, 1),
                                "where": _where(first), "message": first.get("message", "")})
        check_def = registry.BY_ID.get(check)
        example = finding.get("example") or {}
        views.append({**finding, "rule": check_def.rule if check_def else "",
                      "basis": check_def.basis if check_def else "",
                      "example": {**example, "where": _where(example)},
                      "occurrences": occurrences[:SHOWN_OCCURRENCES],
                      "more": max(0, len(occurrences) - SHOWN_OCCURRENCES),
                      "model_behaviour": bool(finding.get("model_behaviour")),
                      "status": "known" if finding.get("known") else "failed" if finding.get("severity") == "must"
                      else "warned"})
    return views


# The colour of a verdict: the status class its banner is drawn in.
VERDICT_STATUS = {"conformant": "passed", "not conformant": "failed", "could not test": "errored",
                  "nothing tested": "skipped", "interrupted": "errored", "usage error": "errored"}


def _worst_of(items: list[Item]) -> tuple[str, int]:
    """The worst status among items ("na" when there are none) and how many items have it."""
    status = worst(i.status for i in items) if items else "na"
    return status, sum(1 for i in items if i.status == status)


def matrix_categories(asked: Iterable[str] = ()) -> tuple[str, ...]:
    """The matrix's columns: the categories of registry.CATEGORIES a scenario (or a replayed
    exchange) is judged in by a run that asked for the kinds `asked` (results.asked_kinds). A
    category whose checks the run does not judge (registry.judged_in_run: judged only in fuzz
    mode, whose findings are results.json's `fuzz` block, or only with --upstream-url) has no
    column."""
    asked = frozenset(asked)
    return tuple(category for category in registry.CATEGORIES
                 if any(c.category == category and registry.judged_in_run(c, asked) for c in registry.CHECKS))


def summary_context(results: Mapping[str, Any], items: list[Item]) -> dict[str, Any]:
    summary = results.get("summary") or {}
    target = results.get("target") or {}
    suite = results.get("suite") or {}
    counts = Counter(item.status for item in items)
    order = [s["id"] for s in results.get("scenarios", [])]
    rows = []
    columns = matrix_categories(results_mod.asked_kinds(target))
    for sid in order + sorted({i.scenario for i in items} - set(order)):
        mine = [i for i in items if i.scenario == sid]
        if not mine:
            continue
        cells = []
        for category in columns:
            here = [i for i in mine if i.category == category]
            status, count = _worst_of(here)
            # The link goes to the worst item, one with a failure block when there is one.
            pick = sorted((i for i in here if i.status == status), key=lambda i: i.block is None)
            target_item = pick[0] if pick and status not in ("passed", "na") else None
            listed = [f"{i.check}: {i.status}" for i in here if i.status != "passed"]
            title = "; ".join(listed) or (f"{len(here)} check{'s' if len(here) != 1 else ''} passed" if here
                                          else "no check of this category applies")
            cells.append({"category": category, "status": status, "item": target_item, "title": title,
                          "count": count})
        description = next((s.get("description", "") for s in results.get("scenarios", []) if s["id"] == sid), "")
        rows.append({"id": sid, "description": description, "status": worst(i.status for i in mine),
                     "cells": cells})
    not_selected = sum(1 for s in results.get("scenarios", []) if s.get("status") == "not selected")
    causes = cause_views(results, items)
    failing_checks = {c["check"] for c in causes} | {i.check for i in items if i.status in ("failed", "warned", "known")}
    verdict = summary.get("verdict", "-")
    listed = Counter(c.get("status") for c in results.get("checks") or [])
    return {
        "verdict": verdict,
        "verdict_status": VERDICT_STATUS.get(verdict, "na"),
        "target": {"url": target.get("url"), "label": target.get("label") or target.get("url") or "-",
                   "embedded": target.get("embedded", False), "model": target.get("model"),
                   "profile": target.get("profile") or suite.get("profile")},
        "version": suite.get("version", "-"),
        "date": results.get("generated_at", "-"),
        "counts": [(s, counts.get(s, 0)) for s in ("passed", "failed", "warned", "skipped", "errored", "known")
                   if s != "known" or counts.get(s)],
        "item_count": len(items),
        # results.json's checks table (results.check_statuses): each check of the run once.
        "check_counts": [(status, listed[status]) for status in results_mod.CHECK_STATUSES if listed[status]],
        "not_tested": [c["id"] for c in results.get("checks") or [] if c.get("status") == results_mod.NOT_TESTED],
        "summary": summary,
        "categories": columns,
        "rows": rows,
        "not_selected": not_selected,
        "features": [{"name": name, **entry, "note": feature_note(entry)}
                     for name, entry in (results.get("features") or {}).items()],
        "causes": [c for c in causes if not c["model_behaviour"]],
        "model_causes": [c for c in causes if c["model_behaviour"]],
        "failing_checks": sorted(failing_checks),
        "evidence": evidence_entries(sorted(failing_checks)),
        "notes": results.get("notes") or [],
        "baseline": results.get("baseline"),
    }


def feature_note(entry: Mapping[str, Any]) -> str:
    """What the features table says beside a status: what broke it, or what else to look at."""
    if entry.get("broken_by"):
        return "broken: " + ", ".join(entry["broken_by"])
    if entry.get("see") and entry.get("status") == "supported":
        return "works, but see: " + ", ".join(entry["see"])
    return ""




def finding_context(finding: Finding) -> dict[str, Any]:
    check = registry.BY_ID.get(finding.check)
    shown = finding.violations[:SHOWN_VIOLATIONS]
    several = len(finding.exchanges) > 1
    exchanges = []
    for exchange in finding.exchanges:
        mine = [v for v in shown if not several or v.get("step") == exchange.step]
        if several and not mine and any(v.get("step") for v in shown):
            continue  # a step this check found nothing wrong in
        view: dict[str, Any] = {"step": exchange.step, "transcript": exchange.transcript, "curl": exchange.curl,
                                "status": exchange.status, "timeline": None, "body": None, "request": None}
        if exchange.events is None or exchange.events:
            view["timeline"] = timeline(exchange.events, mine)
        elif exchange.body is not None:
            view["body"] = _body_view(exchange.body, mine)
        if exchange.request:
            view["request"] = _request_view(exchange.request)
        exchanges.append(view)
    return {
        "finding": finding,
        "anchor": finding.anchor,
        "rule": check.rule if check else "",
        "basis": check.basis if check else "",
        "violations": [{**v, "where": _where(v)} for v in shown],
        "more": max(0, len(finding.violations) - SHOWN_VIOLATIONS),
        "exchanges": exchanges,
    }


def _body_view(body: Any, violations: list[Mapping[str, Any]]) -> dict[str, Any]:
    marks = []
    for v in violations:
        found, value, parent = value_at(body, v.get("path"))
        marks.append({"path": v.get("path") or "$", "found": found, "value": _short(value, 200) if found else None,
                      "context": _pretty(parent, MAX_CONTEXT_JSON) if found and isinstance(parent, (dict, list))
                      and parent is not body else None})
    return {"marks": marks, "json": _pretty(body, MAX_EVENT_JSON)}


def _request_view(request: Mapping[str, Any]) -> dict[str, Any]:
    headers = [h for h in request.get("headers") or [] if isinstance(h, (list, tuple)) and len(h) == 2]
    body = request.get("body")
    return {"line": f"{request.get('method', '?')} {request.get('url', '?')}",
            "headers": [f"{name}: {value}" for name, value in headers],
            "body": _pretty(body, MAX_REQUEST_JSON) if body is not None else None}


def summary_html(results: Mapping[str, Any], items: list[Item], *, live: bool = False, folded: int = 0,
                 id_prefix: str = "", evidence: bool = True) -> str:
    """The top block (verdict, target, counts, matrix, features): one fragment. `live`: for
    pytest-html's summary, with our style and script inline (a standalone page has them once,
    in its head and at its end). `id_prefix` keeps element ids unique where several targets'
    blocks share a page (their evidence is then shown once, by the page: `evidence=False`)."""
    return _render_summary(summary_context(results, items), live=live, folded=folded, id_prefix=id_prefix,
                           evidence=evidence)


def _render_summary(context: dict[str, Any], *, live: bool = False, folded: int = 0, id_prefix: str = "",
                    evidence: bool = True) -> str:
    context = {**context, "folded": folded, "id_prefix": id_prefix}
    if not evidence:
        context["evidence"] = []
    return _env().get_template("summary.html.j2").render(s=context, with_assets=live)


def targets_html(results: Mapping[str, Any], views: list[tuple[str, Mapping[str, Any], list[Item]]], *,
                 live: bool = False) -> str:
    """The top of the report of several targets (results.json with `targets`): the run's verdict,
    a targets x categories matrix (each cell the worst status of that target's checks in that
    category), the causes per target, then each target's own block (summary_html). `views`:
    (name, the target's block of results.json, its items)."""
    rows, sections, failing = [], [], set()
    columns = matrix_categories(frozenset().union(*(results_mod.asked_kinds(block.get("target"))
                                                    for _, block, _ in views)))
    for name, block, items in views:
        context = summary_context(block, items)  # once per target: its row here and its own block below
        cells = []
        for category in columns:
            here = [i for i in items if i.category == category]
            status, count = _worst_of(here)
            cells.append({"category": category, "status": status, "count": count,
                          "title": "; ".join(sorted({f"{i.check}: {i.status}" for i in here
                                                     if i.status not in ("passed", "skipped")}))
                          or f"{len(here)} checks, none failed"})
        anchor_id = f"rc-t-{name}"
        rows.append({"name": name, "anchor": anchor_id, "verdict": context["verdict"],
                     "verdict_status": context["verdict_status"], "target": context["target"],
                     "cause": context["summary"].get("cause"), "causes": context["causes"],
                     "model_causes": context["model_causes"], "cells": cells})
        failing.update(context["failing_checks"])
        sections.append({"name": name, "anchor": anchor_id,
                         "html": _render_summary(context, id_prefix=f"{anchor_id}-", evidence=False)})
    summary = results.get("summary") or {}
    return _env().get_template("targets.html.j2").render(
        s={"verdict": summary.get("verdict", "-"), "verdict_status": VERDICT_STATUS.get(summary.get("verdict"), "na"),
           "summary": summary, "version": (results.get("suite") or {}).get("version", "-"),
           "date": results.get("generated_at", "-"), "profile": rows[0]["target"]["profile"] if rows else None,
           "categories": columns, "rows": rows, "sections": sections,
           "evidence": evidence_entries(sorted(failing)), "id_prefix": ""}, with_assets=live)


def finding_html(finding: Finding) -> str:
    """One failure block: a pytest-html extra of the failing item, or a section of the page."""
    return compact(_env().get_template("finding.html.j2").render(**finding_context(finding)))


_TEXT = re.compile(r">[^<]*<")


def compact(markup: str) -> str:
    """Rendered markup made smaller without changing what it shows: the templates' indentation
    before tags goes, and quotes in text (never in attributes) are written as themselves. A
    block is a pytest-html extra, escaped once more into its JSON blob, where every entity
    costs twice: the three-fault page stays under a megabyte."""
    markup = re.sub(r"\n[ \t]+<", "\n<", markup)
    return _TEXT.sub(lambda m: m.group(0).replace("&#34;", '"').replace("&#39;", "'"), markup)


def pointer_html(finding: Finding) -> str:
    """A pytest-html row's extra: where its failure is shown (once, in the findings section)."""
    return compact(_env().get_template("pointer.html.j2").render(f=finding, anchor=finding.anchor))


def ordered(findings: list[Finding], scenarios: list[Mapping[str, Any]]) -> list[int]:
    """The order findings are shown in: failures first, then warnings and known failures, each
    in scenario order."""
    order = {s["id"]: i for i, s in enumerate(scenarios)}
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return sorted(range(len(findings)), key=lambda i: (rank.get(findings[i].status, 9),
                                                       order.get(findings[i].scenario, len(order)), findings[i].check))


def findings_section(findings: list[Finding], blocks: list[str], scenarios: list[Mapping[str, Any]]) -> str:
    """Every failure block, once, under one heading (pytest-html's page: the summary's postfix)."""
    shown = [fold(blocks[i], len(blocks)) for i in ordered(findings, scenarios)]
    return _env().get_template("findings.html.j2").render(blocks=shown)


OPEN_UP_TO = 8  # findings shown open; with more, each shows its title line until opened


def fold(block: str, count: int) -> str:
    """A block, open when the page has few findings, else folded to its title line (a cause, a
    matrix cell or a row link opens it)."""
    if count <= OPEN_UP_TO:
        return block
    return block.replace('<details class="rc-finding-body" open>', '<details class="rc-finding-body">', 1)


def render_standalone(results: Mapping[str, Any], findings: list[Finding], *, items: list[Item] | None = None,
                      title: str = "Responses API conformance report") -> str:
    """A complete, self-contained HTML page: the top block, then one block per finding.

    `results` has results.json's shape (`build_results`): "summary" (with "verdict"),
    "target" (url or label, model, profile), "suite" (version), "generated_at", "features"
    and "scenarios" (id, description, status, violations, optionally "checks" or "kind").
    `findings` are the failure blocks (`findings_from_results`, `replay_inputs`). `items`,
    the (scenario, check) verdicts of the matrix and the counts, default to
    `items_from_results(results, findings)`.
    """
    if items is None:
        items = items_from_results(results, findings)
    shown = [findings[i] for i in ordered(findings, results.get("scenarios", []))]
    return _env().get_template("page.html.j2").render(
        title=title, summary=summary_html(results, items),
        findings=[fold(finding_html(f), len(shown)) for f in shown])
