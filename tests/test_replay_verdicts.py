"""Replay destroys nothing and misjudges nothing.

- `--html` never writes over an input (`replay a.sse b.sse --html a.sse`, `replay c.sse --html
  c.sse`, a link to an input, a file of an input folder) nor over an existing file that is not one
  of our reports: exit 2, one line, the file as it was.
- Traffic of another API (Chat Completions chunks, Anthropic events, other JSON) is named and
  refused with exit 2, never hundreds of MUST violations.
- Our own limits (a 17 MB event or JSON line) are "could not check: limit" (exit 6), never the
  server's "data is not valid JSON"; a capture cut mid-event is a note, not a violation.
- Every ending: exit status == last line == --json verdict == the HTML page's verdict, all from
  results.verdict().
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from responses_conformance import cli
from responses_conformance.replay import HTML_MARK

FIXTURES = Path(__file__).parent / "fixtures"
REPLAY = FIXTURES / "replay"
CLEAN = sorted((FIXTURES / "recorded").glob("*.chunks.txt"))[0]  # JSON lines of one passing stream
BROKEN = REPLAY / "jan-usage-total-wrong.sse"  # one MUST rule broken
CUT = REPLAY / "jan-truncated.sse"  # a stream cut inside an event


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(["replay", *args])
    out, err = capsys.readouterr()
    return code, out, err


def copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


# -- --html destroys nothing ------------------------------------------------------------------------
def _refused(args: list[str], victim: Path, capsys) -> str:
    before = victim.read_bytes()
    code, out, err = run(args, capsys)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert out == ""  # refused before anything was read
    assert victim.read_bytes() == before
    return err


def test_html_never_overwrites_an_input_given_first_of_several(tmp_path: Path, capsys) -> None:
    a, b = copy(CLEAN, tmp_path / "a.sse"), copy(BROKEN, tmp_path / "b.sse")
    err = _refused([str(a), str(b), "--html", str(a)], a, capsys)
    assert "is one of the inputs" in err and "never writes over its input" in err
    _refused([str(a), str(b), f"--html={b}"], b, capsys)


def test_html_never_overwrites_its_only_input(tmp_path: Path, capsys) -> None:
    c = copy(BROKEN, tmp_path / "c.sse")
    assert "is one of the inputs" in _refused([str(c), "--html", str(c)], c, capsys)


def test_html_never_overwrites_an_input_through_another_name(tmp_path: Path, capsys) -> None:
    c = copy(BROKEN, tmp_path / "c.sse")
    os.link(c, tmp_path / "hard.html")
    (tmp_path / "soft.html").symlink_to(c)
    for alias in ("hard.html", "soft.html"):
        assert "is one of the inputs" in _refused([str(c), "--html", str(tmp_path / alias)], c, capsys)
    (tmp_path / "sub").mkdir()
    inside = copy(BROKEN, tmp_path / "sub" / "x.json")
    assert "is one of the inputs" in _refused([str(tmp_path / "sub"), "--html", str(inside)], inside, capsys)


def test_html_never_overwrites_a_file_it_did_not_write(tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.html"
    notes.write_text("<!DOCTYPE html><title>my notes</title>", encoding="utf-8")
    err = _refused([str(CLEAN), "--html", str(notes)], notes, capsys)
    assert "is not a report written by responses-conformance" in err
    folder = tmp_path / "folder"
    folder.mkdir()
    code, _, err = run([str(CLEAN), "--html", str(folder)], capsys)
    assert code == 2 and "is a folder" in err


def test_html_writes_a_new_file_and_rewrites_its_own_report(tmp_path: Path, capsys) -> None:
    page = tmp_path / "report.html"
    code, _, err = run([str(BROKEN), "--html", str(page)], capsys)
    assert code == 1, err
    first = page.read_text(encoding="utf-8")
    assert HTML_MARK in first[:4096] and "Verdict: not conformant" in first
    code, _, err = run([str(CLEAN), "--html", str(page)], capsys)  # ours: may be written over
    assert code == 0, err
    assert "Verdict: conformant" in page.read_text(encoding="utf-8")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


# -- foreign traffic is named, not judged -----------------------------------------------------------
CHAT_CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
              "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
ANTHROPIC = [("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message",
                                                                     "role": "assistant", "content": []}}),
             ("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}}),
             ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": "Hi"}}),
             ("message_stop", {"type": "message_stop"})]


def _sse(events: list[tuple[str | None, dict | str]]) -> bytes:
    out = b""
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out += (f"event: {name}\n" if name else "").encode() + f"data: {text}\n\n".encode()
    return out


FOREIGN = {
    "chat-sse": (_sse([(None, CHAT_CHUNK)] * 20 + [(None, "[DONE]")]), "Chat Completions stream chunks"),
    "chat-jsonl": (b"".join(json.dumps(CHAT_CHUNK).encode() + b"\n" for _ in range(20)),
                   "Chat Completions stream chunks"),
    "chat-body": (json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": []}).encode(),
                  "a Chat Completions response"),
    "anthropic-sse": (_sse(ANTHROPIC * 5), "Anthropic Messages stream events (message_start)"),
    "anthropic-jsonl": (b"".join(json.dumps(d).encode() + b"\n" for _, d in ANTHROPIC), "Anthropic Messages"),
    "other-json": (b'{"hello": "world"}\n{"hello": "again"}\n', "an object with members hello"),
    "json-array": (b"[1, 2, 3]", "a JSON array"),
    "chat-har": (json.dumps({"log": {"version": "1.2", "entries": [
        {"request": {"method": "POST", "url": "http://h/v1/chat/completions"},
         "response": {"status": 200, "content": {"text": "{}"}}}]}}).encode(), "/v1/chat/completions"),
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_traffic_is_named_and_exits_2(name: str, tmp_path: Path, capsys) -> None:
    data, looks_like = FOREIGN[name]
    path = tmp_path / f"{name}.txt"
    path.write_bytes(data)
    code, out, err = run([str(path)], capsys)
    assert code == 2, (out, err)
    assert looks_like in err and len(err.strip().splitlines()) == 1, err
    assert "MUST" not in out and "FAIL" not in out
    code, out, _ = run(["--json", str(path)], capsys)
    assert code == 2 and json.loads(out)["summary"]["verdict"] == "input error"


def test_a_responses_capture_is_still_judged(capsys) -> None:
    assert run([str(CLEAN)], capsys)[0] == 0
    assert run([str(BROKEN)], capsys)[0] == 1


# -- our limits, cut captures -------------------------------------------------------------------------
BIG = 17 * 1024 * 1024


def _big_payload() -> dict:
    return {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": "x" * BIG}


def test_a_valid_17_mb_json_line_is_our_limit_not_the_servers_fault(tmp_path: Path, capsys) -> None:
    first = CLEAN.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "big.jsonl"
    path.write_text(first + "\n" + json.dumps(_big_payload()) + "\n", encoding="utf-8")
    code, out, err = run([str(path)], capsys)
    assert code == 6, (out[-2000:], err)
    assert "could not check: limit" in out and "not valid JSON" not in out and "MUST" not in out
    assert out.splitlines()[-1].startswith("responses-conformance: COULD NOT TEST - ")


def test_a_17_mb_event_is_our_limit_not_the_servers_fault(tmp_path: Path, capsys) -> None:
    stream = BROKEN.read_bytes()
    created = stream[:stream.index(b"\n\n") + 2]
    path = tmp_path / "big.sse"
    path.write_bytes(created + _sse([("response.output_text.delta", _big_payload())]))
    code, out, err = run([str(path)], capsys)
    assert code == 6, (out[-2000:], err)
    assert "could not check: limit" in out and "sse_well_formed" not in out and "MUST" not in out


def test_a_capture_cut_mid_event_is_a_note(capsys) -> None:
    code, out, err = run([str(CUT)], capsys)
    assert code == 0, (out, err)
    assert "the capture may be truncated" in out and "MUST" not in out


# -- one verdict everywhere -------------------------------------------------------------------------
def _endings(tmp_path: Path) -> dict[str, tuple[list[str], int, str]]:
    empty = tmp_path / "empty.sse"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.sse"
    blank.write_bytes(b"\n  \n")
    cut_first = tmp_path / "cut-first.sse"
    cut_first.write_bytes(b'data: {"type": "response.created", "sequ')
    chat = tmp_path / "chat.sse"
    chat.write_bytes(FOREIGN["chat-sse"][0])
    return {
        "conformant": ([str(CLEAN)], 0, "conformant"),
        "not conformant": ([str(CLEAN), str(BROKEN)], 1, "not conformant"),
        "foreign": ([str(CLEAN), str(chat)], 2, "input error"),
        "nothing": ([str(empty), str(blank)], 5, "nothing tested"),
        "could not check": ([str(CLEAN), str(cut_first)], 6, "could not test"),
    }


@pytest.mark.parametrize("ending", ["conformant", "not conformant", "foreign", "nothing", "could not check"])
def test_exit_status_last_line_json_and_html_agree(ending: str, tmp_path: Path, capsys) -> None:
    args, expected_code, label = _endings(tmp_path)[ending]
    code, out, _ = run(args, capsys)
    assert code == expected_code, out
    assert out.splitlines()[-1].startswith(f"responses-conformance: {label.upper()} - "), out.splitlines()[-1]
    code, out, _ = run(["--json", *args], capsys)
    summary = json.loads(out)["summary"]
    assert code == expected_code and summary["exit_code"] == expected_code and summary["verdict"] == label
    page = tmp_path / f"{ending}.html"
    code, _, _ = run([*args, "--html", str(page)], capsys)
    assert code == expected_code
    found = re.search(r"Verdict: ([a-z ]+)<", page.read_text(encoding="utf-8"))
    assert found and found.group(1) == label


def test_ctrl_c_is_interrupted_never_conformant(monkeypatch, capsys) -> None:
    from responses_conformance import replay

    real = replay.replay_input
    calls = []

    def interrupted(path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        yield from real(path, **kwargs)

    monkeypatch.setattr(replay, "replay_input", interrupted)
    code, out, err = run([str(CLEAN), str(CLEAN)], capsys)
    assert code == 2 and "interrupted" in err
    assert out.splitlines()[-1].startswith("responses-conformance: INTERRUPTED - 1 transcript: 1 pass")


def test_a_live_exchange_stopped_at_the_runs_size_limit_could_not_be_checked(tmp_path: Path, capsys) -> None:
    from responses_conformance.engine.schemas import SchemaSet
    from responses_conformance.http import Limits
    from responses_conformance.reference import DEFAULT_MODEL, ReferenceServer
    from responses_conformance.runner import Runner, Target
    from responses_conformance.scenarios import load_all

    scenario = next(s for s in load_all() if s.id == "text-stream")
    with ReferenceServer() as server:
        runner = Runner(Target(server.base_url, server.api_key, DEFAULT_MODEL, embedded=True),
                        limits=Limits(timeout=10, idle_timeout=5, max_bytes=1500), reports_dir=tmp_path,
                        schemas=SchemaSet.load())
        try:
            runner.result(scenario)
        finally:
            runner.close()
    record = tmp_path / "transcripts" / "text-stream.json"
    assert json.loads(record.read_text(encoding="utf-8"))["response"]["end"] == "too_large"
    code, out, _ = run([str(record)], capsys)
    assert code == 6, out
    assert "could not check: limit: the live run stopped reading at its size limit" in out
    assert "MUST" not in out
