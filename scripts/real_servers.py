"""Run the conformance suite against real Responses servers, for real, and write the matrix.

    python scripts/real_servers.py                       # every server, writes docs/compatibility.md
    python scripts/real_servers.py --only llama-cpp,fastresponses --check   # what CI runs
    python scripts/real_servers.py --record              # also rewrite the expected verdicts

For each server (the list is SERVERS below; every version pinned):

1. its own virtualenv under the cache folder (`--cache`, default `.real-servers/`), the pinned
   packages installed from PyPI (a venv that already has exactly them is reused);
2. whatever it serves made on the spot (llama.cpp: a tiny GGUF chat model written with the `gguf`
   package, `scripts/real_servers/tiny_gguf.py`; fastresponses and Microsoft's agent server: a
   deterministic agent or handler, no model at all; bridges: our reference server as upstream);
3. the server started on 127.0.0.1 (a free port, a key made up for the run), its process group
   stopped by its own id at the end (each server also stops itself after a bounded lifetime);
4. the suite as a pytest subprocess with `--target-url`, `--model`, `--reports-dir
   reports/real-servers/<target>` (and `--upstream-url` for a bridge), the key in OPENAI_API_KEY;
5. `docs/compatibility.md` from the results.json files: a summary of targets x categories, then per
   target its version, install and start commands, verdict, features, scenarios and every
   deviation with its check, one example and the place in the server's installed code that
   explains it (`scripts/real_servers_confirmations.json`; LiteLLM's are in
   `scripts/real_proxy_confirmations.json`). A citation is shown only if it can be found in the
   installed package: a Python file defining the named function, or a compiled library holding
   the quoted string; anything else is marked "unconfirmed".

`--check` compares the verdict and the broken MUST checks of each target that ran (feature statuses too
with `--strict`) with `scripts/real_servers_expected.json` and exits 3 on any difference; `--record`
rewrites that file from this run (for the targets that ran).

Exit status: 0 done (whatever the verdicts), 1 a target produced no results, 2 a server could not be
installed or started, 3 `--check` found a difference.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "real_servers"
CONFIRMATIONS = Path(__file__).with_name("real_servers_confirmations.json")
EXPECTED = Path(__file__).with_name("real_servers_expected.json")
VENV_MARKER = ".made-by-real-servers"
CATEGORIES = ["framing", "schema", "grammar", "sequence", "ids", "consistency", "usage", "error"]

INSTALL_TIMEOUT = 1800.0
HEALTH_TIMEOUT = 180.0
SUITE_TIMEOUT = 1200.0
SERVER_LIFETIME = 1500  # every server stops itself after this many seconds, whatever happens to us


def _load_real_proxy():
    spec = importlib.util.spec_from_file_location("real_proxy", Path(__file__).with_name("real_proxy.py"))
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


rp = _load_real_proxy()
SetupError = rp.SetupError


class Skipped(Exception):
    """The server cannot run on this machine (e.g. no CPU build of torch): listed, not a failure."""
free_port, local_env, stop_process, wait_or_stop, cell, scrub = (
    rp.free_port, rp.local_env, rp.stop_process, rp.wait_or_stop, rp.cell, rp.scrub)


def log(message: str) -> None:
    print(f"[real-servers] {message}", flush=True)


# -- the servers ------------------------------------------------------------------------------
@dataclass
class Started:
    """A running target: what the suite is pointed at."""
    proc: subprocess.Popen | None
    target_url: str
    model: str
    key: str
    upstream_url: str | None = None
    routes: list[dict] = field(default_factory=list)  # LiteLLM: one target per route


@dataclass
class Server:
    key: str
    title: str
    package: str  # the distribution whose version is reported and whose code is cited
    version: str
    requirements: list[str]
    what: str
    install: str
    start_cmd: str
    start: Callable[["Server", Path, Path, dict], Started]
    ci: bool = False
    notes: str = ""  # what a reader of the matrix should know about this server's run
    pip_args: list[str] = field(default_factory=list)
    code_root: str = ""  # what citations are relative to, for the docs


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages")) + sorted(venv.glob("Lib/site-packages"))
    if not found:
        raise SetupError(f"no site-packages in {venv}")
    return found[0]


def _popen(cmd: list[str], logfile: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    out = logfile.open("w", encoding="utf-8")
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env or local_env(),
                                cwd=str(cwd or ROOT), start_new_session=True)
    finally:
        out.close()


def _wait_http(proc: subprocess.Popen | None, url: str, logfile: Path, headers: dict | None = None,
               ok: Callable[[int], bool] = lambda status: status < 500) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = logfile.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise SetupError(f"the server exited with {proc.returncode} before it answered:\n{tail}")
        try:
            if ok(httpx.get(url, headers=headers or {}, timeout=2.0).status_code):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SetupError(f"{url} did not answer within {HEALTH_TIMEOUT:.0f} s")


def start_llamacpp(server: Server, venv: Path, work: Path, ctx: dict) -> Started:
    model = work / "tiny-chat.gguf"
    rp.run_bounded([str(rp.venv_python(venv)), str(HERE / "tiny_gguf.py"), str(model)], 300,
                   work / "tiny-gguf.log", "writing the tiny GGUF model")
    port, key = free_port(), "sk-real-servers-" + secrets.token_hex(12)
    logfile = ctx["logs"] / "llama-cpp.log"
    proc = _popen([str(rp.venv_python(venv)), str(HERE / "serve_llamacpp.py"), str(model), str(port), key,
                   str(SERVER_LIFETIME)], logfile)
    _wait_http(proc, f"http://127.0.0.1:{port}/health", logfile, ok=lambda s: s == 200)
    return Started(proc, f"http://127.0.0.1:{port}/v1", "tiny-llama", key)


def start_fastresponses(server: Server, venv: Path, work: Path, ctx: dict) -> Started:
    port, key = free_port(), "sk-real-servers-" + secrets.token_hex(12)
    logfile = ctx["logs"] / "fastresponses.log"
    binary = venv / ("Scripts/fastresponses.exe" if os.name == "nt" else "bin/fastresponses")
    proc = _popen(["timeout", str(SERVER_LIFETIME), str(binary), "serve", "fastresponses_agent.py:agent",
                   "--host", "127.0.0.1", "--port", str(port), "--api-key", key, "--log-level", "warning"],
                  logfile, cwd=HERE)
    _wait_http(proc, f"http://127.0.0.1:{port}/v1/responses/none", logfile)
    return Started(proc, f"http://127.0.0.1:{port}/v1", "deterministic-agent", key)


def start_azure(server: Server, venv: Path, work: Path, ctx: dict) -> Started:
    port, key = free_port(), "sk-real-servers-" + secrets.token_hex(12)
    logfile = ctx["logs"] / "azure-agentserver.log"
    proc = _popen([str(rp.venv_python(venv)), str(HERE / "azure_handler.py"), str(port), str(SERVER_LIFETIME)],
                  logfile, env=local_env(OTEL_SDK_DISABLED="true"))
    _wait_http(proc, f"http://127.0.0.1:{port}/readiness", logfile)
    # The host has no key of its own (Azure's platform authenticates in front of it): the suite
    # still sends one, which it ignores.
    return Started(proc, f"http://127.0.0.1:{port}", "deterministic-handler", key)


def start_open_responses_server(server: Server, venv: Path, work: Path, ctx: dict) -> Started:
    reference = ctx["reference"]()
    port = free_port()
    logfile = ctx["logs"] / "open-responses-server.log"
    env = local_env(OPENAI_BASE_URL_INTERNAL=reference.url, OPENAI_API_KEY=reference.api_key,
                    API_ADAPTER_HOST="127.0.0.1", API_ADAPTER_PORT=str(port),
                    MCP_SERVERS_CONFIG_PATH=str(work / "no-mcp-servers.json"))
    (work / "no-mcp-servers.json").write_text('{"mcpServers": {}}', encoding="utf-8")
    proc = _popen(["timeout", str(SERVER_LIFETIME), str(venv / "bin" / "uvicorn"),
                   "open_responses_server.server_entrypoint:app", "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "warning"], logfile, env=env, cwd=work)
    _wait_http(proc, f"http://127.0.0.1:{port}/health", logfile, ok=lambda s: s == 200)
    # It checks no key itself, but its catch-all route (retrieve, delete, compact, WebSocket, ...) forwards
    # the client's Authorization header to the upstream: the client must hold the upstream's key.
    return Started(proc, f"http://127.0.0.1:{port}", "ref-model-1", reference.api_key, upstream_url=reference.base_url)


def start_transformers(server: Server, venv: Path, work: Path, ctx: dict) -> Started:
    model = ctx["cache"] / "tiny-transformers"
    if model.exists():
        shutil.rmtree(model)
    rp.run_bounded([str(rp.venv_python(venv)), str(HERE / "tiny_transformers.py"), str(model)], 600,
                   ctx["logs"] / "tiny-transformers.log", "writing the tiny transformers model")
    ctx["replacements"][str(model)] = "<tiny model>"
    port = free_port()
    logfile = ctx["logs"] / "transformers-serve.log"
    binary = venv / ("Scripts/transformers.exe" if os.name == "nt" else "bin/transformers")
    proc = _popen(["timeout", str(SERVER_LIFETIME), str(binary), "serve", str(model), "--host", "127.0.0.1",
                   "--port", str(port), "--device", "cpu", "--default-seed", "0", "--log-level", "warning"],
                  logfile, env=local_env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
                                         OMP_NUM_THREADS="1"))
    _wait_http(proc, f"http://127.0.0.1:{port}/health", logfile, ok=lambda s: s == 200)
    # It checks no key; the model a request names must be the folder it serves.
    return Started(proc, f"http://127.0.0.1:{port}/v1", str(model), "sk-real-servers-" + secrets.token_hex(12))


def cpu_torch_only(venv: Path, requirements: list[str], logs: Path) -> None:
    """Skip (not fail) where installing torch would pull the CUDA libraries (gigabytes)."""
    report = logs / "transformers-dry-run.json"
    rp.run_bounded([str(rp.venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                    "--dry-run", "--report", str(report), *requirements], 600, logs / "transformers-dry-run.log",
                   "resolving torch")
    names = [item["metadata"]["name"] for item in json.loads(report.read_text(encoding="utf-8")).get("install", [])]
    cuda = [n for n in names if n.lower().startswith(("nvidia-", "triton"))]
    if cuda:
        raise Skipped(f"no CPU build of torch here: installing it would bring {', '.join(sorted(cuda)[:4])}, ...")


def start_litellm(server: Server, venv: Path, work: Path, ctx: dict) -> Started:
    reference = ctx["reference"]()
    master_key = "sk-real-proxy-" + secrets.token_hex(16)
    config = work / "config.yaml"
    rp.write_config(config, reference.base_url, reference.api_key, master_key)
    port = free_port()
    logfile = ctx["logs"] / "litellm.log"
    proc = rp.start_litellm(venv, config, port, logfile)
    rp.wait_healthy(proc, f"http://127.0.0.1:{port}", logfile)
    routes = []
    for route in rp.ROUTES:
        routes.append({**route, "probe": rp.probe(f"http://127.0.0.1:{port}", master_key, route["name"], reference.url)})
    return Started(proc, f"http://127.0.0.1:{port}/v1", "", master_key, upstream_url=reference.base_url, routes=routes)


SERVERS: list[Server] = [
    Server(key="llama-cpp", title="llama.cpp server", package="xllamacpp", version="2026.10.11549",
           requirements=["xllamacpp==2026.10.11549", "gguf==0.19.0"], ci=True, start=start_llamacpp,
           what="llama.cpp's own HTTP server (C++, compiled into the `xllamacpp` CPU wheel) serving a tiny GGUF chat "
                "model that the script writes with the `gguf` package (SentencePiece vocabulary, a ChatML template "
                "with Hermes-style tool calls, one-hot weights): greedy decoding answers every prompt "
                "\"Hello from tiny llama.\"",
           install="pip install xllamacpp==2026.10.11549 gguf==0.19.0",
           start_cmd="python scripts/real_servers/tiny_gguf.py tiny.gguf && "
                     "python scripts/real_servers/serve_llamacpp.py tiny.gguf PORT KEY SECONDS "
                     "(xllamacpp.Server: jinja templates, temperature 0, top-k 1, 64 tokens at most)",
           code_root="the xllamacpp wheel (llama.cpp compiled in; strings quoted from `xllamacpp/xllamacpp.abi3.so`)",
           notes="`tool_choice: \"required\"` makes llama.cpp build a tool-call grammar that its sampler cannot "
                 "initialise for this tiny vocabulary (HTTP 400 'Failed to initialize samplers', which the suite "
                 "counts as unsupported). After such failures the server now and then leaves the next queued request "
                 "unanswered until another request arrives (its log shows that task cancelled only when the client "
                 "gives up), so one of the named-tool scenarios may end \"could not test\" (no response within the "
                 "time limit). `previous_response_id` is refused cleanly (400: llama.cpp does not support it): the "
                 "state scenarios that need it are unsupported."),
    Server(key="fastresponses", title="fastresponses", package="fastresponses", version="0.1.0",
           requirements=["fastresponses==0.1.0"], ci=True, start=start_fastresponses,
           what="fastresponses' Open Responses server (FastAPI) with a deterministic agent "
                "(`scripts/real_servers/fastresponses_agent.py`: fixed text, a function call when tools are offered)",
           install="pip install fastresponses==0.1.0",
           start_cmd="fastresponses serve fastresponses_agent.py:agent --host 127.0.0.1 --port PORT --api-key KEY",
           code_root="site-packages"),
    Server(key="azure-agentserver", title="Azure AI agent server (Responses)", package="azure-ai-agentserver-responses",
           version="2.3.0", requirements=["azure-ai-agentserver-responses==2.3.0"], start=start_azure,
           what="Microsoft's `azure-ai-agentserver-responses` host (`ResponsesAgentServerHost`, Starlette on Hypercorn) "
                "with a deterministic handler (`scripts/real_servers/azure_handler.py`) built on its `ResponseEventStream`",
           install="pip install azure-ai-agentserver-responses==2.3.0",
           start_cmd="python scripts/real_servers/azure_handler.py PORT SECONDS (ResponsesAgentServerHost.run)",
           code_root="site-packages"),
    Server(key="open-responses-server", title="open-responses-server", package="open-responses-server", version="0.4.1",
           requirements=["open-responses-server==0.4.1"], start=start_open_responses_server,
           what="a Responses-to-Chat-Completions bridge (FastAPI) in front of our reference server's "
                "`/v1/chat/completions` (`--upstream-url`: upstream fidelity checked)",
           install="pip install open-responses-server==0.4.1",
           start_cmd="OPENAI_BASE_URL_INTERNAL=UPSTREAM OPENAI_API_KEY=UPSTREAM_KEY uvicorn "
                     "open_responses_server.server_entrypoint:app --host 127.0.0.1 --port PORT",
           code_root="site-packages"),
    Server(key="transformers-serve", title="transformers serve", package="transformers", version="5.25.0",
           requirements=["torch==2.13.0", "transformers[serving]==5.25.0"], start=start_transformers,
           what="Hugging Face's `transformers serve` (FastAPI) on CPU, serving a tiny Llama chat model that the script "
                "writes with transformers itself (`scripts/real_servers/tiny_transformers.py`: byte-level BPE tokenizer, "
                "ChatML template, one-hot weights): greedy decoding answers every prompt \"Hello from tiny transformers.\"",
           install="pip install torch==2.13.0 'transformers[serving]==5.25.0' (only where torch 2.13.0 is a CPU build: "
                   "PyPI's Linux wheel pulls the CUDA libraries; the script skips the server otherwise; never in CI)",
           start_cmd="python scripts/real_servers/tiny_transformers.py MODEL_DIR && transformers serve MODEL_DIR "
                     "--host 127.0.0.1 --port PORT --device cpu --default-seed 0",
           code_root="site-packages", notes="The model a request names must be the folder the server was started "
                                           "with (`--model=<tiny model>`)."),
    Server(key="litellm", title="LiteLLM proxy", package="litellm", version=rp.VERSION, requirements=[rp.REQUIREMENT],
           start=start_litellm,
           what="LiteLLM's proxy in front of our reference server, one model route per way of forwarding "
                "(see `scripts/real_proxy.py`)",
           install=f"pip install '{rp.REQUIREMENT}'",
           start_cmd="litellm --config config.yaml --host 127.0.0.1 --port PORT (routes below; drop_params, a master key)",
           code_root="site-packages"),
]
BY_KEY = {s.key: s for s in SERVERS}


def installed_versions(venv: Path, server: Server) -> str | None:
    python = rp.venv_python(venv)
    if not python.exists():
        return None
    try:
        out = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({server.package!r}))"],
                             capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_venv(server: Server, venv: Path, logs: Path) -> bool:
    """The server's venv with exactly its pinned requirements; True when an existing one was reused."""
    marker = venv / VENV_MARKER
    wanted = "\n".join(server.requirements) + "\n"
    if venv.exists() and not marker.exists():
        raise SetupError(f"{venv} exists and was not made by this script: choose another --cache")
    if marker.exists() and marker.read_text(encoding="utf-8") == wanted and installed_versions(venv, server) == server.version:
        return True
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    rp.run_bounded([sys.executable, "-m", "venv", str(venv)], 300, logs / f"{server.key}-venv.log", "making the virtualenv")
    if any(r.startswith("torch==") for r in server.requirements):
        try:
            cpu_torch_only(venv, server.requirements, logs)
        except Skipped:
            shutil.rmtree(venv, ignore_errors=True)
            raise
    rp.run_bounded([str(rp.venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                    *server.pip_args, *server.requirements], INSTALL_TIMEOUT, logs / f"{server.key}-pip-install.log",
                   f"installing {' '.join(server.requirements)}")
    version = installed_versions(venv, server)
    if version != server.version:
        raise SetupError(f"installed {server.package} is {version}, wanted {server.version}")
    marker.write_text(wanted, encoding="utf-8")
    return False


# -- the suite --------------------------------------------------------------------------------
def run_suite(target: str, target_url: str, model: str, key: str, upstream: str | None, reports: Path) -> dict:
    if reports.exists():
        shutil.rmtree(reports)
    reports.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pytest", f"--target-url={target_url}", f"--model={model}",
           f"--reports-dir={reports}", "--idle-timeout=60", "-p", "no:cacheprovider", "-q", "--no-header", "-rN"]
    if upstream:
        cmd.append(f"--upstream-url={upstream}")
    started = time.monotonic()
    with (reports / "pytest-output.txt").open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                env=local_env(OPENAI_API_KEY=key), start_new_session=True)
        code = wait_or_stop(proc, SUITE_TIMEOUT)
    lines = (reports / "pytest-output.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return {"exit": code, "seconds": time.monotonic() - started, "last_line": lines[-1] if lines else "",
            "results": reports / "results.json"}


# -- confirmations ----------------------------------------------------------------------------
PY_CITE = re.compile(r"^(?P<path>[\w/.-]+\.py): (?P<function>[\w.]+): (?P<why>.+)$", re.S)
BIN_CITE = re.compile(r'^(?P<path>[\w/.-]+\.(?:so|pyd|dylib)): (?P<absent>!?)"(?P<literal>(?:[^"\\]|\\.)+)": (?P<why>.+)$', re.S)


def load_confirmations(server_key: str) -> dict[str, list[dict]]:
    """check id -> entries ({"cite", optionally "targets", "scenarios", "match"}) for one server."""
    if server_key == "litellm":
        return rp.load_confirmations()
    data = json.loads(CONFIRMATIONS.read_text(encoding="utf-8")) if CONFIRMATIONS.is_file() else {}
    return rp.confirmation_entries(data.get(server_key) or {})


def verify_cite(cite: str, code_root: Path | None) -> str | None:
    """None when the citation can be found in the installed code; else what is wrong with it."""
    match = PY_CITE.match(cite)
    if match:
        if code_root is None:
            return None
        source = code_root / match["path"]
        name = match["function"].split(".")[-1]
        if not source.is_file():
            return f"`{match['path']}` is not installed"
        text = source.read_text(encoding="utf-8", errors="replace")
        if not (re.search(rf"^\s*(async\s+)?(def|class)\s+{re.escape(name)}\b", text, re.MULTILINE)
                or re.search(rf"^{re.escape(name)}\s*(:[^=\n]*)?=", text, re.MULTILINE)):
            return f"`{match['path']}` defines no `{name}`"
        return None
    match = BIN_CITE.match(cite)
    if match:
        if code_root is None:
            return None
        library = code_root / match["path"]
        if not library.is_file():
            return f"`{match['path']}` is not installed"
        literal = match["literal"].encode().decode("unicode_escape").encode()
        present = literal in library.read_bytes()
        if match["absent"] and present:
            return f"`{match['path']}` does hold {match['literal']!r}"
        if not match["absent"] and not present:
            return f"`{match['path']}` holds no {match['literal']!r}"
        return None
    return "citation not in the form `<path>.py: <function>: <why>` or `<path>.so: [!]\"<string>\": <why>`"


# -- the matrix -------------------------------------------------------------------------------
def category_cells(results: dict) -> dict[str, str]:
    cells = {}
    for category in CATEGORIES:
        checks = [c for c in results.get("checks", []) if c.get("category") == category]
        must = sum(1 for c in checks if c["severity"] == "must" and c.get("status") == "failed")
        should = sum(1 for c in checks if c["severity"] != "must" and c.get("status") in ("failed", "warning"))
        ran = [c for c in checks if c.get("status") not in (None, "skipped", "not_run", "not run", "not tested", "errored")]
        if must:
            cells[category] = f"✗ {must}" + (f" (+{should} SHOULD)" if should else "")
        elif should:
            cells[category] = f"⚠ {should} SHOULD"
        elif ran:
            cells[category] = "✓"
        else:
            cells[category] = "—"
    return cells


def target_section(t: dict, replacements: dict[str, str]) -> tuple[list[str], list[dict]]:
    server: Server = t["server"]
    name = t["name"]
    confirmations = load_confirmations(server.key)
    code_root = t.get("code_root")
    lines = [f"## {t['title']}", ""]
    results_path: Path | None = t.get("suite", {}).get("results")
    head = f"**{server.title} {server.version}** (`{server.package}`) · {t['date']}"
    lines += [f"{t['what']}.", "",
              f"* install: `{server.install}` (in its own virtualenv)",
              f"* start: `{server.start_cmd}`",
              f"* suite: `pytest --target-url=<{name}> --model={scrub(t['model'], replacements)}"
              + (" --upstream-url=<reference server>" if t.get("upstream") else "") + "`", ""]
    if server.notes:
        lines += [f"Note: {server.notes}", ""]
    if t.get("probe"):
        probe = t["probe"]
        lines += [f"Probe (`POST /v1/responses`, plain text): HTTP {probe.get('status')}, upstream saw "
                  + (", ".join(f"`{p}`" for p in probe.get("upstream", [])) or "nothing") + ".", ""]
    if t.get("skipped"):
        lines += [f"{head} · **not run on this machine**: {cell(t['skipped'], 300)}", ""]
        return lines, []
    if t.get("setup_error"):
        lines += [f"{head} · verdict **could not be set up**: {cell(scrub(t['setup_error'], replacements), 400)}", ""]
        return lines, []
    if results_path is None or not Path(results_path).is_file():
        lines += [f"{head} · verdict **no results** (pytest exit {t.get('suite', {}).get('exit')})", ""]
        return lines, []
    results = json.loads(Path(results_path).read_text(encoding="utf-8"))
    summary = results["summary"]
    by_status = summary.get("by_status") or {k: summary.get(k, 0) for k in ("passed", "failed", "skipped", "errored")}
    counts = ", ".join(f"{n} {status}" for status, n in by_status.items() if n)
    lines += [(f"{head} · verdict **{summary['verdict']}** · scenarios: {summary['scenarios']} ({counts}) · "
               f"violations: {summary['violations']['must']} MUST, {summary['violations']['should']} SHOULD"), ""]
    fidelity = [c for c in results.get("checks", []) if c["id"].startswith("consistency.upstream_")]
    if t.get("upstream") and fidelity:
        lines += ["Upstream fidelity: " + ", ".join(f"`{c['id']}` {c['status']}" for c in fidelity) + ".", ""]
    features = results.get("features") or {}
    if features:
        by_status: dict[str, list[str]] = {}
        for feature, info in features.items():
            by_status.setdefault(info["status"], []).append(feature)
        lines += ["Features: " + "; ".join(f"**{status}**: {', '.join(names)}"
                                           for status, names in sorted(by_status.items())) + ".", ""]

    lines += ["### Scenarios", "", "| scenario | status | MUST | SHOULD | broken checks / reason |",
              "| --- | --- | ---: | ---: | --- |"]
    deviations: dict[tuple, dict] = {}
    for scenario in results["scenarios"]:
        violations = scenario.get("violations", [])
        must = sum(1 for v in violations if v["severity"] == "must" and not v.get("model_behaviour"))
        should = sum(1 for v in violations if v["severity"] != "must")
        detail = ", ".join(f"`{c}`" for c in sorted({v["check"] for v in violations}))
        extra = scenario.get("error") or scenario.get("reason")
        if extra:
            detail = (detail + "; " if detail else "") + cell(scrub(str(extra), replacements), 160)
        lines.append(f"| `{scenario['id']}` | {scenario['status']} | {must} | {should} | {detail} |")
        for v in violations:
            found = rp.find_entry(confirmations, v["check"], t["route"], scenario["id"], v["message"])
            severity = "model behaviour" if v.get("model_behaviour") else v["severity"]
            key = (v["check"], severity, found[0] if found else None)
            entry = deviations.setdefault(key, {"check": v["check"], "severity": severity, "scenarios": [],
                                                "count": 0, "example": v["message"],
                                                "cite": found[1]["cite"] if found else None})
            entry["count"] += 1
            if scenario["id"] not in entry["scenarios"]:
                entry["scenarios"].append(scenario["id"])
    lines.append("")
    lines += ["### Deviations", ""]
    rank = {"must": 0, "should": 1}
    ordered = sorted(deviations.values(), key=lambda d: (rank.get(d["severity"], 2), d["check"], d["cite"] is None))
    if not ordered:
        lines += ["None found.", ""]
    else:
        lines += [f"Citations are relative to {server.code_root}. Severity \"model behaviour\": the suite's own "
                  "label for a finding about what the model said (not counted in the verdict).", "",
                  "| check | severity | scenarios | example | confirmed in |", "| --- | --- | --- | --- | --- |"]
        for d in ordered:
            problem = verify_cite(d["cite"], code_root) if d["cite"] else ""
            d["confirmed"] = d["cite"] if d["cite"] and problem is None else None
            shown = d["scenarios"][:6]
            more = f" +{len(d['scenarios']) - len(shown)} more" if len(d["scenarios"]) > len(shown) else ""
            if d["confirmed"] and d["severity"] == "model behaviour":
                # The suite does not count it, but the server's code shows the server is the cause.
                confirmed = "not counted by the suite, but the server causes it: " + cell(d["cite"], 600)
            else:
                confirmed = None
            confirmed = confirmed or (cell(d["cite"], 600) if d["confirmed"] else
                         ("**unconfirmed**" if d["severity"] == "must" else
                          "not a deviation: what the deterministic backend answered" if d["severity"] == "model behaviour"
                          else "not reviewed (SHOULD)")
                         + (f" ({problem})" if problem else ""))
            lines.append(f"| `{d['check']}` | {d['severity'].upper()} | {len(d['scenarios'])}: "
                         f"{', '.join(shown)}{more} | {cell(scrub(d['example'], replacements))} | {confirmed} |")
        lines.append("")
    return lines, ordered


def write_matrix(docs: Path, targets: list[dict], replacements: dict[str, str], timings: dict[str, float],
                 only: bool) -> dict[str, list[dict]]:
    out = ["# Compatibility: the suite against real servers", "",
           "<!-- Generated by `python scripts/real_servers.py`; do not edit by hand: run it again. -->", "",
           ("Each server below was installed from PyPI at a pinned version into its own virtualenv, started on "
            "127.0.0.1 with a deterministic backend (a tiny model the script builds, or a fixed agent; bridges "
            "and proxies in front of the suite's own reference server, which then also checks upstream "
            "fidelity), and the whole suite was run against it (`--profile openai`). Regenerate with "
            "`python scripts/real_servers.py` (every server) or `--only KEY,...`: on a 2-core machine about 6 minutes "
            "with every virtualenv to install (2 of them for torch and transformers, over 1 for LiteLLM), about 2 minutes "
            "once they are cached in `.real-servers/`. CI runs llama.cpp's server and fastresponses on every "
            "submission (`--ci --check`, half a minute) and checks their verdicts against "
            "`scripts/real_servers_expected.json`."), "",
           "Summary (✓ every check of the category that ran passed; ✗ n: n MUST checks broken; ⚠ only SHOULD "
           "checks broken; — nothing of the category ran):", "",
           "| target | version | date | verdict | " + " | ".join(CATEGORIES) + " |",
           "| --- | --- | --- | --- | " + " | ".join("---" for _ in CATEGORIES) + " |"]
    sections, found = [], {}
    for t in targets:
        lines, deviations = target_section(t, replacements)
        sections += lines
        found[t["name"]] = deviations
        results_path = t.get("suite", {}).get("results")
        anchor = re.sub(r"[^a-z0-9 -]", "", t["title"].lower()).replace(" ", "-")
        if results_path is not None and Path(results_path).is_file():
            results = json.loads(Path(results_path).read_text(encoding="utf-8"))
            cells = category_cells(results)
            out.append(f"| [{t['title']}](#{anchor}) | {t['server'].version} | {t['date']} | "
                       f"{results['summary']['verdict']} | " + " | ".join(cells[c] for c in CATEGORIES) + " |")
        else:
            reason = ("not run here" if t.get("skipped") else
                      "could not be set up" if t.get("setup_error") else "no results")
            out.append(f"| [{t['title']}](#{anchor}) | {t['server'].version} | {t['date']} | {reason} | "
                       + " | ".join("" for _ in CATEGORIES) + " |")
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    out += ["", f"Timings of the last run{' (some targets only)' if only else ''}: {timing}.", "",
            ("Each deviation is a check the suite found broken (reports and transcripts: "
             "`reports/real-servers/<target>/`). \"Confirmed in\" names the place in the installed server "
             "that produces the behaviour (`scripts/real_servers_confirmations.json`, LiteLLM's in "
             "`scripts/real_proxy_confirmations.json`); it is shown only if that file defines that function, or "
             "that compiled library holds that string, in the installed version. Every MUST deviation was "
             "read in its transcript and that code before it was listed; SHOULD deviations are listed as found."), ""]
    out += sections
    text = re.sub(r"(?:(?:https?|wss?)://)?127\.0\.0\.1:\d+", "<local>", "\n".join(out).rstrip() + "\n")
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text, encoding="utf-8")
    return found


# -- expected verdicts ------------------------------------------------------------------------
def observed(results_path: Path) -> dict:
    results = json.loads(results_path.read_text(encoding="utf-8"))
    must = sorted({v["check"] for s in results["scenarios"] for v in s.get("violations", [])
                   if v["severity"] == "must" and not v.get("model_behaviour")})
    return {"verdict": results["summary"]["verdict"], "must_checks": must,
            "features": {f: info["status"] for f, info in sorted((results.get("features") or {}).items())}}


def compare(expected: dict, seen: dict, strict: bool = False) -> list[str]:
    problems = []
    if expected.get("verdict") != seen["verdict"]:
        problems.append(f"verdict {seen['verdict']!r}, expected {expected.get('verdict')!r}")
    new = sorted(set(seen["must_checks"]) - set(expected.get("must_checks", [])))
    gone = sorted(set(expected.get("must_checks", [])) - set(seen["must_checks"]))
    if new:
        problems.append(f"MUST checks now broken: {', '.join(new)}")
    if gone:
        problems.append(f"MUST checks no longer broken: {', '.join(gone)}")
    # Feature statuses are recorded for reading, not compared: llama.cpp's answer to a named tool_choice
    # sometimes stalls past the idle limit on a busy machine, moving `input-array` between broken and
    # unsupported from run to run. The verdict and the broken MUST checks are stable.
    for feature, status in (seen["features"].items() if strict else ()):
        if expected.get("features", {}).get(feature) != status:
            problems.append(f"feature {feature}: {status}, expected {expected.get('features', {}).get(feature)}")
    return problems


# -- main -------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated server keys: " + ", ".join(BY_KEY))
    parser.add_argument("--ci", action="store_true", help="only the servers CI runs (" +
                        ", ".join(s.key for s in SERVERS if s.ci) + ")")
    parser.add_argument("--cache", type=Path, default=ROOT / ".real-servers",
                        help="the servers' virtualenvs and logs (default: .real-servers/)")
    parser.add_argument("--docs", type=Path, default=None,
                        help="the matrix to write (default: docs/compatibility.md when every server ran, else none)")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports" / "real-servers",
                        help="one folder per target (default: reports/real-servers)")
    parser.add_argument("--summary-json", type=Path, default=None, help="also write what was found as JSON here")
    parser.add_argument("--check", action="store_true",
                        help="compare with scripts/real_servers_expected.json; exit 3 on a difference")
    parser.add_argument("--strict", action="store_true", help="--check compares the feature statuses too")
    parser.add_argument("--record", action="store_true", help="rewrite scripts/real_servers_expected.json from this run")
    parser.add_argument("--expected", type=Path, default=EXPECTED, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keys = [k for k in args.only.split(",") if k] if args.only else (
        [s.key for s in SERVERS if s.ci] if args.ci else [s.key for s in SERVERS])
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        log(f"unknown server(s): {', '.join(unknown)}; known: {', '.join(BY_KEY)}")
        return 4
    partial = set(keys) != set(BY_KEY)
    docs = args.docs.resolve() if args.docs else (None if partial else ROOT / "docs" / "compatibility.md")
    cache, reports = args.cache.resolve(), args.reports.resolve()
    logs = cache / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, rp.interrupted)
    from responses_conformance.reference import ReferenceServer

    date = dt.datetime.now(dt.timezone.utc).date().isoformat()
    timings: dict[str, float] = {}
    targets: list[dict] = []
    replacements: dict[str, str] = {}
    setup_failed = False
    started_all = time.monotonic()
    for key in keys:
        server = BY_KEY[key]
        venv = cache / key
        work = Path(tempfile.mkdtemp(prefix=f"real-servers-{key}-"))
        references: list = []

        def reference():
            ref = ReferenceServer().start()
            references.append(ref)
            replacements[ref.url] = "<upstream>"
            return ref

        running: Started | None = None
        base = {"server": server, "date": date, "what": server.what}
        try:
            t = time.monotonic()
            log(f"{key}: virtualenv with {' '.join(server.requirements)}")
            reused = ensure_venv(server, venv, logs)
            timings[f"{key} install" + (" (reused)" if reused else "")] = time.monotonic() - t
            code_root = _site_packages(venv)
            t = time.monotonic()
            running = server.start(server, venv, work, {"logs": logs, "reference": reference, "cache": cache,
                                                        "replacements": replacements})
            timings[f"{key} start"] = time.monotonic() - t
            replacements[running.key] = "<key>"
            replacements[running.target_url] = "<target>"
            log(f"{key}: {server.package} {server.version} answering after {timings[f'{key} start']:.1f} s")
            runs = ([{"name": f"{key}-{r['name']}", "title": f"{server.title}, route `{r['name']}` ({r['kind']})",
                      "model": r["name"], "route": r["name"], "probe": r["probe"],
                      "what": f"{server.what}: {r['what']}"} for r in running.routes]
                    if running.routes else
                    [{"name": key, "title": server.title, "model": running.model, "route": key, "what": server.what}])
            for run in runs:
                t = time.monotonic()
                suite = run_suite(run["name"], running.target_url, run["model"], running.key, running.upstream_url,
                                  reports / run["name"])
                timings[f"{run['name']} suite"] = time.monotonic() - t
                log(f"{run['name']}: pytest exit {suite['exit']} in {suite['seconds']:.0f} s: {suite['last_line']}")
                targets.append({**base, **run, "suite": suite, "code_root": code_root,
                                "upstream": running.upstream_url})
        except Skipped as exc:
            log(f"{key}: skipped: {exc}")
            targets.append({**base, "name": key, "title": server.title, "model": "", "route": key,
                            "skipped": str(exc)})
        except SetupError as exc:
            log(f"{key}: could not set up: {exc}")
            setup_failed = True
            targets.append({**base, "name": key, "title": server.title, "model": "", "route": key,
                            "setup_error": str(exc).splitlines()[0]})
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            if running is not None and running.proc is not None:
                stop_process(running.proc)
            for ref in references:
                ref.stop()
            shutil.rmtree(work, ignore_errors=True)
    timings["total"] = time.monotonic() - started_all

    found = {}
    if docs is not None:
        found = write_matrix(docs, targets, replacements, timings, partial)
        log(f"wrote {docs}")
    else:
        for t in targets:
            found[t["name"]] = target_section(t, replacements)[1]

    status = 0
    if setup_failed:
        status = 2
    elif any(not (t.get("suite", {}).get("results") and Path(t["suite"]["results"]).is_file())
             for t in targets if not t.get("skipped")):
        status = 1
    seen = {t["name"]: observed(Path(t["suite"]["results"])) for t in targets
            if t.get("suite", {}).get("results") and Path(t["suite"]["results"]).is_file()}
    if args.record and seen:
        expected = json.loads(args.expected.read_text(encoding="utf-8")) if args.expected.is_file() else {}
        expected.update({"_about": ("What scripts/real_servers.py --check expects of each target: its verdict, the "
                                    "MUST checks it breaks, its feature statuses. Rewritten by --record."),
                         **{name: {"version": next(t["server"].version for t in targets if t["name"] == name), **obs}
                            for name, obs in seen.items()}})
        args.expected.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        log(f"recorded {', '.join(seen)} in {args.expected.name}")
    if args.check:
        expected = json.loads(args.expected.read_text(encoding="utf-8")) if args.expected.is_file() else {}
        for name, obs in seen.items():
            problems = compare(expected.get(name, {}), obs, args.strict) if name in expected else ["no expectation recorded"]
            if problems:
                status = status or 3
                log(f"{name}: differs from {args.expected.name}: " + "; ".join(problems)
                    + f" (after a deliberate change: python scripts/real_servers.py --only {name.split('-ref-')[0]} --record)")
            else:
                log(f"{name}: as expected ({obs['verdict']}, {len(obs['must_checks'])} MUST checks broken)")
        for t in targets:
            if t["name"] not in seen:
                log(f"{t['name']}: no results to check")
    if args.summary_json:
        args.summary_json.parent.mkdir(parents=True, exist_ok=True)
        args.summary_json.write_text(json.dumps({
            name: {"observed": seen.get(name), "deviations": devs,
                   "skipped": next((t.get("skipped") for t in targets if t["name"] == name), None),
                   "code_root": str(next((t.get("code_root") for t in targets if t["name"] == name), ""))}
            for name, devs in found.items()}, indent=2, default=str), encoding="utf-8")
    log(f"done in {timings['total']:.0f} s, exit {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
