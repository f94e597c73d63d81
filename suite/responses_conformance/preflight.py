"""Before any scenario: is the target testable at all, and what do the scenarios need to know?

A setup mistake (no key, a wrong key, no `--model`, a base URL without `/v1`, a server that is
not running) is not a finding about the target. Without this step it surfaced as dozens of
"HTTP 401, expected 400" failures or as every feature "unsupported". Here it is one line that
names the cause and the fix, and the run ends as "could not test".

`check_url` needs no network: a bad scheme or syntax is a usage error before any request.
`run` sends one plain request (and, when it worked with a key, the same request with a wrong
key, to learn whether the target checks keys at all). `preflights` sends the preflights of
several targets at once. It knows nothing of pytest.
"""
from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from .http import Exchange, Limits, StopReading, run_exchange
from .redact import Redactor

# The simplest request the Responses API has: every scenario builds on it.
PROBE_INPUT = "Hello"
MAX_RETRY_AFTER = 30.0  # seconds: one Retry-After up to this long is honoured, once
MODELS_SHOWN = 10
# A refusal with one of these statuses names a setup problem or a transient state of the
# target, never a missing feature (see Runner._refusal).
SETUP_STATUSES = {401: "key", 403: "key", 408: "timeout", 429: "rate"}


class UrlError(ValueError):
    """`--target-url` cannot be a Responses API base URL: a usage error, nothing is sent."""


def check_url(url: str) -> str:
    """The URL as given when it can be a base URL; raises UrlError with the fix otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        hint = ""
        if not parts.scheme or not parts.netloc:
            hint = f"; did you mean --target-url=http://{url.strip().lstrip('/')}?" if url.strip() else ""
        raise UrlError(f"--target-url {url!r} is not an http:// or https:// URL{hint} "
                       "(give the base URL up to and including the version prefix, e.g. https://host/v1)")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise UrlError(f"--target-url {url!r}: the port is not a number from 1 to 65535") from None
    if not host:
        raise UrlError(f"--target-url {url!r} has no host (e.g. https://host/v1)")
    if parts.query or parts.fragment:
        raise UrlError(f"--target-url {url!r}: give the base URL without a query or fragment (e.g. https://host/v1)")
    del port
    return url.strip()


def suggested_base(url: str) -> str | None:
    """What the user probably meant, when a base URL answered 404/405: `.../v1/responses` given
    whole, or a host without its version prefix."""
    base = url.rstrip("/")
    if base.endswith("/responses"):
        return base[: -len("/responses")]
    if not re.search(r"/v\d+(?:[a-z]+\d*)?$", base):
        return base + "/v1"
    return None


@dataclass
class Preflight:
    """What the probe learnt. `cause` (with `kind`) is set when the target cannot be tested."""

    kind: str | None = None  # unreachable, tls, timeout, no_key, key_refused, unknown_model, wrong_path,
    #                          rate_limited, not_an_api, refused, server_error
    cause: str | None = None  # one line: what went wrong and how to fix it
    status: int | None = None
    auth_enforced: bool | None = None  # None: not known (no key given and the probe failed)
    echoed_model: str | None = None
    elapsed: float = 0.0
    exchanges: int = 0
    first: Exchange | None = None  # the probe request's exchange: the evidence for `cause`

    @property
    def ok(self) -> bool:
        return self.cause is None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "kind": self.kind, "cause": self.cause, "http_status": self.status,
                "auth_enforced": self.auth_enforced, "echoed_model": self.echoed_model,
                "seconds": round(self.elapsed, 3)}


def preflights(runs: list[Any]) -> dict[str, Preflight]:
    """Each target's one preflight request (runner.run_preflight: sent once, then remembered),
    several targets at the same time: a target that does not answer costs its timeout once.
    `runs` are the plugin's TargetRuns (each a `name` and a `runner`); the answer is their
    Preflights, by name."""
    if len(runs) == 1:
        return {runs[0].name: runs[0].runner.run_preflight()}
    with ThreadPoolExecutor(max_workers=min(len(runs), 8), thread_name_prefix="preflight") as pool:
        return dict(zip((run.name for run in runs), pool.map(lambda run: run.runner.run_preflight(), runs)))


def _error_of(exchange: Exchange) -> tuple[dict | None, str]:
    """The error envelope of a body (or None) and a short message for a human."""
    try:
        body = json.loads(exchange.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, _short(exchange.body[:300].decode("utf-8", "replace"))
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = error.get("message")
        return error, _short(str(message)) if message else _short(json.dumps(error))
    if isinstance(body, dict) and isinstance(body.get("detail"), str):  # FastAPI's shape
        return None, _short(body["detail"])
    return None, _short(json.dumps(body))


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_html(exchange: Exchange) -> bool:
    ctype = (exchange.header("content-type") or "").lower()
    head = exchange.body[:200].lstrip().lower()
    return "html" in ctype or head.startswith(b"<!doctype html") or head.startswith(b"<html")


def _mentions_model(error: dict | None, message: str, model: str) -> bool:
    if error is not None and (error.get("param") == "model" or "model" in str(error.get("code") or "")):
        return True
    lowered = message.lower()
    return (model.lower() in lowered and "model" in lowered) or "model_not_found" in lowered


class Probe:
    """Sends the probe requests through the same bounded HTTP layer as every scenario."""

    def __init__(self, *, client: Any, base_url: str, model: str, limits: Limits, redactor: Redactor,
                 auth: Callable[[str | None], tuple[str | None, dict[str, str]]], has_key: bool,
                 wrong_key: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.limits = limits
        self.redactor = redactor
        self.auth = auth  # key -> (bearer key for run_exchange, extra headers)
        self.has_key = has_key
        self.wrong_key = wrong_key
        self.sleep = sleep
        self.url = self.base_url + "/responses"
        self.result = Preflight()

    def _send(self, key_choice: str, method: str = "POST", path: str = "/responses") -> Exchange:
        api_key, headers = self.auth(key_choice)
        body = {"model": self.model, "input": PROBE_INPUT} if method == "POST" else None
        self.result.exchanges += 1
        return run_exchange(self.client, method=method, url=self.base_url + path, api_key=api_key, json_body=body,
                            extra_headers=headers or None, limits=self.limits, redactor=self.redactor,
                            sink=_EnoughSeen())

    def run(self) -> Preflight:
        start = time.monotonic()
        try:
            exchange = self._send("valid")
            retry = _retry_after(exchange)
            if exchange.status == 429 and retry is not None and retry <= MAX_RETRY_AFTER:
                self.sleep(retry)
                exchange = self._send("valid")
            self.result.first = exchange
            self._judge(exchange)
            if self.result.ok:
                self._learn_auth()
        finally:
            self.result.elapsed = time.monotonic() - start
        return self.result

    def _fail(self, kind: str, cause: str, status: int | None = None) -> None:
        self.result.kind, self.result.cause, self.result.status = kind, self.redactor.text(cause), status

    def _judge(self, x: Exchange) -> None:
        where = f"POST {self.url}"
        if x.end == "redirect":
            self._fail("wrong_path", f"{where}: {x.error}; give the final URL as --target-url", x.status)
            return
        if not x.completed and x.status is None:
            host = urlsplit(self.base_url).netloc
            if x.end == "connect_error":
                self._fail("unreachable", f"cannot reach {host} ({x.error}): is the server running, and is "
                                          f"--target-url right?")
            elif x.end == "tls_error":
                plain = self.base_url.replace("https://", "http://", 1)
                self._fail("tls", f"the TLS handshake with {host} failed ({x.error}): if the server speaks plain "
                                  f"HTTP, use --target-url={plain}; for a self-signed certificate, --insecure")
            elif x.end == "protocol_error" and self.base_url.startswith("http://"):
                tls = self.base_url.replace("http://", "https://", 1)
                self._fail("unreachable", f"{host} did not answer with HTTP ({x.error}): if it speaks TLS, use "
                                          f"--target-url={tls}")
            elif x.end in ("deadline", "idle"):
                self._fail("timeout", f"{where} got no answer ({x.error}); a slow server's first answer may need "
                                      f"a larger --timeout (now {self.limits.timeout:g} s) or --idle-timeout")
            elif x.end == "redirect":
                self._fail("wrong_path", f"{where}: {x.error}; give the final URL as --target-url")
            else:
                self._fail("unreachable", f"{where} failed: {x.error}")
            return
        status = x.status or 0
        error, message = _error_of(x)
        said = f"HTTP {status}{': ' + message if message else ''}"
        if 200 <= status < 300:
            if _is_html(x):
                self._fail("not_an_api", f"{where} answered {status} with an HTML page: not a Responses API "
                                         f"endpoint{self._did_you_mean()}", status)
                return
            if x.is_event_stream:
                self._learn_model(x)
                return
            if not x.completed:
                return  # an answer that began and broke off: the scenarios will show how
            self._learn_model(x)
            if _json_body(x) is _NOT_JSON:
                ctype = x.header("content-type") or "no content type"
                self._fail("not_an_api", f"{where} answered {status} with {ctype}, neither JSON nor server-sent "
                                         f"events: not a Responses API endpoint{self._did_you_mean()}", status)
            return
        if status in (401, 403):
            if not self.has_key:
                self._fail("no_key", f"the target wants an API key ({said}): set OPENAI_API_KEY or pass "
                                     f"--api-key", status)
            else:
                self._fail("key_refused", f"the target refused the key ({said}): check OPENAI_API_KEY or "
                                          f"--api-key (and --auth-header/--auth-scheme for gateways that take the "
                                          f"key in another header)", status)
            return
        if status == 429:
            self._fail("rate_limited", f"the target is rate limiting ({said}): try again later, or lower "
                                       f"--concurrency", status)
            return
        if status in (400, 404, 422) and _mentions_model(error, message, self.model):
            self._fail("unknown_model", f"the target does not know the model {self.model!r} ({said}): pass "
                                        f"--model=NAME{self._models()}", status)
            return
        if status in (404, 405):
            self._fail("wrong_path", f"{where} answered {said}{self._did_you_mean()}", status)
            return
        if _is_html(x):
            self._fail("not_an_api", f"{where} answered {status} with an HTML page: not a Responses API "
                                     f"endpoint{self._did_you_mean()}", status)
            return
        if status >= 500:
            self._fail("server_error", f"the target failed the simplest request ({where}: {said}); nothing "
                                       f"else can be tested until it answers it", status)
            return
        self._fail("refused", f"the target refused the simplest request ({where}: {said}); if the message "
                              f"names a parameter or the model, check --model and the target's configuration",
                   status)

    def _did_you_mean(self) -> str:
        better = suggested_base(self.base_url)
        return f" - did you mean --target-url={better}?" if better else ""

    def _learn_model(self, x: Exchange) -> None:
        if x.is_event_stream:
            match = re.search(rb'"model"\s*:\s*"([^"]{1,200})"', x.body)
            self.result.echoed_model = match.group(1).decode("utf-8", "replace") if match else None
            return
        body = _json_body(x)
        model = body.get("model") if isinstance(body, dict) else None
        self.result.echoed_model = model if isinstance(model, str) else None

    def _models(self) -> str:
        """`; the target offers: a, b, c` from GET /models, when it has one."""
        try:
            x = self._send("valid", method="GET", path="/models")
        except ValueError:
            return ""
        body = _json_body(x) if x.status == 200 else None
        data = body.get("data") if isinstance(body, dict) else None
        names = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)] if isinstance(
            data, list) else []
        if not names:
            return ""
        more = f" and {len(names) - MODELS_SHOWN} more" if len(names) > MODELS_SHOWN else ""
        return "; the target offers: " + ", ".join(names[:MODELS_SHOWN]) + more

    def _learn_auth(self) -> None:
        """A target that answered without a key does not check keys; with a key, one request
        with a wrong key tells. The no-key and wrong-key scenarios are not applicable to a
        target that checks no keys (a local server, a gateway that authenticates elsewhere)."""
        if not self.has_key:
            self.result.auth_enforced = False
            return
        x = self._send("wrong")
        if x.status in (401, 403):
            self.result.auth_enforced = True
        elif x.status is not None and 200 <= x.status < 300:
            self.result.auth_enforced = False
        # anything else (a timeout, a 400, a 500): not known; the key scenarios judge for themselves


class _EnoughSeen:
    """Stops reading a body once the probe has what it needs: a stream answered 200 is an
    answer (the scenarios judge the stream itself, under their own limits: a flood must not
    cost the preflight its whole time limit), and no JSON body worth reading is this large."""

    MAX_JSON = 1 << 20

    def __init__(self) -> None:
        self.stream = False
        self.seen = 0

    def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        self.stream = 200 <= status < 300 and ctype.split(";")[0].strip().lower() == "text/event-stream"

    def body(self, chunk: bytes) -> None:
        self.seen += len(chunk)
        if (self.stream and b'"model"' in chunk) or self.seen > self.MAX_JSON:
            raise StopReading("too_large", "the preflight had what it needed")


def _retry_after(x: Exchange) -> float | None:
    value = x.header("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


_NOT_JSON = object()


def _json_body(x: Exchange) -> Any:
    """The decoded JSON body, or _NOT_JSON."""
    try:
        return json.loads(x.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _NOT_JSON
