"""The results model: one status lattice and one verdict, for every way a run ends.

Everything that states a verdict (the exit code, the last line, results.json, JUnit, the HTML
top, replay) computes it here, from counts of statuses, so that they cannot disagree. No
pytest, no I/O: the live run, replay and tests feed it the same way.

The contract (README, "Verdicts and exit codes"):

    exit 0  conformant       something was judged, and no MUST rule is broken
    exit 1  not conformant   a MUST rule is broken (not accepted by the baseline), or a stale
                             baseline entry
    exit 2  interrupted      Ctrl-C: never "conformant"
    exit 4  usage error      a bad option, a bad URL, an unknown baseline id
    exit 5  nothing tested   no check judged: everything skipped, unsupported, not applicable
                             or not selected (pytest's own "no tests" code)
    exit 6  could not test   the preflight failed, or scenarios could not run and no MUST rule
                             was seen broken

Several targets in one run: the worst verdict wins, in the order 1, 6, 5, 0.
"""
from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping


class Status(str, enum.Enum):
    """What became of one scenario (or one scenario x check item)."""

    PASSED = "passed"  # judged, nothing broken
    WARNED = "warned"  # judged, only SHOULD rules broken
    FAILED = "failed"  # judged, a MUST rule broken
    KNOWN = "known"  # judged, MUST rules broken, all accepted by the baseline
    UNSUPPORTED = "unsupported"  # the target refused an optional feature cleanly
    NOT_APPLICABLE = "not applicable"  # the scenario cannot say anything about this target
    NOT_SELECTED = "not selected"  # left out by -k / -m / a filter
    COULD_NOT_TEST = "could not test"  # the target could not be reached, stalled, stopped, ...
    MODEL = "model behaviour"  # only model-behaviour findings: reported, never a verdict

    def __str__(self) -> str:
        return self.value


# Statuses that mean "a rule was judged on the target's bytes".
JUDGED = frozenset({Status.PASSED, Status.WARNED, Status.FAILED, Status.KNOWN, Status.MODEL})


class Verdict(enum.Enum):
    CONFORMANT = ("conformant", 0)
    NOT_CONFORMANT = ("not conformant", 1)
    INTERRUPTED = ("interrupted", 2)
    USAGE_ERROR = ("usage error", 4)
    NOTHING_TESTED = ("nothing tested", 5)
    COULD_NOT_TEST = ("could not test", 6)

    def __init__(self, label: str, exit_code: int) -> None:
        self.label = label
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.label

    @classmethod
    def from_label(cls, label: str) -> "Verdict":
        for verdict in cls:
            if verdict.label == label:
                return verdict
        raise ValueError(f"unknown verdict {label!r}")


# Several targets (or inputs): the worst one is the run's. Interrupted and usage errors end a
# run before any verdict, so they rank above everything.
_SEVERITY_ORDER = [Verdict.USAGE_ERROR, Verdict.INTERRUPTED, Verdict.NOT_CONFORMANT, Verdict.COULD_NOT_TEST,
                   Verdict.NOTHING_TESTED, Verdict.CONFORMANT]


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    chosen = list(verdicts)
    if not chosen:
        return Verdict.NOTHING_TESTED
    return min(chosen, key=_SEVERITY_ORDER.index)


def verdict(statuses: Iterable[Status | str], *, stale_baseline: int = 0, could_not_test: bool = False,
            interrupted: bool = False) -> Verdict:
    """THE verdict. `statuses`: one per scenario (or per item); `could_not_test`: the run as a
    whole could not test the target (the preflight failed), whatever the scenarios say."""
    counts = Counter(Status(s) for s in statuses)
    if interrupted:
        return Verdict.INTERRUPTED
    if counts[Status.FAILED] or stale_baseline:
        return Verdict.NOT_CONFORMANT
    if could_not_test or counts[Status.COULD_NOT_TEST]:
        return Verdict.COULD_NOT_TEST
    if not any(counts[s] for s in JUDGED):
        return Verdict.NOTHING_TESTED
    return Verdict.CONFORMANT


def is_model_behaviour(check_id: str) -> bool:
    """The registry's word on whether a check judges the model's choices (the answer's
    content) rather than the protocol."""
    from .engine import registry

    probe = getattr(registry, "is_model_behaviour", None)
    return bool(probe(check_id)) if probe is not None else False


def asked_kinds(target: Mapping[str, Any] | None) -> frozenset[str]:
    """The kinds of check judged only when a run asks for them (registry.ASKED_KINDS) that the
    run's scenarios judged, read from its results.json `target` block: `upstream` when the run
    named the target's upstream (--upstream-url). Never `fuzz`: fuzz mode judges its checks apart
    from the scenarios, and results.json's `fuzz` block holds their verdicts. With
    registry.judged_in_run, what decides which checks a run lists (never one it did not judge)."""
    return frozenset({"upstream"}) if (target or {}).get("upstream_url") else frozenset()


# -- what a run judged, per check ----------------------------------------------------------------
NOT_TESTED = "not tested"
# A check's status in a run, worst first (results.json's checks table; the HTML report and the
# terminal count them): failed (a MUST finding), warned (a SHOULD finding), passed (judged by at
# least one scenario that ran to a judgement, no finding), not tested (nothing in the run judged it).
CHECK_STATUSES = ("failed", "warned", "passed", NOT_TESTED)


@dataclass(frozen=True)
class Judgement:
    """What one scenario of a run put before the checks, as far as it ran to a judgement
    (scenarios.Scenario.judgement reads it from the scenario's record): its status, each step
    judged (registry.Exchange: the kinds of exchange it asked for, and those the target's answer
    was judged as), the `asked_by` fields it gave, the scenario checks its assertions ran and the
    features it asked for."""

    status: Status
    exchanges: tuple[Any, ...] = ()  # registry.Exchange, one per step judged
    asked: frozenset[str] = frozenset()
    assertions: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()

    def judges(self, check: Any) -> bool:
        """Whether this scenario judged `check` (a registry.Check): only a scenario that ran to a
        judgement (JUDGED: not skipped, not could not test, not unsupported or not applicable)
        judged anything, and then the checks its exchanges (as the target answered them), fields
        and assertions call for (registry.judged_by, the rule that gives a scenario its items)."""
        from .engine import registry

        return Status(self.status) in JUDGED and registry.judged_by(
            check, self.exchanges, asked=self.asked, assertions=self.assertions, features=self.features)


def check_statuses(severities: Mapping[str, Any], judgements: Iterable[Judgement], found: Iterable[str]
                   ) -> dict[str, str]:
    """THE status of each check in a run (CHECK_STATUSES), from what the run judged: results.json's
    checks table and every count of checks read it. `severities`: the checks the run could judge
    (id -> severity in the run's profile, "must" or "should"), in the order to list them;
    `judgements`: one per scenario of the run; `found`: the ids of the checks with findings. A
    finding makes a check failed or warned whatever else happened (the bytes showed it); a check
    without one passed only if a scenario that ran to a judgement judged it, and is otherwise not
    tested: a run of one scenario, or one that could not test the target, never lists as passed a
    check it did not judge."""
    from .engine import registry

    found = frozenset(found)
    judgements = list(judgements)  # Judgement.judges: only a scenario that ran to a judgement judged anything
    out = {}
    for check_id, severity in severities.items():
        if check_id in found:
            out[check_id] = "failed" if str(getattr(severity, "value", severity)).lower() == "must" else "warned"
        elif any(j.judges(registry.get(check_id)) for j in judgements):
            out[check_id] = "passed"
        else:
            out[check_id] = NOT_TESTED
    return out


def counts(violation: Any, *, deterministic: bool) -> bool:
    """Does this finding count against conformance? A MUST finding does, except a
    model-behaviour one against a target whose model is not scripted (anything but the
    embedded reference server or a proxy in front of it, --upstream-url)."""
    if getattr(violation.severity, "value", violation.severity) != "must":
        return False
    return deterministic or not is_model_behaviour(violation.check)


def scenario_status(outcome: Status, violations: Iterable[Any], *, deterministic: bool,
                    known: Callable[[Any], bool] = lambda v: False) -> Status:
    """One scenario's status. `outcome` is what the run itself says (passed, or could not
    test, unsupported, not applicable); the findings decide the rest. A MUST finding that
    counts and is not in the baseline fails the scenario whatever else happened: it was
    shown by the bytes before the run stopped."""
    findings = list(violations)
    must = [v for v in findings if counts(v, deterministic=deterministic)]
    if any(not known(v) for v in must):
        return Status.FAILED
    if outcome is not Status.PASSED:
        return outcome
    if must:
        return Status.KNOWN
    model = [v for v in findings if is_model_behaviour(v.check) and not deterministic]
    if len(model) < len(findings):
        return Status.WARNED
    if model:
        return Status.MODEL
    return Status.PASSED


@dataclass
class Tally:
    """Counts of scenario statuses, in results.json's vocabulary."""

    counts: Mapping[Status, int] = field(default_factory=dict)

    @classmethod
    def of(cls, statuses: Iterable[Status | str]) -> "Tally":
        return cls(Counter(Status(s) for s in statuses))

    def get(self, status: Status) -> int:
        return self.counts.get(status, 0)

    def to_json(self) -> dict[str, int]:
        """`passed`, `failed`, `errored` (could not test), `skipped` (unsupported or not
        applicable), `not_selected`, and each status by its own name."""
        return {
            "passed": self.get(Status.PASSED) + self.get(Status.WARNED) + self.get(Status.MODEL),
            "failed": self.get(Status.FAILED),
            "errored": self.get(Status.COULD_NOT_TEST),
            "skipped": self.get(Status.UNSUPPORTED) + self.get(Status.NOT_APPLICABLE),
            "not_selected": self.get(Status.NOT_SELECTED),
            "known": self.get(Status.KNOWN),
            "by_status": {str(s): self.get(s) for s in Status if self.get(s)},
        }

    def line(self) -> str:
        """`12 passed, 1 failed, 3 unsupported, ...`: the statuses that occur, in lattice order."""
        parts = [f"{self.get(s)} {s}" for s in Status if self.get(s)]
        return ", ".join(parts) if parts else "none"


def final_line(verdict_: Verdict, detail: str) -> str:
    """The last line of the output, where CI logs are read."""
    return f"responses-conformance: {verdict_.label.upper()} - {detail}"


# -- causes ------------------------------------------------------------------------------------
# A run against a broken target reports hundreds of violations for a handful of causes: one bug
# in the usage arithmetic shows in every scenario. Findings are grouped here, in the results
# model, by cause: the check id plus the shape of its message, with the values that differ from
# one occurrence to the next (numbers, quoted strings, ids) taken out. The terminal summary,
# results.json's `findings` and the top of the HTML report all list these groups.
_SUMMARY = re.compile(r"^and (\d+) more like it \((\S+) at (\S+);")
_SHAPE_RULES = (
    (re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\""), "<s>"),  # quoted strings
    (re.compile(r"\b[A-Za-z]+_[A-Za-z0-9]*\d[A-Za-z0-9_-]*\b"), "<id>"),  # msg_abc123, resp_..., call_...
    (re.compile(r"\b[0-9a-fA-F]{8,}(?:-[0-9a-fA-F]{4,})*\b"), "<id>"),  # hex and uuids
    (re.compile(r"-?\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b"), "<n>"),  # numbers
)
# Causes in the order they are listed: MUST (counting) first, then SHOULD, then MUST findings the
# baseline accepts, then model behaviour (never a verdict against an unscripted model).
CAUSE_TIERS = ("must", "should", "known", "model behaviour")


def message_shape(message: str) -> str:
    """A finding's message with the values taken out: what its cause has in common with the
    other occurrences. `total_tokens 19 but input_tokens + output_tokens = 18` and the same with
    other numbers have one shape."""
    shape = str(message)
    for pattern, placeholder in _SHAPE_RULES:
        shape = pattern.sub(placeholder, shape)
    return " ".join(shape.split())


def folded_count(message: str) -> int | None:
    """N, when a message is the checker's summary of what its per-cause cap folded ("and N more
    like it (...)"): those N occurrences belong to the cause of the ones listed before it."""
    match = _SUMMARY.match(str(message))
    return int(match.group(1)) if match else None


@dataclass
class Cause:
    """One cause: the occurrences of one check with one message shape, across scenarios and steps."""

    check: str
    shape: str
    tier: str  # one of CAUSE_TIERS
    severity: str  # "must" | "should" (the check's, in the profile)
    occurrences: list[dict[str, Any]] = field(default_factory=list)  # the records, each with its "scenario"
    count: int = 0  # occurrences, including those the checker folded into "and N more like it"

    @property
    def scenarios(self) -> list[str]:
        return list(dict.fromkeys(o.get("scenario") for o in self.occurrences if o.get("scenario") is not None))

    @property
    def example(self) -> dict[str, Any]:
        """The first occurrence that is not a summary line: where to look."""
        return next((o for o in self.occurrences if folded_count(o.get("message", "")) is None),
                    self.occurrences[0])

    @property
    def model_behaviour(self) -> bool:
        return self.tier == "model behaviour"

    def to_json(self, max_occurrences: int | None = None) -> dict[str, Any]:
        """results.json's `findings` entry: check, severity, count, scenarios, example (scenario,
        step, event_index, message, transcript and the command that repeats the request)."""
        ex = self.example
        example = {"scenario": ex.get("scenario"), "step": ex.get("step"), "event_index": ex.get("event_index"),
                   "message": ex.get("message"), "transcript": ex.get("transcript")}
        if ex.get("path") is not None:
            example["path"] = ex["path"]
        if ex.get("reproduce"):
            example["reproduce"] = ex["reproduce"]
        out: dict[str, Any] = {"check": self.check, "severity": self.severity if self.tier in ("must", "should")
                               else self.tier, "count": self.count, "scenarios": self.scenarios,
                               "shape": self.shape, "example": example}
        if self.tier == "known":
            out["known"] = True
        if self.tier == "model behaviour":
            out["model_behaviour"] = True
        return out


def _tier(record: Mapping[str, Any]) -> str:
    if record.get("model_behaviour"):
        return "model behaviour"
    if record.get("known"):
        return "known"
    return "should" if str(record.get("severity", "must")).lower() == "should" else "must"


def causes(records: Iterable[Mapping[str, Any]], prefer: Callable[[Mapping[str, Any]], Any] | None = None
           ) -> list[Cause]:
    """Violation records (results.json's, each with the `scenario` it was found in, and
    optionally `step` and `transcript`) grouped by cause, MUST first, then by count.

    A checker's summary line ("and N more like it (check at path; ...)") adds its N to the cause
    of the occurrences it summarises (same scenario, check and path); model-behaviour findings
    are causes of their own and never MUST. `prefer`: a sort key for the occurrences of a
    cause, the first being its example (the simplest scenario shows a cause best)."""
    groups: dict[tuple[str, str, str], Cause] = {}
    where: dict[tuple[Any, str, Any, str], Cause] = {}  # (scenario, check, path, tier) -> its cause

    def cause_of(record: Mapping[str, Any], tier: str) -> Cause:
        """The cause of a record's check and message shape, made on first sight."""
        key = (str(record["check"]), message_shape(record.get("message", "")), tier)
        if key not in groups:
            groups[key] = Cause(check=key[0], shape=key[1], tier=tier,
                                severity=str(record.get("severity", "must")).lower())
        return groups[key]

    summaries = []
    for record in records:
        if folded_count(record.get("message", "")) is not None:
            summaries.append(record)
            continue
        tier = _tier(record)
        cause = cause_of(record, tier)
        cause.occurrences.append(dict(record))
        cause.count += 1
        where.setdefault((record.get("scenario"), cause.check, record.get("path"), tier), cause)
    for record in summaries:
        tier = _tier(record)
        cause = where.get((record.get("scenario"), str(record["check"]), record.get("path"), tier))
        if cause is None:  # nothing listed to attach to: a cause of its own
            cause = cause_of(record, tier)
        cause.occurrences.append(dict(record))
        cause.count += folded_count(record["message"]) or 0
    if prefer is not None:
        for cause in groups.values():
            cause.occurrences.sort(key=prefer)
    return sorted(groups.values(), key=lambda c: (CAUSE_TIERS.index(c.tier), -c.count, -len(c.scenarios), c.check,
                                                  c.shape))
