"""Secrets: every `--header` value and the API key, whatever their length, never in any output; and a
short key never mangles the output ("not [REDACTED]ed", "te[REDACTED]t", broken HTML anchors).

A canary value is sent in a custom header to a target that echoes it everywhere it can (a response
header, the body, an error message, URL-encoded, JSON-escaped): the transcript files, the curl
command and the exchange keep none of it. A 4-character key, and a 1-character one, leave a real
report (text and HTML) exactly as it was.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from responses_conformance.http import Limits, make_client, run_exchange
from responses_conformance.redact import MIN_TOKEN, REDACTED, Redactor, header_secrets
from responses_conformance.transcript import curl_command, write_transcript

from ._targets import read_request, target

CANARY = "gw-canary-DO-NOT-LEAK-7f3a9c"
SHORT = "t0k3"  # a 4-character header value
FIXTURES = Path(__file__).parent / "fixtures"
LIMITS = Limits(timeout=5, connect_timeout=2, idle_timeout=3)


def echo_headers(names: tuple[str, ...]):
    """Echoes the values of these request headers in a header, the body, an error message,
    URL-encoded in a Location, and JSON-escaped."""
    def handler(conn: socket.socket, request: bytes) -> None:
        values = []
        for line in request.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().decode(errors="replace").lower() in names:
                values.append(value.strip().decode(errors="replace"))
        joined = " ".join(values)
        body = json.dumps({"error": {"message": f"Token provided: {joined}. Bad token={values[0] if values else ''}",
                                     "type": "invalid_request_error", "param": None, "code": None},
                           "echo": values, "url": "https://x/?t=" + quote(joined, safe="")}).encode()
        head = "".join(f"X-Echo-{i}: {v}\r\n" for i, v in enumerate(values))
        conn.sendall(f"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n{head}"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return handler


def _secrets(api_key: str | None, headers: dict[str, str]) -> Redactor:
    """What the runner builds: the key and every `--header` value (and the credential inside it)."""
    found: list[str | None] = [api_key]
    for name, value in headers.items():
        found += header_secrets(name, value)
    return Redactor(found)


@pytest.mark.parametrize("value", [CANARY, SHORT, "x"])
def test_a_header_value_the_target_echoes_appears_nowhere(value: str, tmp_path: Path) -> None:
    headers = {"X-Gateway-Token": value, "X-Tenant-Secret": value + "-2"}
    redactor = _secrets("sk-the-real-api-key-0123456789", headers)
    with target(echo_headers(("x-gateway-token", "x-tenant-secret"))) as url:
        with make_client(LIMITS) as client:
            x = run_exchange(client, method="POST", url=url + "/responses", api_key="sk-the-real-api-key-0123456789",
                             json_body={"model": "m", "input": "hi"}, extra_headers=headers, limits=LIMITS,
                             redactor=redactor)
    assert x.status == 401
    paths = write_transcript(tmp_path, "echo", x, redactor=redactor)
    written = paths["json"].read_text(encoding="utf-8") + paths["body"].read_bytes().decode("utf-8", "replace")
    command = curl_command(x, redactor=redactor)
    for text in (written, command, repr(x)):
        for leaked in (value, value + "-2", "sk-the-real-api-key-0123456789"):
            if len(leaked) >= MIN_TOKEN:
                assert leaked not in text
    # the header names stay visible, their values do not
    record = json.loads(paths["json"].read_text(encoding="utf-8"))
    sent = dict(record["request"]["headers"])
    assert sent["X-Gateway-Token"] == REDACTED and sent["X-Tenant-Secret"] == REDACTED
    echoed = {k.lower(): v for k, v in record["response"]["headers"]}
    assert echoed["x-echo-0"] == REDACTED and echoed["x-echo-1"] == REDACTED
    # the echo in the body: as a whole JSON value, after a credential word, URL-encoded
    body = json.loads(paths["body"].read_bytes())
    assert body["echo"] == [REDACTED, REDACTED]
    assert body["error"]["message"].startswith("Token provided: [REDACTED]")
    assert "token=[REDACTED]" in body["error"]["message"]
    if len(value) >= MIN_TOKEN:
        assert body["url"] == f"https://x/?t={REDACTED}%20{REDACTED}"
    # the command reads the values from variables named after the headers
    assert '"X-Gateway-Token: $X_GATEWAY_TOKEN"' in command and '"X-Tenant-Secret: $X_TENANT_SECRET"' in command


def test_a_canary_in_any_encoding_is_redacted_in_text_bytes_and_streams() -> None:
    r = _secrets(None, {"X-Gateway-Token": CANARY})
    forms = [CANARY, quote(CANARY, safe=""), json.dumps(CANARY)[1:-1]]
    for form in forms:
        text = f"a{form}b {form}.py /{form}/ x={form}&"
        assert CANARY not in r.text(text)
        data = text.encode()
        assert CANARY.encode() not in r.bytes(data)
        for cut in range(len(data) + 1):
            stream = r.stream()
            out = stream.feed(data[:cut]) + stream.feed(data[cut:]) + stream.flush()
            assert out == r.bytes(data), cut


def test_header_secrets_of_credential_schemes() -> None:
    assert header_secrets("X-Gateway-Token", " abc ") == ["abc"]
    assert header_secrets("Authorization", "Bearer sk-123") == ["Bearer sk-123", "sk-123"]
    assert header_secrets("Authorization", "Basic dXNlcjpwYXNz") == ["Basic dXNlcjpwYXNz", "dXNlcjpwYXNz",
                                                                       "user:pass", "pass"]
    assert header_secrets("X-Empty", "") == []
    # protocol vocabulary, not secrets: redacting them would blank out the reports' own words
    assert header_secrets("Accept", "text/event-stream") == [] and header_secrets("OpenAI-Beta", "responses=v1") == []
    r = Redactor(header_secrets("Authorization", "Bearer sk-123"))
    assert r.text("Bearer sk-123") == REDACTED and r.text("key: sk-123") == f"key: {REDACTED}"


# -- a short key leaves the output readable --------------------------------------------------------
WORDS = "could not test: the target was not tested; te-st test.py test_x rc-test-stream #test pretest testing"


@pytest.mark.parametrize("key", ["test", "t", "x", "e", "s", "st", "rc", "sk-1"])
def test_a_short_key_never_redacts_inside_words(key: str) -> None:
    r = Redactor([key])
    assert r.weak
    assert r.text(WORDS) == WORDS
    assert r.bytes(WORDS.encode()) == WORDS.encode()
    stream = r.stream()
    data = WORDS.encode()
    assert b"".join(stream.feed(data[i:i + 3]) for i in range(0, len(data), 3)) + stream.flush() == data


@pytest.mark.parametrize("key", ["test", "x"])
def test_a_short_key_is_still_redacted_where_it_stands_as_a_credential(key: str) -> None:
    r = Redactor([key])
    for before, after in [
        (f"Authorization: Bearer {key}", f"Authorization: Bearer {REDACTED}"),
        (f'{{"api_key": "{key}"}}', f'{{"api_key": "{REDACTED}"}}'),
        (f"?key={key}&b=1", f"?key={REDACTED}&b=1"),
        (f"Incorrect API key provided: {key}.", f"Incorrect API key provided: {REDACTED}."),
        (f"-H 'X-Gateway-Token: {key}'", f"-H 'X-Gateway-Token: {REDACTED}'"),
        (key, REDACTED),
    ]:
        assert r.text(before) == after
        assert r.bytes(before.encode()) == after.encode()
        data = before.encode()
        for cut in range(len(data) + 1):
            stream = r.stream()
            assert stream.feed(data[:cut]) + stream.feed(data[cut:]) + stream.flush() == after.encode(), cut
    assert r.headers([("X-Gateway-Token", key), ("X-Other", "not " + key + "ed")]) == [
        ("X-Gateway-Token", REDACTED), ("X-Other", "not " + key + "ed")]
    assert r.text("monkey=" + key + "s") == "monkey=" + key + "s"


def test_a_middle_length_secret_is_redacted_as_a_whole_token_only() -> None:
    secret = "internal"  # 8 characters: a word, too
    r = Redactor([secret])
    assert not r.weak
    kept = "internally rc-internal-error internal_x internal.py #internal-3"
    assert r.text(kept) == kept
    assert r.text("token internal. /internal/ =internal&") == f"token {REDACTED}. /{REDACTED}/ ={REDACTED}&"


def _replay_report(tmp_path: Path) -> tuple[str, str]:
    """A real report of ours, text and HTML: replay of a broken capture."""
    page = tmp_path / "report.html"
    broken = FIXTURES / "replay" / "jan-usage-total-wrong.sse"
    done = subprocess.run([sys.executable, "-m", "responses_conformance.cli", "replay", str(broken), str(broken),
                           f"--html={page}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    return done.stdout, page.read_text(encoding="utf-8")


def test_a_four_character_key_leaves_a_real_report_intact(tmp_path: Path) -> None:
    text, html = _replay_report(tmp_path)
    assert "test" in text + html and 'href="#' in html
    for key in ("test", "data", "type", "x", "a", "1", "true"):
        r = Redactor([key])
        assert r.text(text) == text, key
        assert r.text(html) == html, key
