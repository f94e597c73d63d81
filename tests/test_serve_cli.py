"""`responses-conformance serve`: it announces its URL after binding, with the real port, and a
port it cannot have is a one-line usage error (exit 2, as for every wrong call of a command
other than `run`), never a traceback."""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from responses_conformance import cli
from responses_conformance.reference import DEFAULT_API_KEY

from .conftest import interruptible


def _serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "responses_conformance.cli", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)


def _stop(process: subprocess.Popen) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        process.kill()
        process.wait()
    return process.returncode, process.stderr.read() if process.stderr else ""


def test_port_0_announces_the_real_port_after_binding() -> None:
    process = _serve("--port", "0")
    try:
        line = process.stderr.readline()
        found = re.match(r"reference server on (http://127\.0\.0\.1:(\d+)/v1) ", line)
        assert found, line
        base_url, port = found.group(1), int(found.group(2))
        assert port != 0
        # announced after binding: the address answers as soon as the line is out (the listen
        # backlog holds the connection until the server loop accepts it)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        request = urllib.request.Request(base_url + "/responses", method="POST",
                                         data=json.dumps({"model": "x", "input": "hi"}).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {DEFAULT_API_KEY}"})
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    status = response.status
                break
            except urllib.error.HTTPError as exc:
                status = exc.code
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert status in (200, 400)
    finally:
        code, rest = _stop(process)
    assert "Traceback" not in rest
    assert code == 0


def _one_line_usage_error(args: list[str], capsys) -> str:
    code = cli.main(["serve", *args])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "reference server on" not in out + err  # nothing announced
    return err


def test_an_address_in_use_is_one_line_and_exit_2(capsys) -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        port = holder.getsockname()[1]
        err = _one_line_usage_error(["--port", str(port)], capsys)
    finally:
        holder.close()
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err


@pytest.mark.parametrize("args, reason", [
    (["--port", "99999"], "port 99999 is outside 0-65535"),
    (["--port", "-1"], "port -1 is outside 0-65535"),
    (["--port", "http"], "not a port number: 'http'"),
    (["--host", "no-such-host.invalid", "--port", "0"], "cannot listen on no-such-host.invalid:0: unknown host"),
    (["--host", "192.0.2.1", "--port", "0"], "cannot listen on 192.0.2.1:0"),  # not an address of this machine
])
def test_a_bad_address_is_one_line_and_exit_2(args: list[str], reason: str, capsys) -> None:
    assert reason in _one_line_usage_error(args, capsys)


def test_the_key_given_is_not_announced() -> None:
    process = _serve("--port", "0", "--api-key", "sk-given-secret-0123456789")
    try:
        line = process.stderr.readline()
    finally:
        _stop(process)
    assert "reference server on http://127.0.0.1:" in line
    assert "sk-given-secret" not in line and "not shown" in line
