"""`responses-conformance replay FILE...`: check captured traffic offline, in constant memory.

The I/O around `capture.py`: it reads each input in 64 KiB chunks (a file, `-` for standard
input, a live-run transcript pair, a folder of transcripts), hands the chunks to a
`CaptureReader`, and prints every transcript as soon as it is finished, so memory does not grow
with the size of the capture or the number of streams in it.

A transcript the live suite wrote (`reports/transcripts/<scenario>.sse` or `.body`, with its
`<scenario>.json` record next to it) is replayed as the exchange it was: the record gives the
HTTP status, the headers and the scenario's expectation, so status, content-type and envelope
checks run as they did live. Naming either file of the pair, or the folder, is enough.

Traffic of another API (Chat Completions chunks, Anthropic Messages events, JSON that is
neither a Response, an error envelope nor a stream event) is not judged: replay names what it
looks like and exits 2. A limit of replay's own (one event or JSON line larger than 16 MiB, a
JSON body larger than 8 MiB, a live exchange the suite stopped at its size or event limit) is
"could not check: limit", never a violation of the server; a capture that ends inside an event
gets the note "the capture may be truncated", and the end-of-stream rules are not run on it.

`--html PATH` never writes over one of the inputs, nor over an existing file that is not a
report of responses-conformance (it checks the file's first bytes); it writes the page to a
temporary file next to PATH and then renames it.

The verdict is the suite's (results.verdict(), one status per transcript), and so is the last
line (`responses-conformance: VERDICT - ...`). Exit status:

    0  conformant: something was checked and no MUST rule is broken
    1  not conformant: a MUST rule is broken
    2  an input cannot be read or is not Responses API traffic (last line: INPUT ERROR), the
       call is wrong, --html would overwrite something (one line on stderr each, never a
       traceback), or Ctrl-C (INTERRUPTED)
    5  nothing was checked (every input empty)
    6  could not check: a transcript hit a limit of replay's, or a capture cut before its first
       event, and no MUST rule is broken
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from types import SimpleNamespace
from typing import IO, Any, Iterable, Iterator

from .capture import CHUNK_SIZE, CaptureError, CaptureReader, EmptyCapture, ExchangeReplay, Transcript
from .engine import profiles, registry
from .engine.exchange import Expectation
from .engine.violations import Severity
from .results import Status, Verdict, final_line, verdict
from .transcript import is_record, record_for

PROG = "responses-conformance replay"
MAX_RECORD = 256 * 1024 * 1024  # a transcript record (.json) is read whole; the live suite bounds it
INPUT_ERROR = 2  # an input that cannot be read or is not Responses API traffic, a wrong call
HTML_MARK = '<meta name="generator" content="responses-conformance">'
# What the live run's own limits end an exchange with (http.END_REASONS): not the server's fault.
_OUR_LIMITS = {"too_large": "the live run stopped reading at its size limit (--max-bytes)",
               "too_many_events": "the live run stopped reading at its event limit (--max-events)"}


class ReplayError(Exception):
    """An input that cannot be read; the message is one line."""


class EmptyInput(ReplayError):
    """An input that holds nothing to check: noted, not an error (nothing was judged)."""


@dataclass
class Outcome:
    transcripts: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: {"pass": 0, "warn": 0, "fail": 0,
                                                              "could not check": 0})
    statuses: list[Status] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False

    def add(self, transcript: Transcript) -> None:
        self.transcripts += 1
        self.verdicts[transcript.verdict] += 1
        self.statuses.append(transcript.status)

    @property
    def verdict(self) -> Verdict:
        """The suite's verdict of what was checked (results.verdict)."""
        return verdict(self.statuses, interrupted=self.interrupted)

    @property
    def exit_code(self) -> int:
        if self.errors and not self.interrupted:
            return INPUT_ERROR
        return self.verdict.exit_code

    @property
    def label(self) -> str:
        """The verdict as the last line and the HTML say it."""
        if self.errors and not self.interrupted:
            return "input error"
        return self.verdict.label

    def counts(self) -> str:
        v = self.verdicts
        text = (f"{self.transcripts} transcript{'s' if self.transcripts != 1 else ''}: {v['pass']} pass, "
                f"{v['warn']} warn, {v['fail']} fail")
        if v["could not check"]:
            text += f", {v['could not check']} could not be checked"
        return text

    def last_line(self) -> str:
        detail = self.counts()
        if self.errors:
            detail += f"; {len(self.errors)} input(s) could not be read or are not Responses API traffic"
        if self.errors and not self.interrupted:
            return f"responses-conformance: {self.label.upper()} - {detail}"
        if not self.transcripts and not self.interrupted:
            detail = "nothing to check in the input" + ("s" if len(self.notes) > 1 else "")
        return final_line(self.verdict, detail)


# -- the command line ------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="captures to check: server-sent events (one or several streams), JSON lines of "
                             "event payloads, a JSON Response or error body, a HAR file, a transcript of the "
                             "live suite (.sse/.body/.json) or a folder of them; - reads standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--profile", default=profiles.DEFAULT, choices=sorted(profiles.PROFILES),
                        help="which flavour of the protocol to hold the traffic to (default: openai)")
    parser.add_argument("--html", default=None, metavar="PATH",
                        help="also write the HTML conformance report of these transcripts to PATH (the same page "
                             "as the live suite's, self-contained); never over an input, nor over an existing "
                             "file that is not a report of responses-conformance")


EPILOG = """exit status:
  0  conformant: something was checked and no MUST rule is broken
  1  not conformant: a MUST rule is broken
  2  an input cannot be read or is not Responses API traffic (Chat Completions, Anthropic, other
     JSON), a wrong call, --html naming an input or a file that is not one of our reports, Ctrl-C
  5  nothing checked (every input empty)
  6  could not check: a limit of replay's (an event or JSON line over 16 MiB, a body over 8 MiB)
     or a capture cut before its first event, and no MUST rule broken
A capture that ends inside an event gets the note "the capture may be truncated", not a violation."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Check captured Responses API traffic offline, with the same checks "
                                            "as the live suite.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.html:
        problem = html_target_problem(args.html, args.files)
        if problem is not None:
            print(f"{PROG}: --html {args.html}: {problem}", file=sys.stderr)
            return INPUT_ERROR
    try:
        schemas = load_schemas(args.profile)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        print(f"{PROG}: cannot load the JSON Schemas: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    printer = JsonPrinter(sys.stdout) if args.json else TextPrinter(sys.stdout, args.profile)
    outcome = Outcome()
    # For --html the transcripts are kept (their violations are capped, their events are not kept).
    kept: list[Any] = []
    seen: set[Path] = set()  # transcript records already replayed (x.sse and x.json name the same pair)
    from .report import ProgressLine

    progress = ProgressLine(sys.stderr)  # a slow replay says how far it got (a terminal only)
    try:
        for path in args.files:
            for each in _expand(path, outcome):
                try:
                    for transcript in replay_input(each, schemas=schemas, profile=args.profile,
                                                   notes=outcome.notes, seen=seen):
                        outcome.add(transcript)
                        progress.done()
                        printer.transcript(transcript)
                        progress.update(f"{PROG}: {outcome.transcripts} transcripts checked, reading {each}")
                        if args.html:
                            kept.append(transcript)
                except EmptyInput as exc:
                    outcome.notes.append((each, f"{exc}: nothing to check"))
                except ReplayError as exc:
                    outcome.errors.append((each, str(exc)))
                    print(f"{PROG}: {each}: {exc}", file=sys.stderr)
        progress.done()
        printer.finish(outcome)
        sys.stdout.flush()
        if args.html and not _write_html(args.html, args.files, kept, args.profile, outcome):
            return INPUT_ERROR
    except BrokenPipeError:  # `replay ... | head`: the reader went away, which is not an error of the input
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except KeyboardInterrupt:
        outcome.interrupted = True
        print(f"{PROG}: interrupted", file=sys.stderr)
        # the last line, where CI logs are read (stderr with --json: stdout is the document)
        print(outcome.last_line(), file=sys.stderr if args.json else sys.stdout)
        return Verdict.INTERRUPTED.exit_code
    return outcome.exit_code


def _write_html(path: str, inputs: list[str], kept: list[Any], profile: str, outcome: Outcome) -> bool:
    from .html_report import render_standalone, replay_inputs

    problem = html_target_problem(path, inputs)  # again: it may have appeared while replay read
    if problem is not None:
        print(f"{PROG}: --html {path}: {problem}", file=sys.stderr)
        return False
    results, findings = replay_inputs(kept, profile=profile, notes=outcome.notes, errors=outcome.errors)
    # One verdict: the page says what the exit status and the last line say.
    results["summary"]["verdict"] = outcome.label
    for row, transcript in zip(results.get("scenarios", []), kept):
        if transcript.status is Status.COULD_NOT_TEST:
            row["status"] = "errored"
    page = render_standalone(results, findings)
    page = page.replace("<head>", "<head>\n" + HTML_MARK, 1) if HTML_MARK not in page else page
    try:
        _write_over(Path(path), page)
    except OSError as exc:
        print(f"{PROG}: cannot write the HTML report {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _write_over(target: Path, text: str) -> None:
    """Write `text` to `target`: through a temporary file next to it and a rename, so that a
    failure leaves whatever was there; straight into a device or a pipe."""
    import os
    import stat
    import tempfile

    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    directory = target.parent if str(target.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        if mode is not None:
            os.chmod(temporary, stat.S_IMODE(mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def is_our_report(path: Path) -> bool:
    """The file is an HTML report of responses-conformance (replay's or the live run's): its
    first bytes carry our generator mark, or our page's head and title."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    if HTML_MARK.encode() in head:
        return True
    return head.lstrip().startswith(b"<!DOCTYPE html>") and b"<title>Responses API conformance report" in head


def html_target_problem(html: str, inputs: list[str]) -> str | None:
    """Why `--html html` must not be written, or None: it is one of the inputs (or a file in an
    input folder), a folder, or an existing file that is not a report of ours."""
    import os
    import stat

    target = Path(html)
    try:
        info = target.stat()
    except FileNotFoundError:
        return None  # a new file: nothing to lose (a dangling link creates its target)
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc})"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder; name the file to write"
    same = (info.st_dev, info.st_ino)
    for name in inputs:
        if name == "-":
            try:
                stdin = os.fstat(sys.stdin.fileno())
            except (OSError, ValueError, AttributeError):
                continue
            if (stdin.st_dev, stdin.st_ino) == same:
                return "is the standard input being replayed; replay never writes over its input"
            continue
        source = Path(name)
        candidates = [source]
        if source.is_dir():
            candidates = [p for p in source.iterdir()]
        else:  # the other file of a live-suite transcript pair
            candidates += [source.with_suffix(".json"), source.with_suffix(".sse"), source.with_suffix(".body")]
        for candidate in candidates:
            try:
                other = candidate.stat()
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == same:
                return f"is one of the inputs ({candidate}); replay never writes over its input"
    if not stat.S_ISREG(info.st_mode):
        return None  # a device or a pipe (/dev/null, /dev/stdout): nothing is overwritten
    if not is_our_report(target):
        return ("exists and is not a report written by responses-conformance; replay does not write over "
                "it (remove it or choose another path)")
    return None


def _expand(path: str, outcome: Outcome) -> list[str]:
    """A folder stands for the transcript records in it; anything else for itself."""
    if path != "-" and Path(path).is_dir():
        records = [str(p) for p in sorted(Path(path).glob("*.json")) if is_record(p)]
        if not records:
            outcome.errors.append((path, "a folder without transcripts of the live suite"))
            print(f"{PROG}: {path}: a folder without transcripts of the live suite (<scenario>.json)",
                  file=sys.stderr)
        return records
    return [path]


def load_schemas(profile: str) -> Any:
    from .engine.schemas import SchemaSet

    return SchemaSet.load(profile=profile)


# -- inputs -------------------------------------------------------------------------------------
def replay_input(path: str, *, schemas: Any, profile: str, notes: list[tuple[str, str]] | None = None,
                 seen: set[Path] | None = None) -> Iterator[Transcript]:
    """Every transcript of one input, as each is finished. Raises ReplayError for unreadable input."""
    try:
        if path == "-":
            yield from replay_stream(sys.stdin.buffer, "-", schemas=schemas, profile=profile, notes=notes)
            return
        target = Path(path)
        if target.is_dir():
            raise ReplayError("is a folder (name its transcripts, or pass the folder on the command line)")
        record_path = record_for(target)
        if record_path is not None:
            key = record_path.resolve()
            if seen is not None:
                if key in seen:
                    return
                seen.add(key)
            yield replay_record(record_path, schemas=schemas, profile=profile, source=path)
            return
        with open(target, "rb") as handle:
            yield from replay_stream(handle, path, schemas=schemas, profile=profile, notes=notes)
    except ReplayError:
        raise
    except EmptyCapture as exc:
        raise EmptyInput(str(exc)) from None
    except CaptureError as exc:
        raise ReplayError(str(exc)) from None
    except OSError as exc:
        raise ReplayError(exc.strerror or str(exc)) from None
    except RecursionError:
        raise ReplayError("nested too deeply to check") from None
    except Exception as exc:  # noqa: BLE001 - a bug of ours must still be one line
        raise ReplayError(f"internal error of responses-conformance ({type(exc).__name__}: {exc}); "
                          "please report it with the input") from None


def replay_stream(handle: IO[bytes], source: str, *, schemas: Any, profile: str,
                  notes: list[tuple[str, str]] | None = None, chunk_size: int = CHUNK_SIZE) -> Iterator[Transcript]:
    """A capture read from a binary file object in chunks; transcripts as they are finished."""
    reader = CaptureReader(source, schemas=schemas, profile=profile)
    read = getattr(handle, "read1", None) or handle.read
    while True:
        chunk = read(chunk_size)
        if not chunk:
            break
        yield from reader.feed(chunk)
    yield from reader.close()
    if notes is not None:
        notes.extend((source, note) for note in reader.notes)




def replay_record(record_path: Path, *, schemas: Any, profile: str, source: str | None = None) -> Transcript:
    """Replay a transcript pair of the live suite: `<name>.json` and the body file it names."""
    if record_path.stat().st_size > MAX_RECORD:
        raise ReplayError(f"the transcript record {record_path.name} is larger than {MAX_RECORD} bytes")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReplayError(f"the transcript record {record_path.name} is not JSON: {exc}") from None
    response = record.get("response") if isinstance(record, dict) else None
    if not isinstance(response, dict) or not isinstance(response.get("body_file"), str):
        raise ReplayError(f"{record_path.name} is not a transcript record of the live suite (no response.body_file)")
    body_path = record_path.with_name(Path(response["body_file"]).name)
    if not body_path.is_file():
        raise ReplayError(f"the body file {body_path.name} named by {record_path.name} is missing")
    if record.get("transport") == "websocket":  # a WebSocket step: its frames, judged as live (ws.py)
        from .ws import replay_record as replay_ws

        violations, notes, kind, response_id, events = replay_ws(record, body_path, schemas=schemas, profile=profile)
        request = record.get("request")
        return Transcript(source or str(body_path), 0, kind, violations, response_id=response_id, events=events,
                          notes=notes, record=record_path, curl=request.get("curl") if isinstance(request, dict) else None)
    expectation, checks, what = _expectation(record, profile)
    status = response.get("status")
    status = status if isinstance(status, int) and not isinstance(status, bool) else None
    headers = [(str(h[0]), str(h[1])) for h in response.get("headers") or [] if isinstance(h, list) and len(h) == 2]
    end = response.get("end", "eof")
    notes = [f"transcript of the live suite: {what}"]
    complete = end == "eof"
    if not complete:
        notes.append(f"the live run could not finish this exchange ({end}: {response.get('error')}); as there, "
                     "the end-of-stream rules are not run")
    prefix = _resumed_prefix(record_path, record, expectation, notes)
    replay = ExchangeReplay(source or str(body_path), 0, expectation, status, headers, schemas=schemas,
                            profile=profile, checks=checks, complete=complete, notes=notes, prefix=prefix)
    with open(body_path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK_SIZE)
            if not chunk:
                break
            replay.body(chunk)
    transcript = replay.close()
    if end in _OUR_LIMITS:  # the live run's limit, not the server's fault
        transcript.could_not_check = f"limit: {_OUR_LIMITS[end]}"
        transcript.notes.append(f"could not check: {transcript.could_not_check}; what came before it was checked")
    transcript.record = record_path
    request = record.get("request")
    transcript.curl = request.get("curl") if isinstance(request, dict) else None
    return transcript


def _expectation(record: dict, profile: str) -> tuple[Expectation, list[str] | None, str]:
    """The expectation of the scenario step and the checks, as the live runner used them."""
    data = record.get("scenario")
    if isinstance(data, dict):
        from .scenarios import from_data

        try:
            scenario = from_data(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReplayError(f"the transcript's scenario cannot be read: {type(exc).__name__}: {exc}") from None
        steps = list(getattr(scenario, "steps", ()))
        name = record.get("step")
        step = next((s for s in steps if s.name == name), steps[0] if steps else None)
        expectation = step.expect if step is not None else scenario.expect
        what = f"scenario {scenario.id}" + (f", step {step.name}" if step is not None and len(steps) > 1 else "")
        return expectation, [c.id for c in scenario.checks(profile)], what
    # A record without its scenario: judge by what was asked and answered.
    request = record.get("request") if isinstance(record.get("request"), dict) else {}
    status = (record.get("response") or {}).get("status")
    body = request.get("body")
    query = parse_qs(urlsplit(str(request.get("url") or "")).query)
    # Asked for a stream: `"stream": true` in a POST body, or `?stream=true` on a GET (a resume).
    streamed = (isinstance(body, dict) and body.get("stream") is True) or \
        query.get("stream", [""])[-1].lower() == "true"
    if isinstance(status, int) and status >= 400:
        return Expectation("error", statuses=(status,)), None, f"HTTP {status}, checked as an error envelope"
    kind = "stream" if streamed else "response"
    return Expectation(kind), None, f"no scenario recorded; checked as a {kind}"


def _resumed_prefix(record_path: Path, record: dict, expectation: Expectation, notes: list[str]) -> list[dict]:
    """For a resumed stream (`starting_after`): the original stream's events up to that number,
    from the transcript of the step it resumes, as the live runner passed them."""
    after, original = expectation.starting_after, getattr(expectation, "resume_of", None)
    if after is None or not original:
        return []
    scenario = record.get("scenario") if isinstance(record.get("scenario"), dict) else {}
    from .transcript import safe_name

    sibling = record_path.with_name(f"{safe_name(str(scenario.get('id', '')) + '.' + original)}.json")
    try:
        events = json.loads(sibling.read_text(encoding="utf-8")).get("events") or []
    except (OSError, ValueError, AttributeError):
        notes.append(f"the transcript of step {original}, which this stream resumes, is missing: checked as a "
                     f"stream starting after sequence_number {after}")
        return []
    data = [e.get("data") for e in events if isinstance(e, dict)]
    return [d for d in data if isinstance(d, dict) and isinstance(d.get("sequence_number"), int)
            and d["sequence_number"] <= after]


# -- output -------------------------------------------------------------------------------------
def _short(text: str | None, limit: int = 36) -> str:
    if not text:
        return "-"
    return text if len(text) <= limit else text[:limit - 1] + "…"


class TextPrinter:
    """A verdict line per transcript, then its violations as the live suite prints them."""

    def __init__(self, out: IO[str], profile: str) -> None:
        self.out = out
        self.profile = profiles.get(profile)
        self.session = SimpleNamespace(config=SimpleNamespace(invocation_params=SimpleNamespace(dir=Path.cwd())))

    def transcript(self, transcript: Transcript) -> None:
        from .report import format_violations

        must = sum(1 for v in transcript.violations if v.severity is Severity.MUST)
        should = len(transcript.violations) - must
        what = transcript.kind
        if transcript.response_id:
            what += f" {_short(transcript.response_id)}"
        if transcript.kind == "stream":
            what += f", {transcript.events} event{'s' if transcript.events != 1 else ''}"
        counts = f"  {must} MUST, {should} SHOULD" if transcript.violations else ""
        lines = [f"{transcript.verdict.upper():<4}  {transcript.label}  {what}{counts}"]
        lines += [f"      note: {note}" for note in transcript.notes]
        by_check: dict[str, list] = {}
        for violation in transcript.violations:
            by_check.setdefault(violation.check, []).append(violation)
        description = f"replayed {transcript.kind} {transcript.response_id or ''}".rstrip()
        result = SimpleNamespace(
            scenario=SimpleNamespace(id=transcript.label, description=description),
            transcript={"json": transcript.record} if transcript.record is not None else {},
            curl=transcript.curl)
        for check in registry.CHECKS:
            found = by_check.pop(check.id, None)
            if not found:
                continue
            case = SimpleNamespace(check=check, severity=found[0].severity)
            block = format_violations(case, result, found, self.session)  # type: ignore[arg-type]
            lines += ["    " + line for line in block.splitlines()]
        self.out.write("\n".join(lines) + "\n")

    def finish(self, outcome: Outcome) -> None:
        for source, note in outcome.notes:
            self.out.write(f"note: {source}: {note}\n")
        self.out.write(f"replayed {outcome.counts()}"
                       + (f"; {len(outcome.errors)} input(s) could not be read" if outcome.errors else "")
                       + f"   (profile {self.profile.name})\n")
        self.out.write(outcome.last_line() + "\n")


class JsonPrinter:
    """One JSON document, written as transcripts arrive (nothing is collected in memory)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0
        self.out.write('{"transcripts": [')

    def transcript(self, transcript: Transcript) -> None:
        self.out.write(("," if self.count else "") + "\n  " + json.dumps(transcript.to_json(), ensure_ascii=False))
        self.count += 1

    def finish(self, outcome: Outcome) -> None:
        summary = {"transcripts": outcome.transcripts, **{k: v for k, v in outcome.verdicts.items() if k != "could not check"},
                   "could_not_check": outcome.verdicts["could not check"], "verdict": outcome.label,
                   "exit_code": outcome.exit_code}
        notes = [{"source": s, "message": m} for s, m in outcome.notes]
        errors = [{"source": s, "message": m} for s, m in outcome.errors]
        self.out.write(("\n" if self.count else "") + '], "summary": ' + json.dumps(summary)
                       + ', "notes": ' + json.dumps(notes, ensure_ascii=False)
                       + ', "errors": ' + json.dumps(errors, ensure_ascii=False) + "}\n")


def iter_transcripts(paths: Iterable[str], *, profile: str = profiles.DEFAULT) -> Iterator[Transcript]:
    """Library use: every transcript of every input, in order (ReplayError for unreadable input)."""
    schemas = load_schemas(profile)
    for path in paths:
        yield from replay_input(path, schemas=schemas, profile=profile)
