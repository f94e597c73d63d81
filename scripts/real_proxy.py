"""Run the conformance suite through a real proxy, for real: LiteLLM, from PyPI, pinned.

    python scripts/real_proxy.py            # from a checkout with the project installed

What it does, every step bounded in time and everything it started stopped on the way out:

1. makes LiteLLM's own virtualenv (`--venv`, default `.real-proxy/venv`; never the suite's
   environment) and installs `litellm[proxy]==VERSION` into it (a kept venv that already has
   that version is reused);
2. starts our reference server (in this process, 127.0.0.1, a free port) and LiteLLM in front
   of it (127.0.0.1, a free port), with a config that routes one model name per route:
   `ref-model-1` passes Responses requests through to the upstream's `/v1/responses`,
   `ref-bridge` bridges them to its `/v1/chat/completions`;
3. per route: one probe request (does the route answer at all, which upstream endpoint it
   reaches), then the suite as a pytest subprocess with `--target-url` (LiteLLM),
   `--upstream-url` (the reference server: upstream fidelity checks) and
   `--reports-dir reports/real-proxy/<route>`, the proxy key in the subprocess's
   OPENAI_API_KEY;
4. writes a LiteLLM-only table (`--docs`, default `reports/real-proxy/compatibility.md`: the project's
   `docs/compatibility.md` is the matrix of every real server, written by `scripts/real_servers.py`,
   which runs LiteLLM through this module's config, routes and confirmations) from the results.json
   files, joining each deviation with its
   confirmation in LiteLLM's code (`scripts/real_proxy_confirmations.json`: check id -> the
   module and function responsible). A citation is shown only if that file exists in the
   installed package and defines that function; anything else is marked "unconfirmed".

Exit status: 0 when the table was written from a results.json for every route (whatever the
verdicts: finding deviations is the point), 1 when a route produced no results, 2 when the
proxy could not be installed or started (the table is then left as it was).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROXY = "LiteLLM"
PACKAGE = "litellm"
VERSION = "1.108.7"
REQUIREMENT = f"litellm[proxy]=={VERSION}"
CONFIRMATIONS = Path(__file__).with_name("real_proxy_confirmations.json")
VENV_MARKER = ".made-by-real-proxy"  # only a venv carrying this is reused or removed by us

INSTALL_TIMEOUT = 1200.0
HEALTH_TIMEOUT = 180.0
PROBE_TIMEOUT = 60.0
SUITE_TIMEOUT = 1200.0
STOP_TIMEOUT = 15.0


class SetupError(RuntimeError):
    """The proxy could not be installed or started: no verdict, the table is not touched."""


# One entry per route: the model name the suite requests, what LiteLLM is told to do with it,
# and what that exercises. `use_chat_completions_api` is LiteLLM's switch for the
# Responses -> Chat Completions bridge (litellm/responses/main.py:
# _bridges_to_chat_completions); `hosted_vllm/` would not bridge in this version (it has a
# native Responses config: litellm/llms/hosted_vllm/responses/transformation.py).
ROUTES = [
    {
        "name": "ref-model-1",
        "kind": "passthrough",
        "litellm_params": {"model": "openai/ref-model-1"},
        "what": "LiteLLM's `openai/` provider: Responses requests passed through to the upstream's `/v1/responses`",
    },
    {
        "name": "ref-bridge",
        "kind": "bridge",
        "litellm_params": {"model": "openai/ref-model-1", "use_chat_completions_api": True},
        "what": "the same provider with `use_chat_completions_api: true`: LiteLLM bridges Responses requests "
                "to the upstream's `/v1/chat/completions` and builds the Responses answer itself "
                "(`hosted_vllm/` would not bridge in this version: it has a native Responses config)",
    },
]


def log(message: str) -> None:
    print(f"[real-proxy] {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_env(**extra: str) -> dict[str, str]:
    """The environment for a child: no OpenAI settings or database of ours leaking in, and
    127.0.0.1 never sent through an HTTP proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "LITELLM_", "DATABASE_URL", "PYTEST_"))}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    env.update(NO_PROXY=no_proxy, no_proxy=no_proxy, PYTHONUNBUFFERED="1", **extra)
    return env


# -- the proxy's virtualenv -------------------------------------------------------------------
def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def installed_version(venv: Path) -> str | None:
    python = venv_python(venv)
    if not python.exists():
        return None
    try:
        out = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({PACKAGE!r}))"],
                             capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob(f"lib/python*/site-packages/{PACKAGE}")) + sorted(venv.glob(f"Lib/site-packages/{PACKAGE}"))
    if not found:
        raise SetupError(f"{PACKAGE} is not installed in {venv}")
    return found[0].parent


def ensure_venv(venv: Path, log_dir: Path) -> tuple[str, bool]:
    """The venv with the pinned LiteLLM; returns (version, reused)."""
    if venv.exists() and not (venv / VENV_MARKER).exists():
        raise SetupError(f"{venv} exists and was not made by this script: choose another --venv")
    if installed_version(venv) == VERSION:
        return VERSION, True
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    run_bounded([sys.executable, "-m", "venv", str(venv)], 300, log_dir / "venv.log", "making the virtualenv")
    (venv / VENV_MARKER).write_text(f"{REQUIREMENT}\n", encoding="utf-8")
    run_bounded([str(venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                 REQUIREMENT], INSTALL_TIMEOUT, log_dir / "pip-install.log", f"installing {REQUIREMENT}")
    version = installed_version(venv)
    if version != VERSION:
        raise SetupError(f"installed {PACKAGE} is {version}, wanted {VERSION}")
    return version, False


def run_bounded(cmd: list[str], timeout: float, logfile: Path, what: str) -> None:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=local_env(), start_new_session=True)
        code = wait_or_stop(proc, timeout)
    if code != 0:
        tail = logfile.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SetupError(f"{what} failed (exit {code}, log {logfile.name}):\n{tail}")


def wait_or_stop(proc: subprocess.Popen, timeout: float) -> int | None:
    """Wait at most `timeout`; past it, stop the child's process group. None: timed out."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        return None
    except BaseException:
        stop_process(proc)
        raise


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group we started (its id is the child's pid), then SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# -- LiteLLM ----------------------------------------------------------------------------------
def write_config(path: Path, upstream: str, upstream_key: str, master_key: str) -> None:
    """LiteLLM's proxy config (YAML; JSON values are valid YAML flow scalars)."""
    lines = ["model_list:"]
    for route in ROUTES:
        params = {**route["litellm_params"], "api_base": upstream, "api_key": upstream_key}
        lines += [f"  - model_name: {route['name']}", f"    litellm_params: {json.dumps(params)}"]
    lines += [f"general_settings: {json.dumps({'master_key': master_key})}",
              f"litellm_settings: {json.dumps({'drop_params': True})}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def start_litellm(venv: Path, config: Path, port: int, logfile: Path) -> subprocess.Popen:
    binary = venv / ("Scripts/litellm.exe" if os.name == "nt" else "bin/litellm")
    env = local_env(LITELLM_LOCAL_MODEL_COST_MAP="True",  # no fetch of the cost map from the internet
                    LITELLM_TELEMETRY="False")
    out = logfile.open("w", encoding="utf-8")
    try:
        return subprocess.Popen([str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(config.parent),
                                start_new_session=True)
    finally:
        out.close()


def wait_healthy(proc: subprocess.Popen, origin: str, logfile: Path) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = logfile.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise SetupError(f"{PROXY} exited with {proc.returncode} before it was healthy:\n{tail}")
        try:
            if httpx.get(f"{origin}/health/liveliness", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SetupError(f"{PROXY} was not healthy within {HEALTH_TIMEOUT:.0f} s")


def probe(origin: str, key: str, route: str, upstream_origin: str) -> dict:
    """One plain Responses request through the route: its status, and which upstream
    endpoints it reached (from the reference server's journal)."""
    with httpx.Client(timeout=PROBE_TIMEOUT) as client:
        client.delete(f"{upstream_origin}/_reference/journal")
        try:
            answer = client.post(f"{origin}/v1/responses", headers={"Authorization": f"Bearer {key}"},
                                 json={"model": route, "input": "Say hello."})
            status, body = answer.status_code, answer.text
        except httpx.HTTPError as exc:
            status, body = None, f"{type(exc).__name__}: {exc}"
        journal = client.get(f"{upstream_origin}/_reference/journal").json()
    return {"status": status, "body": body[:300],
            "upstream": sorted({f"POST {e.get('path')}" for e in journal if isinstance(e, dict)})}


# -- the suite --------------------------------------------------------------------------------
def run_suite(route: str, proxy_base: str, upstream_base: str, key: str, reports: Path) -> dict:
    if reports.exists():
        shutil.rmtree(reports)
    reports.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pytest", f"--target-url={proxy_base}", f"--model={route}",
           f"--upstream-url={upstream_base}", f"--reports-dir={reports}", "-p", "no:cacheprovider", "-q",
           "--no-header", "-rN"]
    started = time.monotonic()
    with (reports / "pytest-output.txt").open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                env=local_env(OPENAI_API_KEY=key), start_new_session=True)
        code = wait_or_stop(proc, SUITE_TIMEOUT)
    seconds = time.monotonic() - started
    lines = (reports / "pytest-output.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return {"exit": code, "seconds": seconds, "last_line": lines[-1] if lines else "",
            "results": reports / "results.json"}


# -- the table --------------------------------------------------------------------------------
CITE = re.compile(r"^(?P<path>litellm/[\w/.-]+\.py): (?P<function>[\w.]+): (?P<why>.+)$")


def load_confirmations(path: Path = CONFIRMATIONS) -> dict[str, list[dict]]:
    """check id -> its entries, each {"cite", and optionally "routes", "scenarios", "match"}:
    a bare string is one entry for every finding of that check."""
    return confirmation_entries(json.loads(path.read_text(encoding="utf-8")))


def confirmation_entries(data: dict) -> dict[str, list[dict]]:
    """check id -> its entries, from one confirmations table (keys starting with _ are notes)."""
    out: dict[str, list[dict]] = {}
    for check, value in data.items():
        if check.startswith("_"):
            continue
        entries = value if isinstance(value, list) else [value]
        out[check] = [{"cite": e} if isinstance(e, str) else dict(e) for e in entries]
    return out


def find_entry(confirmations: dict[str, list[dict]], check: str, route: str, scenario: str,
               message: str) -> tuple[int, dict] | None:
    """The first confirmation entry that covers this finding, with its index."""
    for index, entry in enumerate(confirmations.get(check, [])):
        if "routes" in entry and route not in entry["routes"]:
            continue
        if "scenarios" in entry and scenario not in entry["scenarios"]:
            continue
        if "match" in entry and not re.search(entry["match"], message):
            continue
        return index, entry
    return None


def verify_cite(cite: str, package_root: Path | None) -> str | None:
    """None when the citation names a file of the installed package that defines the
    function; else what is wrong with it."""
    match = CITE.match(cite)
    if not match:
        return "citation not in the form `litellm/<path>.py: <function>: <why>`"
    if package_root is None:
        return None
    source = package_root / match["path"]
    name = match["function"].split(".")[-1]
    if not source.is_file():
        return f"`{match['path']}` is not in {PACKAGE} {VERSION}"
    if not re.search(rf"^\s*(async\s+)?(def|class)\s+{re.escape(name)}\b",
                     source.read_text(encoding="utf-8", errors="replace"), re.MULTILINE):
        return f"`{match['path']}` defines no `{name}` in {PACKAGE} {VERSION}"
    return None


def cell(text: object, limit: int = 220) -> str:
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value.replace("|", "\\|")


def scrub(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        if old:
            text = text.replace(old, new)
    text = re.sub(r"https?://127\.0\.0\.1:\d+", "<local>", text)
    return re.sub(r"resp_[A-Za-z0-9_-]{40,}", lambda m: m.group(0)[:16] + "…", text)


def route_section(route: dict, run: dict, confirmations: dict, package_root: Path | None,
                  replacements: dict[str, str], date: str) -> tuple[list[str], list[dict]]:
    """The Markdown for one route, and its deviations (for the summary and the tests)."""
    name = route["name"]
    lines = [f"## Route `{name}` ({route['kind']})", ""]
    probe_info = run.get("probe") or {}
    works = probe_info.get("status") == 200
    upstream = ", ".join(f"`{p}`" for p in probe_info.get("upstream", [])) or "nothing"
    results_path: Path = run["suite"]["results"] if run.get("suite") else None
    if results_path is None or not results_path.is_file():
        exit_code = run["suite"]["exit"] if run.get("suite") else "not run"
        lines += [(f"**{PROXY} {VERSION}** · {date} · route `{name}` · verdict **no results** "
                  f"(pytest exit {exit_code}) · probe: HTTP {probe_info.get('status')}, upstream saw {upstream}"), ""]
        return lines, []
    results = json.loads(results_path.read_text(encoding="utf-8"))
    summary = results["summary"]
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("passed", "failed", "skipped", "errored"))
    lines += [(f"**{PROXY} {VERSION}** · {date} · route `{name}` · verdict **{summary['verdict']}** · "
              f"scenarios: {summary['scenarios']} ({counts}) · violations: {summary['violations']['must']} MUST, "
              f"{summary['violations']['should']} SHOULD"), "",
              f"{route['what']}. Probe (`POST /v1/responses`, plain text): "
              + (f"HTTP 200, upstream saw {upstream}." if works else
                 f"**the route does not work**: HTTP {probe_info.get('status')} "
                 f"`{cell(scrub(probe_info.get('body', ''), replacements), 160)}`, upstream saw {upstream}."), ""]
    fidelity = [c for c in results.get("checks", []) if c["id"].startswith("consistency.upstream_")]
    if fidelity:
        lines += ["Upstream fidelity (what the upstream produced, as the client got it): "
                  + ", ".join(f"`{c['id']}` {c['status']}" for c in fidelity) + ".", ""]
    features = results.get("features") or {}
    if features:
        lines += ["Features: " + ", ".join(f"{f} {v['status']}" for f, v in features.items()) + ".", ""]

    lines += ["### Scenarios", "", "| scenario | status | MUST | SHOULD | broken checks / error |", "| --- | --- | ---: | ---: | --- |"]
    deviations: dict[tuple[str, int | None], dict] = {}
    for scenario in results["scenarios"]:
        violations = scenario.get("violations", [])
        must = sum(1 for v in violations if v["severity"] == "must")
        should = sum(1 for v in violations if v["severity"] == "should")
        checks = sorted({v["check"] for v in violations})
        detail = ", ".join(f"`{c}`" for c in checks)
        if scenario.get("error"):
            detail = (detail + "; " if detail else "") + "error: " + cell(scrub(scenario["error"], replacements), 160)
        elif scenario.get("reason"):
            detail = (detail + "; " if detail else "") + cell(scenario["reason"], 160)
        lines.append(f"| `{scenario['id']}` | {scenario['status']} | {must} | {should} | {detail} |")
        for v in violations:
            found = find_entry(confirmations, v["check"], name, scenario["id"], v["message"])
            key = (v["check"], found[0] if found else None)
            entry = deviations.setdefault(key, {"check": v["check"], "severity": v["severity"], "scenarios": [],
                                                "count": 0, "example": v["message"],
                                                "cite": found[1]["cite"] if found else None})
            entry["count"] += 1
            if scenario["id"] not in entry["scenarios"]:
                entry["scenarios"].append(scenario["id"])
    lines.append("")

    lines += ["### Deviations", ""]
    ordered = sorted(deviations.values(), key=lambda d: (d["severity"] != "must", d["check"], d["cite"] is None))
    if not ordered:
        lines += ["None found.", ""]
    else:
        lines += ["| check | severity | scenarios | example | confirmed in |", "| --- | --- | --- | --- | --- |"]
        for d in ordered:
            problem = verify_cite(d["cite"], package_root) if d["cite"] else ""
            d["confirmed"] = d["cite"] if d["cite"] and problem is None else None
            shown = d["scenarios"][:6]
            more = f" +{len(d['scenarios']) - len(shown)} more" if len(d["scenarios"]) > len(shown) else ""
            confirmed = (cell(d["cite"], 600) if d["confirmed"] else
                         "**unconfirmed**" + (f" ({problem})" if problem else ""))
            lines.append(f"| `{d['check']}` | {d['severity'].upper()} | {len(d['scenarios'])}: "
                         f"{', '.join(shown)}{more} | {cell(scrub(d['example'], replacements))} | {confirmed} |")
        lines.append("")
    return lines, ordered


def write_table(docs: Path, runs: dict[str, dict], package_root: Path | None, replacements: dict[str, str],
                timings: dict[str, float]) -> dict[str, list[dict]]:
    date = dt.datetime.now(dt.timezone.utc).date().isoformat()
    confirmations = load_confirmations()
    out = ["# Compatibility: the suite through real proxies", "",
           "<!-- Generated by `python scripts/real_proxy.py`; do not edit by hand: run it again. -->", "",
           (f"The conformance suite run through **{PROXY} {VERSION}** (`{REQUIREMENT}` from PyPI, in its own "
           f"virtualenv) on {date}, with the embedded reference server as {PROXY}'s upstream. The suite was "
           "given the reference server as `--upstream-url`, so the upstream fidelity checks ran too: the text, "
           "tool calls, finish reason and usage the client got are compared with what the upstream produced. "
           f"{PROXY}'s config routes one model name per route (`drop_params: true`, a master key the script "
           "makes up, the upstream's `api_base` and key), and nothing else: no database, no Redis, the "
           f"`{REQUIREMENT}` install as it comes (it does not include `prisma`). Some deviations come from "
           "that minimal deployment (the citations say so); they are what such a deployment answers."), "",
           "| route | kind | litellm_params | what it exercises |", "| --- | --- | --- | --- |"]
    for route in ROUTES:
        out.append(f"| `{route['name']}` | {route['kind']} | `{json.dumps(route['litellm_params'])}` | {route['what']} |")
    out += ["", "Summary:", "", ("| proxy | version | date | route | verdict | passed | failed | skipped | errored "
            "| MUST / SHOULD deviations (checks) |"), "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    sections, found = [], {}
    for route in ROUTES:
        run = runs.get(route["name"], {})
        lines, deviations = route_section(route, run, confirmations, package_root, replacements, date)
        sections += lines
        found[route["name"]] = deviations
        results_path = run.get("suite", {}).get("results")
        if results_path is not None and Path(results_path).is_file():
            s = json.loads(Path(results_path).read_text(encoding="utf-8"))["summary"]
            must = len({d["check"] for d in deviations if d["severity"] == "must"})
            should = len({d["check"] for d in deviations if d["severity"] != "must"})
            out.append(f"| {PROXY} | {VERSION} | {date} | `{route['name']}` | {s['verdict']} | {s['passed']} | "
                       f"{s['failed']} | {s['skipped']} | {s['errored']} | {must} / {should} |")
        else:
            out.append(f"| {PROXY} | {VERSION} | {date} | `{route['name']}` | no results | | | | | |")
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    out += ["", f"Timings of this run: {timing}.", "",
            ("Each deviation is a check the suite found broken (the report and transcripts are in "
            "`reports/real-proxy/<route>/`); \"confirmed in\" names the place in the installed "
            f"{PROXY} source (`litellm/...`, relative to the package) where the behaviour comes from, read from "
            "`scripts/real_proxy_confirmations.json`. The script shows a citation only if that file defines "
            "that function in the installed version; a deviation without one says \"unconfirmed\"."), ""]
    out += sections
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")
    return found


# -- main -------------------------------------------------------------------------------------
def interrupted(signum: int, frame: object) -> None:
    """SIGTERM ends a run as Ctrl-C does: every process it started is stopped on the way out."""
    raise KeyboardInterrupt


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=ROOT / ".real-proxy" / "venv",
                        help="LiteLLM's own virtualenv (default: .real-proxy/venv)")
    parser.add_argument("--keep-venv", action="store_true",
                        help="keep the virtualenv after the run (and reuse it next time); default: remove it")
    parser.add_argument("--docs", type=Path, default=ROOT / "reports" / "real-proxy" / "compatibility.md",
                        help="the table to write (default: reports/real-proxy/compatibility.md; the project's "
                             "docs/compatibility.md is written by scripts/real_servers.py, LiteLLM included)")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports" / "real-proxy",
                        help="where each route's reports go, one folder per route (default: reports/real-proxy)")
    parser.add_argument("--summary-json", type=Path, default=None,
                        help="also write what was found (routes, deviations, confirmations) as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    venv, docs, reports = args.venv.resolve(), args.docs.resolve(), args.reports.resolve()
    work = Path(tempfile.mkdtemp(prefix="real-proxy-"))
    # SIGTERM ends us through the same clean-up as Ctrl-C.
    signal.signal(signal.SIGTERM, interrupted)
    from responses_conformance.reference import ReferenceServer

    master_key = "sk-real-proxy-" + secrets.token_hex(16)
    timings: dict[str, float] = {}
    runs: dict[str, dict] = {}
    reference = litellm = None
    log_dir = venv.parent
    started = time.monotonic()
    try:
        t = time.monotonic()
        log(f"virtualenv {venv.name}: {REQUIREMENT}")
        version, reused = ensure_venv(venv, log_dir)
        timings["install" + (" (reused venv)" if reused else "")] = time.monotonic() - t
        package_root = site_packages(venv)

        reference = ReferenceServer().start()
        port = free_port()
        config = work / "config.yaml"
        write_config(config, reference.base_url, reference.api_key, master_key)
        origin = f"http://127.0.0.1:{port}"
        t = time.monotonic()
        proxy_log = log_dir / "litellm.log"
        litellm = start_litellm(venv, config, port, proxy_log)
        wait_healthy(litellm, origin, proxy_log)
        timings["proxy start"] = time.monotonic() - t
        log(f"{PROXY} {version} healthy after {timings['proxy start']:.1f} s")

        for route in ROUTES:
            name = route["name"]
            runs[name] = {"probe": probe(origin, master_key, name, reference.url)}
            log(f"route {name}: probe HTTP {runs[name]['probe']['status']}, upstream saw "
                f"{runs[name]['probe']['upstream']}; running the suite")
            runs[name]["suite"] = run_suite(name, f"{origin}/v1", reference.base_url, master_key, reports / name)
            timings[f"suite {name}"] = runs[name]["suite"]["seconds"]
            log(f"route {name}: pytest exit {runs[name]['suite']['exit']} in {runs[name]['suite']['seconds']:.0f} s: "
                f"{runs[name]['suite']['last_line']}")
    except SetupError as exc:
        log(f"could not set up {PROXY}: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if litellm is not None:
            stop_process(litellm)
        if reference is not None:
            reference.stop()
        shutil.rmtree(work, ignore_errors=True)

    replacements = {master_key: "<proxy key>", origin: "<proxy>", reference.url: "<upstream>"}
    timings["total"] = time.monotonic() - started
    found = write_table(docs, runs, package_root, replacements, timings)
    log(f"wrote {docs.name}: " + "; ".join(
        f"{route}: {len(d)} deviations, {sum(1 for x in d if not x.get('confirmed'))} unconfirmed"
        for route, d in found.items()))
    if args.summary_json:
        args.summary_json.parent.mkdir(parents=True, exist_ok=True)
        args.summary_json.write_text(json.dumps({
            "proxy": PROXY, "version": VERSION, "package_root": str(package_root),
            "routes": {name: {"probe": run.get("probe"), "exit": run.get("suite", {}).get("exit"),
                              "results": str(run.get("suite", {}).get("results")),
                              "deviations": found.get(name, [])} for name, run in runs.items()},
        }, indent=2, default=str), encoding="utf-8")
    if not args.keep_venv and (venv / VENV_MARKER).exists():
        shutil.rmtree(venv, ignore_errors=True)
    missing = [name for name, run in runs.items() if not Path(run["suite"]["results"]).is_file()]
    if missing:
        log(f"no results.json for: {', '.join(missing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
